"""Exact expectation values of product operators, batched: the engine behind exact
log P(a), quantum fidelities and exact observables.

For a batch of strings ``idx[b] = (o_1 … o_N)`` into a table of single-qubit operators
``ops[k]`` (or one table per qubit, ``ops[i, k]``), :func:`expect_products` returns

    e_b = Tr[(ops[o_1] ⊗ … ⊗ ops[o_N]) ρ]      (or Tr[(ops[0, o_1] ⊗ … ⊗ ops[N−1, o_N]) ρ])

for any qgen state (pure MPS, dense vector or density matrix, each optionally
depolarized — the noise channel is applied to the operators, see
:func:`qgen.targets.states.depolarize_ops`).  With ``ops`` a POVM's elements this is P(a); with
its duals it is the dual-frame fidelity estimator; with Pauli matrices, ⟨σ string⟩.

MPS algorithm: a left-to-right sweep carrying, per string, the χ×χ environment
E[l, l'] (bra, ket).  Each site is two large real-or-complex GEMMs shared by the whole
batch (the batch is the trailing, contiguous axis; the contracted bond the leading one)
and one elementwise 2×2 operator application; when the MPS is real, complex
environments are multiplied as interleaved real arrays, halving the flops.  Cost per
string ≈ 8 χ³ real multiply-adds per site.  The sweep alternates which bond (bra or
ket) it contracts first, so the environment is never transposed.

Example
-------
>>> from qgen.targets import ghz
>>> from qgen.targets import PAULI
>>> zz = np.array([[3, 3, 0]])          # σz ⊗ σz ⊗ I
>>> expect_products(ghz(3), PAULI, zz).real
array([1.])
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np

from qgen._chunks import chunked_map
from qgen.targets.states import MPS, DenseState, State, site_operators

if TYPE_CHECKING:
    import torch

__all__ = ["expect_products", "operator_table", "DENSE_TABLE_MAX"]

DENSE_TABLE_MAX = 2**24
"""Largest number of entries K^N of a dense operator table (≈ 270 MB of float64)."""


def _gemm_leading(a: np.ndarray, x: np.ndarray) -> np.ndarray:
    """a (m, k) @ x, x complex with leading axes of total size k, result (m, rest…);
    a real ``a`` multiplies the interleaved real view of x (one real GEMM, not complex)."""
    k = a.shape[1]
    x = np.ascontiguousarray(x).reshape(k, -1)
    if np.isrealobj(a):
        return (a @ x.view(np.float64)).view(np.complex128)
    return a @ x


@numba.njit(nogil=True, cache=True)
def _apply_site_op(t: np.ndarray, op: np.ndarray, u: np.ndarray) -> None:  # pragma: no cover (jit)
    """u[l, τ, r, b] = Σ_s op[s, τ, b] t[s, r, l, b]: the per-string 2×2 operator, fused
    with the transpose the next GEMM needs (9× faster than the numpy expression)."""
    _, r1, l2, nb = t.shape
    for left in range(l2):
        for tau in range(2):
            for r in range(r1):
                for k in range(nb):
                    u[left, tau, r, k] = op[0, tau, k] * t[0, r, left, k] + op[1, tau, k] * t[1, r, left, k]


def _mps_site(env: np.ndarray, a_first: np.ndarray, a_second: np.ndarray, op: np.ndarray) -> np.ndarray:
    """One site of the sweep.

    env (l1, l2, B): contract l1 with ``a_first`` (l1, s, r1), apply op[s, t, B] over s,
    contract (l2, t) with ``a_second`` (l2, t, r2); returns (r2, r1, B).
    """
    l1, _, r1 = a_first.shape
    l2, _, r2 = a_second.shape
    b = env.shape[-1]
    # T[s, r1, l2, B] = Σ_l1 a_first[l1, s, r1] env[l1, l2, B]
    t = _gemm_leading(a_first.reshape(l1, 2 * r1).T, env).reshape(2, r1, l2, b)
    # U[t, r1, l2, B] = Σ_s op[s, t, B] T[s, r1, l2, B]
    u = np.empty((l2, 2, r1, b), dtype=np.complex128)  # stored (l2, t, r1, B) for the GEMM
    _apply_site_op(t, np.ascontiguousarray(op), u)
    # E'[r2, r1, B] = Σ_{l2, t} a_second[l2, t, r2] U[l2, t, r1, B]
    return _gemm_leading(a_second.reshape(l2 * 2, r2).T, u).reshape(r2, r1, b)


def _per_string(ops: np.ndarray, idx: np.ndarray):
    """(N, B, 2, 2): the operator of string b on qubit i, from one table or one per qubit."""
    return ops[idx.T] if ops.ndim == 3 else ops[np.arange(len(ops))[:, None], idx.T]


def _mps_expect(mps: MPS, ops: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Unnormalised ⟨ψ|⊗ ops[idx[b]]|ψ⟩ for every row b."""
    tensors = mps.tensors
    opsb = _per_string(ops, idx)  # (N, B, 2, 2): opsb[i, b] = ops[idx[b, i]]
    env = np.ones((1, 1, idx.shape[0]), dtype=np.complex128)
    bra_first = True
    for i, a in enumerate(tensors):
        o = opsb[i].transpose(1, 2, 0)  # (s, t, B) = ⟨s|O|t⟩
        if bra_first:  # env is (bra, ket): Σ conj(A)[l,s,r] O[s,t] A[l',t,r']
            env = _mps_site(env, a.conj(), a, o)
        else:  # env is (ket, bra): Σ A[l',t,r'] O^T[t,s] conj(A)[l,s,r]
            env = _mps_site(env, a, a.conj(), o.transpose(1, 0, 2))
        bra_first = not bra_first
    return env[0, 0]


def _mps_expect_torch(mps: MPS, ops: np.ndarray, idx: np.ndarray, device: str | torch.device) -> np.ndarray:
    """:func:`_mps_expect` in torch on ``device`` (a GPU): the same sweep, complex128,
    with the environment carried as (bra, ket, B) and the per-string 2×2 operator applied
    as a broadcast product."""
    import torch

    opsb = torch.as_tensor(_per_string(ops, idx), device=device)  # (N, B, 2, 2)
    b = idx.shape[0]
    env = torch.ones((1, 1, b), dtype=torch.complex128, device=device)
    for a_np, o in zip(mps.tensors, opsb):
        a = torch.as_tensor(a_np, dtype=torch.complex128, device=device)
        l1, _, r1 = a.shape
        l2 = env.shape[1]
        # T[s, r1, l2, B] = Σ_l1 conj(A)[l1, s, r1] E[l1, l2, B]
        t = (a.conj().reshape(l1, 2 * r1).T @ env.reshape(l1, -1)).reshape(2, r1, l2, b)
        # U[l2, τ, r1, B] = Σ_s O_B[s, τ] T[s, r1, l2, B]
        u = (o.permute(1, 2, 0)[:, :, None, None, :] * t[:, None]).sum(0).permute(2, 0, 1, 3)
        # E'[r1, r2, B] = Σ_{l2, τ} A[l2, τ, r2] U[l2, τ, r1, B]
        env = (a.reshape(l2 * 2, -1).T @ u.reshape(l2 * 2, -1)).reshape(-1, r1, b).transpose(0, 1)
    return env[0, 0].cpu().numpy()


def operator_table(state: DenseState | MPS, ops: np.ndarray) -> np.ndarray:
    """Dense table T[o_1, …, o_N] = Tr[(ops[o_1] ⊗ … ⊗ ops[o_N]) ρ] of all K^N strings
    (small N only: K^N ≤ ``DENSE_TABLE_MAX``); ``ops`` (K, 2, 2) or one table per qubit
    (N, K, 2, 2).  Independent of the MPS sweep: it contracts the density matrix one qubit
    at a time.
    """
    n = state.n_qubits
    ops = site_operators(np.asarray(ops, dtype=complex), state.noise, n)
    k = ops.shape[-3]
    if k**n > DENSE_TABLE_MAX:
        raise ValueError(f"a table of {k}^{n} entries is too large (limit {DENSE_TABLE_MAX:.0e})")
    if isinstance(state, MPS):
        state = DenseState(state.to_dense())
    d = state.data
    rho = np.outer(d, d.conj()) if d.ndim == 1 else d.astype(complex)
    rho = rho / np.trace(rho).real
    # t[(done outcomes), s_i, …, s_N, s'_i, …, s'_N]; contract qubit i's (s_i, s'_i) with O[s'_i, s_i]
    t = rho.reshape(1, 2 ** n, 2 ** n)
    for i in range(n):
        rest = 2 ** (n - i - 1)
        t = t.reshape(t.shape[0], 2, rest, 2, rest)
        t = np.einsum("xsaub,kus->xkab", t, ops[i] if ops.ndim == 4 else ops, optimize=True).reshape(-1, rest, rest)
    return t.reshape((k,) * n)


def expect_products(
    state: State,
    ops: np.ndarray,
    idx: np.ndarray,
    chunk_size: int | None = None,
    workers: int | None = None,
    progress: bool = False,
    device: str | torch.device | None = None,
) -> np.ndarray:
    """Tr[(ops[idx[b,0]] ⊗ … ⊗ ops[idx[b,N-1]]) ρ] for every row b of ``idx``.

    Parameters
    ----------
    state : MPS or DenseState (noise included).
    ops : (K, 2, 2) single-qubit operators, or (N, K, 2, 2): one table per qubit.
    idx : (B, N) integer array of indices into ``ops``.
    chunk_size : strings contracted together; bounds the memory (≈ 80 χ² bytes per string
        and worker).  Default 256 (small chunks keep the environments in cache); with a
        ``device``, 2²² / χ² (≈ 256 MB of intermediates per chunk).
    workers : threads (default: all cores).
    progress : show a progress bar.
    device : a torch device (``"cuda"``) to run the MPS sweep on with torch, one chunk at
        a time; None (default) runs it on the CPU with numpy and numba, which is much
        faster there than torch on the CPU.

    Returns
    -------
    complex array (B,); real up to rounding when the operators are Hermitian.
    """
    ops = np.asarray(ops, dtype=np.complex128)
    idx = np.asarray(idx)
    if idx.ndim != 2 or idx.shape[1] != state.n_qubits:
        raise ValueError(f"strings must have shape (B, {state.n_qubits}), got {idx.shape}")
    if idx.size and (idx.min() < 0 or idx.max() >= ops.shape[-3]):
        raise ValueError(f"string entries must lie in [0, {ops.shape[-3] - 1}]")
    if isinstance(state, DenseState):
        table_size = ops.shape[-3] ** state.n_qubits
        # the full table pays off when it is not much larger than the batch (mixed states need it)
        if table_size <= DENSE_TABLE_MAX and (state.data.ndim == 2 or table_size <= 64 * max(len(idx), 1024)):
            table = operator_table(state, ops)
            return table[tuple(idx.T)] if idx.size else np.zeros(0, complex)
        if state.data.ndim != 1:
            raise ValueError(f"a {state.n_qubits}-qubit density matrix is too large to measure")
        state = state.to_mps()
    ops = site_operators(ops, state.noise, state.n_qubits)
    if device is None:
        parts = chunked_map(lambda a, b: _mps_expect(state, ops, idx[a:b]), idx.shape[0], chunk_size or 256,
                            workers, progress, "exact log P")
    else:
        parts = chunked_map(lambda a, b: _mps_expect_torch(state, ops, idx[a:b], device), idx.shape[0],
                            chunk_size or max(256, 2**22 // state.max_bond**2), 1, progress, "exact log P")
    out = np.concatenate(parts) if parts else np.zeros(0, complex)
    return out / state.norm() ** 2
