"""Named target states, one builder per state: :func:`product_state`, :func:`ghz`,
:func:`w_state`, :func:`cluster`, and :func:`random_mps` (a seeded random MPS).

Each returns an :class:`~qgen.targets.states.MPS` (exact, small bond dimension), or a
:class:`~qgen.targets.states.DenseState` with ``dense=True``.

Example
-------
>>> psi = ghz(3)
>>> np.round(psi.to_dense(), 3).tolist()
[0.707, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.707]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from qgen.resources import check_memory, estimate_mps
from qgen.targets.states import MPS, DenseState, State

__all__ = ["ghz", "w_state", "product_state", "cluster", "random_mps"]

_SINGLE = {
    "0": np.array([1.0, 0.0]),
    "1": np.array([0.0, 1.0]),
    "+": np.array([1.0, 1.0]) / np.sqrt(2),
    "-": np.array([1.0, -1.0]) / np.sqrt(2),
    "+i": np.array([1.0, 1.0j]) / np.sqrt(2),
    "-i": np.array([1.0, -1.0j]) / np.sqrt(2),
}


def _n_sites(n: object, least: int, what: str) -> int:
    """A validated number of qubits ≥ ``least`` for a named state, refused up front when
    even its bond-dimension-2 MPS would not fit in memory."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < least:
        raise ValueError(f"{what} needs an integer number of qubits n ≥ {least}, got {n!r}")
    check_memory(estimate_mps(int(n), 2), f"a {int(n):,}-qubit {what}")
    return int(n)


def _mps_or_dense(mps: MPS, dense: bool) -> State:
    if not dense:
        return mps
    return DenseState(mps.to_dense())


def product_state(spec: str | Sequence, n: int | None = None, dense: bool = False) -> State:
    """Product state from single-qubit labels ('0', '1', '+', '-', '+i', '-i') or vectors.

    ``product_state("+", 5)`` is |+⟩^⊗5; ``product_state(["0", "1", "+"])`` a 3-qubit state;
    an item may also be a 2-component amplitude vector such as ``[1, 1j]`` (normalised).

    >>> product_state(["1", [3, 4]], dense=True).data.real.round(2).tolist()
    [0.0, 0.0, 0.6, 0.8]
    >>> product_state([0, 0, 0])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: product_state item 0: unknown single-qubit state 0; give a label ... or a non-zero 2-component vector
    """
    if isinstance(spec, str):
        if n is None:
            raise ValueError("give n with a single label")
        items = [spec] * _n_sites(n, 1, "product state")
    else:
        try:
            items = list(spec)
        except TypeError:
            raise ValueError(f"product_state takes a label or a sequence of labels/vectors, got {spec!r}") from None
        if n is not None and n != len(items):
            raise ValueError(f"n = {n!r} but {len(items)} single-qubit states are given")
        _n_sites(len(items), 1, "product state")
    labels = ", ".join(repr(k) for k in sorted(_SINGLE))
    vecs = []
    for i, it in enumerate(items):
        v = _SINGLE.get(it) if isinstance(it, str) else None
        if v is None and not isinstance(it, str):
            try:
                v = np.asarray(it, dtype=complex)
            except (TypeError, ValueError):
                v = None
            if v is not None and (v.shape != (2,) or not np.all(np.isfinite(v)) or not np.any(v)):
                v = None
        if v is None:
            raise ValueError(f"product_state item {i}: unknown single-qubit state {it!r}"[:200]
                             + f"; give a label ({labels}) or a non-zero 2-component vector")
        vecs.append(v / np.linalg.norm(v))
    return _mps_or_dense(MPS(tuple(v.reshape(1, 2, 1) for v in vecs)), dense)


def ghz(n: int, dense: bool = False) -> State:
    """(|0…0⟩ + |1…1⟩)/√2 as a bond-dimension-2 MPS (or dense vector)."""
    n = _n_sites(n, 2, "GHZ state")
    copy = np.zeros((2, 2, 2))
    copy[0, 0, 0] = copy[1, 1, 1] = 1.0
    first = np.zeros((1, 2, 2))
    first[0, 0, 0] = first[0, 1, 1] = 1 / np.sqrt(2)
    last = np.zeros((2, 2, 1))
    last[0, 0, 0] = last[1, 1, 0] = 1.0
    return _mps_or_dense(MPS((first, *[copy] * (n - 2), last)), dense)


def w_state(n: int, dense: bool = False) -> State:
    """(|10…0⟩ + |010…0⟩ + … + |0…01⟩)/√N as a bond-dimension-2 MPS."""
    n = _n_sites(n, 2, "W state")
    bulk = np.zeros((2, 2, 2))  # bond: 0 = no excitation yet, 1 = placed
    bulk[0, 0, 0] = bulk[0, 1, 1] = bulk[1, 0, 1] = 1.0
    first = bulk[:1] / np.sqrt(n)
    last = np.zeros((2, 2, 1))
    last[0, 1, 0] = last[1, 0, 0] = 1.0
    return _mps_or_dense(MPS((first, *[bulk] * (n - 2), last)), dense)


def cluster(n: int, dense: bool = False) -> State:
    """1D cluster (linear graph) state ∏_i CZ_{i,i+1} |+⟩^⊗N; amplitude
    2^{-N/2} (−1)^{Σ s_i s_{i+1}} (Raussendorf & Briegel 2001)."""
    n = _n_sites(n, 2, "cluster state")
    bulk = np.zeros((2, 2, 2))  # bond carries the previous qubit's value
    for prev in range(2):
        for s in range(2):
            bulk[prev, s, s] = (-1) ** (prev * s) / np.sqrt(2)
    first = bulk[:1]
    last = bulk.sum(axis=2, keepdims=True)
    return _mps_or_dense(MPS((first, *[bulk] * (n - 2), last)), dense)


def random_mps(n: int, chi: int, seed: int | None = None, real: bool = False) -> MPS:
    """A random MPS (Gaussian entries), for tests and benchmarks."""
    rng = np.random.default_rng(seed)
    dims = [1] + [chi] * (n - 1) + [1]
    ts = []
    for i in range(n):
        shape = (dims[i], 2, dims[i + 1])
        a = rng.normal(size=shape)
        if not real:
            a = a + 1j * rng.normal(size=shape)
        ts.append(a)
    return MPS(tuple(ts)).right_canonical()
