"""Hamiltonian construction and conversions, checked against explicit Kronecker products."""

import json
from functools import reduce

import numpy as np
import pytest

from qgen.targets import Hamiltonian, heisenberg, tfim, tfim_2d, xxz

_P = {
    "I": np.eye(2),
    "X": np.array([[0, 1], [1, 0]], dtype=complex),
    "Y": np.array([[0, -1j], [1j, 0]]),
    "Z": np.diag([1.0, -1.0]).astype(complex),
}


def kron_term(n, letters, sites):
    """⊗_k over qubits 0..n-1 (qubit 0 leftmost) of the term's Pauli or the identity."""
    factors = [_P["I"]] * n
    for a, s in zip(letters, sites):
        factors[s] = _P[a]
    return reduce(np.kron, factors)


def kron_ham(n, terms):
    return sum(c * kron_term(n, a, q) for c, a, q in terms)


def random_terms(n, n_terms, rng):
    """Random Pauli strings with 1–3 bodies on arbitrary (non-adjacent, unsorted) sites."""
    terms = []
    for _ in range(n_terms):
        k = rng.integers(1, 4)
        sites = tuple(int(s) for s in rng.choice(n, size=k, replace=False))
        letters = "".join(rng.choice(list("XYZ"), size=k))
        terms.append((float(rng.normal()), letters, sites))
    return terms


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_conversions_agree_with_kronecker(seed):
    rng = np.random.default_rng(seed)
    n = 5
    terms = random_terms(n, 12, rng) + [(0.7, "", ()), (0.3, "YXY", (4, 0, 2)), (-0.4, "Y", (3,))]
    H = Hamiltonian.from_terms(terms, n_qubits=n)
    ref = kron_ham(n, terms)
    assert np.allclose(ref, ref.conj().T)
    assert not H.is_real and H.to_sparse().dtype == np.complex128
    np.testing.assert_allclose(H.to_sparse().toarray(), ref, atol=1e-13)
    np.testing.assert_allclose(H.to_qobj().full(), ref, atol=1e-13)
    assert H.to_qobj().dims == [[2] * n, [2] * n]
    np.testing.assert_allclose(H.to_mpo().to_dense(), ref, atol=1e-13)


def test_real_operator_with_y_pairs():
    terms = [
        (0.5, "YY", (0, 3)),
        (0.2, "XYY", (1, 2, 3)),
        (-0.3, "YYYY", (0, 1, 2, 3)),
        (1.0, "Z", (2,)),
    ]
    H = Hamiltonian.from_terms(terms)
    ref = kron_ham(4, terms)
    assert np.abs(ref.imag).max() == 0
    assert H.is_real
    sparse = H.to_sparse()
    assert sparse.dtype == np.float64
    np.testing.assert_allclose(sparse.toarray(), ref.real, atol=1e-14)
    mpo = H.to_mpo()
    np.testing.assert_allclose(mpo.to_dense(), ref, atol=1e-14)
    assert all(np.isrealobj(t.data) for t in mpo)


def test_mpo_apply_is_h_times_psi():
    """quimb's apply must act as H|ψ⟩, not Hᵀ|ψ⟩ (differs for complex H)."""
    import quimb.tensor as qtn

    H = Hamiltonian.from_terms([(1.0, "XY", (0, 2)), (0.5, "Y", (1,)), (0.3, "ZZ", (1, 2))])
    psi = qtn.MPS_rand_state(3, 2, dtype=complex)
    v = psi.to_dense().ravel()
    np.testing.assert_allclose(
        H.to_mpo().apply(psi).to_dense().ravel(), kron_ham(3, H.terms) @ v, atol=1e-13
    )


def test_canonical_form():
    H = Hamiltonian.from_terms(
        [
            (1.0, "ZX", (3, 1)),
            (2.0, "XZ", (1, 3)),
            (0.5, "IZ", (0, 2)),
            (0.25, "Y", (0,)),
            (-0.25, "Y", (0,)),
        ],
        n_qubits=5,
    )
    assert H.terms == ((0.5, "Z", (2,)), (3.0, "XZ", (1, 3)))
    assert len(H) == 2
    G = Hamiltonian.from_terms([(3.0, "XZ", (1, 3)), (0.5, "Z", (2,))], n_qubits=5)
    assert H == G
    assert Hamiltonian.from_terms([(1.0, "ZZ", (0, 3))]).n_qubits == 4


def test_arithmetic():
    a, b = tfim(4, h=0.3), xxz(4, delta=0.5)
    np.testing.assert_allclose(
        (2.0 * a - b + a * 0.5).to_sparse().toarray(),
        2.5 * a.to_sparse().toarray() - b.to_sparse().toarray(),
        atol=1e-14,
    )
    assert sum([a, b]) == a + b
    with pytest.raises(ValueError, match="qubits"):
        a + tfim(5)
    assert "tfim" in repr(a) and "n_qubits=4" in repr(a)


def test_from_qobj_round_trip():
    rng = np.random.default_rng(5)
    H = Hamiltonian.from_terms(random_terms(4, 10, rng) + [(1.5, "", ())], n_qubits=4)
    G = Hamiltonian.from_qobj(H.to_qobj())
    assert [t[1:] for t in G.terms] == [t[1:] for t in H.terms]
    np.testing.assert_allclose([t[0] for t in G.terms], [t[0] for t in H.terms], atol=1e-14)


def test_from_qobj_rejects():
    import qutip

    with pytest.raises(ValueError, match="Hermitian"):
        Hamiltonian.from_qobj(qutip.tensor(qutip.sigmap(), qutip.qeye(2)))
    with pytest.raises(ValueError, match="dims"):
        Hamiltonian.from_qobj(qutip.num(3))
    with pytest.raises(ValueError, match="at most"):
        Hamiltonian.from_qobj(qutip.tensor([qutip.qeye(2)] * 11))


def test_dict_round_trip_through_json():
    rng = np.random.default_rng(7)
    for H in (
        tfim(6, J=0.7, h=1 / 3, boundary="periodic"),
        Hamiltonian.from_terms(random_terms(5, 8, rng)),
    ):
        G = Hamiltonian.from_dict(json.loads(json.dumps(H.to_dict())))
        assert G == H and G.terms == H.terms and G.params == H.params and G.name == H.name


def test_pauli_indices():
    H = Hamiltonian.from_terms([(0.5, "XZ", (0, 2)), (-1.0, "Y", (1,)), (2.0, "", ())], n_qubits=3)
    coefs, ops = H.pauli_indices()
    assert coefs.dtype == np.float64 and ops.dtype == np.int8
    rebuilt = sum(
        c * reduce(np.kron, [list(_P.values())[o] for o in row]) for c, row in zip(coefs, ops)
    )
    np.testing.assert_allclose(rebuilt, kron_ham(3, H.terms), atol=1e-14)
    assert {tuple(r) for r in ops} == {(1, 0, 3), (0, 2, 0), (0, 0, 0)}


def zz_x_reference(n, bonds, J, h):
    return kron_ham(n, [(-J, "ZZ", b) for b in bonds] + [(-h, "X", (i,)) for i in range(n)])


@pytest.mark.parametrize("boundary", ["open", "periodic"])
def test_tfim_chain(boundary):
    n, J, h = 5, -0.8, 1.3
    bonds = [(i, i + 1) for i in range(n - 1)] + ([(n - 1, 0)] if boundary == "periodic" else [])
    H = tfim(n, J=J, h=h, boundary=boundary)
    np.testing.assert_allclose(H.to_sparse().toarray(), zz_x_reference(n, bonds, J, h), atol=1e-14)
    assert H.params == {"n": n, "J": J, "h": h, "boundary": boundary} and H.name == "tfim"


def test_tfim_two_sites_periodic_has_single_bond():
    assert tfim(2, boundary="periodic").terms == tfim(2).terms


def test_tfim_2d_energy_matches_kronecker():
    lx, ly, J, h = 2, 3, 1.0, 0.7
    def site(x, y):
        return x * ly + y
    bonds = [(site(x, y), site(x + 1, y)) for x in range(lx - 1) for y in range(ly)]
    bonds += [(site(x, y), site(x, y + 1)) for x in range(lx) for y in range(ly - 1)]
    ref = zz_x_reference(lx * ly, bonds, J, h)
    H = tfim_2d(lx, ly, J=J, h=h)
    assert len(H) == len(bonds) + lx * ly
    np.testing.assert_allclose(H.to_sparse().toarray(), ref, atol=1e-14)
    assert np.isclose(
        np.linalg.eigvalsh(H.to_sparse().toarray())[0], np.linalg.eigvalsh(ref)[0], atol=1e-12
    )
    # periodic 3x3: each site has 4 distinct neighbours -> 18 bonds
    assert len(tfim_2d(3, 3, boundary="periodic")) == 18 + 9


def test_xxz_and_heisenberg():
    n, J, d = 4, 0.9, -0.4
    bonds = [(i, i + 1) for i in range(n - 1)] + [(n - 1, 0)]
    ref = kron_ham(n, [(c, a, b) for b in bonds for c, a in ((J, "XX"), (J, "YY"), (J * d, "ZZ"))])
    H = xxz(n, J=J, delta=d, boundary="periodic")
    assert H.is_real
    np.testing.assert_allclose(H.to_sparse().toarray(), ref.real, atol=1e-14)
    np.testing.assert_allclose(H.to_mpo().to_dense(), ref, atol=1e-14)
    assert heisenberg(n, J=J).terms == xxz(n, J=J, delta=1.0).terms


@pytest.mark.parametrize(
    "terms, n, msg",
    [
        ([(1.0, "ZA", (0, 1))], None, "letters"),
        ([(1.0, "ZZ", (0, 5))], 3, "out of range"),
        ([(1.0, "ZZ", (0,))], None, "2 Pauli letters but 1 sites"),
        ([(1.0, "ZX", (1, 1))], None, "repeated site"),
        ([(1.0 + 0.5j, "Z", (0,))], None, "not real"),
        ([(float("nan"), "Z", (0,))], None, "not finite"),
        ([("1", "Z", (0,))], None, "not a real number"),
        ([(1.0, "Z")], None, "triple"),
        ([(1.0, "", ())], None, "n_qubits"),
    ],
)
def test_bad_terms_raise(terms, n, msg):
    with pytest.raises(ValueError, match=msg):
        Hamiltonian.from_terms(terms, n_qubits=n)


def test_bad_model_arguments_raise():
    with pytest.raises(ValueError, match="boundary"):
        tfim(4, boundary="twisted")
    with pytest.raises(ValueError, match="at least 2"):
        tfim(1)
    with pytest.raises(ValueError, match="n ≥ 2"):
        xxz(1)
    with pytest.raises(ValueError, match="n_qubits"):
        Hamiltonian(0, ())
