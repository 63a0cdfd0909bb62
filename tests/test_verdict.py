"""The verdict block (issue 17.6/17.7): local fidelity map, true fidelity of a noisy
simulated state, impossible strings of measured data, exact enumeration and the exact
model energy of the certificate.  References are built here independently: explicit
Kraus maps on dense matrices, QuTiP partial traces and fidelities, Kronecker products."""

from __future__ import annotations

import importlib
import json
from dataclasses import replace
from functools import reduce

import numpy as np
import pytest
import qutip
import torch

from qgen.datasets import Dataset, simulate
from qgen.measurements import pauli4, pauli6, probabilities
from qgen.measurements.sampling import log_prob as exact_log_prob
from qgen.models import create_model
from qgen.scores.densities import project_to_density_matrix
from qgen.scores.enumeration import enumerate_strings, exact_scores
from qgen.scores.local import data_fidelities, target_reduced_states, windows
from qgen.scores.report import Report
from qgen.targets import make_target
from qgen.targets.states import MPS, DenseState
from qgen.workflows import evaluate, format_table, impossible_strings, local_sets, true_fidelity
from qgen.workflows.verdict import _exact_energy

verdict_module = importlib.import_module("qgen.workflows.verdict")  # the package exports a function of this name

I2 = np.eye(2)


def _model(n: int, k: int, seed: int):
    torch.manual_seed(seed)
    return create_model("rnn", n, k)


def kraus_depolarize(rho: np.ndarray, n: int, p: list[float]) -> np.ndarray:
    """ρ → (1 − p_i) ρ + p_i/2 I_i ⊗ Tr_i ρ on each qubit i, by the Pauli Kraus operators
    (1 − 3p/4) ρ + p/4 Σ_P P ρ P, built with explicit Kronecker products."""
    paulis = [np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0])]
    for i, pi in enumerate(p):
        if pi == 0:
            continue
        ops = [reduce(np.kron, [s if j == i else I2 for j in range(n)]) for s in paulis]
        rho = (1 - 3 * pi / 4) * rho + pi / 4 * sum(o @ rho @ o.conj().T for o in ops)
    return rho


def qutip_local_fidelity(rho: np.ndarray, psi: np.ndarray, n: int, sites) -> float:
    dims = [[2] * n, [2] * n]
    r = qutip.Qobj(rho, dims=dims).ptrace(list(sites))
    s = qutip.Qobj(np.outer(psi, psi.conj()), dims=dims).ptrace(list(sites))
    return qutip.fidelity(r, s) ** 2


# -- true fidelity of the simulated noisy state -------------------------------------------


@pytest.mark.parametrize("noise", [0.2, (0.0, 0.3, 0.0, 0.1, 0.5)])
def test_true_fidelity_of_noisy_mps_against_kraus_reference(noise):
    rng = np.random.default_rng(1)
    n = 5
    psi = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    psi /= np.linalg.norm(psi)
    p = [noise] * n if np.isscalar(noise) else list(noise)
    ref = np.vdot(psi, kraus_depolarize(np.outer(psi, psi.conj()), n, p) @ psi).real
    mps = MPS.from_dense(psi, noise=noise)
    assert true_fidelity(mps).mean == pytest.approx(ref, abs=1e-10)
    assert true_fidelity(DenseState(psi, noise=noise)).mean == pytest.approx(ref, abs=1e-10)
    assert true_fidelity(mps).stderr == 0 and "exact" in true_fidelity(mps).note


def test_true_fidelity_without_noise_is_one_without_a_contraction(monkeypatch):
    """A noise-free target is its own simulated state: exactly 1, at any bond dimension (the
    four-layer sweep, χ⁴ memory, is not run: a χ = 128 target would need 28 GiB)."""
    monkeypatch.setattr(verdict_module, "TRUE_FIDELITY_MAX_COST", 0.0)
    f = true_fidelity(make_target("tfim", n=10, J=1.0, h=1.0).state)
    assert (f.mean, f.stderr) == (1.0, 0.0) and "noise-free" in f.note


def test_true_fidelity_beyond_its_budget_is_unavailable(monkeypatch):
    """A noisy MPS whose sweep would cost more than the budget is reported unavailable, with
    the cost, never approximated; within the budget the same state is computed."""
    state = make_target("ghz", n=20, noise=0.01).state
    assert true_fidelity(state).available
    monkeypatch.setattr(verdict_module, "TRUE_FIDELITY_MAX_COST", 1e3)
    f = true_fidelity(state)
    assert not f.available and "bond dimension 2" in f.note and "operations" in f.note


def test_true_fidelity_at_fifty_qubits_closed_form():
    """GHZ-50 under local depolarizing p: ⟨GHZ|ρ|GHZ⟩ = ((1 − p/2)^N + (p/2)^N)/2 + (1 − p)^N/2,
    the diagonal blocks and the coherence (each qubit keeps its Bloch off-diagonal with 1 − p)."""
    n, p = 50, 0.01
    t = make_target("ghz", n=n, noise=p)
    ref = ((1 - p / 2) ** n + (p / 2) ** n) / 2 + (1 - p) ** n / 2
    assert true_fidelity(t.state).mean == pytest.approx(ref, rel=1e-10)


# -- local fidelity map ----------------------------------------------------------------------


def test_local_map_points_at_the_depolarized_qubits():
    """TFIM-6 (h = 2) depolarized on qubits 1 and 4 only: the raw-data map agrees with QuTiP's
    partial traces of the Kraus-built state on every set, and its lowest qubit, pair and
    window all contain a chosen qubit; the evaluate() report carries the same map."""
    n, noisy = 6, {1: 0.5, 4: 0.5}
    p = [noisy.get(i, 0.0) for i in range(n)]
    ds = simulate(make_target("tfim", n=n, h=2.0, noise=tuple(p)), pauli6(), 12_000, seed=3)
    psi = ds.target.state.with_noise(0.0).to_dense()
    rho = kraus_depolarize(np.outer(psi, psi.conj()), n, p)
    sets = local_sets(n)
    assert len(sets) == n + (n - 1) + (n - 2) + (n * (n - 1) // 2 - (n - 1))
    est = data_fidelities(ds.target.state.with_noise(0.0), ds.povm, ds.outcomes, sets, seed=0)
    ref = np.array([qutip_local_fidelity(rho, psi, n, s) for s in sets])
    z = np.array([(e.mean - r) / max(e.stderr, 1e-3) for e, r in zip(est, ref)])
    assert np.all(np.abs(z) < 4.5), z  # projection bias is included in the tolerance
    assert all(e.stderr > 0 for e in est)
    report = evaluate(_model(n, 6, 0), ds, n_samples=500)
    m = report.verdict.local
    assert m.sets == sets
    for size in (1, 2, 3):
        assert set(m.worst(size)[0]) & set(noisy), size
    single = [e.mean for s, e in zip(m.sets, m.data) if len(s) == 1]
    assert sorted(np.argsort(single)[:2]) == [1, 4]
    assert "lowest local fidelity, qubit" in format_table(report)


def test_target_reduced_states_of_mps_match_dense_partial_trace():
    t = make_target("tfim", n=7, h=1.0)
    psi = t.state.to_dense()
    sets = [(0,), (3,), (6,), (2, 3), (0, 6), (1, 4), (2, 3, 4), (0, 3, 6)]
    for s, got in zip(sets, target_reduced_states(t.state, sets)):
        ref = qutip.Qobj(np.outer(psi, psi.conj()), dims=[[2] * 7] * 2).ptrace(list(s)).full()
        np.testing.assert_allclose(got, ref, atol=1e-10)


def test_data_map_error_bar_covers_the_spread_over_experiments():
    """The bootstrap error bar of a data fidelity matches the spread of the estimate over
    independent experiments (within 35 %)."""
    target = make_target("tfim", n=3, h=1.0, noise=0.2)
    ideal = target.state.with_noise(0.0)
    vals, errs = [], []
    for seed in range(30):
        ds = simulate(target, pauli6(), 2000, seed=seed)
        e = data_fidelities(ideal, ds.povm, ds.outcomes, windows(3, 2), seed=seed)[0]
        vals.append(e.mean)
        errs.append(e.stderr)
    assert np.std(vals, ddof=1) == pytest.approx(np.mean(errs), rel=0.35)


# -- measured data: impossible strings, KL unavailable -------------------------------------


def _measured(ds: Dataset, extra: np.ndarray) -> Dataset:
    """``ds`` as if imported from a lab record, with ``extra`` strings appended."""
    x = np.concatenate([ds.outcomes, extra])
    n = len(x)
    return Dataset(x, ds.povm, (n - 200, 100, 100), None, ds.target, seed=None,
                   meta={"source": {"format": "test"}})


def test_impossible_strings_are_counted_and_kl_is_undefined():
    ds = simulate(make_target("ghz", n=3), pauli6(), 3000, seed=0)
    all_x = enumerate_strings(6, 3)
    lp = exact_log_prob(ds.target.state, ds.povm, all_x)
    bad = all_x[lp == -np.inf][:7]
    assert len(bad) == 7 and np.all(np.isfinite(exact_log_prob(ds.target.state, ds.povm, ds.outcomes)))
    rng = np.random.default_rng(0)
    extra = bad[rng.integers(0, 7, size=40)]
    measured = _measured(ds, extra)
    assert measured.measured and not ds.measured
    assert impossible_strings(measured) == 40
    report = evaluate(_model(3, 6, 0), measured, n_samples=500)
    v = report.verdict
    assert v.impossible == 40 and v.n_strings == len(measured.outcomes)
    kl = report.scores.kl_target_model
    assert not kl.available and "40" in kl.note
    assert not v.true_fidelity.available
    # the raw data's estimate: the dual-frame mean over the measured strings, here below 1
    assert v.data_fidelity.available and v.data_fidelity.mean < 0.99
    text = format_table(report)
    assert "strings impossible under ψ" in text and "40 of" in text


def test_simulated_data_have_no_impossible_strings_reported():
    ds = simulate(make_target("ghz", n=3, noise=0.1), pauli6(), 2000, seed=0)
    v = evaluate(_model(3, 6, 0), ds, n_samples=300).verdict
    assert v.impossible is None
    assert v.true_fidelity.mean == pytest.approx(true_fidelity(ds.target.state).mean)


# -- exact enumeration and the reconstruction -----------------------------------------------


def _brute_rho_q(q: np.ndarray, duals: np.ndarray, n: int) -> np.ndarray:
    """Σ_a q(a) D^{a_1}⊗…⊗D^{a_N} by explicit Kronecker products of every string."""
    rho = np.zeros((2**n, 2**n), dtype=complex)
    for a, w in zip(enumerate_strings(len(duals), n), q):
        rho += w * reduce(np.kron, [duals[i] for i in a])
    return rho


@pytest.mark.parametrize("povm, n", [(pauli4(), 4), (pauli6(), 3)])
def test_enumerated_reconstruction_against_kronecker_reference(povm, n):
    """evaluate's verdict (log_prob_all path) equals ⟨ψ|ρ_q|ψ⟩ of a brute-force ρ_q built from
    the model's log_prob of every string; the nearest density matrix's fidelity too."""
    ds = simulate(make_target("tfim", n=n, h=1.0), povm, 500, seed=0)
    model = _model(n, povm.n_outcomes, 2)
    all_x = enumerate_strings(povm.n_outcomes, n)
    with torch.no_grad():
        q = np.exp(model.log_prob(torch.as_tensor(all_x, dtype=torch.long)).double().numpy())
    rho = _brute_rho_q(q, povm.duals, n)
    psi = ds.target.state.to_dense()
    v = evaluate(model, ds, n_samples=300).verdict
    assert v.fidelity.mean == pytest.approx(np.vdot(psi, rho @ psi).real, abs=1e-6)  # float32 ln q
    assert "enumerated" in v.fidelity.note and v.fidelity.stderr == 0
    low = np.linalg.eigvalsh((rho + rho.conj().T) / 2)[0]
    assert v.min_eigenvalue.mean == pytest.approx(low, abs=1e-6)
    if low < 0:
        proj = project_to_density_matrix(rho)
        assert v.physical_fidelity.mean == pytest.approx(np.vdot(psi, proj @ psi).real, abs=1e-6)


def test_exact_energy_of_rho_q_against_qutip_hamiltonian():
    n = 4
    ds = simulate(make_target("tfim", n=n, h=1.3), pauli4(), 500, seed=0)
    q = np.random.default_rng(0).dirichlet(np.ones(4**n))
    rho = _brute_rho_q(q, pauli4().duals, n)
    e = _exact_energy(_model(n, 4, 0), ds, rho)
    h = -sum(qutip.tensor(*[qutip.sigmaz() if k in (i, i + 1) else qutip.qeye(2) for k in range(n)])
             for i in range(n - 1))
    h = h - 1.3 * sum(qutip.tensor(*[qutip.sigmax() if k == i else qutip.qeye(2) for k in range(n)])
                      for i in range(n))
    assert e.mean == pytest.approx(np.trace(h.full() @ rho).real, abs=1e-10)


def test_exact_scores_of_the_maximally_mixed_state():
    """q = P of I/8: ρ_q = I/8, so its smallest eigenvalue is 1/8 and ⟨GHZ|ρ_q|GHZ⟩ = 1/8."""
    n = 3
    q = probabilities(DenseState(np.eye(2**n) / 2**n), pauli4()).ravel()
    s = exact_scores(np.log(q), make_target("ghz", n=n).state, pauli4())
    assert s["quantum_fidelity"].mean == pytest.approx(1 / 8, abs=1e-12)
    assert s["min_eigenvalue"].available and s["min_eigenvalue"].mean == pytest.approx(1 / 8, abs=1e-12)


def test_batched_projection_equals_one_by_one():
    rng = np.random.default_rng(0)
    h = rng.normal(size=(5, 8, 8)) + 1j * rng.normal(size=(5, 8, 8))
    h = (h + np.conj(np.swapaxes(h, -1, -2))) / 2
    h -= (np.trace(h, axis1=-2, axis2=-1).real - 1)[:, None, None] / 8 * np.eye(8)
    batch = project_to_density_matrix(h)
    for one, b in zip(h, batch):
        np.testing.assert_allclose(b, project_to_density_matrix(one), atol=1e-12)
        np.testing.assert_allclose(b, project_to_density_matrix(one, rank=2), atol=1e-12)


# -- report -----------------------------------------------------------------------------------


def test_report_with_verdict_round_trips_through_json():
    ds = simulate(make_target("tfim", n=3, h=1.0, noise=0.1), pauli4(), 1000, seed=0)
    report = evaluate(_model(3, 4, 0), ds, n_samples=300)
    back = Report.from_dict(json.loads(json.dumps(report.to_dict())))
    assert back.to_dict() == report.to_dict()
    assert back.verdict.local.worst(1) == report.verdict.local.worst(1)
    old = report.to_dict()
    del old["verdict"]
    assert Report.from_dict(old).verdict is None
    assert "verdict" not in format_table(replace(report, verdict=None)).splitlines()[0]


def test_sampled_verdict_reuses_the_score_and_is_computed_once(monkeypatch):
    """Without enumeration (enumerate_max = 0) the verdict reports the dual-frame estimate
    from the model samples, the score evaluate already computed: identical numbers, and
    the estimator runs once on the model samples and once on the measured strings; for a
    noisy target the score is unavailable (mixed) and the verdict estimates against the
    ideal state itself."""
    evaluation = importlib.import_module("qgen.workflows.evaluation")

    calls, real = [], evaluation.quantum_fidelity

    def counted(state, povm, samples, **kw):
        calls.append(len(samples))
        return real(state, povm, samples, **kw)

    monkeypatch.setattr(evaluation, "quantum_fidelity", counted)
    monkeypatch.setattr(verdict_module, "quantum_fidelity", counted)
    for noise, score_available in ((0.0, True), (0.1, False)):
        calls.clear()
        ds = simulate(make_target("tfim", n=4, h=1.0, noise=noise), pauli4(), 1_000, seed=0)
        report = evaluate(_model(4, 4, 0), ds, n_samples=500, enumerate_max=0)
        v, s = report.verdict, report.scores.quantum_fidelity
        assert s.available is score_available and v.fidelity.available
        assert sorted(calls) == sorted([500, 500, len(ds.outcomes)] if not score_available else [500, len(ds.outcomes)])
        if score_available:
            assert (v.fidelity.mean, v.fidelity.stderr) == (s.mean, s.stderr)
