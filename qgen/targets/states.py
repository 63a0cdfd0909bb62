"""Target states: matrix product states and dense vectors / density matrices.

Conventions (used everywhere in qgen):

* qubit 0 is the leftmost tensor factor, i.e. the most significant bit of a dense
  index, as in QuTiP's ``tensor``;  ``|0>`` is the +1 eigenvector of σz.
* An :class:`MPS` holds tensors ``A[i]`` of shape ``(chi_left, 2, chi_right)`` with
  ``chi_left[0] = chi_right[-1] = 1``:  ψ(s_0…s_{N-1}) = A[0][:, s_0, :] ⋯ A[N-1][:, s_{N-1}, :].
* Every state carries a local depolarizing strength ``noise = p``: the state meant is
  Λ_p^{⊗N}(ρ) with Λ_p(X) = (1 − p) X + p Tr(X) I/2 (Carrasquilla et al. 2019, noisy
  GHZ case); or, with one strength per qubit ``noise = (p_0, …, p_{N−1})``,
  Λ_{p_0} ⊗ … ⊗ Λ_{p_{N−1}}(ρ).  Since Λ_p is self-adjoint, Tr[O Λ_p^{⊗N}(ρ)] =
  Tr[Λ_p^{⊗N}(O) ρ]: all measurement code applies the channel to the local operators and
  contracts with the pure state, so noisy states cost nothing extra (see
  :func:`depolarize_ops`).

Example
-------
>>> from qgen.targets import ghz
>>> psi = ghz(3)
>>> np.round(psi.to_dense(), 3).tolist()
[0.707, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.707]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:  # a heavy import, loaded where used
    import quimb.tensor as qtn

__all__ = [
    "MPS", "DenseState", "State", "Noise", "check_noise", "depolarize", "depolarize_ops", "noise_text", "site_noise",
    "site_operators", "DENSE_MAX_QUBITS",
]

DENSE_MAX_QUBITS = 12
"""Largest N for which a density matrix is built as a dense 2^N × 2^N array (268 MB)."""




Noise = float | tuple[float, ...]


def check_noise(p: Noise, n: int | None = None) -> Noise:
    """A depolarizing strength in [0, 1], or one per qubit (n of them when n is given):
    a float, or a tuple of floats that are not all equal."""
    try:
        v = np.asarray(p, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"depolarizing strength must be a number in [0, 1] or one per qubit, got {p!r}") from None
    if v.ndim > 1 or (v.ndim == 1 and not len(v)) or not np.all(np.isfinite(v)) or np.any((v < 0) | (v > 1)):
        raise ValueError(f"depolarizing strength must lie in [0, 1] (a number, or one per qubit), got {p}")
    if v.ndim == 1 and n is not None and len(v) != n:
        raise ValueError(f"{len(v)} depolarizing strengths for {n} qubits")
    if v.ndim == 0 or np.all(v == v[0]):
        return float(v.ravel()[0])
    return tuple(float(x) for x in v)


def noise_text(p: Noise) -> str:
    """``0.1``, or the per-qubit strengths ``0,0,0.2,0``."""
    return f"{p:g}" if not isinstance(p, tuple) else ",".join(f"{x:g}" for x in p)


def site_noise(p: Noise, n: int) -> np.ndarray:
    """The depolarizing strength of each of n qubits, (n,)."""
    return np.broadcast_to(np.asarray(p, dtype=float), (n,))


def _numeric(a: ArrayLike, what: str) -> np.ndarray:
    """``a`` as a numeric array (bool, integer, float or complex), else a one-line ValueError."""
    try:
        a = np.asarray(a)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{what} is not an array of numbers ({str(e).splitlines()[0]})") from None
    if a.dtype.kind not in "biufc":
        raise ValueError(f"{what} has dtype {a.dtype}; expected numbers")
    return a




@dataclass(frozen=True, eq=False)
class MPS:
    """A pure state as a matrix product state (open boundaries), optionally depolarized.

    Parameters
    ----------
    tensors : sequence of arrays ``(chi_left, 2, chi_right)``.
    noise : local depolarizing strength p (0 for the pure state), or one per qubit.
    """

    tensors: tuple[np.ndarray, ...]
    noise: Noise = 0.0

    def __post_init__(self) -> None:
        ts = tuple(_numeric(t, f"MPS tensor {i}") for i, t in enumerate(self.tensors))
        if not ts:
            raise ValueError("an MPS needs at least one tensor")
        for i, t in enumerate(ts):
            if t.ndim != 3 or t.shape[1] != 2:
                raise ValueError(f"MPS tensor {i} has shape {t.shape}, expected (chi_l, 2, chi_r)")
            if i and t.shape[0] != ts[i - 1].shape[2]:
                raise ValueError(f"MPS bond {i - 1}-{i} mismatch: {ts[i - 1].shape} vs {t.shape}")
            if not np.all(np.isfinite(t)):
                raise ValueError(f"MPS tensor {i} contains NaN or infinite entries")
            if not np.any(t):
                raise ValueError(f"MPS tensor {i} is zero: the state has zero norm")
        if ts[0].shape[0] != 1 or ts[-1].shape[2] != 1:
            raise ValueError("the first/last MPS tensors must have outer bond dimension 1")
        object.__setattr__(self, "tensors", ts)
        object.__setattr__(self, "noise", check_noise(self.noise, len(ts)))

    # -- construction -------------------------------------------------------------
    @classmethod
    def from_arrays(cls, arrays: Sequence[np.ndarray], noise: float = 0.0) -> MPS:
        """Build from arrays ordered (left, physical, right); the two end tensors may
        drop their outer bond, i.e. be ``(2, chi)`` and ``(chi, 2)``."""
        arrays = [np.asarray(a) for a in arrays]
        if len(arrays) == 1 and arrays[0].ndim == 1:
            return cls((arrays[0].reshape(1, 2, 1),), noise)
        out = []
        for i, a in enumerate(arrays):
            if a.ndim == 2 and i == 0:
                a = a[None, :, :]
            elif a.ndim == 2 and i == len(arrays) - 1:
                a = a[:, :, None]
            out.append(a)
        return cls(tuple(out), noise)

    @classmethod
    def from_quimb(cls, mps: qtn.MatrixProductState, noise: float = 0.0) -> MPS:
        """Convert a ``quimb.tensor.MatrixProductState`` (open boundaries)."""
        n = mps.L
        out = []
        for i in range(n):
            t = mps[i]
            inds = ([mps.bond(i - 1, i)] if i > 0 else []) + [mps.site_ind(i)]
            inds += [mps.bond(i, i + 1)] if i < n - 1 else []
            a = np.asarray(t.transpose(*inds).data)
            if i == 0:
                a = a[None]
            if i == n - 1:
                a = a[..., None]
            out.append(a)
        return cls(tuple(out), noise)

    @classmethod
    def from_dense(cls, psi: np.ndarray, cutoff: float = 1e-14, noise: float = 0.0) -> MPS:
        """Exact MPS of a state vector by successive SVDs (left-canonical), dropping
        singular values below ``cutoff`` times the largest."""
        psi = np.asarray(psi)
        n = _n_qubits_of(psi.shape[0])
        tensors = []
        rest = psi.reshape(1, -1)
        for _ in range(n - 1):
            chi = rest.shape[0]
            u, s, vh = np.linalg.svd(rest.reshape(chi * 2, -1), full_matrices=False)
            keep = max(1, int(np.sum(s > cutoff * s[0])))
            tensors.append(u[:, :keep].reshape(chi, 2, keep))
            rest = s[:keep, None] * vh[:keep]
        tensors.append(rest.reshape(rest.shape[0], 2, 1))
        return cls(tuple(tensors), noise)

    def to_quimb(self) -> qtn.MatrixProductState:
        """Return a ``quimb.tensor.MatrixProductState`` of the pure part."""
        import quimb.tensor as qtn

        arrays = [t.transpose(0, 2, 1) for t in self.tensors]  # quimb's 'lrp'
        arrays[0] = arrays[0][0]
        arrays[-1] = arrays[-1][:, 0]
        if self.n_qubits == 1:
            return qtn.MatrixProductState([self.tensors[0][0, :, 0]], shape="p")
        return qtn.MatrixProductState(arrays, shape="lrp")

    # -- properties ---------------------------------------------------------------
    @property
    def n_qubits(self) -> int:
        return len(self.tensors)

    @property
    def bond_dims(self) -> list[int]:
        return [t.shape[2] for t in self.tensors[:-1]]

    @property
    def max_bond(self) -> int:
        return max(self.bond_dims, default=1)

    @property
    def is_real(self) -> bool:
        return all(np.isrealobj(t) or not np.any(t.imag) for t in self.tensors)

    @property
    def is_pure(self) -> bool:
        return not np.any(self.noise)

    def norm(self) -> float:
        """⟨ψ|ψ⟩^{1/2} by a left-to-right transfer-matrix sweep."""
        env = np.ones((1, 1))
        for a in self.tensors:  # E'[c, d] = Σ_{a,s,b} conj(A)[a,s,c] E[a,b] A[b,s,d]
            env = np.tensordot(a.conj(), np.tensordot(env, a, axes=(1, 0)), axes=((0, 1), (0, 1)))
        return float(np.sqrt(abs(env[0, 0])))

    def right_canonical(self) -> MPS:
        """Normalised copy with Σ_s A^s A^s† = 1 on every site but the first (LQ sweep
        from the right), so right environments are identities."""
        ts = list(self.tensors)
        for i in range(len(ts) - 1, 0, -1):
            chi_l, _, chi_r = ts[i].shape
            q, r = np.linalg.qr(ts[i].reshape(chi_l, 2 * chi_r).T)  # A = r^T q^T
            k = q.shape[1]
            ts[i] = q.T.reshape(k, 2, chi_r)
            ts[i - 1] = np.tensordot(ts[i - 1], r.T, axes=(2, 0))
        nrm = np.linalg.norm(ts[0])
        if nrm == 0:
            raise ValueError("the MPS has zero norm")
        ts[0] = ts[0] / nrm
        return MPS(tuple(ts), self.noise)

    def to_dense(self) -> np.ndarray:
        """State vector of the pure part (N ≤ 24), qubit 0 most significant."""
        if self.n_qubits > 24:
            raise ValueError(f"refusing to build a dense vector of {self.n_qubits} qubits")
        psi = self.tensors[0][0]
        for a in self.tensors[1:]:
            psi = np.tensordot(psi, a, axes=(-1, 0)).reshape(-1, a.shape[2])
        return psi[:, 0]

    def with_noise(self, p: Noise) -> MPS:
        return replace(self, noise=p)


@dataclass(frozen=True, eq=False)
class DenseState:
    """A state vector ``(2**N,)`` or density matrix ``(2**N, 2**N)``, optionally
    depolarized (one strength, or one per qubit); qubit 0 is the most significant bit."""

    data: np.ndarray
    noise: Noise = 0.0

    def __post_init__(self) -> None:
        d = _numeric(self.data, "dense state")
        if d.ndim not in (1, 2) or (d.ndim == 2 and d.shape[0] != d.shape[1]):
            raise ValueError(f"dense state must be a vector or square matrix, got shape {d.shape}")
        _n_qubits_of(d.shape[0])
        if not np.all(np.isfinite(d)):
            raise ValueError("dense state contains NaN or infinite entries")
        if d.ndim == 1 and not np.any(d):
            raise ValueError("dense state vector is zero")
        if d.ndim == 2:
            _check_density_matrix(d)
        object.__setattr__(self, "data", d)
        object.__setattr__(self, "noise", check_noise(self.noise, _n_qubits_of(d.shape[0])))

    @property
    def n_qubits(self) -> int:
        return _n_qubits_of(self.data.shape[0])

    @property
    def is_pure(self) -> bool:
        return self.data.ndim == 1 and not np.any(self.noise)

    def to_dense(self) -> np.ndarray:
        """State vector of the pure part, as :meth:`MPS.to_dense`; a density-matrix state has none."""
        if self.data.ndim == 2:
            raise ValueError("a density-matrix state has no state vector")
        return self.data

    def density_matrix(self) -> np.ndarray:
        """ρ with the depolarizing channel applied (N ≤ :data:`DENSE_MAX_QUBITS`)."""
        if self.n_qubits > DENSE_MAX_QUBITS:
            raise ValueError(f"refusing to build a {self.n_qubits}-qubit density matrix")
        d = self.data
        rho = np.outer(d, d.conj()) if d.ndim == 1 else d.astype(complex)
        rho = rho / np.trace(rho).real
        n = self.n_qubits
        for q, p in enumerate(site_noise(self.noise, n)):
            if p:
                t = rho.reshape(2**q, 2, 2 ** (n - q - 1), 2**q, 2, 2 ** (n - q - 1))
                traced = np.einsum("aibcid->abcd", t)
                eye = np.eye(2)[None, :, None, None, :, None]
                t = (1 - p) * t + p / 2 * traced[:, None, :, :, None, :] * eye
                rho = t.reshape(2**n, 2**n)
        return rho

    def to_mps(self, cutoff: float = 1e-14) -> MPS:
        if self.data.ndim != 1:
            raise ValueError("only a state vector has an MPS form")
        return MPS.from_dense(self.data / np.linalg.norm(self.data), cutoff, self.noise)

    def with_noise(self, p: Noise) -> DenseState:
        return replace(self, noise=p)


State = MPS | DenseState


def _check_density_matrix(d: np.ndarray) -> None:
    """Hermitian, positive trace, positive semidefinite up to 1e-10·Tr ρ (a Cholesky
    factorisation of ρ + 1e-10·Tr(ρ)·I exists exactly then)."""
    if not np.allclose(d, d.conj().T, atol=1e-10):
        raise ValueError("density matrix is not Hermitian")
    tr = float(np.trace(d).real)
    if not tr > 0:
        raise ValueError(f"density matrix has trace {tr:g}; expected a positive trace")
    try:
        np.linalg.cholesky((d + d.conj().T) / 2 + 1e-10 * tr * np.eye(len(d)))
    except np.linalg.LinAlgError:
        low = float(np.linalg.eigvalsh((d + d.conj().T) / 2)[0]) / tr
        raise ValueError(f"density matrix is not positive semidefinite (eigenvalue {low:.3g} × its trace)") from None


def _n_qubits_of(dim: int) -> int:
    n = int(dim).bit_length() - 1
    if dim < 2 or 2**n != dim:
        raise ValueError(f"dimension {dim} is not a power of two ≥ 2")
    return n


def depolarize(state: State, p: Noise) -> State:
    """Apply local depolarizing noise of strength p to every qubit (p a number), or p_i to
    qubit i (p a sequence of N numbers).

    Channels compose: Λ_q ∘ Λ_p = Λ_{1-(1-p)(1-q)}.

    >>> from qgen.targets import ghz
    >>> depolarize(depolarize(ghz(3), 0.1), [0.0, 0.5, 0.0]).noise
    (0.1, 0.55, 0.1)
    """
    n = state.n_qubits
    p = check_noise(p, n)
    both = 1.0 - (1.0 - site_noise(state.noise, n)) * (1.0 - site_noise(p, n))
    return state.with_noise(check_noise(np.round(both, 15), n))


def depolarize_ops(ops: np.ndarray, p: Noise) -> np.ndarray:
    """Λ_p applied to single-qubit operators: (1−p) O + p Tr(O) I/2.  ``ops`` is (…, 2, 2)
    for one strength p; with one strength per qubit, ``ops`` is (K, 2, 2) (the same on
    every qubit) or (N, K, 2, 2) and the result (N, K, 2, 2): qubit i's operators under Λ_{p_i}.

    >>> from qgen.targets import PAULI
    >>> depolarize_ops(PAULI[3], 0.5).real.tolist()
    [[0.5, 0.0], [0.0, -0.5]]
    """
    ops = np.asarray(ops)
    if isinstance(p, tuple):
        ops = np.broadcast_to(ops, (len(p), *ops.shape[-3:]))
        p = np.asarray(p)[:, None, None, None]
    elif p == 0:
        return ops
    tr = np.trace(ops, axis1=-2, axis2=-1)[..., None, None]
    return (1 - p) * ops + p * tr * np.eye(2) / 2


def site_operators(ops: np.ndarray, noise: Noise, n: int) -> np.ndarray:
    """The operators every qubit of an n-qubit state with depolarizing ``noise`` is
    measured with: ``ops`` (K, 2, 2) or (N, K, 2, 2) under the noise channel.  (K, 2, 2)
    when both are the same on every qubit, else (N, K, 2, 2)."""
    ops = np.asarray(ops)
    if ops.ndim == 4 and len(ops) != n:
        raise ValueError(f"operators for {len(ops)} qubits, but the state has {n}")
    return depolarize_ops(ops, noise)
