"""Restricted Boltzmann machine over outcome strings (Smolensky 1986; Hinton, Neural Comput.
14, 1771 (2002)), with K-valued categorical visible units (Salakhutdinov, Mnih & Hinton,
ICML 2007) and binary hidden units.

Visible unit i holds the outcome a_i ∈ {0 … K−1} (one-hot), hidden unit j is h_j ∈ {0, 1};
weights W[j, i, a], visible biases b[i, a], hidden biases c_j:

    E(a, h) = −Σ_i b[i, a_i] − Σ_j c_j h_j − Σ_{j,i} h_j W[j, i, a_i],
    F(a) = −Σ_i b[i, a_i] − Σ_j softplus(θ_j(a)),   θ_j(a) = c_j + Σ_i W[j, i, a_i],
    P(a) = e^{−F(a)} / Z,   ln Z = ln Σ_h e^{c·h} Π_i Σ_a e^{b[i, a] + Σ_j h_j W[j, i, a]}.

Likelihood.  −F(a) is exact at any size; ln Z is summed exactly over the cheaper of the
2^{n_h} hidden or K^N visible configurations when that has at most ``exact_terms`` (2^20)
terms (batched, log-sum-exp, float64): the instance's ``likelihood`` is then ``"exact"``.
Otherwise ln Z is estimated by annealed importance sampling (:mod:`qgen.models._ais`;
Salakhutdinov & Murray, ICML 2008) from the product of the persistent chains' one-site
frequencies, with ``ais_chains`` chains, ``ais_betas`` temperatures and the seed
``ais_seed``: ``likelihood`` is ``"estimate"`` and ``log_partition()`` returns the
estimate with its standard error.  ``likelihood`` thus depends on the instance (an
instance attribute shadowing the class default).  The value is cached and recomputed when
any weight (or, for AIS, the chains) changes.  ``log_prob(x) = −F(x) − ln Z``; with
gradients enabled and ``gradient="exact"`` it is differentiable in ln Z too, otherwise ln Z
enters as a constant (its gradient is what PCD estimates).

Training.  ∂NLL/∂θ = E_data[∂F/∂θ] − E_model[∂F/∂θ] (Hinton 2002), chosen by ``gradient``:

* ``"exact"``: the model term from the exact sum (autograd of ln Z), the loss is the NLL;
* ``"pcd"``: persistent contrastive divergence (Tieleman, ICML 2008): ``n_chains`` Gibbs
  chains, kept in the ``chains`` buffer (so checkpoints resume them exactly), advance
  ``gibbs_steps`` sweeps per batch, and the loss is the surrogate F̄(batch) − F̄(chains),
  whose gradient is the PCD estimate.  It is not an NLL: at equilibrium it is the
  cross-entropy minus the model's entropy;
* ``"auto"`` (default): exact when the exact sum has ≤ 2^12 terms, else PCD.

The trainer logs ``loss`` as ``train_nll`` under ``"exact"`` (the batch NLL) and as
``train_pcd_surrogate`` under ``"pcd"`` (``loss_name`` says which), with
``train_free_energy_data`` and ``train_free_energy_chains`` beside it in ``metrics.jsonl``
(``training_step`` below: its own step, to log those).  ``val_nll`` is always the NLL
(exact or AIS ln Z).

Sampling.  Block Gibbs, h | a ~ Bernoulli(σ(θ(a))) then a_i | h ~ softmax_a(b[i, a] +
Σ_j h_j W[j, i, a]), on up to ``sample_chains`` chains, ``burn_in`` sweeps, then one string
every ``thin`` sweeps (at least 16 per chain).  When ln Z is exact the chains start from
exact independent draws of P (h from its enumerated marginal p(h) ∝ Σ_a e^{−E(a, h)}, then
a | h; or a from the enumerated P), in equilibrium, so without burn-in: each mode of a
multimodal P (GHZ) then holds its share of the chains, which local Gibbs moves between
modes could take arbitrarily long to establish.  Otherwise (or with ``exact_start=False``)
they start from uniform random strings and run the burn-in first.
``sample`` returns the strings and their ln P (exact or estimated, as ``log_prob``), and
sets ``last_sampling``: chains, draws, ``ess``, ``tau`` and ``rhat`` of the worst of the
statistics F(a) and σ(θ_j(a)) for the 16 hidden units of largest ‖W_j‖, by the
multi-chain estimator of :mod:`qgen.models._ess` (chains in different modes lower the ESS
and raise R̂ above 1; anticorrelated draws can give ESS > draws).  Error bars that treat
the n strings as independent should use ``ess`` instead of n.

Presets
-------
``"default"``: n_h = N hidden units (ln Z exact up to N = 20 for Pauli-4), PCD with 500
chains and k = 10, sampler 1,000 chains thinned by 10; AdamW lr 1e-2, batch 500, cosine
schedule, no clipping.  On 40,000 Pauli-4 strings, 2 minutes of one loaded CPU thread
(benchmarks/bench_rbm.py, RNN beside it): GHZ-6 F_c 0.9985, KL(P‖q) 0.003 (RNN 0.9980,
0.006), TFIM-6 0.9958, 0.015 (RNN 0.9992, 0.005) with the exact gradient; GHZ-20 0.974,
0.069 and TFIM-20 0.979, 0.082 with PCD (RNN 0.997, 0.010 and 0.996, 0.014).  lr 3e-3 or
3e-2, batch 1,000 or 2,000 chains did not do better at N = 20; at N ≤ 10 with the exact
gradient a higher lr (3e-2 to 1e-1) does.  At N = 6 ρ_q stays near the incoherent GHZ
mixture (exact quantum fidelity 0.51; KL(P‖mixture) is only 0.002).

qgen and QuCumber.  QuCumber's RBMs (Beach et al., SciPost Phys. 7, 009 (2019); Torlai et
al., Nat. Phys. 14, 447 (2018)) model a wavefunction ψ(σ) = √p_λ(σ) e^{iφ_μ(σ)/2} over
computational-basis spins σ ∈ {0, 1}^N: an amplitude RBM and a phase RBM, trained from
projective measurements in rotated bases, each rotated amplitude a sum over the 2^m basis
states of the m rotated qubits; density matrices need a purification RBM.  This RBM models
the POVM outcome distribution P(a) = Tr[(M^{a_1} ⊗ … ⊗ M^{a_N}) ρ] itself, as Carrasquilla
et al., Nat. Mach. Intell. 1, 155 (2019) do with autoregressive models.  Consequences:

* what is learned is a positive, normalised classical distribution over outcome strings,
  fit by plain maximum likelihood to the strings (no basis rotations, no complex numbers;
  Pauli-6 data are random Pauli bases), and mixed states need nothing extra;
* the state is read off linearly through the dual frame, ρ_q = Σ_a P(a) D^{a_1} ⊗ … ⊗
  D^{a_N} (:mod:`qgen.measurements.povm`), and observables as ⟨O⟩ = E_{a∼P}[Tr(O D^{a_1} ⊗ … ⊗ D^{a_N})]
  from samples;
* positivity of P does not make ρ_q positive semidefinite: a P outside the Born-rule set
  gives an unphysical ρ_q (``qgen.scores.enumeration.exact_scores`` reports its smallest eigenvalue),
  whereas ψ-RBMs are physical (and pure) by construction;
* coherences are carried by small signed terms of P (e.g. Re Π_i ⟨0|M^{a_i}|1⟩ for GHZ),
  which a mixture of products e^{−F} must approximate.

Example
-------
>>> _ = torch.manual_seed(0)
>>> m = RBMModel(n_qubits=4, n_outcomes=4, n_hidden=3)
>>> m.likelihood, m.gradient, m.log_partition()[1]
('exact', 'exact', 0.0)
>>> x, lp = m.sample(64, generator=torch.Generator().manual_seed(0))
>>> x.shape, bool(torch.allclose(lp, m.log_prob(x)))
(torch.Size([64, 4]), True)
>>> sorted(m.last_sampling)
['burn_in', 'chains', 'draws', 'ess', 'rhat', 'start', 'tau', 'thin']
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from ._ais import ais_log_partition, free_energy, gibbs_sweep, hidden_field, visible_given_hidden
from ._ess import effective_sample_size
from .base import GenerativeModel, register_model

__all__ = ["RBMModel", "GRADIENTS", "AUTO_EXACT_GRADIENT_TERMS"]

GRADIENTS = ("auto", "exact", "pcd")
AUTO_EXACT_GRADIENT_TERMS = 2**12
"""``gradient="auto"`` uses the exact gradient when the exact ln Z sum has at most this many terms."""
_BLOCK = 2**18  # numbers per block of an exact sum or of the diagnostics (cache-sized: 2× faster than 2^22)
_MIN_DRAWS, _TRACED_UNITS = 16, 16


def _digits(codes: torch.Tensor, base: int, width: int) -> torch.Tensor:
    """Configurations numbered ``codes`` (B,) written in ``base``, most significant first → (B, width)."""
    return codes[:, None] // base ** torch.arange(width - 1, -1, -1, device=codes.device) % base


def _check_ints(minimum: int, **values: Any) -> None:
    for key, v in values.items():
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < minimum:
            raise ValueError(f"RBM {key} must be an integer ≥ {minimum}, got {v!r}")


@register_model
class RBMModel(GenerativeModel):
    """Categorical-visible, binary-hidden RBM; exact or AIS likelihood, exact or PCD gradient.

    Parameters
    ----------
    n_qubits, n_outcomes : string length N and alphabet size K.
    n_hidden : hidden units n_h (None: N).
    gradient : ``"auto"``, ``"exact"`` or ``"pcd"`` (module docstring).
    gibbs_steps : PCD sweeps per batch k.
    n_chains : persistent PCD chains.
    exact_terms : largest exact ln Z sum (terms); beyond it ln Z is estimated by AIS.
    ais_chains, ais_betas, ais_seed : AIS chains, temperatures and seed.
    sample_chains, burn_in, thin : Gibbs sampler of ``sample``.
    """

    name = "rbm"
    likelihood = "estimate"  # class default: every instance sets its own, "exact" or "estimate"
    own_training_step = True  # to log the free energies beside the loss
    presets = {
        "default": {"n_hidden": None, "gradient": "auto", "gibbs_steps": 10, "n_chains": 500, "exact_terms": 2**20,
                    "ais_chains": 256, "ais_betas": 2000, "ais_seed": 0, "sample_chains": 1000, "burn_in": 500,
                    "thin": 10},
    }
    train_presets = {"default": {"batch_size": 500, "lr": 1e-2, "grad_clip": None, "schedule": "cosine"}}

    def __init__(
        self,
        n_qubits: int,
        n_outcomes: int,
        *,
        n_hidden: int | None = None,
        gradient: str = "auto",
        gibbs_steps: int = 10,
        n_chains: int = 500,
        exact_terms: int = 2**20,
        ais_chains: int = 256,
        ais_betas: int = 2000,
        ais_seed: int = 0,
        sample_chains: int = 1000,
        burn_in: int = 500,
        thin: int = 10,
    ) -> None:
        n_hidden = n_qubits if n_hidden is None else n_hidden
        super().__init__(n_qubits, n_outcomes, n_hidden=n_hidden, gradient=gradient, gibbs_steps=gibbs_steps,
                         n_chains=n_chains, exact_terms=exact_terms, ais_chains=ais_chains, ais_betas=ais_betas,
                         ais_seed=ais_seed, sample_chains=sample_chains, burn_in=burn_in, thin=thin)
        _check_ints(1, n_hidden=n_hidden, gibbs_steps=gibbs_steps, n_chains=n_chains, exact_terms=exact_terms,
                       ais_chains=ais_chains, ais_betas=ais_betas, sample_chains=sample_chains, thin=thin)
        _check_ints(0, burn_in=burn_in, ais_seed=ais_seed)
        if gradient not in GRADIENTS:
            raise ValueError(f"unknown RBM gradient '{gradient}'; choose one of {', '.join(GRADIENTS)}")
        self.n_hidden, self.gibbs_steps, self.exact_terms = n_hidden, gibbs_steps, exact_terms
        self.ais_chains, self.ais_betas, self.ais_seed = ais_chains, ais_betas, ais_seed
        self.sample_chains, self.burn_in, self.thin = sample_chains, burn_in, thin
        self.weight = nn.Parameter(0.01 * torch.randn(n_hidden, n_qubits, n_outcomes))
        self.visible_bias = nn.Parameter(torch.zeros(n_qubits, n_outcomes))
        self.hidden_bias = nn.Parameter(torch.zeros(n_hidden))
        self.register_buffer("chains", torch.randint(n_outcomes, (n_chains, n_qubits)))
        sums = {"hidden": 2**n_hidden, "visible": n_outcomes**n_qubits}
        side = min(sums, key=sums.__getitem__)
        self.exact_side: str | None = side if sums[side] <= exact_terms else None
        """``"hidden"`` or ``"visible"``: the sum that gives the exact ln Z; None: AIS."""
        self.likelihood = "exact" if self.exact_side else "estimate"
        if gradient == "exact" and self.exact_side is None:
            raise ValueError(f"the exact RBM gradient needs an exact ln Z: min(2^{n_hidden}, {n_outcomes}^{n_qubits}) "
                             f"terms exceed exact_terms = {exact_terms}")
        if gradient == "auto":
            gradient = "exact" if self.exact_side and sums[side] <= AUTO_EXACT_GRADIENT_TERMS else "pcd"
        self.gradient = gradient
        self.loss_name = "nll" if gradient == "exact" else "pcd_surrogate"
        self.last_sampling: dict[str, Any] | None = None
        """Diagnostics of the latest ``sample`` call (module docstring)."""
        self._log_z_cache: tuple[Any, ...] | None = None  # (method, weights, (ln Z, error), log weights)

    def _parts(self, dtype: torch.dtype | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return tuple(p if dtype is None else p.to(dtype) for p in (self.weight, self.visible_bias, self.hidden_bias))

    def free_energy(self, x: torch.Tensor) -> torch.Tensor:
        """F(a) for outcome strings x (B, N) → (B,); −F is the exact unnormalised ln P."""
        return free_energy(self.check_outcomes(x), *self._parts())

    # ------------------------------------------------------------ partition function

    def _log_weights(self, side: str, dtype: torch.dtype) -> torch.Tensor:
        """Unnormalised ln-probabilities of every configuration of one side, numbered as
        :func:`_digits` writes them: −F(a) of each visible string (``side="visible"``) or
        ln Σ_a e^{−E(a, h)} = c·h + Σ_i ln Σ_a e^{b[i, a] + Σ_j h_j W[j, i, a]} of each hidden
        state; computed in blocks, differentiable."""
        w, b, c = self._parts(dtype)
        n_h, n, k = w.shape
        if side == "visible":
            total, step = k**n, max(1, _BLOCK // (n * n_h))
            terms = lambda codes: -free_energy(_digits(codes, k, n), w, b, c)  # noqa: E731
        else:
            total, step = 2**n_h, max(1, _BLOCK // (n * k))

            def terms(codes: torch.Tensor) -> torch.Tensor:
                h = _digits(codes, 2, n_h).to(dtype)
                return h @ c + torch.logsumexp(b + (h @ w.view(n_h, n * k)).view(len(h), n, k), -1).sum(-1)

        return torch.cat([terms(torch.arange(lo, min(lo + step, total), device=w.device))
                          for lo in range(0, total, step)])

    def _ais_base(self) -> torch.Tensor:
        """Normalised log one-site frequencies of the persistent chains (one pseudo-count each)."""
        counts = nn.functional.one_hot(self.chains, self.n_outcomes).sum(0).double() + 1
        return (counts / counts.sum(-1, keepdim=True)).log()

    @torch.no_grad()
    def log_partition(self, method: str | None = None, seed: int | None = None) -> tuple[float, float]:
        """(ln Z, standard error) in float64.  ``method``: ``"hidden"`` or ``"visible"``
        (exact sums, error 0; refused beyond ``exact_terms`` terms), ``"ais"`` (estimate
        from ``seed``, default ``ais_seed``), or None: the exact sum when there is one,
        else AIS.  Cached until a weight or the chains change."""
        method = method or self.exact_side or "ais"
        if method not in ("hidden", "visible", "ais"):
            raise ValueError(f"unknown ln Z method '{method}'; choose hidden, visible or ais")
        size = {"hidden": 2**self.n_hidden, "visible": self.n_outcomes**self.n_qubits}.get(method, 0)
        if size > self.exact_terms:
            raise ValueError(f"the {method} sum has {size:.3g} terms, more than exact_terms = {self.exact_terms}")
        tag = (method, self.ais_seed if seed is None else seed) if method == "ais" else (method, None)
        key = torch.cat([t.detach().double().flatten() for t in (*self._parts(), self.chains)])
        cache = self._log_z_cache
        if cache is not None and cache[0] == tag and torch.equal(cache[1], key):
            return cache[2]
        log_w = None
        if method == "ais":
            gen = torch.Generator(device=self.device).manual_seed(tag[1])
            value = ais_log_partition(*self._parts(torch.float64), self._ais_base(), self.ais_chains, self.ais_betas,
                                      gen)
        else:
            log_w = self._log_weights(method, torch.float64)
            value = (float(torch.logsumexp(log_w, 0)), 0.0)
        self._log_z_cache = (tag, key, value, log_w)
        return value

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """ln P(x) = −F(x) − ln Z → (B,) (see ``likelihood``)."""
        neg_f = -self.free_energy(x)
        if self.gradient == "exact" and torch.is_grad_enabled() and self.weight.requires_grad:
            return neg_f - torch.logsumexp(self._log_weights(self.exact_side, neg_f.dtype), 0)
        return neg_f - self.log_partition()[0]

    # ------------------------------------------------------------ training

    def objective(self, x: torch.Tensor, generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """``{"loss": …}``, differentiable, whose gradient is the training gradient (module
        docstring); under PCD also the two mean free energies, after advancing the chains
        (random numbers from ``generator``, torch's global RNG when None)."""
        if self.gradient == "exact":
            return {"loss": -self.log_prob(x).mean()}
        x = self.check_outcomes(x)
        with torch.no_grad():
            chains = self.chains
            for _ in range(self.gibbs_steps):
                chains = gibbs_sweep(chains, *self._parts(), generator)
            self.chains.copy_(chains)
        f_data, f_chains = self.free_energy(x).mean(), self.free_energy(self.chains).mean()
        return {"loss": f_data - f_chains, "free_energy_data": f_data, "free_energy_chains": f_chains}

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The NLL (exact gradient) or the PCD surrogate F̄(x) − F̄(chains) (advances the chains)."""
        return self.objective(x, generator)["loss"]

    def training_step(self, x: torch.Tensor, optimizers: list[torch.optim.Optimizer], step: int,
                      grad_clip: float | None) -> dict[str, torch.Tensor]:
        """The trainer's hook: one optimizer step on ``objective(x)``; returns its terms."""
        (opt,) = optimizers
        terms = self.objective(x)
        opt.zero_grad(set_to_none=True)
        terms["loss"].backward()
        if grad_clip:
            nn.utils.clip_grad_norm_(self.parameters(), grad_clip)
        opt.step()
        return {k: v.detach() for k, v in terms.items()}

    # ------------------------------------------------------------ sampling

    def _exact_draws(self, m: int, generator: torch.Generator | None) -> torch.Tensor:
        """m independent draws from P through the enumerated side of the exact ln Z: a ~ P
        directly, or h ~ p(h) ∝ Σ_a e^{−E(a, h)} and then a | h."""
        self.log_partition()
        log_w = self._log_z_cache[3]
        codes = torch.multinomial((log_w - log_w.max()).exp(), m, replacement=True, generator=generator)
        if self.exact_side == "visible":
            return _digits(codes, self.n_outcomes, self.n_qubits)
        w, b, _ = self._parts()
        return visible_given_hidden(_digits(codes, 2, self.n_hidden).to(w.dtype), w, b, generator)

    @torch.no_grad()
    def sample(
        self, n: int, generator: torch.Generator | None = None, *, exact_start: bool = True, given: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw n strings by block Gibbs (module docstring), the chains started from exact
        draws when ln Z is exact and ``exact_start``, else from uniform random strings;
        reproducible for a given generator on the model's device.  Returns (outcomes (n, N),
        ln P (n,)) and sets ``last_sampling``.  With ``given``: (outcomes, ln q(free | given))
        from ``sample_given`` (enumeration; exact when ln Z is)."""
        if given is not None:
            return self.sample_given(self.check_given(given, n), generator)
        if n <= 0:
            return (torch.empty((0, self.n_qubits), dtype=torch.long, device=self.device),
                    torch.empty(0, device=self.device))
        n_chains = min(self.sample_chains, max(1, n // _MIN_DRAWS))
        draws = -(-n // n_chains)
        parts = self._parts()
        start = "exact" if exact_start and self.exact_side else "uniform"
        if start == "exact":  # already in equilibrium, which Gibbs sweeps preserve: no burn-in
            x, burn_in = self._exact_draws(n_chains, generator), 0
        else:
            x = torch.randint(self.n_outcomes, (n_chains, self.n_qubits), generator=generator, device=self.device)
            burn_in = self.burn_in
        for _ in range(burn_in):
            x = gibbs_sweep(x, *parts, generator)
        kept = torch.empty((draws, n_chains, self.n_qubits), dtype=torch.long, device=self.device)
        for t in range(draws):
            for _ in range(self.thin):
                x = gibbs_sweep(x, *parts, generator)
            kept[t] = x
        self.last_sampling = {"chains": n_chains, "start": start, "draws": draws * n_chains, "burn_in": burn_in,
                              "thin": self.thin} | self._mixing(kept)
        out = kept.flatten(0, 1)[:n]
        return out, self.log_prob(out)

    def _mixing(self, kept: torch.Tensor) -> dict[str, float]:
        """ESS, τ and R̂ of the worst traced statistic over the kept states (draws, chains, N)."""
        draws, n_chains, _ = kept.shape
        if draws < 4:
            return {"ess": float("nan"), "tau": float("nan"), "rhat": float("nan")}
        w, b, c = self._parts()
        units = w.flatten(1).norm(dim=1).topk(min(_TRACED_UNITS, self.n_hidden)).indices
        flat, step = kept.flatten(0, 1), max(1, _BLOCK // self.n_hidden)
        stats = []
        for lo in range(0, len(flat), step):
            x = flat[lo : lo + step]
            active = torch.sigmoid(hidden_field(x, w, c)[:, units])
            stats.append(torch.cat([free_energy(x, w, b, c)[:, None], active], 1))
        ess, tau, rhat = effective_sample_size(torch.cat(stats).view(draws, n_chains, -1).double().cpu().numpy())
        return {"ess": float(ess.min()), "tau": float(tau.max()), "rhat": float(rhat.max())}
