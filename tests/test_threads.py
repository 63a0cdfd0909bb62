"""Thread shards (qgen.threads): the sharded gradient is the whole-batch gradient, random
draws come from per-shard generators, the trainer uses shards only where the loss allows,
and threaded training is reproducible and resumes exactly."""

import numpy as np
import pytest
import torch
from resume import assert_resume_is_exact

from qgen.models import create_model
from qgen.training import TrainConfig, distributed, load_model, step, train
from qgen.training.threads import ThreadShards

N = 8


def strings(n: int, seed: int) -> torch.Tensor:
    return torch.randint(4, (n, N), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("name, config", [
    ("rnn", {"hidden": 16, "n_layers": 2, "embed": 8, "phases": 2}),
    ("rnn", {"hidden": 16, "n_layers": 1, "embed": 8, "patch": 3}),
    ("transformer", {"n_layers": 1, "d_model": 16, "n_heads": 2, "d_ff": 32}),
    ("conv", {"channels": 8, "kernel": 3}),
])
def test_sharded_gradient_is_the_whole_batch_gradient(name, config, k):
    torch.manual_seed(0)
    model = create_model(name, N, 4, **config)
    params = list(model.parameters())
    x = strings(101, seed=1)  # not a multiple of k: unequal shards are weighted by their size
    model.zero_grad()
    (0.7 * model.loss(x)).backward()
    want = [p.grad.clone() for p in params]
    model.zero_grad(set_to_none=True)
    with ThreadShards(k) as shards:
        loss = shards.backward(model.loss, x, params, scale=0.7)
    assert torch.allclose(loss, model.loss(x).detach(), rtol=1e-6)
    for p, w in zip(params, want):
        assert torch.allclose(p.grad, w, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name, config", [
    ("vae", {"hidden": 16, "latent": 3, "embed": 4}),
    ("flow", {"n_layers": 2, "hidden": 8}),
])
def test_shards_draw_their_noise_from_their_own_generators(name, config):
    """The VAE's ELBO and the flow's bound draw noise for every string.  In shards the
    draws come from generator s, seeded with SeedSequence([seed, s]), never from torch's
    global RNG: the sharded gradient is the size-weighted sum of the shards' gradients
    computed one after another with those generators, it is the same for the same seed,
    and it changes with the seed."""
    torch.manual_seed(0)
    model = create_model(name, N, 4, **config)
    params = list(model.parameters())
    x = strings(101, seed=4)

    def sharded(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        model.zero_grad(set_to_none=True)
        rng = torch.get_rng_state()
        with ThreadShards(3) as shards:
            loss = shards.backward(model.loss, x, params, scale=0.5, seed=seed)
        assert torch.equal(torch.get_rng_state(), rng)
        return loss, torch.cat([p.grad.flatten() for p in params])

    model.zero_grad(set_to_none=True)
    want_loss = 0.0
    for s, xs in enumerate(x.chunk(3)):
        g = torch.Generator().manual_seed(distributed.stream_seed(7, s))
        loss = model.loss(xs, generator=g) * len(xs) / len(x)
        (0.5 * loss).backward()
        want_loss += loss.detach()
    want = torch.cat([p.grad.flatten() for p in params])
    loss, got = sharded(7)
    assert torch.allclose(loss, want_loss, rtol=1e-6)
    assert torch.allclose(got, want, rtol=1e-5, atol=1e-7)
    assert torch.equal(sharded(7)[1], got)
    assert (sharded(8)[1] - got).norm() > 1e-3 * got.norm()


def test_sharded_step_runs_under_autocast_in_every_thread():
    """Autocast is per thread in torch: the shards must enter it themselves.  Their
    gradients then differ from the float32 ones by bf16 rounding, as the whole batch's do."""
    torch.manual_seed(0)
    model = create_model("transformer", N, 4, n_layers=1, d_model=16, n_heads=2, d_ff=32)
    params = list(model.parameters())
    x = strings(64, seed=2)

    def grads(amp: bool) -> torch.Tensor:
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=amp):
            loss = model.loss(x)
        loss.backward()
        return torch.cat([p.grad.flatten() for p in params])

    fp32, bf16 = grads(False), grads(True)
    model.zero_grad(set_to_none=True)
    with ThreadShards(2) as shards:
        shards.backward(model.loss, x, params, amp=torch.bfloat16)
    got = torch.cat([p.grad.flatten() for p in params])
    off = (bf16 - fp32).norm() / fp32.norm()
    assert off > 1e-3  # bf16 is visibly different here ...
    assert (got - fp32).norm() / fp32.norm() > 0.3 * off  # ... and so are the shards


def test_thread_shards_needs_two_threads():
    with pytest.raises(ValueError, match="k ≥ 2"):
        ThreadShards(1)


@pytest.mark.parametrize("name, config, threads, batch, shards_wanted", [
    ("rnn", {}, 2, 500, 2),
    ("rnn", {}, 1, 500, 0),
    ("rnn", {}, 8, 100, 3),  # at least MIN_SHARD = 32 strings per shard
    ("rnn", {}, 2, 63, 0),
    ("transformer", {}, 3, 500, 3),
    ("transformer", {"dropout": 0.1}, 2, 500, 0),  # dropout draws random numbers
    ("conv", {}, 2, 500, 2),
    ("vae", {}, 2, 250, 2),  # its ELBO noise comes from the shard's generator
    ("flow", {}, 2, 250, 0),  # torch's own threads train its wide couplings as fast
    ("gan", {}, 2, 500, 0),  # its own training step
])
def test_trainer_shards_only_losses_that_allow_it(name, config, threads, batch, shards_wanted):
    model = create_model(name, N, 4, **config)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with step.thread_shards(model, distributed.Context(), batch) as shards:
            assert (shards.k if shards else 0) == shards_wanted
            assert torch.get_num_threads() == (1 if shards else threads)
    finally:
        torch.set_num_threads(before)


def test_threaded_training_is_reproducible_and_agrees_with_one_thread(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.choice(4, size=(3_000, N), p=[0.5, 0.2, 0.2, 0.1]).astype(np.uint8)
    before = torch.get_num_threads()

    def run(threads: int, out: str):
        torch.manual_seed(0)
        model = create_model("rnn", N, 4, hidden=16, n_layers=2, embed=8, phases=2)
        cfg = TrainConfig(epochs=2, batch_size=200, lr=1e-2, seed=0, num_threads=threads)
        result = train(model, data[:2_500], data[2_500:], cfg, tmp_path / out, progress=False)
        assert torch.get_num_threads() == before  # the caller's setting is restored
        return result.history, load_model(tmp_path / out)[0].state_dict()

    h2, w2 = run(2, "a")
    h2b, w2b = run(2, "b")
    h1, w1 = run(1, "c")
    assert all(torch.equal(w2[k], w2b[k]) for k in w2)
    assert [h["val_nll"] for h in h2] == [h["val_nll"] for h in h2b]
    assert all(torch.allclose(w2[k], w1[k], atol=2e-4) for k in w2)
    assert np.allclose([h["val_nll"] for h in h2], [h["val_nll"] for h in h1], rtol=1e-5)
    assert h2[-1]["val_nll"] < h2[0]["val_nll"]


def test_threaded_vae_training_resumes_exactly(tmp_path, monkeypatch):
    """The shards' seeds are drawn from torch's global RNG, whose state the checkpoint
    keeps: a 2-thread VAE run killed after its first epoch resumes to the weights of the
    uninterrupted run."""
    rng = np.random.default_rng(1)
    data = rng.choice(4, size=(2_000, N), p=[0.5, 0.2, 0.2, 0.1]).astype(np.uint8)
    cfg = TrainConfig(epochs=3, batch_size=100, lr=5e-3, seed=2, num_threads=2)  # 2 shards of 50

    def make_model(seed: int):
        torch.manual_seed(seed)
        return create_model("vae", N, 4, hidden=16, latent=3, embed=4, n_importance=8)

    assert_resume_is_exact(make_model, data[:1_600], data[1_600:], cfg, tmp_path, monkeypatch)
