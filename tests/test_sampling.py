"""Exact measurement simulation against independent references: closed forms for GHZ,
W, cluster and product states, dense density-matrix tables, χ² tests of the samplers."""

import itertools

import numpy as np
import pytest
from scipy import stats

from qgen.measurements import (
    expect_products,
    get_povm,
    log_prob,
    operator_table,
    pauli4,
    pauli6,
    sample,
)
from qgen.scores import quantum_fidelity
from qgen.targets import (
    MPS,
    PAULI,
    DenseState,
    cluster,
    depolarize,
    ghz,
    product_state,
    random_mps,
    w_state,
)

POVMS = ["pauli4", "tetra", "pauli6", "trine"]
ALPHA = 1e-4  # false-alarm rate of each statistical test below (seeds are fixed, so runs are repeatable)


def ghz_logp_closed_form(m, a, p=0.0):
    """log P(a) for (|0…0⟩+|1…1⟩)/√2 under local depolarizing p:
    P = ½[Π M̃_00 + Π M̃_11 + 2 Re Π M̃_01], M̃ = (1−p)M + p Tr(M) I/2."""
    mt = (1 - p) * m + p * np.trace(m, axis1=1, axis2=2)[:, None, None] * np.eye(2) / 2
    e = mt[a]  # (B, N, 2, 2)
    with np.errstate(divide="ignore"):
        return np.log(0.5 * (e[..., 0, 0].prod(1) + e[..., 1, 1].prod(1) + 2 * e[..., 0, 1].prod(1).real).real)


def all_strings(k, n):
    return np.array(list(itertools.product(range(k), repeat=n)), dtype=np.uint8)


def random_density(n, seed):
    rng = np.random.default_rng(seed)
    g = rng.normal(size=(2**n, 2**n)) + 1j * rng.normal(size=(2**n, 2**n))
    rho = g @ g.conj().T
    return rho / np.trace(rho).real


def targets(n):
    """Every target type: pure MPS, depolarized MPS, dense vector, dense density matrix."""
    mps = random_mps(n, 3, seed=n)
    return {
        "mps": mps,
        "mps+noise": depolarize(mps, 0.2),
        "dense": DenseState(mps.to_dense()),
        "dense-rho+noise": DenseState(random_density(n, 7), noise=0.1),
    }


@pytest.mark.parametrize("povm", POVMS)
@pytest.mark.parametrize("kind", ["mps", "mps+noise", "dense", "dense-rho+noise"])
def test_probabilities_sum_to_one_by_enumeration(povm, kind):
    povm = get_povm(povm)
    n = 8 if povm.n_outcomes <= 4 else 6
    state = targets(n)[kind]
    strings = all_strings(povm.n_outcomes, n)
    p = np.exp(log_prob(state, povm, strings))
    assert abs(p.sum() - 1) < 1e-10
    assert p.min() >= 0


@pytest.mark.parametrize("p", [0.0, 0.3])
@pytest.mark.parametrize("povm", ["pauli4", "pauli6"])
def test_ghz_closed_form(povm, p):
    povm = get_povm(povm)
    rng = np.random.default_rng(0)
    for n in (3, 8, 50):
        a = rng.integers(0, povm.n_outcomes, (300, n))
        np.testing.assert_allclose(
            log_prob(depolarize(ghz(n), p), povm, a), ghz_logp_closed_form(povm.elements, a, p), atol=1e-10
        )
    np.testing.assert_allclose(  # dense path too
        log_prob(depolarize(ghz(5, dense=True), p), povm, a[:, :5]),
        ghz_logp_closed_form(povm.elements, a[:, :5], p), atol=1e-12,
    )


def test_noise_on_state_equals_noise_on_operators():
    """The dense density matrix has the channel applied to ρ itself (independent of
    the operator-side trick used for MPS)."""
    mps = depolarize(random_mps(5, 4, seed=3), 0.25)
    rho = DenseState(mps.to_dense(), noise=0.25).density_matrix()
    strings = all_strings(4, 5)
    np.testing.assert_allclose(
        np.exp(log_prob(mps, pauli4(), strings)),
        np.exp(log_prob(DenseState(rho), pauli4(), strings)),
        atol=1e-13,
    )


@pytest.mark.parametrize("n", [2, 6, 10])
@pytest.mark.parametrize("real", [True, False])
def test_mps_and_dense_log_prob_agree(n, real):
    mps = random_mps(n, 5, seed=n, real=real)
    a = np.random.default_rng(1).integers(0, 4, (500, n))
    dense = DenseState(mps.to_dense())
    np.testing.assert_allclose(log_prob(mps, pauli4(), a), log_prob(dense, pauli4(), a), atol=1e-10)


@pytest.mark.parametrize("p", [0.0, 0.3])
def test_torch_sweep_matches_references(p):
    """The torch MPS sweep (``device=``, for GPUs; run here on the CPU) against the GHZ
    closed form at N = 50 and the dense table of random complex and real MPS, with noise
    and with several chunks."""
    rng = np.random.default_rng(2)
    for povm in (pauli4(), pauli6()):
        a = rng.integers(0, povm.n_outcomes, (300, 50))
        np.testing.assert_allclose(log_prob(depolarize(ghz(50), p), povm, a, device="cpu", chunk_size=128),
                                   ghz_logp_closed_form(povm.elements, a, p), atol=1e-10)
    for real in (True, False):
        mps = depolarize(random_mps(7, 5, seed=4, real=real), p)
        a = rng.integers(0, 4, (500, 7))
        dense = DenseState(mps.to_dense(), noise=p)
        np.testing.assert_allclose(log_prob(mps, pauli4(), a, device="cpu"), log_prob(dense, pauli4(), a),
                                   atol=1e-10)
    # the fidelity estimator's sweep over the duals takes the same path
    a = sample(ghz(8), pauli6(), 2000, seed=5)
    assert quantum_fidelity(ghz(8), pauli6(), a, device="cpu").mean == pytest.approx(
        quantum_fidelity(ghz(8), pauli6(), a).mean, abs=1e-12)


def test_unnormalised_and_non_canonical_mps():
    mps = random_mps(6, 3, seed=2)
    scaled = MPS(tuple(t * 1.7 for t in mps.tensors))
    a = all_strings(4, 6)[::7]
    np.testing.assert_allclose(log_prob(scaled, pauli4(), a), log_prob(mps, pauli4(), a), atol=1e-12)


def test_named_states_closed_forms():
    """Amplitudes of W and cluster states, and the product-state probability formula."""
    n = 6
    psi = w_state(n).to_dense()
    expected = np.zeros(2**n)
    expected[[1 << k for k in range(n)]] = 1 / np.sqrt(n)
    np.testing.assert_allclose(psi, expected, atol=1e-15)
    bits = all_strings(2, n).astype(int)
    signs = (-1.0) ** (bits[:, :-1] * bits[:, 1:]).sum(1)
    np.testing.assert_allclose(cluster(n).to_dense(), signs / 2 ** (n / 2), atol=1e-15)
    labels = ["0", "+", "-i", "1"]
    prod = product_state(labels)
    vecs = {"0": [1, 0], "1": [0, 1], "+": [1, 1], "-i": [1, -1j]}
    m = pauli6().elements
    a = all_strings(6, 4)
    unit = [np.array(vecs[label]) / np.linalg.norm(vecs[label]) for label in labels]
    single = np.array([[np.vdot(v, mk @ v).real for mk in m] for v in unit])
    expected = np.prod(single[np.arange(4), a], axis=1)
    np.testing.assert_allclose(np.exp(log_prob(prod, pauli6(), a)), expected, atol=1e-14)


def chi2_pvalue(samples, p_exact, k, n):
    flat = np.ravel_multi_index(tuple(samples.T.astype(int)), (k,) * n)
    counts = np.bincount(flat, minlength=k**n)
    expected = p_exact.ravel() * len(samples)
    keep = expected > 5  # pool rare cells so the χ² approximation holds
    obs = np.append(counts[keep], counts[~keep].sum())
    exp = np.append(expected[keep], expected[~keep].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    return stats.chisquare(obs, exp).pvalue, 0.5 * np.abs(counts / len(samples) - p_exact.ravel()).sum()


@pytest.mark.parametrize("kind", ["mps", "mps+noise", "dense", "dense-rho+noise"])
@pytest.mark.parametrize("povm", ["pauli4", "pauli6"])
def test_sampler_histogram_chi2(kind, povm):
    povm = get_povm(povm)
    n = 5 if povm.n_outcomes == 4 else 4
    state = targets(n)[kind]
    dense = DenseState(state.to_dense(), noise=state.noise) if isinstance(state, MPS) else state
    p_exact = operator_table(dense, povm.elements).real
    samples = sample(state, povm, 200_000, seed=11)
    pval, tv = chi2_pvalue(samples, p_exact, povm.n_outcomes, n)
    assert pval > ALPHA, f"χ² p-value {pval:.2g}, total variation {tv:.3g}"
    # E[TV] of an exact sampler ≈ ½ Σ_a √(2 P(1−P)/(π n)) (normal approximation per cell)
    tv_expected = 0.5 * np.sqrt(2 * p_exact * (1 - p_exact) / (np.pi * len(samples))).sum()
    assert tv < 1.3 * tv_expected, f"total variation {tv:.4f} vs {tv_expected:.4f} expected"


def test_single_site_marginals_at_50_qubits():
    """Single-qubit marginals P(a_i) = Tr(M^a ρ_i) with ρ_i known in closed form:
    I/2 for GHZ and cluster states, diag(1−1/N, 1/N) for the W state."""
    n, shots = 50, 40_000
    m = pauli4().elements
    for state, rho1 in [
        (ghz(n), np.eye(2) / 2),
        (cluster(n), np.eye(2) / 2),
        (w_state(n), np.diag([1 - 1 / n, 1 / n])),
    ]:
        a = sample(state, pauli4(), shots, seed=3)
        p1 = np.einsum("aij,ji->a", m, rho1).real
        for i in (0, 17, n - 1):
            counts = np.bincount(a[:, i], minlength=4)
            assert stats.chisquare(counts, p1 * shots).pvalue > ALPHA


def test_seeded_reproducible_and_worker_independent():
    mps = random_mps(12, 4, seed=0)
    a = sample(mps, pauli4(), 10_000, seed=5, workers=1)
    np.testing.assert_array_equal(a, sample(mps, pauli4(), 10_000, seed=5, workers=2))
    np.testing.assert_array_equal(a[:4096], sample(mps, pauli4(), 4096, seed=5))
    assert not np.array_equal(a, sample(mps, pauli4(), 10_000, seed=6))
    assert a.dtype == np.uint8 and a.shape == (10_000, 12)


def test_large_dense_vector_is_sampled_through_its_mps():
    n = 13  # 4^13 > table limit → exact MPS conversion
    psi = ghz(n, dense=True)
    a = sample(psi, pauli4(), 2000, seed=1)
    np.testing.assert_allclose(log_prob(psi, pauli4(), a), ghz_logp_closed_form(pauli4().elements, a), atol=1e-10)


def test_expect_products_paulis_on_ghz():
    n = 10
    ops = np.zeros((3, n), dtype=int)
    ops[0, :] = 1  # X^⊗N → 1
    ops[1, [2, 7]] = 3  # Z_2 Z_7 → 1
    ops[2, 4] = 3  # Z_4 → 0
    np.testing.assert_allclose(expect_products(ghz(n), PAULI, ops), [1, 1, 0], atol=1e-13)
    np.testing.assert_allclose(expect_products(depolarize(ghz(n), 0.1), PAULI, ops), [0.9**n, 0.81, 0], atol=1e-13)


def test_bad_input():
    with pytest.raises(ValueError, match="shape"):
        log_prob(ghz(4), pauli4(), np.zeros((3, 5), int))
    with pytest.raises(ValueError, match="lie in"):
        log_prob(ghz(4), pauli4(), np.full((3, 4), 4))
    with pytest.raises(ValueError, match="≥ 0"):
        sample(ghz(4), pauli4(), -1)
    with pytest.raises(ValueError, match="in \\[0, 1\\]"):
        depolarize(ghz(4), 1.5)


def test_simulation_file_is_identical_for_any_number_of_processes(tmp_path):
    """Blocks computed by 1 process, 2 spawned processes or threads give the same file
    contents (strings and exact ln P), and the same as the in-memory simulation."""
    from qgen.datasets import simulate, simulate_to_file
    from qgen.datasets.hdf5 import read_dataset
    from qgen.targets import Target

    target = Target(random_mps(10, 4, seed=3), "random")
    runs = {}
    for workers in (1, 2, None):
        path = simulate_to_file(tmp_path / f"w{workers}.h5", target, pauli4(), 3 * 4096 + 500, seed=7, workers=workers,
                                train_log_prob=False, chunk_rows=3000).path
        runs[workers] = read_dataset(path)
    ref = simulate(target, pauli4(), 3 * 4096 + 500, seed=7, train_log_prob=False)
    for ds in runs.values():
        np.testing.assert_array_equal(ds.outcomes, ref.outcomes)
        np.testing.assert_array_equal(ds.log_prob, ref.log_prob)  # NaN (train split) in the same places
    assert np.isnan(ref.log_prob[: ref.split[0]]).all() and np.isfinite(ref.log_prob[ref.split[0]:]).all()
    exact = log_prob(target.state, pauli4(), ref.outcomes[ref.split[0]:])
    np.testing.assert_allclose(ref.log_prob[ref.split[0]:], exact,
                               rtol=0, atol=1e-12)


def test_dense_sampling_blocks_are_thread_independent():
    psi = DenseState(random_mps(6, 3, seed=2).to_dense())
    a = sample(psi, pauli6(), 3 * 4096 + 7, seed=4, workers=1)
    np.testing.assert_array_equal(a, sample(psi, pauli6(), 3 * 4096 + 7, seed=4, workers=2))
    np.testing.assert_array_equal(a[:100], sample(psi, pauli6(), 100, seed=4))
