"""The base of autoregressive models: P(a) = Π_s p(a_(s) | a_(<s)) over steps s, each step
emitting one block of qubits (one qubit, or a patch of several), and the sampling loop they
all share.

A subclass describes one step through four methods:

* ``_begin(m)`` → the state before the first step, for m strings;
* ``_step(state, s)`` → (ln p of every code of step s (m, K^w), state): the conditional
  given everything fed so far;
* ``_feed(state, s, code)`` → the state with step s's code fed in (the drawn one when
  sampling);
* ``_select(state, rows)`` → the state of the strings ``rows`` (an index tensor, rows may
  repeat).

A step's code is c = Σ_j a_(s,j) K^(w−1−j) over its w qubits (the first qubit most
significant); ``step_widths`` gives w per step.  :meth:`sample` draws strings ancestrally
with the exact ln q of each as a by-product, in chunks, from one generator.
:meth:`log_prob_all` walks the tree of prefixes: each prefix's conditional is computed
once, Σ_s K^s steps in all instead of N·K^N, so every string of N = 12 qubits under a
4-outcome POVM (16.7 million) is scored in about a minute.  ``log_prob`` stays the
subclass's own: teacher forcing computes all steps at once; :meth:`step_log_probs` gives
its terms ln p(a_(s) | a_(<s)) one by one (through the step API unless overridden).

Missing readouts
----------------
``missing_readouts`` is ``"exact"``.  Qubits missing after the last step that holds a
readout cost nothing: Σ over them of Π p(· | ·) is 1, so the marginal of a string is

    ln q(x_obs) = ln Σ_c Σ_{s ≤ t} ln p(c_(s) | c_(<s)),

c over the completions of its holes in steps ≤ t (t the last step with a readout), each
scored by teacher forcing (:mod:`~qgen.models.completions`).  The trainer keeps the
K^m of every string within ``completion_limit`` (:meth:`trim_missing`): the readouts of
the steps after the one where the m-th + 1 hole would enter the sum are dropped, so the
loss is the exact marginal of the readouts kept.  ``sample(n, given=…)`` is exact too:
the free qubits before the last given step are drawn by enumerating their completions
(K^m, bounded), the later ones ancestrally — with nothing given after them, as plain
autoregressive draws, no enumeration.

Bits given bases
----------------
With ``bases`` (a group label per outcome, :mod:`~qgen.models.bases`; set from the POVM
by :meth:`povm_defaults` when its outcomes are (basis, bit) pairs with a uniformly chosen
basis, as for Pauli-6) every conditional is (1/G) · q(bit | basis, a_<i): subclasses turn
their head's logits into ln p with :meth:`_log_softmax`, which then normalises within
each basis group.  Sampling, :meth:`log_prob_all`, marginals and conditional draws all go
through it, so they stay exact; ``bases`` is part of the config (saved with the model).

Example
-------
>>> import torch
>>> from qgen.models import create_model
>>> m = create_model("rnn", 5, 4, hidden=8, n_layers=1)
>>> x, lq = m.sample(3, torch.Generator().manual_seed(0))
>>> bool(torch.allclose(m.log_prob(x), lq, atol=1e-5)), m.step_widths
(True, [1, 1, 1, 1, 1])
>>> x, lq = m.sample(2, torch.Generator().manual_seed(0), given=[-1, 2, -1, -1, 0])
>>> x[:, [1, 4]].tolist()
[[2, 0], [2, 0]]
"""

from __future__ import annotations

from typing import Any

import torch

from qgen.measurements.povm import POVM

from .base import GenerativeModel
from .bases import basis_codes, basis_groups, check_bases, grouped_log_softmax
from .completions import MISSING, check_holes, draw, max_holes

__all__ = ["AutoregressiveModel"]


class AutoregressiveModel(GenerativeModel):
    """A :class:`GenerativeModel` whose strings are drawn step by step (see the module doc);
    ``likelihood`` is ``"exact"``."""

    likelihood = "exact"
    enumeration_limit = 4**12
    missing_readouts = "exact"

    def __init__(self, n_qubits: int, n_outcomes: int, **config: Any) -> None:
        if config.get("bases") is None:
            config.pop("bases", None)  # off: the config stays that of a model without the option
        else:
            config["bases"] = check_bases(config["bases"], n_outcomes)
        super().__init__(n_qubits, n_outcomes, **config)
        self.bases: list[int] | None = config.get("bases")
        self._basis_codes: dict[tuple[int, torch.device], torch.Tensor] = {}  # by (K^w, device), built on use

    @staticmethod
    def povm_defaults(povm: POVM, config: dict[str, Any]) -> dict[str, Any]:
        """``bases`` = :func:`~qgen.models.bases.basis_groups` of the POVM when its outcomes
        are (basis, bit) pairs with each basis summing to I/G (bits given bases; module doc)."""
        groups = basis_groups(povm)
        return {} if groups is None else {"bases": groups}

    def _log_softmax(self, logits: torch.Tensor) -> torch.Tensor:
        """ln p over the last axis of the head's logits, K^w codes of a w-qubit step: a
        log-softmax, or with ``bases`` one within each basis pattern plus ln G^(−w)."""
        if self.bases is None:
            return torch.log_softmax(logits, dim=-1)
        key = (logits.shape[-1], logits.device)
        if key not in self._basis_codes:
            width = next(w for w in range(1, 64) if self.n_outcomes**w >= key[0])
            self._basis_codes[key] = basis_codes(self.bases, width).to(logits.device)
        return grouped_log_softmax(logits, self._basis_codes[key])

    @property
    def step_widths(self) -> list[int]:
        """Qubits emitted by each step (one per qubit unless a subclass groups them)."""
        return [1] * self.n_qubits

    def _begin(self, m: int) -> Any:
        raise NotImplementedError

    def _step(self, state: Any, s: int) -> tuple[torch.Tensor, Any]:
        raise NotImplementedError

    def _feed(self, state: Any, s: int, code: torch.Tensor) -> Any:
        raise NotImplementedError

    def _select(self, state: Any, rows: torch.Tensor) -> Any:
        raise NotImplementedError

    @torch.no_grad()
    def log_prob_all(self, batch: int = 65536) -> torch.Tensor:
        """ln q of all K^N strings in lexicographic order, float64, by expanding the tree
        of prefixes breadth-first in pieces of at most ``batch`` prefixes (depth-first
        across pieces, so the order is lexicographic and memory bounded)."""
        k, n = self.n_outcomes, self.n_qubits
        if k**n > self.enumeration_limit:
            raise ValueError(f"model '{self.name}' enumerates at most {self.enumeration_limit:,} strings, not {k}^{n}")
        out: list[torch.Tensor] = []
        self._expand(self._begin(1), torch.zeros(1, dtype=torch.float64, device=self.device), 0, batch, out)
        return torch.cat(out)

    def _expand(self, state: Any, lp: torch.Tensor, s: int, batch: int, out: list[torch.Tensor]) -> None:
        logp, state = self._step(state, s)
        rows, codes = logp.shape
        lp = (lp[:, None] + logp.double()).reshape(-1)  # prefix-major, then this step's code
        if s == len(self.step_widths) - 1:
            out.append(lp)
            return
        parent = torch.arange(rows, device=self.device).repeat_interleave(codes)
        code = torch.arange(codes, device=self.device).repeat(rows)
        for a in range(0, rows * codes, batch):
            piece = slice(a, a + batch)
            child = self._feed(self._select(state, parent[piece]), s, code[piece])
            self._expand(child, lp[piece], s + 1, batch, out)

    # -- steps and missing readouts ---------------------------------------------------

    def _step_of(self) -> torch.Tensor:
        """The step of every qubit, (N,)."""
        widths = torch.tensor(self.step_widths, device=self.device)
        return torch.repeat_interleave(torch.arange(len(widths), device=self.device), widths)

    def _codes(self, x: torch.Tensor) -> torch.Tensor:
        """Step codes (B, steps) of outcomes x (B, N): Σ_j a_(s,j) K^(w−1−j)."""
        steps = self._step_of()
        ends = torch.tensor(self.step_widths, device=self.device).cumsum(0)  # one past each step's last qubit
        place = self.n_outcomes ** (ends[steps] - 1 - torch.arange(self.n_qubits, device=self.device))
        return torch.zeros(len(x), len(ends), dtype=torch.long, device=x.device).index_add(1, steps, x * place)

    def step_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """ln p(a_(s) | a_(<s)) of every step of strings x (B, N) → (B, steps), whose sum is
        ``log_prob``; here through the step API (teacher forcing step by step)."""
        codes = self._codes(self.check_outcomes(x))
        state, out = self._begin(len(x)), []
        for s in range(codes.shape[1]):
            logp, state = self._step(state, s)
            out.append(logp.gather(1, codes[:, s, None]))
            if s < codes.shape[1] - 1:
                state = self._feed(state, s, codes[:, s])
        return torch.cat(out, 1)

    def _last_step(self, missing: torch.Tensor) -> torch.Tensor:
        """The last step holding a readout of every string (−1 for none), (B,)."""
        seen = torch.where(missing, -1, self._step_of())
        return seen.max(1).values if seen.numel() else torch.full((len(missing),), -1, device=self.device)

    def _holes(self, missing: torch.Tensor) -> torch.Tensor:
        """Holes up to the last step with a readout: later ones sum out for free."""
        return missing & (self._step_of() <= self._last_step(missing)[:, None])

    def _completion_score(self, missing: torch.Tensor):
        keep = torch.arange(len(self.step_widths), device=self.device) <= self._last_step(missing)[:, None]

        def score(rows: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
            lp = self.step_log_probs(c)
            return torch.where(keep[rows], lp, torch.zeros_like(lp)).sum(1)

        return score

    def trim_missing(self, missing: torch.Tensor) -> torch.Tensor:
        """``missing`` with the readouts of every step after the one where a string's holes
        so far exceed ``completion_limit`` completions dropped (the earlier ones kept)."""
        steps = self._step_of()
        holes = torch.zeros(len(missing), len(self.step_widths), dtype=torch.long, device=missing.device)
        holes = holes.index_add(1, steps, missing.long()).cumsum(1)  # holes in steps ≤ s
        return missing | (holes[:, steps] > max_holes(self.n_outcomes, self.completion_limit))

    # -- sampling ---------------------------------------------------------------------

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, *, given: Any = None, chunk_size: int = 16384
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw n strings in chunks of ``chunk_size``; reproducible for a given generator
        (which must live on the model's device).  Returns (outcomes (n, N), ln q (n,)); with
        ``given`` (see ``check_given``), ln q(free | given) (:meth:`sample_given`)."""
        if given is not None:
            return self.sample_given(self.check_given(given, n), generator, chunk_size=chunk_size)
        if n <= 0:
            return (torch.empty((0, self.n_qubits), dtype=torch.long, device=self.device),
                    torch.empty(0, device=self.device))
        xs, lps = zip(*(self._sample_chunk(min(chunk_size, n - s), generator) for s in range(0, n, chunk_size)))
        return torch.cat(xs), torch.cat(lps)

    @torch.no_grad()
    def sample_given(self, given: torch.Tensor, generator: torch.Generator | None = None, *,
                     limit: int | None = None, chunk_size: int = 16384) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact draws from q(free | given) (module doc): free qubits before each row's last
        given step by enumeration (at most ``limit``, default 4^10, completions a row), the
        rest ancestrally → (strings (n, N), ln q(free | given) (n,) float64)."""
        given = self.check_given(given)
        free = given < 0
        holes = self._holes(free)
        check_holes(holes, self.n_outcomes, limit or 4**10, f"conditional draw of model '{self.name}'")
        x = given.clamp(min=0)
        lq = torch.zeros(len(x), dtype=torch.float64, device=self.device)
        rows = holes.any(1)
        if rows.any():
            x[rows], lq[rows] = draw(self._completion_score(free[rows]), x[rows], holes[rows], self.n_outcomes,
                                     generator)
        forced = torch.where(self._step_of() <= self._last_step(free)[:, None], x, MISSING)
        parts = [self._sample_chunk(len(f), generator, f) for f in forced.split(chunk_size)]
        if not parts:
            return x, lq
        return torch.cat([p[0] for p in parts]), lq + torch.cat([p[1] for p in parts]).double()

    def _sample_chunk(self, m: int, generator: torch.Generator | None,
                      forced: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """m ancestral draws; the steps whose qubits ``forced`` (m, N) holds (not MISSING)
        are fed those values instead, and ln q sums the other steps only."""
        widths = self.step_widths
        x = torch.empty((m, self.n_qubits), dtype=torch.long, device=self.device)
        lp = torch.zeros(m, device=self.device)
        state, start = self._begin(m), 0
        for s, width in enumerate(widths):
            logp, state = self._step(state, s)
            code = torch.multinomial(logp.exp(), 1, generator=generator)[:, 0]
            place = self.n_outcomes ** torch.arange(width - 1, -1, -1, device=self.device)
            if forced is None:
                lp += logp.gather(1, code[:, None])[:, 0]
            else:
                fixed = forced[:, start] >= 0  # a step is wholly forced or wholly free
                code = torch.where(fixed, (forced[:, start : start + width].clamp(min=0) * place).sum(1), code)
                lp += torch.where(fixed, 0.0, logp.gather(1, code[:, None])[:, 0])
            x[:, start : start + width] = code[:, None] // place % self.n_outcomes
            start += width
            if s < len(widths) - 1:
                state = self._feed(state, s, code)
        return x, lp
