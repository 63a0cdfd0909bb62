"""Exact sampling of POVM outcome strings and exact log P(a), for every qgen state.

P(a) = Tr[(M^{a_1} ⊗ … ⊗ M^{a_N}) ρ]   (Carrasquilla et al. 2019, eq. 1)

* :func:`sample` draws a ~ P(a).  For an MPS it sweeps left to right over the
  right-canonical form with each POVM element split into rank-one pieces
  M^a = Σ_k |φ_ak⟩⟨φ_ak| (eigendecomposition), so every string carries a χ-vector
  rather than a χ×χ environment: the fine-grained outcome (a, k) is drawn with
  probability ‖Σ_s φ_ak(s)* v A^s‖² and only a is kept — an exact sample of P(a)
  (Ferris & Vidal, PRB 85, 165146 (2012), perfect sampling).  The weight of the
  fine-grained path is *not* P(a) and is never returned.
* :func:`log_prob` evaluates log P(a) exactly with :func:`qgen.contract.expect_products`.
* Dense states with K^N ≤ 2^24 use the full probability table (an independent code
  path, used in the tests as a reference for the MPS one).

Both are seeded, chunked (memory bounded by the chunk size, not by the number of
samples) and multi-threaded.  Sampling splits the n strings into blocks of ``BLOCK``
strings; block c draws from its own stream ``SeedSequence(seed, spawn_key=(c,))``, so
the output depends only on the seed — not on the number of threads or processes that
share the blocks (see :class:`BlockSampler`).

Example
-------
>>> from qgen.targets import ghz
>>> from qgen.measurements import pauli4
>>> a = sample(ghz(10), pauli4(), 1000, seed=0)
>>> a.shape, a.dtype
((1000, 10), dtype('uint8'))
>>> bool(np.all(np.isfinite(log_prob(ghz(10), pauli4(), a))))
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np

from qgen._chunks import chunked_map
from qgen.measurements.contract import DENSE_TABLE_MAX, expect_products, operator_table
from qgen.measurements.povm import POVM
from qgen.targets.states import DenseState, State, site_operators

if TYPE_CHECKING:
    import torch

__all__ = ["sample", "log_prob", "probabilities", "rank_one_pieces", "BlockSampler", "BLOCK"]

BLOCK = 4096
"""Strings per independent random stream (and per work unit) in sampling."""


def rank_one_pieces(ops: np.ndarray, tol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Split positive operators into rank-one pieces: ops[a] = Σ_{j: owner[j]=a} φ_j φ_j†.

    Returns ``(phi (J, 2) complex, owner (J,) int)``.
    """
    phis, owner = [], []
    for a, m in enumerate(np.asarray(ops)):
        w, v = np.linalg.eigh(m)
        for lam, vec in zip(w, v.T):
            if lam > tol:
                phis.append(np.sqrt(lam) * vec)
                owner.append(a)
    return np.array(phis, dtype=np.complex128), np.array(owner, dtype=np.int64)


@numba.njit(nogil=True, cache=True)
def _choose_pieces(u: np.ndarray, phi_c: np.ndarray, owner: np.ndarray, unif: np.ndarray, v: np.ndarray,
                   out: np.ndarray) -> None:  # pragma: no cover (jit)
    """For each string b: w_j = Σ_s φ_j(s)* U[b, s, :], draw j with prob ∝ ‖w_j‖²,
    store v[b] = w_j/‖w_j‖ and the outcome owner[j].  Complex numbers are split:
    u[0] / u[1] (and v[0] / v[1]) hold real / imaginary parts."""
    _, nb, _, r = u.shape
    nj = phi_c.shape[0]
    probs = np.empty(nj)
    for b in range(nb):
        total = 0.0
        for j in range(nj):
            p0r, p0i, p1r, p1i = phi_c[j, 0].real, phi_c[j, 0].imag, phi_c[j, 1].real, phi_c[j, 1].imag
            acc = 0.0
            for k in range(r):
                wr = p0r * u[0, b, 0, k] - p0i * u[1, b, 0, k] + p1r * u[0, b, 1, k] - p1i * u[1, b, 1, k]
                wi = p0r * u[1, b, 0, k] + p0i * u[0, b, 0, k] + p1r * u[1, b, 1, k] + p1i * u[0, b, 1, k]
                acc += wr * wr + wi * wi
            probs[j] = acc
            total += acc
        target = unif[b] * total
        j = 0
        cum = probs[0]
        while cum <= target and j < nj - 1:
            j += 1
            cum += probs[j]
        while probs[j] == 0.0 and j > 0:  # rounding pushed us onto an impossible piece
            j -= 1
        scale = 1.0 / np.sqrt(probs[j])
        p0r, p0i, p1r, p1i = phi_c[j, 0].real, phi_c[j, 0].imag, phi_c[j, 1].real, phi_c[j, 1].imag
        for k in range(r):
            v[0, b, k] = (p0r * u[0, b, 0, k] - p0i * u[1, b, 0, k] + p1r * u[0, b, 1, k] - p1i * u[1, b, 1, k]) * scale
            v[1, b, k] = (p0r * u[1, b, 0, k] + p0i * u[0, b, 0, k] + p1r * u[1, b, 1, k] + p1i * u[0, b, 1, k]) * scale
        out[b] = owner[j]


def _sample_mps_chunk(tensors: list[np.ndarray], pieces: list[tuple[np.ndarray, np.ndarray]],
                      unif: np.ndarray) -> np.ndarray:
    """Sweep one block of strings; v holds (real, imag) parts of each string's left
    vector, so a real MPS needs only real GEMMs.  ``pieces[i]`` are qubit i's conjugated
    rank-one pieces and their owners."""
    nb, n = unif.shape
    out = np.empty((nb, n), dtype=np.uint8)
    v = np.zeros((2, nb, 1))
    v[0] = 1.0
    col = np.empty(nb, dtype=np.int64)
    for i, a in enumerate(tensors):
        left, _, r = a.shape
        if np.isrealobj(a):
            u = (v.reshape(2 * nb, left) @ a.reshape(left, 2 * r)).reshape(2, nb, 2, r)
        else:
            uc = (v[0] + 1j * v[1]) @ a.reshape(left, 2 * r)
            u = np.stack([uc.real, uc.imag]).reshape(2, nb, 2, r)
        v = np.empty((2, nb, r))
        _choose_pieces(u, *pieces[i], unif[:, i], v, col)
        out[:, i] = col
    return out


def _check_povm(povm: POVM, n_qubits: int) -> None:
    if not isinstance(povm, POVM):
        raise TypeError(f"expected a qgen.measurements.POVM, got {type(povm).__name__}")
    povm.check_sites(n_qubits)


def probabilities(state: State, povm: POVM) -> np.ndarray:
    """The full table P[a_1, …, a_N] (K^N ≤ 2^24 entries), by dense contraction."""
    _check_povm(povm, state.n_qubits)
    p = operator_table(state, povm.elements).real
    return np.clip(p, 0.0, None)


class BlockSampler:
    """Draws block c of a sampling run: strings ``c·BLOCK … c·BLOCK + m − 1`` of
    ``sample(state, povm, n, seed)``, from the block's own stream ``SeedSequence(seed,
    spawn_key=(c,))``.  Blocks can be drawn in any order, by any thread or process (it is
    picklable): the output depends only on (seed, c, m).

    MPS states (and dense vectors too large for the table) are swept site by site;
    ``heavy`` says so (then splitting the blocks over processes pays off).  Smaller dense
    states draw from the cumulative probability table.

    >>> from qgen.targets import ghz
    >>> from qgen.measurements import pauli4
    >>> draw = BlockSampler(ghz(6), pauli4(), seed=3)
    >>> bool((draw(1, 10) == sample(ghz(6), pauli4(), BLOCK + 10, seed=3)[BLOCK:]).all())
    True
    """

    def __init__(self, state: State, povm: POVM, seed: int | None) -> None:
        _check_povm(povm, state.n_qubits)
        if seed is not None and (not isinstance(seed, (int, np.integer)) or seed < 0):
            raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
        self.n_qubits, self.n_outcomes = state.n_qubits, povm.n_outcomes
        self._root = np.random.SeedSequence(seed)
        self.heavy = not (isinstance(state, DenseState) and (
            povm.n_outcomes**state.n_qubits <= DENSE_TABLE_MAX or state.data.ndim == 2))
        if not self.heavy:
            self._cdf = np.cumsum(probabilities(state, povm).ravel())
            return
        mps = state.to_mps() if isinstance(state, DenseState) else state
        self._tensors = [t.real.copy() if np.isrealobj(t) or not np.any(t.imag) else t
                         for t in mps.right_canonical().tensors]
        ops = site_operators(povm.elements, mps.noise, mps.n_qubits)
        per_site = [rank_one_pieces(o) for o in (ops if ops.ndim == 4 else [ops])]
        pieces = [(np.ascontiguousarray(phi.conj()), owner) for phi, owner in per_site]
        self._pieces = pieces if ops.ndim == 4 else pieces * mps.n_qubits

    def __call__(self, c: int, m: int) -> np.ndarray:
        """The m strings (uint8 (m, N)) of block c."""
        rng = np.random.default_rng(np.random.SeedSequence(self._root.entropy, spawn_key=(c,)))
        if not self.heavy:
            flat = np.minimum(np.searchsorted(self._cdf, rng.random(m) * self._cdf[-1], side="right"),
                              self._cdf.size - 1)
            return np.stack(np.unravel_index(flat, (self.n_outcomes,) * self.n_qubits), axis=1).astype(np.uint8)
        return _sample_mps_chunk(self._tensors, self._pieces, rng.random((m, self.n_qubits)))


def sample(
    state: State,
    povm: POVM,
    n: int,
    seed: int | None = None,
    *,
    workers: int | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Draw ``n`` outcome strings a ~ P(a); returns ``uint8 (n, N)``.

    ``seed`` is an int (or None for fresh entropy).  The blocks of ``BLOCK`` strings are
    shared by ``workers`` threads; the result depends only on the seed, not on ``workers``.
    """
    n = int(n)
    if n < 0:
        raise ValueError(f"number of samples must be ≥ 0, got {n}")
    draw = BlockSampler(state, povm, seed)
    parts = chunked_map(lambda a, b: draw(a // BLOCK, b - a), n, BLOCK, workers, progress, "sampling")
    return np.concatenate(parts) if parts else np.zeros((0, state.n_qubits), np.uint8)


def log_prob(
    state: State,
    povm: POVM,
    outcomes: np.ndarray,
    *,
    chunk_size: int | None = None,
    workers: int | None = None,
    progress: bool = False,
    device: str | torch.device | None = None,
    missing: np.ndarray | None = None,
) -> np.ndarray:
    """Exact log P(a) for each row of ``outcomes`` (``(B, N)`` ints in [0, K)); −inf
    where P(a) = 0.  ``chunk_size`` and ``device`` as in
    :func:`qgen.contract.expect_products` (default chunk 128 on the CPU).

    ``missing`` (bool (B, N)) marks readouts that are not known: row b then gets the
    marginal ln Σ P over the K outcomes of each of its missing qubits, computed in one
    contraction: Σ_a M^a = I, so a missing qubit is measured with the identity, appended
    to the POVM's elements as outcome K.

    >>> from qgen.targets import ghz
    >>> from qgen.measurements import pauli4
    >>> x = np.array([[3, 0, 0]])  # qubits 1 and 2 unknown: their 16 completions are summed
    >>> completions = np.array([[3, b, c] for b in range(4) for c in range(4)])
    >>> total = np.exp(log_prob(ghz(3), pauli4(), completions)).sum()
    >>> bool(np.isclose(np.exp(log_prob(ghz(3), pauli4(), x, missing=np.array([[0, 1, 1]], bool)))[0], total))
    True
    """
    _check_povm(povm, state.n_qubits)
    if chunk_size is None and device is None:
        chunk_size = 128
    ops = povm.elements
    if missing is not None and np.any(missing):
        eye = np.broadcast_to(np.eye(2), (*ops.shape[:-3], 1, 2, 2))
        ops = np.concatenate([ops, eye], axis=-3)
        outcomes = np.where(missing, povm.n_outcomes, outcomes)
    p = expect_products(state, ops, outcomes, chunk_size, workers, progress, device).real
    with np.errstate(divide="ignore"):
        return np.log(np.clip(p, 0.0, None))
