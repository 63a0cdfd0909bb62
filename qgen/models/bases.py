"""Bits given bases: autoregressive conditionals for POVMs whose outcomes are (basis, bit)
pairs with the basis chosen uniformly by the experimenter.

For Pauli-6 (:func:`qgen.measurements.pauli6`) the six outcomes are the eigenstates of Z,
X and Y, each weighted ⅓: the experimenter picks the basis uniformly, and the outcomes of
each basis b sum to Σ_{a∈b} M^a = I/3.  More generally, when the K outcomes split into G
groups with Σ_{a∈g} M^a = I/G on every qubit, the basis string of a shot is independent of
the state and of the other qubits' outcomes: for every ρ,

    P(a_i ∈ g | a_<i) = Tr[(M^{a_<i} ⊗ I/G ⊗ I…) ρ] / Tr[(M^{a_<i} ⊗ I ⊗ I…) ρ] = 1/G.

So a model of P need not learn the basis distribution: its conditional is

    q(a_i | a_<i) = (1/G) · q(bit_i | basis_i, a_<i),

a softmax of the network's logits within each group (:func:`grouped_log_softmax`) plus
ln(1/G).  The network then spends no capacity or data on the basis statistics, which are
exact; only what the state determines is learned.  This is how the published
randomised-Pauli tomography codes treat their data (Torlai et al., Nat. Phys. 14, 447
(2018): a wavefunction per basis; Carrasquilla et al. 2019 model the six outcomes as one
softmax).  A step emitting w qubits at once (patches) groups its K^w codes by the basis
pattern of its w qubits (G^w groups, each of probability G^(−w)).

Measured (benchmarks/bench_ar_state.py, bench_sample_efficiency.py; seed 0, default
presets and the fixed training schedule of the time, at most 20 epochs of 500): on
GHZ-20 with Pauli-6 the RNN reaches F_c ≥ 0.99 from 2,000 training strings (0.9928 ±
0.0009) where one softmax over the six outcomes gives 0.964 (and 0.988 at 4,000).  The
exact quantum fidelity ⟨ψ|ρ_q|ψ⟩ does not move consistently: over 22 (target, N, shots,
backend) fits it changes by +0.018 ± 0.010 (mean ± s.e.), 18 up, from +0.16 (W-4, 1,000
shots, transformer: 0.516 vs 0.354) to −0.07 (TFIM-6, 1,000 shots, RNN), one seed each;
it stays far below MLE on cat and W states at N = 6 (GHZ-6, 10,000 shots: RNN 0.517 vs
0.504, MLE 0.996): their coherence sits in N-body terms that the networks do not find
before they overfit.  With today's data-size-adaptive schedule the quantum fidelity rose
far more than bases ever moved it (RNN +0.18 on average over 11 cases, W-6 from 1,000
shots 0.39 → 0.87), while GHZ-6 stays at the mixture below 30,000 shots (docs:
benchmarks, tomography).  Within a patch of w qubits, the bits of one qubit may still
depend on the bases of the later qubits of the same patch (no-signalling is not imposed
inside a step); across steps it holds by construction.

:func:`basis_groups` detects the structure from the POVM elements, not from its name: it
returns the group of every outcome (the finest partition into G ≥ 2 groups, the same on
every qubit of a per-qubit POVM) or None.  A readout-corrected Pauli-6 POVM
(:func:`qgen.measurements.readout.readout_povm`) keeps it exactly: a confusion matrix only
mixes the two bits within a basis and its columns sum to 1, so each basis still sums to
I/3.  Pauli-4 (whose fourth element collects the three "−" outcomes) and the tetrahedral
POVM have no such partition.

Example
-------
>>> from qgen.measurements import pauli4, pauli6
>>> basis_groups(pauli6()), basis_groups(pauli4())
([0, 0, 1, 1, 2, 2], None)
>>> logits = torch.tensor([[0.0, 1.0, 2.0, 2.0, -5.0, 0.0]])
>>> p = grouped_log_softmax(logits, basis_codes([0, 0, 1, 1, 2, 2], 1)).exp()
>>> [round(v, 4) for v in p[0].tolist()]
[0.0896, 0.2437, 0.1667, 0.1667, 0.0022, 0.3311]
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch

from qgen.measurements.povm import POVM

__all__ = ["basis_groups", "check_bases", "basis_codes", "grouped_log_softmax"]

_SEARCH_MAX = 12  # largest K searched for a partition (the search is exponential in K)


def _partition(elements: np.ndarray, n_groups: int, atol: float) -> list[int] | None:
    """A partition of the outcomes into ``n_groups`` groups, each summing to I/G on every
    qubit (elements (N, K, 2, 2)), found depth-first: the lowest unassigned outcome opens a
    group, completed by later outcomes while I/G − Σ stays positive semidefinite."""
    k = elements.shape[1]
    target = np.eye(2) / n_groups
    labels = [-1] * k

    def grow(members: list[int], total: np.ndarray, start: int) -> bool:
        gap = target - total
        if np.abs(gap).max() <= atol:  # a complete group: open the next one
            return fill()
        if np.linalg.eigvalsh(gap).min() < -atol:
            return False
        for a in range(start, k):
            if labels[a] < 0:
                labels[a] = labels[members[0]]
                if grow([*members, a], total + elements[:, a], a + 1):
                    return True
                labels[a] = -1
        return False

    def fill() -> bool:
        free = [a for a in range(k) if labels[a] < 0]
        if not free:
            return True
        labels[free[0]] = max(labels) + 1
        if grow([free[0]], elements[:, free[0]], free[0] + 1):
            return True
        labels[free[0]] = -1
        return False

    return labels if fill() and max(labels) + 1 == n_groups else None


def basis_groups(povm: POVM, atol: float = 1e-9) -> list[int] | None:
    """The group g(a) of every outcome a for the finest partition of the outcomes into
    G ≥ 2 groups with Σ_{a: g(a)=h} M^a = I/G for every h (on every qubit, the same
    partition), groups numbered by their lowest outcome; None when there is none (or
    K > 12, not searched).

    >>> from qgen.measurements import tetra
    >>> basis_groups(tetra()) is None
    True
    """
    k = povm.n_outcomes
    if k > _SEARCH_MAX:
        return None
    elements = povm.elements if povm.per_qubit else povm.elements[None]  # (N, K, 2, 2)
    for n_groups in range(k, 1, -1):
        found = _partition(elements, n_groups, atol)
        if found is not None:
            return found
    return None


def check_bases(bases: object, n_outcomes: int) -> list[int]:
    """``bases`` as a list of K group labels 0…G−1 (G ≥ 2, every group used); a one-line
    ``ValueError`` otherwise."""
    ok = isinstance(bases, (list, tuple)) and len(bases) == n_outcomes and all(
        isinstance(g, (int, np.integer)) and not isinstance(g, bool) for g in bases)
    if not ok or sorted(set(bases)) != list(range(max(bases) + 1)) or max(bases) < 1:
        raise ValueError(f"bases must list the group (0, 1, …, G−1 with G ≥ 2, each used) of every one of the "
                         f"{n_outcomes} outcomes, got {bases!r}")
    return [int(g) for g in bases]


def basis_codes(bases: list[int], width: int) -> torch.Tensor:
    """The basis pattern Σ_j g(a_j) G^(w−1−j) of every code c = Σ_j a_j K^(w−1−j) of a
    step of ``width`` qubits, long (K^w,).

    >>> basis_codes([0, 0, 1, 1], 2).tolist()
    [0, 0, 1, 1, 0, 0, 1, 1, 2, 2, 3, 3, 2, 2, 3, 3]
    """
    n_groups = max(bases) + 1
    patterns = itertools.product(bases, repeat=width)
    return torch.tensor([sum(g * n_groups ** (width - 1 - j) for j, g in enumerate(p)) for p in patterns])


def grouped_log_softmax(logits: torch.Tensor, codes: torch.Tensor) -> torch.Tensor:
    """ln q(c) = ln(1/G') + z_c − ln Σ_{c': codes[c'] = codes[c]} e^(z_c') over the last
    axis of ``logits`` z, for G' = max(codes) + 1 groups of equal probability 1/G' (module
    doc); each group's log-sum-exp is shifted by the group's own maximum (its logits have a
    free common offset the loss never sees, so groups may drift apart)."""
    n_groups = int(codes.max()) + 1
    codes = codes.to(logits.device)
    index = codes.expand(logits.shape)
    top = logits.new_full((*logits.shape[:-1], n_groups), -math.inf)
    top = top.scatter_reduce(-1, index, logits.detach(), "amax")
    shift = top.gather(-1, index)
    total = logits.new_zeros(top.shape).scatter_add(-1, index, (logits - shift).exp())
    return logits - shift - total.log().gather(-1, index) - math.log(n_groups)
