"""The fidelity lower bound F ≥ 1 − (⟨H⟩ − E0)/Δ against exact fidelities: spectra and
states from numpy's dense ``eigh`` of matrices built here (QuTiP tensor products for the
TFIM, random Hermitian matrices), never from qgen's own solvers."""

import json
import math

import numpy as np
import pytest
import qutip
from reference import tfim_open_energy, tfim_open_gap

import qgen.scores.certificates as cert
from qgen.datasets import Dataset, simulate
from qgen.datasets.hdf5 import read_dataset, write_dataset
from qgen.measurements import pauli4
from qgen.scores import ASSUMPTION, certificate, fidelity_lower_bound, observable
from qgen.stats import Estimate
from qgen.targets import DenseState, Target, ground_state, make_target, product_state, tfim


def qutip_tfim_matrix(n, J, h):
    def site(op, i):
        return qutip.tensor([op if k == i else qutip.qeye(2) for k in range(n)])

    zz = sum(site(qutip.sigmaz(), i) * site(qutip.sigmaz(), i + 1) for i in range(n - 1))
    return (-J * zz - h * sum(site(qutip.sigmax(), i) for i in range(n))).full()


@pytest.fixture(scope="module")
def tfim6():
    """TFIM N = 6, h = 1.2: dataset (exact target) and the independent dense spectrum."""
    ds = simulate(make_target("tfim", n=6, h=1.2), pauli4(), 20_000, seed=3)
    vals, vecs = np.linalg.eigh(qutip_tfim_matrix(6, 1.0, 1.2))
    return ds, vals, vecs


def test_bound_is_tight_on_the_two_level_mixture(tfim6):
    """ρ = F|ψ0⟩⟨ψ0| + (1 − F)|ψ1⟩⟨ψ1| saturates ⟨H⟩ ≥ E0 F + E1 (1 − F)."""
    ds, vals, vecs = tfim6
    h = qutip_tfim_matrix(6, 1.0, 1.2)
    assert abs(vals[1] - vals[0] - tfim_open_gap(6, 1.0, 1.2)) < 1e-12
    for f in (0.0, 0.37, 0.9, 1.0):
        rho = f * np.outer(vecs[:, 0], vecs[:, 0]) + (1 - f) * np.outer(vecs[:, 1], vecs[:, 1])
        energy = Estimate(np.trace(h @ rho).real, 0.0, 1, "exact")
        block = certificate(ds, energy)
        assert block.method == "exact"
        assert abs(block.e0 - vals[0]) < 1e-10 and abs(block.e1 - vals[1]) < 1e-10
        assert abs(block.bound.mean - f) < 1e-9, (f, block.bound)
    assert block.assumption == ASSUMPTION and "physical" in ASSUMPTION
    json.dumps(block.to_dict())


def random_hermitian(dim, rng):
    a = rng.normal(size=(dim, dim)) + 1j * rng.normal(size=(dim, dim))
    return (a + a.conj().T) / 2


def random_density_matrix(dim, rank, rng):
    g = rng.normal(size=(dim, rank)) + 1j * rng.normal(size=(dim, rank))
    rho = g @ g.conj().T
    return rho / np.trace(rho).real


@pytest.mark.parametrize("seed", range(3))
def test_bound_holds_for_random_physical_states(seed):
    """Random H (32×32), random mixed and pure states, many of them close to ψ0 so the bound is
    far from trivial: the exact fidelity is never below it."""
    rng = np.random.default_rng(seed)
    h = random_hermitian(32, rng)
    vals, vecs = np.linalg.eigh(h)
    p0 = np.outer(vecs[:, 0], vecs[:, 0].conj())
    nontrivial = 0
    for _ in range(200):
        eps = rng.uniform(0, 1) ** 3
        if rng.uniform() < 0.5:
            rho = (1 - eps) * p0 + eps * random_density_matrix(32, rng.integers(1, 5), rng)
        else:
            psi = vecs[:, 0] + eps * (rng.normal(size=32) + 1j * rng.normal(size=32))
            psi /= np.linalg.norm(psi)
            rho = np.outer(psi, psi.conj())
        assert np.linalg.eigvalsh(rho).min() > -1e-12
        fid = np.vdot(vecs[:, 0], rho @ vecs[:, 0]).real
        bound = fidelity_lower_bound(Estimate(np.trace(h @ rho).real, 0.0, 1), vals[0], vals[1])
        assert bound.mean <= fid + 1e-10, (bound, fid)
        nontrivial += bound.mean > 0.5
    assert nontrivial > 50


def test_bound_can_fail_for_an_unphysical_operator():
    """Why the assumption is stated: ρ = c P0 + (1 − c + s) P1 − s P2 has unit trace, energy
    above E0, but a negative eigenvalue, and its 'fidelity' c is below the bound c + s(E2 − E1)/Δ."""
    rng = np.random.default_rng(7)
    h = random_hermitian(16, rng)
    vals, vecs = np.linalg.eigh(h)
    p = [np.outer(vecs[:, k], vecs[:, k].conj()) for k in range(3)]
    c, s = 0.6, 0.2
    rho = c * p[0] + (1 - c + s) * p[1] - s * p[2]
    energy = np.trace(h @ rho).real
    assert abs(np.trace(rho) - 1) < 1e-12 and energy > vals[0]
    bound = fidelity_lower_bound(Estimate(energy, 0.0, 1), vals[0], vals[1])
    assert bound.mean > c + 1e-3  # the 'bound' exceeds ⟨ψ0|ρ|ψ0⟩ = c


def test_bound_from_sampled_data_of_the_exact_ground_state(tfim6):
    """Raw Pauli-4 data of the exact ground state: ⟨H⟩ from the shadow estimator is E0 within
    errors, so the bound is consistent with F = 1 and its error bar is σ_E/Δ."""
    ds, vals, _ = tfim6
    c, o = ds.target.hamiltonian.pauli_indices()
    energy = observable(ds.train, ds.povm, c, o)
    b = certificate(ds, energy).bound
    assert b.available and 0 < b.stderr < 0.2
    assert abs(b.stderr - energy.stderr / (vals[1] - vals[0])) < 1e-12
    assert b.mean + 4 * b.stderr >= 1.0 and b.mean <= 1.0


def test_bound_on_noisy_data_holds_against_the_exact_fidelity():
    """Depolarized TFIM (p = 0.05): the measured state is mixed but physical; the bound from its
    raw-data energy lies below its exact fidelity with ψ0 (within 3σ)."""
    n, h = 5, 1.5
    ds = simulate(make_target("tfim", n=n, h=h, noise=0.05), pauli4(), 40_000, seed=1)
    vals, vecs = np.linalg.eigh(qutip_tfim_matrix(n, 1.0, h))
    rho = ds.target.state.density_matrix()
    fid = np.vdot(vecs[:, 0], rho @ vecs[:, 0]).real
    c, o = ds.target.hamiltonian.pauli_indices()
    energy = observable(ds.train, ds.povm, c, o)
    b = fidelity_lower_bound(energy, vals[0], vals[1])
    assert 0.3 < fid < 0.95 and b.available
    assert b.mean - 3 * b.stderr <= fid
    assert b.mean > 0.2  # not trivially true
    # the dataset-level certificate bounds the fidelity of the noisy preparation with |ψ0⟩
    c = certificate(ds, energy)
    assert c.bound.available and abs(c.bound.mean - b.mean) < 1e-9 and abs(c.e1 - vals[1]) < 1e-8
    assert c.bound.mean - 3 * c.bound.stderr <= fid


def test_gap_is_stored_in_target_info_and_survives_the_file(tfim6, tmp_path, monkeypatch):
    ds, vals, _ = tfim6
    energy = Estimate(vals[0] + 0.05, 0.01, 1000)
    first = certificate(ds, energy)
    assert ds.target.info["gap"]["e1"] == first.e1
    monkeypatch.setattr(cert, "spectral_gap", lambda *a, **k: pytest.fail("recomputed the gap"))
    assert certificate(ds, energy) == first
    back = read_dataset(write_dataset(ds, tmp_path / "d.h5"))
    assert certificate(back, energy) == first


def test_large_n_uses_dmrg_and_free_fermion_values():
    """N = 30 (DMRG branch): E0, E1 against free fermions; the bound of an energy 0.1 above E0."""
    ds = simulate(make_target("tfim", n=30, h=2.0), pauli4(), 50, seed=0)
    e0 = tfim_open_energy(30, 1.0, 2.0)
    block = certificate(ds, Estimate(e0 + 0.1, 0.02, 100))
    assert block.method == "dmrg"
    assert abs(block.e0 - e0) < 1e-8
    assert abs(block.gap - tfim_open_gap(30, 1.0, 2.0)) < 1e-6
    assert abs(block.bound.mean - (1 - 0.1 / tfim_open_gap(30, 1.0, 2.0))) < 1e-6


def test_clipping_and_unphysical_energies():
    b = fidelity_lower_bound(Estimate(-10.02, 0.01, 100), -10.0, -9.0)  # 2σ below E0
    assert b.mean == 1.0 and "clipped" in b.note and b.stderr == pytest.approx(0.01)
    b = fidelity_lower_bound(Estimate(-5.0, 0.01, 100), -10.0, -9.0)
    assert b.mean == 0.0 and "trivial" in b.note
    b = fidelity_lower_bound(Estimate(-10.5, 0.1, 100), -10.0, -9.0)  # 5σ below E0
    assert not b.available and "not a physical state" in b.note
    assert not fidelity_lower_bound(Estimate.unavailable("POVM cannot"), -10.0, -9.0).available
    b = fidelity_lower_bound(Estimate(-9.5, math.nan, 1, "single sample: no error bar"), -10.0, -9.0)
    assert b.mean == 0.5 and math.isnan(b.stderr)
    with pytest.raises(ValueError, match="E1 > E0"):
        fidelity_lower_bound(Estimate(-9.5, 0.1, 10), -10.0, -10.0)


def test_unavailable_targets_say_why():
    energy = Estimate(-1.0, 0.1, 100)
    ghz = simulate(make_target("ghz", n=4), pauli4(), 50, seed=0)
    assert "not the ground state of a Hamiltonian" in certificate(ghz, energy).bound.note
    bare = Dataset(ghz.outcomes, ghz.povm, ghz.split)
    assert "no target" in certificate(bare, energy).bound.note
    H = tfim(4, h=1.0)
    wrong = Dataset(ghz.outcomes, ghz.povm, ghz.split, target=Target(product_state("0", 4), "custom", {}, H))
    block = certificate(wrong, energy)
    assert "not the ground state" in block.bound.note and block.e0 is None
    mixed = Target(DenseState(np.eye(16) / 16), "custom", {}, H)
    assert "density matrix" in certificate(Dataset(ghz.outcomes, ghz.povm, ghz.split, target=mixed),
                                           energy).bound.note
    degenerate = simulate(make_target("tfim", n=4, h=0.0), pauli4(), 50, seed=0)  # |0000⟩, |1111⟩
    block = certificate(degenerate, Estimate(-3.0, 0.1, 100))
    assert "not resolved" in block.bound.note and abs(block.gap) < 1e-12


def test_hand_built_ground_state_target_is_accepted():
    """A Target made from a ground state without qgen's info: the state is checked to be a
    ground state (its energy equals E0), then the bound is given."""
    H = tfim(5, h=0.8)
    gs = ground_state(H)
    ds = simulate(Target(gs.state, "mine", {}, H), pauli4(), 50, seed=0)
    block = certificate(ds, Estimate(gs.energy + 0.2, 0.05, 100))
    assert block.bound.mean == pytest.approx(1 - 0.2 / tfim_open_gap(5, 1.0, 0.8), abs=1e-9)
