"""From measured bits to POVM outcomes, and the readout errors between them.

Pauli measurements.  Qubit i is rotated into basis B_i ∈ {Z, X, Y} and read out in Z,
giving bit b_i (0 for eigenvalue +1 of σ_B).  With B_i drawn uniformly, the pair
(B_i, b_i) is the outcome of the Pauli-6 element ⅓·(I + (−1)^b σ_B)/2, whose index in
:func:`qgen.measurements.povm.pauli6` is looked up from the elements (it is 2·basis + bit, basis
Z = 0, X = 1, Y = 2: the basis codes used throughout, :data:`BASES`).  Pauli-4 is an
exact coarse-graining of Pauli-6: its elements are ⅓|0⟩⟨0| = M6(Z,+), ⅓|+⟩⟨+| = M6(X,+),
⅓|+i⟩⟨+i| = M6(Y,+) and I − those = M6(Z,−) + M6(X,−) + M6(Y,−), so a Pauli-6 outcome
maps to one Pauli-4 outcome and P4(k) = Σ_{a→k} P6(a) (:func:`coarse_grain_map`).

Readout errors.  Qubit i's readout reports bit o when the measured eigenstate was p with
probability C^{(i)}[o, p] (a 2×2 confusion matrix, columns summing to 1).  The data then
follow the effective POVM M'^{(i)}_{(B,o)} = Σ_p C^{(i)}_{op} M_{(B,p)}: the readout
flips the bit within a basis, C acts block-diagonally over the three bases (Pauli-6),
and the Pauli-4 elements are the coarse-grained sums of those
(:func:`readout_povm`; the classical noise model of Maciejewski, Zimborás & Oszmaniec,
Quantum 4, 257 (2020)).  C comes from calibration circuits (:func:`confusions_from_calibration`),
from a backend's reported rates (:func:`confusions_from_backend`) or from the user
(:func:`confusion_matrices`).

Example
-------
>>> pauli_outcomes(np.array([[0, 1, 2]]), np.array([[1, 0, 1]])).tolist()   # Z−, X+, Y−
[[1, 2, 5]]
>>> pauli_outcomes(np.array([[0, 1, 2]]), np.array([[1, 0, 1]]), "pauli4").tolist()
[[3, 1, 3]]
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from qgen.measurements.povm import POVM, POVMError, get_povm, pauli6
from qgen.targets.hamiltonians import PAULI

__all__ = ["BASES", "pauli_outcomes", "coarse_grain_map", "confusion_matrices", "confusions_from_calibration",
           "confusions_from_backend", "readout_povm"]

BASES = "ZXY"
"""Letters of the basis codes 0, 1, 2 (the order of :func:`qgen.measurements.povm.pauli6`)."""

_PAULI_INDEX = np.array([3, 1, 2])  # basis code → index into qgen.targets.hamiltonians.PAULI (Z = 3, X = 1, Y = 2)


def pauli_outcome_table(povm: POVM) -> np.ndarray:
    """table[k, b] = the outcome a with M^a = ⅓·(I + (−1)^b σ_k)/2, for Pauli k = 1, 2, 3
    (X, Y, Z): the projector on the eigenvalue-(−1)^b eigenvector of σ_k, weighted by the
    probability ⅓ of choosing that basis."""
    table = np.zeros((4, 2), dtype=np.uint8)
    for k in (1, 2, 3):
        for bit in (0, 1):
            m = (PAULI[0] + (-1) ** bit * PAULI[k]) / 6
            hits = np.flatnonzero(np.all(np.abs(povm.elements - m) < 1e-9, axis=(1, 2)))
            if hits.size != 1:
                raise POVMError(f"POVM '{povm.name}' is not the Pauli-6 POVM of uniformly random X/Y/Z "
                                "measurements")
            table[k, bit] = hits[0]
    return table



def _povm(povm: POVM | str) -> POVM:
    return get_povm(povm) if isinstance(povm, str) else povm


def coarse_grain_map(fine: POVM | str = "pauli6", coarse: POVM | str = "pauli4") -> np.ndarray:
    """``g[a]`` = the coarse outcome that fine outcome a belongs to, such that every
    coarse element is the sum of its fine elements: M_coarse^k = Σ_{a: g[a]=k} M_fine^a.
    Found from the elements (fine a joins the one k with M^k − M^a ⪰ 0) and checked.

    >>> coarse_grain_map().tolist()
    [0, 3, 1, 3, 2, 3]
    """
    fine, coarse = _povm(fine), _povm(coarse)
    g = np.empty(fine.n_outcomes, dtype=np.uint8)
    for a, m in enumerate(fine.elements):
        fits = np.flatnonzero(np.linalg.eigvalsh(coarse.elements - m).min(axis=1) > -1e-9)
        if fits.size != 1:
            raise ValueError(f"POVM '{fine.name}' outcome {a} does not belong to exactly one '{coarse.name}' outcome")
        g[a] = fits[0]
    sums = np.einsum("ak,aij->kij", np.eye(coarse.n_outcomes)[g], fine.elements)
    if not np.allclose(sums, coarse.elements, atol=1e-9):
        raise ValueError(f"POVM '{coarse.name}' is not a coarse-graining of '{fine.name}'")
    return g


def pauli_outcomes(bases: np.ndarray, bits: np.ndarray, povm: POVM | str = "pauli6") -> np.ndarray:
    """POVM outcomes ``uint8 (S, N)`` of Pauli measurements: ``bases`` (S, N) codes
    0, 1, 2 = Z, X, Y; ``bits`` (S, N) 0/1 (0 = eigenvalue +1); ``povm`` ``pauli6`` or
    ``pauli4`` (coarse-grained, :func:`coarse_grain_map`)."""
    bases, bits = np.asarray(bases), np.asarray(bits)
    if bases.shape != bits.shape or bases.ndim != 2:
        raise ValueError(f"bases and bits must be two (shots, qubits) arrays of one shape, got {bases.shape} and "
                         f"{bits.shape}")
    if bases.size and (bases.min() < 0 or bases.max() > 2 or bits.min() < 0 or bits.max() > 1):
        raise ValueError("basis codes must be 0, 1, 2 (Z, X, Y) and bits 0 or 1")
    povm = _povm(povm)
    six = pauli_outcome_table(pauli6())[_PAULI_INDEX[bases], bits]
    if povm.name == "pauli6":
        return six
    if povm.name != "pauli4":
        raise ValueError(f"Pauli measurements give pauli6 or pauli4 outcomes, not '{povm.name}'")
    return coarse_grain_map(pauli6(), povm)[six]


def _check_confusions(c: ArrayLike, n_qubits: int | None = None) -> np.ndarray:
    try:
        c = np.asarray(c, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("confusion matrices must be an array of numbers (N, 2, 2)") from None
    if c.ndim != 3 or c.shape[1:] != (2, 2) or (n_qubits is not None and c.shape[0] != n_qubits):
        want = f"({n_qubits}, 2, 2)" if n_qubits is not None else "(N, 2, 2)"
        raise ValueError(f"confusion matrices must have shape {want}, got {c.shape}")
    if not np.all(np.isfinite(c)) or c.min() < 0 or c.max() > 1:
        raise ValueError("confusion matrix entries must be probabilities in [0, 1]")
    if not np.allclose(c.sum(axis=1), 1, atol=1e-9):
        q = int(np.argmax(np.abs(c.sum(axis=1) - 1).max(axis=1)))
        raise ValueError(f"confusion matrix of qubit {q}: columns C[:, prepared] must sum to 1")
    return c


def confusion_matrices(p1_given0: ArrayLike, p0_given1: ArrayLike) -> np.ndarray:
    """C (N, 2, 2) with C[i] = [[1 − p₁|₀, p₀|₁], [p₁|₀, 1 − p₀|₁]] from the per-qubit
    rates of reading 1 after preparing 0 and 0 after preparing 1.

    >>> confusion_matrices([0.02], [0.05]).tolist()
    [[[0.98, 0.05], [0.02, 0.95]]]
    """
    p10, p01 = np.atleast_1d(np.asarray(p1_given0, float)), np.atleast_1d(np.asarray(p0_given1, float))
    if p10.shape != p01.shape or p10.ndim != 1:
        raise ValueError(f"give one rate per qubit for both errors, got shapes {p10.shape} and {p01.shape}")
    return _check_confusions(np.stack([np.stack([1 - p10, p01], -1), np.stack([p10, 1 - p01], -1)], 1))


def confusions_from_calibration(bits0: np.ndarray, bits1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Confusion matrices and their binomial standard errors from calibration shots:
    ``bits0`` (S₀, N) read after preparing |0…0⟩, ``bits1`` (S₁, N) after |1…1⟩;
    p₁|₀ = mean of bits0, p₀|₁ = 1 − mean of bits1, stderr √(p(1−p)/S).

    >>> c, err = confusions_from_calibration(np.array([[0], [0], [0], [1]]), np.array([[1], [1]]))
    >>> c[0].tolist(), round(float(err[0, 1, 0]), 4)
    ([[0.75, 0.0], [0.25, 1.0]], 0.2165)
    """
    b0, b1 = np.asarray(bits0), np.asarray(bits1)
    if b0.ndim != 2 or b1.ndim != 2 or b0.shape[1] != b1.shape[1] or not len(b0) or not len(b1):
        raise ValueError(f"calibration bits must be two non-empty (shots, N) arrays, got {b0.shape} and {b1.shape}")
    p10, p01 = b0.mean(axis=0), 1 - b1.mean(axis=0)
    c = confusion_matrices(p10, p01)
    e10, e01 = np.sqrt(p10 * (1 - p10) / len(b0)), np.sqrt(p01 * (1 - p01) / len(b1))
    return c, np.stack([np.stack([e10, e01], -1), np.stack([e10, e01], -1)], 1)


def confusions_from_backend(backend: Any, qubits: Iterable[int], *,  # backend: a qiskit Backend
                            source: str = "properties") -> tuple[np.ndarray, str]:
    """Confusion matrices of the physical ``qubits`` of a Qiskit backend, from its
    reported calibration: ``source="properties"`` reads ``prob_meas1_prep0`` and
    ``prob_meas0_prep1`` of ``backend.properties()`` (IBM devices and their fake
    snapshots; the asymmetric rates measured on the device), ``"target"`` the
    ``target["measure"][(q,)]`` record (its ``prob_meas…`` attributes if present, else
    the symmetric ``error``: what qiskit-aer's ``NoiseModel.from_backend`` applies).
    Returns ``(C, how)``."""
    qubits = [int(q) for q in qubits]
    if source == "properties":
        props = backend.properties() if callable(getattr(backend, "properties", None)) else None
        try:
            p10 = [props.qubit_property(q, "prob_meas1_prep0")[0] for q in qubits]
            p01 = [props.qubit_property(q, "prob_meas0_prep1")[0] for q in qubits]
        except (AttributeError, KeyError, TypeError, IndexError):
            raise ValueError(f"backend '{getattr(backend, 'name', backend)}' reports no prob_meas1_prep0 / "
                             "prob_meas0_prep1 properties") from None
        return confusion_matrices(p10, p01), "backend properties prob_meas1_prep0, prob_meas0_prep1"
    if source != "target":
        raise ValueError(f"source must be 'properties' or 'target', got {source!r}")
    try:
        props = [backend.target["measure"][(q,)] for q in qubits]
    except (AttributeError, KeyError, TypeError):
        props = [None]
    if any(p is None or getattr(p, "error", None) is None for p in props):
        raise ValueError(f"backend '{getattr(backend, 'name', backend)}' reports no measure error for qubits {qubits}")
    p10 = [getattr(p, "prob_meas1_prep0", p.error) for p in props]
    p01 = [getattr(p, "prob_meas0_prep1", p.error) for p in props]
    return confusion_matrices(p10, p01), "backend target measure error"


def readout_povm(povm: POVM | str, confusions: ArrayLike) -> np.ndarray:
    """Per-qubit effective POVM elements ``(N, K, 2, 2)`` under readout errors
    ``confusions`` (N, 2, 2): M'^{(i)}_{(B,o)} = Σ_p C^{(i)}_{op} M_{(B,p)} for Pauli-6,
    their coarse-grained sums for Pauli-4 (module docstring).  Each qubit's elements are
    positive and sum to I.

    >>> m = readout_povm("pauli6", confusion_matrices([0.1], [0.0]))
    >>> np.round(m[0, 0].real, 3).tolist()   # reads Z+ : ⅓(0.9|0⟩⟨0| + 0·|1⟩⟨1|)
    [[0.3, 0.0], [0.0, 0.0]]
    """
    povm = _povm(povm)
    if povm.name not in ("pauli6", "pauli4"):
        raise ValueError(f"readout errors are modelled for Pauli measurements (pauli6, pauli4), not '{povm.name}'")
    c = _check_confusions(confusions)
    six = pauli6()
    idx = pauli_outcome_table(six)[_PAULI_INDEX]  # (basis code, bit) → Pauli-6 outcome
    noisy = np.einsum("iop,bpxy->iboxy", c, six.elements[idx])  # (N, basis, observed bit, 2, 2)
    out = np.empty((len(c), 6, 2, 2), dtype=complex)
    out[:, idx.ravel()] = noisy.reshape(len(c), 6, 2, 2)
    if povm.name == "pauli6":
        return out
    return np.einsum("iaxy,ak->ikxy", out, np.eye(povm.n_outcomes)[coarse_grain_map(six, povm)])
