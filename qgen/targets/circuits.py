"""Quantum circuits as targets: the ideal output state of a circuit as an MPS.

A circuit C (an OpenQASM 2 or 3 file or string, or a qiskit ``QuantumCircuit``) prepares
|ψ⟩ = C|0…0⟩.  :func:`circuit_to_mps` simulates it with quimb's ``CircuitMPS`` (quimb is a
core dependency, so OpenQASM needs no Qiskit): every gate is applied as its matrix, a
two-qubit gate by swapping its qubits next to each other, contracting and splitting with
an SVD that keeps the singular values above ``cutoff`` × the largest, at most
``max_bond`` of them (Vidal, PRL 91, 147902 (2003)).  quimb rather than Aer's
matrix_product_state method: it runs without Qiskit, hands back the tensors directly,
and estimates the weight it discarded.

* Qubit order: qgen's qubit 0 is Qiskit's qubit 0 (the first qubit declared in the QASM
  text).  qgen's dense vectors hold qubit 0 as the most significant bit, Qiskit's
  ``Statevector`` as the least significant: ``mps.to_dense()`` equals
  ``Statevector(circuit).reverse_qargs().data``.
* Final measurements, barriers and delays are ignored (the state is the one before the
  final measurements).  A measurement followed by a gate on its qubit, a reset, classical
  control or an unbound parameter is refused: the output would not be one pure state.
* Reading: with Qiskit installed, OpenQASM goes through ``qiskit.qasm2`` / ``qasm3`` (the
  complete grammar); without it, through quimb's reader (no classical control, only the
  gates quimb knows, and no gate may follow a measurement).
* Memory: the bond dimension across the cut between qubits k−1 and k is at most
  χ_k = 2^min(k, N−k, Σ_g 2·min(l_g, r_g)), where a gate g acting on l_g qubits left of
  the cut and r_g right of it has operator Schmidt rank ≤ 4^min(l_g, r_g); capped by
  ``max_bond``, doubled for the swaps.  The peak is estimated as 16 bytes ×
  (4 Σ_k χ_{k−1}χ_k + 24 χ_max²) (the MPS and a copy; the two-site block, its SVD factors
  and workspace) and a circuit whose bound exceeds the available memory is refused
  before it is simulated (:func:`qgen.resources.check_memory`).  The bound ignores
  cancellations, so give ``max_bond`` for a circuit that entangles less than its gate
  count suggests.
* ``info["sha256"]`` hashes a canonical QASM text (:func:`canonical_qasm`): the given
  text, or ``qiskit.qasm3.dumps`` of a ``QuantumCircuit``, with comments removed and
  whitespace normalised.

Example
-------
>>> bell = 'OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; h q[0]; cx q[0],q[1];'
>>> mps, info = circuit_to_mps(bell)
>>> np.round(mps.to_dense().real, 4).tolist(), info["bond_dims"], info["depth"]
([0.7071, 0.0, 0.0, 0.7071], [2], 2)
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from qgen.resources import check_memory
from qgen.targets.states import MPS
from qgen.targets.target import Target

__all__ = ["CircuitError", "require", "canonical_qasm", "load_circuit", "circuit_to_mps", "circuit_target",
           "estimate_circuit_mps"]

_INSTALL = "pip install 'qgen[qiskit]'"


class CircuitError(ValueError):
    """A circuit that cannot be read or simulated; the message is one line."""


def require(module: str, what: str) -> ModuleType:
    """Import ``module`` (a Qiskit package) or raise a one-line ImportError saying that
    ``what`` needs the ``qgen[qiskit]`` extra."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise ImportError(f"{what} needs Qiskit ({module} is missing): {_INSTALL}") from e


def _have(module: str) -> bool:
    try:
        importlib.import_module(module)
    except ImportError:
        return False
    return True


def canonical_qasm(text: str) -> str:
    """OpenQASM text without comments, one statement per line, single spaces and none
    around punctuation: two texts that differ only in layout have the same canonical
    form (and so the same sha256 in :func:`circuit_to_mps`).

    >>> canonical_qasm("OPENQASM 2.0;  // a comment\\nqreg q[1];\\nh   q [0] ;")
    'OPENQASM 2.0;\\nqreg q[1];\\nh q[0];'
    """
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    text = re.sub(r"//[^\n]*", " ", text)
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"\s*([;,(){}\[\]=<>+\-*/:])\s*", r"\1", text).strip()
    return re.sub(r"([;{}])(?!$)", r"\1\n", text)


@dataclass(frozen=True)
class _Circuit:
    """A circuit read and checked: its gates (matrix, qubits; the matrix's first qubit
    most significant), size, canonical hash, file, reader, and the Qiskit circuit (if
    Qiskit read it) without its final measurements."""

    n: int
    gates: list[tuple[np.ndarray, tuple[int, ...]]]
    sha256: str
    file: str | None
    reader: str
    qc: Any = None


def _source(circuit: Any) -> tuple[str | None, str | None]:
    """(QASM text, file name) of a file or string; (None, None) for a QuantumCircuit."""
    if isinstance(circuit, (str, os.PathLike)):
        s = os.fspath(circuit)
        if isinstance(circuit, str) and ("OPENQASM" in s or ";" in s):
            return s, None
        path = Path(s)
        if not path.is_file():
            raise CircuitError(f"circuit file '{path}' not found (give a path, OpenQASM text or a QuantumCircuit)")
        try:
            return path.read_text(encoding="utf-8"), str(path)
        except (OSError, UnicodeDecodeError) as e:
            raise CircuitError(f"cannot read circuit file '{path}' ({str(e).splitlines()[0]})") from None
    if type(circuit).__name__ == "QuantumCircuit" and type(circuit).__module__.startswith("qiskit"):
        return None, None
    raise CircuitError(f"a circuit is an OpenQASM 2/3 file or text, or a qiskit QuantumCircuit; got "
                       f"{type(circuit).__name__}")


def _qasm_version(canonical: str, where: str) -> int:
    m = re.match(r"OPENQASM ([23])(\.\d+)?;", canonical)
    if not m:
        raise CircuitError(f"{where}: no 'OPENQASM 2.0;' or 'OPENQASM 3.0;' header")
    return int(m.group(1))


def _qiskit_gates(qc: Any, where: str) -> tuple[int, list[tuple[np.ndarray, tuple[int, ...]]], Any]:
    """The gates of a QuantumCircuit (matrices reordered to quimb's convention), after
    removing its final measurements and barriers; refuses what is not one pure state."""
    from qiskit.quantum_info import Operator

    if qc.parameters:
        names = ", ".join(p.name for p in list(qc.parameters)[:3])
        raise CircuitError(f"{where} has unbound parameters ({names}): bind them first (assign_parameters)")
    state = qc.remove_final_measurements(inplace=False)
    gates = []
    for k, inst in enumerate(state.data):
        op, qubits = inst.operation, tuple(state.find_bit(q).index for q in inst.qubits)
        if op.name in ("barrier", "delay"):
            continue
        if op.name == "measure":
            raise CircuitError(f"{where}: measurement of qubit {qubits[0]} followed by more operations on it "
                               f"(instruction {k}); only final measurements are allowed")
        if op.name in ("reset", "initialize") or getattr(op, "blocks", None) is not None or inst.clbits:
            raise CircuitError(f"{where}: instruction {k} '{op.name}' (reset or classical control) does not "
                               "prepare a pure state")
        try:
            u = Operator(op).data
        except Exception as e:  # noqa: BLE001 — Qiskit raises several types for "no matrix"
            raise CircuitError(f"{where}: instruction {k} '{op.name}' has no matrix ({str(e).splitlines()[0]})"
                               ) from None
        gates.append((np.asarray(u, dtype=complex), qubits[::-1]))  # Qiskit's matrices are little-endian
    return qc.num_qubits, gates, state


def _quimb_gates(text: str, version: int, where: str) -> tuple[int, list[tuple[np.ndarray, tuple[int, ...]]]]:
    """The gates of OpenQASM text read by quimb; a gate after a measurement is refused."""
    import quimb.tensor as qtn

    statements = canonical_qasm(text).split("\n")
    is_measure = [bool(re.match(r"(\S+=)?measure\b", s)) for s in statements]
    if any(is_measure):
        later = statements[is_measure.index(True) + 1:]
        gate = next((s for s in later if not re.match(r"(\S+=)?measure\b|(barrier|creg|bit)\b", s)), None)
        if gate is not None:
            raise CircuitError(f"{where}: '{gate[:40]}' follows a measurement; without Qiskit only circuits whose "
                               f"measurements all come last are read ({_INSTALL} checks qubit by qubit)")
    reader = getattr(qtn.Circuit, f"from_openqasm{version}_str", None)
    if reader is None:
        raise CircuitError(f"{where}: this quimb cannot read OpenQASM {version}: {_INSTALL}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Unsupported operation ignored: measure / creg / barrier"
            circ = reader(text)
    except Exception as e:  # noqa: BLE001 — quimb's regex reader raises many types
        raise CircuitError(f"{where}: quimb cannot read this OpenQASM {version} ({type(e).__name__}: "
                           f"{str(e).splitlines()[0][:120]}); {_INSTALL} reads it with Qiskit") from None
    return circ.N, [(np.asarray(g.array, dtype=complex), tuple(g.qubits)) for g in circ.gates]


def _read(circuit: Any) -> _Circuit:
    """Read and check a circuit (see the module docstring for which reader is used)."""
    text, file = _source(circuit)
    where = f"circuit '{file}'" if file else "the circuit"
    if text is None:  # a QuantumCircuit
        qasm3 = require("qiskit.qasm3", "hashing a QuantumCircuit")
        try:
            canonical = canonical_qasm(qasm3.dumps(circuit))
        except Exception as e:  # noqa: BLE001
            raise CircuitError(f"{where} cannot be written as OpenQASM 3 ({str(e).splitlines()[0]})") from None
        n, gates, qc = _qiskit_gates(circuit, where)
        return _Circuit(n, gates, _sha(canonical), None, "qiskit", qc)
    canonical = canonical_qasm(text)
    version = _qasm_version(canonical, where)
    if _have("qiskit") and (version == 2 or _have("qiskit_qasm3_import")):
        from qiskit import qasm2, qasm3

        try:
            qc = (qasm2.loads(text, custom_instructions=qasm2.LEGACY_CUSTOM_INSTRUCTIONS) if version == 2
                  else qasm3.loads(text))  # the legacy set: qelib1.inc as Qiskit writes it (sx, rzx, …)
        except Exception as e:  # noqa: BLE001 — parse errors of both readers
            raise CircuitError(f"{where}: not valid OpenQASM {version} ({' '.join(str(e).split())[:160]})") from None
        n, gates, state = _qiskit_gates(qc, where)
        return _Circuit(n, gates, _sha(canonical), file, "qiskit", state)
    n, gates = _quimb_gates(text, version, where)
    return _Circuit(n, gates, _sha(canonical), file, "quimb")


def _sha(canonical: str) -> str:
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def load_circuit(circuit: Any) -> tuple[Any, str, str | None]:  # circuit: a file, QASM text or QuantumCircuit
    """The ``QuantumCircuit`` of a file, text or circuit, with its final measurements
    and barriers removed and checked as :func:`circuit_to_mps` checks it; returns
    ``(circuit, sha256, file)``.  Needs Qiskit."""
    require("qiskit", "running a circuit")
    c = _read(circuit)
    return c.qc, c.sha256, c.file


def _bond_exponents(n: int, gates: Sequence[tuple[np.ndarray, Sequence[int]]], max_bond: int | None) -> np.ndarray:
    """log2 of the bound on the bond dimension across each cut k = 1 … N−1 (module docstring)."""
    cuts = np.arange(1, n)
    growth = np.zeros(n - 1)
    for _, qubits in gates:
        if len(qubits) > 1:
            q = np.asarray(qubits)
            inside = cuts[(cuts > q.min()) & (cuts <= q.max())]
            left = (q[None, :] < inside[:, None]).sum(axis=1)
            growth[inside - 1] += 2 * np.minimum(left, len(q) - left)
    e = np.minimum(np.minimum(cuts, n - cuts), growth + 1)  # +1: the swaps of a two-site gate
    return np.minimum(e, np.log2(max_bond)) if max_bond else e


def estimate_circuit_mps(n: int, gates: Sequence[tuple[np.ndarray, Sequence[int]]], max_bond: int | None = None) -> int:
    """Peak bytes of simulating ``gates`` (``(matrix, qubits)`` pairs) on ``n`` qubits:
    16 × (4 Σ_k χ_{k−1}χ_k + 24 χ_max²) with the bounds χ_k of the module docstring.

    >>> h, cx = np.eye(2), np.eye(4)
    >>> estimate_circuit_mps(3, [(h, (0,)), (cx, (0, 1)), (cx, (1, 2))])
    2048
    """
    chi = [1] + [2 ** int(e) for e in _bond_exponents(n, gates, max_bond)] + [1]
    return 16 * (4 * sum(a * b for a, b in zip(chi[:-1], chi[1:])) + 24 * max(chi) ** 2)


def _depth(n: int, gates: Sequence[tuple[np.ndarray, Sequence[int]]]) -> int:
    level = np.zeros(n, dtype=np.int64)
    for _, qubits in gates:
        q = list(qubits)
        level[q] = level[q].max() + 1
    return int(level.max(initial=0))


def circuit_to_mps(circuit: Any, *, max_bond: int | None = None, cutoff: float = 1e-12) -> tuple[MPS, dict]:
    """The ideal output state C|0…0⟩ of ``circuit`` as a normalised :class:`~qgen.targets.states.MPS`,
    and ``info``: ``n_qubits``, ``depth`` (layers of gates, final measurements and
    barriers excluded), ``n_gates``, ``bond_dims``, ``max_bond``, ``truncation_error``
    (quimb's estimate 1 − ‖ψ̃‖² of the discarded weight, from the norm lost by the
    truncations in canonical form), ``sha256``, ``file``, ``reader`` (qiskit or quimb),
    ``simulator``, ``cutoff`` and ``max_bond_limit``.

    ``circuit``: an OpenQASM 2 or 3 file path or text, or a qiskit ``QuantumCircuit``.
    Refused with one line: unreadable input, non-unitary content (mid-circuit
    measurement, reset, classical control), unbound parameters, and a state whose bond
    bound does not fit in memory (module docstring).

    >>> ghz = 'OPENQASM 3.0; include "stdgates.inc"; qubit[3] q; h q[0]; cx q[0], q[1]; cx q[1], q[2];'
    >>> mps, info = circuit_to_mps(ghz)
    >>> info["n_qubits"], info["max_bond"], info["truncation_error"] < 1e-12
    (3, 2, True)
    """
    if max_bond is not None and (isinstance(max_bond, bool) or not isinstance(max_bond, (int, np.integer))
                                 or max_bond < 1):
        raise CircuitError(f"max_bond must be a positive integer or None, got {max_bond!r}")
    if not (isinstance(cutoff, (int, float)) and 0 <= cutoff < 1):
        raise CircuitError(f"cutoff must be a number in [0, 1), got {cutoff!r}")
    c = _read(circuit)
    if c.n < 1:
        raise CircuitError("the circuit has no qubits")
    limit = None if max_bond is None else int(max_bond)
    chi_max = 2 ** int(_bond_exponents(c.n, c.gates, limit).max(initial=0))
    check_memory(estimate_circuit_mps(c.n, c.gates, limit), f"the MPS of this {c.n}-qubit circuit",
                 f"bond dimension up to {chi_max:,}: 2^min(cut, 2 × gates across it)")
    import quimb
    import quimb.tensor as qtn

    sim = qtn.CircuitMPS(c.n, max_bond=limit, cutoff=float(cutoff))
    for u, qubits in c.gates:
        sim.apply_gate_raw(u, qubits)
    mps = MPS.from_quimb(sim.psi).right_canonical()
    info = {"n_qubits": c.n, "depth": _depth(c.n, c.gates), "n_gates": len(c.gates), "bond_dims": mps.bond_dims,
            "max_bond": mps.max_bond, "truncation_error": max(0.0, float(sim.error_estimate())),
            "sha256": c.sha256, "file": c.file, "reader": c.reader,
            "simulator": f"quimb {quimb.__version__} CircuitMPS", "cutoff": float(cutoff), "max_bond_limit": limit}
    return mps, info


def circuit_target(circuit: Any, *, max_bond: int | None = None, cutoff: float = 1e-12) -> Target:
    """The output state of ``circuit`` as a :class:`~qgen.targets.Target` named
    ``"circuit"``, with ``params = {"file", "sha256"}`` and the MPS record of
    :func:`circuit_to_mps` as ``info``.

    >>> t = circuit_target('OPENQASM 2.0; include "qelib1.inc"; qreg q[2]; x q[0];')
    >>> t.describe(), t.params["sha256"][:12]
    ('circuit n=2 (MPS, max bond 1)', 'c7eb2e7f8762')
    """
    mps, info = circuit_to_mps(circuit, max_bond=max_bond, cutoff=cutoff)
    return Target(mps, "circuit", {"file": info["file"], "sha256": info["sha256"]}, None, info)
