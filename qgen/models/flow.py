"""Normalizing flow on dequantized outcome strings (Carrasquilla et al., Nat. Mach.
Intell. 1, 155 (2019); NICE: Dinh et al., arXiv:1410.8516; RealNVP: Dinh et al.,
arXiv:1605.08803; dequantization: Theis et al., arXiv:1511.01844).

Continuous embedding.  Qubit i's outcome a_i ∈ {0 … K−1} becomes y_i = a_i + u_i with
u_i ~ U[0, 1), so the string a owns the unit cell a + [0, 1)^N of [0, K)^N.  The logit
z_i = ln s_i − ln(1 − s_i), s_i = y_i / K, maps the box onto ℝ^N, where an invertible
flow f (coupling layers) sends z to a standard normal ε = f(z).  The density of y is

    ln p(y) = ln N(f(z); 0, 1) + ln |det ∂f/∂z| − Σ_i ln[K s_i (1 − s_i)].

Coupling layers (checkerboard over the qubit index, alternating parity): the "passive"
half x_p conditions an MLP that transforms the "active" half,

    affine (RealNVP):  x_a ← x_a · exp(s(x_p)) + t(x_p),  ln|det| = Σ s(x_p);
    additive (NICE):   x_a ← x_a + t(x_p),                 ln|det| = 0.

What the model gives.  The discretized model P(a) = ∫_cell p(y) dy is normalised over
the K^N strings, but the integral is not available in closed form:

* ``log_density(y)``: the exact dequantized density ln p(y);
* ``elbo(x, n)``: ln P(a) ≥ E_u[ln p(a + u)] (Jensen; the proposal U[0,1)^N has density 1
  on the unit cell), averaged over n dequantization draws; ``loss`` is −mean ELBO with
  one draw from torch's global RNG, so the trainer's RNG checkpoint makes resume exact;
* ``log_prob(x)``: the importance-weighted estimate ln (1/S) Σ_s p(a + u_s) with
  S = ``n_importance`` draws — consistent (→ ln P(a) as S → ∞), its exponential unbiased
  for P(a); ``log_prob_estimate`` also returns its delta-method standard error.  The
  draws come from a generator seeded with ``seed`` on every call, so the same batch
  always gets the same estimate;
* ``sample``: ε ~ N(0, 1) → z = f⁻¹(ε) → y → a = ⌊y⌋; returns (a, None) because log q is
  not exact — callers (``qgen.evaluation``) then ask ``log_prob`` for the estimate.

Presets
-------
``"default"``: 8 affine coupling layers, MLP conditioners 2 × 128 hidden units, S = 32;
trained with AdamW lr 1e-3, cosine schedule, batch 500.

Example
-------
>>> m = FlowModel(n_qubits=3, n_outcomes=4, n_layers=2, hidden=8)
>>> x, lq = m.sample(5, generator=torch.Generator().manual_seed(0))
>>> x.shape, lq
(torch.Size([5, 3]), None)
>>> torch.equal(m.log_prob(x), m.log_prob(x))  # the estimate's draws use a fixed seed
True
>>> strings = torch.arange(4)[:, None]  # one qubit: Σ_a P̂(a) ≈ 1 for large S
>>> round(FlowModel(1, 4).log_prob_estimate(strings, n_importance=4096)[0].exp().sum().item(), 2)
1.0
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .base import GenerativeModel, register_model

__all__ = ["COUPLINGS", "FlowModel"]

COUPLINGS = ("affine", "additive")
_EPS = 1e-6  # keeps s = y/K inside (0, 1) so the logit stays finite
_CHUNK_ROWS = 1 << 16  # dequantized rows per flow evaluation in log_prob_estimate


class _Coupling(nn.Module):
    """One coupling layer; ``mask`` (N,) is 1 on the passive (conditioning) coordinates."""

    def __init__(self, mask: torch.Tensor, hidden: int, affine: bool) -> None:
        super().__init__()
        n = len(mask)
        self.register_buffer("mask", mask, persistent=False)
        self.affine = affine
        self.net = nn.Sequential(
            nn.Linear(n, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
            nn.Linear(hidden, (2 if affine else 1) * n),
        )
        nn.init.zeros_(self.net[-1].weight)  # the flow starts as the identity
        nn.init.zeros_(self.net[-1].bias)
        self.scale = nn.Parameter(torch.ones(n)) if affine else None

    def _shift_logscale(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(t, s) for the active coordinates; s = scale · tanh(raw) keeps the log-scale bounded."""
        out = self.net(z * self.mask)
        active = 1 - self.mask
        if not self.affine:
            return out * active, torch.zeros_like(z)
        t, raw = out.chunk(2, dim=-1)
        return t * active, self.scale * torch.tanh(raw) * active

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z → (f(z), ln|det ∂f/∂z| per row)."""
        t, s = self._shift_logscale(z)
        return z * s.exp() + t, s.sum(-1)

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        t, s = self._shift_logscale(z)  # the passive half is unchanged, so t, s are the same
        return (z - t) * (-s).exp()


@register_model
class FlowModel(GenerativeModel):
    """RealNVP/NICE flow on uniformly dequantized, logit-mapped outcome strings.

    likelihood: estimate (importance-weighted, S = ``n_importance`` samples).

    Parameters
    ----------
    n_qubits, n_outcomes : string length N and alphabet size K.
    coupling : ``"affine"`` (RealNVP) or ``"additive"`` (NICE, volume preserving).
    n_layers, hidden : number of coupling layers and width of their 2-hidden-layer MLPs.
    n_importance : S, dequantization draws per string in ``log_prob``.
    seed : seed of the generator behind ``log_prob``'s draws.
    """

    name = "flow"
    likelihood = "estimate"
    presets = {"default": {"coupling": "affine", "n_layers": 8, "hidden": 128, "n_importance": 32}}
    train_presets = {"default": {"batch_size": 500, "lr": 1e-3, "grad_clip": 1.0, "schedule": "cosine"}}

    def __init__(
        self, n_qubits: int, n_outcomes: int, *, coupling: str = "affine", n_layers: int = 8, hidden: int = 128,
        n_importance: int = 32, seed: int = 0,
    ) -> None:
        super().__init__(n_qubits, n_outcomes, coupling=coupling, n_layers=n_layers, hidden=hidden,
                         n_importance=n_importance, seed=seed)
        if coupling not in COUPLINGS:
            raise ValueError(f"unknown coupling '{coupling}'; choose one of {', '.join(COUPLINGS)}")
        if n_layers < 1 or n_importance < 1:
            raise ValueError(f"need n_layers ≥ 1 and n_importance ≥ 1, got {n_layers}, {n_importance}")
        parity = torch.arange(n_qubits) % 2
        self.layers = nn.ModuleList(
            _Coupling((parity == layer % 2).float(), hidden, coupling == "affine") for layer in range(n_layers)
        )

    def log_density(self, y: torch.Tensor) -> torch.Tensor:
        """Exact ln p(y) of dequantized strings y ∈ [0, K)^N, (B, N) float → (B,)."""
        k = self.n_outcomes
        s = (y / k).clamp(_EPS, 1 - _EPS)
        z = torch.log(s) - torch.log1p(-s)
        logdet = -(math.log(k) + torch.log(s) + torch.log1p(-s)).sum(-1)
        for layer in self.layers:
            z, ld = layer(z)
            logdet = logdet + ld
        return logdet - 0.5 * (z**2).sum(-1) - 0.5 * self.n_qubits * math.log(2 * math.pi)

    def _dequantized(self, x: torch.Tensor, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """ln p(a + u) for n uniform draws per string: (B, N) long → (n, B)."""
        x = self.check_outcomes(x).to(torch.get_default_dtype())
        u = torch.rand((n, *x.shape), generator=generator, device=x.device)
        return self.log_density((x + u).flatten(0, 1)).view(n, len(x))

    def elbo(self, x: torch.Tensor, n: int = 1, generator: torch.Generator | None = None) -> torch.Tensor:
        """Lower bound E_u[ln p(a + u)] ≤ ln P(a) from n draws (torch's RNG unless ``generator``) → (B,)."""
        return self._dequantized(x, n, generator).mean(0)

    def log_prob_estimate(
        self, x: torch.Tensor, n_importance: int | None = None, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Importance-weighted ln P̂(a) = ln (1/S) Σ_s p(a + u_s) and its standard error
        √(Var w / S) / mean w (delta method, w_s = p(a + u_s)); both (B,).

        S defaults to ``n_importance``; draws come from ``generator`` or, when None, from a
        fresh generator seeded with the model's ``seed`` (deterministic per batch)."""
        s = n_importance or self.config["n_importance"]
        if generator is None:
            generator = torch.Generator(device=self.device).manual_seed(self.config["seed"])
        per_chunk = max(1, _CHUNK_ROWS // max(len(x), 1))  # bounded memory: ≤ _CHUNK_ROWS flow rows at once
        logw = torch.cat([self._dequantized(x, min(per_chunk, s - i), generator) for i in range(0, s, per_chunk)])
        estimate = torch.logsumexp(logw, 0) - math.log(s)
        ratio = (logw - estimate).exp()  # w_s / mean w
        stderr = (ratio.var(0, correction=0) / s).sqrt()
        return estimate, stderr

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Importance-weighted estimate of ln P(a) with S = ``n_importance`` (see module doc)."""
        return self.log_prob_estimate(x)[0]

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        """−mean ELBO with one dequantization draw from torch's global RNG."""
        return -self.elbo(x).mean()

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None) -> tuple[torch.Tensor, None]:
        """Draw n strings: ε ~ N(0, 1) → f⁻¹ → y = K·sigmoid(z) → a = ⌊y⌋ (clipped to
        0…K−1).  Returns (outcomes (n, N), None): the model has no exact log q."""
        z = torch.randn((n, self.n_qubits), generator=generator, device=self.device)
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        y = self.n_outcomes * torch.sigmoid(z)
        return y.floor().long().clamp(0, self.n_outcomes - 1), None
