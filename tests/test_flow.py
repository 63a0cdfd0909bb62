"""Flow backend: invertibility, the dequantized density integrates to 1, the importance-
weighted likelihood is normalised over strings and matches the flow's own samples,
the ELBO bounds it, deterministic persistence, learning a product target, exact resume."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from resume import assert_resume_is_exact

from qgen.metrics import enumerate_strings
from qgen.models import MODELS, FlowModel, create_model, training_preset
from qgen.training import TrainConfig, load_model, save_model, train

P1 = np.array([0.5, 0.2, 0.2, 0.1])


def all_strings(n_qubits: int, n_outcomes: int) -> torch.Tensor:
    return torch.from_numpy(enumerate_strings(n_outcomes, n_qubits)).long()


def random_flow(n_qubits: int, n_outcomes: int, seed: int, coupling: str = "affine", **config) -> FlowModel:
    """A flow far from its identity initialisation (the conditioners' last layers start at 0)."""
    torch.manual_seed(seed)
    model = FlowModel(n_qubits, n_outcomes, coupling=coupling, n_layers=4, hidden=16, **config)
    with torch.no_grad():
        for layer in model.layers:
            layer.net[-1].weight.normal_(0, 0.3)
            layer.net[-1].bias.normal_(0, 0.3)
    return model


def product_data(n: int, n_qubits: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).choice(4, size=(n, n_qubits), p=P1).astype(np.uint8)


@pytest.mark.parametrize("coupling", ["affine", "additive"])
def test_layers_invert_and_logdet(coupling):
    model = random_flow(5, 4, seed=0, coupling=coupling)
    z = torch.randn(7, 5, dtype=torch.float64)
    for layer in model.double().layers:
        out, logdet = layer(z)
        torch.testing.assert_close(layer.inverse(out), z)
        jac = torch.autograd.functional.jacobian(lambda v, f=layer: f(v[None])[0][0], z[0])
        torch.testing.assert_close(logdet[0], torch.linalg.slogdet(jac)[1])
        if coupling == "additive":
            assert torch.equal(logdet, torch.zeros(7, dtype=torch.float64))


def test_density_integrates_to_one_per_qubit():
    """One qubit: ∫_0^K p(y) dy = 1 by a fine Riemann sum (logit Jacobian included)."""
    model = random_flow(1, 4, seed=1)
    y = (torch.arange(400_000, dtype=torch.float64) + 0.5) / 100_000
    with torch.no_grad():
        total = model.double().log_density(y[:, None]).exp().sum().item() / 100_000
    assert abs(total - 1) < 1e-3


@pytest.mark.parametrize("coupling", ["affine", "additive"])
@pytest.mark.parametrize("n_qubits,n_outcomes", [(1, 6), (3, 4)])
def test_importance_weighted_likelihood_normalised(coupling, n_qubits, n_outcomes):
    """Σ_a exp(IW estimate) is unbiased for Σ_a P(a) = 1; with S = 4096 its error is ≲ 1 %."""
    model = random_flow(n_qubits, n_outcomes, seed=2, coupling=coupling)
    with torch.no_grad():
        est, err = model.log_prob_estimate(all_strings(n_qubits, n_outcomes), n_importance=4096)
    q = est.double().exp()
    assert abs(q.sum().item() - 1) < 0.02, q.sum()
    with torch.no_grad():
        err_small_s = model.log_prob_estimate(all_strings(n_qubits, n_outcomes), n_importance=256)[1]
    ratio = (err_small_s / err).median().item()  # the standard error shrinks like 1/√S
    assert 3 < ratio < 5.3, ratio


def test_samples_match_importance_weighted_likelihood():
    """Histogram of ⌊y⌋ for y drawn from the flow vs exp(log_prob) (χ² and total variation)."""
    n_qubits, n_outcomes, n = 3, 4, 20_000
    model = random_flow(n_qubits, n_outcomes, seed=3)
    x, lq = model.sample(n, generator=torch.Generator().manual_seed(4))
    assert lq is None and x.shape == (n, n_qubits) and x.dtype == torch.long
    strings = all_strings(n_qubits, n_outcomes)
    with torch.no_grad():
        probs = model.log_prob_estimate(strings, n_importance=8192)[0].double().exp().numpy()
    assert probs.max() > 3 / len(strings)  # far from uniform
    codes = (x * n_outcomes ** torch.arange(n_qubits - 1, -1, -1)).sum(1).numpy()
    counts = np.bincount(codes, minlength=len(strings))
    assert 0.5 * np.abs(counts / n - probs).sum() < 0.03
    expected = probs / probs.sum() * n
    keep = expected >= 5
    obs, exp = counts[keep], expected[keep]
    if not keep.all():
        obs, exp = np.append(obs, counts[~keep].sum()), np.append(exp, expected[~keep].sum())
    assert chisquare(obs, exp).pvalue > 1e-3  # false-alarm rate 1e-3 (plus the estimate's ~1 % noise)
    with torch.no_grad():
        wrong = random_flow(n_qubits, n_outcomes, seed=5).log_prob_estimate(strings, 8192)[0].double().exp().numpy()
    assert chisquare(counts, wrong / wrong.sum() * n).pvalue < 1e-3  # power check


def test_elbo_below_estimate_and_loss():
    model = random_flow(4, 4, seed=6)
    x = torch.randint(4, (200, 4), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        exact = model.log_prob_estimate(x, n_importance=4096)[0]
        elbo = model.elbo(x, n=256, generator=torch.Generator().manual_seed(1))
    assert (elbo < exact).all() and (exact - elbo).mean() > 1e-3  # Jensen gap, strictly positive here
    torch.manual_seed(0)
    loss = model.loss(x.to(torch.uint8))
    torch.manual_seed(0)
    torch.testing.assert_close(loss, -model.elbo(x).mean())
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_registry_presets_determinism_and_save_load(tmp_path):
    assert MODELS["flow"] is FlowModel and FlowModel.likelihood == "estimate"
    assert "likelihood: estimate (importance-weighted" in FlowModel.__doc__
    model = random_flow(5, 6, seed=7, n_importance=16)
    x = torch.randint(6, (40, 5))
    assert torch.equal(model.log_prob(x), model.log_prob(x))  # fixed internal seed
    other = model.log_prob_estimate(x, generator=torch.Generator().manual_seed(1))[0]
    assert not torch.equal(model.log_prob(x), other)
    save_model(tmp_path / "m.safetensors", model, {"dataset": {"povm": "pauli6"}})
    loaded, meta = load_model(tmp_path / "m.safetensors", expect={"povm": "pauli6"})
    assert meta["config"] == {"coupling": "affine", "n_layers": 4, "hidden": 16, "n_importance": 16, "seed": 0}
    assert torch.equal(loaded.log_prob(x), model.log_prob(x))
    assert create_model("flow", 5, 4).config["n_importance"] == 32
    assert training_preset("flow")["schedule"] == "cosine"
    with pytest.raises(ValueError, match="coupling"):
        FlowModel(4, 4, coupling="spline")


def test_learns_product_distribution(tmp_path):
    n_qubits = 4
    data = product_data(3_500, n_qubits, seed=0)
    torch.manual_seed(0)
    model = FlowModel(n_qubits, 4, n_layers=6, hidden=64)
    cfg = TrainConfig(epochs=10, batch_size=250, lr=3e-3, patience=None)
    train(model, data[:3_000], data[3_000:], cfg, tmp_path, progress=False)
    strings = enumerate_strings(4, n_qubits)
    target = np.prod(P1[strings], axis=1)
    with torch.no_grad():
        q = model.log_prob_estimate(torch.from_numpy(strings).long(), n_importance=2048)[0].double().exp().numpy()
    fidelity = np.sqrt(q * target).sum()
    assert fidelity >= 0.95, fidelity  # measured 0.989 (the additive/NICE flow reaches only ~0.87)
    assert math.isclose(q.sum(), 1, abs_tol=0.02)


def test_resume_is_exact(tmp_path, monkeypatch):
    """Dequantization noise comes from torch's RNG, which the checkpoint restores."""
    data = product_data(1_200, 4, seed=1)

    def fresh(seed: int) -> FlowModel:
        torch.manual_seed(seed)
        return FlowModel(4, 4, n_layers=2, hidden=16, n_importance=4)

    cfg = TrainConfig(epochs=2, batch_size=200, lr=3e-3, seed=3)
    assert_resume_is_exact(fresh, data[:1_000], data[1_000:], cfg, tmp_path, monkeypatch)
