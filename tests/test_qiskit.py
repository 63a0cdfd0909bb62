"""Circuits, devices and Qiskit results (qgen.circuits, qgen.devices, qgen.qiskit_io,
qgen.readout, ``qgen measure``), checked against independent references: Qiskit's
``Statevector``, qgen's exact POVM probability tables (χ² tests of the measured
outcomes), closed forms of the Pauli-4 / Pauli-6 elements, and the confusion matrices
that Aer's noise model applies.  Tests that need Qiskit skip without it; one runs with
Qiskit hidden to check that qgen works without it."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from qgen.datasets.hdf5 import read_dataset
from qgen.datasets.qiskit import from_counts, from_memory, from_result, from_tomography, import_qiskit
from qgen.errors import FormatError
from qgen.measurements import log_prob, pauli4, pauli6, probabilities
from qgen.measurements.readout import (
    coarse_grain_map,
    confusion_matrices,
    confusions_from_backend,
    confusions_from_calibration,
    pauli_outcomes,
    readout_povm,
)
from qgen.resources import ResourceError
from qgen.targets import DenseState, random_mps
from qgen.targets.circuits import CircuitError, canonical_qasm, circuit_target, circuit_to_mps

BELL = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\ncreg c[2];\nh q[0];\ncx q[0],q[1];\nmeasure q -> c;\n'


@pytest.fixture(scope="module")
def aer():
    return pytest.importorskip("qiskit_aer")


def chi2_p(counts: np.ndarray, probs: np.ndarray) -> tuple[float, int]:
    """(χ² statistic, degrees of freedom) of observed counts against probabilities,
    cells with fewer than 5 expected pooled into one; no count may fall where P = 0."""
    assert counts[probs < 1e-12].sum() == 0, "outcomes the exact distribution forbids"
    expected = probs * counts.sum()
    big = expected >= 5
    obs = np.append(counts[big], counts[~big].sum())
    exp = np.append(expected[big], expected[~big].sum())
    if exp[-1] == 0:
        obs, exp = obs[:-1], exp[:-1]
    return float(((obs - exp) ** 2 / exp).sum()), len(exp) - 1


def histogram(outcomes: np.ndarray, k: int) -> np.ndarray:
    n = outcomes.shape[1]
    return np.bincount(np.ravel_multi_index(outcomes.T, (k,) * n), minlength=k**n)


def one_line(err) -> str:
    msg = str(err.value)
    assert "\n" not in msg, msg
    return msg


# -- circuits → MPS ----------------------------------------------------------------------


@pytest.mark.parametrize("n", [2, 3, 4, 5, 6])
def test_circuit_mps_equals_statevector(n):
    """Random shallow circuits (1–3-qubit gates): |⟨qgen MPS|Statevector⟩|² = 1 to 1e-10,
    with Qiskit's little-endian vector reversed into qgen's order; the same from the
    circuit's OpenQASM 3 text, with the same hash."""
    pytest.importorskip("qiskit")
    from qiskit import qasm3
    from qiskit.circuit.random import random_circuit
    from qiskit.quantum_info import Statevector

    for seed in range(3):
        qc = random_circuit(n, 4, max_operands=min(3, n), seed=10 * n + seed)
        ref = Statevector(qc).reverse_qargs().data
        for given in (qc, qasm3.dumps(qc)):
            mps, info = circuit_to_mps(given)
            psi = mps.to_dense()
            assert abs(abs(np.vdot(psi, ref)) ** 2 - 1) < 1e-10, (n, seed)
            assert info["n_qubits"] == n and len(info["bond_dims"]) == n - 1
        assert info["sha256"] == circuit_to_mps(qc)[1]["sha256"]


def test_quimb_reader_without_qiskit_equals_statevector(monkeypatch):
    """The reader used without Qiskit (quimb's) gives the same state as Qiskit's."""
    pytest.importorskip("qiskit")
    from qiskit import QuantumCircuit, qasm2
    from qiskit.quantum_info import Statevector

    import qgen.targets.circuits as circuits

    rng = np.random.default_rng(0)
    qc = QuantumCircuit(4)
    for layer in range(3):
        for q in range(4):
            qc.u(*rng.uniform(0, 2 * np.pi, 3), q)
        for q in range(layer % 2, 3, 2):
            qc.cx(q, q + 1)
        qc.cz(0, 3)
        qc.rz(0.3, 2)
    qc.measure_all()
    monkeypatch.setattr(circuits, "_have", lambda module: False)
    mps, info = circuit_to_mps(qasm2.dumps(qc))
    assert info["reader"] == "quimb"
    ref = Statevector(qc.remove_final_measurements(inplace=False)).reverse_qargs().data
    assert abs(abs(np.vdot(mps.to_dense(), ref)) ** 2 - 1) < 1e-10


def test_qubit_order_and_target():
    """x on qubit 0 only: qgen's dense index has qubit 0 as its most significant bit."""
    t = circuit_target('OPENQASM 3.0; include "stdgates.inc"; qubit[3] q; x q[0];')
    assert np.argmax(np.abs(t.state.to_dense())) == 0b100
    assert t.name == "circuit" and t.params["file"] is None and len(t.params["sha256"]) == 64
    assert t.info["depth"] == 1 and t.info["max_bond"] == 1


def test_canonical_hash_ignores_layout(tmp_path):
    a = 'OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nh q[0];\ncx q[0],q[1];'
    b = '// Bell\nOPENQASM 2.0; include "qelib1.inc";   qreg q[ 2 ] ;\n\nh q[0];  // entangle\n cx q[0] , q[1];'
    path = tmp_path / "bell.qasm"
    path.write_text(b)
    assert canonical_qasm(a) == canonical_qasm(b)
    assert circuit_to_mps(a)[1]["sha256"] == circuit_to_mps(path)[1]["sha256"]
    assert circuit_target(path).params["file"] == str(path)


@pytest.mark.parametrize("text, fragment", [
    ("qreg q[2]; h q[0];", "header"),
    ('OPENQASM 2.0; include "qelib1.inc"; qreg q[1]; creg c[1]; measure q[0] -> c[0]; h q[0];', "measure"),
    ('OPENQASM 2.0; include "qelib1.inc"; qreg q[1]; reset q[0];', "reset"),
    ('OPENQASM 2.0; include "qelib1.inc"; qreg q[1]; creg c[1]; h q[0]; measure q -> c; if (c==1) x q[0];',
     "measure|classical"),
    ('OPENQASM 2.0; include "qelib1.inc"; qreg q[1]; foo q[0];', "foo"),
    ("not/a/file.qasm", "not found"),
])
def test_circuit_refusals_are_one_line(text, fragment):
    with pytest.raises((CircuitError, ImportError)) as err:
        circuit_to_mps(text)
    assert pytest.approx(0) == 0 and __import__("re").search(fragment, one_line(err)), one_line(err)


def test_unbound_parameters_and_bad_options():
    pytest.importorskip("qiskit")
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    qc = QuantumCircuit(1)
    qc.rx(Parameter("theta"), 0)
    with pytest.raises(CircuitError, match="unbound parameters"):
        circuit_to_mps(qc)
    with pytest.raises(CircuitError, match="max_bond"):
        circuit_to_mps(BELL, max_bond=0)
    with pytest.raises(CircuitError, match="a circuit is"):
        circuit_to_mps(3.5)


def test_memory_guard_refuses_before_simulating():
    """A 30-qubit brickwork of 40 CX layers: bond bound 2^15 at the middle cut (~400 GB)
    — refused at once; with max_bond it runs, and says what it discarded."""

    def brickwork(layers: int) -> str:
        lines = ['OPENQASM 2.0;', 'include "qelib1.inc";', 'qreg q[30];']
        for layer in range(layers):
            lines += [f"ry(0.{layer + 3}) q[{q}];" for q in range(30)]
            lines += [f"cx q[{q}],q[{q + 1}];" for q in range(layer % 2, 29, 2)]
        return "\n".join(lines)

    with pytest.raises(ResourceError) as err:
        circuit_to_mps(brickwork(40))
    assert "bond dimension up to 32,768" in one_line(err)
    mps, info = circuit_to_mps(brickwork(6), max_bond=4)
    assert info["max_bond"] == 4 and 1e-6 < info["truncation_error"] < 1


# -- measurement design and execution -----------------------------------------------------

SHALLOW = ('OPENQASM 2.0; include "qelib1.inc"; qreg q[3]; ry(0.7) q[0]; h q[1]; cx q[0],q[2]; '
           'u3(0.4,1.1,-0.3) q[2]; cz q[1],q[2]; rx(0.9) q[1]; cx q[2],q[0];')


def test_per_shot_bases_follow_exact_pauli6_probabilities(aer):
    """One PUB with a random basis per shot: the outcome histogram over all 6^3 strings
    against qgen's exact Pauli-6 table of the circuit's state (χ², p > 1e-4)."""
    from qgen.workflows.devices import measure

    ds = measure(SHALLOW, 2000, seed=3)
    p = probabilities(ds.target.state, pauli6()).ravel()
    stat, dof = chi2_p(histogram(ds.outcomes, 6), p)
    assert stats.chi2.sf(stat, dof) > 1e-4, (stat, dof)
    assert np.allclose(ds.log_prob, np.log(p[np.ravel_multi_index(ds.outcomes.T, (6,) * 3)]))
    src = ds.meta["source"]
    assert src["design"] == "random basis per shot" and src["shots"] == 2000 and src["seed"] == 3
    assert src["circuit_sha256"] == ds.target.params["sha256"] and "qiskit-aer" in src["versions"]


def test_random_settings_follow_exact_conditional_probabilities(aer):
    """M settings × S/M shots: per setting, the bits against the exact conditional
    distribution P6(a)/Σ_{a in setting} P6(a) (pooled χ²)."""
    from qgen.workflows.devices import measure

    ds = measure(SHALLOW, 4002, settings=20, seed=5)
    assert ds.meta["source"]["shots_per_setting"] == [201, 200]
    p = probabilities(ds.target.state, pauli6())
    basis = ds.outcomes // 2
    total, dof = 0.0, 0
    settings = np.unique(basis, axis=0)
    assert len(settings) <= 20
    for b in settings:
        rows = ds.outcomes[(basis == b).all(axis=1)]
        cells = np.array(np.meshgrid(*[[2 * bi, 2 * bi + 1] for bi in b], indexing="ij")).reshape(3, -1).T
        cond = p[tuple(cells.T)]
        observed = np.array([(rows == c).all(axis=1).sum() for c in cells])
        s, d = chi2_p(observed, cond / cond.sum())
        total, dof = total + s, dof + d
    assert stats.chi2.sf(total, dof) > 1e-4, (total, dof)


def test_all_settings_design_is_balanced(aer):
    from qgen.workflows.devices import measure, pauli_measurement_circuits

    d = pauli_measurement_circuits(BELL, 900, settings="all", seed=0)
    assert [len(b) for b in d.bases] == [9] and d.shots == (100,)
    ds = measure(BELL, 900, settings="all", seed=0)
    assert "warnings" not in ds.meta
    per_setting = np.unique(ds.outcomes // 2, axis=0, return_counts=True)[1]
    assert per_setting.tolist() == [100] * 9


def test_bit_order_of_device_results(aer):
    """A circuit flipping only qubit 0: every Z-basis result of qgen qubit 0 is 1 (outcome
    1 = Z, eigenvalue −1), of qubits 1 and 2 is 0."""
    from qgen.workflows.devices import measure

    ds = measure('OPENQASM 2.0; include "qelib1.inc"; qreg q[3]; x q[0];', 600, seed=0)
    z = ds.outcomes // 2 == 0
    assert (ds.outcomes[:, 0][z[:, 0]] == 1).all() and z[:, 0].sum() > 100
    assert (ds.outcomes[:, 1:][z[:, 1:]] == 0).all()


def test_pauli4_coarse_graining_exact_and_per_shot(aer):
    """P4(k) = Σ_{a→k} P6(a) for random states (the map read off the elements), and a
    Pauli-4 measurement is the Pauli-6 one with each shot mapped."""
    from qgen.workflows.devices import measure

    g = coarse_grain_map()
    assert g.tolist() == [0, 3, 1, 3, 2, 3]
    rng = np.random.default_rng(1)
    a = rng.normal(size=(8, 8)) + 1j * rng.normal(size=(8, 8))
    for state in (DenseState(a @ a.conj().T), random_mps(4, 3, seed=2)):
        n = state.n_qubits
        p6, p4 = probabilities(state, pauli6()), probabilities(state, pauli4())
        folded = p6
        for axis in range(n):
            folded = np.moveaxis(np.stack([np.take(folded, np.flatnonzero(g == k), axis).sum(axis)
                                           for k in range(4)]), 0, axis)
        assert np.allclose(folded, p4, atol=1e-13)
    six = measure(SHALLOW, 500, seed=9)
    four = measure(SHALLOW, 500, seed=9, povm="pauli4")
    assert four.povm.name == "pauli4" and (four.outcomes == g[six.outcomes]).all()
    assert pauli_outcomes(np.array([[0, 1, 2, 0]]), np.array([[0, 0, 0, 1]]), "pauli4").tolist() == [[0, 1, 2, 3]]


def test_fake_backend_noise_and_readout_calibration(aer):
    """A fake backend's noise model on Aer; the calibrated confusion matrices agree with
    the symmetric measure errors that Aer's noise model applies (within 5σ + 1e-3)."""
    from qgen.workflows.backends import fake_backend, fake_backend_names
    from qgen.workflows.devices import measure

    assert "fake_manila" in fake_backend_names()
    with pytest.raises(ValueError, match="unknown noise model 'fake_nowhere'; choose one of"):
        measure(BELL, 10, noise_model="fake_nowhere")
    ds = measure(BELL, 400, noise_model="fake_manila", calibrate=True, calibration_shots=6000, seed=2)
    readout = ds.meta["readout"]
    c, err = np.array(readout["confusion"]), np.array(readout["stderr"])
    sim = np.array(readout["simulated"]["confusion"])
    assert np.all(np.abs(c - sim) <= 5 * err + 1e-3), (c, sim)
    props, _ = confusions_from_backend(fake_backend("fake_manila"), readout["physical_qubits"])
    assert np.allclose(props, readout["reported"]["confusion"])
    assert ds.meta["source"]["noise_model"] == "fake_manila"
    assert ds.povm.per_qubit and ds.povm.name == "pauli6+readout"  # calibrate folds the readout into the POVM
    assert np.allclose(ds.meta["readout"]["applied_confusion"], c)
    ideal = log_prob(ds.target.state, pauli6(), ds.outcomes)
    assert (ideal == -np.inf).any()  # noisy Z results the ideal Bell state cannot give under the ideal POVM


def test_backend_object_path(aer):
    """Backend objects: a generic fake backend runs as its noise model on Aer, and any
    other backend (Qiskit's BasicSimulator) through BackendSamplerV2."""
    from qiskit.providers.basic_provider import BasicSimulator
    from qiskit.providers.fake_provider import GenericBackendV2

    from qgen.workflows.devices import measure

    ds = measure(BELL, 200, backend=GenericBackendV2(2, seed=1), seed=1)
    assert ds.n_samples == 200 and ds.meta["source"]["noise_model"] == "generic_backend_2q"
    ds = measure(BELL, 120, backend=BasicSimulator(), seed=1)
    assert ds.meta["source"]["backend"] == "basic_simulator" and np.isfinite(ds.log_prob).all()
    with pytest.raises(ValueError, match="unknown backend"):
        measure(BELL, 10, backend="ibm_kyiv")


# -- importing Qiskit results ---------------------------------------------------------------


def test_counts_and_memory_conventions():
    """Basis string qubit 0 first; bitstrings little-endian (rightmost = qubit 0), with
    register spaces and hex keys."""
    for key in ("01", "0x1", "0 1"):
        ds = from_counts({"XZ": {key: 3}}, val_fraction=0, test_fraction=0)
        assert ds.outcomes.tolist() == [[3, 0]] * 3  # qubit 0: X, bit 1 → 3; qubit 1: Z, bit 0 → 0
    mem = from_memory({"YX": ["10", "0x2", "00"] * 20}, shuffle=False, val_fraction=0, test_fraction=0)
    assert mem.outcomes[:3].tolist() == [[4, 3], [4, 3], [4, 2]]
    assert mem.meta["source"]["format"] == "qiskit-memory" and "warnings" in mem.meta  # one setting: unbalanced
    four = from_counts({"XZ": {"01": 1}}, povm="pauli4", val_fraction=0, test_fraction=0)
    assert four.outcomes.tolist() == [[3, 0]]


@pytest.mark.parametrize("call, fragment", [
    (lambda: from_counts({"XQ": {"00": 1}}), "letters X, Y, Z"),
    (lambda: from_counts({"XZ": {"001": 1}}), "not a bitstring of 2 bits"),
    (lambda: from_counts({"XZ": {"0x7": 1}}), "not a hex value of 2 bits"),
    (lambda: from_counts({"XZ": {"00": -1}}), "non-negative integers"),
    (lambda: from_counts({"XZ": {"00": 1}, "XZY": {"000": 1}}), "names 3 qubits"),
    (lambda: from_counts({}), "non-empty mapping"),
    (lambda: from_counts({"XZ": [1, 2]}), "mapping"),
    (lambda: from_memory({"XZ": "0101"}), "list of bitstrings"),
    (lambda: from_result({"results": []}), "not a Qiskit Result"),
    (lambda: from_result({"results": [{"header": {}, "data": {"counts": {"0x0": 1}}}]}), "no basis"),
    (lambda: from_tomography(object()), "ExperimentData"),
    (lambda: from_tomography(type("E", (), {"data": lambda self: [{"metadata": {"m_idx": [0], "p_idx": [1]},
                                                                   "counts": {"0": 1}}]})()), "process tomography"),
])
def test_importers_refuse_malformed_input_in_one_line(call, fragment):
    with pytest.raises(FormatError) as err:
        call()
    assert fragment in one_line(err)


def test_import_files(tmp_path):
    counts = {"ZZ": {"00": 5, "11": 5}, "XX": {"00": 5, "11": 5}, "YY": {"01": 5, "10": 5}}
    (tmp_path / "c.json").write_text(json.dumps(counts))
    memory = {b: [k for k, v in c.items() for _ in range(v)] for b, c in counts.items()}
    (tmp_path / "m.json").write_text(json.dumps(memory))
    (tmp_path / "bad.json").write_text("{not json")
    a = import_qiskit(tmp_path / "c.json", "qiskit-counts", seed=1)
    b = import_qiskit(tmp_path / "m.json", "qiskit-memory", seed=1)
    assert sorted(map(tuple, a.outcomes.tolist())) == sorted(map(tuple, b.outcomes.tolist()))
    assert a.meta["source"]["file"].endswith("c.json") and a.meta["source"]["shots"] == 30
    with pytest.raises(FormatError, match="not a readable JSON file"):
        import_qiskit(tmp_path / "bad.json", "qiskit-counts")
    with pytest.raises(FormatError, match="unknown Qiskit format"):
        import_qiskit(tmp_path / "c.json", "qiskit-csv")


def test_import_saved_result_json(aer, tmp_path):
    """Result.to_dict() dumped to JSON: bases from header metadata ('basis' or qiskit-
    experiments' 'm_idx'), or given; memory preferred to counts; same data as counts."""
    from qiskit import QuantumCircuit, transpile

    sim = aer.AerSimulator(seed_simulator=4)
    circuits = []
    for basis in ("ZZ", "XX", "YZ"):
        qc = QuantumCircuit(2)
        qc.h(0)
        qc.cx(0, 1)
        for q, letter in enumerate(basis):
            if letter == "Y":
                qc.sdg(q)
            if letter in "XY":
                qc.h(q)
        qc.measure_all()
        qc.metadata = {"basis": basis}
        circuits.append(qc)
    result = sim.run(transpile(circuits, sim), shots=50, memory=True).result().to_dict()
    path = tmp_path / "result.json"
    path.write_text(json.dumps(result))
    ds = from_result(path, seed=2)
    counts = {r["header"]["metadata"]["basis"]: r["data"]["counts"] for r in result["results"]}
    ref = from_counts(counts, seed=2)
    assert sorted(map(tuple, ds.outcomes.tolist())) == sorted(map(tuple, ref.outcomes.tolist()))
    z = ds.outcomes[(ds.outcomes // 2 == 0).all(axis=1)]
    assert (z[:, 0] == z[:, 1]).all()  # Bell: equal Z results
    for r, m_idx in zip(result["results"], ([0, 0], [1, 1], [2, 0])):
        r["header"]["metadata"] = {"m_idx": m_idx}
        del r["data"]["memory"]
    again = from_result(result, seed=2)
    assert sorted(map(tuple, again.outcomes.tolist())) == sorted(map(tuple, ds.outcomes.tolist()))
    assert from_result(result, bases=["ZZ", "XX", "YZ"], seed=2).n_samples == 150


def test_import_state_tomography(aer):
    """qiskit-experiments StateTomography of a Bell circuit (9 settings): balanced Pauli-6
    data that follow the Bell state's exact table (χ², conservative for equal shots per
    setting)."""
    pytest.importorskip("qiskit_experiments")
    from qiskit import QuantumCircuit
    from qiskit_experiments.library import StateTomography

    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    qc.ry(0.4, 1)
    expdata = StateTomography(qc).run(aer.AerSimulator(seed_simulator=7), shots=400).block_for_results()
    ds = from_tomography(expdata, seed=0)
    assert ds.n_samples == 9 * 400 and "warnings" not in ds.meta
    target = circuit_target(qc)
    stat, dof = chi2_p(histogram(ds.outcomes, 6), probabilities(target.state, pauli6()).ravel())
    assert stats.chi2.sf(stat, dof) > 1e-4, (stat, dof)


# -- readout errors ----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["pauli6", "pauli4"])
def test_readout_povm_equals_confusion_applied_to_exact_table(name):
    """Tr[(⊗M'^{a_i}) ρ] with the folded per-qubit elements equals Σ_b Π_i C(a_i|b_i) P6(b)
    (coarse-grained for Pauli-4), computed by applying the confusion matrices to qgen's
    exact ideal Pauli-6 table of a random mixed state, N = 3."""
    rng = np.random.default_rng(4)
    n = 3
    a = rng.normal(size=(8, 8)) + 1j * rng.normal(size=(8, 8))
    rho = a @ a.conj().T
    rho /= np.trace(rho)
    conf = confusion_matrices(rng.uniform(0, 0.2, n), rng.uniform(0, 0.2, n))
    m = readout_povm(name, conf)
    k = m.shape[1]
    assert np.allclose(m.sum(axis=1), np.eye(2)) and np.linalg.eigvalsh(m).min() > -1e-12
    lhs = np.einsum("aij,bkl,cmn,jlnikm->abc", m[0], m[1], m[2], rho.reshape([2] * 6)).real
    table = probabilities(DenseState(rho), pauli6())  # ideal P6(b)
    for i in range(n):  # outcome 2·basis + bit: the readout flips the bit within a basis
        c6 = np.kron(np.eye(3), conf[i])
        table = np.moveaxis(np.tensordot(c6, table, axes=(1, i)), 0, i)
    if name == "pauli4":
        g = np.eye(4)[coarse_grain_map()]
        for i in range(n):
            table = np.moveaxis(np.tensordot(g.T, table, axes=(1, i)), 0, i)
    assert lhs.shape == (k,) * n and np.allclose(lhs, table, atol=1e-13)


def test_confusion_matrices_checks():
    c, err = confusions_from_calibration(np.array([[0, 1]] * 3 + [[1, 0]]), np.array([[1, 1], [0, 1]]))
    assert np.allclose(c[:, 1, 0], [0.25, 0.75]) and np.allclose(c[:, 0, 1], [0.5, 0])
    assert np.allclose(c.sum(axis=1), 1) and err.shape == (2, 2, 2)
    with pytest.raises(ValueError, match="probabilities in"):
        confusion_matrices([1.5], [0.1])
    with pytest.raises(ValueError, match="columns"):
        readout_povm("pauli6", np.array([[[0.9, 0.1], [0.2, 0.9]]]))
    with pytest.raises(ValueError, match="not 'tetra'"):
        readout_povm("tetra", confusion_matrices([0.1], [0.1]))


# -- command line ----------------------------------------------------------------------------------


def test_cli_measure(aer, tmp_path):
    from qgen.cli import cli

    (tmp_path / "bell.qasm").write_text(BELL)
    out = tmp_path / "bell.h5"
    res = CliRunner().invoke(cli, ["measure", str(tmp_path / "bell.qasm"), "--shots", "300", "--seed", "1",
                                   "--povm", "pauli4", "-o", str(out)])
    assert res.exit_code == 0, res.output
    ds = read_dataset(out)
    assert ds.povm.name == "pauli4" and ds.target.name == "circuit" and ds.n_samples == 300
    assert ds.meta["source"]["backend"] == "aer_simulator" and np.isfinite(ds.log_prob).all()
    for args, fragment in [
        (["--shots", "0"], "--shots"),
        (["--shots", "10", "--settings", "two"], "--settings"),
        (["--shots", "10", "--noise-model", "fake_nowhere"], "unknown noise model"),
        (["--shots", "10", "--backend", "ibm_nowhere"], "unknown backend"),
        (["--shots", "10", "--povm", "tetra"], "--povm"),
        (["--shots", "10", "--val-fraction", "0.95"], "fractions"),
    ]:
        target = tmp_path / "x.h5"
        res = CliRunner().invoke(cli, ["measure", str(tmp_path / "bell.qasm"), *args, "-o", str(target)])
        lines = [line for line in res.output.splitlines() if line.strip()]
        assert res.exit_code in (1, 2) and len(lines) == 1 and lines[0].startswith("Error: "), res.output
        assert fragment in lines[0] and not target.exists()
    res = CliRunner().invoke(cli, ["measure", str(tmp_path / "nope.qasm"), "--shots", "5",
                                   "-o", str(tmp_path / "y.h5")])
    assert res.exit_code == 1 and "not found" in res.output


def test_qgen_works_without_qiskit(tmp_path):
    """With every qiskit package hidden: qgen imports, circuit_to_mps reads OpenQASM 2 with
    quimb, and what needs Qiskit says how to install it, in one line."""
    script = textwrap.dedent(f"""
        import sys
        class Hide:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0].startswith("qiskit"):
                    raise ModuleNotFoundError(f"No module named {{name!r}}")
        sys.meta_path.insert(0, Hide())
        import numpy as np, qgen
        from qgen.targets import circuits
        from qgen.workflows import devices
        from qgen.datasets import qiskit as qiskit_io
        from qgen.measurements import readout
        mps, info = circuits.circuit_to_mps({BELL!r})
        assert info["reader"] == "quimb", info
        assert np.allclose(np.abs(mps.to_dense()), [2 ** -0.5, 0, 0, 2 ** -0.5])
        try:
            devices.measure({BELL!r}, 10)
        except ImportError as e:
            print("ERR", e)
        from click.testing import CliRunner
        from qgen.cli import cli
        print("CLI", CliRunner().invoke(cli, ["measure", "x.qasm", "--shots", "3", "-o", "x.h5"]).output.strip())
    """)
    (tmp_path / "x.qasm").write_text(BELL)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    err = [line for line in proc.stdout.splitlines() if line.startswith("ERR")]
    assert err and "pip install 'qgen[qiskit]'" in err[0]
    cli_line = [line for line in proc.stdout.splitlines() if line.startswith("CLI")][0]
    assert cli_line.startswith("CLI Error: ") and "qgen[qiskit]" in cli_line


def test_cli_imports_qiskit_counts_and_folds_a_readout_file(tmp_path):
    """``qgen import --format qiskit-counts --readout C.json``: Qiskit's bit order, and the
    confusion matrices folded into a per-qubit POVM; a malformed file is one line."""
    from click.testing import CliRunner

    from qgen.cli import cli

    counts = {"ZZ": {"00": 40, "11": 40}, "XX": {"00": 40, "11": 40}, "YY": {"01": 40, "10": 40}}
    (tmp_path / "c.json").write_text(json.dumps(counts))
    (tmp_path / "r.json").write_text(json.dumps([[[0.97, 0.05], [0.03, 0.95]], [[0.99, 0.02], [0.01, 0.98]]]))
    res = CliRunner().invoke(cli, ["import", str(tmp_path / "c.json"), "--format", "qiskit-counts", "--readout",
                                   str(tmp_path / "r.json"), "--target", "ghz", "-o", str(tmp_path / "d.h5"), "-q"])
    assert res.exit_code == 0, res.output
    ds = read_dataset(tmp_path / "d.h5")
    assert ds.n_samples == 240 and ds.povm.per_qubit and ds.povm.name == "pauli6+readout"
    assert np.isfinite(ds.log_prob).all()  # the folded POVM gives every recorded string a probability
    (tmp_path / "bad.json").write_text(json.dumps([[[0.9, 0.5], [0.3, 0.5]]]))
    res = CliRunner().invoke(cli, ["import", str(tmp_path / "c.json"), "--format", "qiskit-counts", "--readout",
                                   str(tmp_path / "bad.json"), "-o", str(tmp_path / "e.h5")])
    assert res.exit_code == 1 and "columns sum to 1" in res.output and not (tmp_path / "e.h5").exists()
