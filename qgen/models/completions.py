"""Completions of outcome strings with missing readouts: exact marginals and exact
conditional draws of a model with a likelihood, by enumeration.

A string x whose readouts are missing on a set of m qubits (the bool ``holes``) has K^m
completions c (x with those qubits set to every value).  For a score s(c) = ln q(c):

* the marginal is ln q(x_obs) = ln Σ_c q(c) (the log-sum-exp of the scores);
* a conditional draw picks c with probability q(c) / Σ_c' q(c') (Gumbel-max: the c
  maximising s(c) + g_c, g_c standard Gumbel), with ln q(c | x_obs) = s(c) − ln Σ q.

Completion r of a string (0 ≤ r < K^m) writes the base-K digits of r on its missing
qubits, the first missing qubit most significant (lexicographic order).  Every string of
a batch is enumerated at once, whatever its pattern of holes: completions are built
in chunks of at most ``CHUNK`` from (string, rank) pairs, the ranks' digits computed
with the positions of each string's holes, so no grouping by pattern and no Python loop
over strings.  The cost is Σ_b K^(m_b) scores; :func:`max_holes` bounds m.  With a
likelihood that is only estimated (VAE, flow), both results inherit that estimate.

Example
-------
>>> x = torch.tensor([[1, 0, 0]]); holes = torch.tensor([[False, True, True]])
>>> complete(x, holes, 2, torch.tensor([0, 0, 0, 0]), torch.arange(4)).tolist()
[[1, 0, 0], [1, 0, 1], [1, 1, 0], [1, 1, 1]]
>>> score = lambda rows, c: -c.sum(1).double()          # q(c) ∝ e^(−Σ c)
>>> round(float(marginal(score, x, holes, 2)), 6), round(math.log(math.exp(-1) * (1 + math.exp(-1)) ** 2), 6)
(-0.373477, -0.373477)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch

__all__ = ["MISSING", "CHUNK", "max_holes", "check_holes", "complete", "marginal", "draw"]

MISSING = -1
"""The value of a missing readout in a long tensor of outcomes (``given``, training batches)."""

CHUNK = 16384
"""Completions scored together (bounds the memory of one score call)."""

Score = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""score(rows (T,), completions (T, N)) → ln q (T,) of each completion of string ``rows``."""


def max_holes(k: int, limit: int) -> int:
    """The most holes m with K^m ≤ ``limit`` completions."""
    return int(math.floor(math.log(max(limit, 1)) / math.log(k) + 1e-9))


def check_holes(holes: torch.Tensor, k: int, limit: int, what: str) -> None:
    """A one-line ``ValueError`` if some string needs more than ``limit`` completions."""
    m = holes.sum(1)
    worst = int(m.argmax()) if len(m) else 0
    if len(m) and int(m[worst]) > max_holes(k, limit):
        raise ValueError(f"{what}: string {worst} has {int(m[worst])} missing qubits to sum over, {k}^{int(m[worst])} "
                         f"completions; the limit is {limit:,} ({max_holes(k, limit)} missing qubits)")


def complete(x: torch.Tensor, holes: torch.Tensor, k: int, rows: torch.Tensor, ranks: torch.Tensor) -> torch.Tensor:
    """Completion ``ranks[t]`` of string ``rows[t]`` (see the module doc), (T, N)."""
    h = holes[rows]
    place = h.sum(1, keepdim=True) - h.long().cumsum(1)  # digits after this hole: K^place is its weight
    digit = ranks[:, None] // k ** place.clamp(min=0) % k
    return torch.where(h, digit, x[rows])


def _chunks(x: torch.Tensor, holes: torch.Tensor, k: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(rows, completions) of every string, ``CHUNK`` completions at a time, in order."""
    counts = k ** holes.sum(1)
    ends = counts.cumsum(0)
    total = int(ends[-1]) if len(ends) else 0
    for a in range(0, total, CHUNK):
        index = torch.arange(a, min(a + CHUNK, total), device=x.device)
        rows = torch.searchsorted(ends, index, right=True)
        yield rows, complete(x, holes, k, rows, index - (ends - counts)[rows])


def _segment_logsumexp(values: torch.Tensor, rows: torch.Tensor, n: int) -> torch.Tensor:
    """ln Σ_{t: rows[t] = b} e^{values[t]} for b < n (differentiable; −inf for no t)."""
    top = torch.full((n,), -math.inf, dtype=values.dtype, device=values.device)
    top = top.scatter_reduce(0, rows, values.detach(), "amax")
    shift = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    total = torch.zeros(n, dtype=values.dtype, device=values.device).index_add(0, rows, (values - shift[rows]).exp())
    return total.log() + shift


def marginal(score: Score, x: torch.Tensor, holes: torch.Tensor, k: int) -> torch.Tensor:
    """ln Σ_c e^{score(c)} over the completions of every string x (B, N) → (B,);
    differentiable through ``score``."""
    rows, values = [], []
    for r, c in _chunks(x, holes, k):
        rows.append(r)
        values.append(score(r, c))
    if not rows:
        return torch.zeros(0, device=x.device)
    return _segment_logsumexp(torch.cat(values), torch.cat(rows), len(x))


@torch.no_grad()
def draw(score: Score, x: torch.Tensor, holes: torch.Tensor, k: int,
         generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """One completion of every string, drawn ∝ e^{score}, and its ln q(c | x_obs) → ((B, N), (B,))."""
    rows, values, keys = [], [], []
    for r, c in _chunks(x, holes, k):
        s = score(r, c).double()
        u = torch.rand(len(s), generator=generator, device=x.device, dtype=torch.float64)
        rows.append(r)
        values.append(s)
        keys.append(s - torch.log(-torch.log(u.clamp(min=1e-300))))  # + standard Gumbel noise
    if not rows:
        return x.clone(), torch.zeros(len(x), dtype=torch.float64, device=x.device)
    rows_t, values_t, keys_t = torch.cat(rows), torch.cat(values), torch.cat(keys)
    n = len(x)
    best = torch.full((n,), -math.inf, dtype=torch.float64, device=x.device).scatter_reduce(0, rows_t, keys_t, "amax")
    index = torch.arange(len(keys_t), device=x.device)
    first = torch.full((n,), len(keys_t), device=x.device).scatter_reduce(
        0, rows_t, torch.where(keys_t == best[rows_t], index, len(keys_t)), "amin")
    offsets = torch.cat([torch.zeros(1, dtype=torch.long, device=x.device), (k ** holes.sum(1)).cumsum(0)[:-1]])
    chosen = complete(x, holes, k, torch.arange(n, device=x.device), first - offsets)
    return chosen, values_t[first] - _segment_logsumexp(values_t, rows_t, n)
