"""Per-qubit POVMs and per-qubit noise: every measurement path (exact tables, the MPS
sweep, sampling, dual-frame estimators, the dense reconstruction, HDF5) against dense
Kronecker-product references; and files that point outside themselves are refused."""

from __future__ import annotations

import functools

import h5py
import numpy as np
import pytest
from scipy import stats

from qgen.datasets import Dataset, DatasetError, read_dataset, simulate, write_dataset
from qgen.measurements import (
    POVM,
    POVMError,
    log_prob,
    pauli4,
    pauli6,
    probabilities,
    reconstruct_density_matrix,
    sample,
)
from qgen.scores import enumerate_strings, observable
from qgen.targets import PAULI, DenseState, depolarize, ghz, make_target, random_mps


def rotated(povm: POVM, n: int, seed: int) -> POVM:
    """``povm`` rotated by a different random unitary on each of n qubits."""
    rng = np.random.default_rng(seed)
    us = [np.linalg.qr(rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2)))[0] for _ in range(n)]
    return POVM(f"{povm.name}-rotated", np.stack([u @ povm.elements @ u.conj().T for u in us]))


def dense_rho(state) -> np.ndarray:
    """ρ with the (per-qubit) depolarizing channel, built densely from the pure vector."""
    psi = state.to_dense() if hasattr(state, "tensors") else state.data
    return DenseState(psi / np.linalg.norm(psi), noise=state.noise).density_matrix()


def dense_probabilities(rho: np.ndarray, elements: np.ndarray) -> np.ndarray:
    """P[a] = Tr[(M_0^{a_0} ⊗ … ⊗ M_{N−1}^{a_{N−1}}) ρ] by explicit Kronecker products."""
    n, k = elements.shape[:2]
    out = np.empty((k,) * n)
    for a in np.ndindex(*(k,) * n):
        op = functools.reduce(np.kron, [elements[i, a[i]] for i in range(n)])
        out[a] = np.trace(op @ rho).real
    return out


def test_per_qubit_povm_is_validated_site_by_site():
    good = rotated(pauli4(), 3, 0)
    assert good.per_qubit and good.n_sites == 3 and good.n_outcomes == 4 and good.is_ic
    assert good.duals.shape == (3, 4, 2, 2) and good.pauli_table.shape == (3, 4, 4)
    bad = good.elements.copy()
    bad[1, 2] *= 1.1
    with pytest.raises(POVMError, match="do not sum to the identity"):
        POVM("bad", bad)
    bad = good.elements.copy()
    bad[2, 1] = -bad[2, 1]
    with pytest.raises(POVMError, match="qubit 2, element 1 is not positive semidefinite"):
        POVM("bad", bad)
    with pytest.raises(POVMError, match="3 qubits, not 4"):
        good.check_sites(4)


@pytest.mark.parametrize("noise", [0.0, (0.0, 0.3, 0.05, 0.0)])
def test_exact_probabilities_on_every_path_match_kronecker_products(noise):
    povm = rotated(pauli6(), 4, 1)
    mps = depolarize(random_mps(4, 3, seed=2), noise)
    reference = dense_probabilities(dense_rho(mps), povm.elements)
    assert reference.sum() == pytest.approx(1.0, abs=1e-12)
    np.testing.assert_allclose(probabilities(mps, povm), reference, atol=1e-12)  # dense table
    x = enumerate_strings(6, 4)
    lp = log_prob(mps, povm, x)  # the MPS sweep, one operator table per qubit
    np.testing.assert_allclose(np.exp(lp), reference.ravel(), atol=1e-12)


def test_per_qubit_sampling_matches_the_exact_distribution():
    """χ² of 60,000 MPS-sweep samples (per-qubit POVM and noise) against the dense P."""
    povm = rotated(pauli4(), 4, 3)
    mps = depolarize(random_mps(4, 2, seed=4), (0.1, 0.0, 0.4, 0.0))
    p = dense_probabilities(dense_rho(mps), povm.elements).ravel()
    x = sample(mps, povm, 60_000, seed=5)
    counts = np.bincount(np.ravel_multi_index(tuple(x.T.astype(int)), (4,) * 4), minlength=4**4)
    keep = p * len(x) > 5
    pooled_obs = np.append(counts[keep], counts[~keep].sum())
    pooled_exp = np.append(p[keep], p[~keep].sum()) * len(x)
    assert stats.chisquare(pooled_obs, pooled_exp).pvalue > 1e-3


def test_dual_frame_estimates_and_reconstruction_with_per_qubit_duals():
    """With the exact P as weights, the estimator of every Pauli string is exact, and
    ρ = Σ_a P(a) D_0^{a_0} ⊗ … ⊗ D_2^{a_2} (qubit i's duals)."""
    povm = rotated(pauli4(), 3, 6)
    state = depolarize(random_mps(3, 2, seed=7), (0.0, 0.2, 0.1))
    rho = dense_rho(state)
    p = dense_probabilities(rho, povm.elements).ravel()
    np.testing.assert_allclose(reconstruct_density_matrix(p, povm), rho, atol=1e-12)
    x = enumerate_strings(4, 3)
    for ops in ([3, 0, 3], [1, 2, 0], [2, 3, 1]):
        e = observable(np.repeat(x, np.round(p * 1e6).astype(int), axis=0), povm, np.ones(1), np.array([ops]))
        exact = np.trace(functools.reduce(np.kron, [PAULI[o] for o in ops]) @ rho).real
        assert e.mean == pytest.approx(exact, abs=5e-5)


def test_per_qubit_datasets_round_trip_and_version_1_files_read(tmp_path):
    povm = rotated(pauli4(), 4, 8)
    target = make_target("ghz", 4, noise=(0.0, 0.0, 0.2, 0.0))
    ds = simulate(target, povm, 500, seed=0)
    back = read_dataset(write_dataset(ds, tmp_path / "d.h5"))
    assert back.povm.per_qubit and np.allclose(back.povm.elements, povm.elements)
    assert back.target.noise == (0.0, 0.0, 0.2, 0.0) and "noise=0,0,0.2,0" in back.target.describe()
    np.testing.assert_array_equal(back.outcomes, ds.outcomes)
    with h5py.File(tmp_path / "d.h5") as f:
        assert f.attrs["schema_version"] == 2 and f["povm/elements"].shape == (4, 4, 2, 2)
    old = read_dataset("datasets/examples/ghz4_pauli4.h5")  # written by qgen 0.1, schema version 1
    assert old.povm.name == "pauli4" and not old.povm.per_qubit and old.target.noise == 0.0
    with pytest.raises(DatasetError, match="elements for 4 qubits, the outcomes 3"):
        Dataset(ds.outcomes[:, :3], povm, ds.split)


def _copy_with(tmp_path, edit) -> str:
    ds = simulate(make_target("ghz", 3), pauli4(), 200, seed=0)
    path = write_dataset(ds, tmp_path / "d.h5")
    (tmp_path / "other.h5").write_bytes(path.read_bytes())
    with h5py.File(path, "a") as f:
        edit(f, tmp_path)
    return str(path)


def _external(f, d):
    del f["outcomes"]
    f["outcomes"] = h5py.ExternalLink(str(d / "other.h5"), "/outcomes")


def _soft(f, d):
    f["alias"] = h5py.SoftLink("/outcomes")


def _virtual(f, d):
    layout = h5py.VirtualLayout(shape=f["log_prob"].shape, dtype=f["log_prob"].dtype)
    layout[:] = h5py.VirtualSource(str(d / "other.h5"), "log_prob", shape=f["log_prob"].shape)
    del f["log_prob"]
    f.create_virtual_dataset("log_prob", layout)


def _external_raw(f, d):
    raw = d / "raw.bin"
    raw.write_bytes(np.zeros(200).tobytes())
    del f["log_prob"]
    f.create_dataset("log_prob", shape=(200,), dtype="<f8", external=[(str(raw), 0, 1600)])


@pytest.mark.parametrize("edit, what", [(_external, "ExternalLink"), (_soft, "SoftLink"),
                                        (_virtual, "virtual or external"), (_external_raw, "virtual or external")])
def test_files_pointing_outside_themselves_are_refused(tmp_path, edit, what):
    path = _copy_with(tmp_path, edit)
    with pytest.raises(DatasetError, match=what):
        read_dataset(path)


def test_folding_the_readout_into_the_povm_recovers_the_state_before_readout():
    """Data of a depolarized GHZ-3 read out with known per-qubit errors: with the folded
    (calibrated) POVM the raw-data fidelity estimate finds the true ⟨ψ|ρ|ψ⟩ before readout;
    with the ideal POVM it is biased low by many standard errors."""
    from qgen.datasets import correct_readout
    from qgen.measurements.readout import confusion_matrices, readout_povm
    from qgen.scores import quantum_fidelity

    c = confusion_matrices([0.03, 0.06, 0.02], [0.08, 0.04, 0.05])  # p(1|0), p(0|1) per qubit
    noisy = make_target("ghz", 3, noise=0.03)
    truth = float(np.real(ghz(3).to_dense().conj() @ dense_rho(noisy.state) @ ghz(3).to_dense()))
    measured = POVM("pauli6+readout", readout_povm(pauli6(), c))
    ds = simulate(noisy, measured, 60_000, seed=9)  # the strings a device with these errors records
    recorded = Dataset(ds.outcomes, pauli6(), ds.split)  # as imported: the ideal POVM
    fixed = correct_readout(recorded, c)
    assert np.allclose(fixed.povm.elements, measured.elements)
    corrected = quantum_fidelity(ghz(3), fixed.povm, fixed.outcomes)
    ideal = quantum_fidelity(ghz(3), pauli6(), recorded.outcomes)
    assert abs(corrected.mean - truth) < 4 * corrected.stderr
    assert truth - ideal.mean > 6 * ideal.stderr
