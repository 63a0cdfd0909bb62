"""Extending qgen: callbacks and schedules in the trainer, capabilities declared on the model
base class, and the autoregressive base's shared sampling loop."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import stats

from qgen.models import MODELS, AutoregressiveModel, GenerativeModel, create_model, register_model
from qgen.training import SCHEDULES, Callback, Schedule, TrainConfig, get_schedule, register_schedule, train


def _data(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.choice(4, size=(n, 4), p=[0.55, 0.25, 0.15, 0.05]).astype(np.uint8)


class Recorder(Callback):
    def __init__(self):
        self.epochs, self.ended, self.lrs = [], 0, []

    def on_epoch_end(self, state, model):
        self.epochs.append(state.history[-1]["epoch"])
        self.lrs.append(state.history[-1]["lr"])
        assert isinstance(model, GenerativeModel)

    def on_train_end(self, state, model):
        self.ended += 1


def test_callbacks_run_after_every_epoch_beside_the_default_log_and_curve(tmp_path):
    rec = Recorder()
    data = _data(1200)
    res = train(create_model("rnn", 4, 4, hidden=8, n_layers=1), data[:1000], data[1000:],
                TrainConfig(epochs=3, batch_size=100, patience=None), tmp_path, progress=False, callbacks=[rec])
    assert rec.epochs == [0, 1, 2] and rec.ended == 1
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines == res.history and (tmp_path / "training_curve.png").stat().st_size > 0


def test_the_cosine_schedule_ends_at_one_hundredth_and_plateau_halves(tmp_path):
    rec = Recorder()
    data = _data(1200)
    train(create_model("rnn", 4, 4, hidden=8, n_layers=1), data[:1000], data[1000:],
          TrainConfig(epochs=2, batch_size=100, lr=0.01, patience=None), tmp_path, progress=False, callbacks=[rec])
    assert rec.lrs[-1] == pytest.approx(1e-4, rel=1e-9)  # η_min = η/100 after epochs × steps batches
    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    plateau = get_schedule("plateau")
    sched = plateau.scheduler(opt, TrainConfig(), 10)
    for loss in (1.0, 1.0, 1.0, 1.0):  # stalls for more than 2 epochs after the first
        plateau.after_epoch([sched], loss)
    assert opt.param_groups[0]["lr"] == 0.5


def test_a_registered_schedule_drives_training(tmp_path):
    class Halving(Schedule):
        """Halve the rate after every epoch."""

        name = "halving-test"

        def scheduler(self, optimizer, config, steps_per_epoch):
            return torch.optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.5)

        def after_epoch(self, schedulers, val_loss):
            for s in schedulers:
                s.step()

    register_schedule(Halving())
    try:
        rec = Recorder()
        data = _data(600)
        train(create_model("rnn", 4, 4, hidden=8, n_layers=1), data[:500], data[500:],
              TrainConfig(epochs=3, batch_size=100, lr=0.08, schedule="halving-test", patience=None), tmp_path,
              progress=False, callbacks=[rec])
        assert rec.lrs == pytest.approx([0.08, 0.04, 0.02])  # the rate each epoch trained with
        with pytest.raises(ValueError, match="new name"):
            register_schedule(Halving())
    finally:
        del SCHEDULES["halving-test"]
    with pytest.raises(ValueError, match="unknown schedule 'halving-test'"):
        TrainConfig(schedule="halving-test")


class TableAR(AutoregressiveModel):
    """p(a_i | a_{i−1}) from a learned K × K table (a Markov chain), through the step API only."""

    name = "table-ar-test"

    def __init__(self, n_qubits, n_outcomes):
        super().__init__(n_qubits, n_outcomes)
        self.first = torch.nn.Parameter(torch.randn(n_outcomes))
        self.table = torch.nn.Parameter(torch.randn(n_outcomes, n_outcomes))

    def log_prob(self, x):
        x = self.check_outcomes(x)
        lp = torch.log_softmax(self.first, 0)[x[:, 0]]
        return lp + torch.log_softmax(self.table, 1)[x[:, :-1], x[:, 1:]].sum(1)

    def _begin(self, m):
        return m  # before the first step the state is the number of strings

    def _step(self, state, s):
        logits = self.first.expand(state, -1) if s == 0 else self.table[state]
        return torch.log_softmax(logits, -1), state

    def _feed(self, state, s, code):
        return code


def test_the_autoregressive_base_samples_any_step_model_exactly():
    """χ² of 40,000 strings drawn by the shared loop against the model's own exact P."""
    register_model(TableAR)
    try:
        torch.manual_seed(0)
        m = TableAR(3, 3)
        x, lq = m.sample(40_000, torch.Generator().manual_seed(1))
        assert torch.allclose(lq, m.log_prob(x), atol=1e-5)
        codes = (x[:, 0] * 9 + x[:, 1] * 3 + x[:, 2]).numpy()
        observed = np.bincount(codes, minlength=27)
        grid = torch.tensor(np.indices((3, 3, 3)).reshape(3, -1).T)
        p = m.log_prob(grid).exp().detach().double().numpy()
        assert p.sum() == pytest.approx(1, abs=1e-6)
        expected = 40_000 * p / p.sum()
        assert stats.chisquare(observed, expected).pvalue > 1e-3
    finally:
        del MODELS["table-ar-test"]


def test_capabilities_are_declared_on_the_base_class():
    """A minimal backend needs no hooks: the base declares them with their defaults."""
    for attr in ("povm_defaults", "configure_optimizers", "training_step", "fidelity", "reduced_density_matrix",
                 "expectation", "own_training_step", "shardable_loss", "exact_state", "loss_name", "val_name"):
        assert hasattr(GenerativeModel, attr), attr
    rnn = create_model("rnn", 3, 4, hidden=8, n_layers=1)
    (opt,) = rnn.configure_optimizers(TrainConfig(lr=0.02, weight_decay=0.1))
    assert isinstance(opt, torch.optim.AdamW) and opt.param_groups[0]["weight_decay"] == 0.1
    with pytest.raises(NotImplementedError, match="default step"):
        rnn.training_step(torch.zeros((2, 3), dtype=torch.long), [opt], 0, None)
    with pytest.raises(NotImplementedError, match="no explicit state"):
        rnn.fidelity(None)
    gan = create_model("gan", 3, 4)
    assert gan.own_training_step and gan.loss_name == "critic_loss" and "nll" not in gan.val_name
    assert math.isfinite(gan.loss(torch.zeros((4, 3), dtype=torch.long), torch.Generator()).item())


@pytest.mark.parametrize("name, config", [("rnn", {}), ("rnn", {"patch": 2}), ("rnn", {"patch": 3, "cell": "lstm"}),
                                          ("rnn", {"phases": 0}), ("transformer", {}), ("gan", {})])
def test_log_prob_all_walks_the_prefix_tree_exactly(name, config):
    """The autoregressive tree walk (small pieces, so it splits and recurses) gives ln q of
    every string in lexicographic order, as log_prob of the enumerated strings does."""
    torch.manual_seed(0)
    model = create_model(name, 5, 4, **config).eval()
    strings = torch.tensor(np.indices((4,) * 5).reshape(5, -1).T)
    if model.likelihood == "none":
        with pytest.raises(NotImplementedError):
            model.log_prob_all()
        return
    lp = model.log_prob_all(batch=37)
    assert lp.dtype == torch.float64 and lp.shape == (4**5,)
    assert torch.allclose(lp, model.log_prob(strings).double(), atol=1e-5)
    assert float(lp.exp().sum()) == pytest.approx(1.0, abs=1e-5)
    assert model.enumeration_limit == (4**12 if isinstance(model, AutoregressiveModel) else 4**8)
    with pytest.raises(ValueError, match="enumerates at most"):
        create_model(name, 13, 4, **config).log_prob_all()
