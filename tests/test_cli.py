"""The command line end to end at tiny sizes, and its one-line error policy."""

import json
import subprocess
import sys

import h5py
import numpy as np
import pytest
from click.testing import CliRunner

from qgen.cli import cli
from qgen.datasets.hdf5 import read_dataset, read_samples


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_one_line_error(result, fragment):
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.output
    assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """simulate → train → sample → evaluate on a 4-qubit GHZ state."""
    d = tmp_path_factory.mktemp("cli")
    data, run_dir = d / "ghz4.h5", d / "run"
    out = {"simulate": run("simulate", "ghz", "--n", 4, "--samples", 4000, "--seed", 1, "-q", "-o", data)}
    out["train"] = run("train", data, "-o", run_dir, "--epochs", 15, "--batch-size", 500, "--model", "rnn", "--set",
                       "hidden=32", "-q")
    out["sample"] = run("sample", run_dir, "-n", 500, "-o", d / "samples.h5")
    out["evaluate"] = run("evaluate", run_dir, "--data", data, "--samples", 2000)
    return d, out


def test_pipeline_commands_succeed_and_write_files(pipeline):
    d, out = pipeline
    for name, res in out.items():
        assert res.exit_code == 0, (name, res.output)
    ds = read_dataset(d / "ghz4.h5")
    assert ds.n_samples == 4000 and ds.seed == 1 and ds.target.name == "ghz"
    x, lq, meta = read_samples(d / "samples.h5")
    assert x.shape == (500, 4) and np.all(lq <= 0) and meta["model"] == "rnn"
    report = json.loads((d / "run" / "report.json").read_text())
    assert 0.9 < report["scores"]["classical_fidelity"]["mean"] < 1.05
    assert report["exact"]["classical_fidelity"]["mean"] > 0.9  # 4^4 strings enumerated
    for f in ("model.safetensors", "checkpoint.safetensors", "metrics.jsonl", "training_curve.png",
              "correlation.png", "magnetization.png"):
        assert (d / "run" / f).is_file(), f
    assert "classical fidelity" in out["evaluate"].output


def test_simulate_prints_certificate(tmp_path):
    res = run("simulate", "tfim", "--n", 6, "--h", 0.8, "--samples", 200, "-q", "-o", tmp_path / "t.h5")
    assert res.exit_code == 0
    assert "E0 = -6." in res.output and "variance" in res.output
    info = run("info", tmp_path / "t.h5")
    assert info.exit_code == 0 and "tfim n=6" in info.output and "energy" in info.output


def test_resume_after_finished_run_is_a_no_op(pipeline):
    d, _ = pipeline
    res = run("train", d / "ghz4.h5", "-o", d / "run", "--epochs", 15, "--batch-size", 500, "--model", "rnn", "--set",
              "hidden=32", "--resume", "-q")
    assert res.exit_code == 0 and "15 epochs" in res.output


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["simulate", "tfim", "--n", "1", "-o", "{d}/x.h5"], "qubits"),
        (["simulate", "tfim", "--n", "4", "--povm", "nope", "-o", "{d}/x.h5"], "--povm"),
        (["simulate", "tfim", "--n", "4", "-o", "{d}/missing/x.h5"], "does not exist"),
        (["simulate", "tfim", "--n", "4", "--samples", "0", "-o", "{d}/x.h5"], "--samples"),
        (["simulate", "ghz", "--n", "4", "--noise", "2", "-o", "{d}/x.h5"], "[0, 1]"),
        (["simulate", "tfim2d", "--lx", "2", "-o", "{d}/x.h5"], "lx and ly"),
        (["info", "{d}/nothing.h5"], "not found"),
        (["info", "{d}/corrupt.h5"], "not a readable HDF5"),
        (["train", "{d}/corrupt.h5", "-o", "{d}/r"], "not a readable HDF5"),
        (["train", "{d}/ghz4.h5", "-o", "{d}/r2", "--model", "nope"], "unknown model"),
        (["train", "{d}/ghz4.h5", "-o", "{d}/r2", "--set", "hidden"], "KEY=VALUE"),
        (["train", "{d}/ghz4.h5", "-o", "{d}/r2", "--max-time", "soon"], "duration"),
        (["evaluate", "{d}/run", "--data", "{d}/ghz6.h5"], "expected"),
        (["sample", "{d}/run", "-n", "0", "-o", "{d}/s.h5"], "-n"),
    ],
)
def test_bad_input_one_line_error_and_no_output(pipeline, args, fragment):
    d, _ = pipeline
    (d / "corrupt.h5").write_bytes(b"\x89HDF\r\n\x1a\n garbage")
    if not (d / "ghz6.h5").exists():
        assert run("simulate", "ghz", "--n", 6, "--samples", 100, "-q", "-o", d / "ghz6.h5").exit_code == 0
    before = set(p.name for p in d.iterdir())
    res = run(*[a.format(d=d) for a in args])
    assert_one_line_error(res, fragment)
    assert set(p.name for p in d.iterdir()) <= before | {"r2"}  # nothing half-written beside the inputs
    assert not (d / "x.h5").exists() and not (d / "s.h5").exists()


def test_console_script_exit_code_and_stderr(tmp_path):
    proc = subprocess.run([sys.executable, "-c", "from qgen.cli import main; main()", "info", str(tmp_path / "no.h5")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.strip().startswith("Error:") and "Traceback" not in proc.stderr
    assert proc.stdout == ""


def test_simulated_file_has_no_traces_of_temp_files(tmp_path):
    run("simulate", "w", "--n", 5, "--samples", 100, "-q", "-o", tmp_path / "w.h5")
    assert [p.name for p in tmp_path.iterdir()] == ["w.h5"]
    with h5py.File(tmp_path / "w.h5") as f:
        assert f.attrs["format"] == "qgen-dataset"


@pytest.mark.parametrize(
    "args, name",
    [
        (["heisenberg", "--n", "6", "--boundary", "periodic"], "heisenberg"),
        (["xxz", "--n", "6", "--delta", "0.5"], "xxz"),
        (["tfim2d", "--lx", "2", "--ly", "3", "--method", "dmrg"], "tfim2d"),
        (["cluster", "--n", "7", "--povm", "tetra"], "cluster"),
        (["product", "--n", "3", "--product", "+i", "--povm", "pauli6", "--noise", "0.1"], "product"),
        (["tfim", "--n", "14", "--method", "dmrg", "--boundary", "periodic"], "tfim"),
    ],
)
def test_simulate_every_target_kind(tmp_path, args, name):
    res = run("simulate", *args, "--samples", 300, "-q", "-o", tmp_path / "d.h5")
    assert res.exit_code == 0, res.output
    ds = read_dataset(tmp_path / "d.h5")
    assert ds.target.name == name and np.all(np.isfinite(ds.log_prob))
    if ds.target.hamiltonian is not None:  # the stored state has the stored energy
        from qgen.scores import exact_observable

        c, o = ds.target.hamiltonian.pauli_indices()
        assert abs(exact_observable(ds.target.state, c, o) - ds.target.info["energy"]) < 1e-8
