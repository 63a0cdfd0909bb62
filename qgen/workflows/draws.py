"""Drawing from a trained model in bounded memory: its samples (:func:`model_sample`, a
fixed chunking so that draws do not depend on the batch) and its ln q on given strings
(:func:`model_log_prob`), as numpy.

Example
-------
>>> from qgen.models import create_model
>>> model = create_model("rnn", 3, 4)
>>> x, lq = model_sample(model, 5, seed=0)
>>> x.shape, x.dtype.name, bool(np.allclose(lq, model_log_prob(model, x)))
((5, 3), 'uint8', True)
"""

from __future__ import annotations

import numpy as np
import torch

from qgen.models import GenerativeModel
from qgen.resources import check_memory, estimate_model_sampling

__all__ = ["model_log_prob", "model_sample", "check_sampling_fits", "SAMPLE_CHUNK"]


@torch.no_grad()
def model_log_prob(model: GenerativeModel, x: np.ndarray, batch: int = 8192) -> np.ndarray:
    """ln q(a) of the model for outcome strings ``x`` (exact or estimated, per
    ``model.likelihood``), as float64 numpy."""
    dev = model.device
    out = [model.log_prob(torch.as_tensor(x[i : i + batch], dtype=torch.long, device=dev)).double().cpu()
           for i in range(0, len(x), batch)]
    return torch.cat(out).numpy() if out else np.zeros(0)


SAMPLE_CHUNK = 65536
"""Strings per ``model.sample`` call in :func:`model_sample` (a multiple of the models'
own 16384-string chunks, so their draws do not depend on it)."""


def check_sampling_fits(n: int, n_qubits: int) -> None:
    """Refuse up front (before any training that precedes it) to draw ``n`` model strings
    of ``n_qubits`` when :func:`model_sample` could not hold them in memory."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"number of model samples must be an integer ≥ 0, got {n!r}")
    check_memory(estimate_model_sampling(int(n), n_qubits, SAMPLE_CHUNK),
                 f"sampling {n:,} strings of {n_qubits} qubits from the model", "outcomes + ln q")


@torch.no_grad()
def model_sample(model: GenerativeModel, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """n strings from the model (uint8) and their ln q if the model provides it.

    Drawn ``SAMPLE_CHUNK`` at a time from one seeded generator and kept as uint8, so
    memory grows by N + 8 bytes per string; a request that cannot fit is refused up front
    (:func:`qgen.resources.estimate_model_sampling`).
    """
    check_sampling_fits(n, model.n_qubits)
    gen = torch.Generator(device=model.device).manual_seed(seed)
    xs, lqs = [], []
    for start in range(0, max(int(n), 1), SAMPLE_CHUNK):
        x, lq = model.sample(min(SAMPLE_CHUNK, int(n) - start), generator=gen)
        xs.append(x.cpu().numpy().astype(np.uint8))
        lqs.append(None if lq is None else lq.double().cpu().numpy())
    return np.concatenate(xs), None if lqs[0] is None else np.concatenate(lqs)
