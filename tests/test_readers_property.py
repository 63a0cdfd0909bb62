"""Property tests of every reader of untrusted files: whatever the bytes or the text,
the reader returns a valid object or raises the project's own one-line error — never
another exception, never a traceback's worth of message.

* dataset files (:func:`qgen.datasets.read_dataset`, ``read_header``, ``read_samples``):
  random truncations, random byte flips and random bytes under the HDF5 signature;
* model files and checkpoints (:func:`qgen.training.load_model`, the resume path): the
  same on safetensors files, plus random JSON metadata;
* measurement records (:func:`qgen.importers.import_records` in its three formats),
  target specs, MPS files in the POVM_GENMODEL text format and ``.npz`` arrays: random
  text built from the formats' own tokens and from arbitrary characters.

A valid result is checked too (right shapes, outcomes in range), so "no exception" cannot
hide garbage.  Examples are few and deadlines off: each test takes a few seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qgen.datasets import DatasetError, FormatError, import_records, simulate
from qgen.datasets.hdf5 import read_dataset, read_header, read_samples, write_dataset, write_samples
from qgen.measurements import pauli4
from qgen.models import create_model
from qgen.resources import ResourceError
from qgen.targets import make_target, parse_target, read_mps_npz, read_povm_genmodel_mps
from qgen.training import TrainConfig, load_model, save_model, train

FAST = settings(max_examples=20, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def one_line(err: BaseException) -> None:
    assert str(err) and "\n" not in str(err), repr(err)


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> Path:
    """A directory with a good dataset (with an MPS target), samples file, model and
    checkpoint (a path, so that hypothesis's reports stay short)."""
    d = tmp_path_factory.mktemp("good")
    ds = simulate(make_target("ghz", n=3), pauli4(), 120, seed=0)
    write_dataset(ds, d / "data.h5")
    write_samples(d / "samples.h5", ds.outcomes[:20], np.full(20, -3.0), pauli4(), {"model": "x"})
    torch.manual_seed(0)
    model = create_model("rnn", 3, 4, hidden=4, n_layers=1, embed=2)
    save_model(d / "model.safetensors", model, {"dataset": ds.identity()})
    train(model, ds.train, ds.val, TrainConfig(epochs=1, batch_size=50), d / "run", progress=False)
    return d


def damage(data: bytes, how: str, where: float, value: int, count: int) -> bytes:
    """Truncate at a fraction ``where``, flip ``count`` bytes from there, or keep the
    first bytes (the signature and superblock) and fill the rest with one value."""
    i = int(where * len(data))
    if how == "truncate":
        return data[:i]
    if how == "flip":
        out = bytearray(data)
        for k in range(count):
            out[(i + 97 * k) % len(out)] ^= value or 1
        return bytes(out)
    return data[:max(i, 8)] + bytes([value]) * count


DAMAGE = {"how": st.sampled_from(["truncate", "flip", "fill"]), "where": st.floats(0, 1),
          "value": st.integers(0, 255), "count": st.integers(1, 64)}


@FAST
@given(**DAMAGE)
def test_damaged_dataset_reads_or_raises_dataset_error(tmp_path, good, how, where, value, count):
    path = tmp_path / "data.h5"
    path.write_bytes(damage((good / "data.h5").read_bytes(), how, where, value, count))
    for read in (read_header, read_dataset):
        try:
            out = read(path)
        except DatasetError as e:
            one_line(e)
            continue
        assert out.n_qubits == 3 and out.povm.n_outcomes == 4
        if read is read_dataset:
            assert out.outcomes.dtype == np.uint8 and out.outcomes.max() < 4 and sum(out.split) == out.n_samples


@FAST
@given(**DAMAGE)
def test_damaged_samples_file_reads_or_raises_dataset_error(tmp_path, good, how, where, value, count):
    path = tmp_path / "samples.h5"
    path.write_bytes(damage((good / "samples.h5").read_bytes(), how, where, value, count))
    try:
        x, lq, meta = read_samples(path)
    except DatasetError as e:
        one_line(e)
        return
    assert x.ndim == 2 and lq.shape == (len(x),) and isinstance(meta, dict)


@FAST
@given(**DAMAGE, which=st.sampled_from(["model.safetensors", "run/checkpoint.safetensors"]))
def test_damaged_model_files_load_or_raise_value_error(tmp_path, good, how, where, value, count, which):
    """``load_model`` raises ValueError (the trainer's one-line error type) for any
    damaged model file, and resuming from a damaged checkpoint does too."""
    path = tmp_path / Path(which).name
    path.write_bytes(damage((good / which).read_bytes(), how, where, value, count))
    try:
        if which == "model.safetensors":
            model, _ = load_model(path)
            assert model.n_qubits == 3 and model.n_outcomes == 4
        else:
            x = np.random.default_rng(0).integers(0, 4, (100, 3)).astype(np.uint8)
            torch.manual_seed(0)
            train(create_model("rnn", 3, 4, hidden=4, n_layers=1, embed=2), x[:80], x[80:],
                  TrainConfig(epochs=2, batch_size=50), tmp_path, resume=True, progress=False)
    except ValueError as e:
        one_line(e)


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                         max_size=3),
                           max_leaves=8)


def _with_metadata(tmp_path: Path, good: Path, change) -> Path:
    """A copy of the good model file whose JSON metadata is ``change``d."""
    from safetensors import safe_open
    from safetensors.torch import save_file

    with safe_open(str(good / "model.safetensors"), framework="pt") as f:
        meta = json.loads(f.metadata()["qgen"])
        tensors = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (a file handle)
    change(meta)
    save_file(tensors, str(tmp_path / "m.safetensors"), metadata={"qgen": json.dumps(meta)})
    return tmp_path / "m.safetensors"


@FAST
@given(key=st.sampled_from(["model", "n_qubits", "n_outcomes", "format", "version"]), value=JSON_VALUES)
def test_model_metadata_of_any_json_loads_or_raises_value_error(tmp_path, good, key, value):
    """Hostile metadata (any JSON in these fields) reaches nothing but a look-up in the
    model registry and the model's own validation."""
    try:
        model, meta = load_model(_with_metadata(tmp_path, good, lambda m: m.__setitem__(key, value)))
    except ValueError as e:
        one_line(e)
        return
    assert (model.n_qubits, model.n_outcomes) == (meta["n_qubits"], meta["n_outcomes"])


@pytest.mark.parametrize("change", [
    lambda m: m.__setitem__("config", None), lambda m: m.__setitem__("config", {}),
    lambda m: m.__setitem__("config", {"hidden": "64"}), lambda m: m.__setitem__("dataset", []),
    lambda m: m.__delitem__("n_qubits"), lambda m: m.__delitem__("config"),
], ids=["config-null", "config-empty", "config-text", "dataset-list", "no-n-qubits", "no-config"])
def test_model_metadata_fields_of_the_wrong_type_raise_value_error(tmp_path, good, change):
    with pytest.raises(ValueError) as err:
        load_model(_with_metadata(tmp_path, good, change))
    one_line(err.value)


# -- text records and specs ---------------------------------------------------------------

TOKENS = ["0", "1", "2", "3", "4", "-1", "+1", "1.0", "0.5", "nan", "inf", "1e400", "X", "Y", "Z", "XZ", "q", "#",
          "", " ", ",", "\t", "\n", "\r\n", "#c\n", "é"]
LINES = st.lists(st.lists(st.sampled_from(TOKENS), max_size=8).map(" ".join), max_size=6).map("\n".join)
TEXT = st.one_of(LINES, st.text(st.characters(exclude_characters="\x00"), max_size=80), st.binary(max_size=80))


def _write(path: Path, content: str | bytes) -> Path:
    (path.write_bytes if isinstance(content, bytes) else path.write_text)(content)
    return path


@FAST
@given(content=TEXT, fmt=st.sampled_from(["index", "onehot", "pauli-basis"]),
       povm=st.sampled_from([None, "pauli4", "pauli6", "trine"]), suffix=st.sampled_from([".txt", ".csv"]))
def test_any_text_imports_or_raises_format_error(tmp_path, content, fmt, povm, suffix):
    path = _write(tmp_path / f"shots{suffix}", content)
    try:
        ds = import_records(path, fmt, povm, val_fraction=0.0, test_fraction=0.0)
    except (FormatError, DatasetError) as e:  # DatasetError: a valid file too small to split
        one_line(e)
        return
    assert ds.outcomes.dtype == np.uint8 and ds.outcomes.max() < ds.povm.n_outcomes and ds.n_samples >= 1


@FAST
@given(shape=st.lists(st.integers(0, 4), min_size=0, max_size=3),
       dtype=st.sampled_from(["uint8", "int64", "float64", "bool", "complex128", "U2", "object"]),
       fill=st.sampled_from([0, 1, 3, 7, -1, 0.5, np.nan]))
def test_any_npy_array_imports_or_raises_format_error(tmp_path, shape, dtype, fill):
    a = np.full(shape, fill).astype(dtype) if dtype != "object" else np.full(shape, fill, dtype=object)
    path = tmp_path / "shots.npy"
    np.save(path, a, allow_pickle=dtype == "object")
    try:
        ds = import_records(path, "index", "pauli4", val_fraction=0.0, test_fraction=0.0)
    except (FormatError, DatasetError) as e:
        one_line(e)
        return
    assert ds.outcomes.max() < 4


SPEC_TOKENS = ["tfim", "ghz", "w", "xxz", "tfim2d", "product", "heisenberg", "cluster", ":", ",", "=", "h", "J",
               "n", "4", "-1", "nan", "inf", "1e999", "lx", "ly", "2", "noise", "0.5", "product", "+", "x", ".npz",
               "method", "exact", "dmrg", "cutoff", "boundary", "periodic", "seed", "delta"]


@FAST
@given(spec=st.one_of(st.lists(st.sampled_from(SPEC_TOKENS), max_size=7).map("".join), st.text(max_size=30)),
       hamiltonian=st.one_of(st.none(), st.lists(st.sampled_from(SPEC_TOKENS), max_size=5).map("".join)))
def test_any_target_spec_parses_or_raises_format_error(tmp_path, monkeypatch, spec, hamiltonian):
    monkeypatch.chdir(tmp_path)  # spec strings naming files must not find any
    try:
        target = parse_target(spec, 4, hamiltonian=hamiltonian)
    except (FormatError, ResourceError) as e:
        one_line(e)
        return
    assert target.n_qubits == 4


GENMODEL_TOKENS = ["1", "2", "3", "0", "-1", "0.7071", "nan", "1e9", "2.5", "x", "", "\n", " "]
GENMODEL = st.lists(st.lists(st.sampled_from(GENMODEL_TOKENS), max_size=5).map(" ".join), max_size=8).map("\n".join)


@FAST
@given(index=st.one_of(GENMODEL, st.binary(max_size=40)), tensor=st.one_of(GENMODEL, st.binary(max_size=40)))
def test_any_genmodel_text_reads_or_raises_format_error(tmp_path, index, tensor):
    try:
        mps = read_povm_genmodel_mps(_write(tmp_path / "index.txt", index), _write(tmp_path / "tensor.txt", tensor))
    except (FormatError, ResourceError) as e:
        one_line(e)
        return
    assert mps.n_qubits >= 2


@FAST
@given(shapes=st.lists(st.lists(st.integers(0, 3), min_size=1, max_size=3), max_size=4),
       fill=st.sampled_from([1.0, 0.0, np.nan]), names=st.sampled_from(["positional", "digits", "other"]))
def test_any_npz_reads_or_raises_format_error(tmp_path, shapes, fill, names):
    arrays = [np.full(s, fill) for s in shapes]
    keys = {"positional": [f"arr_{i}" for i in range(len(arrays))], "digits": [str(i) for i in range(len(arrays))],
            "other": [f"site{i}" for i in range(len(arrays))]}[names]
    np.savez(tmp_path / "state.npz", **dict(zip(keys, arrays)))
    try:
        mps = read_mps_npz(tmp_path / "state.npz")
    except FormatError as e:
        one_line(e)
        return
    assert mps.n_qubits == len(arrays)
