"""Contraction kernels of the tensor-network Born machine (:mod:`qgen.models.tensornet`).

The state is a locally purified density operator (LPDO; Werner et al., PRL 116, 237201
(2016)): site tensors ``A[i]`` of shape (χ_l, μ, 2, χ_r) — left bond, Kraus index κ,
physical index s, right bond — define the MPO X (rows s, columns κ) and ρ = X X†, so that

    Tr[(O_1 ⊗ … ⊗ O_N) ρ] = Σ_{κ, s, t} Π_i conj(A[i])[l'_i, κ_i, t_i, r'_i] O_i[t_i, s_i] A[i][l_i, κ_i, s_i, r_i],

with open boundaries (χ_l = 1 on site 0, χ_r = 1 on site N−1).  μ = 1 is a pure MPS.
Every kernel sweeps the chain left to right carrying an environment E[b, l', l]
(bra bond first, ket bond second) for a batch of operator strings, divides it after
each site by its largest entry (constant along the sweep, so gradients of ln|value| are
unchanged) and accumulates the logarithm of that scale: values of size e^{−200} at
N = 100 stay representable.  One site is two GEMMs shared by the batch,

    F[b, l', κ, s, r] = Σ_l E[b, l', l] A[l, κ, s, r],
    E'[b, r', r] = Σ_{l', κ, t} conj(A)[l', κ, t, r'] Σ_s O_b[t, s] F[b, l', κ, s, r],

≈ 4μχ³ complex multiply-adds per string and site.  The tensors may be any complex dtype;
the kernels take torch tensors and are differentiable.

Example
-------
>>> a = torch.tensor([[[[1.0], [0.0]]]], dtype=torch.complex128)   # |0⟩ on one site
>>> z = torch.tensor([[[1.0, 0.0], [0.0, -1.0]]], dtype=torch.complex128)
>>> value, log_scale = sweep([a], z[None], torch.zeros((1, 1), dtype=torch.long))
>>> (value * log_scale.exp()).real.tolist()     # ⟨0|σz|0⟩
[1.0]
"""

from __future__ import annotations

import math
from typing import Sequence

import torch

__all__ = ["transfer", "sweep", "right_environments", "conditional_site", "overlap_sweep", "purity_sweep",
           "open_sweep"]

_TINY = 1e-300


def _rescale(env: torch.Tensor, log_scale: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Divide each environment of the batch (leading axis) by its largest |entry|, detached,
    and add the logarithm of that factor to ``log_scale``."""
    scale = env.detach().abs().flatten(1).amax(1).clamp_min(torch.finfo(env.real.dtype).tiny)
    return env / scale.view(-1, *[1] * (env.ndim - 1)), log_scale + scale.log()


def _ket(env: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """F[b, l', κ, s, r] = Σ_l E[b, l', l] A[l, κ, s, r]."""
    b, cl = env.shape[0], a.shape[0]
    return (env.reshape(b * cl, cl) @ a.reshape(cl, -1)).reshape(b, cl, *a.shape[1:])


def _bra(f: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """E'[b, r', r] = Σ_{l', κ, t} conj(A)[l', κ, t, r'] F[b, l', κ, t, r]."""
    cr = a.shape[-1]
    return a.conj().reshape(-1, cr).T @ f.reshape(f.shape[0], -1, cr)


def _apply(ops: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
    """G[b, l', κ, t, r] = Σ_s O_b[t, s] F[b, l', κ, s, r] for ops (B, 2, 2) or (2, 2)."""
    o = ops.reshape(-1, 2, 2)
    s0, s1 = f[:, :, :, 0], f[:, :, :, 1]
    view = (-1, 1, 1, 1)
    return torch.stack([o[:, 0, 0].view(view) * s0 + o[:, 0, 1].view(view) * s1,
                        o[:, 1, 0].view(view) * s0 + o[:, 1, 1].view(view) * s1], dim=3)


def transfer(env: torch.Tensor, a: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
    """One site: E'[b, r', r] = Σ conj(A)[l', κ, t, r'] O_b[t, s] A[l, κ, s, r] E[b, l', l]."""
    return _bra(_apply(ops, _ket(env, a)), a)


def sweep(tensors: Sequence[torch.Tensor], table: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Tr[(table[i, idx[b, i]] ⊗ …) ρ] for a batch of strings, as (value (B,), log_scale (B,)):
    the trace is ``value · exp(log_scale)``.  ``table`` holds the single-site operators,
    (N, K, 2, 2) per site or (1, K, 2, 2) shared; ``idx`` is (B, N) long."""
    b = idx.shape[0]
    env = torch.ones((b, 1, 1), dtype=tensors[0].dtype, device=tensors[0].device)
    log_scale = torch.zeros(b, dtype=env.real.dtype, device=env.device)
    for i, a in enumerate(tensors):
        env, log_scale = _rescale(transfer(env, a, table[min(i, len(table) - 1)][idx[:, i]]), log_scale)
    return env[:, 0, 0], log_scale


def right_environments(tensors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """R[i][r, r'] (ket, bra) = the chain right of site i with every operator the identity,
    each scaled to largest entry 1; R[N−1] = [[1]].  For conditional marginals."""
    a = tensors[-1]
    out = [torch.ones((1, 1), dtype=a.dtype, device=a.device)]
    for a in reversed(tensors[1:]):
        # R_prev[l, l'] = Σ A[l, κ, s, r] R[r, r'] conj(A)[l', κ, s, r']
        r = (a.reshape(-1, a.shape[-1]) @ out[-1]).reshape(a.shape[0], -1) @ a.conj().reshape(a.shape[0], -1).T
        out.append(r / r.abs().amax().clamp_min(_TINY))
    return out[::-1]


def conditional_site(env: torch.Tensor, a: torch.Tensor, right: torch.Tensor,
                     elements: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Unnormalised weights p[b, k] = Tr[M^k W_b] of the K outcomes at one site, given the
    left environment E (B, χ_l, χ_l) of the prefix and the right environment R, with
    W_b[s, t] = Σ E[l', l] A[l, κ, s, r] R[r, r'] conj(A)[l', κ, t, r']; also returns F
    (see :func:`transfer`), from which the chosen outcome's environment follows."""
    f = _ket(env, a)
    h = f @ right  # Σ_r F[..., r] R[r, r']
    w = torch.einsum("blksr,lktr->bst", h, a.conj())
    return torch.einsum("kts,bst->bk", elements, w).real, f


def _scaled(x: torch.Tensor, log_scale: float) -> tuple[torch.Tensor, float]:
    """x divided by its largest |entry| (unless zero), and log_scale plus its logarithm."""
    s = float(x.abs().max())
    return (x / s, log_scale + math.log(s)) if s > 0 else (x, log_scale)


def overlap_sweep(tensors: Sequence[torch.Tensor], target: Sequence[torch.Tensor]) -> tuple[float, float]:
    """⟨φ|ρ|φ⟩ = Σ_κ |⟨φ|x_κ⟩|² for an MPS φ with tensors (χ_l, 2, χ_r), as (value, log_scale).
    Environment F[m, l, L, M]: bonds of ⟨φ|, of the ket layer, of the bra layer, of |φ⟩."""
    f = torch.ones((1, 1, 1, 1), dtype=tensors[0].dtype, device=tensors[0].device)
    log_scale = 0.0
    for a, p in zip(tensors, target):
        x = torch.einsum("mlLM,lksr->mLMksr", f, a)
        y = torch.einsum("mLMksr,msn->LMkrn", x, p.conj())
        z = torch.einsum("LMkrn,Lktq->Mrntq", y, a.conj())
        f, log_scale = _scaled(torch.einsum("Mrntq,MtN->nrqN", z, p), log_scale)
    return float(f.real.reshape(())), log_scale


def purity_sweep(tensors: Sequence[torch.Tensor]) -> tuple[float, float]:
    """Tr ρ² of ρ = X X† (four layers: ket 1, bra 1, ket 2, bra 2), as (value, log_scale).
    Environment G[a, b, c, d]: bonds of A (ket 1), conj A (bra 1), A (ket 2), conj A (bra 2);
    ρ[s, t] ρ[t, s] pairs ket 1 with bra 2 (index s) and bra 1 with ket 2 (index t)."""
    g = torch.ones((1, 1, 1, 1), dtype=tensors[0].dtype, device=tensors[0].device)
    log_scale = 0.0
    for a in tensors:
        x = torch.einsum("abcd,aksr->bcdksr", g, a)
        y = torch.einsum("bcdksr,dqsR->bckrqR", x, a.conj())
        z = torch.einsum("bckrqR,bktS->cqrRtS", y, a.conj())
        g, log_scale = _scaled(torch.einsum("cqrRtS,cqtT->rSTR", z, a), log_scale)
    return float(g.real.reshape(())), log_scale


def open_sweep(tensors: Sequence[torch.Tensor], keep: Sequence[bool]) -> tuple[torch.Tensor, float]:
    """Tr_{sites not kept} ρ as a (2^k, 2^k) matrix over the kept sites in chain order
    (first kept site most significant; rows ket, columns bra), as (matrix, log_scale).
    The environment carries the open indices: E[P, P', l', l] with 4^j χ² entries after
    j kept sites."""
    a0 = tensors[0]
    env = torch.ones((1, 1, 1, 1), dtype=a0.dtype, device=a0.device)
    eye = torch.eye(2, dtype=a0.dtype, device=a0.device)
    log_scale = 0.0
    for a, open_ in zip(tensors, keep):
        d, cl, cr = env.shape[0], a.shape[0], a.shape[-1]
        flat = env.reshape(d * d, cl, cl)
        if open_:
            f = _ket(flat, a)  # [b, l', κ, s, r]
            e = torch.einsum("blksr,lktq->bstqr", f, a.conj()).reshape(d, d, 2, 2, cr, cr)
            env = e.permute(0, 2, 1, 3, 4, 5).reshape(2 * d, 2 * d, cr, cr)
        else:
            env = transfer(flat, a, eye).reshape(d, d, cr, cr)
        env, log_scale = _scaled(env, log_scale)
    return env[:, :, 0, 0], log_scale
