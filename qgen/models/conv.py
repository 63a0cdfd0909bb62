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
the skip sum s_i to the K logits of a_i.

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
    """One gated residual layer: z = tanh(W_f ∗_d h) ⊙ σ(W_g ∗_d h), then W_res z (absent in
    the last layer, whose residual stream nothing reads) and W_skip z."""

    def __init__(self, channels: int, skip: int, kernel: int, dilation: int, last: bool) -> None:
        super().__init__()
        self.kernel, self.dilation, self.skip = kernel, dilation, skip
        self.conv = nn.Linear(kernel * channels, 2 * channels)  # taps h_{i−(k−1)d} … h_i, filter and gate
        self.out = nn.Linear(channels, skip + (0 if last else channels))

    def _gate(self, taps: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        f, g = self.conv(taps).chunk(2, dim=-1)
        y = self.out(torch.tanh(f) * torch.sigmoid(g))
        return (None if y.shape[-1] == self.skip else y[..., self.skip:]), y[..., : self.skip]

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor]:
        """All positions of h (B, N, C) at once → (residual update or None, skip term)."""
        n = h.shape[1]
        taps = [F.pad(h, (0, 0, j * self.dilation, 0))[:, :n] for j in range(self.kernel - 1, 0, -1)]
        return self._gate(torch.cat([*taps, h], dim=-1))

    def step(self, h: torch.Tensor, queue: torch.Tensor, i: int) -> tuple[torch.Tensor | None, torch.Tensor]:
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
    skip : width S of the skip sum and the head (``channels`` when None).
    kernel : convolution kernel size k ≥ 2.
    n_layers : number of gated layers; None takes the fewest covering N (see "Receptive field").
    cycle : dilations restart at 1 every ``cycle`` layers (None: 1, 2, 4, … throughout).
    """

    name = "conv"
    shardable_loss = True
    presets = {"default": {"channels": 32, "kernel": 2}}
    train_presets = {"default": {"batch_size": 500, "lr": 3e-3, "grad_clip": 1.0, "schedule": "cosine"}}

    def __init__(
        self, n_qubits: int, n_outcomes: int, *, channels: int = 32, skip: int | None = None, kernel: int = 2,
        n_layers: int | None = None, cycle: int | None = None,
    ) -> None:
        super().__init__(n_qubits, n_outcomes, channels=channels, skip=skip, kernel=kernel, n_layers=n_layers,
                         cycle=cycle)
        for what, value, low in (("channels", channels, 1), ("skip", skip, 1), ("kernel", kernel, 2),
                                 ("n_layers", n_layers, 1), ("cycle", cycle, 1)):
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < low):
                raise ValueError(f"{what} must be an integer ≥ {low}, got {value!r}")
        self.dilations = dilation_schedule(n_qubits, kernel, n_layers, cycle)
        self.receptive_field = 1 + (kernel - 1) * sum(self.dilations)
        skip = channels if skip is None else skip
        self.embedding = nn.Embedding(n_outcomes + 1, channels)  # row K is the start token
        self.position = nn.Embedding(n_qubits, channels)
        self.layers = nn.ModuleList(_GatedLayer(channels, skip, kernel, d, last=k == len(self.dilations) - 1)
                                    for k, d in enumerate(self.dilations))
        self.hidden = nn.Linear(skip, skip)
        self.head = nn.Linear(skip, n_outcomes)

    def _logp(self, s: torch.Tensor) -> torch.Tensor:
        return torch.log_softmax(self.head(torch.relu(self.hidden(torch.relu(s)))), dim=-1)

    def conditionals(self, x: torch.Tensor) -> torch.Tensor:
        """ln p(a_i = c | a_<i) of strings x (B, N) for every position and outcome → (B, N, K),
        all positions in one pass (teacher forcing)."""
        x = self.check_outcomes(x)
        inputs = torch.cat([torch.full_like(x[:, :1], self.n_outcomes), x[:, :-1]], dim=1)
        h = self.embedding(inputs) + self.position.weight
        s = 0
        for layer in self.layers:
            res, skip = layer(h)
            s = s + skip
            if res is not None:
                h = h + res
        return self._logp(s)

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        x = self.check_outcomes(x)
        return self.conditionals(x).gather(-1, x[..., None]).squeeze(-1).sum(-1)

    def _begin(self, m: int):
        """(input token, every layer's ring buffer of past inputs) before the first position."""
        c = self.embedding.embedding_dim
        queues = [torch.zeros((layer.kernel - 1) * layer.dilation, m, c, device=self.device) for layer in self.layers]
        return torch.full((m,), self.n_outcomes, dtype=torch.long, device=self.device), queues

    def _step(self, state, i: int):
        token, queues = state
        h = self.embedding(token) + self.position.weight[i]
        s = 0
        for layer, queue in zip(self.layers, queues):
            res, skip = layer.step(h, queue, i)
            s = s + skip
            if res is not None:
                h = h + res
        return self._logp(s), state

    def _feed(self, state, i: int, code: torch.Tensor):
        return code, state[1]
