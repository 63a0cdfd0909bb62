"""Running a circuit on a quantum device (or a simulator of one) and measuring it with
random Pauli bases: Qiskit's ``SamplerV2`` interface in, a qgen dataset out.

Design.  One parametrised circuit: the state circuit, then on every qubit i the gate
U(θ_i, 0, λ_i) = R_z(0) R_y(θ_i) R_z(λ_i) and a Z measurement into classical bit i.
(θ, λ) = (0, 0) measures σz, (−π/2, 0) measures σx and (−π/2, −π/2) measures σy, since
V†ZV = σ_B for V = R_y(θ)R_z(λ) (R_y(α) turns Z into cos α Z + sin α X, and R_z then
turns X into Y).  A design is a list of (basis settings, shots per setting):

* ``settings=None``: a fresh uniformly random basis per qubit and shot, one PUB
  ``(circuit, values (S, 2N), shots=1)``: the shots are exactly Pauli-6 POVM outcomes;
* ``settings=M``: M random settings, S/M shots each (the remainder spread over the
  first settings), the usual "randomized measurement" protocol of classical shadows
  (Huang, Kueng & Preskill, Nat. Phys. 16, 1050 (2020));
* ``settings="all"``: all 3^N settings (as qiskit-experiments' ``StateTomography``).

The circuit is transpiled once for the backend (parameters intact) and run through
qiskit-aer's ``SamplerV2`` (the default, an ideal ``AerSimulator``; or a noise model),
``qiskit_ibm_runtime.SamplerV2(mode=backend)`` for an IBM backend, or Qiskit's
``BackendSamplerV2`` for any other backend: a real device runs the same code.  Noise
models of real devices come from the calibration snapshots of
``qiskit_ibm_runtime.fake_provider`` (``noise_model="fake_sherbrooke"``, …,
:func:`qgen.backends.fake_backend_names`); above 14 qubits Aer's matrix_product_state
method is used (:mod:`qgen.backends`).

Readout.  ``calibrate=True`` also runs |0…0⟩ and |1…1⟩ (X on every qubit) on the same
physical qubits and stores the per-qubit confusion matrices with their standard errors
in ``meta["readout"]`` (:func:`qgen.readout.confusions_from_calibration`), next to the
rates the backend reports (``reported``: the device's properties) and, for a noise
model, those Aer applies (``simulated``: the backend target's symmetric measure error).
The dataset's POVM stays the ideal one; the effective one is
:func:`qgen.readout.readout_povm`.

Example
-------
>>> import pytest; _ = pytest.importorskip("qiskit_aer")
>>> bell = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; h q[0]; cx q[0],q[1];'
>>> ds = measure(bell, 300, seed=1)
>>> ds.n_samples, ds.povm.name, ds.target.name, bool((ds.log_prob > -np.inf).all())
(300, 'pauli6', 'circuit', True)
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import numpy as np

from qgen._version import __version__
from qgen.datasets.corrections import correct_readout, stored_confusions
from qgen.datasets.dataset import Dataset
from qgen.datasets.qiskit import pauli_dataset
from qgen.measurements.readout import confusions_from_backend, confusions_from_calibration
from qgen.resources import check_memory
from qgen.targets.circuits import circuit_target, load_circuit
from qgen.workflows.backends import Runner

__all__ = ["BASIS_ANGLES", "PauliDesign", "pauli_measurement_circuits", "measure"]

BASIS_ANGLES = np.array([[0.0, 0.0], [-np.pi / 2, 0.0], [-np.pi / 2, -np.pi / 2]])
"""(θ, λ) of U(θ, 0, λ) before a Z measurement, for basis codes 0, 1, 2 = Z, X, Y."""


@dataclass(frozen=True)
class PauliDesign:
    """A randomized Pauli measurement: the parametrised ``circuit`` (parameters
    ``basis[2i]`` = θ_i, ``basis[2i+1]`` = λ_i), per PUB the basis codes ``bases``
    (M_j, N) and the ``shots`` per setting, and a JSON ``design`` record."""

    circuit: object
    bases: tuple[np.ndarray, ...]
    shots: tuple[int, ...]
    design: dict

    def pubs(self, circuit: Any = None) -> list[tuple]:  # a qiskit QuantumCircuit
        """SamplerV2 PUBs ``(circuit, values (M_j, 2N), shots)`` (``circuit``: e.g. the
        transpiled one)."""
        return [(circuit or self.circuit, BASIS_ANGLES[b].reshape(len(b), -1), s)
                for b, s in zip(self.bases, self.shots)]


def pauli_measurement_circuits(circuit: Any, shots: int, *, settings: int | str | None = None,
                               seed: int | None = None) -> PauliDesign:
    """The measurement circuit and design of ``shots`` randomized Pauli measurements of
    ``circuit`` (a state circuit: a file, QASM text or QuantumCircuit; final
    measurements removed): ``settings`` None (a random basis per shot), M (M random
    settings) or ``"all"`` (the 3^N settings); bases drawn with ``seed`` (module
    docstring).

    >>> import pytest; _ = pytest.importorskip("qiskit")
    >>> d = pauli_measurement_circuits('OPENQASM 2.0; qreg q[3];', 10, settings=4, seed=0)
    >>> [b.shape for b in d.bases], d.shots, d.circuit.num_parameters
    ([(2, 3), (2, 3)], (3, 2), 6)
    """
    from qiskit.circuit import ParameterVector

    qc = load_circuit(circuit)[0]
    n = qc.num_qubits
    if isinstance(shots, bool) or not isinstance(shots, (int, np.integer)) or shots < 1:
        raise ValueError(f"shots must be a positive integer, got {shots!r}")
    rng = np.random.default_rng(seed)
    if settings is None:
        groups, design = [(rng.integers(0, 3, (shots, n)), 1)], {"design": "random basis per shot"}
    else:
        if settings == "all":
            check_memory(3**n * n * 20, f"all 3^{n} Pauli settings")
            table = np.array(list(itertools.product(range(3), repeat=n)))
        elif isinstance(settings, (int, np.integer)) and not isinstance(settings, bool) and 1 <= settings <= shots:
            table = rng.integers(0, 3, (int(settings), n))
        else:
            raise ValueError(f"settings must be None, 'all' or an integer in 1..shots, got {settings!r}")
        q, r = divmod(shots, len(table))
        if q == 0:
            raise ValueError(f"{shots} shots cannot cover {len(table):,} settings")
        groups = [(table[:r], q + 1), (table[r:], q)]
        design = {"design": "all 3^N settings" if settings == "all" else "random settings", "settings": len(table),
                  "shots_per_setting": [q + 1, q] if r else [q]}
    theta = ParameterVector("basis", 2 * n)
    mc = qc.copy()
    for i in range(n):
        mc.u(theta[2 * i], 0.0, theta[2 * i + 1], i)
    mc.measure_all()
    groups = [(b.astype(np.int8), s) for b, s in groups if len(b)]
    return PauliDesign(mc, tuple(b for b, _ in groups), tuple(s for _, s in groups), design)


def _calibrate(runner: Runner, physical: list[int], shots: int) -> dict:
    """Run |0…0⟩ and |1…1⟩ on the ``physical`` qubits; the confusion record for ``meta["readout"]``."""
    from qiskit import QuantumCircuit

    zero, one = QuantumCircuit(runner.n), QuantumCircuit(runner.n)
    one.x(range(runner.n))
    zero.measure_all()
    one.measure_all()
    bits0, bits1 = runner.run([(runner.transpile(c, physical)[0], None, shots) for c in (zero, one)])
    c, err = confusions_from_calibration(bits0, bits1)
    return {"source": "calibration circuits |0…0⟩, |1…1⟩", "confusion": c.tolist(), "stderr": err.tolist(),
            "shots": [shots, shots], "physical_qubits": physical}


def _versions() -> dict:
    import qiskit

    out = {"qgen": __version__, "qiskit": qiskit.__version__}
    for name in ("qiskit_aer", "qiskit_ibm_runtime"):
        try:
            out[name.replace("_", "-")] = __import__(name).__version__
        except ImportError:
            pass
    return out


def measure(circuit: Any, shots: int, *, backend: Any = None, noise_model: Any = None,  # qiskit objects or names
            settings: int | str | None = None, povm: str = "pauli6", seed: int | None = None,
            calibrate: bool = False, calibration_shots: int = 4096,
            max_bond: int | None = None, val_fraction: float = 0.1, test_fraction: float = 0.1) -> Dataset:
    """Run ``shots`` randomized Pauli measurements of ``circuit`` and return them as a
    dataset of ``povm`` outcomes (``pauli6``: 2·basis + bit; ``pauli4`` by exact
    coarse-graining), with the circuit's ideal state attached as the target
    (:func:`qgen.circuits.circuit_target`, ``max_bond`` as there) and the exact ln P of
    every string.

    ``backend``: None or ``"aer"`` (Aer), or any Qiskit backend object; ``noise_model``:
    a fake backend's name (``"fake_sherbrooke"``) or a qiskit-aer ``NoiseModel``, for
    Aer; ``settings``: the design (module docstring); ``seed``: bases, transpiler and
    simulator; ``calibrate``: also measure readout confusion matrices
    (``meta["readout"]``) and fold them into the dataset's POVM
    (:func:`qgen.datasets.correct_readout`: one effective POVM per qubit, so models and
    scores see the state before readout).  Provenance goes to ``meta["source"]``: backend,
    noise model, versions, circuit sha256, design, shots, seed, measured physical qubits.
    """
    if povm not in ("pauli6", "pauli4"):
        raise ValueError(f"povm must be pauli6 or pauli4, got {povm!r}")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    if isinstance(calibration_shots, bool) or not isinstance(calibration_shots, (int, np.integer)) \
            or calibration_shots < 1:
        raise ValueError(f"calibration_shots must be a positive integer, got {calibration_shots!r}")
    qc, sha, file = load_circuit(circuit)
    n = qc.num_qubits
    design = pauli_measurement_circuits(qc, shots, settings=settings, seed=seed)
    check_memory(int(shots) * (72 * n + 200), f"measuring {int(shots):,} shots × {n} qubits",
                 "bases, parameter values, per-shot results")
    target = circuit_target(circuit, max_bond=max_bond)
    runner = Runner(backend, noise_model, n, seed)
    tqc, physical = runner.transpile(design.circuit)
    bits = np.concatenate(runner.run(design.pubs(tqc)))
    bases = np.concatenate([np.repeat(b, s, axis=0) for b, s in zip(design.bases, design.shots)])
    meta = {}
    if calibrate:
        meta["readout"] = _calibrate(runner, physical, int(calibration_shots))
    for key, what in (("reported", "properties"), ("simulated", "target")):
        if runner.reporter is not None and (key == "reported" or runner.noise_name is not None):
            try:
                c, how = confusions_from_backend(runner.reporter, physical, source=what)
            except ValueError:
                continue
            meta.setdefault("readout", {})[key] = {"source": how, "confusion": c.tolist()}
    source = {"file": file or "<circuit>", "format": "qiskit-sampler", "shots": int(shots), "backend": runner.name,
              "noise_model": runner.noise_name, "versions": _versions(), "circuit_sha256": sha, "seed": seed,
              **design.design, "physical_qubits": physical, "transpiled_depth": tqc.depth(),
              "transpiled_ops": {k: int(v) for k, v in tqc.count_ops().items()}}
    ds = pauli_dataset(bases, bits, povm=povm, source=source, seed=0 if seed is None else seed, target=target,
                       val_fraction=val_fraction, test_fraction=test_fraction, meta=meta)
    return correct_readout(ds, stored_confusions(ds, "calibrated"), source="calibrated") if calibrate else ds
