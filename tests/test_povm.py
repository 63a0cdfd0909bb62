"""POVMs against their textbook definitions; dual-frame reconstruction of random states."""

import numpy as np
import pytest

from qgen.measurements import POVM, POVMError, get_povm, pauli4, pauli6, tetra, trine

KET = {"0": [1, 0], "1": [0, 1], "+": [1, 1], "-": [1, -1], "+i": [1, 1j], "-i": [1, -1j]}


def proj(label):
    v = np.array(KET[label], dtype=complex)
    v /= np.linalg.norm(v)
    return np.outer(v, v.conj())


def random_rho(rng, d=2):
    g = rng.normal(size=(d, d)) + 1j * rng.normal(size=(d, d))
    rho = g @ g.conj().T
    return rho / np.trace(rho)


def test_pauli4_matches_document():
    m = pauli4().elements
    np.testing.assert_allclose(m[0], proj("0") / 3, atol=1e-15)
    np.testing.assert_allclose(m[1], proj("+") / 3, atol=1e-15)
    np.testing.assert_allclose(m[2], proj("+i") / 3, atol=1e-15)
    np.testing.assert_allclose(m[3], np.eye(2) - (proj("0") + proj("+") + proj("+i")) / 3, atol=1e-15)


def test_pauli6_order_and_tetra_symmetry():
    m = pauli6().elements
    for k, lab in enumerate(["0", "1", "+", "-", "+i", "-i"]):
        np.testing.assert_allclose(m[k], proj(lab) / 3, atol=1e-15)
    t = tetra().overlap  # SIC: Tr(M_a M_b) = (1 + 3 δ_ab)/12 ... i.e. 1/4 on, 1/12 off the diagonal
    np.testing.assert_allclose(t, np.full((4, 4), 1 / 12) + np.eye(4) / 6, atol=1e-14)


@pytest.mark.parametrize("name", ["pauli4", "tetra", "pauli6"])
def test_duals_reconstruct_random_states(name):
    povm = get_povm(name)
    assert povm.is_ic
    rng = np.random.default_rng(1)
    for _ in range(5):
        rho = random_rho(rng)
        np.testing.assert_allclose(np.einsum("a,aij->ij", povm.probabilities(rho), povm.duals), rho, atol=1e-12)
    # two qubits: ρ = Σ_ab P(ab) D^a ⊗ D^b
    rho = random_rho(rng, 4)
    m, d = povm.elements, povm.duals
    p = np.einsum("aij,bkl,jlik->ab", m, m, rho.reshape(2, 2, 2, 2)).real
    rec = np.einsum("ab,aij,bkl->ikjl", p, d, d).reshape(4, 4)
    np.testing.assert_allclose(rec, rho, atol=1e-12)


def test_pauli_table_is_dual_estimator():
    povm = pauli4()
    rho = random_rho(np.random.default_rng(2))
    paulis = [np.eye(2), [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]]
    exact = [np.trace(np.array(s) @ rho).real for s in paulis]
    np.testing.assert_allclose(povm.probabilities(rho) @ povm.pauli_table, exact, atol=1e-12)


def test_trine_is_not_ic_for_complex_states():
    t = trine()
    assert not t.is_ic
    rho = 0.5 * (np.eye(2) + np.array([[0, -1j], [1j, 0]]))  # |+i⟩⟨+i|, invisible to a real POVM
    np.testing.assert_allclose(t.probabilities(rho), [1 / 3] * 3, atol=1e-12)


@pytest.mark.parametrize(
    "elements, message",
    [
        (np.array([[[1, 1], [0, 0]], [[0, -1], [0, 1]]]), "not Hermitian"),
        (np.array([[[1.5, 0], [0, 0]], [[-0.5, 0], [0, 1]]]), "not positive"),
        (np.array([[[0.5, 0], [0, 0]], [[0, 0], [0, 0.5]]]), "sum to the identity"),
        (np.ones((2, 3, 3)), "shape"),
        (np.full((2, 2, 2), np.nan), "NaN"),
    ],
)
def test_invalid_povms_rejected(elements, message):
    with pytest.raises(POVMError, match=message):
        POVM("bad", elements)


def test_custom_povm_and_unknown_name():
    z = POVM("z-basis", np.array([proj("0"), proj("1")]))
    assert z.n_outcomes == 2 and not z.is_ic
    with pytest.raises(POVMError, match="unknown POVM"):
        get_povm("pauli5")
    assert get_povm("SIC").name == "tetra"
