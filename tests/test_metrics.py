"""Scores against independent references: exact enumeration written out in the tests,
closed forms (depolarized GHZ fidelity), explicit Kronecker products for observables,
explicit Kraus maps, scipy.linalg.sqrtm for the Uhlmann fidelity.

Statistical checks use fixed seeds (repeatable); single estimates must lie within 4σ
(several are checked per test), seed averages and single headline numbers within 3σ.
"""

import functools

import numpy as np
import pytest
import scipy.linalg

from qgen.measurements import (
    get_povm,
    log_prob,
    pauli4,
    probabilities,
    reconstruct_density_matrix,
    sample,
    tetra,
    trine,
)
from qgen.measurements.contract import expect_products
from qgen.scores import (
    FIDELITY_STDERR_MAX,
    classical_fidelity,
    enumerate_strings,
    exact_scores,
    fidelity_moment_base,
    kl_divergence,
    quantum_fidelity,
)
from qgen.scores.fidelity import PILOT_STRINGS
from qgen.scores.observables import (
    correlation_average,
    correlation_ops,
    exact_observable,
    exact_observables,
    exact_pauli_expectations,
    magnetization_ops,
    observable,
    observables,
    pauli_estimator,
    pauli_expectations,
)
from qgen.stats import mean_estimate
from qgen.targets import DenseState, cluster, ghz, product_state, random_mps, w_state

# -- independent helpers (no qgen code) -----------------------------------------------

SIGMA = {
    0: np.eye(2, dtype=complex),
    1: np.array([[0, 1], [1, 0]], dtype=complex),
    2: np.array([[0, -1j], [1j, 0]]),
    3: np.array([[1, 0], [0, -1]], dtype=complex),
}


def kron_all(mats):
    return functools.reduce(np.kron, mats)


def pauli_string_matrix(string):
    return kron_all([SIGMA[int(k)] for k in string])


def ghz_vector(n):
    v = np.zeros(2**n)
    v[0] = v[-1] = 1 / np.sqrt(2)
    return v


def depolarize_kraus(rho, p):
    """Λ_p on every qubit via Kraus operators √(1−3p/4) I, √(p/4) σx,y,z."""
    n = int(np.log2(rho.shape[0]))
    kraus = [np.sqrt(1 - 3 * p / 4) * SIGMA[0]] + [np.sqrt(p / 4) * SIGMA[k] for k in (1, 2, 3)]
    for q in range(n):
        ks = [kron_all([np.eye(2**q), k, np.eye(2 ** (n - q - 1))]) for k in kraus]
        rho = sum(k @ rho @ k.conj().T for k in ks)
    return rho


def random_density(n, seed):
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(2**n, 2**n)) + 1j * rng.normal(size=(2**n, 2**n))
    rho = g @ g.conj().T
    return rho / np.trace(rho).real


def sample_table(q, k, n, size, rng):
    """Strings a ~ q from a full probability table in lexicographic order."""
    flat = rng.choice(q.size, size=size, p=q / q.sum())
    return np.stack(np.unravel_index(flat, (k,) * n), axis=1).astype(np.uint8)


def within(est, exact, k):
    return abs(est.mean - exact) <= k * est.stderr


# -- classical fidelity and KL ---------------------------------------------------------


@pytest.mark.parametrize("povm", ["pauli4", "tetra"])
def test_model_equal_to_target(povm):
    povm, st = get_povm(povm), ghz(4)
    x = sample(st, povm, 5000, seed=1)
    lq = log_prob(DenseState(st.to_dense()), povm, x)  # the "model": the dense-table code path
    lp = log_prob(st, povm, x)  # the target: the MPS sweep
    fc = classical_fidelity(lq, lp)
    assert abs(fc.mean - 1) < 1e-9 and fc.n == 5000
    assert abs(kl_divergence(lp, lq).mean) < 1e-9 and abs(kl_divergence(lq, lp).mean) < 1e-9
    ex = exact_scores(log_prob(st, povm, enumerate_strings(povm.n_outcomes, 4)), st, povm)
    for key, val in [("classical_fidelity", 1), ("kl_target_model", 0), ("kl_model_target", 0),
                     ("quantum_fidelity", 1), ("trace", 1)]:
        assert ex[key].mean == pytest.approx(val, abs=1e-9), key
        assert ex[key].stderr == 0 and ex[key].note.startswith("exact")
    assert ex["min_eigenvalue"].mean > -1e-10


def _product_of_marginals(p, k, n):
    """q(a) = Π_i P_i(a_i), the product of the single-site marginals of P."""
    t = p.reshape((k,) * n)
    margs = [t.sum(axis=tuple(j for j in range(n) if j != i)) for i in range(n)]
    return kron_all(margs)


def _model_cases():
    """(target state, POVM, model table q); the pure GHZ has P = 0 on some Pauli-4 strings
    (infinite KL(q‖P)), so the Pauli-4 targets are slightly depolarized."""
    p5 = probabilities(ghz(5), tetra()).ravel()
    return {
        "ghz5-tetra-product-model": (ghz(5), tetra(), _product_of_marginals(p5, 4, 5)),
        "noisy-ghz4-pauli4-W-model": (
            ghz(4).with_noise(0.05), pauli4(), probabilities(w_state(4).with_noise(0.2), pauli4()).ravel()),
        "noisy-ghz4-pauli4-noisier-model": (
            ghz(4).with_noise(0.05), pauli4(), probabilities(ghz(4).with_noise(0.4), pauli4()).ravel()),
    }


@pytest.mark.parametrize("case", list(_model_cases()))
def test_sampled_scores_match_exact_enumeration(case):
    target, povm, q = _model_cases()[case]
    k, n = povm.n_outcomes, target.n_qubits
    p = probabilities(target, povm).ravel()
    assert p.min() > 0 and q.min() > 0
    # references written out here
    fc_ref = np.sum(np.sqrt(p * q))
    kl_pq_ref = np.sum(p * (np.log(p) - np.log(q)))
    kl_qp_ref = np.sum(q * (np.log(q) - np.log(p)))
    ex = exact_scores(np.log(q), target, povm)
    assert ex["classical_fidelity"].mean == pytest.approx(fc_ref, rel=1e-10)
    assert ex["kl_target_model"].mean == pytest.approx(kl_pq_ref, rel=1e-10)
    assert ex["kl_model_target"].mean == pytest.approx(kl_qp_ref, rel=1e-10)
    assert 0.3 < fc_ref < 0.99 and kl_pq_ref > 0.01  # a genuinely different model

    ests = {"fc": [], "kl_pq": [], "kl_qp": []}
    for seed in range(5):
        rng = np.random.default_rng(seed)
        xq = np.ravel_multi_index(sample_table(q, k, n, 4000, rng).T, (k,) * n)
        xp = np.ravel_multi_index(sample_table(p, k, n, 4000, rng).T, (k,) * n)
        ests["fc"].append(classical_fidelity(np.log(q[xq]), np.log(p[xq])))
        ests["kl_qp"].append(kl_divergence(np.log(q[xq]), np.log(p[xq])))
        ests["kl_pq"].append(kl_divergence(np.log(p[xp]), np.log(q[xp])))
    for key, ref in (("fc", fc_ref), ("kl_pq", kl_pq_ref), ("kl_qp", kl_qp_ref)):
        for e in ests[key]:
            assert 0 < e.stderr < 0.1 and within(e, ref, 4), (key, e, ref)
        mean = np.mean([e.mean for e in ests[key]])  # unbiasedness: seed average
        err = np.sqrt(np.sum([e.stderr**2 for e in ests[key]])) / len(ests[key])
        assert abs(mean - ref) < 3 * err, (key, mean, err, ref)


def test_classical_fidelity_is_not_clipped():
    # q(a) = 0.5 on two strings whose P is 0.6 and 0.5 (an unnormalised "P" sample) → mean > 1
    fc = classical_fidelity(np.log([0.5, 0.5]), np.log([0.6, 0.5]))
    assert fc.mean > 1


def test_kl_infinite_and_inconsistent_inputs():
    e = kl_divergence(np.log([0.5, 0.5, 0.5]), np.array([np.log(0.5), -np.inf, np.log(0.5)]))
    assert e.mean == np.inf and "infinite" in e.note and "1 of 3" in e.note
    assert not kl_divergence(np.array([-np.inf, 0.0]), np.zeros(2)).available
    assert not classical_fidelity(np.array([-np.inf, 0.0]), np.zeros(2)).available
    assert not kl_divergence(np.zeros(2), np.array([np.nan, 0.0])).available
    with pytest.raises(ValueError):
        kl_divergence(np.zeros(3), np.zeros(2))


# -- quantum fidelity ------------------------------------------------------------------


@pytest.mark.parametrize("povm", ["pauli4", "tetra"])
def test_quantum_fidelity_of_the_target_itself(povm):
    povm = get_povm(povm)
    x = sample(ghz(4), povm, 20000, seed=3)
    f = quantum_fidelity(ghz(4), povm, x)
    assert f.note == "" and f.stderr < FIDELITY_STDERR_MAX
    assert within(f, 1.0, 3), f


@pytest.mark.parametrize("povm", ["pauli4", "tetra"])
def test_quantum_fidelity_of_depolarized_ghz(povm):
    n, p = 4, 0.1
    rho = depolarize_kraus(np.outer(ghz_vector(n), ghz_vector(n)), p)
    f_kraus = ghz_vector(n) @ rho @ ghz_vector(n)
    # closed form: ½[(1−p/2)^N + (p/2)^N + (1−p)^N] (diagonal and coherence terms of Λ_p^{⊗N})
    f_closed = 0.5 * ((1 - p / 2) ** n + (p / 2) ** n + (1 - p) ** n)
    assert f_kraus.real == pytest.approx(f_closed, abs=1e-12)
    povm = get_povm(povm)
    x = sample(ghz(n).with_noise(p), povm, 40000, seed=4)
    f = quantum_fidelity(ghz(n), povm, x)
    assert f.stderr < 0.05 and within(f, f_closed, 3), (f, f_closed)
    assert not within(f, 1.0, 3)  # the test can tell the noise


def test_quantum_fidelity_unavailable_cases():
    x = sample(ghz(3), pauli4(), 10, seed=0)
    assert "pure" in quantum_fidelity(ghz(3).with_noise(0.1), pauli4(), x).note
    assert not quantum_fidelity(DenseState(random_density(3, 0)), pauli4(), x).available
    assert not quantum_fidelity(ghz(3), trine(), sample(ghz(3), trine(), 10, seed=0)).available


@pytest.mark.parametrize("povm", ["pauli4", "tetra"])
def test_quantum_fidelity_flags_useless_error_bars_at_n12(povm):
    povm, st = get_povm(povm), product_state("0", 12)
    f = quantum_fidelity(st, povm, sample(st, povm, 2000, seed=5))
    # the true standard error is √((s^12 − 1)/2000) ≥ 1.4 (s = 3 for |0⟩ with Pauli-4, 2 with tetra)
    assert f.available and "useful range" in f.note
    # Pauli-4: the estimator is 3^12 with probability 3^-12 and 0 otherwise, so the sample
    # error bar is ~0 — the note must still be set
    if povm.name == "pauli4":
        assert f.stderr < 1e-6 and "not trustworthy" in f.note


def test_quantum_fidelity_stops_after_a_pilot_when_unresolvable(monkeypatch):
    import qgen.scores.fidelity as fid

    evaluated = []

    def counting(state, duals, samples, device=None):
        evaluated.append(len(samples))
        return expect_products(state, duals, samples, device=device)

    monkeypatch.setattr(fid, "expect_products", counting)
    x = sample(ghz(20), pauli4(), 3 * PILOT_STRINGS, seed=1)
    f = quantum_fidelity(ghz(20), pauli4(), x)
    # pilot error ≈ 13 (√(s^N/n) of the heavy-tailed estimator): far beyond the range
    assert evaluated == [PILOT_STRINGS] and f.n == PILOT_STRINGS, evaluated
    assert "useful range" in f.note and "not evaluated" in f.note and f.stderr > 1
    evaluated.clear()  # resolvable: the pilot, then the other strings, each string once
    x = sample(ghz(3), pauli4(), 3 * PILOT_STRINGS, seed=2)
    f = quantum_fidelity(ghz(3), pauli4(), x)
    assert evaluated == [PILOT_STRINGS, 2 * PILOT_STRINGS] and f.n == 3 * PILOT_STRINGS and f.note == ""
    whole = expect_products(ghz(3), pauli4().duals, x).real  # the same estimate as from all strings at once
    assert f.mean == pytest.approx(whole.mean(), abs=1e-12) and f.stderr == pytest.approx(
        whole.std(ddof=1) / np.sqrt(len(whole)), rel=1e-9)


def test_fidelity_moment_base_bounds_exact_second_moments():
    """Second moment E_P[⟨ψ|D^a|ψ⟩²] by enumeration (reference: ⟨0|D^a|0⟩ = 3, 2, 2
    for the first outcome of Pauli-4, tetra, Pauli-6 and 0 for Pauli-4's others)."""
    assert fidelity_moment_base(pauli4()) >= 3 - 1e-9
    assert fidelity_moment_base(get_povm("tetra")) == pytest.approx(2, abs=1e-3)
    assert fidelity_moment_base(get_povm("pauli6")) == pytest.approx(1.5, abs=1e-3)
    n = 4
    for name in ("pauli4", "tetra", "pauli6"):
        povm = get_povm(name)
        strings = enumerate_strings(povm.n_outcomes, n)
        s = fidelity_moment_base(povm)
        for st in (ghz(n), w_state(n), cluster(n), random_mps(n, 3, seed=2)):
            psi = st.to_dense()
            g = np.array([psi.conj() @ kron_all(povm.duals[a]) @ psi for a in strings]).real
            pr = np.exp(log_prob(st, povm, strings))
            assert np.sum(pr * g**2) <= s**n * (1 + 1e-3)


# -- observables -----------------------------------------------------------------------


def _tfim(n, j=1.0, h=1.0):
    """H = −J Σ σz_i σz_{i+1} − h Σ σx_i (open), as (coefs, ops) written by hand and
    as an explicit matrix, with its dense ground state."""
    coefs, ops = [], []
    for i in range(n - 1):
        o = [0] * n
        o[i] = o[i + 1] = 3
        coefs.append(-j), ops.append(o)
    for i in range(n):
        o = [0] * n
        o[i] = 1
        coefs.append(-h), ops.append(o)
    coefs, ops = np.array(coefs), np.array(ops, dtype=np.int8)
    ham = sum(c * pauli_string_matrix(o) for c, o in zip(coefs, ops))
    _, v = np.linalg.eigh(ham)
    return coefs, ops, ham, v[:, 0]


@pytest.mark.parametrize("povm", ["pauli4", "tetra", "pauli6"])
def test_observables_from_exact_samples(povm):
    n = 6
    povm = get_povm(povm)
    coefs, ops, ham, psi = _tfim(n, 1.0, 0.8)
    state = DenseState(psi)
    x = sample(state, povm, 20000, seed=6)

    sx = magnetization_ops(n, "x")
    exact_sx = [psi @ pauli_string_matrix(o) @ psi for o in sx]
    for e, ref in zip(pauli_expectations(x, povm, sx), exact_sx):
        assert within(e, ref, 4), (e, ref)

    pairs = np.array([[3 if k in (i, j) else 0 for k in range(n)] for i in range(n) for j in range(i + 1, n)])
    exact_zz = [psi @ pauli_string_matrix(o) @ psi for o in pairs]
    assert min(exact_zz) > 0.2  # non-trivial correlations
    for e, ref in zip(pauli_expectations(x, povm, pairs), exact_zz):
        assert within(e, ref, 4), (e, ref)

    energy = observable(x, povm, coefs, ops)
    e0 = np.linalg.eigvalsh(ham)[0]
    assert energy.stderr < 0.2 and within(energy, e0, 3), (energy, e0)
    # the per-sample sum carries the correlations between terms into the error bar
    v = pauli_estimator(x, povm, ops)
    assert v.shape == (20000, ops.shape[0])
    ref = mean_estimate(v @ coefs)  # the same sums in another order: equal up to rounding
    assert energy.n == ref.n and energy.mean == pytest.approx(ref.mean, rel=1e-12, abs=1e-12)
    assert energy.stderr == pytest.approx(ref.stderr, rel=1e-12)
    # exact values through expect_products, dense and MPS
    assert exact_observable(state, coefs, ops) == pytest.approx(e0, abs=1e-10)
    assert exact_observable(state.to_mps(), coefs, ops) == pytest.approx(e0, abs=1e-10)


def test_observable_helpers_and_correlations():
    n = 5
    _, _, _, psi = _tfim(n, 1.0, 0.5)
    state = DenseState(psi)
    c = correlation_ops(n, 1, "z")
    assert c.tolist() == [[0, 3, 3, 0, 0], [0, 3, 0, 3, 0], [0, 3, 0, 0, 3]]
    ref = [psi @ pauli_string_matrix(o) @ psi for o in c]
    assert np.allclose(exact_pauli_expectations(state, c), ref, atol=1e-12)
    coefs, ops = correlation_average(n, 2, "z")
    ref_avg = np.mean([psi @ pauli_string_matrix([3 if k in (i, i + 2) else 0 for k in range(n)]) @ psi
                       for i in range(n - 2)])
    assert exact_observable(state, coefs, ops) == pytest.approx(ref_avg, abs=1e-12)
    assert magnetization_ops(3, "y").tolist() == [[2, 0, 0], [0, 2, 0], [0, 0, 2]]


def test_many_observables_at_once_match_kronecker_references():
    """The batched forms (one contraction, one pass over the samples) against explicit
    Kronecker products: the TFIM energy, every ⟨σx_i⟩, every C(r), and an empty sum,
    for a pure (MPS) and a depolarized dense state."""
    n = 5
    coefs_h, ops_h, _, psi = _tfim(n, 1.0, 0.5)
    corr = [correlation_average(n, r) for r in range(1, n)]
    coefs = [coefs_h, *[np.ones(1)] * n, *[c for c, _ in corr], np.zeros(0)]
    opss = [ops_h, *[o[None] for o in magnetization_ops(n, "x")], *[o for _, o in corr], np.zeros((0, n), int)]

    def reference(rho):
        return [float(np.real(np.trace(rho @ sum((c * pauli_string_matrix(s) for c, s in zip(cs, os)),
                                                 np.zeros((2**n, 2**n))))))
                for cs, os in zip(coefs, opss)]

    rho = np.outer(psi, psi)
    assert np.allclose(exact_observables(DenseState(psi).to_mps(), coefs, opss), reference(rho), atol=1e-10)
    p = 0.2
    noisy = DenseState(psi).with_noise(p)
    assert np.allclose(exact_observables(noisy, coefs, opss), reference(depolarize_kraus(rho, p)), atol=1e-10)
    assert exact_observables(noisy, [], []).shape == (0,)

    x = sample(DenseState(psi), tetra(), 40000, seed=3)
    got = observables(x, tetra(), coefs, opss)
    ref = reference(rho)
    assert all(within(e, r, 4) for e, r in zip(got[:-1], ref[:-1])), list(zip(got, ref))
    assert got[-1].mean == 0 and got[-1].stderr == 0  # the empty sum is exactly zero
    for a, b in zip(observables(x, tetra(), coefs, opss, chunk_size=999), got):  # chunks merge exactly
        assert a.n == b.n and a.mean == pytest.approx(b.mean, abs=1e-12) and a.stderr == pytest.approx(b.stderr)
    # a term outside the POVM's span makes only its own observable unavailable
    xt = sample(DenseState(psi), trine(), 1000, seed=3)
    mixed = observables(xt, trine(), [np.ones(1), np.ones(1)], [np.array([[2, 0, 0, 0, 0]]), opss[1]])
    assert not mixed[0].available and mixed[1].available
    with pytest.raises(ValueError, match=r"outcomes must lie in \[0, 2\]"):
        observables(x, trine(), [np.ones(1)], [opss[1]])
    with pytest.raises(ValueError, match="one coefficient per Pauli string"):
        observables(x, tetra(), [np.ones(2)], [opss[1]])
    with pytest.raises(ValueError, match="one coefficient per Pauli string"):
        exact_observables(noisy, [np.ones(2)], [opss[1]])


def test_non_ic_povm_cannot_estimate_sigma_y():
    x = sample(product_state("+", 3), trine(), 5000, seed=0)
    ops = np.array([[1, 0, 0], [2, 0, 0], [3, 3, 0]])
    es = pauli_expectations(x, trine(), ops)
    assert es[0].available and within(es[0], 1.0, 4)  # σx lies in the trine span
    assert not es[1].available and es[2].available
    assert not observable(x, trine(), np.ones(3), ops).available
    assert observable(x, trine(), np.array([1.0, 0.0, 1.0]), ops).available  # zero weight on σy
    with pytest.raises(ValueError):
        pauli_estimator(x, trine(), ops)


def test_exact_pauli_expectations_ghz50():
    n = 50
    x_all = np.ones((1, n), dtype=np.int8)
    yy = x_all.copy()
    yy[0, :2] = 2  # σy σy σx…σx: σy⊗σy|00⟩ = −|11⟩ → −1
    zz = correlation_ops(n, 0, "z")[[0, 10, 48]]
    z = magnetization_ops(n, "z")[[0, 25, 49]]
    vals = exact_pauli_expectations(ghz(n), np.concatenate([x_all, yy, zz, z]))
    assert np.allclose(vals, [1, -1, 1, 1, 1, 0, 0, 0], atol=1e-10)


def test_exact_pauli_expectations_random_dense_and_noisy():
    n, rng = 6, np.random.default_rng(8)
    psi = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    psi /= np.linalg.norm(psi)
    ops = rng.integers(0, 4, size=(40, n))
    ref = np.array([psi.conj() @ pauli_string_matrix(o) @ psi for o in ops]).real
    assert np.allclose(exact_pauli_expectations(DenseState(psi), ops), ref, atol=1e-12)
    assert np.allclose(exact_pauli_expectations(DenseState(psi).to_mps(), ops), ref, atol=1e-10)
    # depolarizing scales a Pauli string by (1 − p)^weight
    p = 0.3
    weight = np.count_nonzero(ops, axis=1)
    assert np.allclose(exact_pauli_expectations(DenseState(psi, noise=p), ops), ref * (1 - p) ** weight, atol=1e-12)


# -- exact enumeration -----------------------------------------------------------------


def test_enumerate_strings_is_lexicographic():
    import itertools

    assert enumerate_strings(3, 4).tolist() == [list(t) for t in itertools.product(range(3), repeat=4)]
    assert enumerate_strings(4, 2).dtype == np.uint8


@pytest.mark.parametrize("povm", ["pauli4", "tetra", "pauli6"])
def test_reconstruction_from_true_probabilities(povm):
    povm, rho = get_povm(povm), random_density(3, 11)
    state = DenseState(rho)
    p = probabilities(state, povm).ravel()
    assert np.abs(reconstruct_density_matrix(p, povm) - rho).max() < 1e-12
    ex = exact_scores(np.log(p), state, povm)
    assert ex["quantum_fidelity"].mean == pytest.approx(1, abs=1e-8) and "Uhlmann" in ex["quantum_fidelity"].note
    assert ex["trace"].mean == pytest.approx(1, abs=1e-12)
    assert ex["min_eigenvalue"].mean == pytest.approx(np.linalg.eigvalsh(rho)[0], abs=1e-12)


@pytest.mark.parametrize("povm", ["pauli4", "tetra"])
def test_exact_scores_of_a_mixture_model(povm):
    n, eps, povm = 3, 0.2, get_povm(povm)
    k = povm.n_outcomes
    psi = ghz_vector(n)
    p = probabilities(ghz(n), povm).ravel()
    q = (1 - eps) * p + eps / k**n
    ex = exact_scores(np.log(q), ghz(n), povm)
    assert ex["classical_fidelity"].mean == pytest.approx(np.sum(np.sqrt(p * q)), rel=1e-12)
    support = p > 0  # the pure GHZ has P = 0 on some Pauli-4 strings
    kl_pq = np.sum(p[support] * np.log(p[support] / q[support]))
    assert ex["kl_target_model"].mean == pytest.approx(kl_pq, rel=1e-10)
    kl_qp = np.inf if np.any(p[~support] == 0) else np.sum(q * np.log(q / p))  # q > 0 everywhere
    assert ex["kl_model_target"].mean == pytest.approx(kl_qp, rel=1e-10)
    # ρ_q = (1 − ε) ρ + ε (Σ_a D^a / K)^{⊗N}
    avg = kron_all([povm.duals.mean(axis=0)] * n)
    f_ref = (1 - eps) + eps * (psi @ avg @ psi).real
    assert ex["quantum_fidelity"].mean == pytest.approx(f_ref, abs=1e-12)
    assert ex["trace"].mean == pytest.approx(1, abs=1e-12)


def test_exact_scores_mixed_target_uhlmann():
    n, eps, p_noise = 3, 0.3, 0.2
    state = ghz(n).with_noise(p_noise)
    p = probabilities(state, tetra()).ravel()
    q = (1 - eps) * p + eps / 4**n  # tetra: uniform q ↔ ρ = I/2^N
    rho = depolarize_kraus(np.outer(ghz_vector(n), ghz_vector(n)), p_noise)
    sigma = (1 - eps) * rho + eps * np.eye(2**n) / 2**n
    s = scipy.linalg.sqrtm(rho)
    f_ref = np.trace(scipy.linalg.sqrtm(s @ sigma @ s)).real ** 2
    ex = exact_scores(np.log(q), state, tetra())
    assert ex["quantum_fidelity"].mean == pytest.approx(f_ref, abs=1e-8)
    assert 0.5 < f_ref < 0.99


def test_exact_scores_report_unphysical_reconstruction():
    n, povm = 3, pauli4()
    lq = np.full(4**n, -np.inf)
    lq[0] = 0.0  # q = delta on (0, 0, 0): ρ_q = D^0 ⊗ D^0 ⊗ D^0
    ex = exact_scores(lq, ghz(n), povm)
    d0 = np.linalg.eigvalsh(povm.duals[0])
    lam_min = min(a * b * c for a in d0 for b in d0 for c in d0)
    assert lam_min < 0 and ex["min_eigenvalue"].mean == pytest.approx(lam_min, abs=1e-12)
    p0 = probabilities(ghz(n), povm).ravel()[0]
    assert ex["kl_target_model"].mean == np.inf and "infinite" in ex["kl_target_model"].note
    assert ex["kl_model_target"].mean == pytest.approx(-np.log(p0), rel=1e-12)
    assert ex["classical_fidelity"].mean == pytest.approx(np.sqrt(p0), rel=1e-12)
    assert not exact_scores(np.full(4**n, np.nan), ghz(n), povm)["trace"].available
    with pytest.raises(ValueError):
        exact_scores(np.zeros(10), ghz(n), povm)
