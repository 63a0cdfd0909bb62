"""Transformer backend: exact normalisation, KV-cached sampling vs teacher forcing,
persistence, learning a product distribution, exact resume through the trainer."""

import numpy as np
import pytest
import torch
from resume import assert_resume_is_exact
from scipy.stats import chisquare

from qgen.models import MODELS, TransformerModel, create_model, training_preset
from qgen.scores import enumerate_strings
from qgen.training import TrainConfig, load_model, save_model, train

P1 = np.array([0.5, 0.2, 0.2, 0.1])


def all_strings(n_qubits: int, n_outcomes: int) -> torch.Tensor:
    return torch.from_numpy(enumerate_strings(n_outcomes, n_qubits)).long()


def sharpened(n_qubits: int, n_outcomes: int, seed: int, **config) -> TransformerModel:
    """A random transformer whose conditionals are far from uniform and depend on the prefix."""
    torch.manual_seed(seed)
    model = TransformerModel(n_qubits, n_outcomes, d_model=16, n_heads=2, d_ff=32, **config)
    with torch.no_grad():
        model.head.weight.mul_(8.0)
        model.embedding.weight.mul_(3.0)
    return model


def product_data(n: int, n_qubits: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).choice(4, size=(n, n_qubits), p=P1).astype(np.uint8)


@pytest.mark.parametrize("n_qubits,n_outcomes,n_layers", [(1, 4, 1), (4, 4, 2), (3, 6, 3)])
def test_log_prob_normalised(n_qubits, n_outcomes, n_layers):
    model = sharpened(n_qubits, n_outcomes, seed=0, n_layers=n_layers)
    total = model.log_prob(all_strings(n_qubits, n_outcomes)).double().exp().sum()
    assert abs(total.item() - 1) < 1e-5


def test_cached_sampling_matches_log_prob_and_chi2():
    n_qubits, n_outcomes, n = 3, 4, 20_000
    model = sharpened(n_qubits, n_outcomes, seed=1)
    x, lp = model.sample(n, generator=torch.Generator().manual_seed(2), chunk_size=7_000)
    assert x.shape == (n, n_qubits) and x.dtype == torch.long
    torch.testing.assert_close(lp, model.log_prob(x).detach(), atol=1e-5, rtol=1e-5)

    strings = all_strings(n_qubits, n_outcomes)
    probs = model.log_prob(strings).double().exp().detach().numpy()
    probs /= probs.sum()
    assert probs.max() > 2 / len(strings) and probs.min() < 0.5 / len(strings)  # far from uniform
    codes = (x * n_outcomes ** torch.arange(n_qubits - 1, -1, -1)).sum(1).numpy()
    counts = np.bincount(codes, minlength=len(strings))
    expected = probs * n
    keep = expected >= 5  # pool sparse cells for the χ² approximation
    obs, exp = counts[keep], expected[keep]
    if not keep.all():
        obs, exp = np.append(obs, counts[~keep].sum()), np.append(exp, expected[~keep].sum())
    assert chisquare(obs, exp).pvalue > 1e-3  # false-alarm rate 1e-3; fixed seeds
    wrong = sharpened(n_qubits, n_outcomes, seed=5).log_prob(strings).double().exp().detach().numpy()
    assert chisquare(counts, wrong * n / wrong.sum()).pvalue < 1e-3  # power check


def test_cached_sampling_longer_chain_and_reproducible():
    model = sharpened(12, 6, seed=4, n_layers=2)
    a = model.sample(500, generator=torch.Generator().manual_seed(7), chunk_size=200)
    b = model.sample(500, generator=torch.Generator().manual_seed(7), chunk_size=200)
    c = model.sample(500, generator=torch.Generator().manual_seed(8))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) and not torch.equal(a[0], c[0])
    torch.testing.assert_close(a[1], model.log_prob(a[0]).detach(), atol=1e-5, rtol=1e-5)
    assert model.sample(0)[0].shape == (0, 12)


def test_registry_presets_and_save_load(tmp_path):
    assert MODELS["transformer"] is TransformerModel and TransformerModel.likelihood == "exact"
    model = create_model("transformer", 6, 4)
    assert model.config == {"n_layers": 2, "d_model": 64, "n_heads": 4, "d_ff": 128, "dropout": 0.0}
    assert training_preset("transformer")["lr"] == 1e-3
    assert create_model("transformer", 6, 4, preset="small").config["n_layers"] == 1
    assert training_preset("transformer", "small")["schedule"] == "plateau"
    with pytest.raises(ValueError, match="divisible"):
        TransformerModel(4, 4, d_model=10, n_heads=4)
    with pytest.raises(ValueError, match="dropout"):
        TransformerModel(4, 4, dropout=1.0)
    save_model(tmp_path / "m.safetensors", model, {"dataset": {"povm": "pauli4"}})
    loaded, meta = load_model(tmp_path / "m.safetensors", expect={"povm": "pauli4"})
    x = torch.randint(4, (50, 6))
    assert meta["model"] == "transformer"
    assert torch.equal(loaded.log_prob(x), model.log_prob(x))


def test_learns_product_distribution(tmp_path):
    n_qubits = 6
    data = product_data(3_500, n_qubits, seed=0)
    torch.manual_seed(0)
    model = TransformerModel(n_qubits, 4, n_layers=1, d_model=32, n_heads=2, d_ff=64)
    cfg = TrainConfig(epochs=10, batch_size=250, lr=3e-3, patience=None, device="cpu")
    train(model, data[:3_000], data[3_000:], cfg, tmp_path, progress=False)
    strings = enumerate_strings(4, n_qubits)
    target = np.prod(P1[strings], axis=1)
    with torch.no_grad():
        q = model.log_prob(torch.from_numpy(strings).long()).double().exp().numpy()
    fidelity = np.sqrt(q * target).sum()
    assert fidelity >= 0.99, fidelity  # measured 0.998


def test_dropout_only_in_training_mode():
    model = sharpened(5, 4, seed=6, n_layers=2, dropout=0.5)
    x = torch.randint(4, (64, 5), generator=torch.Generator().manual_seed(0))
    assert not torch.equal(model.log_prob(x), model.log_prob(x))  # train mode: random residual dropout
    model.eval()
    assert torch.equal(model.log_prob(x), model.log_prob(x))
    samples, lp = model.sample(300, generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(lp, model.log_prob(samples).detach(), atol=1e-5, rtol=1e-5)
    total = model.log_prob(all_strings(5, 4)).double().exp().sum()
    assert abs(total.item() - 1) < 1e-5


def test_resume_is_exact(tmp_path, monkeypatch):
    """With dropout: its noise comes from torch's RNG, which the checkpoint restores."""
    data = product_data(1_200, 4, seed=1)

    def fresh(seed: int) -> TransformerModel:
        torch.manual_seed(seed)
        return TransformerModel(4, 4, n_layers=1, d_model=16, n_heads=2, d_ff=32, dropout=0.1)

    cfg = TrainConfig(epochs=2, batch_size=200, lr=3e-3, seed=3)
    assert_resume_is_exact(fresh, data[:1_000], data[1_000:], cfg, tmp_path, monkeypatch)
