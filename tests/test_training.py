"""Trainer: learning to exact fidelity, exact resume, stopping rules, safe checkpoints."""

import itertools
import json
import os
import pickle

import numpy as np
import pytest
import torch

from qgen.measurements import pauli4
from qgen.models import create_model
from qgen.training import TrainConfig, load_model, loop, parse_duration, save_model, train

P1 = np.array([0.5, 0.2, 0.2, 0.1])
STRINGS = np.array(list(itertools.product(range(4), repeat=6)))  # all 4^6 outcome strings


def product_data(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).choice(4, size=(n, 6), p=P1).astype(np.uint8)


def ghz_like(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """½ Π p0(a_i) + ½ Π p1(a_i): long-range correlated like a GHZ state's POVM statistics.
    Returns (samples, exact P over STRINGS)."""
    p0, p1 = np.array([0.7, 0.1, 0.1, 0.1]), np.array([0.05, 0.05, 0.1, 0.8])
    rng = np.random.default_rng(seed)
    branch = rng.random(n) < 0.5
    x = np.where(branch[:, None], rng.choice(4, (n, 6), p=p0), rng.choice(4, (n, 6), p=p1)).astype(np.uint8)
    return x, 0.5 * p0[STRINGS].prod(1) + 0.5 * p1[STRINGS].prod(1)


def fidelity(model, target: np.ndarray) -> float:
    """Classical fidelity Σ_a √(P_model P_target), exactly by enumeration."""
    with torch.no_grad():
        p_model = model.log_prob(torch.from_numpy(STRINGS)).double().exp().numpy()
    assert abs(p_model.sum() - 1) < 1e-4
    return float(np.sqrt(p_model * target).sum())


def small_rnn(seed: int = 0, n_qubits: int = 6, **kw):
    torch.manual_seed(seed)
    return create_model("rnn", n_qubits, 4, **({"hidden": 16, "n_layers": 1, "embed": 8} | kw))


def test_learns_product_distribution(tmp_path):
    data = product_data(24_000, seed=0)
    model = small_rnn()
    cfg = TrainConfig(epochs=4, batch_size=250, lr=1e-2, seed=0)
    result = train(model, data[:20_000], data[20_000:], cfg, tmp_path, progress=False)
    best, _ = load_model(tmp_path)
    assert fidelity(best, P1[STRINGS].prod(1)) > 0.999
    assert result.history[-1]["val_nll"] < result.history[0]["val_nll"]
    lines = [json.loads(s) for s in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert lines == result.history and {"epoch", "train_nll", "val_nll", "lr", "time", "samples_per_s"} <= set(lines[0])
    assert (tmp_path / "training_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_learns_correlated_distribution(tmp_path):
    data, target = ghz_like(24_000, seed=1)
    model = small_rnn(hidden=32)
    cfg = TrainConfig(epochs=6, batch_size=250, lr=1e-2, seed=0)
    train(model, data[:20_000], data[20_000:], cfg, tmp_path, progress=False)
    independent = np.prod([np.bincount(data[:, i], minlength=4)[STRINGS[:, i]] / len(data) for i in range(6)], 0)
    assert fidelity(load_model(tmp_path)[0], target) > 0.99 > np.sqrt(independent * target).sum() + 0.05


def assert_same_weights(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


class Killed(Exception):
    pass


@pytest.mark.parametrize("schedule", ["cosine", "plateau"])
def test_resume_after_epoch_is_exact(tmp_path, monkeypatch, schedule):
    data = product_data(3_000, seed=2)
    cfg = TrainConfig(epochs=4, batch_size=200, lr=5e-3, schedule=schedule, seed=3)
    reference = small_rnn(seed=1)
    ref = train(reference, data[:2_500], data[2_500:], cfg, tmp_path / "ref", progress=False)

    original, calls = loop.save_checkpoint, []

    def killed_after_epoch_2(*args):  # the process dies right after epoch 2's checkpoint
        original(*args)
        calls.append(1)
        if len(calls) == 2:
            raise Killed

    monkeypatch.setattr(loop, "save_checkpoint", killed_after_epoch_2)
    with pytest.raises(Killed):
        train(small_rnn(seed=1), data[:2_500], data[2_500:], cfg, tmp_path / "run", progress=False)
    monkeypatch.setattr(loop, "save_checkpoint", original)

    resumed = small_rnn(seed=99)  # different initial weights: everything must come from the checkpoint
    res = train(resumed, data[:2_500], data[2_500:], cfg, tmp_path / "run", resume=True, progress=False)
    assert_same_weights(resumed, reference)
    assert [h["val_nll"] for h in res.history] == [h["val_nll"] for h in ref.history]
    assert_same_weights(load_model(tmp_path / "run")[0], load_model(tmp_path / "ref")[0])
    assert not [p for p in (tmp_path / "run").iterdir() if p.name.endswith(".tmp")]


def test_resume_after_max_time_mid_epoch_is_exact(tmp_path, monkeypatch):
    data = product_data(6_000, seed=4)
    cfg = TrainConfig(epochs=3, batch_size=100, lr=5e-3, seed=5)
    reference = small_rnn(seed=2)
    train(reference, data[:5_000], data[5_000:], cfg, tmp_path / "ref", progress=False)

    ticks = itertools.count()  # a clock that advances 1 ms per reading: a deterministic stop point
    monkeypatch.setattr(loop.time, "perf_counter", lambda: next(ticks) * 1e-3)
    short = TrainConfig(**{**cfg.__dict__, "max_time": 0.08})
    first = train(small_rnn(seed=2), data[:5_000], data[5_000:], short, tmp_path / "run", progress=False)
    monkeypatch.undo()
    assert first.stop_reason == "max_time" and first.history[-1]["partial"]
    assert first.history[-1]["epoch"] == 1 and 0 < first.history[-1]["fraction"] < 1
    resumed = small_rnn(seed=7)
    res = train(resumed, data[:5_000], data[5_000:], cfg, tmp_path / "run", resume=True, progress=False)
    assert res.stop_reason == "epochs" and [h["epoch"] for h in res.history] == [0, 1, 2]
    assert_same_weights(resumed, reference)


def test_same_seed_same_weights_and_resume_checks_settings(tmp_path):
    data = product_data(1_000, seed=6)
    cfg = TrainConfig(epochs=2, batch_size=100, seed=1)
    a, b = small_rnn(seed=3), small_rnn(seed=3)
    train(a, data[:800], data[800:], cfg, tmp_path / "a", progress=False)
    train(b, data[:800], data[800:], cfg, tmp_path / "b", progress=False)
    assert_same_weights(a, b)
    with pytest.raises(ValueError, match="lr"):
        train(a, data[:800], data[800:], TrainConfig(epochs=2, batch_size=100, seed=1, lr=0.1),
              tmp_path / "a", resume=True, progress=False)
    with pytest.raises(ValueError, match="different data"):
        train(a, data[100:900], data[900:], cfg, tmp_path / "a", resume=True, progress=False)


def test_early_stopping(tmp_path):
    train_x = np.zeros((2_000, 6), np.uint8)  # the model learns "all zeros" …
    val_x = np.full((200, 6), 3, np.uint8)  # … which makes "all threes" ever less likely
    cfg = TrainConfig(epochs=50, batch_size=200, lr=1e-2, patience=2)
    result = train(small_rnn(), train_x, val_x, cfg, tmp_path, progress=False)
    assert result.stop_reason == "early_stopping"
    assert len(result.history) == 3 and result.best_epoch == 0
    assert load_model(tmp_path)[1]["epoch"] == 0


def test_keep_last_saves_the_final_weights(tmp_path):
    """keep="last": model.safetensors holds the weights at the end of training even when the
    validation NLL got worse (the data of test_early_stopping); "best" keeps epoch 0's."""
    train_x, val_x = np.zeros((2_000, 6), np.uint8), np.full((200, 6), 3, np.uint8)
    for keep, epoch in (("last", 3), ("best", 0)):
        model = small_rnn()
        cfg = TrainConfig(epochs=4, batch_size=200, lr=1e-2, patience=None, keep=keep)
        result = train(model, train_x, val_x, cfg, tmp_path / keep, progress=False)
        saved, meta = load_model(tmp_path / keep)
        assert result.best_epoch == meta["epoch"] == epoch
        same = all(torch.equal(a, b) for a, b in zip(saved.state_dict().values(), model.state_dict().values()))
        assert same == (keep == "last")
    with pytest.raises(ValueError, match="keep must be 'best' or 'last'"):
        TrainConfig(keep="first")


def test_max_time_stops(tmp_path):
    data = product_data(20_000, seed=7)
    cfg = TrainConfig(epochs=1_000, batch_size=50, max_time="0.5s")
    result = train(small_rnn(), data[:19_000], data[19_000:], cfg, tmp_path, progress=False)
    assert result.stop_reason == "max_time" and result.history[-1]["partial"]
    assert 0.5 <= result.elapsed < 5
    assert load_model(tmp_path)[1]["val_nll"] == result.best_val


def test_parse_duration():
    assert parse_duration("2m") == 120 and parse_duration("90s") == 90 and parse_duration("1h") == 3600
    assert parse_duration("1h30m") == 5400 and parse_duration("45") == 45 and parse_duration(None) is None
    for bad in ["", "2x", "1h 2", "m", "-3s", "1 2"]:
        with pytest.raises(ValueError):
            parse_duration(bad)


def test_checkpoint_round_trip_and_identity_check(tmp_path):
    model = small_rnn(n_qubits=5, cell="lstm")
    save_model(tmp_path / "m.safetensors", model, {"dataset": {"povm": "pauli4"}, "note": "x"})
    loaded, info = load_model(tmp_path / "m.safetensors", expect={"n_qubits": 5, "povm": "pauli4"})
    x = torch.randint(4, (50, 5))
    assert torch.equal(loaded.log_prob(x), model.log_prob(x)) and info["note"] == "x"
    with pytest.raises(ValueError, match="n_qubits=5.*n_qubits=50"):
        load_model(tmp_path / "m.safetensors", expect={"n_qubits": 50})
    with pytest.raises(ValueError, match="povm='pauli4'.*povm='pauli6'"):
        load_model(tmp_path / "m.safetensors", expect={"povm": "pauli6"})


class Exploit:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_malicious_pickle_is_never_executed(tmp_path):
    marker = tmp_path / "pwned"
    pickle.loads(pickle.dumps(Exploit(tmp_path / "control")))  # the payload does work when unpickled
    assert (tmp_path / "control").exists()
    payload = pickle.dumps(Exploit(marker))
    for name in ["model.safetensors", "checkpoint.safetensors"]:
        (tmp_path / name).write_bytes(payload)
    with pytest.raises(ValueError, match="not a readable qgen model"):
        load_model(tmp_path)
    data = product_data(500, seed=8)
    with pytest.raises(ValueError, match="not a readable qgen checkpoint"):
        train(small_rnn(), data[:400], data[400:], TrainConfig(epochs=1), tmp_path, resume=True, progress=False)
    torch.save({"weights": Exploit(marker)}, tmp_path / "model.safetensors")  # a torch.save pickle too
    with pytest.raises(ValueError):
        load_model(tmp_path)
    assert not marker.exists()


def test_rejects_bad_data(tmp_path):
    model = small_rnn()
    good = product_data(100, seed=9)
    with pytest.raises(ValueError, match="shape"):
        train(model, good[:, :5], good, TrainConfig(epochs=1), tmp_path, progress=False)
    with pytest.raises(ValueError, match="0…3"):
        train(model, good + 4, good, TrainConfig(epochs=1), tmp_path, progress=False)
    with pytest.raises(ValueError, match="n_qubits"):
        train(model, good, good, TrainConfig(epochs=1), tmp_path, progress=False, dataset_info={"n_qubits": 7})


def test_sigint_saves_checkpoint_and_resume_is_exact(tmp_path, monkeypatch):
    """Ctrl-C in the middle of an epoch: the trainer finishes the current step, saves a
    checkpoint and raises; --resume then ends on the weights of an uninterrupted run."""
    import os
    import signal

    from qgen.training import TrainingInterrupted

    data = product_data(1_200, seed=1)
    cfg = TrainConfig(epochs=2, batch_size=100, lr=3e-3, seed=3)

    def fresh(seed):
        torch.manual_seed(seed)
        return create_model("rnn", 6, 4, hidden=8, n_layers=1, embed=4)

    reference = fresh(1)
    train(reference, data[:1_000], data[1_000:], cfg, tmp_path / "ref", progress=False)
    model, calls = fresh(1), {"n": 0}
    original_loss = model.loss

    def loss_then_sigint(x):
        calls["n"] += 1
        if calls["n"] == 14:  # epoch 1, batch 3
            os.kill(os.getpid(), signal.SIGINT)
        return original_loss(x)

    monkeypatch.setattr(model, "loss", loss_then_sigint)
    with pytest.raises(TrainingInterrupted, match="checkpoint saved"):
        train(model, data[:1_000], data[1_000:], cfg, tmp_path / "run", progress=False)
    assert calls["n"] == 14 and (tmp_path / "run" / "checkpoint.safetensors").is_file()
    resumed = fresh(99)
    train(resumed, data[:1_000], data[1_000:], cfg, tmp_path / "run", resume=True, progress=False)
    for (name, a), b in zip(resumed.state_dict().items(), reference.state_dict().values()):
        assert torch.equal(a, b), name


def test_nan_loss_stops_with_message_and_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    from qgen.training import NonFiniteLoss

    data = product_data(1_200, seed=1)
    torch.manual_seed(0)
    model = create_model("rnn", 6, 4, hidden=8, n_layers=1, embed=4)
    calls = {"n": 0}
    original_loss = model.loss

    def nan_in_second_epoch(x):
        calls["n"] += 1
        out = original_loss(x)
        return out * float("nan") if calls["n"] == 15 else out

    monkeypatch.setattr(model, "loss", nan_in_second_epoch)
    cfg = TrainConfig(epochs=3, batch_size=100, seed=0)
    with pytest.raises(NonFiniteLoss, match="epoch 1, batch 4.*last good checkpoint"):
        train(model, data[:1_000], data[1_000:], cfg, tmp_path, progress=False)
    loaded, _ = load_model(tmp_path)
    assert all(torch.isfinite(p).all() for p in loaded.parameters())
    state = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert state["epoch"] == 0  # only the good epoch was recorded


SMALL = {"rnn": {"hidden": 8, "n_layers": 1, "embed": 4}, "transformer": {"d_model": 8, "n_heads": 2, "d_ff": 16,
         "n_layers": 1}, "flow": {"n_layers": 2, "hidden": 8}, "vae": {"hidden": 8, "latent": 2, "n_importance": 4},
         "gan": {"hidden": 8, "noise": 4}, "rbm": {"n_hidden": 4}, "conv": {"channels": 8},
         "mps": {"bond_dim": 2, "povm": pauli4()}, "lpdo": {"bond_dim": 2, "kraus_dim": 2, "povm": pauli4()}}


@pytest.mark.parametrize("name", sorted(SMALL))
def test_backends_make_no_tensor_off_the_model_device(name):
    """With torch's default device set to "meta" while the model lives on the CPU, any
    tensor a backend creates without naming a device becomes a data-less meta tensor and
    the first operation mixing it with real ones fails: the CPU-only stand-in for
    running every backend on CUDA."""
    torch.manual_seed(0)
    model = create_model(name, 5, 4, **SMALL[name])
    x = torch.from_numpy(product_data(64, seed=0)[:, :5]).long()
    gen = torch.Generator(device=model.device).manual_seed(0)
    torch.set_default_device("meta")
    try:
        if name == "gan":
            terms = model.critic_terms(x)
            (terms["critic_loss"] + model.generator_loss(len(x))).backward()
        else:
            model.loss(x).backward()
            assert model.log_prob(x).device == model.device
        assert all(p.grad is None or p.grad.device == model.device for p in model.parameters())
        s, lq = model.sample(16, generator=gen)
        assert s.device == model.device and (lq is None or lq.device == model.device)
        assert all(t is None or t.device == model.device for t in model.sample(0, generator=gen))
        assert torch.isfinite(model.val_loss(x))
    finally:
        torch.set_default_device(None)


@pytest.mark.parametrize("name", ["rnn", "transformer", "conv", "flow", "vae"])
def test_amp_bf16_training_step_on_cpu(name, tmp_path):
    """The autocast step runs in bf16, trains (finite, not rising validation NLL) and keeps
    float32 weights."""
    data = product_data(2_000, seed=3)[:, :5]
    torch.manual_seed(0)
    model = create_model(name, 5, 4, **SMALL[name])
    dtypes = set()
    linear = next(m for m in model.modules() if isinstance(m, torch.nn.Linear))
    linear.register_forward_hook(lambda module, args, out: dtypes.add(out.dtype))
    result = train(model, data[:1_600], data[1_600:], TrainConfig(epochs=2, batch_size=100, lr=1e-2, amp="bf16"),
                   tmp_path, progress=False)
    assert dtypes == {torch.bfloat16, torch.float32}  # bf16 in the training step, float32 in validation
    val, loss = f"val_{model.val_name}", f"train_{model.loss_name}"
    assert result.history[-1][val] < result.history[0][val] + 0.05
    assert all(np.isfinite(h[loss]) for h in result.history)
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_amp_is_refused_where_it_cannot_apply(tmp_path):
    data = product_data(300, seed=3)[:, :5]
    with pytest.raises(ValueError, match="own training_step"):
        train(create_model("gan", 5, 4, **SMALL["gan"]), data, data, TrainConfig(epochs=1, amp="bf16"), tmp_path,
              progress=False)
    with pytest.raises(ValueError, match="fp16 needs a CUDA"):
        train(create_model("rnn", 5, 4, **SMALL["rnn"]), data, data, TrainConfig(epochs=1, amp="fp16", device="cpu"),
              tmp_path, progress=False)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
@pytest.mark.parametrize("amp", [None, "bf16", "fp16"])
@pytest.mark.parametrize("name", sorted(SMALL))
def test_every_backend_trains_and_samples_on_cuda(name, amp, tmp_path):
    if name in ("gan", "rbm") and amp:
        pytest.skip("the GAN and the RBM train with their own step, in float32")
    data = product_data(2_000, seed=3)[:, :5]
    torch.manual_seed(0)
    model = create_model(name, 5, 4, **SMALL[name])
    result = train(model, data[:1_600], data[1_600:], TrainConfig(epochs=2, batch_size=100, device="cuda", amp=amp),
                   tmp_path, progress=False)
    assert model.device.type == "cuda" and np.isfinite(result.history[-1]["val_nll"])
    x, lq = model.sample(100, generator=torch.Generator(device=model.device).manual_seed(0))
    assert x.device.type == "cuda" and (lq is None or lq.device.type == "cuda")
    loaded, _ = load_model(tmp_path, device="cuda")
    assert loaded.device.type == "cuda"
