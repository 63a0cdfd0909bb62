"""The documented Python path for a physicist's own Hamiltonian (README, notebook 02), run
verbatim at a small size, with its physics checked against QuTiP exact diagonalisation."""

import json
from pathlib import Path

import numpy as np
import qutip

# The README's Python snippet (the first ```python block after "### Python"), run as
# written; the test shrinks only the three size knobs.
README = Path(__file__).resolve().parents[1] / "README.md"
_TOUR = README.read_text(encoding="utf-8").split("### Python\n", 1)[1]
SNIPPET = _TOUR.split("```python\n", 1)[1].split("```", 1)[0]

SMALL = {"n = 20": "n = 6", "50_000": "10_000", 'max_time="1m"': 'max_time="30s"'}


def qutip_tfim_hz(n, J, h, hz):
    def site(op, i):
        return qutip.tensor([op if k == i else qutip.qeye(2) for k in range(n)])

    zz = sum(site(qutip.sigmaz(), i) * site(qutip.sigmaz(), i + 1) for i in range(n - 1))
    return -J * zz - sum(h * site(qutip.sigmax(), i) + hz * site(qutip.sigmaz(), i) for i in range(n))


def test_snippet_is_short():
    assert len(SNIPPET.strip().splitlines()) < 20


def test_custom_hamiltonian_snippet_end_to_end(tmp_path, monkeypatch):
    code = SNIPPET
    for old, new in SMALL.items():
        assert code.count(old) == 1, old
        code = code.replace(old, new)
    monkeypatch.chdir(tmp_path)
    ns: dict = {}
    exec(compile(code, "snippet", "exec"), ns)  # noqa: S102 - the documented snippet itself

    vals, vecs = np.linalg.eigh(qutip_tfim_hz(6, 1.0, 1.0, 0.3).full())
    target, report, cert = ns["target"], ns["report"], ns["cert"]
    assert target.name == "tfim+hz" and target.info["method"] == "exact"
    assert abs(target.info["energy"] - vals[0]) < 1e-10
    assert abs(abs(np.vdot(vecs[:, 0], target.state.data)) - 1) < 1e-10
    assert (tmp_path / "runs" / "custom" / "model.safetensors").exists()

    scores = report.scores
    assert scores.classical_fidelity.mean > 0.97, scores.classical_fidelity
    exact = report.exact  # N = 6: every score also by enumeration of the 4^6 strings
    assert abs(exact.classical_fidelity.mean - scores.classical_fidelity.mean) < 0.02
    assert exact.quantum_fidelity.mean > 0.7
    obs = report.observables["energy"]
    assert abs(obs.exact[0] - vals[0]) < 1e-10
    assert abs(obs.model[0].mean - vals[0]) < 5 * obs.model[0].stderr + 0.3

    # the certificate used the exact spectrum (longitudinal field: no degeneracy), and its error
    # bar is the energy's divided by the gap
    assert abs(cert.e0 - vals[0]) < 1e-10 and abs(cert.e1 - vals[1]) < 1e-10
    assert cert.energy == obs.model[0]
    json.dumps(cert.to_dict())
    if cert.bound.available:
        assert abs(cert.bound.stderr - obs.model[0].stderr / (vals[1] - vals[0])) < 1e-12
    else:  # ρ_q of a POVM model need not be physical; then the bound is refused, with the reason
        assert "not a physical state" in cert.bound.note
