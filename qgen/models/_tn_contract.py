"""Contraction kernels of the tensor-network Born machine (:mod:`qgen.models.tensornet`).

The state is a locally purified density operator (LPDO; Werner et al., PRL 116, 237201
(2016)): site tensors ``A[i]`` of shape (χ_l, μ, 2, χ_r) — left bond, Kraus index κ,
physical index s, right bond — define the MPO X (rows s, columns κ) and ρ = X X†, so that

    Tr[(O_1 ⊗ … ⊗ O_N) ρ] = Σ_{κ, s, t} Π_i conj(A[i])[l'_i, κ_i, t_i, r'_i] O_i[t_i, s_i] A[i][l_i, κ_i, s_i, r_i],

with open boundaries (χ_l = 1 on site 0, χ_r = 1 on site N−1).  μ = 1 is a pure MPS.
Every kernel sweeps the chain left to right carrying an environment E[b, l', l]
(bra bond first, ket bond second) for a batch of operator strings, divides it after
each site by a detached scale (a constant along the sweep, so gradients of ln|value| are
unchanged) and accumulates the logarithm of that scale: values of size e^{−200} at
N = 100 stay representable.  A site is one GEMM shared by the batch and one batched GEMM
with the operator-dressed bra tensor of each string's operator:

    F[b, l', κ, s, r] = Σ_l E[b, l', l] A[l, κ, s, r],
    Ã^o[l', κ, s, r'] = Σ_t conj(A)[l', κ, t, r'] O^o[t, s]           (:func:`dressed`),
    E'[b, r', r] = Σ_{l', κ, s} Ã^{o_b}[l', κ, s, r'] F[b, l', κ, s, r],

≈ 4μχ³ complex multiply-adds per string and site.  The tensors may be any complex dtype;
the kernels take torch tensors and are differentiable.

Example
-------
>>> a = torch.tensor([[[[1.0], [0.0]]]], dtype=torch.complex128)   # |0⟩ on one site
>>> z = torch.tensor([[[1.0, 0.0], [0.0, -1.0]]], dtype=torch.complex128)
>>> value, log_scale = sweep([a], [dressed(a, z)], torch.zeros((1, 1), dtype=torch.long), psd=False)
>>> (value * log_scale.exp()).real.tolist()     # ⟨0|σz|0⟩
[1.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch

__all__ = ["dressed", "sweep", "paired", "right_environments", "sample_chain", "overlap_sweep", "purity_sweep"]

_TINY = 1e-300


def _scale(env: torch.Tensor, psd: bool) -> torch.Tensor:
    """A detached scale (B,) of each environment (B, χ, χ): its largest diagonal entry when it
    is positive semidefinite (then no entry is larger), else its largest |entry|."""
    e = env.detach()
    scale = e.diagonal(dim1=1, dim2=2).real.amax(-1) if psd else e.abs().flatten(1).amax(1)
    return scale.clamp_min(torch.finfo(scale.dtype).tiny)


def _ket(env: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """F[b, l', κ, s, r] = Σ_l E[b, l', l] A[l, κ, s, r]."""
    b, cl = env.shape[0], a.shape[0]
    return (env.reshape(b * cl, cl) @ a.reshape(cl, -1)).reshape(b, cl, *a.shape[1:])


def _bra(f: torch.Tensor, dual: torch.Tensor) -> torch.Tensor:
    """E'[b, r', r] = Σ_{l', κ, s} Ã[r', l', κ, s] F[b, l', κ, s, r]; ``dual`` in the layout
    of :func:`dressed`, (χ_r, χ_l, μ, 2) shared by the batch or (B, χ_r, χ_l, μ, 2) per string."""
    cr = dual.shape[-4]
    return dual.reshape(*dual.shape[:-4], cr, -1) @ f.reshape(f.shape[0], -1, cr)


def dressed(a: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
    """Ã^o[…, r', l', κ, s] = Σ_t conj(A)[…, l', κ, t, r'] O^o[t, s] for every operator o,
    transposed for the batched GEMM of :func:`sweep`: ``a`` (…, χ_l, μ, 2, χ_r), ``ops``
    (…, K, 2, 2) → (…, K, χ_r, χ_l, μ, 2) (leading axes broadcast, e.g. all sites at once)."""
    return torch.einsum("...lktr,...qts->...qrlks", a.conj(), ops).contiguous()


class _Sweep(torch.autograd.Function):
    """The batched sweep with a hand-written backward pass: the forward keeps every site's
    left environment E_i, F_i and picked Ã_i; the backward runs the chain right to left,

        Ē_{i+1}/s_i → Ḡ_i = Ē' F_i^†,  F̄_i = G_i^† Ē',  Ā_i = E_i^† F̄_i,  Ē_i = F̄_i A_i^†,

    (the matmul rules of torch's conjugate-Wirtinger convention), with Ḡ_i scattered back
    onto the K dressed tensors.  Several times fewer tensor operations than autograd
    through the loop, which dominate at small χ.  The scales s_i are constants."""

    @staticmethod
    def forward(ctx: Any, idx: torch.Tensor, psd: bool, *arrays: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        n = len(arrays) // 2
        tensors, duals = arrays[:n], arrays[n:]
        b = idx.shape[0]
        env = torch.ones((b, 1, 1), dtype=tensors[0].dtype, device=tensors[0].device)
        log_scale = torch.zeros(b, dtype=env.real.dtype, device=env.device)
        saved = []
        for i, (a, d) in enumerate(zip(tensors, duals)):
            f = _ket(env, a).reshape(b, -1, a.shape[-1])
            g = d.reshape(len(d), -1).index_select(0, idx[:, i]).view(b, d.shape[1], -1)
            saved += [env, f, g]
            env = g @ f
            scale = _scale(env, psd)
            saved.append(scale)
            env = env / scale[:, None, None]
            log_scale = log_scale + scale.log()
        ctx.save_for_backward(idx, *tensors, *saved)
        ctx.shapes = [d.shape for d in duals]
        ctx.mark_non_differentiable(log_scale)
        return env[:, 0, 0], log_scale

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_value: torch.Tensor, grad_log_scale: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        idx, *rest = ctx.saved_tensors
        n = len(ctx.shapes)
        tensors, saved = rest[:n], rest[n:]
        b = idx.shape[0]
        grad_env = grad_value.reshape(b, 1, 1)
        grads_a, grads_d = [None] * n, [None] * n
        for i in reversed(range(n)):
            env, f, g, scale = saved[4 * i : 4 * i + 4]
            pre = grad_env / scale[:, None, None]
            if ctx.needs_input_grad[2 + n + i]:
                grad_g = (pre @ f.mH).reshape(b, -1)
                grads_d[i] = torch.zeros(ctx.shapes[i], dtype=grad_g.dtype, device=grad_g.device)
                grads_d[i].view(len(grads_d[i]), -1).index_add_(0, idx[:, i], grad_g)
            a = tensors[i]
            cl = a.shape[0]
            grad_f = (g.mH @ pre).reshape(b * cl, -1)
            if ctx.needs_input_grad[2 + i]:
                grads_a[i] = (env.reshape(b * cl, cl).mH @ grad_f).reshape(a.shape)
            grad_env = (grad_f @ a.reshape(cl, -1).mH).reshape(b, cl, cl)
        return None, None, *grads_a, *grads_d


def sweep(tensors: Sequence[torch.Tensor], duals: Sequence[torch.Tensor], idx: torch.Tensor,
          psd: bool = True) -> tuple[torch.Tensor, torch.Tensor]:
    """Tr[(O^{idx[b, 0]} ⊗ … ⊗ O^{idx[b, N−1]}) ρ] for a batch of strings ``idx`` (B, N), as
    (value (B,), log_scale (B,)): the trace is ``value · exp(log_scale)``.  ``duals[i]``
    holds site i's dressed tensors (K, χ_r, χ_l, μ, 2) of the operators (:func:`dressed`);
    ``psd``: every operator is positive semidefinite (POVM elements, the identity).
    Differentiable in the tensors and the duals (hand-written backward, :class:`_Sweep`)."""
    return _Sweep.apply(idx, psd, *tensors, *duals)


def paired(stacked: torch.Tensor, ops: torch.Tensor, dims: Sequence[int],
           idx: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor], torch.Tensor]:
    """The chain as blocks of two sites, the input of :func:`sweep`: half as many sequential
    steps for the same flops when μ = 1 (twice the flops for μ = 2), which pays at small χ,
    where a step costs the overhead of its dozen tensor operations.

    ``stacked`` (N, χ, μ, 2, χ) holds all sites (site i uses [:D_{i−1}, …, :D_i], ``dims``
    = 1, D_0 … D_{N−2}, 1); ``ops`` (1 or N, K, 2, 2) the operators of every site; ``idx``
    (B, N) the strings.  Block j = sites 2j, 2j+1: tensor (D, μ², 4, D') contracted over
    the shared bond, operators M^{k}⊗M^{k'} indexed k·K + k', strings idx_{2j}·K + idx_{2j+1};
    an odd last site stays single.  Returns (tensors, dressed operators, block strings)."""
    n, h, k = stacked.shape[0], stacked.shape[0] // 2, ops.shape[1]
    tensors, duals, cols = [], [], []
    if h:
        a = torch.einsum("nlksm,nmqtr->nlkqstr", stacked[0 : 2 * h : 2], stacked[1 : 2 * h : 2])
        a = a.reshape(h, a.shape[1], -1, 4, a.shape[-1])
        even, odd = (ops if len(ops) == 1 else ops[first : 2 * h : 2] for first in (0, 1))
        kron = torch.einsum("nats,nbuv->nabtusv", even, odd).reshape(-1, k * k, 4, 4)
        for j, (t, d) in enumerate(zip(a.unbind(0), dressed(a, kron).unbind(0))):
            left, right = dims[2 * j], dims[2 * j + 2]
            tensors.append(t[:left, :, :, :right])
            duals.append(d[:, :right, :left])
        cols.append(idx[:, 0 : 2 * h : 2] * k + idx[:, 1 : 2 * h : 2])
    if n % 2:
        t = stacked[-1][: dims[-2], :, :, :1]
        tensors.append(t)
        duals.append(dressed(t, ops[-1]))
        cols.append(idx[:, -1:])
    return tensors, duals, torch.cat(cols, 1)


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


def sample_chain(tensors: Sequence[torch.Tensor], elements: torch.Tensor, n: int,
                 generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
    """n exact samples of the outcome distribution, site by site from the conditional
    marginals p(a_i | a_<i) ∝ Tr[M_i^{a_i} W_b] with

        W_b[s, t] = Σ E_b[l', l] A[l, κ, s, r] R[r, r'] conj(A)[l', κ, t, r'],

    E_b the left environment of the drawn prefix (as in :func:`sweep`) and R the right
    environment of the unmeasured sites (:func:`right_environments`).  ``elements`` holds
    the POVM (1 or N, K, 2, 2).  Returns (outcomes (n, N) long, exact ln P (n,) as the sum
    of the ln p(a_i | a_<i))."""
    a0 = tensors[0]
    rights = right_environments(tensors)
    env = torch.ones((n, 1, 1), dtype=a0.dtype, device=a0.device)
    x = torch.empty((n, len(tensors)), dtype=torch.long, device=a0.device)
    log_p = torch.zeros(n, dtype=a0.real.dtype, device=a0.device)
    for i, a in enumerate(tensors):
        m = elements[min(i, len(elements) - 1)]
        f = _ket(env, a)
        w = torch.einsum("blksr,lktr->bst", f @ rights[i], a.conj())
        p = torch.einsum("kts,bst->bk", m, w).real.clamp_min(0)
        p = p / p.sum(1, keepdim=True)
        x[:, i] = torch.multinomial(p, 1, generator=generator)[:, 0]
        log_p += p.gather(1, x[:, i, None])[:, 0].log()
        env = _bra(f, dressed(a, m).index_select(0, x[:, i]))
        env = env / _scale(env, psd=True)[:, None, None]
    return x, log_p


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
