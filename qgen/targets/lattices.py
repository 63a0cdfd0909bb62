"""Lattice spin models as :class:`~qgen.targets.hamiltonians.Hamiltonian` objects: one
builder per model.

* :func:`tfim`, :func:`tfim_2d`: H = −J Σ_⟨ij⟩ σz_i σz_j − h Σ_i σx_i on a chain or an
  lx × ly square lattice;
* :func:`xxz`: H = J Σ_i (σx_i σx_{i+1} + σy_i σy_{i+1} + Δ σz_i σz_{i+1});
  :func:`heisenberg` is Δ = 1;
* :func:`heisenberg_2d`: H = J Σ_⟨ij⟩ σ_i · σ_j on an lx × ly square lattice, qubits
  numbered along a snake (:func:`snake_sites`) so that an MPS follows the lattice.

``boundary`` is ``"open"`` or ``"periodic"``.  Pauli matrices throughout, not spin-½
operators: with S = σ/2, J Σ σ_i · σ_j = 4 J Σ S_i · S_j, so energies in the S convention of
the literature are E_S = E_σ / 4.

Example
-------
>>> H = tfim(3, J=1.0, h=0.5)
>>> H.n_qubits, len(H.terms)
(3, 5)
"""

from __future__ import annotations

import numpy as np

from qgen.resources import check_memory, estimate_hamiltonian
from qgen.targets.hamiltonians import Hamiltonian, check_coefficient

__all__ = ["heisenberg", "heisenberg_2d", "snake_sites", "tfim", "tfim_2d", "xxz"]


# -- lattices and model constructors --------------------------------------------------
def _check_boundary(boundary: str) -> bool:
    if boundary not in ("open", "periodic"):
        raise ValueError(f"boundary must be 'open' or 'periodic', got {boundary!r}")
    return boundary == "periodic"


def _lattice_bonds(shape: tuple[int, ...], boundary: str) -> list[tuple[int, int]]:
    """Nearest-neighbour bonds of a hypercubic lattice, sites numbered in C order
    (for lx × ly: i = x*ly + y).  Periodic wrap bonds are added only along directions of
    length > 2, so no bond is ever doubled (a periodic length-2 direction has one bond)."""
    periodic = _check_boundary(boundary)
    if any(isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 1 for L in shape):
        raise ValueError(f"lattice lengths must be integers ≥ 1, got {shape}")
    n = int(np.prod([int(L) for L in shape], dtype=object))
    check_memory(estimate_hamiltonian(n * (1 + 3 * len(shape))), f"a Hamiltonian on {n:,} sites")
    index = np.arange(int(np.prod(shape))).reshape(shape)
    bonds = []
    for axis, length in enumerate(shape):
        shifted = np.roll(index, -1, axis=axis)
        stop = length if periodic and length > 2 else length - 1
        a = np.take(index, range(stop), axis=axis).ravel()
        b = np.take(shifted, range(stop), axis=axis).ravel()
        bonds += list(zip(a.tolist(), b.tolist()))
    return bonds


def _ising(shape: tuple[int, ...], J: float, h: float, boundary: str, name: str, params: dict):
    J, h = check_coefficient(J, "J"), check_coefficient(h, "h")
    bonds = _lattice_bonds(shape, boundary)
    n = int(np.prod(shape))
    if n < 2:
        raise ValueError(f"the Ising model needs at least 2 sites, got {n}")
    terms = [(-J, "ZZ", b) for b in bonds]
    terms += [(-h, "X", (i,)) for i in range(n)]
    return Hamiltonian(n, tuple(terms), name, params)


def tfim(n: int, J: float = 1.0, h: float = 1.0, boundary: str = "open") -> Hamiltonian:
    """Transverse-field Ising chain H = −J Σ_i σz_i σz_{i+1} − h Σ_i σx_i (n ≥ 2).

    ``boundary="periodic"`` adds the bond (n−1, 0), except for n = 2 where it would
    duplicate bond (0, 1) and is left out (so the n = 2 chain is the same either way).

    >>> len(tfim(4)), len(tfim(4, boundary="periodic"))
    (7, 8)
    """
    params = {"n": n, "J": J, "h": h, "boundary": boundary}
    return _ising((n,), J, h, boundary, "tfim", params)


def tfim_2d(
    lx: int, ly: int, J: float = 1.0, h: float = 1.0, boundary: str = "open"
) -> Hamiltonian:
    """Transverse-field Ising model on an lx × ly square lattice, site i = x*ly + y;
    H = −J Σ_⟨ij⟩ σz_i σz_j − h Σ_i σx_i.  Periodic wraps are added along directions of
    length > 2 only (never doubling a bond).

    >>> len(tfim_2d(2, 3)), len(tfim_2d(3, 3, boundary="periodic"))
    (13, 27)
    """
    params = {"lx": lx, "ly": ly, "J": J, "h": h, "boundary": boundary}
    return _ising((lx, ly), J, h, boundary, "tfim_2d", params)


def xxz(n: int, J: float = 1.0, delta: float = 1.0, boundary: str = "open") -> Hamiltonian:
    """XXZ chain H = J Σ_i (σx_i σx_{i+1} + σy_i σy_{i+1} + Δ σz_i σz_{i+1}) (Pauli
    matrices, not spin-½; periodic as in :func:`tfim`).

    >>> xxz(2, J=1.0, delta=0.5).terms
    ((1.0, 'XX', (0, 1)), (1.0, 'YY', (0, 1)), (0.5, 'ZZ', (0, 1)))
    """
    return _xxz(
        (n,), J, delta, boundary, "xxz", {"n": n, "J": J, "delta": delta, "boundary": boundary}
    )


def heisenberg(n: int, J: float = 1.0, boundary: str = "open") -> Hamiltonian:
    """Heisenberg chain H = J Σ_i σ_i · σ_{i+1} (:func:`xxz` with Δ = 1)."""
    return _xxz((n,), J, 1.0, boundary, "heisenberg", {"n": n, "J": J, "boundary": boundary})


def snake_sites(lx: int, ly: int) -> np.ndarray:
    """The qubit of each lattice site (x, y) of an lx × ly lattice along the snake
    (boustrophedon) path that runs up column x = 0, down column 1, up column 2, …:
    ``snake_sites(lx, ly)[x, y]`` = x·ly + (y if x is even else ly − 1 − y).

    Consecutive qubits are lattice neighbours, so an MPS over the qubits is a path through
    the lattice; a bond (x, y)–(x+1, y) joins qubits up to 2·ly − 1 apart, and every cut
    of the path is crossed by ly such bonds (plus one along the column).  Put the shorter
    side along y for the smaller MPS.

    >>> snake_sites(3, 2)
    array([[0, 1],
           [3, 2],
           [4, 5]])
    """
    if any(isinstance(L, bool) or not isinstance(L, (int, np.integer)) or L < 1 for L in (lx, ly)):
        raise ValueError(f"lattice lengths must be integers ≥ 1, got {(lx, ly)}")
    sites = np.arange(lx * ly).reshape(lx, ly)
    sites[1::2] = sites[1::2, ::-1]
    return sites


def heisenberg_2d(lx: int, ly: int, J: float = 1.0, boundary: str = "open") -> Hamiltonian:
    """Heisenberg model H = J Σ_⟨ij⟩ (σx_i σx_j + σy_i σy_j + σz_i σz_j) on an lx × ly square
    lattice (J > 0: the antiferromagnet), site (x, y) on qubit ``snake_sites(lx, ly)[x, y]``.

    In spin-½ units H = 4J Σ S_i · S_j: the ground-state energy per site of the open 8 × 8
    antiferromagnet is E_S/64 = −0.619033 (loop QMC: Lubasch, Cirac & Bañuls, Phys. Rev. B
    90, 064425 (2014), App. C, Table III), i.e. E_σ ≈ −158.472.  Periodic wraps as in
    :func:`tfim_2d` (along directions of length > 2).

    >>> H = heisenberg_2d(2, 2)
    >>> len(H), round(float(np.linalg.eigvalsh(H.to_sparse().toarray())[0]), 10)  # 4 bonds; E_S = −2
    (12, -8.0)
    """
    params = {"lx": lx, "ly": ly, "J": J, "boundary": boundary}
    return _xxz((lx, ly), J, 1.0, boundary, "heisenberg_2d", params, snake_sites(lx, ly).ravel())


def _xxz(shape: tuple[int, ...], J: float, delta: float, boundary: str, name: str, params: dict,
         relabel: np.ndarray | None = None) -> Hamiltonian:
    """J Σ_⟨ij⟩ (XX + YY + Δ ZZ) on the bonds of a hypercubic lattice; ``relabel[i]`` is the
    qubit of site i in C order (default: the site itself)."""
    J, delta = check_coefficient(J, "J"), check_coefficient(delta, "delta")
    bonds = _lattice_bonds(shape, boundary)
    n = int(np.prod(shape))
    if n < 2:
        raise ValueError(f"the {name} model needs {'n' if len(shape) == 1 else 'lx·ly'} ≥ 2, got {n}")
    if relabel is not None:
        bonds = [(int(relabel[a]), int(relabel[b])) for a, b in bonds]
    terms = [
        (c, a, b)
        for b in bonds
        for c, a in ((J, "XX"), (J, "YY"), (J * delta, "ZZ"))
    ]
    return Hamiltonian(n, tuple(terms), name, params)
