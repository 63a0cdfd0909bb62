"""The bad-input corpus (:mod:`badinput.corpus`) run against every command and loader.

Every cell of the table cases × commands goes through the CLI (click's CliRunner; a few
through a real subprocess) and must end with exit status 1 or 2, exactly one output line
``Error: …`` naming the problem (no traceback), and every file under the test directory
exactly as before (no partial output, no temporary file, an existing output untouched, no
pickle payload run).  The public loaders get the same inputs and must raise the
project's own exception types with one-line messages.  ``CELLS`` is the corpus size.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from badinput.corpus import CASES, DATA, TARGET, Case, build_base
from click.testing import CliRunner

from qgen.cli import cli
from qgen.datasets import DatasetError, FormatError, import_records
from qgen.datasets.hdf5 import read_dataset, read_header, read_samples
from qgen.measurements import POVM, POVMError
from qgen.models import create_model
from qgen.resources import ResourceError
from qgen.targets import (
    MPS,
    DenseState,
    Hamiltonian,
    Target,
    ghz,
    make_target,
    parse_target,
    product_state,
    read_mps_npz,
    read_povm_genmodel_mps,
)
from qgen.training import TrainConfig, load_model

CELLS = [(case, command) for case in CASES for command in case.commands]
"""The table: one (case, command template) per CLI run."""


def _param(case: Case, command: str):
    marks = [pytest.mark.xfail(reason=case.xfail, strict=False, run=case.run)] if case.xfail else []
    return pytest.param(case, command, marks=marks, id=f"{case.id}:{command.split()[0]}")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> tuple[Path, dict[str, dict[str, str]]]:
    """The good files and every case's bad inputs, under one root; the names each case's
    commands use."""
    root = tmp_path_factory.mktemp("badinput")
    base = build_base(root)
    names = {}
    for case in CASES:
        d = root / case.id
        d.mkdir()
        names[case.id] = base | {"d": str(d)} | (case.make(d, base) if case.make else {})
    return root, names


def snapshot(root: Path, case_dir: Path) -> dict[str, tuple[int, int]]:
    """The files a command may touch: the entries of ``root`` (the working directory too)
    and everything under the good run and the case's directory, files with their size and
    modification time, directories by name (their own time changes when a file is
    created and removed in them, as the commands' writability probes do)."""
    out = {}
    for path in (*root.iterdir(), *(root / "run").rglob("*"), *case_dir.rglob("*")):
        st = path.stat()
        out[str(path.relative_to(root))] = (st.st_size, st.st_mtime_ns) if path.is_file() else (-1, 0)
    return out


def assert_one_line_error(exit_code: int, output: str, fragment: str) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert exit_code in (1, 2), (exit_code, output)
    assert "Traceback" not in output, output
    assert len(lines) == 1 and lines[0].startswith("Error: "), output
    assert re.search(fragment, lines[0]), f"/{fragment}/ not in: {lines[0]}"


@pytest.mark.parametrize("case, command", [_param(c, cmd) for c, cmd in CELLS])
def test_every_command_refuses_bad_input_in_one_line_and_writes_nothing(corpus, case, command, monkeypatch):
    root, names = corpus
    if "/proc" in command and not Path("/proc").is_dir():
        pytest.skip("no /proc on this system")
    monkeypatch.chdir(root)  # a default output path would land where it is seen
    args = shlex.split(command.format(**names[case.id]))
    before = snapshot(root, root / case.id)
    result = CliRunner().invoke(cli, args)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert_one_line_error(result.exit_code, result.output, case.fragment)
    after = snapshot(root, root / case.id)
    assert after == before, {k: (before.get(k), after.get(k)) for k in set(before) | set(after)
                             if before.get(k) != after.get(k)}


def test_corpus_covers_every_category_and_command():
    """The issue's categories, every command, and the size of the table."""
    categories = {c.category for c in CASES}
    assert categories == {"hdf5", "schema", "fields", "outcomes", "povm", "target", "mismatch", "records", "numbers",
                          "sizes", "outputs", "untrusted", "checkpoint"}
    commands = {cmd.split()[0] for _, cmd in CELLS}
    assert commands == {"info", "train", "sample", "evaluate", "simulate", "import", "attach", "sweep", "compare",
                        "demo"}
    assert len({c.id for c in CASES}) == len(CASES)
    pending = sum(1 for c, _ in CELLS if c.xfail)  # fixes that lie in files changed elsewhere
    assert len(CELLS) >= 400 and pending < 0.05 * len(CELLS)


@pytest.mark.parametrize("case_id, command", [
    ("truncated", "info {data}"),
    ("model-pickle", "sample {badrun} -n 10 -o {d}/s.h5"),
    ("index-range", "import {records} --format index --povm pauli4 -o {d}/out.h5 -q"),
])
def test_real_process_exit_status_and_stderr(corpus, case_id, command):
    """A few cells in a real process: the exit status, one line on stderr, nothing on stdout."""
    _, names = corpus
    case = next(c for c in CASES if c.id == case_id)
    args = shlex.split(command.format(**names[case_id]))
    proc = subprocess.run([sys.executable, "-c", "from qgen.cli import main; main()", *args], capture_output=True,
                          text=True, env={k: v for k, v in os.environ.items() if k != "QGEN_DEBUG"}, timeout=120,
                          check=False)
    assert proc.stdout == ""
    assert_one_line_error(proc.returncode, proc.stderr, case.fragment)


def test_non_ic_povm_is_accepted_and_said(corpus):
    """A POVM that is valid but not informationally complete is not bad input: the data
    are read, trained on, and the scores it cannot give are "n/a" with the reason."""
    _, names = corpus
    res = CliRunner().invoke(cli, ["info", names["truncated"]["trine"]])
    assert res.exit_code == 0 and "NOT informationally complete" in res.output


# -- the public loaders on the same corpus ------------------------------------------------

DATASET_CASES = [c for c in CASES if c.commands in (DATA, TARGET)]


@pytest.mark.parametrize("case", [pytest.param(c, id=c.id, marks=[pytest.mark.xfail(reason=c.xfail, strict=False,
                                                                                    run=c.run)] if c.xfail else [])
                                  for c in DATASET_CASES])
def test_read_dataset_raises_dataset_error_in_one_line(corpus, case):
    _, names = corpus
    path = names[case.id]["data"]
    loaders = [read_dataset] + ([read_header] if case.category in ("hdf5", "schema") else [])
    for load in loaders:
        with pytest.raises(DatasetError) as err:
            load(path)
        assert "\n" not in str(err.value), str(err.value)
        assert re.search(case.fragment, str(err.value)) or case.id == "directory", str(err.value)  # click's words


def test_read_samples_refuses_other_files(corpus):
    root, names = corpus
    for path in (names["truncated"]["good"], names["truncated"]["data"], root / "nothing.h5"):
        with pytest.raises(DatasetError) as err:
            read_samples(path)
        assert "\n" not in str(err.value)


@pytest.mark.parametrize("case_id", ["model-pickle", "model-torch-save", "model-truncated", "model-missing",
                                     "model-format", "model-meta-not-json", "model-name-code", "model-config-huge",
                                     "model-n-qubits-text", "model-shapes"])
def test_load_model_raises_value_error(corpus, case_id):
    """load_model's one-line ValueError (a ResourceError for a huge architecture); never
    unpickles: the payload's marker file never appears."""
    _, names = corpus
    with pytest.raises(ValueError) as err:
        load_model(names[case_id]["badrun"])
    assert "\n" not in str(err.value)
    assert not (Path(names[case_id]["d"]) / "pwned").exists()


@pytest.mark.parametrize("content, fmt, message", [
    ("0 1 2\n0 1 9\n", "index", "outcome 9 outside"),
    ("0 1\n1 x\n", "index", "'x' is not a number"),
    ("1 0 0 0\n1 1 0 0\n", "onehot", "2 ones in the block"),  # an all-zero block is a missing readout
    ("XY 0 1\nXQ 0 0\n", "pauli-basis", "letter other than X, Y, Z"),
    ("1 2\n\U000c1b63¯Î\x95k?H\U0003e4f5\n", "index", "line 2: character"),  # once crashed numpy's parser
    ("\ufeff0 1\n1 0\n", "index", None),  # a byte-order mark is fine
    ("0 1 # José's run\n1 0\n", "index", None),  # so is any character in a comment
])
def test_importers_raise_format_error(tmp_path, content, fmt, message):
    path = tmp_path / "shots.txt"
    path.write_text(content, encoding="utf-8")
    if message is None:
        assert import_records(path, fmt, "pauli4").outcomes.tolist()[:2] in ([[0, 1], [1, 0]], [[1, 0], [0, 1]])
        return
    with pytest.raises(FormatError, match=re.escape(message)) as err:
        import_records(path, fmt, "pauli4" if fmt != "pauli-basis" else None)
    assert "\n" not in str(err.value)


def test_state_file_readers_raise_format_error(tmp_path):
    (tmp_path / "index.txt").write_text("2 1 2 2\n2 1 2 1e400\n")
    (tmp_path / "tensor.txt").write_text("1 1 1\n\n1 1 1\n")
    with pytest.raises(FormatError, match="NaN or infinite"):
        read_povm_genmodel_mps(tmp_path / "index.txt", tmp_path / "tensor.txt")
    (tmp_path / "index.txt").write_text("2 1 2 2\n2 1 2.5 2\n")
    with pytest.raises(FormatError, match="integers"):
        read_povm_genmodel_mps(tmp_path / "index.txt", tmp_path / "tensor.txt")
    np.save(tmp_path / "a.npy", np.ones(3))  # an .npy, not an .npz
    (tmp_path / "a.npy").rename(tmp_path / "a.npz")
    with pytest.raises(FormatError, match="not an MPS .npz"):
        read_mps_npz(tmp_path / "a.npz")
    np.savez(tmp_path / "b.npz", left=np.ones((2, 2)), right=np.ones((2, 2)))
    with pytest.raises(FormatError, match="named 0 … N−1"):
        read_mps_npz(tmp_path / "b.npz")
    with pytest.raises(FormatError, match="unknown target"):
        parse_target("tfim;rm -rf /", 4)


@pytest.mark.parametrize("build, error, message", [
    (lambda: POVM("p", [[[1, 0], [0, 0]], [[0, 0.1], [0, 1]]]), POVMError, "not Hermitian"),
    (lambda: POVM("p", [np.diag([1.5, 0.5]), np.diag([-0.5, 0.5])]), POVMError, "not positive semidefinite"),
    (lambda: POVM("p", [np.eye(2) / 3, np.eye(2) / 3]), POVMError, "do not sum to the identity"),
    (lambda: POVM("p", [np.eye(2), np.full((2, 2), np.nan)]), POVMError, "NaN"),
    (lambda: POVM("p", "abc"), POVMError, "not an array of numbers|shape"),
    (lambda: POVM("p", [np.eye(2) / 2] * 2, atol=float("nan")), POVMError, "atol"),
    (lambda: POVM("", [np.eye(2) / 2] * 2), POVMError, "name"),
    (lambda: make_target("tfim", 4, h=float("inf")), ValueError, "not finite"),
    (lambda: make_target("tfim", 4.5), ValueError, "integer ≥ 2"),
    (lambda: make_target("tfim", 6, method="dmrg", cutoff=float("nan")), ValueError, "cutoff"),
    (lambda: make_target("ghz", 10**10), ResourceError, "needs ~"),
    (lambda: make_target("tfim", 10**10), ResourceError, "needs ~"),
    (lambda: make_target("tfim2d", lx=2.5, ly=2), ValueError, "integer lattice sizes"),
    (lambda: make_target("tfim", 40, method="exact"), ResourceError, "exact diagonalisation of 40 qubits"),
    (lambda: Hamiltonian.from_terms([(np.nan, "Z", (0,))]), ValueError, "not finite"),
    (lambda: Hamiltonian.from_terms([(1.0, "Q", (0,))]), ValueError, "Pauli letters"),
    (lambda: Hamiltonian.from_terms([(1.0, "ZZ", (0, 0))]), ValueError, "repeated site"),
    (lambda: Hamiltonian.from_terms([(1.0, "Z", (-1,))]), ValueError, "out of range"),
    (lambda: Hamiltonian.from_terms([(1j, "Z", (0,))]), ValueError, "not real"),
    (lambda: Hamiltonian.from_dict({"terms": []}), ValueError, "'n_qubits' and 'terms'"),
    (lambda: Hamiltonian.from_dict({"n_qubits": 2, "terms": [[1.0, "Z"]]}), ValueError, "not \\[coef, letters"),
    (lambda: Hamiltonian.from_terms([(1.0, "Z", (40,))]).to_sparse(), ResourceError, "sparse matrix"),
    (lambda: TrainConfig(lr=-1), ValueError, "lr > 0"),
    (lambda: TrainConfig(schedule="exp"), ValueError, "unknown schedule"),
    (lambda: TrainConfig(max_time="soon"), ValueError, "duration"),
    (lambda: TrainConfig(max_time=float("nan")), ValueError, "duration"),
    (lambda: create_model("rnn", 4, 4, hidden=10**6), ResourceError, "needs ~"),
    (lambda: create_model("rnn", 4.0, 4), ValueError, "integers"),
    (lambda: create_model("rnn", 4, 4, hidden=float("inf")), ValueError, "finite"),
    (lambda: product_state([0, 0, 0]), ValueError, "item 0: unknown single-qubit state 0"),
    (lambda: product_state([[1, 0], [0, 0]]), ValueError, "item 1"),
    (lambda: product_state("0", 2.5), ValueError, "integer"),
    (lambda: product_state(["0", "1"], 3), ValueError, "n = 3 but 2"),
    (lambda: ghz(10**11), ResourceError, "needs ~"),
    (lambda: MPS((np.zeros((1, 2, 1)),)), ValueError, "zero norm"),
    (lambda: MPS((np.array([[["a"], ["b"]]]),)), ValueError, "dtype"),
    (lambda: DenseState(np.zeros(4)), ValueError, "zero"),
    (lambda: DenseState(-np.eye(4)), ValueError, "trace"),
    (lambda: DenseState(np.diag([1.0, 1.0, 1.0, -0.5])), ValueError, "not positive semidefinite"),
    (lambda: Target(ghz(3), params=[1]), ValueError, "params must be a dict"),
    (lambda: Target(ghz(3), info={"x": object()}), ValueError, "JSON"),
    (lambda: Target("psi"), ValueError, "MPS or a DenseState"),
    (lambda: Target(ghz(3), hamiltonian=Hamiltonian.from_terms([(1.0, "Z", (4,))])), ValueError, "5 qubits"),
])
def test_public_constructors_raise_one_line_errors(build, error, message):
    with pytest.raises(error, match=message) as err:
        build()
    assert "\n" not in str(err.value)


# -- memory and disk guards ----------------------------------------------------------------


def test_available_memory_is_what_the_system_reports():
    from qgen.resources import available_memory

    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    assert 0 < available_memory() <= total


def test_simulate_estimate_bounds_the_measured_peak():
    """The in-memory simulation's numpy allocations (traced) stay below the estimate, which
    is not more than 3× too high."""
    import tracemalloc

    from qgen.datasets import simulate
    from qgen.measurements import pauli4
    from qgen.resources import estimate_simulate

    target = make_target("ghz", n=20)
    simulate(target, pauli4(), 100, seed=0, workers=1)  # compile and warm up first
    tracemalloc.start()
    try:
        simulate(target, pauli4(), 50_000, seed=0, workers=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    estimate = estimate_simulate(50_000, 20, bond_dim=2, workers=1)
    assert peak <= estimate <= 3 * peak, (peak, estimate)


def test_dataset_file_bound_is_below_every_real_file(tmp_path):
    """The information-theoretic lower bound on a dataset file's size is below the sizes
    of real (gzip-compressed) files, even for a state of low entropy."""
    from qgen.datasets import simulate
    from qgen.datasets.hdf5 import write_dataset
    from qgen.measurements import pauli4, pauli6, tetra
    from qgen.resources import estimate_dataset_file

    for povm in (pauli4(), pauli6(), tetra()):
        ds = simulate(make_target("product", n=12, product="0"), povm, 20_000, seed=0)
        size = write_dataset(ds, tmp_path / f"{povm.name}.h5").stat().st_size
        bound = estimate_dataset_file(20_000, 12, povm.elements)
        assert 0 < bound < size, (povm.name, bound, size)


def test_check_simulate_refuses_memory_and_disk_up_front(tmp_path):
    from qgen.measurements import pauli4
    from qgen.resources import check_simulate

    target = make_target("ghz", n=50)
    with pytest.raises(ResourceError, match=r"simulate 1,000,000,000,000 strings × 50 qubits needs ~.*\(outcomes "
                                            r"\+ ln P\); this machine has .* available"):
        check_simulate(target, pauli4(), 10**12)
    with pytest.raises(ResourceError, match=r"needs at least .* on disk .* free"):
        check_simulate(target, pauli4(), 10**14, streamed=True, output=tmp_path / "x.h5")
    check_simulate(target, pauli4(), 10**5, streamed=True, output=tmp_path / "x.h5")  # fits



def test_library_simulate_refuses_up_front():
    from qgen.datasets import simulate
    from qgen.measurements import pauli4

    with pytest.raises(ResourceError, match="needs ~"):
        simulate(make_target("ghz", n=50), pauli4(), 10**12)


def test_library_simulate_to_file_refuses_up_front(tmp_path):
    from qgen.datasets import simulate_to_file
    from qgen.measurements import pauli4

    with pytest.raises(ResourceError, match="on disk"):
        simulate_to_file(tmp_path / "x.h5", make_target("ghz", n=50), pauli4(), 10**14)
    assert list(tmp_path.iterdir()) == []


def test_read_dataset_refuses_a_declared_huge_file(corpus):
    _, names = corpus
    with pytest.raises(ResourceError, match="needs ~"):
        read_dataset(names["declared-huge-dataset"]["data"])
