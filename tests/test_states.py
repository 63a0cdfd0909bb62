"""MPS/dense state containers, conversions and the depolarizing convention."""

import numpy as np
import pytest

from qgen.targets import MPS, DenseState, depolarize, depolarize_ops, ghz, product_state, random_mps

X = np.array([[0, 1], [1, 0]], complex)
Y = np.array([[0, -1j], [1j, 0]], complex)
Z = np.diag([1.0 + 0j, -1.0])


def test_from_arrays_accepts_trimmed_ends_and_matches_explicit_sum():
    rng = np.random.default_rng(0)
    a0, a1, a2 = rng.normal(size=(2, 3)), rng.normal(size=(3, 2, 2)), rng.normal(size=(2, 2))
    mps = MPS.from_arrays([a0, a1, a2])
    psi = np.einsum("ia,ajb,bk->ijk", a0, a1, a2).ravel()  # qubit 0 most significant
    np.testing.assert_allclose(mps.to_dense(), psi, atol=1e-13)
    assert mps.bond_dims == [3, 2]


def test_quimb_round_trip_and_canonical_form():
    mps = random_mps(7, 4, seed=3)
    back = MPS.from_quimb(mps.to_quimb())
    np.testing.assert_allclose(back.to_dense(), mps.to_dense(), atol=1e-13)
    np.testing.assert_allclose(mps.to_quimb().to_dense().ravel(), mps.to_dense(), atol=1e-13)
    scaled = MPS(tuple(2.0 * t for t in mps.tensors))
    rc = scaled.right_canonical()
    for t in rc.tensors[1:]:  # Σ_s A^s A^s† = 1
        m = t.reshape(t.shape[0], -1)
        np.testing.assert_allclose(m @ m.conj().T, np.eye(t.shape[0]), atol=1e-12)
    np.testing.assert_allclose(rc.to_dense(), mps.to_dense() / np.linalg.norm(mps.to_dense()), atol=1e-12)
    assert abs(scaled.norm() - 2.0**7 * np.linalg.norm(mps.to_dense())) < 1e-9


def test_from_dense_is_exact():
    rng = np.random.default_rng(1)
    psi = rng.normal(size=2**8) + 1j * rng.normal(size=2**8)
    np.testing.assert_allclose(MPS.from_dense(psi).to_dense(), psi, atol=1e-12)
    assert MPS.from_dense(ghz(8, dense=True).data).max_bond == 2


def test_depolarizing_matches_kraus_construction():
    """Λ_p(ρ) = (1−¾p)ρ + (p/4)(XρX + YρY + ZρZ) on each qubit."""
    p, psi = 0.3, random_mps(3, 2, seed=2).to_dense()
    rho = np.outer(psi, psi.conj())
    eye = np.eye(2)
    for q in range(3):
        ops = [[eye] * 3 for _ in range(3)]
        for k, pauli in enumerate((X, Y, Z)):
            ops[k][q] = pauli
        paulis = [np.kron(np.kron(o[0], o[1]), o[2]) for o in ops]
        rho = (1 - 0.75 * p) * rho + p / 4 * sum(P @ rho @ P for P in paulis)
    np.testing.assert_allclose(DenseState(psi, noise=p).density_matrix(), rho, atol=1e-13)
    np.testing.assert_allclose(depolarize_ops(X[None], p)[0], (1 - p) * X, atol=1e-15)


def test_noise_composition_and_validation():
    s = depolarize(depolarize(ghz(3), 0.1), 0.2)
    assert abs(s.noise - (1 - 0.9 * 0.8)) < 1e-15
    with pytest.raises(ValueError, match="\\[0, 1\\]"):
        depolarize(ghz(3), -0.1)


@pytest.mark.parametrize(
    "tensors, message",
    [
        ([np.ones((1, 3, 1))], "expected"),
        ([np.ones((1, 2, 2)), np.ones((3, 2, 1))], "mismatch"),
        ([np.ones((2, 2, 1))], "outer bond"),
        ([np.full((1, 2, 1), np.nan)], "NaN"),
    ],
)
def test_bad_mps_rejected(tensors, message):
    with pytest.raises(ValueError, match=message):
        MPS(tuple(tensors))


def test_bad_dense_rejected():
    with pytest.raises(ValueError, match="power of two"):
        DenseState(np.ones(3))
    with pytest.raises(ValueError, match="Hermitian"):
        DenseState(np.array([[1, 1], [0, 0]], complex))
    with pytest.raises(ValueError, match="unknown single-qubit"):
        product_state(["0", "up"])
