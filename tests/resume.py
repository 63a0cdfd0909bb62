"""Shared check that an interrupted training run resumes to bit-identical weights."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from qgen.training import TrainConfig, loop, train


class Killed(Exception):
    """Stands for a process killed right after its first checkpoint."""


def assert_resume_is_exact(make_model: Callable[[int], torch.nn.Module], train_x: np.ndarray, val_x: np.ndarray,
                           cfg: TrainConfig, tmp_path, monkeypatch) -> None:
    """Train ``make_model(1)`` without interruption; train another ``make_model(1)`` that
    dies after its first checkpoint, resume it into ``make_model(99)`` (other initial
    weights: everything must come from the checkpoint); compare every tensor."""
    reference = make_model(1)
    train(reference, train_x, val_x, cfg, tmp_path / "ref", progress=False)
    original = loop.save_checkpoint

    def killed_after_first_epoch(*args):
        original(*args)
        raise Killed

    monkeypatch.setattr(loop, "save_checkpoint", killed_after_first_epoch)
    with pytest.raises(Killed):
        train(make_model(1), train_x, val_x, cfg, tmp_path / "run", progress=False)
    monkeypatch.undo()
    resumed = make_model(99)
    train(resumed, train_x, val_x, cfg, tmp_path / "run", resume=True, progress=False)
    ref, res = reference.state_dict(), resumed.state_dict()
    for name in ref:
        assert torch.equal(ref[name], res[name]), name
