"""Training, the fifth stage of the data path: the loop (:mod:`~qgen.training.loop`),
its settings (:mod:`~qgen.training.config`), checkpoints and model files
(:mod:`~qgen.training.checkpoint`), what it writes after every epoch
(:mod:`~qgen.training.callbacks`), its learning-rate schedules
(:mod:`~qgen.training.schedule`), and how it scales: streamed data
(:mod:`~qgen.training.streaming`), several processes (:mod:`~qgen.training.distributed`)
and thread shards (:mod:`~qgen.training.threads`).

Example
-------
>>> from qgen.training import TrainConfig
>>> TrainConfig().schedule
'cosine'
"""

from __future__ import annotations

from .callbacks import Callback, MetricsLog, TrainingCurve
from .checkpoint import load_model, save_model, stored_povm
from .config import TrainConfig, TrainResult, parse_duration, resolve_device
from .loop import NonFiniteLoss, TrainingInterrupted, train
from .schedule import SCHEDULES, Schedule, get_schedule, register_schedule
from .streaming import HDF5Stream

__all__ = [
    "Callback", "MetricsLog", "TrainingCurve", "Schedule", "get_schedule", "register_schedule", "TrainConfig",
    "TrainResult", "parse_duration", "resolve_device", "SCHEDULES", "save_model", "load_model", "stored_povm",
    "train", "TrainingInterrupted", "NonFiniteLoss", "HDF5Stream",
]
