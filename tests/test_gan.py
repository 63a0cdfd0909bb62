"""GAN backend: valid reproducible samples, no likelihood, learning a product distribution,
persistence, and exact resume of its two optimizers through the trainer."""

import json

import numpy as np
import pytest
import torch
from resume import assert_resume_is_exact

from qgen.models import GANModel, create_model
from qgen.scores import enumerate_strings
from qgen.training import TrainConfig, load_model, save_model, train

P1 = np.array([0.5, 0.2, 0.2, 0.1])


def product_data(n: int, n_qubits: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).choice(4, size=(n, n_qubits), p=P1).astype(np.uint8)


def small_gan(seed: int = 0, n_qubits: int = 4) -> GANModel:
    torch.manual_seed(seed)
    return create_model("gan", n_qubits, 4, hidden=64, noise=8)


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_samples_valid_reproducible_and_no_likelihood():
    model = small_gan(n_qubits=7)
    x, lq = model.sample(500, gen(1))
    assert x.shape == (500, 7) and x.dtype == torch.long and lq is None
    assert x.min() >= 0 and x.max() <= 3 and len(x.unique()) > 1
    assert torch.equal(x, model.sample(500, gen(1))[0]) and not torch.equal(x, model.sample(500, gen(2))[0])
    assert model.sample(0)[0].shape == (0, 7)
    with pytest.raises(NotImplementedError, match="no likelihood"):
        model.log_prob(x)


def test_straight_through_generator_is_one_hot_and_differentiable():
    model = small_gan()
    fake = model.generate(64)
    assert torch.equal(fake.sum(-1), torch.ones(64, 4)) and set(fake.unique().tolist()) == {0.0, 1.0}
    model.generator_loss(64).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.generator.parameters())


def total_variation(model: GANModel, n_qubits: int, n: int = 40_000) -> float:
    """TV distance between the model's sample histogram and the exact product distribution."""
    target = P1[enumerate_strings(4, n_qubits)].prod(1)
    x = model.sample(n, gen(7))[0].numpy()
    hist = np.bincount((x * 4 ** np.arange(n_qubits - 1, -1, -1)).sum(1), minlength=4**n_qubits) / n
    return 0.5 * float(np.abs(hist - target).sum())


def test_learns_product_distribution(tmp_path):
    # Histogram TV over 256 strings: ≈ 0.45 at initialisation, ≈ 0.05 after training
    # (the 40k-sample histogram alone contributes ≈ 0.02).
    data = product_data(12_000, 4, seed=0)
    model = small_gan()
    before = total_variation(model, 4)
    cfg = TrainConfig.from_preset("gan", epochs=20, batch_size=64, seed=0, device="cpu")
    result = train(model, data[:10_000], data[10_000:], cfg, tmp_path, progress=False)
    after = total_variation(model, 4)
    assert before > 0.3 and after < 0.1
    first, last = result.history[0], result.history[-1]
    assert last["val_marginal_tv"] < first["val_marginal_tv"]
    logged = json.loads((tmp_path / "metrics.jsonl").read_text().splitlines()[-1])
    assert {"train_critic_loss", "train_wasserstein", "train_gradient_penalty", "train_generator_loss"} <= set(logged)
    assert not any("nll" in key for key in logged)  # none of the GAN's scores is a likelihood


def test_save_load_round_trip(tmp_path):
    model = small_gan(n_qubits=5)
    save_model(tmp_path / "gan.safetensors", model)
    loaded, info = load_model(tmp_path / "gan.safetensors")
    assert info["model"] == "gan" and loaded.config == model.config
    assert torch.equal(loaded.sample(300, gen(3))[0], model.sample(300, gen(3))[0])


def test_resume_restores_both_optimizers(tmp_path, monkeypatch):
    data = product_data(1_500, 4, seed=1)
    cfg = TrainConfig.from_preset("gan", epochs=2, batch_size=100, seed=2)
    assert_resume_is_exact(lambda seed: small_gan(seed=seed), data[:1_200], data[1_200:], cfg, tmp_path, monkeypatch)
