"""Filling missing readouts with a trained model: draws from its conditional
q(missing | observed readouts of the same shot).

Each shot x with missing readouts on the set H gets x_H ~ q(x_H | x_obs), drawn with
``model.sample_given`` (exact for models with an exact likelihood: autoregressive
models, the RBM with exact ln Z; an approximation through the estimated likelihood for
the VAE and the flow; refused for the GAN).  The completed dataset keeps the record of
what was filled: its ``imputed`` mask (``/imputed`` in the file) and ``meta["imputed"]``
(model, seed, draw, counts per qubit), so an imputed outcome is never mistaken for a
measured one.  With ``n_draws`` > 1 the result is that many completed copies, each from
its own random stream (multiple imputation: any downstream estimate is computed on each
copy and the spread between copies measures the imputation uncertainty; Rubin, Multiple
Imputation for Nonresponse in Surveys, 1987).

Example
-------
>>> import numpy as np, torch
>>> from qgen.datasets import Dataset, split_counts
>>> from qgen.measurements import pauli4
>>> from qgen.models import create_model
>>> _ = torch.manual_seed(0)
>>> model = create_model("rnn", 3, 4, hidden=8, n_layers=1)
>>> holes = np.zeros((6, 3), bool); holes[::2, 1] = True
>>> ds = Dataset(np.ones((6, 3), np.uint8), pauli4(), split_counts(6, (0.0, 0.0)), missing=holes)
>>> done, = impute(model, ds, seed=0)
>>> done.missing is None, bool((done.imputed == holes).all()), done.meta["imputed"]["readouts"]
(True, True, 3)
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from qgen.datasets.dataset import Dataset
from qgen.datasets.simulation import attach_target
from qgen.errors import ArgumentError
from qgen.models import MISSING, GenerativeModel
from qgen.training.distributed import stream_seed

__all__ = ["impute", "IMPUTE_BATCH"]

IMPUTE_BATCH = 4096
"""Shots completed per call of ``sample_given``."""


def impute(model: GenerativeModel, ds: Dataset, seed: int = 0, n_draws: int = 1, *,
           limit: int | None = None) -> list[Dataset]:
    """``n_draws`` copies of ``ds`` whose missing readouts are drawn from ``model``'s
    conditional given each shot's observed readouts (module doc); a copy's ``imputed``
    marks them.  Exact ln P is recomputed on the completed strings when ``ds`` has a
    target.  ``limit`` bounds the completions enumerated per shot (``sample_given``)."""
    if n_draws < 1:
        raise ArgumentError("n_draws", f"must be ≥ 1, got {n_draws}")
    if (model.n_qubits, model.n_outcomes) != (ds.n_qubits, ds.povm.n_outcomes):
        raise ValueError(f"the model is for {model.n_qubits} qubits and {model.n_outcomes} outcomes, the data have "
                         f"{ds.n_qubits} and {ds.povm.n_outcomes}")
    if ds.missing is None:
        raise ValueError("the dataset has no missing readouts to impute")
    rows = np.flatnonzero(ds.missing.any(axis=1))
    given = torch.from_numpy(np.where(ds.missing[rows], MISSING, ds.outcomes[rows].astype(np.int64)))
    copies = []
    for draw in range(n_draws):
        generator = torch.Generator(model.device).manual_seed(stream_seed(seed, draw))
        filled = [model.sample_given(g.to(model.device), generator, limit=limit)[0].cpu()
                  for g in given.split(IMPUTE_BATCH)]
        x = ds.outcomes.copy()
        x[rows] = torch.cat(filled).numpy().astype(np.uint8)
        record = {"model": model.name, "seed": seed, "draw": draw, "n_draws": n_draws,
                  "readouts": int(ds.missing.sum()), "per_qubit": ds.missing_per_qubit().tolist(),
                  "method": "exact conditional" if model.likelihood == "exact" else "estimated-likelihood conditional"}
        done = replace(ds, outcomes=x, missing=None, imputed=ds.missing.copy(), log_prob=None,
                       meta=ds.meta | {"imputed": record})
        copies.append(attach_target(done, ds.target) if ds.target is not None else done)
    return copies
