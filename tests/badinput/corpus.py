"""Bad inputs for every command and loader, generated from a handful of good files.

:func:`build_base` writes the good files (a 4-qubit GHZ dataset with its target, a
6-qubit one, Pauli-6 and trine data, a trained RNN run, model samples, index records).
Each :class:`Case` builds its bad input(s) in its own directory from them and names the
commands to run on them (``{data}``, ``{run}``, … are filled in, ``{d}`` is the case
directory, ``{good}`` etc. the good files); every command must answer with one line
``Error: …`` matching ``fragment``, a non-zero exit status, and leave every file as it was.

Categories (the issue's list): ``hdf5`` (truncated/corrupt/not HDF5), ``schema``
(format, version), ``fields`` (missing or inconsistent attributes and datasets),
``outcomes`` (out of range, wrong dtype or shape, empty), ``povm`` (non-Hermitian,
non-PSD, not normalised, NaN, not IC where IC is required), ``target``, ``mismatch`` (N or
POVM of data vs model or target), ``records`` (the importers' text/.npy files and specs),
``numbers`` (NaN/inf and negative parameters), ``sizes`` (requests larger than the
machine), ``outputs`` (unwritable paths), ``untrusted`` (pickles and hostile metadata in
checkpoints and arrays), ``checkpoint`` (damaged model files).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import torch
from click.testing import CliRunner
from safetensors import safe_open
from safetensors.torch import save_file

from qgen.cli import cli
from qgen.datasets import simulate
from qgen.datasets.hdf5 import write_dataset, write_samples
from qgen.measurements import pauli4, pauli6, trine
from qgen.targets import make_target

HUGE = 10**12  # strings: more than any machine holds

# The commands that read a dataset, and those among them that read its target too
# (``qgen train`` reads only the strings).
DATA = ("info {data}", "train {data} -o {d}/run --epochs 1 -q", "evaluate {run} --data {data}",
        "attach {data} --target ghz -o {d}/out.h5 -q", "sweep {data} --samples 100 --epochs 1 -o {d}/sweep -q",
        "compare {data} --models rnn --max-time 1s -o {d}/cmp -q")
TARGET = tuple(c for c in DATA if not c.startswith("train"))


@dataclass(frozen=True)
class Case:
    """One bad input: ``make(d, base)`` writes it into directory ``d`` and returns the
    names it defines (e.g. ``{"data": ...}``); each of ``commands`` must fail with an
    error line matching the regular expression ``fragment``.  ``xfail``: why the case
    still fails (the fix lies in a file being changed elsewhere); ``run=False`` for cases
    that must not run until then (they would exhaust memory or disk)."""

    id: str
    category: str
    commands: tuple[str, ...]
    fragment: str
    make: Callable[[Path, dict], dict] | None = None
    xfail: str = ""
    run: bool = True


class Exploit:
    """A pickle that runs a shell command when loaded (it must never be)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


# -- the good files ---------------------------------------------------------------------


def build_base(root: Path) -> dict[str, str]:
    """Good inputs in ``root``; returns their names for the command templates."""
    ds = simulate(make_target("ghz", n=4), pauli4(), 400, seed=1)
    write_dataset(ds, root / "good.h5")
    write_dataset(simulate(make_target("ghz", n=6), pauli4(), 200, seed=1), root / "good6.h5")
    write_dataset(simulate(make_target("ghz", n=4), pauli6(), 200, seed=1), root / "pauli6.h5")
    write_dataset(simulate(make_target("ghz", n=4), trine(), 400, seed=1), root / "trine.h5")
    trained = CliRunner().invoke(cli, ["train", str(root / "good.h5"), "-o", str(root / "run"), "--epochs", "1",
                                       "--model", "rnn", "--batch-size", "100", "--set", "hidden=8", "--set", "n_layers=1", "--set",
                                       "embed=4", "-q"])
    assert trained.exit_code == 0, trained.output
    write_samples(root / "samples.h5", ds.outcomes[:50], np.zeros(50) - 5.5, pauli4(), {"model": "rnn"})
    np.savetxt(root / "shots.txt", ds.outcomes[:50], fmt="%d")
    names = ("good", "good6", "pauli6", "trine", "run", "samples", "shots")
    files = ("good.h5", "good6.h5", "pauli6.h5", "trine.h5", "run", "samples.h5", "shots.txt")
    return {k: str(root / f) for k, f in zip(names, files)}


# -- builders ---------------------------------------------------------------------------


def _dataset(edit: Callable[[h5py.File], None], source: str = "good") -> Callable[[Path, dict], dict]:
    """A copy of a good dataset changed in place by ``edit(h5py_file)``."""

    def make(d: Path, base: dict) -> dict:
        path = d / "bad.h5"
        shutil.copy(base[source], path)
        with h5py.File(path, "r+") as f:
            edit(f)
        return {"data": str(path)}

    return make


def _bytes(content: Callable[[bytes], bytes]) -> Callable[[Path, dict], dict]:
    """A file whose bytes are ``content(bytes of the good dataset)``."""

    def make(d: Path, base: dict) -> dict:
        path = d / "bad.h5"
        path.write_bytes(content(Path(base["good"]).read_bytes()))
        return {"data": str(path)}

    return make


def _replace(f: h5py.File, key: str, value) -> None:
    del f[key]
    f[key] = value


def _set(key: str, value) -> Callable[[h5py.File], None]:
    return lambda f: f.attrs.__setitem__(key, value)


def _target_attr(key: str, value) -> Callable[[h5py.File], None]:
    return lambda f: f["target"].attrs.__setitem__(key, value)


def _dense_target(kind: str, state) -> Callable[[h5py.File], None]:
    def edit(f: h5py.File) -> None:
        del f["target/tensors"]
        f["target"].attrs["kind"] = kind
        f["target/state"] = state

    return edit


def _edit_tensor(site: int, change: Callable[[np.ndarray], np.ndarray]) -> Callable[[h5py.File], None]:
    return lambda f: _replace(f, f"target/tensors/{site}", change(f[f"target/tensors/{site}"][()]))


def _povm(change: Callable[[np.ndarray], np.ndarray]) -> Callable[[h5py.File], None]:
    return lambda f: _replace(f, "povm/elements", change(f["povm/elements"][()]))


def _outcomes(change: Callable[[np.ndarray], np.ndarray]) -> Callable[[h5py.File], None]:
    return lambda f: _replace(f, "outcomes", change(f["outcomes"][()]))


def _empty(f: h5py.File) -> None:
    _replace(f, "outcomes", np.zeros((0, 4), np.uint8))
    _replace(f, "log_prob", np.zeros(0))
    f.attrs["split"] = np.zeros(3, np.int64)


def _huge(f: h5py.File) -> None:
    """Declares 10^12 strings (HDF5 stores none of them: the file stays tiny)."""
    del f["outcomes"], f["log_prob"]
    f.create_dataset("outcomes", (HUGE, 4), np.uint8, chunks=(4096, 4))
    f.create_dataset("log_prob", (HUGE,), np.float64, chunks=(4096,))
    f.attrs["split"] = np.array([HUGE - 2, 1, 1], np.int64)


def _nonpsd(m: np.ndarray) -> np.ndarray:
    m = m.copy()
    m[0] = np.diag([1.2, -0.2])
    m[3] = np.eye(2) - m[0] - m[1] - m[2]
    return m


def _set_item(a: np.ndarray, index, value) -> np.ndarray:
    a = a.copy()
    a[index] = value
    return a


def _text(name: str, text: str | bytes, key: str = "records") -> Callable[[Path, dict], dict]:
    def make(d: Path, base: dict) -> dict:
        path = d / name
        (path.write_bytes if isinstance(text, bytes) else path.write_text)(text)
        return {key: str(path)}

    return make


def _npy(array: np.ndarray, name: str = "shots.npy", allow_pickle: bool = False) -> Callable[[Path, dict], dict]:
    def make(d: Path, base: dict) -> dict:
        path = d / name
        np.save(path, array, allow_pickle=allow_pickle)
        return {"records": str(path)}

    return make


def _pickled_npy(d: Path, base: dict) -> dict:
    path = d / "shots.npy"
    np.save(path, np.array([Exploit(d / "pwned")], dtype=object), allow_pickle=True)
    return {"records": str(path)}


def _pickled_npz(d: Path, base: dict) -> dict:
    path = d / "state.npz"
    np.savez(path, np.array([Exploit(d / "pwned")], dtype=object))
    return {"mps": str(path)}


def _npz(arrays: list[np.ndarray]) -> Callable[[Path, dict], dict]:
    def make(d: Path, base: dict) -> dict:
        path = d / "state.npz"
        np.savez(path, *arrays)
        return {"mps": str(path)}

    return make


def _orthogonal_bonds(f: h5py.File) -> None:
    """Non-zero tensors whose contraction vanishes: site 1 leaves only through bond 1,
    site 2 enters only through bond 0 (the state is zero, no tensor is)."""
    t1, t2 = np.zeros((2, 2, 2)), np.zeros((2, 2, 2))
    t1[0, 0, 1] = t2[0, 0, 0] = 1.0
    _replace(f, "target/tensors/1", t1)
    _replace(f, "target/tensors/2", t2)


def _truncated_npy(d: Path, base: dict) -> dict:
    path = d / "shots.npy"
    np.save(path, np.zeros((100, 4), np.uint8))
    path.write_bytes(path.read_bytes()[:150])
    return {"records": str(path)}


def _genmodel(index: str | bytes, tensor: str) -> Callable[[Path, dict], dict]:
    """A POVM_GENMODEL index.txt / tensor.txt pair."""

    def make(d: Path, base: dict) -> dict:
        _text("index.txt", index)(d, base)
        _text("tensor.txt", tensor)(d, base)
        return {}

    return make


def _run_copy(d: Path, base: dict) -> Path:
    run = d / "run"
    shutil.copytree(base["run"], run)
    return run


def _model_file(write: Callable[[Path, Path], None], name: str = "model.safetensors") -> Callable[[Path, dict], dict]:
    """A copy of the good run whose ``name`` is replaced by ``write(path, case_dir)``."""

    def make(d: Path, base: dict) -> dict:
        run = _run_copy(d, base)
        write(run / name, d)
        return {"badrun": str(run)}

    return make


def _pickle_payload(path: Path, d: Path) -> None:
    path.write_bytes(pickle.dumps(Exploit(d / "pwned")))


def _torch_pickle(path: Path, d: Path) -> None:
    torch.save({"weights": Exploit(d / "pwned")}, path)


def _truncate(path: Path, d: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _rewrite(tensors: Callable[[dict], dict] = lambda t: t, meta: Callable[[dict], dict] = lambda m: m,
             raw_meta: str | None = None) -> Callable[[Path, Path], None]:
    """Rewrite a qgen safetensors file with changed tensors and/or JSON metadata."""

    def write(path: Path, d: Path) -> None:
        with safe_open(str(path), framework="pt") as f:
            stored = json.loads(f.metadata()["qgen"])
            ts = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (a file handle)
        save_file(tensors(ts), str(path), metadata={"qgen": raw_meta if raw_meta is not None else
                                                    json.dumps(meta(stored))})

    return write


def _nan_weights(ts: dict) -> dict:
    return {k: v.fill_(float("nan")) if v.is_floating_point() else v for k, v in ts.items()}


def _with(**changes) -> Callable[[dict], dict]:
    def change(meta: dict) -> dict:
        out = json.loads(json.dumps(meta))
        for key, value in changes.items():
            parent = out
            *path, last = key.split(".")
            for k in path:
                parent = parent[k]
            parent[last] = value
        return out

    return change


def _existing_output(d: Path, base: dict) -> dict:
    """An existing good output file that a failing command must leave untouched."""
    out = d / "existing.h5"
    shutil.copy(base["good"], out)
    return {"existing": str(out)}


def _file_parent(d: Path, base: dict) -> dict:
    (d / "afile").write_text("not a directory\n")
    return {"afile": str(d / "afile")}


# -- the cases --------------------------------------------------------------------------

_NOT_HDF5 = "not a readable HDF5 file"

CASES: list[Case] = [
    # hdf5: not a readable file at all
    Case("truncated", "hdf5", DATA, _NOT_HDF5, _bytes(lambda b: b[: len(b) // 2])),
    Case("truncated-tail", "hdf5", DATA, _NOT_HDF5 + "|invalid", _bytes(lambda b: b[:-200])),
    Case("garbage", "hdf5", DATA, _NOT_HDF5, _bytes(lambda b: b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 20)),
    Case("bit-flips", "hdf5", DATA, _NOT_HDF5 + "|invalid",
         _bytes(lambda b: bytes(x ^ 0xFF if 96 <= i < 2048 else x for i, x in enumerate(b)))),
    Case("zero-bytes", "hdf5", DATA, _NOT_HDF5, _bytes(lambda b: b"")),
    Case("text-file", "hdf5", DATA, _NOT_HDF5, _bytes(lambda b: b"index,outcome\n0,1\n")),
    Case("missing-file", "hdf5", DATA, "not found", lambda d, base: {"data": str(d / "nothing.h5")}),
    Case("directory", "hdf5", DATA, "is a directory", lambda d, base: {"data": str(d)}),
    # schema
    Case("schema-version", "schema", DATA, "schema version 99", _dataset(_set("schema_version", 99))),
    Case("schema-version-text", "schema", DATA, "invalid", _dataset(_set("schema_version", "one"))),
    Case("format-missing", "schema", DATA, "not a qgen dataset", _dataset(lambda f: f.attrs.__delitem__("format"))),
    Case("format-other", "schema", DATA, "not a qgen dataset", _dataset(_set("format", "qgen-samples"))),
    Case("samples-file", "schema", DATA, "not a qgen dataset", lambda d, base: {"data": base["samples"]}),
    # fields
    Case("missing-log-prob", "fields", DATA, "lacks the 'log_prob'", _dataset(lambda f: f.__delitem__("log_prob"))),
    Case("missing-outcomes", "fields", DATA, "lacks the 'outcomes'", _dataset(lambda f: f.__delitem__("outcomes"))),
    Case("missing-povm", "fields", DATA, "lacks the 'povm/elements'", _dataset(lambda f: f.__delitem__("povm"))),
    Case("n-qubits-attr", "fields", DATA, "n_qubits attribute disagrees", _dataset(_set("n_qubits", 7))),
    Case("n-qubits-text", "fields", DATA, "invalid", _dataset(_set("n_qubits", "four"))),
    Case("n-outcomes-attr", "fields", DATA, "n_outcomes attribute disagrees", _dataset(_set("n_outcomes", 6))),
    Case("split-sum", "fields", DATA, "split", _dataset(_set("split", np.array([10, 10, 10])))),
    Case("split-negative", "fields", DATA, "split", _dataset(_set("split", np.array([500, -100, 0])))),
    Case("split-text", "fields", DATA, "split|invalid", _dataset(_set("split", "all of it"))),
    Case("meta-not-json", "fields", DATA, "not valid JSON", _dataset(_set("meta", "{not json"))),
    Case("meta-not-object", "fields", DATA, "meta", _dataset(_set("meta", "[1, 2]"))),
    Case("log-prob-positive", "fields", DATA, "positive values", _dataset(
        lambda f: _replace(f, "log_prob", _set_item(f["log_prob"][()], 0, 3.0)))),
    Case("log-prob-inf", "fields", DATA, "positive values", _dataset(
        lambda f: _replace(f, "log_prob", _set_item(f["log_prob"][()], 0, np.inf)))),
    Case("log-prob-length", "fields", DATA, "log_prob has shape", _dataset(lambda f: _replace(f, "log_prob", np.zeros(5)))),
    Case("log-prob-text", "fields", DATA, "invalid|log_prob", _dataset(
        lambda f: _replace(f, "log_prob", np.array([b"x"] * 400)))),
    # outcomes
    Case("outcome-range", "outcomes", DATA, r"must lie in \[0, 3\]", _dataset(_outcomes(lambda o: _set_item(o, (5, 2), 7)))),
    Case("outcome-int64", "outcomes", DATA, "must be uint8", _dataset(_outcomes(lambda o: o.astype(np.int64)))),
    Case("outcome-float", "outcomes", DATA, "must be uint8", _dataset(_outcomes(lambda o: o.astype(np.float32)))),
    Case("outcome-1d", "outcomes", DATA, "must be uint8", _dataset(_outcomes(lambda o: o.ravel()))),
    Case("outcome-group", "outcomes", DATA, "invalid|uint8|not a dataset",
         _dataset(lambda f: (f.__delitem__("outcomes"), f.create_group("outcomes")))),
    Case("empty-dataset", "outcomes", DATA, r"non-empty|split \(0, 0, 0\)", _dataset(_empty)),
    # POVM stored with the data
    Case("povm-non-hermitian", "povm", DATA, "not Hermitian", _dataset(_povm(lambda m: _set_item(m, (0, 0, 1), 0.3)))),
    Case("povm-non-psd", "povm", DATA, "not positive semidefinite", _dataset(_povm(_nonpsd))),
    Case("povm-not-normalised", "povm", DATA, "do not sum to the identity", _dataset(_povm(lambda m: 1.1 * m))),
    Case("povm-nan", "povm", DATA, "NaN", _dataset(_povm(lambda m: _set_item(m, (0, 0, 0), np.nan)))),
    Case("povm-shape", "povm", DATA, "shape", _dataset(_povm(lambda m: np.zeros((4, 3, 3))))),
    Case("povm-text", "povm", DATA, "not an array of numbers", _dataset(_povm(lambda m: np.array([b"ab", b"cd"])))),
    Case("povm-one-outcome", "povm", DATA, "K≥2", _dataset(_povm(lambda m: np.eye(2)[None]))),
    # the target stored with the data
    Case("target-kind", "target", TARGET, "unknown target kind", _dataset(_target_attr("kind", "pickle"))),
    Case("target-tensor-missing", "target", TARGET, "tensors", _dataset(lambda f: f.__delitem__("target/tensors/1"))),
    Case("target-tensor-nan", "target", TARGET, "NaN", _dataset(_edit_tensor(0, lambda t: _set_item(t, (0, 0, 0), np.nan)))),
    Case("target-tensor-zero", "target", TARGET, "zero norm", _dataset(_edit_tensor(2, np.zeros_like))),
    Case("target-norm-vanishes", "target", TARGET, "vanishes at site 2", _dataset(_orthogonal_bonds)),
    Case("target-bond-mismatch", "target", TARGET, "mismatch", _dataset(_edit_tensor(1, lambda t: np.ones((3, 2, 2))))),
    Case("target-extra-site", "mismatch", TARGET, "target has 5 qubits", _dataset(
        lambda f: f["target/tensors"].create_dataset("4", data=np.ones((1, 2, 1))))),
    Case("target-dm-non-hermitian", "target", TARGET, "not Hermitian", _dataset(
        _dense_target("density_matrix", np.triu(np.ones((16, 16)))))),
    Case("target-dm-non-psd", "target", TARGET, "not positive semidefinite|trace", _dataset(
        _dense_target("density_matrix", -np.eye(16)))),
    Case("target-dm-indefinite", "target", TARGET, "not positive semidefinite", _dataset(
        _dense_target("density_matrix", np.diag([2.0] + [-0.05] * 15)))),
    Case("target-vector-zero", "target", TARGET, "zero", _dataset(_dense_target("vector", np.zeros(16)))),
    Case("target-vector-length", "target", TARGET, "power of two", _dataset(_dense_target("vector", np.ones(15)))),
    Case("target-vector-text", "target", TARGET, "dtype|numbers", _dataset(_dense_target("vector", np.array([b"a"] * 16)))),
    Case("target-hamiltonian-object", "target", TARGET, "'n_qubits' and 'terms'", _dataset(
        _target_attr("hamiltonian", '{"foo": 1}'))),
    Case("target-hamiltonian-letters", "target", TARGET, "Pauli letters", _dataset(
        _target_attr("hamiltonian", '{"n_qubits": 4, "terms": [[1.0, "QQ", [0, 1]]]}'))),
    Case("target-hamiltonian-nan", "target", TARGET, "not finite", _dataset(
        _target_attr("hamiltonian", '{"n_qubits": 4, "terms": [[NaN, "ZZ", [0, 1]]]}'))),
    Case("target-hamiltonian-n", "mismatch", TARGET, "Hamiltonian acts on 7 qubits", _dataset(
        _target_attr("hamiltonian", '{"n_qubits": 7, "terms": [[1.0, "ZZ", [0, 1]]]}'))),
    Case("target-params-list", "target", TARGET, "params must be a dict", _dataset(_target_attr("params", "[1]"))),
    Case("target-noise", "target", TARGET, r"\[0, 1\]", _dataset(_target_attr("noise", 2.0))),
    Case("target-noise-nan", "target", TARGET, r"\[0, 1\]", _dataset(_target_attr("noise", np.nan))),
    Case("target-noise-text", "target", TARGET, "invalid|noise|number", _dataset(_target_attr("noise", "loud"))),
    # data vs model, target, POVM: N and K must agree
    Case("model-n-mismatch", "mismatch", ("evaluate {run} --data {good6}",), "n_qubits=4"),
    Case("model-povm-mismatch", "mismatch", ("evaluate {run} --data {pauli6}",), "n_outcomes=4"),
    Case("resume-other-data", "mismatch", ("train {good6} -o {badrun} --model rnn --resume --epochs 2 -q",), "checkpoint",
         lambda d, base: {"badrun": str(_run_copy(d, base))}),
    Case("attach-n-spec", "mismatch", ("attach {good} --target ghz:n=5 -o {d}/out.h5 -q",), "says n = 5"),
    Case("attach-mps-n", "mismatch", ("attach {good} --target {mps} -o {d}/out.h5 -q",), "has 6 qubits",
         _npz([np.ones((2, 1))] + [np.ones((1, 2, 1))] * 4 + [np.ones((1, 2))])),
    Case("attach-hamiltonian-n", "mismatch", ("attach {good} --target ghz --hamiltonian tfim2d:lx=3,ly=3 -o {d}/out.h5",),
         "lx·ly = 4"),
    Case("import-n-stated", "mismatch", ("import {shots} --format index --povm pauli4 --n-qubits 3 -o {d}/out.h5 -q",),
         "rows hold 4 qubits but 3 were stated"),
    Case("pauli-basis-povm", "povm", ("import {records} --format pauli-basis --povm pauli4 -o {d}/out.h5 -q",),
         "--povm", _text("shots.txt", "XZ 0 1\nYY 1 1\n")),
    Case("attach-in-place-fails", "outputs", ("attach {existing} --target tfim:h=nan",), "not finite", _existing_output),
    # measurement records and target specs (qgen import / attach)
    Case("index-range", "records", ("import {records} --format index --povm pauli4 -o {d}/out.h5 -q",),
         "line 2, column 3: outcome 4 outside 0..3", _text("shots.txt", "0 1 2 3\n0 1 4 3\n")),
    Case("index-negative", "records", ("import {records} --format index --povm pauli4 -o {d}/out.h5 -q",),
         "outcome -1 outside", _text("shots.csv", "0,1,2,3\n0,1,-1,3\n")),
    Case("index-fraction", "records", ("import {records} --format index --povm pauli4 -o {d}/out.h5 -q",),
         "value 1.5 is not an integer", _text("shots.txt", "0 1 2 3\n0 1.5 2 3\n")),
    Case("index-word", "records", ("import {records} --format index --povm pauli4 -o {d}/out.h5 -q",),
         "'up' is not a number", _text("shots.txt", "0 1 2 3\n0 up 2 3\n")),
    Case("index-header", "records", ("import {records} --format index --povm pauli4 -o {d}/out.h5 -q",),
         "header line", _text("shots.csv", "q0,q1\n0,1\n")),
    Case("index-inf", "records", ("import {records} --format index --povm pauli4 -o {d}/out.h5 -q",),
         "not an integer", _text("shots.txt", "0 1\ninf 1\n")),  # nan marks a missing readout
    Case("ragged", "records", ("import {records} --format index --povm pauli4 -o {d}/out.h5 -q",),
         "wrong column count", _text("shots.txt", "0 1 2 3\n0 1 2\n")),
    Case("records-empty", "records", ("import {records} --format index --povm pauli4 -o {d}/out.h5 -q",),
         "no data rows", _text("shots.txt", "")),
    Case("records-comments", "records", ("import {records} --format onehot --povm pauli4 -o {d}/out.h5 -q",),
         "no data rows", _text("shots.txt", "# nothing here\n\n# at all\n")),
    Case("records-binary", "records", ("import {records} --format index --povm pauli4 -o {d}/out.h5 -q",),
         "not a text file", _text("shots.txt", bytes(range(128, 256)) * 4)),
    Case("records-missing", "records", ("import {d}/nothing.txt --format index --povm pauli4 -o {d}/out.h5 -q",),
         "not found"),
    Case("records-no-povm", "records", ("import {shots} --format index -o {d}/out.h5 -q",), "POVM stated"),
    Case("records-fractions", "records", ("import {shots} --format index --povm pauli4 --val-fraction 0.95 -o {d}/out.h5",),
         "fractions"),
    Case("records-fraction-nan", "numbers", ("import {shots} --format index --povm pauli4 --val-fraction nan -o {d}/out.h5",),
         "fractions"),
    Case("onehot-two-ones", "records", ("import {records} --format onehot --povm pauli4 -o {d}/out.h5 -q",),
         "2 ones in the block", _text("shots.txt", "1 0 0 0 0 1 0 0\n1 1 0 0 0 0 0 1\n")),
    Case("onehot-width", "records", ("import {records} --format onehot --povm pauli4 -o {d}/out.h5 -q",),
         "not a multiple of K = 4", _text("shots.txt", "1 0 0 0 0 1\n")),
    Case("onehot-value", "records", ("import {records} --format onehot --povm pauli4 -o {d}/out.h5 -q",),
         "value 2 is not 0 or 1", _text("shots.txt", "1 0 0 0 0 2 0 0\n")),
    Case("pauli-letter", "records", ("import {records} --format pauli-basis -o {d}/out.h5 -q",),
         "basis letter not X, Y or Z: 'Q'", _text("shots.txt", "X Z 0 1\nQ Y 1 1\n")),
    Case("pauli-word", "records", ("import {records} --format pauli-basis -o {d}/out.h5 -q",),
         "has 3 letters, expected 2", _text("shots.txt", "XZ 0 1\nXYZ 1 1\n")),
    Case("pauli-mixed-values", "records", ("import {records} --format pauli-basis -o {d}/out.h5 -q",),
         "all bits or all signs", _text("shots.txt", "X Z 0 1\nY Y -1 +1\n")),
    Case("pauli-result", "records", ("import {records} --format pauli-basis -o {d}/out.h5 -q",),
         "result not 0, 1, \\+1 or -1", _text("shots.txt", "X Z 0 1\nY Y 2 1\n")),
    Case("npy-3d", "records", ("import {records} --format index --povm pauli4 -o {d}/out.h5 -q",), "expected 2-D",
         _npy(np.zeros((2, 2, 2), np.uint8))),
    Case("npy-fraction", "records", ("import {records} --format index --povm pauli4 -o {d}/out.h5 -q",),
         "row 1, column 2: value 0.5 is not an integer", _npy(np.array([[0, 0.5]]))),
    Case("npy-truncated", "records", ("import {records} --format index --povm pauli4 -o {d}/out.h5 -q",),
         "not a readable .npy", _truncated_npy),
    Case("target-spec-kind", "records", ("attach {good} --target spin-glass -o {d}/out.h5 -q",), "unknown target"),
    Case("target-spec-value", "records", ("attach {good} --target tfim:h=strong -o {d}/out.h5 -q",), "not a valid float"),
    Case("target-spec-key", "records", ("attach {good} --target tfim:field=1 -o {d}/out.h5 -q",), "KEY=VALUE"),
    Case("hamiltonian-spec", "records", ("attach {good} --target ghz --hamiltonian ising -o {d}/out.h5 -q",),
         "unknown Hamiltonian"),
    Case("mps-npz-nan", "records", ("attach {good} --target {mps} -o {d}/out.h5 -q",), "NaN",
         _npz([np.full((2, 2), np.nan)] + [np.ones((2, 2, 2))] * 2 + [np.ones((2, 2))])),
    Case("mps-npz-garbage", "records", ("attach {good} --target {mps} -o {d}/out.h5 -q",), "not an MPS .npz",
         _text("state.npz", b"PK\x03\x04 not a zip", key="mps")),
    Case("genmodel-text", "records", ("attach {good} --target {d}/index.txt,{d}/tensor.txt -o {d}/out.h5 -q",),
         "not a list of numbers", _genmodel("2 2 2 2\nrank two\n", "1 1 1\n")),
    Case("genmodel-huge-dims", "sizes", ("attach {good} --target {d}/index.txt,{d}/tensor.txt -o {d}/out.h5 -q",),
         r"needs ~.*available", _genmodel("2 1 2 1000000000000\n3 1 2 2 2\n3 1 2 2 2\n2 1 2 2\n",
                                          "1 1 1\n\n1 1 1 1\n\n1 1 1 1\n\n1 1 1\n")),
    Case("genmodel-negative-dims", "records", ("attach {good} --target {d}/index.txt,{d}/tensor.txt -o {d}/out.h5 -q",),
         "dimension", _genmodel("2 1 2 -2\n3 1 2 2 2\n3 1 2 2 2\n2 1 2 2\n",
                                "1 1 1\n\n1 1 1 1\n\n1 1 1 1\n\n1 1 1\n")),
    Case("genmodel-binary", "records", ("attach {good} --target {d}/index.txt,{d}/tensor.txt -o {d}/out.h5 -q",),
         "not a text file", _genmodel(bytes(range(128, 256)), "1 1 1\n")),
    # NaN / inf / negative numbers
    Case("simulate-noise-nan", "numbers", ("simulate ghz --n 4 --noise nan -o {d}/out.h5 -q",), r"\[0, 1\]"),
    Case("simulate-noise-negative", "numbers", ("simulate ghz --n 4 --noise -0.1 -o {d}/out.h5 -q",), r"\[0, 1\]"),
    Case("simulate-J-inf", "numbers", ("simulate tfim --n 4 --J inf -o {d}/out.h5 -q",), "not finite"),
    Case("simulate-h-nan", "numbers", ("simulate tfim --n 4 --h nan -o {d}/out.h5 -q",), "not finite"),
    Case("simulate-delta-nan", "numbers", ("simulate xxz --n 4 --delta nan -o {d}/out.h5 -q",), "not finite"),
    Case("simulate-cutoff-nan", "numbers", ("simulate tfim --n 4 --method dmrg --cutoff nan -o {d}/out.h5 -q",),
         "cutoff"),
    Case("simulate-bond-dims", "numbers", ("simulate tfim --n 14 --bond-dims 0 -o {d}/out.h5 -q",),
         "positive integers"),
    Case("simulate-n-negative", "numbers", ("simulate tfim --n -5 -o {d}/out.h5 -q",), "integer ≥ 2"),
    Case("simulate-n-one", "numbers", ("simulate ghz --n 1 -o {d}/out.h5 -q",), "integer ≥ 2"),
    Case("simulate-samples-negative", "numbers", ("simulate ghz --n 4 --samples -1 -o {d}/out.h5 -q",), "--samples"),
    Case("simulate-lattice-negative", "numbers", ("simulate tfim2d --lx -2 --ly 3 -o {d}/out.h5 -q",), "lx, ly ≥ 1"),
    Case("simulate-fractions", "numbers", ("simulate tfim --n 4 --val-fraction 2 -o {d}/out.h5 -q",), "fractions"),
    Case("simulate-seed-negative", "numbers", ("simulate ghz --n 4 --seed -3 -o {d}/out.h5 -q",), "--seed"),
    Case("train-lr-nan", "numbers", ("train {good} -o {d}/run --lr nan -q",), "--lr|finite"),
    Case("train-lr-inf", "numbers", ("train {good} -o {d}/run --lr inf -q",), "--lr|finite"),
    Case("train-batch-zero", "numbers", ("train {good} -o {d}/run --batch-size 0 -q",), "--batch-size"),
    Case("train-epochs-negative", "numbers", ("train {good} -o {d}/run --epochs -1 -q",), "--epochs"),
    Case("train-max-time", "numbers", ("train {good} -o {d}/run --max-time -5m -q",), "duration"),
    Case("train-hidden-negative", "numbers", ("train {good} -o {d}/run --model rnn --set hidden=-1 -q",), "hidden"),
    Case("train-hidden-nan", "numbers", ("train {good} -o {d}/run --model rnn --set hidden=NaN -q",), "finite"),
    Case("train-hidden-fraction", "numbers", ("train {good} -o {d}/run --model rnn --set hidden=1.5 -q",), "cannot be built"),
    Case("train-unknown-option", "numbers", ("train {good} -o {d}/run --set colour=1 -q",), "unexpected keyword"),
    Case("train-samples-zero", "numbers", ("train {good} -o {d}/run --train-samples 0 -q",), "--train-samples"),
    Case("train-device", "numbers", ("train {good} -o {d}/run --device tpu -q",), "tpu"),
    Case("sample-n-zero", "numbers", ("sample {run} -n 0 -o {d}/s.h5",), "-n"),
    Case("evaluate-one-sample", "numbers", ("evaluate {run} --data {good} --samples 1",), "--samples"),
    Case("sweep-sizes", "numbers", ("sweep {good} --samples 0,10 -o {d}/sweep",), "positive integers"),
    Case("sweep-sizes-text", "numbers", ("sweep {good} --samples ten -o {d}/sweep",), "comma-separated"),
    Case("sweep-size-large", "sizes", ("sweep {good} --samples 999999 -o {d}/sweep",), "1 ≤ n ≤ 320"),
    Case("compare-no-models", "numbers", ("compare {good} --models , -o {d}/cmp",), "no model names"),
    Case("compare-unknown-model", "numbers", ("compare {good} --models rnn,nope -o {d}/cmp",), "unknown model 'nope'"),
    Case("compare-max-time", "numbers", ("compare {good} --max-time soon -o {d}/cmp",), "duration"),
    Case("demo-h-nan", "numbers", ("demo --h nan -o {d}/demo -q",), "finite"),
    Case("demo-max-time", "numbers", ("demo --max-time forever -o {d}/demo -q",), "duration"),
    Case("demo-n-one", "numbers", ("demo --n 1 -o {d}/demo -q",), "--n"),
    # sizes beyond the machine: refused up front with the estimate
    Case("simulate-ghz-huge-n", "sizes", ("simulate ghz --n 1000000000 -o {d}/out.h5 -q",), r"needs ~.*available"),
    Case("simulate-tfim-huge-n", "sizes", ("simulate tfim --n 1000000000 -o {d}/out.h5 -q",), r"needs ~.*available"),
    Case("simulate-tfim2d-huge", "sizes", ("simulate tfim2d --lx 100000 --ly 100000 -o {d}/out.h5 -q",),
         r"needs ~.*available"),
    Case("simulate-exact-30", "sizes", ("simulate tfim --n 30 --method exact -o {d}/out.h5 -q",),
         r"exact diagonalisation of 30 qubits needs ~"),
    Case("simulate-huge-samples", "sizes", ("simulate ghz --n 50 --samples 10000000000000 -o {d}/out.h5 -q",),
         r"needs .*(available|free)"),
    Case("sample-huge", "sizes", (f"sample {{run}} -n {HUGE} -o {{d}}/s.h5",), r"needs ~.*available"),
    Case("evaluate-huge", "sizes", (f"evaluate {{run}} --data {{good}} --samples {HUGE}",), r"needs ~.*available"),
    Case("sweep-huge-model-samples", "sizes", (f"sweep {{good}} --samples 50 --model-samples {HUGE} -o {{d}}/sw",),
         r"needs ~.*available"),
    Case("compare-huge-model-samples", "sizes", (f"compare {{good}} --models rnn --samples {HUGE} -o {{d}}/cmp",),
         r"needs ~.*available"),
    Case("demo-huge-n", "sizes", ("demo --n 1000000000 -o {d}/demo -q",), r"needs ~.*available"),
    Case("demo-huge-samples", "sizes", ("demo --samples 10000000000000 -o {d}/demo -q",), r"needs ~.*available"),
    Case("train-huge-model", "sizes", ("train {good} -o {d}/run --model rnn --set hidden=1000000 -q",), r"needs ~.*available"),
    Case("declared-huge-dataset", "sizes", ("info {data}", "train {data} -o {d}/run -q"), r"needs ~.*available",
         _dataset(_huge)),
    # unwritable or impossible output paths
    Case("output-missing-dir", "outputs", ("simulate ghz --n 4 -o {d}/no/such/dir/x.h5 -q",
                                           "sample {run} -n 10 -o {d}/no/dir/s.h5",
                                           "attach {good} --target ghz -o {d}/no/dir/a.h5 -q",
                                           "import {shots} --format index --povm pauli4 -o {d}/no/dir/x.h5 -q"),
         "does not exist"),
    Case("output-parent-is-file", "outputs", ("simulate ghz --n 4 -o {afile}/x.h5 -q", "sample {run} -n 10 -o {afile}/s.h5",
                                              "evaluate {run} --data {good} -o {afile}/report",
                                              "sweep {good} --samples 100 -o {afile}/sw",
                                              "compare {good} --models rnn -o {afile}/cmp", "demo -o {afile}/demo -q"),
         "does not exist|not a directory", _file_parent),
    Case("output-is-directory", "outputs", ("simulate ghz --n 4 -o {d} -q", "sample {run} -n 10 -o {d}",
                                            "import {shots} --format index --povm pauli4 -o {d}"),
         "directory"),
    Case("output-read-only-fs", "outputs", ("simulate ghz --n 4 -o /proc/x.h5 -q", "sample {run} -n 10 -o /proc/s.h5",
                                            "attach {good} --target ghz -o /proc/a.h5 -q",
                                            "evaluate {run} --data {good} -o /proc",
                                            "sweep {good} --samples 100 -o /proc/sw", "compare {good} -o /proc/cmp",
                                            "demo -o /proc/demo -q"),
         "not writable"),
    Case("output-dir-is-file", "outputs", ("evaluate {run} --data {good} -o {existing}",
                                           "compare {good} --models rnn -o {existing}",
                                           "sweep {good} --samples 100 -o {existing}", "demo -o {existing} -q"),
         "not a directory|is a file", _existing_output),
    # untrusted files: pickles are never loaded, metadata is JSON
    Case("model-pickle", "untrusted", ("sample {badrun} -n 10 -o {d}/s.h5", "evaluate {badrun} --data {good}"),
         "not a readable qgen model", _model_file(_pickle_payload)),
    Case("model-torch-save", "untrusted", ("sample {badrun} -n 10 -o {d}/s.h5", "evaluate {badrun} --data {good}"),
         "not a readable qgen model", _model_file(_torch_pickle)),
    Case("checkpoint-pickle", "untrusted", ("train {good} -o {badrun} --model rnn --resume --epochs 2 -q",),
         "not a readable qgen checkpoint", _model_file(_pickle_payload, "checkpoint.safetensors")),
    Case("records-npy-pickle", "untrusted", ("import {records} --format index --povm pauli4 -o {d}/out.h5 -q",),
         "not a readable .npy", _pickled_npy),
    Case("mps-npz-pickle", "untrusted", ("attach {good} --target {mps} -o {d}/out.h5 -q",), "not an MPS .npz",
         _pickled_npz),
    Case("model-name-code", "untrusted", ("sample {badrun} -n 10 -o {d}/s.h5",), "unknown model",
         _model_file(_rewrite(meta=_with(model="__import__('os').system('touch pwned')")))),
    Case("model-config-huge", "untrusted", ("sample {badrun} -n 10 -o {d}/s.h5", "evaluate {badrun} --data {good}"),
         r"needs ~.*available", _model_file(_rewrite(meta=_with(**{"config.hidden": 10**7})))),
    Case("model-n-qubits-text", "untrusted", ("sample {badrun} -n 10 -o {d}/s.h5",), "integers",
         _model_file(_rewrite(meta=_with(n_qubits="4; rm -rf /")))),
    Case("model-format", "untrusted", ("sample {badrun} -n 10 -o {d}/s.h5",), "not a qgen model",
         _model_file(_rewrite(meta=_with(format="qgen-checkpoint")))),
    Case("model-meta-not-json", "untrusted", ("sample {badrun} -n 10 -o {d}/s.h5",), "not a readable qgen model",
         _model_file(_rewrite(raw_meta="{'model': 'rnn'}"))),
    # damaged model files
    Case("model-truncated", "checkpoint", ("sample {badrun} -n 10 -o {d}/s.h5", "evaluate {badrun} --data {good}"),
         "not a readable qgen model", _model_file(_truncate)),
    Case("model-missing", "checkpoint", ("sample {badrun} -n 10 -o {d}/s.h5", "evaluate {badrun} --data {good}"),
         "not a readable qgen model", _model_file(lambda p, d: p.unlink())),
    Case("checkpoint-truncated", "checkpoint", ("train {good} -o {badrun} --model rnn --resume --epochs 2 -q",),
         "not a readable qgen checkpoint", _model_file(_truncate, "checkpoint.safetensors")),
    Case("model-shapes", "checkpoint", ("sample {badrun} -n 10 -o {d}/s.h5",), "size mismatch",
         _model_file(_rewrite(meta=_with(**{"config.hidden": 9})))),
    Case("model-nan-weights", "numbers", ("sample {badrun} -n 10 -o {d}/s.h5", "evaluate {badrun} --data {good}"),
         "NaN|non-finite", _model_file(_rewrite(tensors=_nan_weights))),
    Case("run-is-file", "checkpoint", ("sample {good} -n 10 -o {d}/s.h5",), "not a readable qgen model"),
]
