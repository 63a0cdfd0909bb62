"""A lower bound on the fidelity with a ground state from an energy estimate: the one
fidelity statement that stays cheap at N ≈ 50, where estimating ⟨ψ|ρ|ψ⟩ by sampling has
exponential variance.

Derivation.  Let H = Σ_k E_k P_k with ground state |ψ0⟩ (energy E0) and E1 the lowest
energy on the orthogonal complement of |ψ0⟩ (E1 = E0 if the ground level is degenerate).
Then H ≥ E0 |ψ0⟩⟨ψ0| + E1 (1 − |ψ0⟩⟨ψ0|) as operators, and for a density matrix ρ ≥ 0
with Tr ρ = 1 and F = ⟨ψ0|ρ|ψ0⟩, taking Tr(· ρ) gives ⟨H⟩ ≥ E0 F + E1 (1 − F), so

    F ≥ 1 − (⟨H⟩ − E0) / Δ,    Δ = E1 − E0 > 0,

with equality for ρ = F|ψ0⟩⟨ψ0| + (1 − F)|ψ1⟩⟨ψ1|.  The step Tr(A ρ) ≥ 0 for A ≥ 0
needs ρ ≥ 0: the bound is for physical states.  A POVM model's reconstruction
ρ_q = Σ_a q(a) D^{a_1}⊗…⊗D^{a_N} has unit trace but need not be positive, and its energy
can lie below E0; the bound then says nothing (:func:`fidelity_lower_bound` refuses it
when ⟨H⟩ is significantly below E0).  Applied to the energy of the raw measured data (an
unbiased estimate of Tr(Hρ) for the state actually prepared, which is physical), the
bound certifies the prepared state itself.

The error bar is the energy's, divided by Δ; E0 and E1 are taken as exact (their
numerical errors, below :attr:`qgen.groundstate.SpectralGap.resolution`, are negligible
next to any sampled energy's).

Example
-------
>>> from qgen.stats import Estimate
>>> str(fidelity_lower_bound(Estimate(-9.80, 0.01, 10_000), e0=-10.0, e1=-9.0))
'0.800 ± 0.010'
"""

from __future__ import annotations

import math
from typing import Any

from qgen.datasets.dataset import Dataset
from qgen.scores.observables import exact_observable
from qgen.scores.report import Certificate
from qgen.stats import Estimate
from qgen.targets.groundstate import spectral_gap
from qgen.targets.solvers import GroundState
from qgen.targets.states import DenseState
from qgen.targets.target import Target

__all__ = ["ASSUMPTION", "FORMULA", "UNPHYSICAL_SIGMAS", "certificate", "fidelity_lower_bound"]

FORMULA = "F >= 1 - (<H> - E0) / (E1 - E0)"
ASSUMPTION = (
    "the state is physical (positive semidefinite, unit trace); a POVM model's "
    "reconstruction rho_q = sum_a q(a) D^a has unit trace but need not be positive, and "
    "then the bound need not hold"
)
UNPHYSICAL_SIGMAS = 3.0
"""An energy more than this many standard errors below E0 is declared unphysical."""


def fidelity_lower_bound(energy: Estimate, e0: float, e1: float) -> Estimate:
    """F = ⟨ψ0|ρ|ψ0⟩ ≥ 1 − (⟨H⟩ − E0)/(E1 − E0) for a physical state ρ with energy
    ``energy`` (see the module docstring for the derivation), with error
    stderr(⟨H⟩)/(E1 − E0).

    The bound is clipped to [0, 1] (both clipped values are still valid bounds) and the
    note gives the unclipped value.  It is unavailable when the energy is, or when ⟨H⟩
    lies more than ``UNPHYSICAL_SIGMAS`` standard errors below E0: no physical state has
    such an energy, so the assumption fails.  Raises ``ValueError`` unless
    E1 > E0 (both finite).

    >>> str(fidelity_lower_bound(Estimate(-9.9, 0.0, 1, "exact"), e0=-10.0, e1=-9.5))
    '0.8 (exact)'
    >>> print(fidelity_lower_bound(Estimate(-11.0, 0.1, 100), e0=-10.0, e1=-9.5))
    n/a (<H> = -11 ± 0.1 lies 10.0 standard errors below E0 = -10: not a physical state, so the bound does not apply)
    """
    e0, e1 = float(e0), float(e1)
    if not (math.isfinite(e0) and math.isfinite(e1) and e1 > e0):
        raise ValueError(f"need finite E1 > E0 for a fidelity bound, got E0 = {e0}, E1 = {e1}")
    if not energy.available or not math.isfinite(energy.mean):
        return Estimate.unavailable(f"energy not available ({energy.note})" if energy.note
                                    else "energy not available")
    gap, mean, err = e1 - e0, energy.mean, energy.stderr
    sigma = err if math.isfinite(err) else 0.0
    slack = UNPHYSICAL_SIGMAS * sigma + 1e-12 * max(1.0, abs(e0))
    if mean < e0 - slack:
        below = f"{(e0 - mean) / sigma:.1f} standard errors" if sigma > 0 else "exactly"
        return Estimate.unavailable(
            f"<H> = {mean:.6g} ± {sigma:.2g} lies {below} below E0 = {e0:.12g}: not a physical "
            "state, so the bound does not apply"
        )
    raw = 1.0 - (mean - e0) / gap
    notes = [energy.note] if energy.note else []
    if raw > 1.0:
        notes.append(f"clipped to 1 from {raw:.4g} (<H> below E0 within the error)")
    elif raw < 0.0:
        notes.append(f"trivial: <H> - E0 >= E1 - E0 (unclipped {raw:.4g})")
    return Estimate(min(1.0, max(0.0, raw)), err / gap, energy.n, "; ".join(notes))


def _ground_from_info(target: Target) -> GroundState | None:
    """The target's ground-state record when ``info`` holds a qgen ground-state certificate."""
    info = target.info
    if "energy" not in info or "method" not in info:
        return None
    return GroundState(target.state, float(info["energy"]), float(info.get("variance", 0.0)),
                       str(info["method"]), info.get("bond_dim"), float(info.get("truncation_error", 0.0)),
                       int(info.get("n_sweeps", 0)), bool(info.get("converged", True)))


def _unsupported(target: Target | None) -> str | None:
    """Why no bound can be given for this target, or None."""
    if target is None:
        return "no target attached to the dataset"
    if target.hamiltonian is None:
        return f"target '{target.name}' is not the ground state of a Hamiltonian"
    if isinstance(target.state, DenseState) and target.state.data.ndim != 1:
        return "target is a density matrix, not a ground state vector"
    return None


def _gap_info(target: Target, method: str) -> dict[str, Any] | str:
    """``target.info["gap"]``, computed (and stored there) when missing; a string says why
    the target is not a ground state."""
    if "gap" in target.info:
        return target.info["gap"]
    H = target.hamiltonian
    ground = _ground_from_info(target)
    if ground is None:  # a Target built by hand: check that its state is a ground state
        gap = spectral_gap(H, method=method)
        c, o = H.pauli_indices()
        e_target = exact_observable(target.state.with_noise(0.0), c, o)
        tol = gap.resolution + 1e-9 * max(1.0, abs(gap.e0))
        if e_target > gap.e0 + tol:
            return (f"target is not the ground state of its Hamiltonian (<H>_target = {e_target:.10g}, "
                    f"E0 = {gap.e0:.10g})")
    else:
        gap = spectral_gap(H, ground, method)
    target.info["gap"] = gap.to_dict()
    return target.info["gap"]


def certificate(ds: Dataset, energy: Estimate, *, method: str = "auto") -> Certificate:
    """The fidelity certificate of a state with energy estimate ``energy`` against the
    dataset's target, when that target is the ground state of ``target.hamiltonian``.

    E0 and E1 come from :func:`qgen.groundstate.spectral_gap` (``method`` = auto | exact |
    dmrg; exact diagonalisation up to 12 qubits, penalty DMRG above), reusing the
    target's stored ground state; the result is stored in ``target.info["gap"]`` and
    reused on the next call.  Returns a :class:`~qgen.scores.report.Certificate`:
    ``bound`` (an :class:`Estimate`, unavailable with the reason when no bound can be
    given), ``e0``, ``e1``, ``gap``, ``method``, ``resolution``, ``energy``, ``formula``
    and ``assumption``.  A depolarized target is the noisy preparation of the ground state
    |ψ0⟩ of ``target.hamiltonian``: the bound is on the fidelity with |ψ0⟩.  No bound for a
    missing target, a target without Hamiltonian, a density-matrix target, a state that is
    not a ground state, or an unresolved gap.

    >>> from qgen.targets import make_target
    >>> from qgen.measurements import pauli4
    >>> from qgen.datasets import simulate
    >>> ds = simulate(make_target("tfim", n=6, h=2.0), pauli4(), 100, seed=0)
    >>> e0 = ds.target.info["energy"]
    >>> c = certificate(ds, Estimate(e0 + 0.1, 0.05, 20_000))
    >>> round(c.gap, 4), round(c.bound.mean, 4), c.method   # Δ = ε_min (free fermions)
    (2.2933, 0.9564, 'exact')
    """
    reason = _unsupported(ds.target)
    info = reason or _gap_info(ds.target, method)
    if isinstance(info, str):
        return Certificate(Estimate.unavailable(info), energy, formula=FORMULA, assumption=ASSUMPTION)
    block = {k: info[k] for k in ("e0", "e1", "gap", "method", "resolution")}
    block |= {"energy": energy, "formula": FORMULA, "assumption": ASSUMPTION}
    if not info["resolved"]:
        reason = (f"gap E1 - E0 = {info['gap']:.3g} not resolved (resolution {info['resolution']:.2g}): "
                  "the ground level is (nearly) degenerate, no fidelity bound")
        return Certificate(Estimate.unavailable(reason), **block)
    bound = fidelity_lower_bound(energy, info["e0"], info["e1"])
    if not info.get("converged", True):
        bound = Estimate(bound.mean, bound.stderr, bound.n, "; ".join(
            filter(None, (bound.note, "DMRG for E0/E1 not converged to tolerance"))))
    return Certificate(bound, **block)
