"""Score a trained model against its dataset: the report behind ``qgen evaluate``.

Every number is an :class:`qgen.stats.Estimate` (mean ± standard error) or is marked
unavailable with the reason.  Observables are given three ways side by side: exact
(from the target state), from model samples, and from the raw measured data with the
same dual-frame estimator (the classical-shadow baseline), so one sees whether the
model adds anything.

Example
-------
>>> from qgen.targets import make_target
>>> from qgen.measurements import pauli4
>>> from qgen.datasets import simulate
>>> from qgen.models import create_model
>>> ds = simulate(make_target("ghz", n=4), pauli4(), 500, seed=0)
>>> report = evaluate(create_model("rnn", 4, 4), ds, n_samples=200, seed=0)
>>> sorted(report.to_dict()["scores"])
['classical_fidelity', 'kl_model_target', 'kl_target_model', 'quantum_fidelity', 'test_nll']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from qgen.datasets import Dataset, read_dataset
from qgen.measurements.frames import reconstruct_density_matrix
from qgen.measurements.povm import POVM
from qgen.measurements.sampling import log_prob as exact_log_prob
from qgen.models import GenerativeModel
from qgen.resources import check_memory, estimate_enumeration
from qgen.scores.certificates import certificate
from qgen.scores.distribution import classical_fidelity, kl_divergence
from qgen.scores.enumeration import DENSE_MAX_QUBITS, exact_scores
from qgen.scores.fidelity import quantum_fidelity
from qgen.scores.observables import (
    correlation_average,
    exact_observables,
    magnetization_ops,
    observables,
)
from qgen.scores.report import (
    Certificates,
    DatasetInfo,
    ExactScores,
    ModelInfo,
    ObservableFamily,
    Report,
    Scores,
)
from qgen.stats import Estimate, mean_estimate
from qgen.targets.states import State
from qgen.training import load_model
from qgen.training.config import MODEL_FILE
from qgen.workflows.draws import model_log_prob, model_sample
from qgen.workflows.refits import REFITS_DIR, attach_data_errors
from qgen.workflows.reports import write_report
from qgen.workflows.verdict import impossible_strings, verdict

__all__ = ["NO_TARGET", "evaluate", "evaluate_run", "ENUMERATE_MAX", "HISTOGRAM_MAX"]

NO_TARGET = "no target attached to the dataset"
"""Why target-based scores are unavailable for measured data without a target."""

ENUMERATE_MAX = 4**12
"""Largest K^N for which scores are also computed exactly by enumeration (when the model
can enumerate that many: ``model.enumeration_limit``)."""

HISTOGRAM_MAX = 4**8
"""Largest K^N for which a model without likelihood is scored by the histogram of its samples."""


def _families(ds: Dataset) -> dict[str, tuple[list, list, list | None]]:
    """Observable families as lists of (coefs, ops): the target's energy, per-site
    ⟨σx_i⟩ and ⟨σz_i⟩, and the translation-averaged C(r) = mean_i ⟨σz_i σz_{i+r}⟩."""
    n = ds.n_qubits
    fams: dict[str, tuple[list, list, list | None]] = {}
    if ds.target is not None and ds.target.hamiltonian is not None:
        c, o = ds.target.hamiltonian.pauli_indices()
        fams["energy"] = ([c], [o], None)
    for axis in ("x", "z"):
        ops = magnetization_ops(n, axis)
        fams[f"magnetization_{axis}"] = ([np.ones(1)] * n, [o[None] for o in ops], list(range(n)))
    corr = [correlation_average(n, r) for r in range(1, n)]
    fams["correlation_zz"] = ([c for c, _ in corr], [o for _, o in corr], list(range(1, n)))
    return fams


def _observables(ds: Dataset, x_model: np.ndarray) -> dict[str, ObservableFamily]:
    """Per family: exact values (None without a target), the estimates from model samples,
    from the raw training data and from the held-out test data, and model − test data
    (the test split is independent of the model, so the two error bars add in quadrature)."""
    target, povm = ds.target, ds.povm
    fams = _families(ds)
    coefs = [c for cs, _, _ in fams.values() for c in cs]
    opss = [o for _, os, _ in fams.values() for o in os]
    # every observable of every family in one pass over each sample set
    exact = exact_observables(target.state, coefs, opss).tolist() if target is not None else None
    model = observables(x_model, povm, coefs, opss)
    data = observables(ds.train, povm, coefs, opss)
    test = (observables(ds.test, povm, coefs, opss) if len(ds.test) > 1
            else [Estimate.unavailable("no test split")] * len(opss))
    out: dict[str, ObservableFamily] = {}
    start = 0
    for name, (cs, _, axis) in fams.items():
        part = slice(start, start + len(cs))
        start = part.stop
        diffs = [m - t for m, t in zip(model[part], test[part])]  # independent: errors add in quadrature
        out[name] = ObservableFamily(
            axis, None if exact is None else exact[part], model[part], data[part], test[part],
            [replace(d, note="model − held-out test data") if d.available else d for d in diffs])
    return out


def histogram_scores(x: np.ndarray, state: State, povm: POVM, n_boot: int = 20, seed: int = 0) -> dict[str, Estimate]:
    """Scores of a likelihood-free model (a GAN) for small N: the exact scores of the
    empirical distribution q̂ of its samples ``x`` against the exact P, with standard
    errors from a multinomial bootstrap of q̂.  q̂ is zero on unseen strings, so KL(P‖q̂)
    is often infinite and F_c is biased low by ≈ (number of strings)/(8 n) — the notes
    say so."""
    k, n_q = povm.n_outcomes, x.shape[1]
    counts = np.bincount(np.ravel_multi_index(tuple(x.T.astype(np.int64)), (k,) * n_q), minlength=k**n_q)
    rng = np.random.default_rng(seed)

    def scores(c: np.ndarray) -> dict[str, Estimate]:
        with np.errstate(divide="ignore"):
            return exact_scores(np.log(c / c.sum()), state, povm)

    base = scores(counts)
    boots = [scores(rng.multinomial(len(x), counts / len(x))) for _ in range(n_boot)]
    note = f"histogram of {len(x)} model samples vs exact P; bootstrap error"
    out = {}
    for key, est in base.items():
        vals = np.array([b[key].mean for b in boots])
        err = float(np.std(vals, ddof=1)) if np.all(np.isfinite(vals)) else float("nan")
        out[key] = Estimate(est.mean, err, len(x), note if np.isfinite(est.mean) else est.note)
    return out


def evaluate(
    model: GenerativeModel,
    ds: Dataset,
    *,
    n_samples: int = 20_000,
    seed: int = 0,
    enumerate_max: int = ENUMERATE_MAX,
    refits: Sequence[GenerativeModel] = (),
) -> Report:
    """Scores of ``model`` on dataset ``ds``, as a typed :class:`~qgen.scores.report.Report`
    (``report.to_dict()`` is its JSON form).

    * ``classical_fidelity``: F_c = Σ_a √(q P) = E_q[√(P/q)] (Carrasquilla et al. 2019,
      eq. 19) from ``n_samples`` model samples and the target's exact ln P;
    * ``kl_target_model``: KL(P‖q) = E_P[ln P − ln q] on the held-out test split (exact
      ln P stored in the file); ``kl_model_target``: KL(q‖P) from model samples;
    * ``test_nll``: −E_test[ln q] (needs no target);
    * ``quantum_fidelity``: ⟨ψ|ρ_q|ψ⟩ = E_q[⟨ψ|D^{a_1}⊗…⊗D^{a_N}|ψ⟩] for pure targets;
    * ``observables``: energy (when a Hamiltonian is known), ⟨σx_i⟩, ⟨σz_i⟩, C(r) — exact,
      model, raw training data, held-out test data, and model − test data;
    * ``certificate``: for a ground-state target, the bound F ≥ 1 − (⟨H⟩ − E0)/(E1 − E0)
      from the model's energy and from the raw data's (:func:`qgen.scores.certificate`);
    * ``exact``: for K^N ≤ ``enumerate_max``, F_c, both KLs and the fidelity of the
      reconstructed ρ_q = Σ_a q(a) D^a by enumeration of every string; for a model
      without likelihood (GAN), q is the histogram of its samples
      (:func:`histogram_scores`) and these also fill F_c and the KLs, else "n/a".

    Without a target (measured data) the fidelities and KLs are unavailable with the
    reason "no target attached"; the test NLL and the observables (model vs data) remain.

    ``refits``: bootstrap refits of the model (:func:`qgen.workflows.fit` with
    ``bootstrap``), each scored alike; every score that depends on the fit then carries
    the finite-data error ``data_stderr`` (:mod:`qgen.workflows.refits`).
    """
    if model.n_qubits != ds.n_qubits or model.n_outcomes != ds.povm.n_outcomes:
        raise ValueError(
            f"model is for {model.n_qubits} qubits / {model.n_outcomes} outcomes, dataset has "
            f"{ds.n_qubits} / {ds.povm.n_outcomes}"
        )
    if n_samples < 2:
        raise ValueError(f"need at least 2 model samples for error bars, got {n_samples}")
    model.eval()
    target, povm = ds.target, ds.povm
    x, lq = model_sample(model, n_samples, seed)
    has_lik = model.likelihood != "none"
    if has_lik and lq is None:
        lq = model_log_prob(model, x)
    no_lik = Estimate.unavailable(f"model '{model.name}' has no likelihood")
    no_target = Estimate.unavailable(NO_TARGET)

    scores: dict[str, Estimate] = {}
    test_lq = model_log_prob(model, ds.test) if has_lik and len(ds.test) else None
    if not has_lik:
        scores["test_nll"] = no_lik
    elif test_lq is None or len(test_lq) < 2:
        scores["test_nll"] = Estimate.unavailable("no test split")
    else:
        scores["test_nll"] = mean_estimate(-test_lq, note="" if model.likelihood == "exact" else "estimated likelihood")
    # the target's exact ln P on model samples is only needed with a model likelihood
    gpu = model.device if model.device.type == "cuda" else None  # the MPS sweeps run there too
    lp_model = exact_log_prob(target.state, povm, x, device=gpu) if target is not None and has_lik else None
    if target is None:
        for k in ("classical_fidelity", "kl_target_model", "kl_model_target", "quantum_fidelity"):
            scores[k] = no_target
    small = povm.n_outcomes**ds.n_qubits <= min(enumerate_max, HISTOGRAM_MAX)
    impossible = impossible_strings(ds) if target is not None and ds.measured else None
    hist = histogram_scores(x, target.state, povm, seed=seed) if target is not None and not has_lik and small else None
    if target is not None:
        scores["classical_fidelity"] = (classical_fidelity(lq, lp_model) if has_lik
                                        else hist["classical_fidelity"] if hist else no_lik)
        scores["kl_model_target"] = (kl_divergence(lq, lp_model) if has_lik
                                     else hist["kl_model_target"] if hist else no_lik)
        lp_test = ds.split_log_prob("test")
        scores["kl_target_model"] = (
            Estimate.unavailable(
                f"measured data: {impossible:,} of {ds.n_samples:,} strings are impossible under the "
                "target (the noise being measured), so the test strings are not draws from P") if ds.measured
            else hist["kl_target_model"] if hist else no_lik if not has_lik
            else Estimate.unavailable("no exact ln P stored for the test split") if lp_test is None or len(lp_test) < 2
            else kl_divergence(lp_test, test_lq)
        )
        scores["quantum_fidelity"] = quantum_fidelity(target.state, povm, x, device=gpu)
    if has_lik and model.likelihood == "estimate":
        for k in ("classical_fidelity", "kl_model_target", "kl_target_model"):
            note = "; ".join(filter(None, (scores[k].note, "uses the model's estimated likelihood")))
            scores[k] = replace(scores[k], note=note)

    exact, rho_q = None, None
    if hist is not None:
        exact = ExactScores(**hist)
    elif target is not None and has_lik and povm.n_outcomes**ds.n_qubits <= min(enumerate_max, model.enumeration_limit):
        check_memory(estimate_enumeration(ds.n_qubits, povm.n_outcomes),
                     f"enumerating all {povm.n_outcomes}^{ds.n_qubits} strings")
        lq_all = model.log_prob_all().cpu().numpy()
        if povm.is_ic and ds.n_qubits <= DENSE_MAX_QUBITS:
            rho_q = reconstruct_density_matrix(np.exp(lq_all), povm)
        exact = ExactScores(**exact_scores(lq_all, target.state, povm, rho_q=rho_q))

    families = _observables(ds, x)
    certs = _certificates(ds, families)
    the_verdict = None
    if target is not None:
        the_verdict = verdict(model, ds, x, certs.model,
                              rho_q=rho_q, min_eigenvalue=exact.min_eigenvalue if rho_q is not None else None,
                              impossible=impossible, sampled=scores["quantum_fidelity"], seed=seed)
    report = Report(
        verdict=the_verdict,
        model=ModelInfo(model.name, model.likelihood, sum(p.numel() for p in model.parameters()), model.config),
        dataset=DatasetInfo(ds.n_qubits, povm.name, list(ds.split), target.describe() if target is not None else None),
        n_model_samples=n_samples,
        seed=seed,
        scores=Scores(**scores),
        exact=exact,
        observables=families,
        certificate=certs,
    )
    if not refits:
        return report
    return attach_data_errors(report, [evaluate(m, ds, n_samples=n_samples, seed=seed, enumerate_max=enumerate_max)
                                       for m in tqdm(refits, desc="scoring refits", leave=False, disable=None)])


def _certificates(ds: Dataset, families: dict[str, ObservableFamily]) -> Certificates:
    """The ground-state fidelity bound F ≥ 1 − (⟨H⟩ − E0)/Δ (:mod:`qgen.scores.certificates`)
    from the model's energy and from the raw data's (the measured state, which is
    physical)."""
    energy = families.get("energy")
    if energy is None:
        why = Estimate.unavailable("no Hamiltonian attached to the target")
        return Certificates(certificate(ds, why), certificate(ds, why))
    return Certificates(certificate(ds, energy.model[0]), certificate(ds, energy.data[0]))


def evaluate_run(run: str | Path, data: str | Path, *, n_samples: int = 20_000, seed: int = 0,
                 out_dir: str | Path | None = None) -> tuple[Report, list[Path]]:
    """Score the best model of run directory ``run`` against the dataset file ``data`` and
    write ``report.json`` and the plots into ``out_dir`` (default: the run directory);
    the model must have been trained for the data's qubits and POVM.  The run's bootstrap
    refits (``run/bootstrap/<j>/``), when it has them, give the finite-data errors."""
    ds = read_dataset(data)
    model, _ = load_model(run, expect=ds.identity())
    where = sorted((Path(run) / REFITS_DIR).glob(f"*/{MODEL_FILE}"), key=lambda p: int(p.parent.name))
    refits = [load_model(p, expect=ds.identity())[0] for p in where]
    report = evaluate(model, ds, n_samples=n_samples, seed=seed, refits=refits if len(refits) >= 2 else ())
    return report, write_report(report, out_dir or run)
