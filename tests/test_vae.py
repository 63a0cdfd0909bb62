"""VAE backend: importance-weighted likelihood (normalised, above the ELBO, consistent with
samples), persistence, and learning product and GHZ-like distributions."""

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from qgen.models import VAEModel, create_model
from qgen.scores import enumerate_strings
from qgen.training import TrainConfig, load_model, save_model, train


def strings(n_qubits: int) -> torch.Tensor:
    return torch.from_numpy(enumerate_strings(4, n_qubits)).long()


def sharpened_vae(decoder: str, n_importance: int, seed: int = 0) -> VAEModel:
    """A random 3-qubit VAE whose posterior is far from the prior (ELBO gap ≈ 0.3 nats)."""
    torch.manual_seed(seed)
    model = VAEModel(3, 4, hidden=16, latent=2, decoder=decoder, n_importance=n_importance)
    with torch.no_grad():
        for p in model.parameters():
            p.mul_(1.5)
    return model.eval()


def codes(x: torch.Tensor) -> np.ndarray:
    return (x * 4 ** torch.arange(x.shape[1] - 1, -1, -1)).sum(1).numpy()


@pytest.mark.parametrize("decoder", ["gru", "factorized"])
def test_importance_weighted_likelihood_is_normalised(decoder):
    # exp(IW estimate) is an unbiased estimate of p(a); with S = 4096 the sum over all 64
    # strings is 1 within ±0.02, while exp(ELBO) sums visibly below 1 (power check).
    model = sharpened_vae(decoder, n_importance=4096)
    with torch.no_grad():
        total = model.log_prob(strings(3)).double().exp().sum().item()
        elbo_total = model.elbo(strings(3), n_samples=256).double().exp().sum().item()
    assert abs(total - 1) < 0.02
    assert elbo_total < 0.96


@pytest.fixture(scope="module")
def model_and_samples():
    model = sharpened_vae("gru", n_importance=1024, seed=1)
    x, lq = model.sample(40_000, generator=torch.Generator().manual_seed(3))
    return model, x, lq


def test_samples_valid_and_reproducible(model_and_samples):
    model, x, lq = model_and_samples
    assert x.shape == (40_000, 3) and x.dtype == torch.long and lq is None
    assert x.min() >= 0 and x.max() < 4
    def gen(seed):
        return torch.Generator().manual_seed(seed)
    a, b, c = (model.sample(1000, gen(seed), chunk_size=300)[0] for seed in (4, 4, 5))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert model.sample(0)[0].shape == (0, 3)


def test_samples_match_importance_weighted_likelihood(model_and_samples):
    model, x, _ = model_and_samples
    with torch.no_grad():
        p = model.log_prob(strings(3)).double().exp().numpy()
    p /= p.sum()
    assert p.max() > 3 / 64  # far from uniform
    counts = np.bincount(codes(x), minlength=64)
    assert (p * len(x) >= 5).all()  # every cell populated enough for the χ² approximation
    assert chisquare(counts, p * len(x)).pvalue > 1e-3  # false-alarm rate 1e-3, fixed seeds
    with torch.no_grad():  # ... and the same test rejects another model's likelihood (power check)
        wrong = sharpened_vae("gru", n_importance=1024, seed=2).log_prob(strings(3)).double().exp().numpy()
    assert chisquare(counts, wrong / wrong.sum() * len(x)).pvalue < 1e-3


def test_iw_estimate_above_elbo_and_closer_to_samples(model_and_samples):
    model, x, _ = model_and_samples
    hist = np.bincount(codes(x), minlength=64) / len(x)
    with torch.no_grad():
        iw = model.log_prob(strings(3)).double()
        elbo = model.elbo(strings(3), n_samples=64).double()
    gap = (iw - elbo).numpy()
    assert gap.mean() > 0.1 and (gap > -0.05).all()
    tv_iw = 0.5 * np.abs(iw.exp().numpy() - hist).sum()
    tv_elbo = 0.5 * np.abs(elbo.exp().numpy() - hist).sum()
    assert tv_iw < 0.02 < tv_elbo


def test_log_prob_deterministic_and_save_load_round_trip(tmp_path):
    torch.manual_seed(0)
    model = create_model("vae", 5, 6, hidden=16, latent=3, n_importance=16)
    x = torch.randint(6, (40, 5))
    assert torch.equal(model.log_prob(x), model.log_prob(x))
    save_model(tmp_path / "vae.safetensors", model)
    loaded, info = load_model(tmp_path / "vae.safetensors")
    assert info["model"] == "vae" and loaded.config == model.config
    assert torch.equal(loaded.log_prob(x), model.log_prob(x))
    def gen():
        return torch.Generator().manual_seed(5)
    assert torch.equal(loaded.sample(100, gen())[0], model.sample(100, gen())[0])
    with pytest.raises(ValueError, match="decoder"):
        VAEModel(3, 4, decoder="transformer")


P1 = np.array([0.5, 0.2, 0.2, 0.1])


def fidelity(model, target: np.ndarray, n_qubits: int) -> float:
    """Σ_a √(q P) by enumeration with the IW log-likelihood (renormalised: the estimate's sum
    is 1 only up to its noise)."""
    with torch.no_grad():
        q = model.log_prob(strings(n_qubits)).double().exp().numpy()
    assert abs(q.sum() - 1) < 0.05
    return float(np.sqrt(q / q.sum() * target).sum())


def fit(data: np.ndarray, tmp_path, epochs: int) -> VAEModel:
    torch.manual_seed(0)
    model = create_model("vae", data.shape[1], 4, hidden=32, latent=4, embed=8)
    cfg = TrainConfig.from_preset("vae", epochs=epochs, batch_size=200, lr=5e-3, seed=0)
    train(model, data[:-2000], data[-2000:], cfg, tmp_path, progress=False)
    return load_model(tmp_path)[0]


def test_learns_product_distribution(tmp_path):
    n = 5
    data = np.random.default_rng(0).choice(4, size=(12_000, n), p=P1).astype(np.uint8)
    target = P1[enumerate_strings(4, n)].prod(1)
    assert fidelity(fit(data, tmp_path, epochs=3), target, n) > 0.995


def test_learns_ghz_like_distribution(tmp_path):
    """½ Π p0(a_i) + ½ Π p1(a_i): every pair of sites correlated."""
    n = 5
    p0, p1 = np.array([0.7, 0.1, 0.1, 0.1]), np.array([0.05, 0.05, 0.1, 0.8])
    rng = np.random.default_rng(1)
    branch = rng.random(16_000) < 0.5
    data = np.where(branch[:, None], rng.choice(4, (16_000, n), p=p0), rng.choice(4, (16_000, n), p=p1))
    s = enumerate_strings(4, n)
    target = 0.5 * p0[s].prod(1) + 0.5 * p1[s].prod(1)
    marginals = np.prod([np.bincount(data[:, i], minlength=4)[s[:, i]] / len(data) for i in range(n)], 0)
    f_model = fidelity(fit(data.astype(np.uint8), tmp_path, epochs=4), target, n)
    assert f_model > 0.99 > np.sqrt(marginals * target).sum() + 0.05
