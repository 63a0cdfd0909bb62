"""Autoregressive model over qubits built from gated, dilated causal convolutions
(PixelCNN/WaveNet style: van den Oord et al., "Conditional image generation with PixelCNN
decoders", NeurIPS 2016; "WaveNet", arXiv:1609.03499).

P(a) = Π_i p(a_i | a_<i).  Position i reads h_i = E[a_{i−1}] + P_i, an embedding of the
previous outcome (a learned start token for i = 0) plus a learned position embedding, then
L gated residual layers

    z = tanh(W_f ∗_d h) ⊙ σ(W_g ∗_d h),    h ← h + W_res z,    s ← s + W_skip z,

where (W ∗_d h)_i = Σ_{j<k} W_j h_{i−j·d} is a causal convolution of kernel k and dilation
d (h at negative positions is zero: causal padding) and layer l has d_l = 2^(l mod cycle)
(1, 2, 4, …, restarted every ``cycle`` layers).  A head ReLU → linear → ReLU → linear maps
the skip sum s_i to the K logits of a_i.  The filter is evaluated as tanh(u) = 2σ(2u) − 1
with the factor 2 absorbed in W_f, so one sigmoid serves filter and gate (torch's CPU
``tanh`` costs ~6 sigmoids here).

Receptive field
---------------
Output i depends on inputs i−R+1 … i with R = 1 + (k−1) Σ_l d_l, i.e. on a_{i−R} … a_{i−1}.
It covers the whole prefix of every qubit when R ≥ N − 1; by default (``n_layers=None``)
the model takes the fewest layers that do so (kernel 2: ⌈log₂(N − 1)⌉, at least one).  With
fewer layers the model is still exactly normalised, but each conditional sees only the last
R outcomes, p(a_i | a_{i−R} … a_{i−1}): an order-R Markov chain, which cannot represent
correlations that need a longer memory (a cat state's coherence, for instance).

The position embedding is there because the conditionals of a finite open chain depend on
the site; a translation-invariant stack would have to infer i from where the start token
sits in its window.

Cost per step, against the RNN and the transformer
---------------------------------------------------
``log_prob`` (and training) runs every position at once (teacher forcing): each layer is
one (B·N, kC) × (kC, 2C) and one (B·N, C) × (C, C + S) matrix product, so the depth of the
computation is L ≈ log₂ N layers, where the RNN must step its cell N times one after the
other.  The transformer is also parallel over positions, but each of its layers costs
O(N²) in attention.  In sampling every model takes N steps (one qubit each).  With cached
activations (fast generation: Paine et al., arXiv:1611.09482) a conv step costs O(L k C²)
per string: each layer keeps a queue of its last (k−1)·d inputs, reads the ones at offsets
d, 2d, …, (k−1)d and pushes the new one.  The RNN's step costs O(n_layers · H²) (its one
hidden state is its whole memory), the transformer's O(n_layers (d² + i d)) at position i
(it attends to all i cached keys).  The conv's memory is a fixed set of queues holding
R − 1 activations per layer stack (Σ_l (k−1) d_l), not the whole history.

Presets
-------
``"default"``: 32 channels (residual and skip), kernel 2, the fewest layers covering N,
AdamW lr 3e-3 with a cosine decay, batch 500, clipping 1.  See benchmarks/bench_conv.py.

Example
-------
>>> m = ConvModel(n_qubits=5, n_outcomes=4, channels=8)
>>> m.dilations, m.receptive_field
([1, 2], 4)
>>> x, lp = m.sample(3, generator=torch.Generator().manual_seed(1))
>>> torch.allclose(m.log_prob(x), lp, atol=1e-5)
True
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .autoregressive import AutoregressiveModel
from .base import register_model

__all__ = ["ConvModel", "dilation_schedule"]


def dilation_schedule(n_qubits: int, kernel: int, n_layers: int | None, cycle: int | None) -> list[int]:
    """Dilations 2^(l mod cycle) of the layers (``cycle`` None: never restarted).  With
    ``n_layers`` None: the fewest layers whose receptive field 1 + (k−1) Σ_l d_l reaches
    N − 1 (at least one layer).

    >>> dilation_schedule(50, 2, None, None), dilation_schedule(20, 2, None, 3)
    ([1, 2, 4, 8, 16, 32], [1, 2, 4, 1, 2, 4, 1, 2, 4])
    """
    def dilation(layer: int) -> int:
        return 2 ** (layer if cycle is None else layer % cycle)

    if n_layers is not None:
        return [dilation(layer) for layer in range(n_layers)]
    out = [1]
    while 1 + (kernel - 1) * sum(out) < n_qubits - 1:
        out.append(dilation(len(out)))
    return out


class _GatedLayer(nn.Module):
    """One gated residual layer: z = (2σ(W_f ∗_d h) − 1) ⊙ σ(W_g ∗_d h), then W_res z and
    W_skip z (``skip`` > 0).  The last layer of a stack with a skip path has no W_res:
    nothing reads its residual stream."""

    def __init__(self, channels: int, skip: int, kernel: int, dilation: int, last: bool) -> None:
        super().__init__()
        self.kernel, self.dilation = kernel, dilation
        self.split = [0 if last and skip else channels, skip]  # residual update, skip term
        self.conv = nn.Linear(kernel * channels, 2 * channels)  # taps h_{i−(k−1)d} … h_i → filter, gate
        self.out = nn.Linear(channels, sum(self.split))

    def _gate(self, taps: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        f, g = torch.sigmoid(self.conv(taps)).chunk(2, dim=-1)
        res, skip = self.out((2 * f - 1) * g).split(self.split, dim=-1)
        return (res if self.split[0] else None), (skip if self.split[1] else None)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """All positions of h (B, N, C) at once → (residual update, skip term), None where absent."""
        n = h.shape[1]
        taps = [F.pad(h, (0, 0, j * self.dilation, 0))[:, :n] for j in range(self.kernel - 1, 0, -1)]
        return self._gate(torch.cat([*taps, h], dim=-1))

    def step(self, h: torch.Tensor, queue: torch.Tensor, i: int) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """Position i alone, h (m, C): read the inputs at offsets (k−1)d … d from the ring
        buffer ``queue`` ((k−1)·d, m, C; slot p mod its length holds input p, zeros before
        the first write), then store h in slot i (the one read for offset (k−1)d)."""
        size = len(queue)
        taps = [queue[(i - j * self.dilation) % size] for j in range(self.kernel - 1, 0, -1)]
        out = self._gate(torch.cat([*taps, h], dim=-1))
        queue[i % size] = h
        return out


@register_model
class ConvModel(AutoregressiveModel):
    """Autoregressive gated causal-convolution network with exact likelihood and cached
    sampling.

    Parameters
    ----------
    n_qubits, n_outcomes : string length N and alphabet size K.
    channels : width C of the embedding and the residual stream.
    skip : width S of the skip sum and the head (``channels`` when None; 0: no skip path,
        the head reads the residual stream).
    kernel : convolution kernel size k ≥ 2.
    n_layers : number of gated layers; None takes the fewest covering N (see "Receptive field").
    cycle : dilations restart at 1 every ``cycle`` layers (None: 1, 2, 4, … throughout).
    bases : group of every outcome for bits given bases (:class:`AutoregressiveModel`; None: off).
    """

    name = "conv"
    shardable_loss = True
    presets = {"default": {"channels": 32, "kernel": 2}}
    train_presets = {"default": {"batch_size": 500, "lr": 3e-3, "grad_clip": 1.0, "schedule": "cosine"}}

    def __init__(
        self, n_qubits: int, n_outcomes: int, *, channels: int = 32, skip: int | None = None, kernel: int = 2,
        n_layers: int | None = None, cycle: int | None = None, bases: list[int] | None = None,
    ) -> None:
        super().__init__(n_qubits, n_outcomes, channels=channels, skip=skip, kernel=kernel, n_layers=n_layers,
                         cycle=cycle, bases=bases)
        for what, value, low in (("channels", channels, 1), ("skip", skip, 0), ("kernel", kernel, 2),
                                 ("n_layers", n_layers, 1), ("cycle", cycle, 1)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
                raise ValueError(f"{what} must be an integer ≥ {low}, got {value!r}")
        self.dilations = dilation_schedule(n_qubits, kernel, n_layers, cycle)
        self.receptive_field = 1 + (kernel - 1) * sum(self.dilations)
        skip = channels if skip is None else skip
        self.skip = skip
        self.embedding = nn.Embedding(n_outcomes + 1, channels)  # row K is the start token
        self.position = nn.Embedding(n_qubits, channels)
        self.layers = nn.ModuleList(_GatedLayer(channels, skip, kernel, d, last=k == len(self.dilations) - 1)
                                    for k, d in enumerate(self.dilations))
        width = skip or channels  # the head reads the skip sum, or the residual stream without one
        self.hidden = nn.Linear(width, width)
        self.head = nn.Linear(width, n_outcomes)

    def _layers(self, h: torch.Tensor, run: Callable[..., tuple[torch.Tensor | None, torch.Tensor | None]]
                ) -> torch.Tensor:
        """ln p of the next outcome from the inputs h, ``run(k, layer, h)`` giving layer k's
        (residual update, skip term)."""
        s = 0
        for k, layer in enumerate(self.layers):
            res, skip = run(k, layer, h)
            if skip is not None:
                s = s + skip
            if res is not None:
                h = h + res
        return self._log_softmax(self.head(torch.relu(self.hidden(torch.relu(s if self.skip else h)))))

    def conditionals(self, x: torch.Tensor) -> torch.Tensor:
        """ln p(a_i = c | a_<i) of strings x (B, N) for every position and outcome → (B, N, K),
        all positions in one pass (teacher forcing)."""
        x = self.check_outcomes(x)
        inputs = torch.cat([torch.full_like(x[:, :1], self.n_outcomes), x[:, :-1]], dim=1)
        return self._layers(self.embedding(inputs) + self.position.weight, lambda k, layer, h: layer(h))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_outcomes(x)
        return self.conditionals(x).gather(-1, x[..., None]).squeeze(-1).sum(-1)

    def _begin(self, m: int):
        """(input token, every layer's ring buffer of past inputs) before the first position."""
        c = self.embedding.embedding_dim
        queues = [torch.zeros((layer.kernel - 1) * layer.dilation, m, c, device=self.device) for layer in self.layers]
        return torch.full((m,), self.n_outcomes, dtype=torch.long, device=self.device), queues

    def _step(self, state: tuple[torch.Tensor, list[torch.Tensor]], i: int):
        token, queues = state
        h = self.embedding(token) + self.position.weight[i]
        return self._layers(h, lambda k, layer, h: layer.step(h, queues[k], i)), state

    def _select(self, state: tuple[torch.Tensor, list[torch.Tensor]], rows: torch.Tensor):
        token, queues = state
        return token[rows], [q[:, rows] for q in queues]

    def _feed(self, state: tuple[torch.Tensor, list[torch.Tensor]], i: int, code: torch.Tensor):
        return code, state[1]
