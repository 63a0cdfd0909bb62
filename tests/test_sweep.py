"""qgen sweep: nested subsets, the raw-data baseline on the same n strings, resume, CLI."""

import itertools
import json

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import qgen.workflows.sweeps as sweep_module
from qgen.cli import cli
from qgen.datasets import Dataset, simulate
from qgen.datasets.hdf5 import write_dataset
from qgen.measurements import pauli4
from qgen.scores import enumerate_strings, fidelity_pure, linear_inversion
from qgen.targets import make_target
from qgen.training import load_model
from qgen.workflows import format_sweep, nested_subset, sweep


@pytest.fixture(scope="module")
def ghz3():
    return simulate(make_target("ghz", 3), pauli4(), 3000, seed=4)


def test_subsets_are_nested_and_keep_the_test_split(ghz3):
    subs = [nested_subset(ghz3, n, seed=2) for n in (10, 300, 2400)]
    for small, big in itertools.pairwise(subs):
        np.testing.assert_array_equal(big.train[: small.split[0]], small.train)
        np.testing.assert_array_equal(big.val[: small.split[1]], small.val)
    assert [s.split for s in subs] == [(10, 1, 300), (300, 38, 300), (2400, 300, 300)]
    full = subs[-1]
    assert sorted(map(tuple, full.train)) == sorted(map(tuple, ghz3.train))  # a permutation of all of it
    for s in subs:
        np.testing.assert_array_equal(s.test, ghz3.test)
        np.testing.assert_array_equal(s.split_log_prob("test"), ghz3.split_log_prob("test"))
    assert not np.array_equal(nested_subset(ghz3, 300, seed=3).train, subs[1].train)
    for n in (0, 2401):
        with pytest.raises(ValueError, match="needs 1 ≤ n ≤ 2,400"):
            nested_subset(ghz3, n)
    with pytest.raises(ValueError, match="no validation split"):
        nested_subset(Dataset(ghz3.outcomes, ghz3.povm, (2700, 0, 300)), 100)


def test_sweep_rows_files_and_raw_data_baseline(ghz3, tmp_path):
    rows = sweep(ghz3, [1600, 100, 400], epochs=2, out_dir=tmp_path, n_samples=400)
    assert [r.n_train for r in rows] == [100, 400, 1600]
    for f in ("sweep.json", "sweep.png", "sweep.txt", "n100/model.safetensors", "n1600/metrics.jsonl"):
        assert (tmp_path / f).is_file(), f
    saved = json.loads((tmp_path / "sweep.json").read_text())
    assert [r["n_train"] for r in saved["rows"]] == [100, 400, 1600] and saved["config"]["model"] == "rnn"
    # the raw-data estimator on the same n strings: unbiased for GHZ's C_zz(1) = 1, error bar ∝ 1/√n
    corr = [r.observables["C_zz(r=1)"] for r in rows]
    assert all(c.exact == pytest.approx([1.0]) for c in corr)
    assert all(abs(c.data[0].mean - 1) < 4 * c.data[0].stderr for c in corr)
    ratios = [a.data[0].stderr / b.data[0].stderr for a, b in itertools.pairwise(corr)]
    assert all(1.6 < q < 2.5 for q in ratios), ratios  # n grows 4× per step
    for r in rows:
        assert r.scores["classical_fidelity"].available and r.epochs == 2
    # the quantum fidelity is the verdict's exact one: ⟨ψ|ρ_q|ψ⟩ with ρ_q the linear inversion
    # of the saved model's q(a) over all 4³ strings
    strings = enumerate_strings(4, 3)
    for r in rows:
        model, _ = load_model(tmp_path / f"n{r.n_train}")
        with torch.no_grad():
            q = np.exp(model.log_prob(torch.as_tensor(strings)).double().numpy())
        rho = linear_inversion(strings, ghz3.povm, weights=q)
        exact = fidelity_pure(rho, ghz3.target.state.to_dense())
        assert r.scores["quantum_fidelity"].mean == pytest.approx(exact, abs=1e-6)
    table = format_sweep(rows)
    assert "F_c" in table and "C_zz(r=1) data−exact" in table and "1,600" in table


def test_resume_trains_only_the_missing_sizes(ghz3, tmp_path, monkeypatch):
    calls = []
    real = sweep_module.fit_and_evaluate

    def counted(ds, *args, **kwargs):
        calls.append(ds.split[0])
        return real(ds, *args, **kwargs)

    monkeypatch.setattr(sweep_module, "fit_and_evaluate", counted)
    first = sweep(ghz3, [100], epochs=1, out_dir=tmp_path, n_samples=200)
    again = sweep(ghz3, [100, 200], epochs=1, out_dir=tmp_path, n_samples=200, resume=True)
    assert calls == [100, 200] and again[0] == first[0]
    sweep(ghz3, [100], epochs=1, out_dir=tmp_path, n_samples=200, seed=1, resume=True)  # other settings: redone
    assert calls == [100, 200, 100]


def test_sweep_without_a_target_compares_with_held_out_data(ghz3, tmp_path):
    bare = Dataset(ghz3.outcomes, ghz3.povm, ghz3.split)
    rows = sweep(bare, [200, 800], epochs=1, out_dir=tmp_path, n_samples=300)
    r = rows[-1]
    assert not r.scores["classical_fidelity"].available and r.scores["test_nll"].mean > 0
    view = r.observables["C_zz(r=1)"]
    assert view.exact is None and view.model_minus_test[0].available
    table = format_sweep(rows)
    assert "model−test" in table and "F_c" not in table
    assert (tmp_path / "sweep.png").is_file()


def test_cli_sweep(ghz3, tmp_path):
    data = write_dataset(ghz3, tmp_path / "d.h5")
    out = tmp_path / "sw"
    res = CliRunner().invoke(cli, ["sweep", str(data), "--samples", "100,300", "--epochs", "1",
                                   "--model-samples", "200",
                                   "-o", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert "n=100" in res.output and "F_c" in res.output and (out / "sweep.png").is_file()
    for args, fragment in ((["--samples", "100,99999"], "needs 1 ≤ n ≤ 2,400"),
                           (["--samples", "100,abc"], "comma-separated integers"),
                           (["--samples", "100", "--model", "nope"], "unknown model 'nope'")):
        res = CliRunner().invoke(cli, ["sweep", str(data), *args, "-o", str(tmp_path / "bad")])
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert res.exit_code != 0 and len(lines) == 1 and lines[0].startswith("Error:") and fragment in lines[0]
        assert not (tmp_path / "bad").exists()
