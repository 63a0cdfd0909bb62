"""Autoregressive recurrent network over qubits (Carrasquilla et al., Nat. Mach. Intell.
1, 155 (2019), Fig. 1b).

P(a) = Π_i p(a_i | a_<i): step i reads an embedding of a_{i−1} (a learned start token
for i = 0), updates a stacked GRU/LSTM and emits a softmax over the K outcomes.  Training
and ``log_prob`` run the cell over the whole sequence (teacher forcing: cuDNN on CUDA, the
``gru_cell`` kernel stepped time-major for a GRU on the CPU); ``sample`` carries the hidden
state step by step and returns the exact log-probability of the drawn strings as a by-product.

Presets
-------
``"paper"``: 3 stacked GRUs of 100 units, trained with batch 500, Adam lr 1e-3 and
gradient-norm clipping 1.0 as in the paper (constant learning rate).  The paper feeds
one-hot vectors; a learned embedding of size ≥ K contains that case (W_ih·E), so the
architecture class is the same.

``"default"``: 2 GRU layers × 64 units, embedding 16, 4 phase channels (below), Adam lr
3e-3 with a cosine decay to lr/100 over the run.  Chosen for fidelity per CPU second: it
trains several times faster than the paper's network (benchmarks/bench_scale.py), and on 100k Pauli-4 samples of the
50-qubit critical Ising chain it reached classical fidelity ≈ 0.994 after 2 epochs (shared
calibration notes); one layer (faster again) is too shallow to carry long-range
correlations through a single 64-unit state.  The peak lr was measured on that chain at a
fixed 1.8M sample passes: KL(P‖q) 0.008–0.014 at 1e-3, 0.003–0.004 at 3e-3.

Phase channels
--------------
With ``phases = D > 0`` the recurrent cell also reads cos φ_i and sin φ_i of D
accumulated phases φ_i = Σ_{j<i} θ(a_j) (cumulative sums, θ a learned K × D table).
Coherences between distant basis states enter P(a) only through long products of
single-site factors: for |GHZ⟩ = (|0…0⟩ + |1…1⟩)/√2,

    P(a) = ½ [Π_i ⟨0|M^{a_i}|0⟩ + Π_i ⟨1|M^{a_i}|1⟩] + Re Π_i ⟨0|M^{a_i}|1⟩,

and every marginal on fewer than N qubits is that of the incoherent mixture, so only the
last conditional carries the coherence, as an N-body parity-like function of a_<N. A
plain GRU sees an exponentially small gradient toward it and settles on the mixture
(quantum fidelity 0.50 for GHZ-6 with Pauli-6, 300k samples, 22 epochs); the phases
represent Π_i e^{iθ(a_i)} exactly, and the same network then reaches a quantum fidelity
of 0.997 (benchmarks/bench_ghz.py). The cost is 2D extra inputs per step. The ``paper``
preset has none, as in the paper.

The phase of that term is Σ_i arg⟨0|M^{a_i}|1⟩.  Given the POVM (``create_model(...,
povm=...)``, as ``qgen train`` does), channel 0 starts there, θ(a) = arg⟨0|M^a|1⟩
(:func:`povm_phases`), and the others at random.  For GHZ-8 with Pauli-6 (400k strings,
20 epochs) this start gives a quantum fidelity of 0.991, where random phases stayed at
the mixture (0.501): the coherence then only has to be weighted, not found.

Patches
-------
With ``patch = P > 1`` one cell step reads and emits P qubits at once (patched
autoregressive models: Sprague & Czischek, Commun. Phys. 7, 90 (2024)).  The network
runs ⌈N/P⌉ steps over patch codes c_s = Σ_j a_{sP+j} K^{P−1−j}: step s reads an
embedding of c_{s−1} and emits a softmax over the K^P outcomes of patch s, so

    P(a) = Π_s p(a_{sP} … a_{sP+P−1} | earlier patches)

is still exact and sampled exactly.  When P does not divide N the last patch is padded
with qubits that are summed out of its softmax.  The phase channels still add θ(a_i) for
every qubit.  A step costs about what a qubit-by-qubit step costs (the cell's matrix
products do not depend on K^P until the head), so training, ln q and sampling run ≈P×
faster for the same cell (measured: benchmarks/bench_scale.py, section ``plain``).  Per training
string the patched network learns a little less, so the default keeps P = 1
(benchmarks/bench_tfim50.py and bench_ghz.py with ``--patch 2``): on the critical
50-qubit chain, on one thread against the default's two, it reaches F_c 0.9958 vs 0.9966
within 2 minutes and KL(P‖q) 0.0046 vs 0.0025 within 10, and from 20,000 GHZ-50 Pauli-6
strings F_c reaches 0.989 vs 0.992.  Patches also shorten the coherence product of a cat
state: without phase channels a GRU with P = 2 reconstructs GHZ-6 (Pauli-6) with quantum
fidelity 0.963, against 0.503 a qubit at a time.

Example
-------
>>> m = RNNModel(n_qubits=5, n_outcomes=4, hidden=8, n_layers=1)
>>> x, lp = m.sample(3, generator=torch.Generator().manual_seed(1))
>>> torch.allclose(m.log_prob(x), lp, atol=1e-5)
True
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from qgen.measurements.povm import POVM

from .autoregressive import AutoregressiveModel
from .base import register_model

__all__ = ["RNNModel", "povm_phases"]

Hidden = torch.Tensor | tuple[torch.Tensor, torch.Tensor] | None  # a GRU's h, an LSTM's (h, c), or none yet

_CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}
_MAX_CODES = 4096  # largest softmax over the outcomes of one patch


def povm_phases(povm: POVM) -> list[float]:
    """arg⟨0|M^a|1⟩ for every outcome a (0 where the element has no 0–1 coherence); for a
    per-qubit POVM, the argument of the sum over the qubits (their typical phase).

    >>> from qgen.measurements import pauli6
    >>> [round(x, 3) for x in povm_phases(pauli6())]
    [0.0, 0.0, 0.0, 3.142, -1.571, 1.571]
    """
    coherences = povm.elements[..., 0, 1].reshape(-1, povm.n_outcomes).sum(axis=0)
    return [float(x) for x in np.angle(coherences)]


@register_model
class RNNModel(AutoregressiveModel):
    """Autoregressive GRU/LSTM model with exact likelihood.

    Parameters
    ----------
    n_qubits, n_outcomes : string length N and alphabet size K.
    cell : ``"gru"`` or ``"lstm"``.
    n_layers, hidden : depth and width of the stacked recurrent cell.
    embed : size of the learned embedding of the previous outcome.
    phases : number D of accumulated phase channels; see "Phase channels" (0, the
        constructor default, keeps checkpoints written before phases existed loadable).
    bases : group of every outcome for bits given bases (:class:`AutoregressiveModel`; None: off).
    """

    name = "rnn"
    shardable_loss = True
    presets = {
        "default": {"cell": "gru", "n_layers": 2, "hidden": 64, "embed": 16, "phases": 4},
        "paper": {"cell": "gru", "n_layers": 3, "hidden": 100, "embed": 16, "phases": 0},
    }
    train_presets = {
        "default": {"batch_size": 500, "lr": 3e-3, "grad_clip": 1.0, "schedule": "cosine"},
        "paper": {"batch_size": 500, "lr": 1e-3, "grad_clip": 1.0, "schedule": "constant"},
    }

    def __init__(
        self,
        n_qubits: int,
        n_outcomes: int,
        *,
        cell: str = "gru",
        n_layers: int = 2,
        hidden: int = 64,
        embed: int = 16,
        phases: int = 0,
        phase_init: list[float] | None = None,
        patch: int = 1,
        bases: list[int] | None = None,
    ) -> None:
        super().__init__(n_qubits, n_outcomes, cell=cell, n_layers=n_layers, hidden=hidden, embed=embed,
                         phases=phases, **({} if phase_init is None else {"phase_init": phase_init}),
                         **({} if patch == 1 else {"patch": patch}), bases=bases)
        if cell not in _CELLS:
            raise ValueError(f"unknown cell '{cell}'; choose one of {', '.join(_CELLS)}")
        if not isinstance(patch, int) or isinstance(patch, bool) or not 1 <= patch or n_outcomes**patch > _MAX_CODES:
            raise ValueError(f"patch must be an integer ≥ 1 with n_outcomes^patch ≤ {_MAX_CODES}, got {patch!r} "
                             f"for {n_outcomes} outcomes")
        self.patch = patch
        self.n_steps = -(-n_qubits // patch)  # ⌈N / patch⌉ network steps
        self.n_codes = n_outcomes**patch  # outcomes of one patch
        if phase_init is not None and (not phases or len(phase_init) != n_outcomes):
            raise ValueError(f"phase_init needs phases ≥ 1 and one angle per outcome ({n_outcomes}), "
                             f"got phases = {phases} and {len(phase_init)} angles")
        self.embedding = nn.Embedding(self.n_codes + 1, embed)  # row K^patch is the start token
        # θ ~ U(−π, π): a random start, so that the channels differ from one another
        self.theta = nn.Parameter(torch.rand(n_outcomes + 1, phases) * 2 * torch.pi - torch.pi) if phases else None
        if phase_init is not None:
            with torch.no_grad():
                self.theta[:n_outcomes, 0] = torch.tensor(phase_init, dtype=self.theta.dtype)
        self.rnn = _CELLS[cell](embed + 2 * phases, hidden, num_layers=n_layers, batch_first=True)
        self.head = nn.Linear(hidden, self.n_codes)
        self.register_buffer("_place", n_outcomes ** torch.arange(patch - 1, -1, -1), persistent=False)

    @staticmethod
    def povm_defaults(povm: POVM, config: dict) -> dict:
        """``bases`` (bits given bases, :class:`AutoregressiveModel`) and ``phase_init`` from
        the POVM when the model has phase channels: channel 0 starts at θ(a) = arg⟨0|M^a|1⟩,
        the phase each outcome adds to the coherence term of a cat state (see "Phase
        channels"); the other channels start at random."""
        phases = {"phase_init": povm_phases(povm)} if config.get("phases") else {}
        return AutoregressiveModel.povm_defaults(povm, config) | phases

    def _inputs(self, tokens: torch.Tensor, phi: torch.Tensor | None) -> torch.Tensor:
        """Cell input for (batch, steps) patch codes: their embedding, and with ``phases`` the
        cos/sin of the accumulated phases φ (batch, steps, phases) up to and including them."""
        e = self.embedding(tokens)
        return e if phi is None else torch.cat([e, torch.cos(phi), torch.sin(phi)], dim=-1)

    def _recur(self, inputs: torch.Tensor, state: Hidden = None) -> tuple[torch.Tensor, object]:
        """The stacked cell over inputs (B, T, I): (outputs (B, T, H), final state), as
        ``self.rnn(inputs, state)``.  A GRU on the CPU is stepped time-major with the
        ``gru_cell`` kernel (what ``nn.GRUCell`` runs), on ``self.rnn``'s own weights: the
        fused CPU ``nn.GRU`` runs one layer over all steps and then the next, and trains
        15–20 % slower here (benchmarks/bench_scale.py, section ``plain``).  CUDA keeps cuDNN."""
        if not isinstance(self.rnn, nn.GRU) or inputs.device.type != "cpu":
            return self.rnn(inputs, state)
        rnn = self.rnn
        weights = [[getattr(rnn, f"{w}_l{k}") for w in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
                   for k in range(rnn.num_layers)]
        h = list(inputs.new_zeros(rnn.num_layers, len(inputs), rnn.hidden_size) if state is None else state)
        outs = []
        for z in inputs.unbind(1):  # one backward stack, where slicing would zero-fill (B, T, I) per step
            for k, w in enumerate(weights):
                h[k] = z = torch.ops.aten.gru_cell(z, h[k], *w)
            outs.append(z)
        return torch.stack(outs, 1), torch.stack(h)

    def _start(self, batch: int) -> torch.Tensor:
        return torch.full((batch,), self.n_codes, dtype=torch.long, device=self.device)

    def _padded(self, x: torch.Tensor) -> torch.Tensor:
        """Outcomes (B, N) as (B, steps, patch), the last patch padded with outcome 0."""
        pad = self.n_steps * self.patch - self.n_qubits
        return nn.functional.pad(x, (0, pad)).reshape(len(x), self.n_steps, self.patch)

    def _last_width(self) -> int:
        """Qubits in the last patch (``patch`` unless it does not divide N)."""
        return self.n_qubits - (self.n_steps - 1) * self.patch

    def _pad_codes(self) -> int:
        """Outcomes of the last patch's padding qubits (1 when there are none)."""
        return self.n_outcomes ** (self.patch - self._last_width())

    def _last_logp(self, logits: torch.Tensor) -> torch.Tensor:
        """log p over the codes of the last patch's real qubits, its padding qubits summed
        out: p(a_real) = Σ_pad p(a_real, pad)."""
        return self._log_softmax(logits).unflatten(-1, (-1, self._pad_codes())).logsumexp(-1)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self.step_log_probs(x).sum(1)

    def step_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """ln p of every patch given the earlier ones, (B, steps), by teacher forcing."""
        x = self.check_outcomes(x)
        patches = self._padded(x)
        codes = (patches * self._place).sum(-1)  # (B, steps)
        inputs = torch.cat([self._start(len(x))[:, None], codes[:, :-1]], dim=1)
        phi = None
        if self.theta is not None:  # phase added by every input patch (never the padded last one): Σ θ(a)
            start = self.theta[self.n_outcomes].expand(len(x), 1, -1)
            phi = torch.cumsum(torch.cat([start, self.theta[patches[:, :-1]].sum(2)], dim=1), dim=1)
        out, _ = self._recur(self._inputs(inputs, phi))
        logits = self.head(out)
        lp = self._log_softmax(logits[:, :-1]).gather(-1, codes[:, :-1, None])[..., 0]
        last_code = codes[:, -1] // self._pad_codes()
        return torch.cat([lp, self._last_logp(logits[:, -1]).gather(-1, last_code[:, None])], 1)

    @property
    def step_widths(self) -> list[int]:
        return [self.patch] * (self.n_steps - 1) + [self._last_width()]

    def _begin(self, m: int):
        """(input code, hidden state, accumulated phases) before the first step."""
        phi = None if self.theta is None else self.theta[self.n_outcomes].expand(m, 1, -1)
        return self._start(m), None, phi

    def _step(self, state: tuple[torch.Tensor, Hidden, torch.Tensor | None], s: int):
        token, hidden, phi = state
        out, hidden = self._recur(self._inputs(token[:, None], phi), hidden)
        logits = self.head(out[:, 0])
        logp = self._last_logp(logits) if s == self.n_steps - 1 else self._log_softmax(logits)
        return logp, (token, hidden, phi)

    def _select(self, state: tuple[torch.Tensor, Hidden, torch.Tensor | None], rows: torch.Tensor):
        token, hidden, phi = state
        if isinstance(hidden, tuple):  # an LSTM's (h, c)
            hidden = tuple(h[:, rows] for h in hidden)
        elif hidden is not None:
            hidden = hidden[:, rows]
        return token[rows], hidden, None if phi is None else phi[rows]

    def _feed(self, state: tuple[torch.Tensor, Hidden, torch.Tensor | None], s: int, code: torch.Tensor):
        _, hidden, phi = state
        if phi is not None:  # the phase every qubit of the patch adds
            phi = phi + self.theta[code[:, None] // self._place % self.n_outcomes].sum(1)[:, None]
        return code, hidden, phi
