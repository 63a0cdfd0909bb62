"""Evaluation without a target (measured data): what needs no target is still scored, the
rest is "n/a" with the reason; the same report once a target is attached."""

import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from qgen.cli import cli
from qgen.datasets import Dataset, attach_target, simulate
from qgen.datasets.hdf5 import read_dataset
from qgen.measurements import pauli4, probabilities
from qgen.models import GenerativeModel
from qgen.targets import Target, make_target, tfim
from qgen.workflows import evaluate, format_table, read_report, write_report


class Oracle(GenerativeModel):
    """The exact distribution P of a small target, as a model (by enumeration)."""

    name, likelihood = "oracle-test", "exact"

    def __init__(self, state, povm):
        p = probabilities(state, povm)
        super().__init__(p.ndim, povm.n_outcomes)
        self.register_buffer("logp", torch.log(torch.as_tensor(p.ravel())))
        self.anchor = torch.nn.Parameter(torch.zeros(1))

    def _flat(self, x):
        return sum(x[:, i] * self.n_outcomes ** (self.n_qubits - 1 - i) for i in range(self.n_qubits))

    def log_prob(self, x):
        return self.logp[self._flat(self.check_outcomes(x))]

    def sample(self, n, generator=None):
        flat = torch.multinomial(self.logp.exp(), n, replacement=True, generator=generator)
        digits = [(flat // self.n_outcomes ** (self.n_qubits - 1 - i)) % self.n_outcomes for i in range(self.n_qubits)]
        x = torch.stack(digits, dim=1)
        return x, self.logp[flat]


@pytest.fixture(scope="module")
def ghz():
    """4-qubit GHZ Pauli-4 data with the target stripped, as if measured, and the oracle model."""
    sim = simulate(make_target("ghz", 4), pauli4(), 4000, seed=3)
    bare = Dataset(sim.outcomes, sim.povm, sim.split)
    return sim, bare, Oracle(sim.target.state, pauli4())


def within(e, value, k=4.0):
    return abs(e.mean - value) <= k * e.stderr


def test_target_free_report_keeps_nll_and_observables(ghz):
    sim, bare, oracle = ghz
    rep = evaluate(oracle, bare, n_samples=4000, seed=1)
    sc = rep.scores
    for key in ("classical_fidelity", "kl_target_model", "kl_model_target", "quantum_fidelity"):
        assert not getattr(sc, key).available and "no target attached" in getattr(sc, key).note
    # the oracle's NLL on the held-out split is −mean ln P of those strings, stored by the simulation
    lp_test = sim.log_prob[sum(sim.split[:2]):]
    assert sc.test_nll.mean == pytest.approx(-lp_test.mean(), rel=1e-12)
    assert sc.test_nll.stderr == pytest.approx(lp_test.std(ddof=1) / np.sqrt(len(lp_test)), rel=1e-9)
    assert rep.exact is None and rep.dataset.target is None
    obs = rep.observables
    assert "energy" not in obs  # no Hamiltonian known
    # GHZ closed forms: ⟨σx_i⟩ = ⟨σz_i⟩ = 0, ⟨σz_i σz_j⟩ = 1; model, data and model − test agree with them
    assert obs["magnetization_x"].exact is None
    for fam, value in (("magnetization_x", 0.0), ("magnetization_z", 0.0), ("correlation_zz", 1.0)):
        for label in ("model", "data"):
            assert all(within(e, value) for e in getattr(obs[fam], label)), (fam, label)
        assert all(within(e, 0.0) for e in obs[fam].model_minus_test), fam


def test_model_minus_test_detects_a_wrong_model(ghz):
    """An oracle of |0000⟩ evaluated on GHZ data: C_zz agrees (1 for both), ⟨σz⟩ does not."""
    _, bare, _ = ghz
    wrong = Oracle(make_target("product", 4).state, pauli4())
    obs = evaluate(wrong, bare, n_samples=4000, seed=1).observables
    z = [e.mean / e.stderr for e in obs["magnetization_z"].model_minus_test]
    assert min(z) > 5  # ⟨σz⟩ = 1 in the model, 0 in the data (z ≈ 8–10 with 400 test strings)
    assert all(within(e, 0.0) for e in obs["correlation_zz"].model_minus_test)


def test_attaching_the_target_restores_every_score(ghz):
    sim, bare, oracle = ghz
    rep = evaluate(oracle, attach_target(bare, sim.target), n_samples=4000, seed=1)
    sc = rep.scores
    assert sc.classical_fidelity.mean == pytest.approx(1.0, abs=1e-9)
    assert sc.kl_target_model.mean == pytest.approx(0.0, abs=1e-9)
    assert rep.exact.quantum_fidelity.mean == pytest.approx(1.0, abs=1e-9)


def test_energy_needs_a_hamiltonian(ghz):
    sim, bare, oracle = ghz
    h = tfim(4, J=1.0, h=0.0)  # −Σ σzσz: GHZ has energy −3 exactly
    rep = evaluate(oracle, attach_target(bare, Target(sim.target.state, "ghz", {}, h)), n_samples=4000, seed=1)
    e = rep.observables["energy"]
    assert e.exact == pytest.approx([-3.0]) and within(e.model[0], -3.0) and within(e.data[0], -3.0)


def test_table_and_plots_without_a_target(ghz, tmp_path):
    _, bare, oracle = ghz
    rep = evaluate(oracle, bare, n_samples=500, seed=0)
    table = format_table(rep)
    assert "no target attached" in table and "model − test data" in table
    assert "exact" not in table and "classical fidelity" not in table
    paths = write_report(rep, tmp_path)
    assert [p.name for p in paths] == ["report.json", "correlation.png", "magnetization.png"]
    assert json.loads((tmp_path / "report.json").read_text())["scores"]["classical_fidelity"]["mean"] is None
    assert read_report(tmp_path) == rep  # the JSON form reads back to the same typed report


def test_cli_evaluate_on_imported_data_then_attach(tmp_path):
    sim = simulate(make_target("ghz", 3), pauli4(), 1500, seed=0)
    np.savetxt(tmp_path / "shots.csv", sim.outcomes, fmt="%d", delimiter=",")
    run = CliRunner().invoke
    data, out = tmp_path / "d.h5", tmp_path / "run"
    res = run(cli, ["import", str(tmp_path / "shots.csv"), "--format", "index", "--povm", "pauli4", "-o", str(data)])
    assert res.exit_code == 0, res.output
    res = run(cli, ["train", str(data), "-o", str(out), "--epochs", "2", "--model", "rnn", "--set", "hidden=8",
                    "--set", "n_layers=1", "-q"])
    assert res.exit_code == 0, res.output
    res = run(cli, ["evaluate", str(out), "--data", str(data), "--samples", "300"])
    assert res.exit_code == 0, res.output
    assert "no target attached" in res.output and "model − test data" in res.output
    assert read_dataset(data).target is None
    res = run(cli, ["attach", str(data), "--target", "ghz", "-q"])
    assert res.exit_code == 0, res.output
    res = run(cli, ["evaluate", str(out), "--data", str(data), "--samples", "300"])
    assert res.exit_code == 0 and "classical fidelity F_c" in res.output
    rep = read_report(out)
    assert 0 < rep.scores.classical_fidelity.mean <= 1.2
