"""Circuits as target specs (``circuit:FILE.qasm`` in :func:`qgen.targets.parse_target`, so in
``qgen simulate --target``, ``qgen import --target`` and ``qgen attach``), checked against
independent references: the GHZ builder's state vector, Qiskit's ``Statevector`` (reversed
into qgen's qubit order), and SHA-256 of the canonical program text computed here with
hashlib.  Error cases are one line with a non-zero exit code, and write nothing."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from click.testing import CliRunner

import qgen.targets.circuits as circuits
from qgen.cli import cli
from qgen.datasets import simulate
from qgen.datasets.hdf5 import read_dataset, write_dataset
from qgen.errors import FormatError
from qgen.measurements import pauli4
from qgen.targets import ghz, make_target, parse_target
from qgen.targets.circuits import canonical_qasm

GHZ2 = ('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[4];\ncreg c[4];\nh q[0];\ncx q[0],q[1];\ncx q[1],q[2];\n'
        'cx q[2],q[3];\nmeasure q -> c;\n')
GHZ3 = ('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[4] q;\nbit[4] c;\nh q[0];\ncx q[0], q[1];\ncx q[1], q[2];\n'
        'cx q[2], q[3];\nc = measure q;\n')


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    """|⟨a|b⟩| of two normalised vectors: 1 when they agree up to a global phase."""
    return abs(np.vdot(a / np.linalg.norm(a), b / np.linalg.norm(b)))


def one_line_error(result, fragment: str) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code != 0 and len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert fragment in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def files(tmp_path):
    (tmp_path / "ghz2.qasm").write_text(GHZ2)
    (tmp_path / "ghz3.qasm").write_text(GHZ3)
    return tmp_path


@pytest.mark.parametrize("reader", ["default", "quimb"])
@pytest.mark.parametrize("name, text", [("ghz2.qasm", GHZ2), ("ghz3.qasm", GHZ3)])
def test_ghz_program_equals_ghz_builder(files, name, text, reader, monkeypatch):
    """GHZ-4 in OpenQASM 2 and 3 (version from the header), read by Qiskit when installed
    and by quimb as without Qiskit: the target's state is the GHZ builder's up to a phase."""
    if reader == "quimb":
        monkeypatch.setattr(circuits, "_have", lambda module: False)
    t = parse_target(f"circuit:{files / name}", 4)
    assert overlap(t.state.to_dense(), ghz(4).to_dense()) == pytest.approx(1, abs=1e-10)
    assert t.name == "circuit" and t.n_qubits == 4 and t.hamiltonian is None
    assert t.info["bond_dims"] == [2, 2, 2] and t.info["max_bond"] == 2 and t.info["truncation_error"] < 1e-12
    sha = hashlib.sha256(canonical_qasm(text).encode()).hexdigest()
    assert t.info["sha256"] == t.params["sha256"] == sha and t.params["file"] == str(files / name)
    assert reader == "default" or t.info["reader"] == "quimb"


def test_random_five_qubit_circuit_equals_statevector(tmp_path):
    """Random shallow 5-qubit circuits (gates on up to 3 qubits) written as OpenQASM 2 and
    3 files: |⟨target|Statevector⟩| = 1 to 1e-10; options after commas reach the simulator
    and the noise model."""
    pytest.importorskip("qiskit")
    from qiskit import qasm2, qasm3
    from qiskit.circuit.random import random_circuit
    from qiskit.quantum_info import Statevector

    for seed in range(3):
        qc = random_circuit(5, 3, max_operands=3, seed=seed)
        ref = Statevector(qc).reverse_qargs().data
        for k, dumps in enumerate((qasm2.dumps, qasm3.dumps)):
            path = tmp_path / f"r{seed}_{k}.qasm"
            path.write_text(dumps(qc))
            t = parse_target(f"circuit:{path}", 5)
            assert overlap(t.state.to_dense(), ref) == pytest.approx(1, abs=1e-10), (seed, k)
    noisy = parse_target(f"circuit:{path},noise=0.1,max_bond=64,cutoff=1e-10", None)
    assert noisy.noise == pytest.approx(0.1) and noisy.params["noise"] == pytest.approx(0.1)
    assert noisy.info["max_bond_limit"] == 64 and noisy.info["cutoff"] == 1e-10
    assert overlap(noisy.state.with_noise(0.0).to_dense(), ref) == pytest.approx(1, abs=1e-10)


def test_cli_simulate_then_info_and_attach(files, monkeypatch):
    """``qgen simulate --target circuit:F.qasm`` writes the circuit's state as the target
    (kind, hash and bonds shown by ``qgen info``); ``qgen attach --target circuit:…`` puts
    it on measured data."""
    monkeypatch.chdir(files)
    res = CliRunner().invoke(cli, ["simulate", "--target", "circuit:ghz3.qasm", "--povm", "pauli4",
                                   "--samples", "400", "-o", "g.h5", "-q"])
    assert res.exit_code == 0, res.output
    sha = hashlib.sha256(canonical_qasm(GHZ3).encode()).hexdigest()
    assert f"sha256 {sha[:16]}" in res.output
    res = CliRunner().invoke(cli, ["info", "g.h5"])
    assert res.exit_code == 0 and "target    circuit n=4 (MPS, max bond 2)" in res.output, res.output
    assert f"sha256={sha}" in res.output and "bond_dims" not in res.output  # lists are not shown
    ds = read_dataset("g.h5")
    assert ds.target.name == "circuit" and ds.target.info["bond_dims"] == [2, 2, 2]
    assert overlap(ds.target.state.to_dense(), ghz(4).to_dense()) == pytest.approx(1, abs=1e-10)
    assert np.isfinite(ds.log_prob).all()
    write_dataset(simulate(make_target("ghz", n=4), pauli4(), 200, seed=1), "plain.h5")
    res = CliRunner().invoke(cli, ["attach", "plain.h5", "--target", "circuit:ghz2.qasm"])
    assert res.exit_code == 0, res.output
    assert read_dataset("plain.h5").target.params["file"] == "ghz2.qasm"


@pytest.mark.parametrize("args, fragment", [
    (["simulate", "--target", "circuit:nope.qasm", "-o", "x.h5"], "circuit file 'nope.qasm' not found"),
    (["simulate", "--target", "circuit:bad.qasm", "-o", "x.h5"], "not valid OpenQASM 2"),
    (["simulate", "--target", "circuit:nohead.qasm", "-o", "x.h5"], "no 'OPENQASM 2.0;' or 'OPENQASM 3.0;' header"),
    (["simulate", "--target", "circuit:", "-o", "x.h5"], "names no file"),
    (["simulate", "--target", "circuit:ghz2.qasm,bond=3", "-o", "x.h5"], "KEY one of max_bond, cutoff, noise"),
    (["simulate", "--target", "circuit:ghz2.qasm", "--n", "5", "-o", "x.h5"], "has 4 qubits but"),
    (["simulate", "ghz", "--target", "circuit:ghz2.qasm", "-o", "x.h5"], "either a target KIND or --target"),
    (["simulate", "--target", "circuit:ghz2.qasm", "--noise", "0.1", "-o", "x.h5"], "--noise set a KIND"),
    (["attach", "five.h5", "--target", "circuit:ghz2.qasm"], "the circuit in 'ghz2.qasm' has 4 qubits but the "
                                                            "data have 5"),
])
def test_cli_errors_are_one_line(files, monkeypatch, args, fragment):
    monkeypatch.chdir(files)
    (files / "bad.qasm").write_text('OPENQASM 2.0;\ninclude "qelib1.inc";\nqreg q[2];\nfoo q[0];\n')
    (files / "nohead.qasm").write_text("qreg q[2];\nh q[0];\n")
    write_dataset(simulate(make_target("ghz", n=5), pauli4(), 50, seed=0), "five.h5")
    before = (files / "five.h5").read_bytes()
    one_line_error(CliRunner().invoke(cli, args), fragment)
    assert not (files / "x.h5").exists() and (files / "five.h5").read_bytes() == before


def test_without_qiskit_names_the_extra(files, monkeypatch):
    """Without Qiskit, OpenQASM that quimb's reader cannot parse is refused in one line that
    names the extra to install."""
    monkeypatch.setattr(circuits, "_have", lambda module: False)
    (files / "ctrl.qasm").write_text('OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[2] q;\nh q[0];\n'
                                     'ctrl @ x q[0], q[1];\n')
    with pytest.raises(FormatError) as err:
        parse_target(f"circuit:{files / 'ctrl.qasm'}", 2)
    assert "pip install 'qgen[qiskit]'" in str(err.value) and "\n" not in str(err.value)
