"""Where circuits run: Qiskit backends, noise models of real devices, and the
``SamplerV2`` that runs PUBs on them (used by :func:`qgen.devices.measure`).

* ``backend=None`` or ``"aer"``: an ideal ``AerSimulator``, through qiskit-aer's
  ``SamplerV2``;
* ``noise_model="fake_<name>"``: the calibration snapshot of a real IBM device from
  ``qiskit_ibm_runtime.fake_provider`` (:func:`fake_backend_names`) as an Aer noise model
  (``NoiseModel.from_backend``: depolarizing and thermal-relaxation gate errors, readout
  errors), circuits transpiled for that device's coupling map and basis gates; or a
  qiskit-aer ``NoiseModel`` object;
* any backend object: an ``AerSimulator`` (qiskit-aer's sampler), a fake backend (as its
  noise model), an IBM backend (``qiskit_ibm_runtime.SamplerV2(mode=backend)``), or any
  other (Qiskit's ``BackendSamplerV2``).

Above 14 qubits Aer uses its matrix_product_state method (Vidal's MPS with Aer's own
truncation), below its automatic choice: with a noise model every shot is a separate
trajectory, and a 20-qubit GHZ shot took 1.6 s as a state vector against 0.09 s as an MPS
here (MPS cost grows with the entanglement, the state vector's with 2^N).  With a noise
model, the transpiled circuits are cut down to the physical qubits they touch and the noise
model to those qubits, renumbered:
Aer otherwise prepares the whole device's noise model (127 qubits for Sherbrooke) for
every parameter binding, which dominates per-shot random bases.  The
restriction keeps every error on those qubits and drops the others, which act on qubits
the circuit never touches.

Example
-------
>>> import pytest; _ = pytest.importorskip("qiskit_ibm_runtime")
>>> "fake_sherbrooke" in fake_backend_names()
True
"""

from __future__ import annotations

from typing import Any

import numpy as np

from qgen.targets.circuits import require

__all__ = ["MPS_ABOVE", "fake_backend_names", "fake_backend", "Runner"]

MPS_ABOVE = 14
"""Qubits above which Aer simulates with its matrix_product_state method."""


def _fake_classes() -> dict[str, type]:
    fp = require("qiskit_ibm_runtime.fake_provider", "a fake-backend noise model")
    out = {}
    for name in dir(fp):
        if name.startswith("Fake") and "Provider" not in name:
            out["fake_" + name[4:].removesuffix("V2").lower()] = getattr(fp, name)
    return out


def fake_backend_names() -> list[str]:
    """Names of the fake backends of the installed qiskit-ibm-runtime (``fake_sherbrooke``, …)."""
    return sorted(_fake_classes())


def fake_backend(name: str) -> Any:  # a qiskit_ibm_runtime fake backend
    """The fake backend (a calibration snapshot of a real IBM device) called ``name``
    (``fake_torino``, ``FakeTorino`` or ``torino``)."""
    classes = _fake_classes()
    key = str(name).lower()
    key = key if key.startswith("fake_") else "fake_" + key.removeprefix("fake")
    if key not in classes:
        raise ValueError(f"unknown noise model '{name}'; choose one of {', '.join(sorted(classes))}")
    return classes[key]()


def _restrict(noise: Any, mapping: dict[int, int]):
    """The errors of a qiskit-aer ``NoiseModel`` on the qubits in ``mapping`` (old → new
    index); reads the model's tables (qiskit-aer keeps them in ``_local_quantum_errors``,
    ``_default_quantum_errors`` and ``_local_readout_errors``)."""
    from qiskit_aer.noise import NoiseModel

    out = NoiseModel(basis_gates=noise.basis_gates)
    for label, error in noise._default_quantum_errors.items():
        out.add_all_qubit_quantum_error(error, label, warnings=False)
    for label, table in noise._local_quantum_errors.items():
        for qubits, error in table.items():
            if all(q in mapping for q in qubits):
                out.add_quantum_error(error, label, [mapping[q] for q in qubits], warnings=False)
    if noise._default_readout_error is not None:
        out.add_all_qubit_readout_error(noise._default_readout_error, warnings=False)
    for qubits, error in noise._local_readout_errors.items():
        if all(q in mapping for q in qubits):
            out.add_readout_error(error, [mapping[q] for q in qubits], warnings=False)
    return out


def _aer_sampler(simulator: Any, seed: int | None):
    return require("qiskit_aer.primitives", "measuring a circuit").SamplerV2.from_backend(simulator, seed=seed)


class Runner:
    """Transpiles circuits for one backend and runs SamplerV2 PUBs on it (module
    docstring).  Attributes: ``name`` (backend), ``noise_name`` (noise model or None),
    ``reporter`` (a backend whose reported readout rates apply, or None)."""

    def __init__(self, backend: Any, noise_model: Any, n_qubits: int, seed: int | None) -> None:
        # backend: 'aer' or a qiskit Backend; noise_model: None, a fake backend name or a qiskit_aer NoiseModel
        aer = require("qiskit_aer", "measuring a circuit")
        self.n, self.seed, self.mapping, self.noise, self.sampler = n_qubits, seed, None, None, None
        self.method = "automatic" if n_qubits <= MPS_ABOVE else "matrix_product_state"
        if isinstance(backend, str):
            if backend.lower() != "aer":
                raise ValueError(f"unknown backend '{backend}': give 'aer' or a Qiskit backend object (noise models "
                                 "of real devices: noise_model='fake_<name>')")
            backend = None
        if noise_model is not None and backend is not None:
            raise ValueError("a noise model applies to the Aer simulator; a backend object brings its own noise")
        module = type(backend).__module__ if backend is not None else ""
        self.noise_name, self.reporter = None, None
        if isinstance(noise_model, str) or "fake_provider" in module:
            fake = fake_backend(noise_model) if isinstance(noise_model, str) else backend
            self.noise = aer.noise.NoiseModel.from_backend(fake)
            self.backend, self.name = fake, f"aer_simulator({fake.name})"
            self.noise_name, self.reporter = fake.name, fake
        elif noise_model is not None:
            if type(noise_model).__name__ != "NoiseModel":
                raise ValueError(f"noise_model must be a fake backend name or a qiskit_aer NoiseModel, got "
                                 f"{type(noise_model).__name__}")
            self.noise, self.noise_name = noise_model, "custom NoiseModel"
            self.backend = aer.AerSimulator(noise_model=noise_model)
            self.name = "aer_simulator"
        elif backend is None or isinstance(backend, aer.AerSimulator):
            self.backend = backend or aer.AerSimulator(method=self.method)
            self.sampler = _aer_sampler(self.backend, seed)
        elif module.startswith("qiskit_ibm_runtime"):
            self.backend, self.reporter = backend, backend
            self.sampler = require("qiskit_ibm_runtime", "running on an IBM backend").SamplerV2(mode=backend)
        else:
            from qiskit.primitives import BackendSamplerV2

            self.backend = backend
            self.sampler = BackendSamplerV2(backend=backend, options={"seed_simulator": seed})
        if self.noise is None:
            self.name = getattr(self.backend, "name", type(self.backend).__name__)
        qubits = getattr(self.backend, "num_qubits", None)
        if qubits is not None and qubits < n_qubits:
            raise ValueError(f"backend '{self.name}' has {qubits} qubits, the circuit {n_qubits}")

    def transpile(self, circuit: Any, layout: list[int] | None = None) -> tuple[Any, list[int]]:
        """(circuit to run, physical qubit measured into each classical bit 0 … N−1)."""
        import qiskit

        tqc = qiskit.transpile(circuit, backend=self.backend, optimization_level=1, seed_transpiler=self.seed,
                               initial_layout=layout)
        index = {q: i for i, q in enumerate(tqc.qubits)}
        measured = [-1] * self.n
        for inst in tqc.data:
            if inst.operation.name == "measure":
                measured[tqc.find_bit(inst.clbits[0]).index] = index[inst.qubits[0]]
        if self.noise is None:
            return tqc, measured
        active = sorted({index[q] for inst in tqc.data for q in inst.qubits})
        if self.mapping is None:  # the first circuit fixes the qubits the noise model keeps
            self.mapping = {p: i for i, p in enumerate(active)}
            aer = require("qiskit_aer", "measuring a circuit")
            sim = aer.AerSimulator(noise_model=_restrict(self.noise, self.mapping), method=self.method)
            self.sampler = _aer_sampler(sim, self.seed)
        if not set(active) <= set(self.mapping):
            raise ValueError(f"internal error: circuit on physical qubits {active} outside {sorted(self.mapping)}")
        small = qiskit.QuantumCircuit(len(self.mapping), name=tqc.name, metadata=tqc.metadata)
        for creg in tqc.cregs:
            small.add_register(creg)
        for inst in tqc.data:
            small.append(inst.operation, [self.mapping[index[q]] for q in inst.qubits], inst.clbits, copy=False)
        return small, measured

    def run(self, pubs: list[tuple]) -> list[np.ndarray]:
        """Per PUB, the bits ``(settings × shots, N)`` (column i = classical bit i)."""
        result = self.sampler.run(pubs).result()
        return [r.data.meas.to_bool_array(order="little").reshape(-1, self.n).astype(np.uint8) for r in result]
