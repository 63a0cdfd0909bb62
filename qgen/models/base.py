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

if TYPE_CHECKING:
    from qgen.measurements.povm import POVM

__all__ = ["GenerativeModel", "MODELS", "register_model", "LIKELIHOODS"]

LIKELIHOODS = ("exact", "estimate", "none")

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
    * :meth:`configure_optimizers`: the optimizers (one AdamW over all weights by default).
    * ``own_training_step`` and :meth:`training_step`: a model that is not trained by
      minimising one loss (adversarial ones) sets the flag and implements the step, used
      instead of the trainer's default step on ``loss``.
    * ``exact_state`` and :meth:`fidelity`, :meth:`reduced_density_matrix`,
      :meth:`expectation`: a model that holds its state explicitly (tensor networks) gives
      these exactly at any N; the scores then use them instead of estimates.
    * :meth:`log_prob_all` and ``enumeration_limit``: ln q of every string, for exact scores
      by enumeration up to K^N = ``enumeration_limit`` (autoregressive models walk the tree
      of prefixes and reach 4^12).
    """

    name: ClassVar[str]
    likelihood: str
    loss_name: str = "nll"
    val_name: str = "nll"
    shardable_loss: bool = False
    own_training_step: ClassVar[bool] = False
    exact_state: ClassVar[bool] = False
    enumeration_limit: ClassVar[int] = 4**8
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
        self, n: int, generator: torch.Generator | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Draw n strings → (outcomes long (n, N), their log_prob or None)."""
        raise NotImplementedError

    def loss(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Scalar training loss on a batch; the mean negative log-likelihood by default.  A
        loss that draws random numbers takes them from ``generator`` (torch's global RNG
        when None)."""
        return -self.log_prob(x).mean()

    def val_loss(self, x: torch.Tensor) -> torch.Tensor:
        """Validation metric the trainer early-stops on: mean NLL when a likelihood exists,
        the training loss otherwise."""
        return self.loss(x) if self.likelihood == "none" else -self.log_prob(x).mean()

    # -- optional capabilities (see the class docstring) ------------------------------

    @staticmethod
    def povm_defaults(povm: POVM, config: dict[str, Any]) -> dict[str, Any]:
        """Configuration taken from the measured POVM, below explicit settings (none by
        default; the RNN's initial phases, the tensor networks' POVM elements)."""
        return {}

    def configure_optimizers(self, config: Any) -> list[torch.optim.Optimizer]:
        """The optimizers for ``qgen.training.TrainConfig`` ``config``: one AdamW over all
        weights with its ``lr`` and ``weight_decay``."""
        return [torch.optim.AdamW(self.parameters(), lr=config.lr, weight_decay=config.weight_decay)]

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

    def expectation(self, ops: np.ndarray) -> np.ndarray:
        """Exact ⟨P_t⟩ of Pauli strings ``ops`` (T, N) in 0..3 = I, X, Y, Z (``exact_state``)."""
        raise NotImplementedError(f"model '{self.name}' holds no explicit state")

    def extra_repr(self) -> str:
        return f"n_qubits={self.n_qubits}, n_outcomes={self.n_outcomes}"


def register_model(cls: type[GenerativeModel]) -> type[GenerativeModel]:
    """Class decorator adding ``cls`` to ``MODELS`` under ``cls.name``."""
    if cls.likelihood not in LIKELIHOODS:
        raise ValueError(f"{cls.__name__}.likelihood must be one of {LIKELIHOODS}, got {cls.likelihood!r}")
    if "default" not in cls.presets:
        raise ValueError(f"{cls.__name__}.presets needs a 'default' entry")
    if cls.name in MODELS and MODELS[cls.name] is not cls:
        raise ValueError(f"model name '{cls.name}' is already registered by {MODELS[cls.name].__name__}")
    MODELS[cls.name] = cls
    return cls
