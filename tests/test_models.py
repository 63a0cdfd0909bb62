"""Model contract, registry and RNN backend: normalisation, sampling, reproducibility."""

import itertools
import json

import numpy as np
import pytest
import torch
from scipy.stats import chisquare

from qgen.models import MODELS, RNNModel, create_model, get_model, training_preset


def all_strings(n_qubits: int, n_outcomes: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(n_outcomes), repeat=n_qubits)))


def sharpened_rnn(n_qubits: int, n_outcomes: int, seed: int, **config) -> RNNModel:
    """A random RNN whose conditionals are far from uniform and depend on the prefix."""
    torch.manual_seed(seed)
    model = RNNModel(n_qubits, n_outcomes, hidden=16, **config)
    with torch.no_grad():
        model.head.weight.mul_(6.0)
        model.embedding.weight.mul_(3.0)
    return model


@pytest.mark.parametrize("patch", [1, 2, 3])
@pytest.mark.parametrize("phases", [0, 3])
@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("n_qubits,n_outcomes", [(1, 4), (4, 4), (3, 6), (5, 3)])
def test_log_prob_normalised(cell, n_qubits, n_outcomes, phases, patch):
    torch.manual_seed(0)
    model = RNNModel(n_qubits, n_outcomes, cell=cell, hidden=12, n_layers=2, embed=5, phases=phases, patch=patch)
    total = model.log_prob(all_strings(n_qubits, n_outcomes)).double().exp().sum()
    assert abs(total.item() - 1) < 1e-5


@pytest.mark.parametrize("cell,n_qubits,patch", [("gru", 3, 1), ("lstm", 3, 1), ("gru", 5, 2), ("gru", 4, 3)])
def test_sampling_matches_log_prob(cell, n_qubits, patch):
    """χ² of 20,000 samples against exp(log_prob) on all 4^N strings; with patches the last
    patch is partial (its padding qubits summed out) for N = 5, patch 2 and N = 4, patch 3."""
    n_outcomes, n = 4, 20_000
    model = sharpened_rnn(n_qubits, n_outcomes, seed=1, cell=cell, patch=patch)
    x, lp = model.sample(n, generator=torch.Generator().manual_seed(2), chunk_size=7_000)
    assert x.shape == (n, n_qubits) and x.dtype == torch.long
    torch.testing.assert_close(lp, model.log_prob(x).detach(), atol=1e-5, rtol=1e-5)

    strings = all_strings(n_qubits, n_outcomes)
    probs = model.log_prob(strings).double().exp().detach().numpy()
    probs /= probs.sum()  # float32 rounding; the sum is 1 to ~1e-7
    # the test distribution is far from uniform
    assert probs.max() > 2 / len(strings) and probs.min() < 0.5 / len(strings)
    codes = (x * n_outcomes ** torch.arange(n_qubits - 1, -1, -1)).sum(1).numpy()
    counts = np.bincount(codes, minlength=len(strings))
    expected = probs * n
    keep = expected >= 5  # pool sparse cells into one for the χ² approximation
    obs, exp = counts[keep], expected[keep]
    if not keep.all():
        obs, exp = np.append(obs, counts[~keep].sum()), np.append(exp, expected[~keep].sum())
    # False-alarm rate 1e-3 (fixed seeds make the outcome deterministic).
    assert chisquare(obs, exp).pvalue > 1e-3
    # ... and the same test rejects the samples against a different model (power check).
    other = sharpened_rnn(n_qubits, n_outcomes, seed=5, cell=cell, patch=patch)
    wrong = other.log_prob(strings).double().exp().detach().numpy()
    wrong *= n / wrong.sum()
    assert chisquare(counts, wrong).pvalue < 1e-3


def test_sample_reproducible():
    model = sharpened_rnn(5, 6, seed=0)
    a = model.sample(1000, generator=torch.Generator().manual_seed(7), chunk_size=300)
    b = model.sample(1000, generator=torch.Generator().manual_seed(7), chunk_size=300)
    c = model.sample(1000, generator=torch.Generator().manual_seed(8), chunk_size=300)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    assert model.sample(0)[0].shape == (0, 5)


def test_log_prob_differentiable_and_loss_is_mean_nll():
    model = sharpened_rnn(4, 4, seed=0)
    x = torch.randint(4, (32, 4))
    loss = model.loss(x.to(torch.uint8))
    torch.testing.assert_close(loss, -model.log_prob(x).mean())
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


def test_input_validation():
    model = RNNModel(4, 4, hidden=8)
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(torch.zeros(3, 5, dtype=torch.long))
    with pytest.raises(ValueError, match="0…3"):
        model.log_prob(torch.full((3, 4), 4))
    with pytest.raises(ValueError, match="integer"):
        model.log_prob(torch.zeros(3, 4))
    with pytest.raises(ValueError, match="cell"):
        RNNModel(4, 4, cell="tcn")
    for bad in (0, 2.0, True, 7):  # 4^7 > 4096 outcomes per step
        with pytest.raises(ValueError, match="patch"):
            RNNModel(4, 4, patch=bad)


def test_patch_of_one_is_the_qubit_by_qubit_network():
    """patch = 1 leaves the architecture as it was (checkpoints load, same log P), and a
    patched network reads one embedding per patch: ⌈N/patch⌉ cell steps."""
    torch.manual_seed(0)
    one = RNNModel(5, 4, hidden=8, phases=2)
    assert "patch" not in one.config and one.n_steps == 5 and one.head.out_features == 4
    x = torch.randint(4, (6, 5))
    # the qubit-by-qubit chain rule, written out: p(a_i | a_<i) from the cell's output at step i
    inputs = torch.cat([torch.full((6, 1), 4), x[:, :-1]], 1)
    phi = torch.cumsum(one.theta[inputs], 1)
    out, _ = one.rnn(torch.cat([one.embedding(inputs), torch.cos(phi), torch.sin(phi)], -1))
    expected = torch.log_softmax(one.head(out), -1).gather(-1, x[..., None]).sum((1, 2))
    torch.testing.assert_close(one.log_prob(x), expected)
    two = RNNModel(5, 4, hidden=8, phases=2, patch=2)
    assert two.config["patch"] == 2 and two.n_steps == 3 and two.head.out_features == 16


def test_stepped_cpu_gru_is_the_fused_gru():
    """On the CPU the GRU is stepped time-major with the gru_cell kernel (faster here); its
    outputs, final state and weight gradients are those of the fused ``nn.GRU`` it replaces."""
    torch.manual_seed(0)
    model = RNNModel(6, 4, hidden=12, n_layers=3, phases=2)
    inputs, state = torch.randn(5, 6, model.rnn.input_size), torch.randn(3, 5, 12)
    for h0 in (None, state):
        ours, theirs = model._recur(inputs, h0), model.rnn(inputs, h0)
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a, b)
        grads = [torch.autograd.grad(out[0].square().sum(), list(model.rnn.parameters())) for out in (ours, theirs)]
        for a, b in zip(*grads):
            torch.testing.assert_close(a, b)
    assert isinstance(RNNModel(3, 4, cell="lstm")._recur(torch.randn(2, 3, 16))[1], tuple)  # LSTMs keep nn.LSTM


def test_registry_and_presets():
    assert get_model("rnn") is RNNModel and MODELS["rnn"].likelihood == "exact"
    with pytest.raises(ValueError, match="rnn"):
        get_model("nope")
    with pytest.raises(ValueError, match="default, paper"):
        create_model("rnn", 5, 4, preset="huge")
    paper = create_model("rnn", 50, 4, preset="paper")
    assert (paper.rnn.num_layers, paper.rnn.hidden_size, paper.theta) == (3, 100, None)  # no phases, as in the paper
    assert training_preset("rnn", "paper") == {"batch_size": 500, "lr": 1e-3, "grad_clip": 1.0,
                                               "schedule": "constant"}
    model = create_model("rnn", 7, 6, cell="lstm", hidden=20)
    config = json.loads(json.dumps(model.config))
    assert config == {"cell": "lstm", "n_layers": 2, "hidden": 20, "embed": 16, "phases": 4}
    rebuilt = get_model(model.name)(7, 6, **config)
    rebuilt.load_state_dict(model.state_dict())
    x = torch.randint(6, (10, 7))
    assert torch.equal(rebuilt.log_prob(x), model.log_prob(x))


def test_phase_channels_learn_ghz_coherence(tmp_path):
    """GHZ-4 with Pauli-6: the coherence sits only in the 4-body conditional (every
    3-qubit marginal is the incoherent mixture's).  The default RNN (phase channels) must
    reconstruct ρ_q = Σ_a q(a) D^a with exact quantum fidelity well above the mixture's 0.5."""
    from qgen.datasets import simulate
    from qgen.measurements import pauli6
    from qgen.scores import enumerate_strings, exact_scores
    from qgen.targets import make_target
    from qgen.training import TrainConfig, train

    ds = simulate(make_target("ghz", n=4), pauli6(), 60_000, seed=3, val_fraction=0.1, test_fraction=0.0,
                  train_log_prob=False)
    torch.manual_seed(0)
    model = create_model("rnn", 4, 6, hidden=32, n_layers=1)
    cfg = TrainConfig(epochs=8, batch_size=500, lr=3e-3, seed=0, patience=None, device="cpu")
    train(model, ds.train, ds.val, cfg, tmp_path,
          progress=False)
    with torch.no_grad():
        lq = model.log_prob(torch.as_tensor(enumerate_strings(6, 4), dtype=torch.long)).double().numpy()
    # measured: 0.92 with phase channels, 0.498 without (phases=0), the incoherent mixture
    assert exact_scores(lq, ds.target.state, ds.povm)["quantum_fidelity"].mean > 0.85


def test_povm_sets_the_initial_phases(tmp_path):
    from qgen.measurements import pauli4, pauli6
    from qgen.models.rnn import povm_phases
    from qgen.training import load_model, save_model

    # ⟨0|M|1⟩ of Pauli-6 (Z±, X±, Y±): 0, 0, ½·⅓, −½·⅓, −i·½·⅓, +i·½·⅓
    np.testing.assert_allclose(povm_phases(pauli6()), [0, 0, 0, np.pi, -np.pi / 2, np.pi / 2], atol=1e-12)
    # Pauli-4: ⅓|+⟩⟨+| → 0, ⅓|+i⟩⟨+i| → −π/2, and the remainder I − Σ has ⟨0|·|1⟩ = −(1 − i)/6
    np.testing.assert_allclose(povm_phases(pauli4()), [0, 0, -np.pi / 2, 3 * np.pi / 4], atol=1e-12)
    torch.manual_seed(0)
    model = create_model("rnn", 5, 6, povm=pauli6())
    assert model.config["phase_init"] == povm_phases(pauli6())
    np.testing.assert_allclose(model.theta[:6, 0].detach().numpy(), povm_phases(pauli6()), atol=1e-6)
    save_model(tmp_path / "m.safetensors", model)
    loaded, _ = load_model(tmp_path / "m.safetensors")
    assert loaded.config == model.config and torch.equal(loaded.theta, model.theta)
    assert "phase_init" not in create_model("rnn", 5, 4, preset="paper", povm=pauli4()).config  # no phases
    assert create_model("rnn", 5, 6, povm=pauli6(), phase_init=[0.0] * 6).config["phase_init"] == [0.0] * 6
    with pytest.raises(ValueError, match="6 outcomes, the model 4"):
        create_model("rnn", 5, 4, povm=pauli6())
    with pytest.raises(ValueError, match="one angle per outcome"):
        create_model("rnn", 5, 4, phase_init=[0.0, 1.0])


def test_povm_phases_make_ghz_coherence_learnable(tmp_path):
    """GHZ-5 with Pauli-6, the same short training from the same seed: started at
    θ(a) = arg⟨0|M^a|1⟩, phase channel 0 carries the coherence term's phase from the start
    and ρ_q reaches a high quantum fidelity; from a random start the model is still near
    the incoherent mixture (0.5).  At N = 8 the gap is 0.991 vs 0.501 (benchmarks/bench_ghz.py)."""
    from qgen.datasets import simulate
    from qgen.measurements import pauli6
    from qgen.scores import enumerate_strings, exact_scores
    from qgen.targets import make_target
    from qgen.training import TrainConfig, train

    ds = simulate(make_target("ghz", n=5), pauli6(), 100_000, seed=3, val_fraction=0.1, test_fraction=0.0,
                  train_log_prob=False)
    fidelity = {}
    for povm in (pauli6(), None):
        torch.manual_seed(0)
        model = create_model("rnn", 5, 6, hidden=32, n_layers=1, povm=povm)
        train(model, ds.train, ds.val, TrainConfig(epochs=8, batch_size=500, lr=3e-3, seed=0, patience=None,
                                                   device="cpu"), tmp_path / str(povm is None), progress=False)
        with torch.no_grad():
            lq = model.log_prob(torch.as_tensor(enumerate_strings(6, 5), dtype=torch.long)).double().numpy()
        fidelity[povm is None] = exact_scores(lq, ds.target.state, ds.povm)["quantum_fidelity"].mean
    # measured: 0.82 from the POVM's phases, 0.57 from random phases (0.93 and 0.59 with patch=2)
    assert fidelity[False] > 0.75 and fidelity[False] > fidelity[True] + 0.15, fidelity


def test_patches_expose_ghz_coherence_without_phases(tmp_path):
    """GHZ-4 with Pauli-6 and no phase channels: a qubit per step the coherence is a 4-factor
    product and the GRU stays at the incoherent mixture (0.5); with 2-qubit patches it is a
    product of two patch factors and the same GRU learns it (measured 0.976 vs 0.498)."""
    from qgen.datasets import simulate
    from qgen.measurements import pauli6
    from qgen.scores import enumerate_strings, exact_scores
    from qgen.targets import make_target
    from qgen.training import TrainConfig, train

    ds = simulate(make_target("ghz", n=4), pauli6(), 60_000, seed=3, val_fraction=0.1, test_fraction=0.0,
                  train_log_prob=False)
    fidelity = {}
    for patch in (1, 2):
        torch.manual_seed(0)
        model = create_model("rnn", 4, 6, hidden=32, n_layers=1, phases=0, patch=patch)
        train(model, ds.train, ds.val, TrainConfig(epochs=8, batch_size=500, lr=3e-3, seed=0, patience=None,
                                                   device="cpu"), tmp_path / str(patch), progress=False)
        with torch.no_grad():
            lq = model.log_prob(torch.as_tensor(enumerate_strings(6, 4), dtype=torch.long)).double().numpy()
        fidelity[patch] = exact_scores(lq, ds.target.state, ds.povm)["quantum_fidelity"].mean
    assert fidelity[1] < 0.6 and fidelity[2] > 0.9, fidelity
