"""Every ``notebooks/*.ipynb`` executes top to bottom in a fresh ``python3`` kernel without a
cell error, and is committed without outputs.  A notebook that needs an optional extra lists
the modules it imports in its metadata, ``"requires": ["qiskit", …]``, and is skipped (not
failed) where one of them is not installed."""

import importlib.util
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="nbformat not installed (pip install -e '.[dev]')")
nbclient = pytest.importorskip("nbclient", reason="nbclient not installed (pip install -e '.[dev]')")
pytest.importorskip("ipykernel", reason="ipykernel not installed: no python3 kernel (pip install -e '.[dev]')")

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
CELL_TIMEOUT = 300  # s; each notebook is sized to run in well under a minute


def missing_requirements(nb) -> list[str]:
    """The modules in the notebook's metadata ``requires`` that cannot be imported here."""
    return [m for m in nb.metadata.get("requires", []) if importlib.util.find_spec(m) is None]


def test_missing_requirements():
    nb = nbformat.v4.new_notebook(metadata={"requires": ["numpy", "qgen_no_such_module"]})
    assert missing_requirements(nb) == ["qgen_no_such_module"]
    assert missing_requirements(nbformat.v4.new_notebook()) == []


def test_notebooks_exist():
    assert len(NOTEBOOKS) >= 3, NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_executes(path, tmp_path, monkeypatch):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    dirty = [i for i, c in enumerate(nb.cells)
             if c.cell_type == "code" and (c.get("outputs") or c.get("execution_count") is not None)]
    assert not dirty, f"{path.name}: commit notebooks without outputs (cells {dirty})"
    missing = missing_requirements(nb)
    if missing:
        pytest.skip(f"{path.name} needs {', '.join(missing)}, not installed (its metadata 'requires')")
    # the kernel inherits the environment: one thread per library on the shared test machine
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.setenv(var, "1")
    client = nbclient.NotebookClient(nb, kernel_name="python3", timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, naming the cell and its traceback, on any error
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
