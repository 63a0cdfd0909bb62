"""The contract every generative model of POVM outcome strings follows, and its registry.

A model learns a distribution P(a) over outcome strings a = (a_1 … a_N), a_i ∈ {0 … K−1}
(one K-outcome POVM per qubit; Carrasquilla et al., Nat. Mach. Intell. 1, 155 (2019)).
The interface mirrors ``torch.distributions``: ``log_prob`` scores strings, ``sample``
draws them, and ``loss`` is what the trainer minimises.

``likelihood`` says what ``log_prob`` means:

* ``"exact"`` – normalised log P(a) (autoregressive models, flows);
* ``"estimate"`` – an estimate or bound of it (e.g. a VAE's importance-weighted ELBO);
* ``"none"`` – not available (GANs); ``log_prob`` raises ``NotImplementedError``.

Example
-------
>>> import math
>>> @register_model
... class Uniform(GenerativeModel):
...     name, likelihood = "uniform-doc", "exact"
...     def log_prob(self, x):
...         x = self.check_outcomes(x)
...         return torch.full((len(x),), -self.n_qubits * math.log(self.n_outcomes))
...     def sample(self, n, generator=None):
...         x = torch.randint(self.n_outcomes, (n, self.n_qubits), generator=generator)
...         return x, self.log_prob(x)
>>> m = MODELS["uniform-doc"](3, 4)
>>> m.sample(2, torch.Generator().manual_seed(0))[0].shape
torch.Size([2, 3])
>>> del MODELS["uniform-doc"]
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import torch

from ..resources import check_memory
from .completions import MISSING, check_holes, draw, marginal, max_holes

if TYPE_CHECKING:
    from qgen.measurements.povm import POVM

__all__ = ["GenerativeModel", "MODELS", "register_model", "LIKELIHOODS", "MISSING_READOUTS", "MISSING"]

LIKELIHOODS = ("exact", "estimate", "none")
MISSING_READOUTS = ("exact", "imputation", "none")

MODELS: dict[str, type[GenerativeModel]] = {}
"""Registered model classes by their ``name``."""

_SIZING = threading.local()  # set while a model's shadow copy is built on the meta device


def _check_weights_fit(cls: type[GenerativeModel], n_qubits: int, n_outcomes: int, config: dict) -> None:
    """Build ``cls`` on the meta device (shapes only, no memory) and refuse it if its float32
    weights and buffers exceed the available memory.  An architecture the meta device
    cannot build (data-dependent shapes) is left to the real build, unchecked."""
    _SIZING.active = True
    try:
        with torch.device("meta"):
            shadow = cls(n_qubits, n_outcomes, **config)
    except Exception:  # noqa: BLE001 — the real build that follows reports any genuine error
        return
    finally:
        _SIZING.active = False
    size = sum(t.numel() for t in (*shadow.parameters(), *shadow.buffers()))
    check_memory(4 * size, f"model '{cls.name}' with {size:,} weights ({json.dumps(config)})")


class GenerativeModel(torch.nn.Module):
    """Base class: a distribution over outcome strings of ``n_qubits`` sites with
    ``n_outcomes`` values each.

    Subclasses set ``name`` and ``likelihood``, implement ``log_prob`` and ``sample``,
    pass their hyper-parameters to ``super().__init__`` as keywords (they become
    ``config``, so ``cls(n_qubits, n_outcomes, **config)`` rebuilds the architecture),
    and may declare ``presets`` (architecture keywords) and ``train_presets`` (keywords
    of ``qgen.training.TrainConfig``) under the same preset names.

    Capabilities
    ------------
    What a backend can do beyond the interface is declared here, with defaults, and
    overridden where a backend has it; nothing is discovered by looking for attributes.

    * ``likelihood`` (``"exact"`` | ``"estimate"`` | ``"none"``): what ``log_prob`` means.
      A class default; a model whose likelihood depends on its size sets its own (the RBM).
    * ``loss_name`` / ``val_name``: what ``loss`` and ``val_loss`` compute; the trainer logs
      them as ``train_<loss_name>`` and ``val_<val_name>`` (``"nll"`` for both by default;
      instance attributes where they depend on the configuration).
    * ``shardable_loss``: ``loss(x, generator=None)`` is the mean over the strings of x of a
      term that depends on that string alone, and any random numbers it draws come from
      ``generator``; the CPU trainer then splits a batch over threads
      (:mod:`qgen.training.threads`), one seeded generator per shard.
    * :meth:`povm_defaults`: configuration a backend takes from the measured POVM.
    * :meth:`data_defaults`: configuration a backend takes from the number of training
      strings (its capacity; the LPDO's bond dimension on small data).
    * :meth:`configure_optimizers`: the optimizers (one AdamW over all weights by default).
    * :meth:`begin_epoch`: a training curriculum; the trainer calls it before every epoch
      (nothing by default; the LPDO starts pure and becomes mixed halfway).
    * ``own_training_step`` and :meth:`training_step`: a model that is not trained by
      minimising one loss (adversarial ones) sets the flag and implements the step, used
      instead of the trainer's default step on ``loss``.
    * ``exact_state`` and :meth:`fidelity`, :meth:`reduced_density_matrix` (and
      :meth:`reduced_density_matrices` for many sets), :meth:`expectation`: a model that
      holds its state explicitly (tensor networks) gives these exactly at any N; the scores
      then use them instead of estimates.
    * :meth:`log_prob_all` and ``enumeration_limit``: ln q of every string, for exact scores
      by enumeration up to K^N = ``enumeration_limit`` (autoregressive models walk the tree
      of prefixes and reach 4^12).
    * ``missing_readouts`` (``"exact"`` | ``"imputation"`` | ``"none"``): how the model
      learns from shots whose readouts are missing on some qubits (the value
      :data:`MISSING` = −1 in a long batch).  ``"exact"``: ``loss`` and ``val_loss`` take
      such strings and use the exact marginal :meth:`marginal_log_prob` (autoregressive
      models; a tensor network's marginal is one contraction with the identity at a
      missing qubit, since Σ_a M^a = I: it declares ``"exact"`` and overrides
      :meth:`marginal_log_prob`).  ``"imputation"`` (the default): before every step the
      trainer fills the holes with a draw from the model's own conditional
      (:meth:`sample_given`) and trains on the completed strings — model-based
      multiple imputation (stochastic EM), an approximation that inherits any error of
      an estimated likelihood (VAE, flow, RBM).  ``"none"``: the model cannot (the GAN,
      which has no likelihood); impute the data with another model first.
    * ``completion_limit`` and :meth:`trim_missing`: enumerating a string's holes costs
      K^m scores; the trainer first drops readouts so that no string needs more than
      ``completion_limit`` completions (by default a string beyond it loses all its
      readouts; autoregressive models only those after the bound, see
      :mod:`~qgen.models.autoregressive`).
    * :meth:`marginal_log_prob` and :meth:`sample_given` (also ``sample(n, given=…)``):
      the marginal of incomplete strings and draws of the free qubits given the others;
      by default by enumerating completions (:mod:`~qgen.models.completions`), exact when
      ``likelihood`` is ``"exact"``, an estimate when it is ``"estimate"``, unavailable
      (one-line ``NotImplementedError``) when it is ``"none"``.
    """

    name: ClassVar[str]
    likelihood: str
    loss_name: str = "nll"
    val_name: str = "nll"
    shardable_loss: bool = False
    own_training_step: ClassVar[bool] = False
    exact_state: ClassVar[bool] = False
    enumeration_limit: ClassVar[int] = 4**8
    missing_readouts: ClassVar[str] = "imputation"
    completion_limit: ClassVar[int] = 256
    presets: ClassVar[dict[str, dict[str, Any]]] = {"default": {}}
    train_presets: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, n_qubits: int, n_outcomes: int, **config: Any) -> None:
        super().__init__()
        ints = all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in (n_qubits, n_outcomes))
        if not ints or n_qubits < 1 or not 2 <= n_outcomes <= 255:
            raise ValueError(f"need integers n_qubits ≥ 1 and 2 ≤ n_outcomes ≤ 255, got {n_qubits!r}, {n_outcomes!r}")
        try:
            json.dumps(config, allow_nan=False)
        except (TypeError, ValueError) as err:
            raise ValueError(f"{type(self).__name__} config must be JSON-serialisable finite values: {err}") from None
        self.n_qubits = int(n_qubits)
        self.n_outcomes = int(n_outcomes)
        self._config = dict(config)
        if not getattr(_SIZING, "active", False):
            _check_weights_fit(type(self), self.n_qubits, self.n_outcomes, self._config)

    @property
    def config(self) -> dict[str, Any]:
        """Hyper-parameters (JSON-serialisable) that rebuild this architecture."""
        return dict(self._config)

    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def check_outcomes(self, x: torch.Tensor) -> torch.Tensor:
        """Validate a batch of outcome strings (B, N) of any integer dtype; return it as long."""
        if x.ndim != 2 or x.shape[1] != self.n_qubits:
            raise ValueError(f"expected outcomes of shape (batch, {self.n_qubits}), got {tuple(x.shape)}")
        if x.dtype.is_floating_point or x.dtype.is_complex or x.dtype == torch.bool:
            raise ValueError(f"outcomes must be an integer tensor, got {x.dtype}")
        x = x.long()
        if x.numel() and (x.min() < 0 or x.max() >= self.n_outcomes):
            raise ValueError(f"outcomes must lie in 0…{self.n_outcomes - 1}")
        return x

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log P(x) for outcome strings x (B, N) → (B,) (see ``likelihood``)."""
        raise NotImplementedError(f"model '{self.name}' has no likelihood")

    def sample(
        self, n: int, generator: torch.Generator | None = None, *, given: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Draw n strings → (outcomes long (n, N), their log_prob or None); with ``given``
        (see :meth:`check_given`), the free qubits conditioned on the given ones →
        (outcomes, ln q(free | given)) through :meth:`sample_given`."""
        raise NotImplementedError

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Scalar training loss on a batch; the mean negative log-likelihood by default (of
        the readouts present where ``x`` holds :data:`MISSING`: see ``missing_readouts``).
        A loss that draws random numbers takes them from ``generator`` (torch's global RNG
        when None)."""
        return -self._observed_log_prob(x).mean()

    def val_loss(self, x: torch.Tensor) -> torch.Tensor:
        """Validation metric the trainer early-stops on: mean NLL when a likelihood exists,
        the training loss otherwise."""
        return self.loss(x) if self.likelihood == "none" else -self._observed_log_prob(x).mean()

    def _observed_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """ln q of strings whose missing readouts, if any, are :data:`MISSING`."""
        missing = x < 0
        return self.marginal_log_prob(x, missing) if bool(missing.any()) else self.log_prob(x)

    # -- missing readouts (see the class docstring) ------------------------------------

    def check_given(self, given: Any, n: int | None = None) -> torch.Tensor:
        """Outcomes with :data:`MISSING` (−1) at free qubits, (N,) or (n, N) of integers,
        as a long (n, N) tensor on the model's device; a one-line error otherwise."""
        g = torch.as_tensor(np.asarray(given) if not torch.is_tensor(given) else given, device=self.device)
        if g.dtype.is_floating_point or g.dtype.is_complex or g.dtype == torch.bool:
            raise ValueError(f"given must hold integers (−1 for a free qubit), got {g.dtype}")
        if g.ndim == 1 and n is not None:
            g = g.expand(n, -1)
        if g.ndim != 2 or g.shape[1] != self.n_qubits or (n is not None and len(g) != n):
            raise ValueError(f"given must have shape ({self.n_qubits},) or ({n if n is not None else 'n'}, "
                             f"{self.n_qubits}), got {tuple(g.shape)}")
        if g.numel() and (g.min() < MISSING or g.max() >= self.n_outcomes):
            raise ValueError(f"given outcomes must lie in 0…{self.n_outcomes - 1}, or be {MISSING} for a free qubit")
        return g.long()

    def _holes(self, missing: torch.Tensor) -> torch.Tensor:
        """The missing qubits that the marginal must sum over (all of them by default)."""
        return missing

    def _completion_score(self, missing: torch.Tensor):
        """score(rows, completions) whose log-sum-exp over the completions of string ``rows``
        is its marginal (ln q of the completion by default)."""
        return lambda rows, c: self.log_prob(c)

    def trim_missing(self, missing: torch.Tensor) -> torch.Tensor:
        """``missing`` (bool (B, N)) with readouts dropped (marked missing too) so that no
        string needs more than ``completion_limit`` completions: by default a string with
        more holes loses all its readouts (its marginal is then exactly 0)."""
        over = self._holes(missing).sum(1) > max_holes(self.n_outcomes, self.completion_limit)
        return missing | over[:, None]

    def marginal_log_prob(self, x: torch.Tensor, missing: torch.Tensor, *, limit: int | None = None) -> torch.Tensor:
        """ln Σ q over the K^m completions of each string x (B, N) on its m missing qubits
        (``missing`` bool (B, N); the values of x there are ignored) → (B,), exact (or an
        estimate, per ``likelihood``); a one-line error for a string needing more than
        ``limit`` (default ``completion_limit``) completions."""
        if self.likelihood == "none":
            raise NotImplementedError(f"model '{self.name}' has no likelihood, so no marginal of incomplete strings")
        missing = torch.as_tensor(missing, device=self.device)
        if missing.dtype != torch.bool or missing.shape != x.shape:
            raise ValueError(f"missing must be a bool tensor of the strings' shape {tuple(x.shape)}")
        x = self.check_outcomes(torch.where(missing, 0, x))
        empty = missing.all(1)  # nothing observed: the marginal is ln 1
        holes = self._holes(missing) & ~empty[:, None]
        check_holes(holes, self.n_outcomes, limit or self.completion_limit, f"marginal of model '{self.name}'")
        out = marginal(self._completion_score(missing), x, holes, self.n_outcomes)
        return torch.where(empty, torch.zeros_like(out), out)

    @torch.no_grad()
    def sample_given(self, given: torch.Tensor, generator: torch.Generator | None = None, *,
                     limit: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw the free qubits (:data:`MISSING`) of each row of ``given`` (:meth:`check_given`)
        from q(free | given) → (strings (n, N), ln q(free | given) (n,)).  By default by
        enumerating the completions (module :mod:`~qgen.models.completions`; at most
        ``limit``, default 4^10, per row); a row with nothing given is a plain draw."""
        if self.likelihood == "none":
            raise NotImplementedError(f"model '{self.name}' has no likelihood, so it cannot draw conditionally on "
                                      "given qubits")
        given = self.check_given(given)
        free = given < 0
        x = given.clamp(min=0)
        lq = torch.zeros(len(x), dtype=torch.float64, device=self.device)
        blank = free.all(1)
        holes = free & ~blank[:, None]
        check_holes(holes, self.n_outcomes, limit or 4**10, f"conditional draw of model '{self.name}'")
        rows = holes.any(1)
        if rows.any():
            x[rows], lq[rows] = draw(self._completion_score(free[rows]), x[rows], holes[rows], self.n_outcomes,
                                     generator)
        if blank.any():
            xs, ls = self.sample(int(blank.sum()), generator)
            x[blank], lq[blank] = xs, (ls if ls is not None else self.log_prob(xs)).double()
        return x, lq

    # -- optional capabilities (see the class docstring) ------------------------------

    @staticmethod
    def povm_defaults(povm: POVM, config: dict[str, Any]) -> dict[str, Any]:
        """Configuration taken from the measured POVM, below explicit settings (none by
        default; the RNN's initial phases, the tensor networks' POVM elements)."""
        return {}

    @staticmethod
    def data_defaults(n_train: int, config: dict[str, Any]) -> dict[str, Any]:
        """Configuration taken from the number of training strings ``n_train``, over the
        default preset and below explicit settings (none by default; the LPDO's bond
        dimension on small data)."""
        return {}

    def configure_optimizers(self, config: Any) -> list[torch.optim.Optimizer]:
        """The optimizers for ``qgen.training.TrainConfig`` ``config``: one AdamW over all
        weights with its ``lr`` and ``weight_decay``."""
        return [torch.optim.AdamW(self.parameters(), lr=config.lr, weight_decay=config.weight_decay)]

    def begin_epoch(self, epoch: int, epochs: int, seed: int) -> None:
        """Called by the trainer before the first step of epoch ``epoch`` of ``epochs`` (not
        when a resumed run continues inside an epoch), with the run's ``seed``: a model whose
        training follows a curriculum changes itself here, as a function of these three
        alone, so that resume stays exact.  Nothing by default."""

    def training_step(self, x: torch.Tensor, optimizers: list[torch.optim.Optimizer], step: int,
                      grad_clip: float | None) -> dict[str, torch.Tensor]:
        """One update on batch ``x`` at global step ``step`` for models with
        ``own_training_step``; returns the batch means to log: ``"loss"`` (logged as
        ``train_<loss_name>``) and any others (logged as ``train_<key>``)."""
        raise NotImplementedError(f"model '{self.name}' is trained by the trainer's default step")

    @torch.no_grad()
    def log_prob_all(self, batch: int = 16384) -> torch.Tensor:
        """ln q of all K^N strings in lexicographic order (as ``itertools.product``), float64;
        a one-line error above ``enumeration_limit`` strings."""
        k, n = self.n_outcomes, self.n_qubits
        if k**n > self.enumeration_limit:
            raise ValueError(f"model '{self.name}' enumerates at most {self.enumeration_limit:,} strings, not {k}^{n}")
        place = k ** torch.arange(n - 1, -1, -1, device=self.device)
        parts = []
        for start in range(0, k**n, batch):
            codes = torch.arange(start, min(start + batch, k**n), device=self.device)
            parts.append(self.log_prob(codes[:, None] // place % k).double())
        return torch.cat(parts)

    def fidelity(self, target: Any) -> float:
        """⟨ψ|ρ|ψ⟩ of the model's state with the pure target ψ, exactly (``exact_state``)."""
        raise NotImplementedError(f"model '{self.name}' holds no explicit state")

    def reduced_density_matrix(self, sites: Sequence[int]) -> np.ndarray:
        """The model state's reduced density matrix on ``sites`` (``exact_state``)."""
        raise NotImplementedError(f"model '{self.name}' holds no explicit state")

    def reduced_density_matrices(self, sets: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """:meth:`reduced_density_matrix` of every set of ``sets`` (``exact_state``); a model
        may share work between the sets."""
        return [self.reduced_density_matrix(s) for s in sets]

    def expectation(self, ops: np.ndarray) -> np.ndarray:
        """Exact ⟨P_t⟩ of Pauli strings ``ops`` (T, N) in 0..3 = I, X, Y, Z (``exact_state``)."""
        raise NotImplementedError(f"model '{self.name}' holds no explicit state")

    def extra_repr(self) -> str:
        return f"n_qubits={self.n_qubits}, n_outcomes={self.n_outcomes}"


def register_model(cls: type[GenerativeModel]) -> type[GenerativeModel]:
    """Class decorator adding ``cls`` to ``MODELS`` under ``cls.name``."""
    if cls.likelihood not in LIKELIHOODS:
        raise ValueError(f"{cls.__name__}.likelihood must be one of {LIKELIHOODS}, got {cls.likelihood!r}")
    if cls.missing_readouts not in MISSING_READOUTS:
        raise ValueError(f"{cls.__name__}.missing_readouts must be one of {MISSING_READOUTS}, got "
                         f"{cls.missing_readouts!r}")
    if "default" not in cls.presets:
        raise ValueError(f"{cls.__name__}.presets needs a 'default' entry")
    if cls.name in MODELS and MODELS[cls.name] is not cls:
        raise ValueError(f"model name '{cls.name}' is already registered by {MODELS[cls.name].__name__}")
    MODELS[cls.name] = cls
    return cls
