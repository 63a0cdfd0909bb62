"""qgen import and qgen attach: outputs, one-line errors, no partial or changed files."""

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from test_importers import SHARED, lab_pauli_records, write_records

from qgen.cli import cli
from qgen.datasets import read_pauli_records
from qgen.datasets.hdf5 import read_dataset
from qgen.measurements import log_prob, pauli4, sample
from qgen.targets import ghz, read_povm_genmodel_mps

EXAMPLE = Path(__file__).resolve().parents[1] / "datasets" / "examples" / "ghz4_pauli_records.txt"


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def one_line_error(res, fragment):
    lines = [line for line in res.output.splitlines() if line.strip()]
    return res.exit_code != 0 and len(lines) == 1 and lines[0].startswith("Error:") and fragment in lines[0]


@pytest.fixture(scope="module")
def records(tmp_path_factory):
    d = tmp_path_factory.mktemp("records")
    bases, signs = lab_pauli_records(ghz(3, dense=True).data, 1000, seed=1)
    return write_records(d / "ghz3.txt", bases, signs, compact=True)


def test_import_pauli_records_with_a_target(records, tmp_path):
    out = tmp_path / "d.h5"
    res = run("import", records, "--format", "pauli-basis", "--target", "ghz", "-o", out, "-q")
    assert res.exit_code == 0, res.output
    assert "1,000 shots of 3 qubits" in res.output and "NLL on the data" in res.output
    ds = read_dataset(out)
    assert ds.povm.name == "pauli6" and ds.target.name == "ghz" and ds.split == (800, 100, 100)
    assert sorted(map(tuple, ds.outcomes)) == sorted(map(tuple, read_pauli_records(records)))
    np.testing.assert_allclose(ds.log_prob, log_prob(ds.target.state, ds.povm, ds.outcomes))
    assert np.isfinite(ds.log_prob).all()
    info = run("info", out).output
    assert "ghz3.txt (pauli-basis, 1000 shots, shuffled)" in info


def test_attach_in_place_atomically_and_to_another_file(records, tmp_path):
    data = tmp_path / "d.h5"
    assert run("import", records, "--format", "pauli-basis", "--no-shuffle", "-o", data).exit_code == 0
    assert read_dataset(data).target is None
    before = data.read_bytes()
    res = run("attach", data, "--target", "ghz", "-o", tmp_path / "copy.h5", "-q")
    assert res.exit_code == 0, res.output
    assert data.read_bytes() == before and read_dataset(tmp_path / "copy.h5").target.name == "ghz"
    res = run("attach", data, "--target", "w", "-q")  # GHZ data cannot come from W: some strings have P = 0
    assert res.exit_code == 0 and "probability 0 under this target" in res.output
    assert read_dataset(data).target.name == "w"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["copy.h5", "d.h5"]  # no temporary files left


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--target", "ghz:n=4"], "says n = 4 but the data have 3"),
        (["--target", "tfim2d:lx=2,ly=2"], "lx·ly = 3"),
        (["--target", "nowhere.npz"], "'nowhere.npz' not found"),
        (["--target", "ghz", "--hamiltonian", "tfim2d"], "tfim2d needs lx·ly = 3"),
    ],
)
def test_attach_errors_leave_the_file_alone(records, tmp_path, args, fragment):
    data = tmp_path / "d.h5"
    assert run("import", records, "--format", "pauli-basis", "-o", data).exit_code == 0
    before = data.read_bytes()
    res = run("attach", data, *args)
    assert one_line_error(res, fragment), res.output
    assert data.read_bytes() == before


@pytest.mark.parametrize(
    "text, args, fragment",
    [
        ("q0,q1\n0,1\n", ["--format", "index", "--povm", "pauli4"], "line 1, column 1: 'q0' is not a number"),
        ("0 1\n0 9\n", ["--format", "index", "--povm", "pauli4"], "line 2, column 2: outcome 9 outside 0..3"),
        ("0 1\n", ["--format", "index"], "need their POVM stated"),
        ("0 1\n", ["--format", "index", "--povm", "pauli4", "--n-qubits", "3"], "rows hold 2 qubits but 3"),
        ("X Z 0 1\n", ["--format", "pauli-basis", "--povm", "pauli4"], "Pauli-basis records are Pauli-6"),
        ("X Z 0 1\n", ["--format", "pauli-basis", "--values", "sign"], "result '0' is not a sign"),
        ("0 1\n", ["--povm", "pauli4"], "Missing option '--format'"),
        ("0 1\n" * 10, ["--format", "index", "--povm", "pauli4", "--target", "ghz:n=3"], "says n = 3"),
    ],
)
def test_import_errors_write_nothing(tmp_path, text, args, fragment):
    (tmp_path / "r.txt").write_text(text)
    res = run("import", tmp_path / "r.txt", *args, "-o", tmp_path / "d.h5")
    assert one_line_error(res, fragment), res.output
    assert not (tmp_path / "d.h5").exists()


def test_skip_rows_and_non_uniform_bases_warning(tmp_path):
    (tmp_path / "h.csv").write_text("q0,q1\n" + "0,1\n2,3\n" * 5)
    res = run("import", tmp_path / "h.csv", "--format", "index", "--povm", "tetra", "--skip-rows", "1",
              "-o", tmp_path / "h.h5")
    assert res.exit_code == 0 and read_dataset(tmp_path / "h.h5").povm.name == "tetra"
    (tmp_path / "zx.txt").write_text("ZX 0 1\nXZ 1 1\n" * 300)  # never Y: not the Pauli-6 POVM
    res = run("import", tmp_path / "zx.txt", "--format", "pauli-basis", "-o", tmp_path / "zx.h5")
    assert res.exit_code == 0 and "not uniformly random (qubit 0: X 50%, Y 0%, Z 50%)" in res.output
    assert "warning" in run("info", tmp_path / "zx.h5").output


def test_shipped_example_records_import():
    res = run("import", EXAMPLE, "--format", "pauli-basis", "--target", "ghz", "-o", "/dev/null/x.h5")
    assert one_line_error(res, "does not exist")  # output checked before reading anything
    with CliRunner().isolated_filesystem():
        res = run("import", EXAMPLE, "--format", "pauli-basis", "--target", "ghz", "-o", "g.h5", "-q")
        assert res.exit_code == 0 and "warning" not in res.output, res.output
        assert read_dataset("g.h5").n_qubits == 4


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared/data not beside the checkout")
def test_paper_onehot_rows_with_the_published_mps(tmp_path):
    """The paper's pair: one-hot training rows (np.savetxt floats) and the 50-qubit MPS as target."""
    mps = read_povm_genmodel_mps(SHARED / "index.txt", SHARED / "tensor.txt").right_canonical()
    x = sample(mps, pauli4(), 300, seed=5)
    np.savetxt(tmp_path / "train.txt", np.eye(4)[x].reshape(len(x), -1))
    res = run("import", tmp_path / "train.txt", "--format", "onehot", "--povm", "pauli4", "--no-shuffle",
              "--target", SHARED, "--hamiltonian", "tfim:J=-1,h=-1", "-o", tmp_path / "p.h5", "-q")
    assert res.exit_code == 0, res.output
    ds = read_dataset(tmp_path / "p.h5")
    np.testing.assert_array_equal(ds.outcomes, x)
    np.testing.assert_allclose(ds.log_prob, log_prob(mps, pauli4(), x), rtol=1e-10)
    assert ds.target.hamiltonian.params["J"] == -1.0
