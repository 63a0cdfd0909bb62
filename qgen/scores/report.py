"""The evaluation report as typed objects: a :class:`Report` with one dataclass per section,
each with ``to_dict``/``from_dict``.  The JSON form is plain nested dicts (every estimate
an :meth:`Estimate.to_dict`), readable on its own, and carries ``version`` =
:data:`REPORT_VERSION`; version-1 files (before the version key) still read.

Sections: the verdict on the prepared state (:class:`Verdict`, with the local fidelity map
:class:`LocalMap`), what was scored (:class:`ModelInfo`, :class:`DatasetInfo`), the scores from
samples (:class:`Scores`), the exact ones by enumeration (:class:`ExactScores`, small N),
the observables (:class:`ObservableFamily`: exact / model / raw data / test data), and the
ground-state certificate from the model's and the data's energies (:class:`Certificate`).

Example
-------
>>> from qgen.stats import Estimate
>>> e = Estimate(0.99, 0.01, 100)
>>> fam = ObservableFamily(axis=None, exact=[0.5], model=[e], data=[e], test=[e], model_minus_test=[e - e])
>>> ObservableFamily.from_dict(fam.to_dict()) == fam
True
>>> fam.to_dict()["exact"]   # a single observable is stored flat
0.5
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from qgen.stats import Estimate

__all__ = [
    "REPORT_VERSION", "Report", "Verdict", "LocalMap", "ModelInfo", "DatasetInfo", "Scores", "ExactScores",
    "ObservableFamily", "Certificate", "Certificates",
]

REPORT_VERSION = 2
"""Version of the report's JSON form (1: the untyped dict of qgen ≤ 0.x, no version key)."""


def _estimates_to_dict(obj: Any) -> dict[str, Any]:
    return {f.name: getattr(obj, f.name).to_dict() for f in fields(obj)}


def _estimates_from_dict(cls: type, d: dict[str, Any]):
    return cls(**{f.name: Estimate.from_dict(d[f.name]) for f in fields(cls) if f.name in d})


@dataclass
class ModelInfo:
    """The scored model: registered name, likelihood kind, number of weights, config."""

    name: str
    likelihood: str
    parameters: int
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "likelihood": self.likelihood, "parameters": self.parameters,
                "config": self.config}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ModelInfo:
        return cls(d["name"], d["likelihood"], d["parameters"], d["config"])


@dataclass
class DatasetInfo:
    """The data scored against: qubits, POVM name, split, and the target's description
    (None for measured data without a target)."""

    n_qubits: int
    povm: str
    split: list[int]
    target: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"n_qubits": self.n_qubits, "povm": self.povm, "split": list(self.split), "target": self.target}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> DatasetInfo:
        return cls(d["n_qubits"], d["povm"], list(d["split"]), d.get("target"))


@dataclass
class Scores:
    """Scores from model samples (see :func:`qgen.workflows.evaluate`)."""

    classical_fidelity: Estimate
    kl_target_model: Estimate
    kl_model_target: Estimate
    quantum_fidelity: Estimate
    test_nll: Estimate

    to_dict = _estimates_to_dict

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scores:
        return _estimates_from_dict(cls, d)


@dataclass
class ExactScores:
    """Scores by enumeration of all K^N strings (:func:`qgen.scores.exact_scores`)."""

    classical_fidelity: Estimate
    kl_target_model: Estimate
    kl_model_target: Estimate
    quantum_fidelity: Estimate
    trace: Estimate
    min_eigenvalue: Estimate

    to_dict = _estimates_to_dict

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ExactScores:
        missing = Estimate.unavailable("not computed for a model without likelihood")
        return cls(**{f.name: Estimate.from_dict(d[f.name]) if f.name in d else missing for f in fields(cls)})


@dataclass
class ObservableFamily:
    """One family of observables (the energy; ⟨σx_i⟩ per site; C(r) per distance):
    ``axis`` (sites or distances; None for a single observable), the exact values (None
    without a target), and the estimates from model samples, the raw training data, the
    held-out test data, and model − test data."""

    axis: list[int] | None
    exact: list[float] | None
    model: list[Estimate]
    data: list[Estimate]
    test: list[Estimate]
    model_minus_test: list[Estimate]

    _ESTIMATES = ("model", "data", "test", "model_minus_test")

    def view(self, k: int) -> ObservableFamily:
        """The k-th observable of the family alone (axis None)."""
        return ObservableFamily(None, None if self.exact is None else [self.exact[k]],
                                *([getattr(self, key)[k]] for key in self._ESTIMATES))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"axis": self.axis, "exact": self.exact}
        out |= {key: [e.to_dict() for e in getattr(self, key)] for key in self._ESTIMATES}
        if self.axis is None:  # a single observable: its values, not lists of one
            out = {k: (v[0] if isinstance(v, list) else v) for k, v in out.items() if k != "axis"}
        return out

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ObservableFamily:
        if "axis" not in d:  # a single observable
            exact = None if d["exact"] is None else [d["exact"]]
            return cls(None, exact, *([Estimate.from_dict(d[key])] for key in cls._ESTIMATES))
        return cls(d["axis"], d["exact"], *([Estimate.from_dict(e) for e in d[key]] for key in cls._ESTIMATES))


@dataclass
class Certificate:
    """The ground-state fidelity bound F ≥ 1 − (⟨H⟩ − E0)/(E1 − E0) from one energy
    (:func:`qgen.scores.certificate`); ``bound`` is unavailable, with the reason, when
    none can be given."""

    bound: Estimate
    energy: Estimate
    e0: float | None = None
    e1: float | None = None
    gap: float | None = None
    method: str | None = None
    resolution: float | None = None
    formula: str = ""
    assumption: str = ""

    _NUMBERS = ("e0", "e1", "gap", "method", "resolution", "formula", "assumption")

    def to_dict(self) -> dict[str, Any]:
        return {"bound": self.bound.to_dict(), "energy": self.energy.to_dict(),
                **{k: getattr(self, k) for k in self._NUMBERS}}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Certificate:
        return cls(Estimate.from_dict(d["bound"]), Estimate.from_dict(d["energy"]),
                   **{k: d.get(k) for k in cls._NUMBERS if d.get(k) is not None})


@dataclass
class Certificates:
    """The certificate from the model's energy and from the raw data's (the measured state,
    which is physical)."""

    model: Certificate
    data: Certificate

    def to_dict(self) -> dict[str, Any]:
        return {"model": self.model.to_dict(), "data": self.data.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Certificates:
        return cls(Certificate.from_dict(d["model"]), Certificate.from_dict(d["data"]))


@dataclass
class LocalMap:
    """Local fidelities (:mod:`qgen.scores.local`): for each set of qubits, the fidelity of
    the model's and of the raw data's reduced state with the target's."""

    sets: list[tuple[int, ...]]
    model: list[Estimate]
    data: list[Estimate]

    def to_dict(self) -> dict[str, Any]:
        return {"sets": [list(s) for s in self.sets], "model": [e.to_dict() for e in self.model],
                "data": [e.to_dict() for e in self.data]}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LocalMap:
        return cls([tuple(s) for s in d["sets"]], [Estimate.from_dict(e) for e in d["model"]],
                   [Estimate.from_dict(e) for e in d["data"]])

    def worst(self, size: int = 1) -> tuple[tuple[int, ...], Estimate, Estimate] | None:
        """The set of ``size`` qubits whose raw-data fidelity is lowest, with both fidelities."""
        rows = [(s, m, d) for s, m, d in zip(self.sets, self.model, self.data) if len(s) == size and d.available]
        return min(rows, key=lambda r: r[2].mean, default=None)


@dataclass
class Verdict:
    """What is known about the prepared state against the (ideal, pure) target ψ, and how.

    ``fidelity`` is ⟨ψ|ρ|ψ⟩ of the model's reconstruction ρ (its note says whether exact —
    tensor-network contraction or enumeration of every string — or estimated from model
    samples), ``physical_fidelity`` that of the nearest density matrix when ρ is not one,
    ``min_eigenvalue`` ρ's smallest eigenvalue, ``data_fidelity`` the raw data's own
    dual-frame estimate, ``true_fidelity`` the simulated state's exact value when the data
    were simulated from a known noisy state, ``certificate`` the energy–gap bound from the
    model's energy, ``impossible`` the number of measured strings the target gives
    probability 0 (the noise being measured) out of ``n_strings``, ``local`` the local
    fidelity map, and ``corrected`` (with bootstrap refits) the bias-corrected estimate of
    the prepared state's fidelity (:func:`qgen.workflows.refits.bias_corrected`)."""

    fidelity: Estimate
    physical_fidelity: Estimate
    min_eigenvalue: Estimate
    data_fidelity: Estimate
    true_fidelity: Estimate
    certificate: Certificate
    impossible: int | None
    n_strings: int
    local: LocalMap | None
    corrected: Estimate | None = None

    _ESTIMATES = ("fidelity", "physical_fidelity", "min_eigenvalue", "data_fidelity", "true_fidelity")

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k).to_dict() for k in self._ESTIMATES} | {
            "certificate": self.certificate.to_dict(), "impossible": self.impossible, "n_strings": self.n_strings,
            "local": None if self.local is None else self.local.to_dict(),
            "corrected": None if self.corrected is None else self.corrected.to_dict()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Verdict:
        local = None if d.get("local") is None else LocalMap.from_dict(d["local"])
        corrected = None if d.get("corrected") is None else Estimate.from_dict(d["corrected"])
        return cls(*(Estimate.from_dict(d[k]) for k in cls._ESTIMATES), Certificate.from_dict(d["certificate"]),
                   d.get("impossible"), d["n_strings"], local, corrected)


@dataclass
class Report:
    """Everything :func:`qgen.workflows.evaluate` finds, section by section; the verdict
    first.  ``refits``: the number of bootstrap refits behind the estimates'
    ``data_stderr`` (0: the model's scores carry no finite-data error;
    :mod:`qgen.workflows.refits`)."""

    verdict: Verdict | None
    model: ModelInfo
    dataset: DatasetInfo
    n_model_samples: int
    seed: int
    scores: Scores
    exact: ExactScores | None
    observables: dict[str, ObservableFamily]
    certificate: Certificates
    refits: int = 0
    version: int = field(default=REPORT_VERSION)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version, "verdict": None if self.verdict is None else self.verdict.to_dict(),
            "model": self.model.to_dict(), "dataset": self.dataset.to_dict(),
            "n_model_samples": self.n_model_samples, "seed": self.seed, "scores": self.scores.to_dict(),
            "exact": None if self.exact is None else self.exact.to_dict(),
            "observables": {k: v.to_dict() for k, v in self.observables.items()},
            "certificate": self.certificate.to_dict(), "refits": self.refits,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Report:
        """Read a report's JSON form (version 1 or 2); a newer version is refused."""
        version = d.get("version", 1)
        if not isinstance(version, int) or version > REPORT_VERSION:
            raise ValueError(f"report version {version!r} is newer than this qgen reads ({REPORT_VERSION})")
        return cls(
            None if d.get("verdict") is None else Verdict.from_dict(d["verdict"]),
            ModelInfo.from_dict(d["model"]), DatasetInfo.from_dict(d["dataset"]), d["n_model_samples"], d["seed"],
            Scores.from_dict(d["scores"]), None if d.get("exact") is None else ExactScores.from_dict(d["exact"]),
            {k: ObservableFamily.from_dict(v) for k, v in d["observables"].items()},
            Certificates.from_dict(d["certificate"]), d.get("refits", 0), REPORT_VERSION,
        )
