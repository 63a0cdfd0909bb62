"""Flow backend against independent references: the Jacobian of every coupling by
autograd, the dequantized density and the cell masses P(a) by quadrature, the
importance-weighted likelihood normalised over all K^N strings and matching the flow's
own samples (χ²), ELBO ≤ estimate, deterministic persistence, learning a GHZ state
(exact fidelity by enumeration), exact resume."""

import numpy as np
import pytest
import torch
from resume import assert_resume_is_exact
from scipy.stats import chisquare

from qgen.datasets import simulate
from qgen.measurements import pauli4, probabilities
from qgen.models import MODELS, FlowModel, create_model, training_preset
from qgen.scores import enumerate_strings
from qgen.targets import make_target
from qgen.training import TrainConfig, load_model, save_model, train


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
        model.shift.normal_(0, 0.5)
    return model


def fit_dequantizer(model: FlowModel, strings: torch.Tensor, steps: int = 150) -> FlowModel:
    """Maximise the ELBO over the dequantizer only (the flow, hence P, stays fixed), so the
    importance-weighted estimate has a good proposal, as after training."""
    opt = torch.optim.Adam(model.dequantizer.parameters(), lr=2e-2)
    gen = torch.Generator().manual_seed(0)
    for _ in range(steps):
        opt.zero_grad()
        (-model.elbo(strings, n=8, generator=gen).mean()).backward()
        opt.step()
    return model


def codes(x: torch.Tensor, n_outcomes: int) -> np.ndarray:
    """Lexicographic index of each string (the order of ``enumerate_strings``)."""
    return (x * n_outcomes ** torch.arange(x.shape[1] - 1, -1, -1)).sum(1).numpy()


@pytest.mark.parametrize("coupling", ["affine", "additive"])
def test_flow_inverts_and_logdet_is_the_jacobian(coupling):
    model = random_flow(3, 4, seed=0, coupling=coupling).double()
    v = torch.randn(5, 3, model.block, dtype=torch.float64)
    eps, logdet = model.forward_flow(v)
    torch.testing.assert_close(model.inverse_flow(eps), v)
    for i in range(len(v)):
        jac = torch.autograd.functional.jacobian(lambda w: model.forward_flow(w.view(1, 3, -1))[0][0], v[i].flatten())
        torch.testing.assert_close(logdet[i], torch.linalg.slogdet(jac)[1])
    z = torch.randn(4, 3 * model.block, dtype=torch.float64)
    masks = set()
    for layer in model.layers:
        out, layer_logdet = layer(z)
        assert torch.equal(out[:, layer.passive], z[:, layer.passive])  # a coupling keeps its conditioning half
        masks.add(tuple(layer.active.tolist()))
        if coupling == "additive":  # volume preserving: only the final diagonal scaling changes volume
            assert torch.equal(layer_logdet, torch.zeros(4, dtype=torch.float64))
    assert masks == {(0, 1, 4, 5), (2, 3), (0, 2, 4), (1, 3, 5)}  # even/odd qubits, even/odd coordinates


@pytest.mark.parametrize("n_outcomes", [4, 3])
def test_density_and_cell_masses_by_quadrature(n_outcomes):
    """One qubit, K = 4 or 3: a 2-D embedding.  ∫ p(v) dv = 1 over the plane, each quadrant
    (the cell of one or, for K = 3, half of one outcome) holds P(a) as the IW estimate says,
    and every dequantizer density q(·|a) integrates to 1 over its cell."""
    model = fit_dequantizer(random_flow(1, n_outcomes, seed=1), torch.arange(n_outcomes)[:, None]).double()
    h = 0.025
    grid = torch.arange(-10, 10, h, dtype=torch.float64) + h / 2
    v = torch.cartesian_prod(grid, grid).view(-1, 1, 2)
    with torch.no_grad():
        dens = model.log_density(v).exp() * h * h
        cell = model.outcomes(v)[:, 0]
        mass = torch.bincount(cell, weights=dens, minlength=n_outcomes)
        est, err = model.log_prob_estimate(torch.arange(n_outcomes)[:, None], n_importance=20_000)
    assert abs(dens.sum().item() - 1) < 1e-4
    assert (mass > 0.05).all()
    torch.testing.assert_close(est.exp(), mass, atol=0, rtol=5 * err.max().item() + 1e-3)
    for a in range(n_outcomes):  # q(v|a) evaluated on the grid points of its own cell
        draws, _ = model.dequantize(torch.tensor([[a]]), 1)
        assert model.outcomes(draws)[0, 0, 0] == a
        with torch.no_grad():
            log_q = model.dequantizer_log_prob(v[cell == a], torch.tensor([[a]]))
        assert abs(log_q.exp().sum().item() * h * h - 1) < 2e-3


@pytest.mark.parametrize("coupling", ["affine", "additive"])
@pytest.mark.parametrize("n_qubits,n_outcomes", [(1, 6), (3, 4)])
def test_importance_weighted_likelihood_normalised(coupling, n_qubits, n_outcomes):
    """Σ_a exp(IW estimate) is unbiased for Σ_a P(a) = 1; with S = 4096 its error is ≲ 1 %,
    and the per-string standard error shrinks like 1/√S."""
    strings = all_strings(n_qubits, n_outcomes)
    model = fit_dequantizer(random_flow(n_qubits, n_outcomes, seed=2, coupling=coupling), strings)
    with torch.no_grad():
        est, err = model.log_prob_estimate(strings, n_importance=4096)
        err_small_s = model.log_prob_estimate(strings, n_importance=256)[1]
    assert abs(est.double().exp().sum().item() - 1) < 0.02
    ratio = (err_small_s / err).median().item()
    assert 3 < ratio < 5.3, ratio


def test_samples_match_importance_weighted_likelihood():
    """Histogram of the flow's samples vs exp(IW estimate) (χ² and total variation)."""
    n_qubits, n_outcomes, n = 3, 4, 20_000
    strings = all_strings(n_qubits, n_outcomes)
    model = fit_dequantizer(random_flow(n_qubits, n_outcomes, seed=3), strings)
    x, lq = model.sample(n, generator=torch.Generator().manual_seed(4))
    assert lq is None and x.shape == (n, n_qubits) and x.dtype == torch.long
    with torch.no_grad():
        probs = model.log_prob_estimate(strings, n_importance=4096)[0].double().exp().numpy()
    assert probs.max() > 3 / len(strings)  # far from uniform
    counts = np.bincount(codes(x, n_outcomes), minlength=len(strings))
    assert 0.5 * np.abs(counts / n - probs).sum() < 0.03
    expected = probs / probs.sum() * n
    keep = expected >= 5
    obs, exp = counts[keep], expected[keep]
    if not keep.all():  # pool the sparse cells
        obs, exp = np.append(obs, counts[~keep].sum()), np.append(exp, expected[~keep].sum())
    assert chisquare(obs, exp).pvalue > 1e-3  # false-alarm rate 1e-3 (plus the estimate's ~1 % noise)
    other = fit_dequantizer(random_flow(n_qubits, n_outcomes, seed=5), strings)
    with torch.no_grad():
        wrong = other.log_prob_estimate(strings, 4096)[0].double().exp().numpy()
    assert chisquare(counts, wrong / wrong.sum() * n).pvalue < 1e-3  # power check


def test_dequantizer_draws_stay_in_their_cell_and_elbo_bounds_the_estimate():
    model = random_flow(4, 6, seed=6, train_draws=1)
    x = torch.randint(6, (200, 4), generator=torch.Generator().manual_seed(0))
    v, log_q = model.dequantize(x, 3)
    assert v.shape == (3, 200, 4, 3) and log_q.shape == (3, 200)
    assert torch.equal(model.outcomes(v), x.expand(3, -1, -1))
    with torch.no_grad():
        estimate = model.log_prob_estimate(x, n_importance=1024)[0]
        elbo = model.elbo(x, n=256, generator=torch.Generator().manual_seed(1))
    assert (elbo < estimate).all() and (estimate - elbo).mean() > 1e-3  # Jensen gap, strictly positive here
    torch.manual_seed(0)
    loss = model.loss(x.to(torch.uint8))
    torch.manual_seed(0)
    torch.testing.assert_close(loss, -model.elbo(x).mean())  # train_draws = 1: the ELBO
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())  # flow and dequantizer train jointly
    iwae = random_flow(4, 6, seed=6, train_draws=3)
    torch.manual_seed(0)  # the same stream as a fresh generator seeded with 0
    torch.testing.assert_close(iwae.loss(x), -iwae.log_prob_estimate(x, 3, torch.Generator().manual_seed(0))[0].mean())


def test_registry_presets_determinism_and_save_load(tmp_path):
    assert MODELS["flow"] is FlowModel and FlowModel.likelihood == "estimate"
    assert "likelihood: estimate (importance-weighted" in FlowModel.__doc__
    model = random_flow(5, 6, seed=7, n_importance=16)
    assert FlowModel(5, 4).config == create_model("flow", 5, 4).config
    x = torch.randint(6, (40, 5))
    assert torch.equal(model.log_prob(x), model.log_prob(x))  # fixed internal seed
    other = model.log_prob_estimate(x, generator=torch.Generator().manual_seed(1))[0]
    assert not torch.equal(model.log_prob(x), other)
    save_model(tmp_path / "m.safetensors", model, {"dataset": {"povm": "pauli6"}})
    loaded, meta = load_model(tmp_path / "m.safetensors", expect={"povm": "pauli6"})
    assert meta["config"] == model.config and meta["config"]["n_importance"] == 16
    assert torch.equal(loaded.log_prob(x), model.log_prob(x))
    assert create_model("flow", 5, 4).config["n_importance"] == 256 and model.config["train_draws"] == 4
    assert training_preset("flow")["epochs"] == 10
    with pytest.raises(ValueError, match="train_draws"):
        FlowModel(4, 4, train_draws=0)
    with pytest.raises(ValueError, match="coupling"):
        FlowModel(4, 4, coupling="spline")
    assert len(FlowModel(1, 2).layers) == 0  # one coordinate: the diagonal scaling is the whole flow


def test_learns_ghz_state(tmp_path):
    """GHZ-4 under Pauli-4 (Z outcomes agree across qubits): exact F_c by enumeration of the
    256 strings, the IW estimate at S = 2048 standing for the model's P; the flow must beat
    the best uncorrelated model, the product of the exact marginals (F_c = 0.963)."""
    ds = simulate(make_target("ghz", n=4), pauli4(), 5_000, seed=0)
    torch.manual_seed(0)
    model = FlowModel(4, 4, n_layers=4, hidden=64, train_draws=1)
    cfg = TrainConfig(epochs=30, batch_size=200, lr=3e-3, patience=None, device="cpu")
    train(model, ds.train, ds.val, cfg, tmp_path, progress=False)
    target = probabilities(make_target("ghz", n=4).state, pauli4())
    marginals = [target.sum(axis=tuple(j for j in range(4) if j != i)) for i in range(4)]
    product = np.sqrt(target * np.einsum("a,b,c,d->abcd", *marginals)).sum()
    with torch.no_grad():
        q = model.log_prob_estimate(all_strings(4, 4), n_importance=2048)[0].double().exp().numpy()
    fidelity = np.sqrt(q * target.ravel()).sum()
    assert fidelity >= 0.975 and fidelity > product + 0.01, (fidelity, product)  # measured 0.979 vs 0.963
    assert abs(q.sum() - 1) < 0.02


def test_resume_is_exact(tmp_path, monkeypatch):
    """Dequantization noise comes from torch's RNG, which the checkpoint restores."""
    data = np.random.default_rng(1).integers(0, 4, size=(1_200, 4)).astype(np.uint8)

    def fresh(seed: int) -> FlowModel:
        torch.manual_seed(seed)
        return FlowModel(4, 4, n_layers=2, hidden=16, n_importance=4)

    cfg = TrainConfig(epochs=2, batch_size=200, lr=3e-3, seed=3)
    assert_resume_is_exact(fresh, data[:1_000], data[1_000:], cfg, tmp_path, monkeypatch)
