"""Qubit Hamiltonians as sums of Pauli strings with real coefficients.

A :class:`Hamiltonian` is H = Σ_t c_t P_t with P_t = σ^{a_1}_{s_1} ⋯ σ^{a_k}_{s_k} a tensor
product of Pauli matrices (letters 'X', 'Y', 'Z') on distinct sites.  Conventions are those
of :mod:`qgen.targets.states`: qubit 0 is the leftmost tensor factor (most significant bit of a
dense index) and |0⟩ is the +1 eigenvector of σz.

Canonical form of ``terms`` (enforced on construction, so equal operators given the same
way compare equal): each term is ``(coef, letters, sites)`` with sites ascending and
distinct, identity letters dropped, duplicates merged, zero coefficients dropped, terms
sorted by (body count, sites, letters).  A constant is the term ``(c, "", ())``.

Example
-------
>>> from qgen.targets import tfim
>>> H = tfim(3, J=1.0, h=0.5)
>>> H.terms[:2]
((-0.5, 'X', (0,)), (-0.5, 'X', (1,)))
>>> bool(abs(H.to_sparse().toarray() - H.to_mpo().to_dense()).max() < 1e-14)
True
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import product
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from qgen.resources import check_memory, estimate_sparse_hamiltonian

if TYPE_CHECKING:  # heavy imports, loaded where used
    import quimb.tensor as qtn
    import qutip

__all__ = ["PAULI", "Hamiltonian", "check_pauli_strings"]


PAULI = np.array(
    [[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]], dtype=complex
)
"""I, σx, σy, σz, indexed 0–3 (the order used for Pauli strings throughout qgen)."""

_LETTERS = "IXYZ"  # index = position in qgen.targets.hamiltonians.PAULI
_FROM_QOBJ_MAX_QUBITS = 10

Term = tuple[float, str, tuple[int, ...]]


def check_pauli_strings(ops: np.ndarray, n: int) -> np.ndarray:
    """Pauli strings ``ops`` as an int64 array (T, n) with entries 0..3 = I, X, Y, Z, or a
    one-line ValueError.

    >>> check_pauli_strings([[3, 3, 0]], 3).tolist()
    [[3, 3, 0]]
    """
    ops = np.asarray(ops)
    if ops.ndim != 2 or ops.shape[1] != n:
        raise ValueError(f"Pauli strings must have shape (T, {n}), got {ops.shape}")
    if ops.size and (ops.min() < 0 or ops.max() > 3):
        raise ValueError("Pauli string entries must lie in 0..3 (I, X, Y, Z)")
    return ops.astype(np.int64)


def check_coefficient(coef: object, where: str) -> float:
    if isinstance(coef, (bool, np.bool_)) or not isinstance(coef, numbers.Number):
        raise ValueError(f"{where}: coefficient {coef!r} is not a real number")
    if isinstance(coef, numbers.Complex) and not isinstance(coef, numbers.Real):
        if complex(coef).imag != 0:
            raise ValueError(f"{where}: coefficient {coef!r} is not real")
        coef = complex(coef).real
    coef = float(coef)
    if not np.isfinite(coef):
        raise ValueError(f"{where}: coefficient {coef!r} is not finite")
    return coef


def _canonical_term(term: object, n_qubits: int | None) -> Term:
    """Validate one ``(coef, letters, sites)`` term; sort sites and drop identities."""
    try:
        coef, letters, sites = term
    except (TypeError, ValueError):
        raise ValueError(f"term {term!r} is not a (coef, letters, sites) triple") from None
    where = f"term {term!r}"
    coef = check_coefficient(coef, where)
    if not isinstance(letters, str):
        raise ValueError(f"{where}: Pauli letters must be a string such as 'ZZ'")
    letters = letters.upper()
    if set(letters) - set(_LETTERS):
        raise ValueError(f"{where}: Pauli letters must be from 'IXYZ', got {letters!r}")
    if isinstance(sites, (int, np.integer)):
        sites = (sites,)
    sites = tuple(sites)
    if not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) for s in sites):
        raise ValueError(f"{where}: sites must be integers")
    sites = tuple(int(s) for s in sites)
    if len(letters) != len(sites):
        raise ValueError(f"{where}: {len(letters)} Pauli letters but {len(sites)} sites")
    if len(set(sites)) != len(sites):
        raise ValueError(f"{where}: repeated site in {sites}")
    if any(s < 0 or (n_qubits is not None and s >= n_qubits) for s in sites):
        raise ValueError(f"{where}: site out of range for {n_qubits} qubits")
    kept = sorted((s, a) for s, a in zip(sites, letters) if a != "I")
    return coef, "".join(a for _, a in kept), tuple(s for s, _ in kept)


def _canonical_terms(terms: Iterable, n_qubits: int) -> tuple[Term, ...]:
    merged: dict[tuple[str, tuple[int, ...]], float] = {}
    for term in terms:
        coef, letters, sites = _canonical_term(term, n_qubits)
        merged[letters, sites] = merged.get((letters, sites), 0.0) + coef
    keys = sorted(merged, key=lambda k: (len(k[1]), k[1], k[0]))
    return tuple((merged[k], k[0], k[1]) for k in keys if merged[k] != 0.0)


@dataclass(frozen=True)
class Hamiltonian:
    """H = Σ_t c_t P_t on ``n_qubits`` qubits (see the module docstring for the canonical
    form of ``terms``).  ``name`` and ``params`` are metadata only (e.g. ``"tfim"``,
    ``{"n": 50, "J": 1.0, "h": 1.0, "boundary": "open"}``); they survive
    :meth:`to_dict`/:meth:`from_dict` and are reset by arithmetic.

    Example
    -------
    >>> H = Hamiltonian.from_terms([(1.0, "ZZ", (1, 0)), (0.5, "X", (2,))])
    >>> H
    Hamiltonian(custom, n_qubits=3, 2 terms: 0.5*X2 + 1*Z0 Z1)
    """

    n_qubits: int
    terms: tuple[Term, ...]
    name: str = "custom"
    params: dict = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        n = self.n_qubits
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n_qubits must be a positive integer, got {n!r}")
        object.__setattr__(self, "n_qubits", int(n))
        object.__setattr__(self, "terms", _canonical_terms(self.terms, int(n)))
        object.__setattr__(self, "name", str(self.name))
        object.__setattr__(self, "params", dict(self.params))

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_terms(
        cls, terms: Iterable, n_qubits: int | None = None, name: str = "custom"
    ) -> Hamiltonian:
        """From ``[(coef, letters, sites), ...]``, e.g. ``[(-1.0, "ZZ", (0, 1)),
        (-0.5, "X", (3,))]``; ``n_qubits`` defaults to the largest site + 1."""
        terms = list(terms)
        if n_qubits is None:
            checked = [_canonical_term(t, None) for t in terms]
            n_qubits = 1 + max((max(t[2]) for t in checked if t[2]), default=-1)
            if n_qubits == 0:
                raise ValueError("give n_qubits: the terms act on no site")
        return cls(n_qubits, tuple(terms), name)

    @classmethod
    def from_qobj(cls, qobj: qutip.Qobj, atol: float = 1e-12) -> Hamiltonian:
        """Pauli decomposition c_P = Tr(P H)/2^N of a Hermitian QuTiP operator on
        N ≤ 10 qubits; coefficients with |c_P| ≤ atol are dropped."""
        dims = qobj.dims
        n = len(dims[0])
        if dims != [[2] * n, [2] * n]:
            raise ValueError(f"expected a qubit operator with dims [[2]*N, [2]*N], got {dims}")
        if n > _FROM_QOBJ_MAX_QUBITS:
            raise ValueError(f"from_qobj handles at most {_FROM_QOBJ_MAX_QUBITS} qubits, got {n}")
        mat = qobj.full()
        if np.abs(mat - mat.conj().T).max() > atol * max(1.0, np.abs(mat).max()):
            raise ValueError("operator is not Hermitian")
        # c[p_0..p_{N-1}] = Σ_{ij} H[i, j] Π_k P_{p_k}[j_k, i_k] / 2^N, one qubit at a time
        t = mat.reshape((2,) * (2 * n))
        for k in range(n):
            # axes now (i_k.., j_k.., p_0..p_{k-1}): contract i_k, j_k, append p_k
            t = np.tensordot(t, PAULI, axes=([0, n - k], [2, 1]))
        coefs = (t.reshape(-1) / 2**n).real
        ops = np.array(list(product(range(4), repeat=n)), dtype=np.int8)
        keep = np.flatnonzero(np.abs(coefs) > atol)
        terms = [_term_from_row(coefs[k], ops[k]) for k in keep]
        return cls(n, tuple(terms))

    # -- arithmetic -----------------------------------------------------------------
    def __add__(self, other: Hamiltonian) -> Hamiltonian:
        if not isinstance(other, Hamiltonian):
            return NotImplemented
        if other.n_qubits != self.n_qubits:
            raise ValueError(
                f"cannot add Hamiltonians on {self.n_qubits} and {other.n_qubits} qubits"
            )
        return Hamiltonian(self.n_qubits, self.terms + other.terms)

    def __radd__(self, other: object) -> Hamiltonian:
        if isinstance(other, numbers.Number) and other == 0:  # sum([H1, H2, ...])
            return self
        return NotImplemented

    def __mul__(self, scalar: object) -> Hamiltonian:
        if not isinstance(scalar, numbers.Number):
            return NotImplemented
        s = check_coefficient(scalar, "scalar factor")
        return Hamiltonian(self.n_qubits, tuple((s * c, a, q) for c, a, q in self.terms))

    __rmul__ = __mul__

    def __neg__(self) -> Hamiltonian:
        return -1.0 * self

    def __sub__(self, other: Hamiltonian) -> Hamiltonian:
        return self + (-other)

    def __len__(self) -> int:
        return len(self.terms)

    def __repr__(self) -> str:
        shown = [_term_str(t) for t in self.terms[:6]]
        more = f" + … ({len(self) - 6} more)" if len(self) > 6 else ""
        body = " + ".join(shown).replace("+ -", "- ") if shown else "0"
        return (
            f"Hamiltonian({self.name}, n_qubits={self.n_qubits}, {len(self)} terms: {body}{more})"
        )

    # -- properties -----------------------------------------------------------------
    @property
    def is_real(self) -> bool:
        """True when the matrix is real: every term has an even number of Y."""
        return all(a.count("Y") % 2 == 0 for _, a, _ in self.terms)

    def pauli_indices(self) -> tuple[np.ndarray, np.ndarray]:
        """``(coefs (T,) float64, ops (T, N) int8)`` with ops 0=I, 1=X, 2=Y, 3=Z (the order of
        :data:`qgen.targets.hamiltonians.PAULI`), so H = Σ_t coefs[t] ⊗_i PAULI[ops[t, i]]."""
        check_memory(len(self) * self.n_qubits, f"the Pauli table of {len(self):,} terms on {self.n_qubits:,} qubits")
        coefs = np.array([c for c, _, _ in self.terms], dtype=np.float64)
        ops = np.zeros((len(self), self.n_qubits), dtype=np.int8)
        for t, (_, letters, sites) in enumerate(self.terms):
            ops[t, list(sites)] = [_LETTERS.index(a) for a in letters]
        return coefs, ops

    # -- conversions ----------------------------------------------------------------
    def to_sparse(self) -> sp.csr_matrix:
        """Sparse CSR matrix (float64 when :attr:`is_real`, else complex128).

        A Pauli string maps |b⟩ to i^{#Y} (−1)^{popcount(b ∧ zy)} |b ⊕ xy⟩, with xy (zy) the
        bit mask of its X/Y (Z/Y) sites; strings with the same flip mask share one
        off-diagonal, so the matrix is built from one vector per distinct mask.
        """
        n = self.n_qubits
        check_memory(estimate_sparse_hamiltonian(self), f"the sparse matrix of a {n}-qubit Hamiltonian")
        dim = 2**n
        coefs, ops = self.pauli_indices()
        weights = 1 << np.arange(n - 1, -1, -1, dtype=np.int64)  # qubit 0 = MSB
        flip = ((ops == 1) | (ops == 2)).astype(np.int64) @ weights
        n_y = (ops == 2).sum(axis=1)
        if self.is_real:
            dtype, phases = np.float64, coefs * (-1.0) ** (n_y // 2)
        else:
            dtype, phases = np.complex128, coefs * (1j) ** n_y
        cols = np.arange(dim, dtype=np.int64)
        bits = ((cols[:, None] >> np.arange(n - 1, -1, -1)) & 1).astype(np.int8)  # (dim, n)
        rows_all, cols_all, vals_all = [], [], []
        for mask in np.unique(flip):
            sel = np.flatnonzero(flip == mask)
            zy = (ops[sel] >= 2).astype(np.int8)  # (k, n)
            signs = 1 - 2 * ((bits @ zy.T) & 1)  # (dim, k)
            rows_all.append(cols ^ mask)
            cols_all.append(cols)
            vals_all.append((signs @ phases[sel]).astype(dtype))
        if not rows_all:
            return sp.csr_matrix((dim, dim), dtype=dtype)
        mat = sp.coo_matrix(
            (np.concatenate(vals_all), (np.concatenate(rows_all), np.concatenate(cols_all))),
            shape=(dim, dim),
        ).tocsr()
        mat.eliminate_zeros()
        return mat

    def to_qobj(self) -> qutip.Qobj:
        """QuTiP ``Qobj`` (CSR data) with dims ``[[2]*N, [2]*N]``."""
        import qutip

        return qutip.Qobj(self.to_sparse(), dims=[[2] * self.n_qubits] * 2, isherm=True)

    def to_mpo(self) -> qtn.MatrixProductOperator:
        """Exact ``quimb.tensor.MatrixProductOperator`` by the finite-state-automaton
        construction.

        Every bond carries a channel "not started" (identities so far), "finished" (a
        whole term already placed) and one channel per term whose support spans the bond,
        so the bond dimension is 2 + (number of spanning terms).  A term enters on its
        first site (from "not started", carrying its coefficient), passes identities or
        its Pauli letters, and leaves into "finished" on its last site; a constant enters
        and leaves on site 0.  quimb's ``'lrud'`` layout: u = row (ket) index, d = column,
        so ``mpo.to_dense()`` equals :meth:`to_sparse` and ``mpo.apply(mps)`` is H|ψ⟩.
        """
        import quimb.tensor as qtn

        n = self.n_qubits
        if self.is_real:  # Y = i·Y' with Y' = [[0, -1], [1, 0]] real; an even number of Y
            # per term turns i^{#Y} into the real sign (−1)^{#Y/2} carried by the coefficient
            dtype, paulis = (
                np.float64,
                dict(zip(_LETTERS, (PAULI * np.array([1, 1, -1j, 1])[:, None, None]).real)),
            )
        else:
            dtype, paulis = np.complex128, dict(zip(_LETTERS, PAULI))
        spans = [
            (t, min(q, default=0), max(q, default=0)) for t, (_, _, q) in enumerate(self.terms)
        ]
        # channel index of each bond b (between sites b-1 and b): bond 0 has only "not
        # started", bond n only "finished"
        chans: list[dict] = [{"not": 0}]
        for b in range(1, n):
            inner = [t for t, lo, hi in spans if lo < b <= hi]
            chans.append({"not": 0, "fin": 1, **{t: 2 + k for k, t in enumerate(inner)}})
        chans.append({"fin": 0})
        arrays = []
        for j in range(n):
            left, right = chans[j], chans[j + 1]
            w = np.zeros((len(left), len(right), 2, 2), dtype=dtype)
            for key in ("not", "fin"):
                if key in left and key in right:
                    w[left[key], right[key]] = paulis["I"]
            for t, lo, hi in spans:
                if not lo <= j <= hi:
                    continue
                coef, letters, sites = self.terms[t]
                op = paulis[letters[sites.index(j)]] if j in sites else paulis["I"]
                src = left["not"] if j == lo else left[t]
                dst = right["fin"] if j == hi else right[t]
                if j == lo:
                    op = op * coef * (-1.0) ** (letters.count("Y") // 2 if self.is_real else 0)
                w[src, dst] += op
            arrays.append(w)
        if n == 1:
            return qtn.MatrixProductOperator([arrays[0][0, 0]], shape="ud")
        arrays[0], arrays[-1] = arrays[0][0], arrays[-1][:, 0]
        return qtn.MatrixProductOperator(arrays, shape="lrud")

    def to_dict(self) -> dict:
        """JSON-serialisable dict; :meth:`from_dict` inverts it exactly."""
        return {
            "n_qubits": self.n_qubits,
            "terms": [[c, a, list(q)] for c, a, q in self.terms],
            "name": self.name,
            "params": dict(self.params),
        }

    @classmethod
    def from_dict(cls, d: dict) -> Hamiltonian:
        """Inverse of :meth:`to_dict`; anything else (e.g. a damaged file's JSON) is a
        one-line ValueError."""
        if not isinstance(d, dict) or not {"n_qubits", "terms"} <= set(d):
            raise ValueError("a Hamiltonian must be a JSON object with 'n_qubits' and 'terms'")
        if not isinstance(d["terms"], (list, tuple)) or not isinstance(d.get("params", {}), dict):
            raise ValueError("a Hamiltonian's 'terms' must be a list of [coef, letters, sites] and 'params' an object")
        terms = []
        for t in d["terms"]:
            if not isinstance(t, (list, tuple)) or len(t) != 3 or not isinstance(t[2], (list, tuple)):
                raise ValueError(f"Hamiltonian term {t!r} is not [coef, letters, sites]"[:200])
            terms.append((t[0], t[1], tuple(t[2])))
        return cls(d["n_qubits"], tuple(terms), d.get("name", "custom"), d.get("params", {}))


def _term_from_row(coef: float, row: Sequence[int]) -> Term:
    sites = tuple(int(i) for i in np.flatnonzero(row))
    return float(coef), "".join(_LETTERS[row[i]] for i in sites), sites


def _term_str(term: Term) -> str:
    coef, letters, sites = term
    ops = " ".join(f"{a}{s}" for a, s in zip(letters, sites))
    return f"{coef:g}*{ops}" if ops else f"{coef:g}"
