"""Tensor-network Born machines (``mps``, ``lpdo``) against independent references: a dense
ρ = X X† built here from the site tensors with numpy (no qgen contraction code), closed
forms for GHZ states and their depolarized versions at N = 50–100, and χ² tests of the sampler."""

import itertools

import numpy as np
import pytest
import qutip
import torch
from resume import assert_resume_is_exact
from scipy.stats import chisquare

from qgen.datasets.simulation import simulate
from qgen.measurements.povm import POVM, pauli4, pauli6, tetra
from qgen.models import LPDOModel, MPSModel, create_model, get_model
from qgen.models import _tn_contract as tn
from qgen.targets.builders import ghz, product_state, random_mps
from qgen.targets.hamiltonians import PAULI
from qgen.targets.recipes import make_target
from qgen.training.callbacks import Callback
from qgen.training.checkpoint import load_model, save_model
from qgen.training.config import TrainConfig
from qgen.training.loop import train


def all_strings(n: int, k: int) -> torch.Tensor:
    return torch.tensor(list(itertools.product(range(k), repeat=n)))


def kron(mats) -> np.ndarray:
    out = np.ones((1, 1))
    for m in mats:
        out = np.kron(out, m)
    return out


def dense_rho(model: LPDOModel) -> np.ndarray:
    """ρ / Tr ρ from the site tensors: X[(s_1…s_N), (κ_1…κ_N)] by plain numpy contraction
    over the bonds, then X X†."""
    x = np.ones((1, 1, 1))  # (physical so far, Kraus so far, bond)
    for a in model.tensors():
        a = a.detach().to(torch.complex128).numpy()  # (l, κ, s, r)
        x = np.einsum("SKl,lksr->SsKkr", x, a)
        x = x.reshape(x.shape[0] * 2, -1, a.shape[-1])
    x = x[:, :, 0]
    rho = x @ x.conj().T
    return rho / np.trace(rho)


def born_table(rho: np.ndarray, ops: np.ndarray) -> np.ndarray:
    """P[a_1, …, a_N] = Σ ρ[s, t] Π_i M_i^{a_i}[t_i, s_i] for per-site operators ops (N, K, 2, 2),
    one dense einsum."""
    n = len(ops)
    ket, bra, out = "abcdefgh"[:n], "ijklmnop"[:n], "qrstuvwx"[:n]
    spec = ",".join([ket + bra] + [out[i] + bra[i] + ket[i] for i in range(n)]) + "->" + out
    return np.einsum(spec, rho.reshape((2,) * 2 * n), *ops, optimize=True).real


def rotated(povm: POVM, seed: int) -> np.ndarray:
    """The POVM's elements U M^a U† for a Haar-random unitary U: complex, still a POVM."""
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2)))
    u = q * (np.diag(r) / abs(np.diag(r)))
    return u @ povm.elements @ u.conj().T


def per_qubit(n: int, k: int = 4) -> np.ndarray:
    """(N, K, 2, 2): a different K-outcome POVM on every qubit (as readout-corrected ones are)."""
    base = pauli4() if k == 4 else pauli6()
    choices = [base.elements, rotated(base, 1), rotated(tetra() if k == 4 else base, 2)]
    return np.stack([choices[i % 3] for i in range(n)])


def set_tensors(model: LPDOModel, tensors) -> LPDOModel:
    """Write site tensors (χ_l, μ, 2, χ_r) into the model's stacked weight."""
    with torch.no_grad():
        model.weight.zero_()
        for i, a in enumerate(tensors):
            a = torch.as_tensor(np.asarray(a, dtype=complex))
            model.weight[i, : a.shape[0], : a.shape[1], :, : a.shape[3]] = torch.view_as_real(a)
    return model


def complex_noise(model: LPDOModel, scale: float = 0.5) -> LPDOModel:
    """Add Gaussian noise to the real and imaginary parts (the default start is real)."""
    with torch.no_grad():
        model.weight.add_(scale * torch.randn_like(model.weight))
    return model


def ghz_model(n: int, povm: POVM | None = None, p: float = 0.0) -> LPDOModel:
    """GHZ as an exact χ = 2 MPS; with p > 0 the LPDO of Λ_p^{⊗N}(|GHZ⟩⟨GHZ|), whose Kraus
    operators √(1 − 3p/4) I, √(p/4) σ_j make the μ = 4 purification."""
    povm = povm or pauli6()
    kraus = np.array([np.sqrt(1 - 3 * p / 4) * PAULI[0]] + [np.sqrt(p / 4) * PAULI[j] for j in (1, 2, 3)])
    mu = 4 if p else 1
    tensors = []
    for t in ghz(n).tensors:  # (l, s, r) → (l, κ, s, r) = Σ_s' K_κ[s, s'] t[l, s', r]
        tensors.append(np.einsum("kst,ltr->lksr", kraus[:mu], t))
    model = LPDOModel(n, povm.n_outcomes, bond_dim=2, kraus_dim=mu, povm=povm).double()
    return set_tensors(model, tensors)


# -- likelihood ---------------------------------------------------------------------


@pytest.mark.parametrize("name,kw", [("mps", {}), ("lpdo", {"kraus_dim": 2}), ("lpdo", {"kraus_dim": 3}),
                                     ("lpdo", {"kraus_dim": 2, "real": True})])
@pytest.mark.parametrize("n,povm", [(1, "pauli6"), (3, "pauli4"), (4, "pauli6"), (5, "per-qubit")])
def test_normalised_and_equal_to_dense_born_rule(name, kw, n, povm):
    """Σ_a P(a) = 1 over all K^N strings and P(a) = Tr[(⊗M^{a_i}) ρ] with ρ built densely,
    for complex (pauli6 has σy parts), odd N (a single last block) and per-qubit POVMs."""
    elements = per_qubit(n, 4) if povm == "per-qubit" else {"pauli4": pauli4(), "pauli6": pauli6()}[povm].elements
    torch.manual_seed(n)
    model = get_model(name)(n, elements.shape[-3], povm=elements, bond_dim=3, init_noise=0.8, **kw).double()
    if not kw.get("real"):
        complex_noise(model)
    x = all_strings(n, elements.shape[-3])
    p = model.log_prob(x).exp().detach().numpy()
    assert abs(p.sum() - 1) < 1e-12
    rho = dense_rho(model)
    ops = elements if elements.ndim == 4 else np.broadcast_to(elements, (n, *elements.shape))
    np.testing.assert_allclose(p, born_table(rho, ops).ravel(), atol=1e-14, rtol=1e-10)
    if n > 1 and name == "lpdo":
        assert 0.05 < np.trace(rho @ rho).real < 0.95  # the test state is mixed
    assert np.allclose(rho.imag, 0) == bool(kw.get("real"))


def test_float32_training_precision_and_gradients():
    """The float32 model is normalised to 1e-5; the hand-written backward of the sweep
    equals torch's gradient check (complex tensors and dressed operators, float64)."""
    torch.manual_seed(0)
    model = MPSModel(6, 4, bond_dim=4, povm=pauli4(), init_noise=0.5)
    assert abs(model.log_prob(all_strings(6, 4)).double().exp().sum().item() - 1) < 1e-5
    dims = [1, 2, 3, 2, 1]
    ts = [torch.randn(dims[i], 2, 2, dims[i + 1], dtype=torch.complex128, requires_grad=True) for i in range(4)]
    m = torch.randn(3, 2, 2, dtype=torch.complex128)
    m = m @ m.mH
    idx = torch.randint(3, (5, 4))

    def f(*ts):
        value, log_scale = tn.sweep(ts, [tn.dressed(a, m) for a in ts], idx)
        return (value.real.log() + log_scale).sum() + 0.3 * value.imag.sum()

    assert torch.autograd.gradcheck(f, ts)
    loss = model.loss(all_strings(6, 4)[::7])
    loss.backward()
    assert torch.isfinite(model.weight.grad).all() and model.weight.grad.abs().sum() > 0


def test_ghz_likelihood_closed_form_at_100_qubits():
    """GHZ-100 under Pauli-6: P(a) = ½[Π⟨0|M|0⟩ + Π⟨1|M|1⟩] + Re Π⟨0|M|1⟩, values ~e^{−110},
    through the per-site rescaling (float32 model, float64 reference); samples score
    their own strings."""
    n, povm = 100, pauli6()
    model = ghz_model(n, povm).float()
    gen = torch.Generator().manual_seed(0)
    x, lp = model.sample(300, gen)
    m = povm.elements
    e = m[x.numpy()]  # (B, N, 2, 2)
    ref = 0.5 * (e[..., 0, 0].real.prod(1) + e[..., 1, 1].real.prod(1)) + e[..., 0, 1].prod(1).real
    np.testing.assert_allclose(model.log_prob(x).detach().double().numpy(), np.log(ref), atol=2e-4)
    np.testing.assert_allclose(lp.double().numpy(), np.log(ref), atol=2e-4)
    assert np.log(ref).min() < -110


# -- sampling -----------------------------------------------------------------------


def test_sampling_matches_exact_probabilities():
    """χ² of 20,000 samples against exp(log_prob) of all 4^3 strings (per-qubit POVMs,
    mixed LPDO); false-alarm rate 1e-3; the same test rejects another model's distribution."""
    n, n_samples = 3, 20_000
    torch.manual_seed(3)
    model = complex_noise(LPDOModel(n, 4, bond_dim=2, kraus_dim=2, povm=per_qubit(n), init_noise=1.0))
    x, lp = model.sample(n_samples, torch.Generator().manual_seed(4), chunk_size=7_000)
    assert x.shape == (n_samples, n) and x.dtype == torch.long
    torch.testing.assert_close(lp, model.log_prob(x), atol=1e-5, rtol=1e-5)
    probs = model.log_prob(all_strings(n, 4)).double().exp().detach().numpy()
    assert probs.max() > 3 / len(probs)  # far from uniform
    counts = np.bincount((x * torch.tensor([16, 4, 1])).sum(1).numpy(), minlength=len(probs))
    expected = probs / probs.sum() * n_samples
    keep = expected >= 5  # pool sparse cells into one for the χ² approximation
    obs, exp = counts[keep], expected[keep]
    if not keep.all():
        obs, exp = np.append(obs, counts[~keep].sum()), np.append(exp, expected[~keep].sum())
    assert chisquare(obs, exp).pvalue > 1e-3
    torch.manual_seed(5)
    other = complex_noise(LPDOModel(n, 4, bond_dim=2, kraus_dim=2, povm=per_qubit(n), init_noise=1.0))
    wrong = other.log_prob(all_strings(n, 4)).double().exp().detach().numpy()
    assert chisquare(counts, wrong / wrong.sum() * n_samples).pvalue < 1e-3
    same = model.sample(50, torch.Generator().manual_seed(4))[0]
    assert torch.equal(same, model.sample(50, torch.Generator().manual_seed(4))[0])
    assert model.sample(0)[0].shape == (0, n)


# -- exact state access ---------------------------------------------------------------


def test_fidelity_purity_and_observables_closed_forms():
    """GHZ as an exact MPS at N = 50: F(GHZ) = 1, F(|0…0⟩) = ½, Tr ρ² = 1; depolarized GHZ
    (LPDO, μ = 4): F = ½[(1 − p/2)^N + (p/2)^N + (1 − p)^N], Tr ρ² = ½[a^N + c^N + (1 − p)^{2N}]
    with a = (1 − p/2)² + (p/2)², c = 2(1 − p/2)(p/2); ⟨X^{⊗N}⟩ = (1 − p)^N, ⟨Z_0 Z_49⟩ = (1 − p)²,
    ⟨Y Y X…X⟩ = −(1 − p)^N, ⟨Z_0⟩ = 0; ρ on sites {49, 0} = diag(½(1 − p)² + …)."""
    n = 50
    pure = ghz_model(n)
    assert abs(pure.fidelity(ghz(n)) - 1) < 1e-12
    assert abs(pure.fidelity(product_state("0", n)) - 0.5) < 1e-12
    assert abs(pure.fidelity(ghz(n).with_noise(0.3)) - 1) < 1e-12  # the ideal (pure) part is the reference
    assert abs(pure.purity() - 1) < 1e-12
    p = 0.05
    noisy = ghz_model(n, p=p)
    f = 0.5 * ((1 - p / 2) ** n + (p / 2) ** n + (1 - p) ** n)
    assert abs(noisy.fidelity(ghz(n)) - f) < 1e-12
    a, c = (1 - p / 2) ** 2 + (p / 2) ** 2, 2 * (1 - p / 2) * (p / 2)
    assert abs(noisy.purity() - 0.5 * (a**n + c**n + (1 - p) ** (2 * n))) < 1e-12
    ops = np.zeros((4, n), dtype=int)
    ops[0] = 1
    ops[1, [0, 49]] = 3
    ops[2] = 1
    ops[2, :2] = 2
    ops[3, 0] = 3
    np.testing.assert_allclose(noisy.expectation(ops), [(1 - p) ** n, (1 - p) ** 2, -((1 - p) ** n), 0], atol=1e-12)
    rho = noisy.reduced_density_matrix([49, 0])  # ½(|00⟩⟨00| + |11⟩⟨11|) after Λ_p on both qubits
    one = np.diag([1 - p / 2, p / 2])
    expected = 0.5 * (np.kron(one, one) + np.kron(one[::-1, ::-1], one[::-1, ::-1]))
    np.testing.assert_allclose(rho, expected, atol=1e-12)


@pytest.mark.parametrize("name,kw", [("mps", {}), ("lpdo", {"kraus_dim": 2})])
def test_state_access_against_dense(name, kw):
    """fidelity, reduced_density_matrix (unordered, non-contiguous sites), expectation,
    to_dense and purity of a random 5-qubit model against the dense ρ built here."""
    n = 5
    torch.manual_seed(1)
    model = complex_noise(create_model(name, n, 6, povm=pauli6(), bond_dim=3, init_noise=0.7, **kw))
    rho = dense_rho(model)
    assert np.abs(rho.imag).max() > 0.01  # a complex state
    np.testing.assert_allclose(model.to_dense(), rho, atol=1e-12)
    assert abs(model.purity() - np.trace(rho @ rho).real) < 1e-12
    for target in (random_mps(n, 3, seed=2), random_mps(n, 2, seed=3).to_dense()):
        v = target if isinstance(target, np.ndarray) else target.to_dense()
        v = v / np.linalg.norm(v)
        assert abs(model.fidelity(target) - (v.conj() @ rho @ v).real) < 1e-12
    t = rho.reshape((2,) * 2 * n)
    ref = np.einsum("abcdeAbCdE->ecaECA", t).reshape(8, 8)  # sites 4, 2, 0 in that order
    np.testing.assert_allclose(model.reduced_density_matrix([4, 2, 0]), ref, atol=1e-12)
    # every single site, pair and window of 3 at once (shared environments) against QuTiP
    sets = [(i,) for i in range(n)] + list(itertools.combinations(range(n), 2)) + [(i, i + 1, i + 2) for i in range(3)]
    sets += [(0, 2, 3)]
    full = qutip.Qobj(rho, dims=[[2] * n, [2] * n])
    for s, got in zip(sets, model.reduced_density_matrices(sets)):
        np.testing.assert_allclose(got, full.ptrace(list(s)).full(), atol=1e-12, err_msg=str(s))
    ops = np.array([[1, 2, 3, 0, 1], [3, 0, 0, 0, 3], [0] * 5, [2, 2, 1, 3, 2]])
    ref = [np.trace(kron(PAULI[o]) @ rho).real for o in ops]
    np.testing.assert_allclose(model.expectation(ops), ref, atol=1e-12)
    assert model.expectation(np.zeros((0, n), dtype=int)).shape == (0,)


def test_state_access_rejects_bad_input():
    model = MPSModel(4, 6, bond_dim=2, povm=pauli6())
    for bad in ([], [0, 0], [4], [-1]):
        with pytest.raises(ValueError, match="distinct integers"):
            model.reduced_density_matrix(bad)
    for bad in ([], [0, 0], [4], [-1], [2, 1]):
        with pytest.raises(ValueError, match="distinct ascending integers"):
            model.reduced_density_matrices([[0, 1], bad])
    with pytest.raises(ValueError, match="qubits"):
        model.fidelity(ghz(5))
    with pytest.raises(ValueError, match="shape"):
        model.fidelity(np.ones(8))
    with pytest.raises(ValueError, match="0..3"):
        model.expectation(np.full((1, 4), 4))
    with pytest.raises(ValueError, match="N ≤ 12"):
        MPSModel(13, 6, bond_dim=2, povm=pauli6()).to_dense()


# -- construction, registry, files ----------------------------------------------------


def test_povm_is_required_checked_and_stored():
    with pytest.raises(ValueError, match="POVM"):
        create_model("mps", 4, 4)
    with pytest.raises(ValueError, match=r"\(4, 2, 2\) or \(3, 4, 2, 2\)"):
        MPSModel(3, 4, povm=pauli6().elements)
    with pytest.raises(ValueError, match=r"\(4, 2, 2\) or \(3, 4, 2, 2\)"):
        MPSModel(3, 4, povm=per_qubit(4))
    with pytest.raises(ValueError, match="sum to the identity"):
        MPSModel(3, 4, povm=pauli4().elements * 1.1)
    with pytest.raises(ValueError, match="kraus_dim"):
        create_model("mps", 3, 4, povm=pauli4(), kraus_dim=2)
    with pytest.raises(ValueError, match="bond_dim"):
        create_model("lpdo", 3, 4, povm=pauli4(), bond_dim=0)
    model = create_model("lpdo", 5, 4, povm=pauli4())
    assert get_model("mps") is MPSModel and get_model("lpdo") is LPDOModel and model.likelihood == "exact"
    assert set(model.config) == {"bond_dim", "kraus_dim", "povm", "init_noise", "pure_start"}
    for bad in (1.0, -0.1, True, "half"):
        with pytest.raises(ValueError, match="pure_start"):
            create_model("lpdo", 3, 4, povm=pauli4(), pure_start=bad)
    assert create_model("mps", 3, 4, povm=pauli4(), real=True).config["real"] is True
    with pytest.raises(ValueError, match="real"):
        create_model("mps", 3, 4, povm=pauli4(), real=1)
    np.testing.assert_array_equal(np.array(model.config["povm"][0]) + 1j * np.array(model.config["povm"][1]),
                                  pauli4().elements)
    # min(χ, d^i, d^{N−i}) with d = 2μ
    assert create_model("lpdo", 5, 4, povm=pauli4(), bond_dim=8, kraus_dim=2).bond_dims == [4, 8, 8, 4]
    assert create_model("mps", 5, 4, povm=pauli4(), bond_dim=3).bond_dims == [2, 3, 3, 2]


@pytest.mark.parametrize("elements", [pauli6().elements, per_qubit(4, 6)])
def test_save_load_round_trip(tmp_path, elements):
    torch.manual_seed(0)
    model = LPDOModel(4, elements.shape[-3], bond_dim=3, kraus_dim=2, povm=elements, real=elements.ndim == 3)
    save_model(tmp_path / "m.safetensors", model, {"dataset": {"povm": "custom"}})
    loaded, meta = load_model(tmp_path / "m.safetensors", expect={"povm": "custom"})
    x = all_strings(4, elements.shape[-3])[::5]
    torch.testing.assert_close(loaded.log_prob(x), model.log_prob(x))
    assert type(loaded) is LPDOModel and meta["config"] == model.config
    np.testing.assert_allclose(loaded.elements.numpy(), model.elements.numpy())


def test_training_learns_ghz4_from_pauli6(tmp_path):
    """The preset's settings with 10 epochs of 36 batches: GHZ-4 from 4,000 simulated Pauli-6 strings
    reaches quantum fidelity ≥ 0.9 (exact); the best weights round-trip through the run
    directory.  (With 2,000 strings, 180 steps, it does not reliably: 0.52–0.85 on seeds 0–3.)"""
    ds = simulate(make_target("ghz", n=4), pauli6(), 4_000, seed=1, test_fraction=0.0, train_log_prob=False)
    torch.manual_seed(1)
    model = create_model("mps", 4, 6, povm=ds.povm)
    start = model.fidelity(ghz(4))
    train(model, ds.train, ds.val, TrainConfig.from_preset("mps", seed=1, epochs=10), tmp_path, progress=False)
    best, _ = load_model(tmp_path)
    assert start < 0.5 and best.fidelity(ghz(4)) >= 0.9


def test_pure_start_holds_the_state_pure_then_lets_it_mix(tmp_path, monkeypatch):
    """pure_start = 0.5 over 4 epochs: the Kraus components κ ≥ 1 are exactly zero (purity 1,
    their gradient vanishes) through epochs 0–1, seeded before epoch 2 with noise that
    depends on the run's seed alone, after which the state is mixed; a run killed after an
    epoch resumes exactly across the release (epochs 2 of 2: released before epoch 1)."""
    ds = simulate(make_target("ghz", n=3, noise=0.2), pauli4(), 1_200, seed=0, test_fraction=0.0,
                  train_log_prob=False)

    def fresh(seed: int, **kw) -> LPDOModel:
        torch.manual_seed(seed)
        return create_model("lpdo", 3, 4, povm=pauli4(), bond_dim=2, **kw)

    class Kraus(Callback):
        def __init__(self) -> None:
            self.size, self.purity = [], []

        def on_epoch_end(self, state, model) -> None:
            self.size.append(model.weight[:, :, 1:].abs().max().item())
            self.purity.append(model.purity())

    model, seen = fresh(0), Kraus()
    assert model.config["pure_start"] == 0.5 and model.weight[:, :, 1:].abs().max() == 0
    cfg = TrainConfig(epochs=4, batch_size=100, lr=1e-2, seed=5)
    train(model, ds.train, ds.val, cfg, tmp_path / "a", progress=False, callbacks=[seen])
    assert seen.size[:2] == [0, 0] and abs(seen.purity[1] - 1) < 1e-6
    assert min(seen.size[2:]) > 1e-4 and seen.purity[-1] < 0.99  # the noisy GHZ's mixture is learned
    released = fresh(7)  # other initial weights, same seed: the same seeded components
    released.begin_epoch(2, 4, 5)
    first = released.weight[:, :, 1:].clone()
    released.begin_epoch(2, 4, 5)
    assert torch.equal(first, released.weight[:, :, 1:]) and first.abs().max() > 0
    mixed = fresh(0, pure_start=0.0)
    assert "pure_start" not in mixed.config and mixed.weight[:, :, 1:].abs().max() > 0
    mixed.begin_epoch(0, 4, 5)  # no curriculum: nothing changes
    assert torch.equal(mixed.weight, fresh(0, pure_start=0.0).weight)
    assert_resume_is_exact(lambda seed: fresh(seed), ds.train, ds.val, TrainConfig(epochs=2, batch_size=100, seed=3),
                           tmp_path, monkeypatch)
