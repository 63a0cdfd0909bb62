"""Tensor-network Born machines: a pure MPS or a locally purified density operator (LPDO)
whose outcome distribution is exactly the Born rule of the state it holds.

The model is a state, not only a distribution: site tensors A[i] of shape (χ_l, μ, 2, χ_r)
(left bond, Kraus index κ of dimension μ, physical index, right bond) build the MPO X
and ρ = X X† (Werner, Jaschke, Silvi, Kliesch, Calarco, Eisert, Montangero, PRL 116,
237201 (2016); learned from POVM data as in Torlai et al., "Quantum process tomography
with unsupervised learning and tensor networks", arXiv:2006.02424).  ρ is positive by
construction, mixed for μ > 1, and pure for μ = 1 (``mps``: ρ = |ψ⟩⟨ψ|/⟨ψ|ψ⟩).  The
model's distribution is

    P(a) = Tr[(M^{a_1} ⊗ … ⊗ M^{a_N}) ρ] / Tr ρ,

normalised exactly because Σ_a M^a = I; the POVM elements (one (K, 2, 2) set, or one
per qubit (N, K, 2, 2)) are part of the model's config.  ``log_prob`` contracts the
chain for a batch of strings, ``sample`` draws exact samples site by site from the
conditional marginals (right environments), and the state itself is read off exactly at
any N: :meth:`fidelity`, :meth:`reduced_density_matrix`, :meth:`expectation`,
:meth:`purity`, :meth:`to_dense` (kernels in :mod:`qgen.models._tn_contract`).

Initialisation: every site starts at |+⟩ (κ = 0) times the identity on the bond, plus
real Gaussian noise of size ``init_noise``, i.e. close to the product state |+⟩^N with
real amplitudes; the imaginary parts are trainable and grow where the data ask for them.

Pure start (``pure_start`` = s > 0, the ``lpdo`` preset's 0.5): the Kraus components κ ≥ 1
start at zero, where their gradient vanishes (they enter ρ quadratically), so the first
⌊s·E⌋ of the E training epochs fit a pure MPS; :meth:`LPDOModel.begin_epoch` then seeds
them with noise of size ``init_noise``/10 and the state may become mixed where the data
ask for it.  Started mixed, the network settles on the incoherent mixture of a GHZ state's
branches, whose classical correlations it reproduces at once, and does not leave it: on
3,000 Pauli-6 shots of GHZ-8 the quantum fidelity is 0.50 started mixed and 0.99 started
pure (MLE 0.83), on GHZ-8 depolarized with p = 0.05 (true 0.74) 0.41 and 0.71 (MLE 0.54),
with no loss at N = 4 or for W, cluster and TFIM states (bond dimension 4;
benchmarks/results/quantum_fidelity.json).
Bond dimensions are capped at the largest useful value min(χ, d^i, d^{N−i}), d = 2μ.

Capacity from the data (:meth:`LPDOModel.data_defaults`): trained by :func:`qgen.workflows.fit`
on fewer than :data:`SMALL_DATA` strings, the LPDO's bond dimension is at most
:data:`SMALL_DATA_BOND_DIM`.  At χ = 4 a few thousand Pauli-4 shots are overfitted: on
2,700 training strings of GHZ-8 (seed 1) the trained state's training NLL is 67 nats
below the true state's, and it holds the 8-body coherence at the phase that fits the
training shots' noise (the training NLL prefers it to the right phase by 71 nats, the
validation shots prefer the right one by 3), quantum fidelity 0.02.  Measured with χ = 2
against 4 before the cap was adopted (N = 8, 3,000 shots): from Pauli-6 (seed 0) W,
cluster and TFIM gain 0.01–0.02 and the depolarized GHZ loses 0.02 (0.695, MLE 0.54);
from Pauli-4, GHZ over 10 seeds rises from 0.46 to 0.59 (MLE 0.39), W from 0.78 to 0.82,
TFIM from 0.77 to 0.79 and the depolarized GHZ from 0.48 to 0.55 (3 seeds each).  From
30,000 shots (seed 0) χ = 2 and 4 are within 0.01, and from 10,000 mixed (TFIM Pauli-4
+0.02, depolarized GHZ Pauli-4 −0.11), hence the threshold.
A start with real, positive amplitudes is a prior: a phase that the data cannot resolve
(the relative phase of a GHZ state at large N, whose signal in P is ≤ (Σ_a|⟨0|M^a|1⟩|)^N,
≈ 6·10⁻¹³ for Pauli-4 at N = 50) stays near its start.

Example
-------
>>> from qgen.measurements import pauli6
>>> from qgen.targets import ghz
>>> torch.manual_seed(0)  # doctest: +ELLIPSIS
<torch._C.Generator object at ...>
>>> model = MPSModel(4, 6, bond_dim=2, povm=pauli6())
>>> x, lp = model.sample(3, torch.Generator().manual_seed(1))
>>> torch.allclose(model.log_prob(x), lp, atol=1e-5)
True
>>> 0.0 <= model.fidelity(ghz(4)) <= 1.0
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from qgen.measurements.povm import POVM
from qgen.models import _tn_contract as tn
from qgen.models.base import GenerativeModel, register_model
from qgen.resources import check_memory
from qgen.targets.hamiltonians import PAULI, check_pauli_strings
from qgen.targets.reduced import reduced_states
from qgen.targets.states import MPS, DenseState

__all__ = ["LPDOModel", "MPSModel", "povm_config", "SMALL_DATA", "SMALL_DATA_BOND_DIM"]

_DENSE_MAX = 12  # largest N for to_dense
SMALL_DATA = 5_000
"""Training strings below which :meth:`LPDOModel.data_defaults` caps the bond dimension."""
SMALL_DATA_BOND_DIM = 2
"""The cap: GHZ, W and the 1D cluster state are exact at χ = 2 and the critical Ising
chain of 8 qubits is ≥ 0.99 there, while χ = 4 overfits a few thousand shots."""


def povm_config(elements: POVM | np.ndarray) -> list:
    """POVM elements (K, 2, 2) or per qubit (N, K, 2, 2) as JSON lists ``[real, imag]``.

    >>> from qgen.measurements import pauli4
    >>> np.array(povm_config(pauli4())).shape
    (2, 4, 2, 2)
    """
    m = np.asarray(elements.elements if isinstance(elements, POVM) else elements, dtype=complex)
    return [m.real.tolist(), m.imag.tolist()]


def _elements(povm: Any, n_qubits: int, n_outcomes: int) -> np.ndarray:
    """Validated POVM elements (1 or N, K, 2, 2) from a POVM, an array or ``[real, imag]`` lists."""
    if povm is None:
        raise ValueError("a tensor-network model needs the POVM's elements: build it with "
                         "create_model(..., povm=...) or pass povm=")
    if isinstance(povm, POVM):
        m = povm.elements
    elif isinstance(povm, np.ndarray):
        m = povm
    else:
        try:
            re, im = (np.asarray(part, dtype=float) for part in povm)
        except (TypeError, ValueError):
            raise ValueError("povm must be a POVM, an array or [real, imag] nested lists") from None
        if re.shape != im.shape:
            raise ValueError(f"povm real and imaginary parts differ in shape: {re.shape} vs {im.shape}")
        m = re + 1j * im
    m = np.asarray(m, dtype=complex)
    if m.ndim == 3:
        m = m[None]
    if m.ndim != 4 or m.shape[2:] != (2, 2) or m.shape[1] != n_outcomes or m.shape[0] not in (1, n_qubits):
        raise ValueError(f"povm elements must have shape ({n_outcomes}, 2, 2) or ({n_qubits}, {n_outcomes}, 2, 2), "
                         f"got {m.shape[1:] if m.shape[0] == 1 else m.shape}")
    return np.stack([POVM(f"qubit {i}", e).elements for i, e in enumerate(m)])  # each checked: Hermitian, PSD, Σ = I


def _bond_dims(n: int, chi: int, d: int) -> list[int]:
    """Bond dimensions 1, D_0 … D_{N−2}, 1 with D_i = min(χ, d^{i+1}, d^{N−1−i})."""
    return [1] + [min(chi, d ** min(i + 1, n - 1 - i, 30)) for i in range(n - 1)] + [1]


@register_model
class LPDOModel(GenerativeModel):
    """Locally purified density operator ρ = X X† with bond dimension ``bond_dim`` (χ) and
    Kraus dimension ``kraus_dim`` (μ); exact likelihood and sampling.

    Parameters
    ----------
    n_qubits, n_outcomes : string length N and alphabet size K.
    bond_dim : χ, the largest bond dimension of X.
    kraus_dim : μ; 1 is a pure state.
    povm : the measurement: a :class:`qgen.measurements.povm.POVM`, an array (K, 2, 2) or (N, K, 2, 2),
        or ``[real, imag]`` nested lists (how ``config`` stores it).
    init_noise : standard deviation of the real Gaussian added to the |+⟩ ⊗ identity start.
    real : real tensors (X real, so ρ is real: half the parameters), a prior for states
        known to have real amplitudes, such as ground states of stoquastic Hamiltonians.
    pure_start : the fraction of the training epochs during which the state stays pure (the
        Kraus components κ ≥ 1 held at zero; module docstring); 0 starts mixed.
    """

    name = "lpdo"
    likelihood = "exact"
    exact_state = True
    shardable_loss = True
    presets = {"default": {"bond_dim": 4, "kraus_dim": 2, "pure_start": 0.5}}
    # No epoch count: 3,000 steps of ≤ 100 strings, ≥ 4 epochs (qgen.training.config.adapt_to_data),
    # no early stopping (benchmarks/results/tensornet_adaptive.json).  Positive by construction, the
    # network does not overfit: its validation NLL stays flat within its noise, so it keeps its last
    # weights (the lowest validation NLL fell on early, undertrained epochs; quantum_fidelity.json).
    train_presets = {"default": {"batch_size": 100, "lr": 1e-2, "schedule": "cosine", "patience": None,
                                 "keep": "last"}}

    def __init__(self, n_qubits: int, n_outcomes: int, *, bond_dim: int = 4, kraus_dim: int = 2,
                 povm: Any = None, init_noise: float = 0.1, real: bool = False, pure_start: float = 0.0) -> None:
        for key, value in (("bond_dim", bond_dim), ("kraus_dim", kraus_dim)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"{key} must be an integer ≥ 1, got {value!r}")
        if not isinstance(init_noise, (int, float)) or not 0 <= init_noise < math.inf:
            raise ValueError(f"init_noise must be a number ≥ 0, got {init_noise!r}")
        if not isinstance(real, bool):
            raise ValueError(f"real must be true or false, got {real!r}")
        if isinstance(pure_start, bool) or not isinstance(pure_start, (int, float)) or not 0 <= pure_start < 1:
            raise ValueError(f"pure_start must be a fraction of the epochs in [0, 1), got {pure_start!r}")
        elements = _elements(povm, n_qubits, n_outcomes)
        super().__init__(n_qubits, n_outcomes, bond_dim=int(bond_dim), kraus_dim=int(kraus_dim),
                         povm=povm_config(elements[0] if len(elements) == 1 else elements),
                         init_noise=float(init_noise), **({"real": True} if real else {}),
                         **({"pure_start": float(pure_start)} if pure_start and kraus_dim > 1 else {}))
        self.pure_start = self.config.get("pure_start", 0.0)
        self.register_buffer("elements", torch.from_numpy(elements), persistent=False)
        self.real = real
        self._dims, mu, chi = _bond_dims(n_qubits, bond_dim, 2 * kraus_dim), int(kraus_dim), int(bond_dim)
        # all sites in one (N, χ, μ, 2, χ) complex tensor (as real pairs); site i uses the
        # block [:D_{i−1}, …, :D_i], the rest is masked out
        a = torch.zeros(n_qubits, chi, mu, 2, chi, dtype=torch.complex64)
        a.diagonal(dim1=1, dim2=4)[:, 0].fill_(1 / math.sqrt(2))  # |+⟩ ⊗ identity on the bond, κ = 0
        a = a + init_noise * torch.randn(a.shape)  # real: the start state has real amplitudes
        if self.pure_start:
            a[:, :, 1:] = 0  # a pure start (begin_epoch seeds them)
        self.weight = nn.Parameter(a.real.clone() if real else torch.view_as_real(a).clone())
        mask = torch.zeros(n_qubits, chi, 1, 1, chi)
        for i in range(n_qubits):
            mask[i, : self._dims[i], :, :, : self._dims[i + 1]] = 1
        self.register_buffer("_mask", mask, persistent=False)

    def begin_epoch(self, epoch: int, epochs: int, seed: int) -> None:
        """With ``pure_start`` = s: before epoch ⌊s·E⌋ of E, seed the Kraus components
        κ ≥ 1 (zero until then) with Gaussian noise of size ``init_noise``/10, drawn from
        a generator seeded with ``seed``."""
        if not self.pure_start or epoch != int(self.pure_start * epochs):
            return
        generator = torch.Generator().manual_seed(seed)
        w = self.weight[:, :, 1:]
        with torch.no_grad():
            w.copy_(self.config["init_noise"] / 10 * torch.randn(w.shape, generator=generator))

    @staticmethod
    def povm_defaults(povm: POVM, config: dict) -> dict:
        """The POVM's elements, stored in the config as ``[real, imag]`` lists."""
        return {"povm": povm_config(povm)}

    @staticmethod
    def data_defaults(n_train: int, config: dict) -> dict:
        """Bond dimension at most :data:`SMALL_DATA_BOND_DIM` below :data:`SMALL_DATA`
        training strings: fewer parameters where the data cannot pin them down.

        >>> LPDOModel.data_defaults(2_700, {"bond_dim": 4}), LPDOModel.data_defaults(27_000, {"bond_dim": 4})
        ({'bond_dim': 2}, {})
        """
        if n_train >= SMALL_DATA:
            return {}
        return {"bond_dim": min(config.get("bond_dim", SMALL_DATA_BOND_DIM), SMALL_DATA_BOND_DIM)}

    @property
    def bond_dims(self) -> list[int]:
        """Bond dimensions D_0 … D_{N−2} between neighbouring sites."""
        return self._dims[1:-1]

    def _stacked(self, dtype: torch.dtype | None = None) -> torch.Tensor:
        """All site tensors as one complex (N, χ, μ, 2, χ) tensor, zero outside each site's
        block [:D_{i−1}, …, :D_i] (so those weights never matter and get no gradient)."""
        w = self.weight
        a = (torch.complex(w, torch.zeros_like(w)) if self.real else torch.view_as_complex(w)) * self._mask
        return a if dtype is None else a.to(dtype)

    def tensors(self, dtype: torch.dtype | None = None) -> list[torch.Tensor]:
        """The complex site tensors A[i] (χ_l, μ, 2, χ_r), in ``dtype`` (complex) if given."""
        d = self._dims
        return [t[: d[i], :, :, : d[i + 1]] for i, t in enumerate(self._stacked(dtype).unbind(0))]

    def _operators(self, dtype: torch.dtype, identity: bool = False) -> torch.Tensor:
        """The POVM elements (1 or N, K, 2, 2), with the identity appended as operator K when
        ``identity``."""
        m = self.elements.to(dtype)
        if identity:
            m = torch.cat([m, torch.eye(2, dtype=m.dtype, device=m.device).expand(len(m), 1, 2, 2)], 1)
        return m

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """ln P(a) = ln Tr[(⊗_i M_i^{a_i}) ρ] − ln Tr ρ, exact, batched over strings; Tr ρ is
        the same sweep with the identity on every site, run as one extra string."""
        x = self.check_outcomes(x)
        stacked = self._stacked()
        norm = torch.full((1, self.n_qubits), self.n_outcomes, dtype=torch.long, device=x.device)
        blocks = tn.paired(stacked, self._operators(stacked.dtype, identity=True), self._dims, torch.cat([x, norm]))
        value, log_scale = tn.sweep(*blocks)
        log_p = value.real.clamp_min(0).log() + log_scale
        return log_p[:-1] - log_p[-1]

    @torch.no_grad()
    def sample(self, n: int, generator: torch.Generator | None = None, *,
               chunk_size: int = 16384) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw n exact samples (chunks of ``chunk_size``), site by site from the conditional
        marginals (:func:`~qgen.models._tn_contract.sample_chain`); reproducible for a
        given generator.  Returns (outcomes (n, N), exact ln P (n,))."""
        if n <= 0:
            return (torch.empty((0, self.n_qubits), dtype=torch.long, device=self.device),
                    torch.empty(0, device=self.device))
        ts = self.tensors()
        elements = self.elements.to(ts[0].dtype)
        xs, lps = zip(*(tn.sample_chain(ts, elements, min(chunk_size, n - s), generator)
                        for s in range(0, n, chunk_size)))
        return torch.cat(xs), torch.cat(lps)

    # -- exact access to the state (complex128) ---------------------------------------

    def _exact(self) -> list[torch.Tensor]:
        return [a.detach() for a in self.tensors(torch.complex128)]

    def _log_norm(self, ts: list[torch.Tensor]) -> float:
        """ln Tr ρ."""
        eye = torch.eye(2, dtype=ts[0].dtype, device=ts[0].device)[None]
        value, log_scale = tn.sweep(ts, [tn.dressed(a, eye) for a in ts],
                                    torch.zeros((1, self.n_qubits), dtype=torch.long, device=ts[0].device))
        return float(value.real.log()[0] + log_scale[0])

    def fidelity(self, target: MPS | DenseState | np.ndarray) -> float:
        """⟨ψ|ρ|ψ⟩ / (Tr ρ ⟨ψ|ψ⟩) for a pure target: an :class:`~qgen.targets.states.MPS` (its
        pure part: ``target.noise`` is ignored), a state vector or a vector
        :class:`~qgen.targets.states.DenseState`; exact contraction at any N."""
        if isinstance(target, DenseState):
            if target.data.ndim != 1:
                raise ValueError("fidelity needs a pure target (a state vector or an MPS), got a density matrix")
            target = target.data
        if not isinstance(target, MPS):
            vec = np.asarray(target)
            if vec.ndim != 1 or vec.shape[0] != 2**self.n_qubits:
                raise ValueError(f"a target state vector must have shape ({2**self.n_qubits},), got {vec.shape}")
            target = MPS.from_dense(vec)
        if target.n_qubits != self.n_qubits:
            raise ValueError(f"the target has {target.n_qubits} qubits, the model {self.n_qubits}")
        ts = self._exact()
        phi = [torch.as_tensor(np.asarray(t, dtype=complex), device=ts[0].device) for t in target.tensors]
        value, log_scale = tn.overlap_sweep(ts, phi)
        return value * math.exp(log_scale - self._log_norm(ts)) / target.norm() ** 2

    def reduced_density_matrix(self, sites: Sequence[int]) -> np.ndarray:
        """ρ_S = Tr_{rest} ρ / Tr ρ on ``sites`` (distinct, any order; the first listed is
        the most significant qubit), (2^k, 2^k) complex: :meth:`reduced_density_matrices`
        of the sorted sites, permuted; memory ~ 4^j D² after j kept sites at a bond D."""
        sites = [int(s) for s in sites]
        if not sites or len(set(sites)) != len(sites) or not all(0 <= s < self.n_qubits for s in sites):
            raise ValueError(f"sites must be distinct integers in 0..{self.n_qubits - 1}, got {sites}")
        k, kept = len(sites), np.cumsum(np.isin(np.arange(self.n_qubits), sites))
        peak = max(4 ** int(kept[i]) * self._dims[i + 1] ** 2 for i in range(min(sites), max(sites) + 1))
        check_memory(3 * 16 * peak * 2 * self.weight.shape[2], f"a {k}-site reduced density matrix")
        rho = self.reduced_density_matrices([sorted(sites)])[0]
        order = np.argsort(np.argsort(sites))  # chain position of each requested site among the kept
        return rho.reshape((2,) * 2 * k).transpose(*order, *(order + k)).reshape(2**k, 2**k)

    def reduced_density_matrices(self, sets: Sequence[Sequence[int]]) -> list[np.ndarray]:
        """ρ_S for every set S of ascending sites, with environments shared between the sets
        (:func:`qgen.targets.reduced.reduced_states`: all pairs in O(N²) transfer steps)."""
        sets = [[int(i) for i in s] for s in sets]
        n = self.n_qubits
        bad = next((s for s in sets if not s or s != sorted(set(s)) or not 0 <= s[0] <= s[-1] < n), None)
        if bad is not None:
            raise ValueError(f"each set must hold distinct ascending integers in 0..{n - 1}, got {bad}")
        return reduced_states([t.cpu().numpy() for t in self._exact()], sets)

    def to_dense(self) -> np.ndarray:
        """The density matrix ρ / Tr ρ (2^N, 2^N), N ≤ 12."""
        if self.n_qubits > _DENSE_MAX:
            raise ValueError(f"refusing to build a dense {self.n_qubits}-qubit density matrix (N ≤ {_DENSE_MAX})")
        return self.reduced_density_matrix(range(self.n_qubits))

    def expectation(self, ops: np.ndarray) -> np.ndarray:
        """Exact Tr[(σ_{ops[t,0]} ⊗ … ⊗ σ_{ops[t,N−1]}) ρ] / Tr ρ for Pauli strings ``ops``
        (T, N), entries 0..3 = I, X, Y, Z (as in :mod:`qgen.scores.observables`); real (T,)."""

        ops = torch.as_tensor(check_pauli_strings(ops, self.n_qubits), device=self.device)
        ts = self._exact()
        duals = [tn.dressed(a, torch.as_tensor(PAULI, device=self.device)) for a in ts]
        out = [tn.sweep(ts, duals, chunk, psd=False) for chunk in ops.split(4096)] if len(ops) else []
        if not out:
            return np.zeros(0)
        value, log_scale = (torch.cat(parts) for parts in zip(*out))
        return (value.real * (log_scale - self._log_norm(ts)).exp()).cpu().numpy()

    def purity(self) -> float:
        """Tr ρ² / (Tr ρ)² (four-layer contraction, ~μ²χ⁵ per site); 1 for a pure state."""
        ts = self._exact()
        value, log_scale = tn.purity_sweep(ts)
        return value * math.exp(log_scale - 2 * self._log_norm(ts))


@register_model
class MPSModel(LPDOModel):
    """Pure matrix product state ρ = |ψ⟩⟨ψ|/⟨ψ|ψ⟩: the LPDO with ``kraus_dim`` = 1."""

    name = "mps"
    presets = {"default": {"bond_dim": 4}}
    train_presets = LPDOModel.train_presets

    @staticmethod
    def data_defaults(n_train: int, config: dict) -> dict:
        """None: the small-data cap was measured on the mixed LPDO only, so the pure MPS keeps
        its preset."""
        return {}

    def __init__(self, n_qubits: int, n_outcomes: int, *, bond_dim: int = 4, kraus_dim: int = 1,
                 povm: Any = None, init_noise: float = 0.1, real: bool = False) -> None:
        if kraus_dim != 1:
            raise ValueError(f"model 'mps' is pure (kraus_dim 1); use model 'lpdo' for kraus_dim {kraus_dim!r}")
        super().__init__(n_qubits, n_outcomes, bond_dim=bond_dim, kraus_dim=1, povm=povm, init_noise=init_noise,
                         real=real)
