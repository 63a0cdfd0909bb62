"""Generative models of POVM outcome strings: the registry and its look-ups.

Example
-------
>>> model = create_model("rnn", n_qubits=10, n_outcomes=4, preset="paper", embed=8)
>>> model.config
{'cell': 'gru', 'n_layers': 3, 'hidden': 100, 'embed': 8, 'phases': 0}
>>> get_model("rnn") is RNNModel
True
"""

from __future__ import annotations

from typing import Any

from qgen.measurements.povm import POVM

from .autoregressive import AutoregressiveModel
from .base import LIKELIHOODS, MISSING, MISSING_READOUTS, MODELS, GenerativeModel, register_model
from .conv import ConvModel
from .flow import FlowModel
from .gan import GANModel
from .rbm import RBMModel
from .rnn import RNNModel
from .tensornet import LPDOModel, MPSModel
from .transformer import TransformerModel
from .vae import VAEModel

__all__ = [
    "GenerativeModel", "AutoregressiveModel", "MODELS", "LIKELIHOODS", "register_model", "get_model", "create_model",
    "training_preset", "data_sized", "RNNModel", "VAEModel", "GANModel", "TransformerModel", "FlowModel",
    "RBMModel", "MPSModel", "LPDOModel", "ConvModel", "MISSING", "MISSING_READOUTS",
]


def get_model(name: str) -> type[GenerativeModel]:
    """The registered model class called ``name``."""
    if not isinstance(name, str) or name not in MODELS:
        raise ValueError(f"unknown model {str(name)[:60]!r}; choose one of {', '.join(sorted(MODELS))}")
    return MODELS[name]


def _preset(table: dict[str, dict[str, Any]], name: str, preset: str, what: str) -> dict[str, Any]:
    if preset not in table:
        raise ValueError(f"model '{name}' has no {what} preset '{preset}'; choose one of {', '.join(table)}")
    return dict(table[preset])


def data_sized(name: str, preset: str | None, n_train: int, config: dict[str, Any]) -> dict[str, Any]:
    """What model ``name`` takes from ``n_train`` training strings over ``config``
    (:meth:`GenerativeModel.data_defaults`): only the default preset sizes itself; a named
    one is kept as it is."""
    return get_model(name).data_defaults(n_train, config) if (preset or "default") == "default" else {}


def create_model(
    name: str, n_qubits: int, n_outcomes: int, preset: str | None = None, *, povm: POVM | None = None,
    n_train: int | None = None, **overrides: Any
) -> GenerativeModel:
    """Build model ``name`` from its ``preset`` (``"default"`` when None) with keyword overrides.

    ``povm``: the measurement the model will learn; a backend may take defaults from it
    (:meth:`GenerativeModel.povm_defaults`, e.g. the RNN's initial phases), below the
    explicit overrides.  ``n_train``: the number of training strings; with the default
    preset a backend may size itself to it (:meth:`GenerativeModel.data_defaults`, the
    LPDO's bond dimension), below the explicit overrides."""
    cls = get_model(name)
    config = _preset(cls.presets, name, preset or "default", "architecture") | overrides
    if n_train is not None:
        config = config | data_sized(name, preset, n_train, config) | overrides
    if povm is not None:
        if povm.n_outcomes != n_outcomes:
            raise ValueError(f"the POVM has {povm.n_outcomes} outcomes, the model {n_outcomes}")
        config = config | cls.povm_defaults(povm, config) | overrides
    try:
        return cls(n_qubits, n_outcomes, **config)
    except (TypeError, RuntimeError) as e:  # an unknown keyword, a negative or fractional size …
        msg = str(e).splitlines()[0] if str(e) else type(e).__name__
        shown = {k: v for k, v in config.items() if k != "povm"}  # the elements would swamp the line
        raise ValueError(f"model '{name}' cannot be built with {shown}: {msg}") from None


def training_preset(name: str, preset: str | None = None) -> dict[str, Any]:
    """``TrainConfig`` keywords attached to a model preset (empty when it has none)."""
    cls = get_model(name)
    _preset(cls.presets, name, preset or "default", "architecture")
    return dict(cls.train_presets.get(preset or "default", {}))
