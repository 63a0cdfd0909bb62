"""Ground states against independent references: free fermions (open TFIM), dense
diagonalisation of operators built here with QuTiP tensor products, and plain numpy
transfer-matrix contractions of the returned MPS."""

from functools import reduce

import numpy as np
import pytest
import qutip
from reference import tfim_open_energy, tfim_open_gap, tfim_open_sx, tfim_open_zz

from qgen.targets import (
    MPS,
    DenseState,
    GroundState,
    Hamiltonian,
    SpectralGap,
    excited_state,
    ground_state,
    spectral_gap,
    tfim,
    xxz,
)

SX = np.array([[0.0, 1.0], [1.0, 0.0]])
SZ = np.diag([1.0, -1.0])


# -- independent helpers ------------------------------------------------------------------
def qutip_site_op(n, op, i):
    return qutip.tensor([op if k == i else qutip.qeye(2) for k in range(n)])


def qutip_tfim(n, J, h, periodic):
    bonds = [(i, i + 1) for i in range(n - 1)] + ([(n - 1, 0)] if periodic else [])
    zz = sum(
        qutip_site_op(n, qutip.sigmaz(), i) * qutip_site_op(n, qutip.sigmaz(), j) for i, j in bonds
    )
    return -J * zz - h * sum(qutip_site_op(n, qutip.sigmax(), i) for i in range(n))


def qutip_xxz(n, J, delta, periodic):
    bonds = [(i, i + 1) for i in range(n - 1)] + ([(n - 1, 0)] if periodic else [])
    s = [qutip.sigmax(), qutip.sigmay(), qutip.sigmaz()]
    return J * sum(
        c * qutip_site_op(n, p, i) * qutip_site_op(n, p, j)
        for i, j in bonds
        for c, p in zip((1.0, 1.0, delta), s)
    )


def qutip_random_pauli_sum(n, seed):
    """Random real coefficients on every 1-local Pauli, random 2-local letters on nearest and
    next-nearest neighbours, and three random 3-local strings on arbitrary sites (Y terms
    included, so the matrix is complex): (qgen terms, QuTiP operator built independently)."""
    rng = np.random.default_rng(seed)
    paulis = {"X": qutip.sigmax(), "Y": qutip.sigmay(), "Z": qutip.sigmaz()}
    terms = [(rng.normal(), a, (i,)) for i in range(n) for a in "XYZ"]
    terms += [(rng.normal(), "".join(rng.choice(list("XYZ"), 2)), (i, i + d))
              for d in (1, 2) for i in range(n - d)]
    terms += [(rng.normal(), "".join(rng.choice(list("XYZ"), 3)), tuple(sorted(rng.choice(n, 3, replace=False))))
              for _ in range(3)]
    ref = sum(c * reduce(lambda x, y: x * y, [qutip_site_op(n, paulis[a], s) for a, s in zip(letters, sites)])
              for c, letters, sites in terms)
    return Hamiltonian.from_terms(terms, n_qubits=n), ref


def dense_ground(qobj):
    vals, vecs = np.linalg.eigh(qobj.full())
    return vals, vecs[:, 0]


def mps_expect(tensors, ops):
    """⟨ψ|⊗_k ops[k]|ψ⟩ / ⟨ψ|ψ⟩ for MPS tensors (χl, 2, χr), by a left-to-right sweep."""
    env = norm = np.ones((1, 1))
    for k, a in enumerate(tensors):
        op = ops.get(k, np.eye(2))
        env = np.einsum("ab,asc,st,btd->cd", env, a.conj(), op, a, optimize=True)
        norm = np.einsum("ab,asc,bsd->cd", norm, a.conj(), a, optimize=True)
    return float(np.real(env[0, 0] / norm[0, 0]))


def tfim_mpo_tensors(n, J, h):
    """Textbook W-matrix MPO of −J Σ ZZ − h Σ X: W = [[I, 0, 0], [Z, 0, 0], [−hX, −JZ, I]]
    (lower-triangular, channels: done / one Z placed / not started), written out here."""
    w = np.zeros((3, 3, 2, 2))
    w[0, 0] = w[2, 2] = np.eye(2)
    w[1, 0] = SZ
    w[2, 0] = -h * SX
    w[2, 1] = -J * SZ
    return [w[2:3]] + [w] * (n - 2) + [w[:, :1]]


def mps_mpo_moments(tensors, mpo):
    """(⟨H⟩, ⟨H²⟩) of a normalised MPS by a sweep over ⟨ψ| W W |ψ⟩ with (χ, D, D, χ) envs."""
    e1 = np.ones((1, 1, 1))
    e2 = np.ones((1, 1, 1, 1))
    for a, w in zip(tensors, mpo):
        x = np.einsum("amb,asc->mbsc", e1, a.conj())
        x = np.einsum("mbsc,mnst->bcnt", x, w)
        e1 = np.einsum("bcnt,btd->cnd", x, a)
        y = np.einsum("amlb,asc->mlbsc", e2, a.conj())
        y = np.einsum("mlbsc,mnsu->lbcnu", y, w)
        y = np.einsum("lbcnu,lkut->bcnkt", y, w)
        e2 = np.einsum("bcnkt,btd->cnkd", y, a)
    return float(np.real(e1.ravel()[0])), float(np.real(e2.ravel()[0]))


# -- the free-fermion reference itself -------------------------------------------------------
@pytest.mark.parametrize("J, h", [(1.0, 0.5), (0.8, 1.0), (1.0, 2.0), (1.3, 0.9)])
def test_free_fermion_reference_matches_exact_diagonalisation(J, h):
    n = 8
    vals, psi = dense_ground(qutip_tfim(n, J, h, periodic=False))
    assert vals[1] - vals[0] > 1e-6  # non-degenerate at N = 8
    assert abs(vals[0] - tfim_open_energy(n, J, h)) < 1e-12
    assert abs(vals[1] - vals[0] - tfim_open_gap(n, J, h)) < 1e-12
    sx = [np.vdot(psi, qutip_site_op(n, qutip.sigmax(), i).full() @ psi).real for i in range(n)]
    np.testing.assert_allclose(tfim_open_sx(n, J, h), sx, atol=1e-12)
    for i in range(n):
        for j in range(i + 1, n):
            op = (qutip_site_op(n, qutip.sigmaz(), i) * qutip_site_op(n, qutip.sigmaz(), j)).full()
            assert abs(tfim_open_zz(n, i, j, J, h) - np.vdot(psi, op @ psi).real) < 1e-12


def test_free_fermion_reference_calibration_values():
    for h, e0 in [
        (0.5, -52.306549450973911),
        (1.0, -63.301189155420182),
        (2.0, -106.222871912671877),
    ]:
        assert abs(tfim_open_energy(50, 1.0, h) - e0) < 1e-12


# -- DMRG vs free fermions ----------------------------------------------------------------------
_CACHE: dict = {}


def dmrg_tfim(n, h):
    if (n, h) not in _CACHE:
        _CACHE[n, h] = ground_state(tfim(n, J=1.0, h=h), method="dmrg", seed=1)
    return _CACHE[n, h]


def check_against_free_fermions(n, h):
    gs = dmrg_tfim(n, h)
    assert gs.method == "dmrg" and gs.converged and isinstance(gs.state, MPS)
    e0 = tfim_open_energy(n, 1.0, h)
    assert abs(gs.energy - e0) <= 1e-8 * abs(e0)
    assert gs.variance < 1e-6
    # h = 0.5 is nearly degenerate (edge Majorana zero mode): the parity-even
    # quantities below are insensitive to it away from the edges, so stay in the bulk there
    lo, hi = (n // 4, 3 * n // 4) if h < 1 else (0, n - 1)
    sites = sorted({lo, lo + 1, n // 2, hi - 1, hi})
    sx_ref = tfim_open_sx(n, 1.0, h)
    for i in sites:
        assert abs(mps_expect(gs.state.tensors, {i: SX}) - sx_ref[i]) < 1e-6, i
    # short-range ZZ to 1e-6; at the critical point long-range correlators are limited by
    # the SVD cutoff 1e-11 (measured N = 50: |Δ⟨Z0 Z49⟩| ≈ 5e-6, |Δ⟨Z5 Z45⟩| ≈ 3e-6)
    pairs = [
        (lo, lo + 1),
        (n // 2, n // 2 + 1),
        (n // 2 - 3, n // 2 + 4),
        (lo + 2, n // 2),
        (lo, hi),
    ]
    for i, j in pairs:
        zz = mps_expect(gs.state.tensors, {i: SZ, j: SZ})
        tol = 1e-6 if j - i <= 10 else 2e-5
        assert abs(zz - tfim_open_zz(n, i, j, 1.0, h)) < tol, (i, j)


@pytest.mark.parametrize("h", [0.5, 1.0, 2.0])
def test_dmrg_tfim_50_vs_free_fermions(h):
    check_against_free_fermions(50, h)


@pytest.mark.parametrize("h", [0.5, pytest.param(1.0, marks=pytest.mark.slow), 2.0])  # h=1: ~9 s
def test_dmrg_tfim_100_vs_free_fermions(h):
    check_against_free_fermions(100, h)


def test_dmrg_variance_matches_independent_contraction():
    """The reported variance (the user's convergence certificate) against ⟨H²⟩ − ⟨H⟩² from a
    textbook MPO contracted by hand, N = 50 critical chain."""
    gs = dmrg_tfim(50, 1.0)
    e1, e2 = mps_mpo_moments(gs.state.tensors, tfim_mpo_tensors(50, 1.0, 1.0))
    assert abs(gs.energy - e1) < 1e-10
    assert abs(gs.variance - (e2 - e1**2)) < 1e-10
    assert 0 < gs.truncation_error < 1e-10  # cutoff 1e-11 ("sum2") bounds the discarded weight


# -- DMRG vs exact diagonalisation, N ≤ 12 --------------------------------------------------------
CASES = [
    ("tfim open", tfim(10, J=1.0, h=1.0), qutip_tfim(10, 1.0, 1.0, False)),
    ("tfim periodic", tfim(10, J=0.7, h=1.2, boundary="periodic"), qutip_tfim(10, 0.7, 1.2, True)),
    ("xxz open", xxz(10, J=1.0, delta=0.5), qutip_xxz(10, 1.0, 0.5, False)),
    ("xxz periodic", xxz(10, J=1.0, delta=1.5, boundary="periodic"), qutip_xxz(10, 1.0, 1.5, True)),
    # complex (Y terms) and non-local: quimb's DMRG minimises ⟨ψ|Mᵀ|ψ⟩, so a complex H is where
    # a transposed MPO convention shows (it did: E = -7.80 instead of -23.09 before the fix)
    ("random complex pauli sum", *qutip_random_pauli_sum(10, seed=4)),
]


@pytest.mark.parametrize("label, H, ref", CASES, ids=[c[0] for c in CASES])
def test_exact_and_dmrg_vs_qutip(label, H, ref):
    vals, psi_ref = dense_ground(ref)
    assert vals[1] - vals[0] > 1e-3  # non-degenerate, so the overlap is meaningful
    ex = ground_state(H, method="exact")
    assert isinstance(ex.state, DenseState) and ex.bond_dim is None and ex.truncation_error == 0.0
    assert abs(ex.energy - vals[0]) < 1e-10
    assert ex.variance < 1e-12
    assert abs(abs(np.vdot(psi_ref, ex.state.data)) - 1) < 1e-10
    dm = ground_state(H, method="dmrg")
    assert abs(dm.energy - vals[0]) < 1e-8
    assert abs(abs(np.vdot(psi_ref, dm.state.to_dense())) - 1) < 1e-8
    assert dm.bond_dim == dm.state.max_bond


def test_truncated_dmrg_has_positive_variance_matching_dense():
    """Bond dimension 2 on a complex Hamiltonian (a Y field): the MPS variance must equal
    ‖Hψ‖² − ⟨H⟩² of the same state computed densely, and be clearly positive."""
    n = 8
    ref = qutip_tfim(n, 1.0, 1.0, False) + 0.4 * sum(
        qutip_site_op(n, qutip.sigmay(), i) for i in range(n)
    )
    H = tfim(n) + Hamiltonian.from_terms([(0.4, "Y", (i,)) for i in range(n)], n_qubits=n)
    gs = ground_state(H, method="dmrg", bond_dims=(2,), max_sweeps=6)
    assert gs.bond_dim == 2 and gs.truncation_error > 1e-6
    psi = gs.state.to_dense()
    h_psi = ref.full() @ psi
    energy = np.vdot(psi, h_psi).real
    assert abs(gs.energy - energy) < 1e-10
    assert abs(gs.variance - (np.vdot(h_psi, h_psi).real - energy**2)) < 1e-10
    assert gs.variance > 1e-4
    assert gs.energy > dense_ground(ref)[0][0] + 1e-6


def test_exact_ground_state_has_zero_variance():
    gs = ground_state(tfim(12, h=0.9, boundary="periodic"), method="exact")
    assert gs.variance < 1e-12 and gs.converged and gs.n_sweeps == 0
    assert abs(np.linalg.norm(gs.state.data) - 1) < 1e-12


def test_deterministic_given_seed():
    H = tfim(20, h=0.8)
    a, b = ground_state(H, method="dmrg", seed=3), ground_state(H, method="dmrg", seed=3)
    assert a.energy == b.energy and a.n_sweeps == b.n_sweeps
    assert all(np.array_equal(x, y) for x, y in zip(a.state.tensors, b.state.tensors))
    e, f = (
        ground_state(tfim(14), method="exact", seed=3),
        ground_state(tfim(14), method="exact", seed=3),
    )
    assert np.array_equal(e.state.data, f.state.data)


def test_auto_method_and_summary():
    small, large = ground_state(tfim(6)), ground_state(tfim(14), bond_dims=(8, 16))
    assert small.method == "exact" and large.method == "dmrg"
    line = large.summary()
    assert "\n" not in line and line.startswith("dmrg") and f"{large.energy:.6f}"[:8] in line


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="exact_max_qubits"):
        ground_state(tfim(17), method="exact")
    with pytest.raises(ValueError, match="exact_max_qubits"):
        ground_state(tfim(9), method="exact", exact_max_qubits=8)
    with pytest.raises(ValueError, match="method"):
        ground_state(tfim(4), method="lanczos")
    with pytest.raises(ValueError, match="Hamiltonian"):
        ground_state(np.eye(4))
    with pytest.raises(ValueError, match="bond_dims"):
        ground_state(tfim(14), method="dmrg", bond_dims=(0,))


def test_kron_free_reference_dims():
    """Guard for the helpers above: qutip operators have the qgen qubit order."""
    op = qutip_site_op(3, qutip.sigmaz(), 0).full()
    np.testing.assert_allclose(op, reduce(np.kron, [SZ, np.eye(2), np.eye(2)]))


# -- first excited state and gap ------------------------------------------------------------------
GAP_CASES = [
    ("tfim", tfim(10, J=1.0, h=1.0), qutip_tfim(10, 1.0, 1.0, False)),
    ("tfim periodic", tfim(10, J=0.7, h=1.2, boundary="periodic"), qutip_tfim(10, 0.7, 1.2, True)),
    ("xxz", xxz(10, J=1.0, delta=0.5), qutip_xxz(10, 1.0, 0.5, False)),
    ("random pauli sum", *qutip_random_pauli_sum(10, seed=4)),
]


@pytest.mark.parametrize("label, H, ref", GAP_CASES, ids=[c[0] for c in GAP_CASES])
def test_gap_exact_and_dmrg_vs_qutip(label, H, ref):
    vals = np.linalg.eigvalsh(ref.full())
    assert vals[1] - vals[0] > 1e-3
    ex = spectral_gap(H, method="exact")
    assert ex.method == "exact" and ex.resolved and ex.overlap < 1e-20
    assert abs(ex.e0 - vals[0]) < 1e-10 and abs(ex.e1 - vals[1]) < 1e-10
    assert ex.excited.variance < 1e-12
    dm = spectral_gap(H, method="dmrg")
    assert dm.method == "dmrg" and dm.resolved and dm.excited.converged
    assert abs(dm.e1 - vals[1]) < 1e-7, dm.summary()
    assert abs(dm.gap - (vals[1] - vals[0])) < 1e-7
    assert dm.overlap < 1e-10 and dm.excited.variance < 1e-6


@pytest.mark.parametrize("n", [9, 11])  # 9: dense eigh; 11: deflated ARPACK
def test_exact_gap_counts_a_degenerate_ground_level(n):
    """Odd open XXZ chains have a Kramers-like doublet S^z = ±1/2: E1 = E0 exactly. A
    2-eigenvalue Lanczos from one start vector can skip the second copy; the deflation
    (H + w|ψ0⟩⟨ψ0|) cannot."""
    H = xxz(n, J=1.0, delta=0.6)
    vals = np.linalg.eigvalsh(qutip_xxz(n, 1.0, 0.6, False).full())
    assert abs(vals[1] - vals[0]) < 1e-10 and vals[2] - vals[0] > 1e-2
    g = spectral_gap(H, method="exact")
    assert abs(g.gap) < 1e-10 and not g.resolved
    assert abs(g.e0 - vals[0]) < 1e-10


def test_penalty_weight_below_the_gap_gives_e0_plus_w():
    """The lowest eigenvalue of H + w|ψ0⟩⟨ψ0| is min(E1, E0 + w): with w below the gap the
    penalised problem returns ψ0 itself, the reason the default weight bounds the spectral
    width."""
    H = tfim(8, h=2.0)
    g = spectral_gap(H, method="exact")
    low = excited_state(H, g.ground, method="exact", weight=0.5)  # 0.5 < Δ = 2.19: returns ψ0
    assert abs(low.energy - g.e0) < 1e-10
    assert abs(abs(np.vdot(low.state.data, g.ground.state.data)) - 1) < 1e-10
    assert abs(g.gap - tfim_open_gap(8, 1.0, 2.0)) < 1e-10
    assert g.weight == 2 * (7 + 8 * 2.0)


_GAP50: dict = {}


def gap50(h):
    if h not in _GAP50:
        _GAP50[h] = spectral_gap(tfim(50, J=1.0, h=h), ground=dmrg_tfim(50, h), method="dmrg")
    return _GAP50[h]


@pytest.mark.parametrize("h", [1.0, pytest.param(2.0, marks=pytest.mark.slow)])  # ~2 s, ~9 s
def test_dmrg_gap_tfim_50_vs_free_fermions(h):
    g = gap50(h)
    ref = tfim_open_gap(50, 1.0, h)
    assert g.resolved and g.excited.converged and g.overlap < 1e-10, g.summary()
    assert abs(g.e0 - tfim_open_energy(50, 1.0, h)) < 1e-8
    assert abs(g.gap - ref) < 1e-7 * max(1.0, ref), (g.gap, ref)  # measured 8e-11 (h=1), 3e-9 (h=2)


def test_dmrg_gap_tfim_50_near_degenerate_is_flagged():
    """h = 0.5: the true gap ε_min ≈ 1.3e-15 is far below what DMRG resolves (√var ~ 1e-5): the
    result must be a gap compatible with 0 and flagged as not resolved."""
    g = gap50(0.5)
    assert tfim_open_gap(50, 1.0, 0.5) < 1e-14
    assert abs(g.gap) < 1e-8 and not g.resolved
    assert "NOT RESOLVED" in g.summary()


def test_gap_to_dict_is_json_and_arguments_checked():
    import json

    g = spectral_gap(tfim(6, h=1.0))
    d = json.loads(json.dumps(g.to_dict()))
    assert d["gap"] == g.gap and d["method"] == "exact" and d["resolved"] is True
    assert isinstance(g, SpectralGap) and isinstance(g.excited, GroundState)
    with pytest.raises(ValueError, match="weight"):
        excited_state(tfim(6), weight=-1.0)
    with pytest.raises(ValueError, match="GroundState of 6 qubits"):
        excited_state(tfim(6), ground=ground_state(tfim(5)))
    with pytest.raises(ValueError, match="exact_max_qubits"):
        spectral_gap(tfim(17), method="exact")


def test_quimb_still_has_what_the_dmrg_subclass_overrides_and_reads():
    """qgen's DMRG subclasses quimb's DMRG2 (discarded weights, projector penalties); a quimb
    release that renames or re-signs these members would break it, and this says which."""
    import inspect

    import quimb.tensor as qtn

    from qgen.targets import random_mps
    from qgen.targets.solvers import QUIMB_DMRG_HOOKS

    for name, params in QUIMB_DMRG_HOOKS.items():
        assert tuple(inspect.signature(getattr(qtn.DMRG2, name)).parameters) == params, name
    solver = qtn.DMRG2(tfim(4).to_mpo(), bond_dims=[2], p0=random_mps(4, 2, seed=0, real=True).to_quimb())
    for attr in ("_k", "_b", "ham", "energies", "opts"):
        assert hasattr(solver, attr), attr
    assert solver._b.site_ind_id == solver.ham.lower_ind_id  # penalty kets take the bra's indices
    assert callable(solver._k.right_canonize) and callable(solver._k.left_canonize)
    assert hasattr(qtn, "MovingEnvironment")
