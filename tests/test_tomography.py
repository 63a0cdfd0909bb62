"""Reference tomography (qgen.tomography, qgen.densities, qgen.bootstrap) against
independent references: Kronecker products built here by brute force, exact probability
tables, closed forms, scipy minimisations and QuTiP."""

from __future__ import annotations

import functools
import itertools
from collections import Counter

import numpy as np
import pytest
import qutip
from scipy.optimize import brentq, minimize

import qgen
from qgen.measurements import POVM, get_povm, pauli4, pauli6, probabilities, tetra, trine
from qgen.measurements.frames import (
    StringFrame,
    density_from_pauli,
    outcome_probabilities,
    pauli_coefficients,
    reconstruct_density_matrix,
)
from qgen.resources import ResourceError
from qgen.scores import enumerate_strings
from qgen.scores.bootstrap import bootstrap, bootstrap_estimate
from qgen.scores.densities import fidelity_pure, project_to_density_matrix, reduced, state_fidelity
from qgen.scores.tomography import MLEResult, linear_inversion, log_likelihood, mle, outcome_counts
from qgen.targets import PAULI, DenseState

POVMS = ["pauli4", "pauli6", "tetra"]


# -- independent references ------------------------------------------------------------


def kron_all(mats) -> np.ndarray:
    return functools.reduce(np.kron, mats)


def random_state(n: int, rank: int, rng) -> np.ndarray:
    g = rng.normal(size=(2**n, rank)) + 1j * rng.normal(size=(2**n, rank))
    rho = g @ g.conj().T
    return rho / np.trace(rho).real


def random_povm(k: int, rng, name: str = "random") -> POVM:
    """K random positive operators G_a, made to sum to I: M_a = S^{-1/2} G_a S^{-1/2}."""
    g = rng.normal(size=(k, 2, 2)) + 1j * rng.normal(size=(k, 2, 2))
    g = g @ g.conj().transpose(0, 2, 1)
    w, v = np.linalg.eigh(g.sum(0))
    s = (v / np.sqrt(w)) @ v.conj().T
    return POVM(name, s @ g @ s)


def site_elements(povm: POVM, n: int) -> np.ndarray:
    """(N, K, 2, 2): qubit i's elements (the same on every qubit, or one POVM per qubit)."""
    return povm.elements if povm.per_qubit else np.stack([povm.elements] * n)


def per_qubit(sites) -> POVM:
    """One POVM per qubit from a list of POVMs."""
    return POVM("per-qubit", np.stack([s.elements for s in sites]))


def brute_probabilities(rho, elements) -> np.ndarray:
    """P(a) = Tr[(M^{a_1}⊗…⊗M^{a_N}) ρ], one Kronecker product per string; ``elements`` (N, K, 2, 2)."""
    k = elements.shape[1]
    return np.array([np.trace(kron_all([e[a] for e, a in zip(elements, s)]) @ rho).real
                     for s in itertools.product(range(k), repeat=len(elements))])


def sample_outcomes(rho, povm, shots: int, seed: int) -> np.ndarray:
    """Shots drawn from the exact table (numpy's sampler; no qgen sampler involved)."""
    n = rho.shape[0].bit_length() - 1
    p = np.clip(brute_probabilities(rho, site_elements(povm, n)), 0, None)
    idx = np.random.default_rng(seed).choice(p.size, shots, p=p / p.sum())
    return np.array(np.unravel_index(idx, (povm.n_outcomes,) * n)).T.astype(np.uint8)


def bloch(rho) -> np.ndarray:
    return np.array([np.trace(s @ rho).real for s in PAULI[1:]])


# -- counts ----------------------------------------------------------------------------


@pytest.mark.parametrize("k, n", [(4, 3), (6, 2), (6, 25)])  # 6^25 > 2^63: sorted rows instead of flat indices
def test_outcome_counts_against_counter(k, n):
    rng = np.random.default_rng(k + n)
    x = rng.integers(0, k, size=(500, n)) if n < 25 else np.repeat(rng.integers(0, k, size=(40, n)), 7, axis=0)
    w = rng.random(len(x))
    ref, ref_w = Counter(map(tuple, x.tolist())), Counter()
    for row, wi in zip(map(tuple, x.tolist()), w):
        ref_w[row] += wi
    strings, counts = outcome_counts(x, k)
    assert [tuple(s) for s in strings.tolist()] == sorted(ref)
    assert counts.dtype == np.int64 and counts.tolist() == [ref[tuple(s)] for s in strings.tolist()]
    strings_w, counts_w = outcome_counts(x, k, weights=w)
    np.testing.assert_allclose(counts_w, [ref_w[tuple(s)] for s in strings_w.tolist()])
    if n < 25:
        table = outcome_counts(x, k, dense=True)
        all_strings = [tuple(s) for s in enumerate_strings(k, n).tolist()]
        assert table.tolist() == [ref[s] for s in all_strings]
        assert outcome_counts(x, pauli6() if k == 6 else pauli4(), dense=True).tolist() == table.tolist()


# -- the frame maps against Kronecker products ----------------------------------------


@pytest.mark.parametrize("n", [1, 2, 3])
def test_frame_maps_against_kronecker_products(n):
    rng = np.random.default_rng(n)
    rho = random_state(n, 2**n, rng)
    sites = per_qubit([pauli4(), tetra(), random_povm(4, rng)][:n])
    p = outcome_probabilities(rho, sites)
    np.testing.assert_allclose(p, brute_probabilities(rho, sites.elements), atol=1e-14)
    if n > 1:  # a single POVM: the same as qgen.sampling.probabilities (qgen.contract's dense table)
        np.testing.assert_allclose(outcome_probabilities(rho, tetra()),
                                   probabilities(DenseState(rho), tetra()).ravel(), atol=1e-14)
    paulis = [kron_all([PAULI[i] for i in s]) for s in itertools.product(range(4), repeat=n)]
    r = pauli_coefficients(rho)
    np.testing.assert_allclose(r, [np.trace(s @ rho).real for s in paulis], atol=1e-14)
    np.testing.assert_allclose(density_from_pauli(r), rho, atol=1e-15)


@pytest.mark.parametrize("n, k, u", [(1, 4, 3), (2, 6, 5), (3, 6, 60), (4, 4, 300), (4, 6, 2), (5, 6, 40), (2, 8, 1)])
@pytest.mark.parametrize("duals", [False, True])
def test_string_frame_against_kronecker_products(n, k, u, duals):
    """On U random strings (repeats included; the split between dense and per-string sites
    varies with U, from L = 0 to L = N): Tr[(X^{a_1}⊗…⊗X^{a_N}) ρ] and Σ_u w_u X^{a_u1}⊗…⊗X^{a_uN},
    X = M or D."""
    rng = np.random.default_rng(n + k + u)
    sites = [random_povm(k, rng, f"q{i}") for i in range(n)]
    x = rng.integers(0, k, size=(u, n))
    ops = [[q.duals if duals else q.elements for q in sites][i][x[:, i]] for i in range(n)]
    kron = [kron_all([ops[i][j] for i in range(n)]) for j in range(u)]
    rho, w = random_state(n, 2, rng), rng.normal(size=u)
    frame = StringFrame(x, per_qubit(sites), duals=duals)
    np.testing.assert_allclose(frame.probabilities(rho), [np.trace(m @ rho).real for m in kron], atol=1e-13)
    np.testing.assert_allclose(frame.weighted_sum(w), sum(wi * m for wi, m in zip(w, kron)), atol=1e-13)


@pytest.mark.parametrize("name", POVMS + ["random"])
@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_exact_table_reconstructs_the_state(name, n):
    """ρ = Σ_a P(a) D^{a_1}⊗…⊗D^{a_N} exactly for IC POVMs, random mixed states."""
    rng = np.random.default_rng(10 * n + len(name))
    povm = random_povm(5, rng) if name == "random" else get_povm(name)
    rho = random_state(n, 2**n, rng)
    p = probabilities(DenseState(rho), povm).ravel()  # exact table by qgen.contract, not by the map under test
    np.testing.assert_allclose(reconstruct_density_matrix(p, povm), rho, atol=1e-13)
    x = enumerate_strings(povm.n_outcomes, n)
    np.testing.assert_allclose(linear_inversion(x, povm, weights=p), rho, atol=1e-13)


@pytest.mark.parametrize("n", [2, 3])
def test_exact_table_with_per_qubit_povms(n):
    rng = np.random.default_rng(n)
    sites = [random_povm(6, rng, f"readout {i}") for i in range(n)]
    rho = random_state(n, 2, rng)
    povm = per_qubit(sites)  # elements (N, K, 2, 2)
    p = brute_probabilities(rho, povm.elements)
    np.testing.assert_allclose(reconstruct_density_matrix(p, povm), rho, atol=1e-12)
    np.testing.assert_allclose(linear_inversion(enumerate_strings(6, n), povm, weights=p), rho, atol=1e-12)


def test_linear_inversion_of_shots_against_per_shot_kronecker_sum():
    rng = np.random.default_rng(3)
    sites = per_qubit([pauli6(), random_povm(6, rng)])
    x = sample_outcomes(random_state(2, 4, rng), sites, 300, seed=1)
    ref = sum(np.kron(sites.duals[0, a], sites.duals[1, b]) for a, b in x) / len(x)
    np.testing.assert_allclose(linear_inversion(x, sites), ref, atol=1e-14)


# -- maximum likelihood ---------------------------------------------------------------


@pytest.mark.parametrize("name", POVMS)
@pytest.mark.parametrize("n, rank", [(1, 2), (1, 1), (2, 4), (2, 1), (3, 8), (3, 1), (3, 2)])
def test_mle_on_infinite_data_recovers_the_state(name, n, rank):
    """Frequencies = exact probabilities (strings weighted by P): ρ_ML = ρ, full rank or pure."""
    rng = np.random.default_rng(100 * n + rank)
    povm = get_povm(name)
    rho = random_state(n, rank, rng)
    p = probabilities(DenseState(rho), povm).ravel()
    fit = mle(enumerate_strings(povm.n_outcomes, n), povm, weights=p, tol=1e-10)
    assert np.abs(fit.rho - rho).max() < 1e-6, fit
    assert fit.converged or "floating-point" in fit.note  # run to the rounding floor (~1e-8 nats here)


def test_mle_recovers_a_state_whose_finite_data_inversion_is_not_positive():
    rng = np.random.default_rng(5)
    psi = np.zeros(8)
    psi[[0, 7]] = 2**-0.5
    rho = np.outer(psi, psi)  # GHZ-3
    sites = per_qubit([pauli4(), random_povm(4, rng), tetra()])
    x = sample_outcomes(rho, sites, 2000, seed=0)
    assert np.linalg.eigvalsh(linear_inversion(x, sites))[0] < -0.05  # not a state
    finite = mle(x, sites)
    assert np.linalg.eigvalsh(finite.rho)[0] > -1e-12 and fidelity_pure(finite.rho, psi) > 0.9
    # the likelihood is flat along GHZ's coherence (it enters P only through a 3-body term): tol 1e-7 leaves
    # 1 − F = 4e-5, so run to the rounding floor
    infinite = mle(enumerate_strings(4, 3), sites, weights=brute_probabilities(rho, sites.elements), tol=1e-10)
    assert 1 - fidelity_pure(infinite.rho, psi) < 1e-7 and np.abs(infinite.rho - rho).max() < 1e-6


def _pauli6_counts(n_plus, n_minus):
    """Pauli-6 outcome strings (one qubit): n_plus[b], n_minus[b] shots with ± in basis b = x, y, z."""
    outcome = {"x": (2, 3), "y": (4, 5), "z": (0, 1)}
    rows = [[outcome[b][0]] * n_plus[i] + [outcome[b][1]] * n_minus[i] for i, b in enumerate("xyz")]
    return np.array(sum(rows, []))[:, None]


def _pauli6_mle_reference(n_plus, n_minus) -> np.ndarray:
    """One qubit under Pauli-6: M^{b±} = (I ± σ_b)/6, so P(b±) = (1 ± r_b)/6 for the Bloch
    vector r and L(r) = Σ_b n_{b+} ln(1 + r_b) + n_{b−} ln(1 − r_b) + const, separable and
    strictly concave.  Its unconstrained maximum is v_b = (n_{b+} − n_{b−})/(n_{b+} + n_{b−});
    if |v| ≤ 1 that is the MLE.  Otherwise the maximum over the Bloch ball lies on the
    sphere, and the KKT conditions (Boyd & Vandenberghe, Convex Optimization, §5.5.3) read
    n_{b+}/(1 + r_b) − n_{b−}/(1 − r_b) = 2μ r_b with μ > 0.  For fixed μ the left minus the
    right side falls strictly from +∞ to −∞ on (−1, 1), so r_b(μ) is unique; |r(μ)|
    decreases from |v| > 1 at μ = 0 to 0, so μ is the unique root of |r(μ)| = 1.
    (Note: this is NOT v/|v| in general — see the test below.)"""
    n_plus, n_minus = np.asarray(n_plus, float), np.asarray(n_minus, float)
    v = (n_plus - n_minus) / (n_plus + n_minus)
    if np.linalg.norm(v) <= 1:
        return v

    def r_of(mu):
        return np.array([brentq(lambda r, a=a, b=b: a / (1 + r) - b / (1 - r) - 2 * mu * r, -1 + 1e-15, 1 - 1e-15,
                                xtol=1e-15) for a, b in zip(n_plus, n_minus)])

    mu = brentq(lambda m: np.linalg.norm(r_of(m)) - 1, 0, 10 * (n_plus + n_minus).sum(), xtol=1e-15)
    return r_of(mu)


@pytest.mark.parametrize("n_plus, n_minus", [
    ([30, 20, 45], [10, 25, 15]),  # v = (0.5, −0.11, 0.5): inside the ball
    ([5, 9, 1], [5, 1, 9]),        # v = (0, 0.8, −0.8): outside
    ([40, 3, 12], [2, 7, 30]),     # unequal basis counts, outside
])
def test_single_qubit_pauli6_mle_closed_form(n_plus, n_minus):
    x = _pauli6_counts(n_plus, n_minus)
    fit = mle(x, pauli6(), tol=1e-9)
    np.testing.assert_allclose(bloch(fit.rho), _pauli6_mle_reference(n_plus, n_minus), atol=2e-6)
    v = (np.array(n_plus) - n_minus) / (np.array(n_plus) + n_minus)
    if np.linalg.norm(v) > 1:
        # normalising the frequency vector, v/|v|, is the MLE only for special counts (here: [5, 9, 1], [5, 1, 9],
        # equal basis counts and equal |v_b|); in general it has a lower likelihood
        naive = (np.eye(2) + np.einsum("b,bij->ij", v / np.linalg.norm(v), PAULI[1:])) / 2
        gain = fit.log_likelihood - log_likelihood(naive, x, pauli6())
        assert gain < 1e-8 if n_plus[0] == 5 else gain > 0.1


def test_mle_likelihood_beats_the_truth_and_projected_inversion():
    rng = np.random.default_rng(7)
    rho = random_state(3, 2, rng)
    x = sample_outcomes(rho, tetra(), 3000, seed=2)
    fit = mle(x, tetra(), tol=1e-4)
    assert isinstance(fit, MLEResult) and fit.converged
    w = np.linalg.eigvalsh(fit.rho)
    assert w[0] > -1e-12 and abs(w.sum() - 1) < 1e-12 and np.allclose(fit.rho, fit.rho.conj().T, atol=1e-15)
    assert fit.log_likelihood == pytest.approx(log_likelihood(fit.rho, x, tetra()), abs=1e-8)
    for other in (rho, project_to_density_matrix(linear_inversion(x, tetra()))):
        assert fit.log_likelihood >= log_likelihood(other, x, tetra())
    # the gap certificate bounds the shortfall of a loosely converged fit
    loose = mle(x, tetra(), tol=20.0)
    assert loose.converged and 0 < fit.log_likelihood - loose.log_likelihood <= loose.gap


def test_mle_against_a_generic_optimiser():
    """Two qubits, Pauli-4: L-BFGS over ρ = T T†/Tr(T T†) (T complex, 32 real parameters)."""
    rng = np.random.default_rng(11)
    x = sample_outcomes(random_state(2, 2, rng), pauli4(), 2000, seed=3)
    counts = outcome_counts(x, 4, dense=True)
    sites = site_elements(pauli4(), 2)
    table = np.array([kron_all([s[a] for s, a in zip(sites, st)]) for st in enumerate_strings(4, 2)])

    def neg_l(t):
        tt = (t[:16] + 1j * t[16:]).reshape(4, 4)
        r = tt @ tt.conj().T
        p = np.einsum("aij,ji->a", table, r / np.trace(r).real).real
        return -counts @ np.log(p)

    best = min((minimize(neg_l, rng.normal(size=32), method="L-BFGS-B", options={"maxiter": 5000, "ftol": 1e-15,
                                                                                 "gtol": 1e-10}) for _ in range(3)),
               key=lambda r: r.fun)
    fit = mle(x, pauli4(), tol=1e-6)
    assert fit.log_likelihood >= -best.fun - 1e-6
    tt = (best.x[:16] + 1j * best.x[16:]).reshape(4, 4)
    np.testing.assert_allclose(fit.rho, tt @ tt.conj().T / np.trace(tt @ tt.conj().T).real, atol=2e-3)


def test_weights_stand_for_repeated_strings():
    x = sample_outcomes(random_state(2, 1, np.random.default_rng(4)), pauli6(), 500, seed=4)
    strings, counts = outcome_counts(x, pauli6())
    for fit in (linear_inversion, lambda *a, **k: mle(*a, **k, tol=1e-6).rho):
        np.testing.assert_allclose(fit(strings, pauli6(), weights=counts), fit(x, pauli6()), atol=1e-12)


def test_mle_stops_at_max_iter_and_says_so():
    x = qgen.simulate(qgen.make_target("w", n=4), pauli4(), 3000, seed=0).outcomes
    fit = mle(x, pauli4(), max_iter=3)
    assert (fit.iterations, fit.converged) == (3, False) and "max_iter = 3" in fit.note and fit.gap > 0.01


# GHZ-4, Pauli-6, 10,000 shots (qgen.simulate, seeds 0–99; re-measured by the slow test
# test_ghz4_finite_sample_constants): MLE fidelity 0.99885 mean, 0.00033 standard deviation over the
# seeds, minimum 0.99792.  The bootstrap error (k = 20) on seeds 0–9 averaged 0.00053: 1.6× the spread.
GHZ4_F_MEAN, GHZ4_F_STD = 0.99885, 0.00033


def test_ghz4_mle_fidelity_and_bootstrap_error():
    target = qgen.make_target("ghz", n=4)
    psi = target.state.to_dense()
    x = qgen.simulate(target, pauli6(), 10_000, seed=0, train_log_prob=False).outcomes

    def fid(y):
        return fidelity_pure(mle(y, pauli6()).rho, psi)

    e = bootstrap_estimate(x, fid, k=10, seed=0)
    assert e.mean >= 0.97 and e.n == 10_000 and "bootstrap" in e.note
    assert 0 < e.stderr < 0.01
    assert abs(e.mean - GHZ4_F_MEAN) <= 3 * max(e.stderr, GHZ4_F_STD)
    # near a pure target 1 − F is quadratic in the error of ρ: the MLE fidelity's spread shrinks faster than
    # 1/√S (about 1/S); a quarter of the shots gives at least √4 = 2× the error, with bootstrap noise allowed
    assert bootstrap_estimate(x[:2500], fid, k=10, seed=0).stderr > 1.5 * e.stderr


@pytest.mark.slow
def test_ghz4_finite_sample_constants():
    """Re-measures GHZ4_F_MEAN and GHZ4_F_STD over 100 seeds (~15 s)."""
    target = qgen.make_target("ghz", n=4)
    psi = target.state.to_dense()
    f = np.array([fidelity_pure(mle(qgen.simulate(target, pauli6(), 10_000, seed=s, train_log_prob=False).outcomes,
                                    pauli6()).rho, psi) for s in range(100)])
    assert abs(f.mean() - GHZ4_F_MEAN) < 1e-4 and abs(f.std(ddof=1) / GHZ4_F_STD - 1) < 0.2


@pytest.mark.slow
def test_mle_eight_qubits_pauli6_30000_shots():
    target = qgen.make_target("ghz", n=8)
    x = qgen.simulate(target, pauli6(), 30_000, seed=0, train_log_prob=False).outcomes
    fit = mle(x, pauli6())
    assert fit.converged and fidelity_pure(fit.rho, target.state.to_dense()) > 0.99
    assert fit.log_likelihood >= log_likelihood(project_to_density_matrix(linear_inversion(x, pauli6())), x, pauli6())


def test_bootstrap_error_of_linear_inversion_matches_its_standard_error():
    """Linear inversion's fidelity is a mean over shots of ⟨ψ|D^{a_1}⊗…⊗D^{a_N}|ψ⟩: its
    standard error is std/√S exactly, which the bootstrap must reproduce, shrinking as 1/√S."""
    target = qgen.make_target("ghz", n=3)
    psi = target.state.to_dense()
    x = qgen.simulate(target, pauli4(), 16_000, seed=1, train_log_prob=False).outcomes
    duals = pauli4().duals
    value = {s: np.real(psi.conj() @ kron_all(duals[list(s)]) @ psi) for s in itertools.product(range(4), repeat=3)}
    per_shot = np.array([value[tuple(row)] for row in x.tolist()])
    errs = []
    for s in (1000, 16_000):
        e = bootstrap_estimate(x[:s], lambda y: fidelity_pure(linear_inversion(y, pauli4()), psi), k=100, seed=2)
        exact = per_shot[:s].std(ddof=1) / np.sqrt(s)
        assert e.mean == pytest.approx(per_shot[:s].mean(), abs=1e-12)
        assert abs(e.stderr / exact - 1) < 0.3  # k = 100 refits: the std is known to ~7 %
        errs.append(e.stderr)
    assert 2.8 < errs[0] / errs[1] < 5.6  # √16 = 4


def test_bootstrap_is_seeded_and_resamples_with_replacement():
    x = np.arange(50)[:, None]
    a = bootstrap(x, lambda y: np.sort(y[:, 0]), k=5, seed=3)
    assert a.shape == (5, 50) and (a == bootstrap(x, lambda y: np.sort(y[:, 0]), k=5, seed=3)).all()
    assert not (a == bootstrap(x, lambda y: np.sort(y[:, 0]), k=5, seed=4)).all()
    # with replacement: a resample of S distinct shots holds S(1 − (1 − 1/S)^S) ≈ 0.636 S distinct ones
    distinct = bootstrap(x, lambda y: len(np.unique(y)), k=400, seed=0)
    assert abs(distinct.mean() / 50 - (1 - (1 - 1 / 50) ** 50)) < 0.01
    bad = bootstrap_estimate(x, lambda y: np.nan if y[0, 0] > 25 else 1.0, k=10, seed=0, point=1.0)
    assert not bad.available and "non-finite" in bad.note


@pytest.mark.parametrize("n", [4, 6, 8])
def test_depolarized_ghz_fidelity_closed_form(n):
    """The benchmark's exact column: F = ⟨GHZ|Λ_p^{⊗N}(GHZ)|GHZ⟩.  Λ_p scales a Pauli string by
    (1 − p)^weight, and GHZ = 2^−N Σ_{P ∈ stabilizer} P with 2^(N−1) Z-strings of even weight w
    (C(N, w) of each) and 2^(N−1) strings of weight N (X^⊗N times those), so with q = 1 − p
    F = 2^−N [((1 + q)^N + (1 − q)^N)/2 + 2^(N−1) q^N]."""
    p, q = 0.05, 0.95
    target = qgen.make_target("ghz", n=n, noise=p)
    psi = target.state.to_dense()
    rho = DenseState(psi, noise=p).density_matrix()
    exact = (((1 + q) ** n + (1 - q) ** n) / 2 + 2 ** (n - 1) * q**n) / 2**n
    assert fidelity_pure(rho, psi) == pytest.approx(exact, abs=1e-13)


# -- projection, fidelities, partial trace --------------------------------------------


@pytest.mark.parametrize("n, seed", [(1, 0), (1, 1), (2, 2), (2, 3)])
def test_projection_against_brute_force_minimisation(n, seed):
    """Random non-physical Hermitian unit-trace input; reference: min ‖σ − ρ‖₂ over
    σ = T T†/Tr(T T†) by L-BFGS from several starts."""
    rng = np.random.default_rng(seed)
    d = 2**n
    h = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    h = (h + h.conj().T) / 2
    rho = h - (np.trace(h).real - 1) / d * np.eye(d)
    assert np.linalg.eigvalsh(rho)[0] < 0

    def dist(t):
        tt = (t[: d * d] + 1j * t[d * d:]).reshape(d, d)
        s = tt @ tt.conj().T
        return np.linalg.norm(s / np.trace(s).real - rho) ** 2

    best = min((minimize(dist, rng.normal(size=2 * d * d), method="L-BFGS-B", options={"ftol": 1e-15, "gtol": 1e-12})
                for _ in range(5)), key=lambda r: r.fun)
    proj = project_to_density_matrix(rho)
    assert np.linalg.norm(proj - rho) ** 2 <= best.fun + 1e-9
    tt = (best.x[: d * d] + 1j * best.x[d * d:]).reshape(d, d)
    np.testing.assert_allclose(proj, tt @ tt.conj().T / np.trace(tt @ tt.conj().T).real, atol=1e-4)
    np.testing.assert_allclose(project_to_density_matrix(proj), proj, atol=1e-14)  # states are fixed points


def test_uhlmann_fidelity_closed_forms_and_qutip():
    rng = np.random.default_rng(0)
    u = np.linalg.qr(rng.normal(size=(8, 8)) + 1j * rng.normal(size=(8, 8)))[0]
    p, q = rng.dirichlet(np.ones(8)), rng.dirichlet(np.ones(8))
    p[:3] = 0
    p /= p.sum()  # rank deficient
    # commuting states: the classical (Bhattacharyya) fidelity (Σ √(p q))²
    bhattacharyya = np.sum(np.sqrt(p * q)) ** 2
    assert state_fidelity((u * p) @ u.conj().T, (u * q) @ u.conj().T) == pytest.approx(bhattacharyya, abs=1e-12)
    psi, phi = (rng.normal(size=(2, 8)) + 1j * rng.normal(size=(2, 8)))
    psi, phi = psi / np.linalg.norm(psi), phi / np.linalg.norm(phi)
    pure_psi, pure_phi = np.outer(psi, psi.conj()), np.outer(phi, phi.conj())
    assert state_fidelity(pure_psi, pure_phi) == pytest.approx(abs(psi.conj() @ phi) ** 2, abs=1e-12)
    sigma = random_state(3, 3, rng)
    assert state_fidelity(pure_psi, sigma) == pytest.approx(fidelity_pure(sigma, psi), abs=1e-12)
    assert fidelity_pure(sigma, 3j * psi) == pytest.approx(np.real(psi.conj() @ sigma @ psi), abs=1e-14)
    for n, rank, rank2 in [(3, 8, 8), (3, 2, 3), (2, 1, 3), (3, 1, 2)]:
        g = rng.normal(size=(2**n, rank)) + 1j * rng.normal(size=(2**n, rank))
        r1, r2 = g @ g.conj().T / np.linalg.norm(g) ** 2, random_state(n, rank2, rng)
        # ρ = G G†: √ρ σ √ρ has the non-zero eigenvalues of G† σ G (rank × rank), exact for any rank
        exact = np.sum(np.sqrt(np.linalg.eigvalsh(g.conj().T @ r2 @ g) / np.linalg.norm(g) ** 2)) ** 2
        assert state_fidelity(r1, r2) == pytest.approx(exact, abs=1e-14)
        assert state_fidelity(r2, r1) == pytest.approx(exact, abs=1e-14)
        # QuTiP's fidelity is the square root; its sqrtm loses ~1e-9 on rank-deficient states (measured)
        ref = qutip.fidelity(qutip.Qobj(r1), qutip.Qobj(r2)) ** 2
        assert state_fidelity(r1, r2) == pytest.approx(ref, abs=1e-12 if rank == 2**n else 1e-7)


def test_reduced_against_qutip_and_products():
    rng = np.random.default_rng(1)
    rho = random_state(4, 3, rng)
    q = qutip.Qobj(rho, dims=[[2] * 4, [2] * 4])
    for sel in ([0], [3], [1, 2], [0, 2, 3]):
        np.testing.assert_allclose(reduced(rho, sel), q.ptrace(sel).full(), atol=1e-14)
    a, b, c = (random_state(1, 2, rng) for _ in range(3))
    np.testing.assert_allclose(reduced(kron_all([a, b, c]), [2, 0]), np.kron(c, a), atol=1e-14)  # order kept
    np.testing.assert_allclose(reduced(rho, [0, 1, 2, 3]), rho, atol=0)


# -- bad input: one-line errors --------------------------------------------------------


@pytest.mark.parametrize("call, match", [
    (lambda: outcome_counts(np.array([[0, 4]]), 4), r"\[0, 3\]"),
    (lambda: outcome_counts(np.array([[0.0, 1.0]]), 4), "integers"),
    (lambda: outcome_counts(np.zeros(3, int), 4), "shape"),
    (lambda: outcome_counts(np.zeros((3, 2), int), 4, weights=[1, -1, 1]), "non-negative"),
    (lambda: linear_inversion(np.zeros((3, 2), int), trine()), "not informationally complete"),
    (lambda: linear_inversion(np.zeros((3, 2), int), POVM("x", np.stack([pauli4().elements] * 3))),
     "elements for 3 qubits, not 2"),
    (lambda: linear_inversion(np.zeros((3, 16), int), pauli6()), "needs ~"),
    (lambda: mle(np.zeros((3, 1), int), pauli4(), tol=0), "tol"),
    (lambda: mle(np.zeros((3, 1), int), pauli4(), max_iter=0), "max_iter"),
    (lambda: mle(np.zeros((3, 1), int), pauli4(), rho0=np.diag([0.0, 1.0])), "probability 0"),
    (lambda: project_to_density_matrix(np.array([[1, 1], [0, 0]])), "not Hermitian"),
    (lambda: state_fidelity(np.diag([1.2, -0.2]), np.eye(2) / 2), "not a density matrix"),
    (lambda: fidelity_pure(np.eye(2) / 2, np.zeros(2)), "non-zero"),
    (lambda: reduced(np.eye(4) / 4, [0, 0]), "distinct"),
    (lambda: reconstruct_density_matrix(np.ones(10), tetra()), "not K\\^N"),
    (lambda: bootstrap(np.zeros((5, 1)), np.mean, k=1), "k must be"),
])
def test_bad_input_is_one_line(call, match):
    with pytest.raises(ValueError, match=match) as e:
        call()
    assert "\n" not in str(e.value)


def test_oversized_requests_are_resource_errors():
    with pytest.raises(ResourceError, match="linear inversion of 16 qubits with 6 outcomes per qubit needs"):
        linear_inversion(np.zeros((3, 16), int), pauli6())
    with pytest.raises(ResourceError, match="a table of all 6\\^20 outcome counts needs"):
        outcome_counts(np.zeros((3, 20), int), 6, dense=True)
