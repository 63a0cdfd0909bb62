"""The documented Python path for a physicist's own Hamiltonian (README, notebook 02), run
verbatim at a small size, with its physics checked against QuTiP exact diagonalisation."""

import json

import numpy as np
import qutip

# The README snippet, character for character; the test shrinks only the three size knobs.
SNIPPET = '''\
import qgen
from qgen.certificate import certificate
from qgen.evaluation import evaluate
from qgen.models import create_model
from qgen.stats import Estimate
from qgen.training import TrainConfig, train
n = 20
H = qgen.Hamiltonian.from_terms(                      # TFIM with a longitudinal field
    [(-1.0, "ZZ", (i, i + 1)) for i in range(n - 1)]
    + [(-1.0, "X", (i,)) for i in range(n)] + [(-0.3, "Z", (i,)) for i in range(n)],
    name="tfim+hz")
target = qgen.target_from_hamiltonian(H)              # ground state: exact ≤ 12 qubits, DMRG above
ds = qgen.simulate(target, qgen.pauli4(), 50_000, seed=0)
model = create_model("rnn", ds.n_qubits, ds.povm.n_outcomes)
train(model, ds.train, ds.val, TrainConfig(max_time="1m"), "runs/custom")
report = evaluate(model, ds)                          # F_c, KL, observables: Estimates as dicts
energy = Estimate.from_dict(report["observables"]["energy"]["model"])
cert = certificate(ds, energy)                        # F ≥ 1 − (⟨H⟩ − E0)/(E1 − E0)
'''

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

    scores = report["scores"]
    assert scores["classical_fidelity"]["mean"] > 0.97, scores["classical_fidelity"]
    exact = report["exact"]  # N = 6: every score also by enumeration of the 4^6 strings
    assert abs(exact["classical_fidelity"]["mean"] - scores["classical_fidelity"]["mean"]) < 0.02
    assert exact["quantum_fidelity"]["mean"] > 0.7
    obs = report["observables"]["energy"]
    assert abs(obs["exact"] - vals[0]) < 1e-10
    assert abs(obs["model"]["mean"] - vals[0]) < 5 * obs["model"]["stderr"] + 0.3

    # the certificate used the exact spectrum (longitudinal field: no degeneracy), and its error
    # bar is the energy's divided by the gap
    assert abs(cert["e0"] - vals[0]) < 1e-10 and abs(cert["e1"] - vals[1]) < 1e-10
    assert cert["energy"] == obs["model"]
    json.dumps(cert)
    if cert["bound"]["mean"] is not None:
        assert abs(cert["bound"]["stderr"] - obs["model"]["stderr"] / (vals[1] - vals[0])) < 1e-12
    else:  # ρ_q of a POVM model need not be physical; then the bound is refused, with the reason
        assert "not a physical state" in cert["bound"]["note"]
