"""What the trainer runs after every epoch besides checkpointing: callbacks.

A :class:`Callback` gets the loop's state (epoch, history, best validation loss, …) and
the model after every epoch and at the end of training, on the process that writes files
(rank 0 under DDP).  The trainer always runs two: :class:`MetricsLog` writes
``metrics.jsonl`` (one JSON line per epoch) and :class:`TrainingCurve` draws
``training_curve.png`` (training and validation loss against epoch); ``train(...,
callbacks=[...])`` adds more — e.g. an observable tracked during training.

Example
-------
>>> import tempfile, json
>>> from pathlib import Path
>>> from qgen.training.checkpoint import LoopState
>>> d = Path(tempfile.mkdtemp())
>>> state = LoopState(history=[{"epoch": 0, "train_nll": 2.0, "val_nll": 2.1, "partial": False}])
>>> MetricsLog(d).on_epoch_end(state, None)
>>> json.loads((d / "metrics.jsonl").read_text())["val_nll"]
2.1
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from qgen._io import atomic_write
from qgen.training.config import CURVE_FILE, METRICS_FILE

if TYPE_CHECKING:
    from qgen.models import GenerativeModel
    from qgen.training.checkpoint import LoopState

__all__ = ["Callback", "MetricsLog", "TrainingCurve"]


class Callback:
    """Hooks of the training loop; override what you need.  A callback must not change
    the model's weights or draw from torch's global RNG (resume would no longer be exact)."""

    def on_epoch_end(self, state: LoopState, model: GenerativeModel) -> None:
        """After every epoch (also one cut short by ``max_time``, ``history[-1]["partial"]``)."""

    def on_train_end(self, state: LoopState, model: GenerativeModel) -> None:
        """Once, when training stops for any reason but an error."""


class MetricsLog(Callback):
    """``metrics.jsonl`` in ``out_dir``: the history, one JSON line per epoch."""

    def __init__(self, out_dir: str | Path) -> None:
        self.path = Path(out_dir) / METRICS_FILE

    def on_epoch_end(self, state: LoopState, model: GenerativeModel) -> None:
        text = "".join(json.dumps(h) + "\n" for h in state.history)
        atomic_write(self.path, lambda tmp: tmp.write_text(text))

    on_train_end = on_epoch_end


class TrainingCurve(Callback):
    """``training_curve.png`` in ``out_dir``: the training and validation losses (named by
    the model's ``loss_name`` and ``val_name``) per epoch, and the best epoch."""

    def __init__(self, out_dir: str | Path) -> None:
        self.path = Path(out_dir) / CURVE_FILE

    def on_train_end(self, state: LoopState, model: GenerativeModel) -> None:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        history, train_key, val_key = state.history, f"train_{model.loss_name}", f"val_{model.val_name}"
        fig = Figure(figsize=(5, 3.5), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
        x = [h["epoch"] + (h["fraction"] if h["partial"] else 1) for h in history]
        ax.plot(x, [h[train_key] for h in history], "o-", label=f"train ({model.loss_name})")
        ax.plot(x, [h[val_key] for h in history], "s-", label=f"validation ({model.val_name})")
        if history:
            ax.axvline(x[int(np.argmin([h[val_key] for h in history]))], color="grey", ls=":", label="best")
        ax.set(xlabel="epoch", ylabel="per string" + (" (nats)" if "nll" in model.val_name else ""))
        ax.legend()
        atomic_write(self.path, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
