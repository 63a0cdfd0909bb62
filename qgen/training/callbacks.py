"""What the trainer writes after every epoch besides checkpoints: the metrics log
(``metrics.jsonl``, one JSON line per epoch) and the training curve
(``training_curve.png``, NLL against epoch).

Example
-------
>>> import tempfile, json
>>> from pathlib import Path
>>> d = Path(tempfile.mkdtemp())
>>> write_metrics(d, [{"epoch": 0, "train_nll": 2.0, "val_nll": 2.1}])
>>> json.loads((d / "metrics.jsonl").read_text())["val_nll"]
2.1
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from qgen._io import atomic_write
from qgen.training.config import CURVE_FILE, METRICS_FILE

__all__ = ["write_metrics", "plot_curve"]


# ---------------------------------------------------------------- outputs


def write_metrics(out_dir: Path, history: list[dict[str, Any]]) -> None:
    text = "".join(json.dumps(h) + "\n" for h in history)
    atomic_write(out_dir / METRICS_FILE, lambda tmp: tmp.write_text(text))


def plot_curve(out_dir: Path, history: list[dict[str, Any]]) -> None:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5, 3.5), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    x = [h["epoch"] + (h["fraction"] if h["partial"] else 1) for h in history]
    ax.plot(x, [h["train_nll"] for h in history], "o-", label="train")
    ax.plot(x, [h["val_nll"] for h in history], "s-", label="validation")
    if history:
        ax.axvline(x[int(np.argmin([h["val_nll"] for h in history]))], color="grey", ls=":", label="best")
    ax.set(xlabel="epoch", ylabel="NLL per string (nats)")
    ax.legend()
    atomic_write(out_dir / CURVE_FILE, lambda tmp: fig.savefig(tmp, format="png", dpi=100))
