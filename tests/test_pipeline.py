"""The pipeline as a library: one ``fit`` behind train, compare and sweep; self-contained
model files; one registry of target recipes; library errors that name arguments, not
command-line options."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner

from qgen.cli import cli
from qgen.datasets import read_samples, simulate, write_dataset
from qgen.errors import ArgumentError
from qgen.measurements import POVM, pauli4
from qgen.targets import RECIPES, SOLVER_PARAMS, Param, Recipe, ghz, make_target, parse_target, register_recipe
from qgen.training import load_model, stored_povm
from qgen.workflows import RUN_FILE, fit

SMALL = {"hidden": 8, "n_layers": 1}


def rotated_povm() -> POVM:
    """Pauli-4 rotated by a random unitary: a custom POVM no name describes."""
    rng = np.random.default_rng(5)
    u, _ = np.linalg.qr(rng.normal(size=(2, 2)) + 1j * rng.normal(size=(2, 2)))
    return POVM("rotated", np.einsum("ij,ajk,lk->ail", u, pauli4().elements, u.conj()))


def test_fit_writes_a_self_contained_run(tmp_path):
    ds = simulate(make_target("ghz", n=3), rotated_povm(), 800, seed=0)
    run = fit(ds, "rnn", tmp_path, epochs=2, progress=False, model_options=SMALL)
    assert run.result.stop_reason == "epochs" and len(run.result.history) == 2
    assert json.loads((tmp_path / RUN_FILE).read_text())["n_train"] == len(ds.train)
    model, meta = load_model(tmp_path)
    povm = stored_povm(meta)  # the model file alone says what its outcomes mean
    assert povm.name == "rotated" and np.allclose(povm.elements, ds.povm.elements, atol=1e-12)
    assert model.n_qubits == 3


def test_sample_needs_neither_run_json_nor_the_dataset(tmp_path):
    data = write_dataset(simulate(make_target("ghz", n=3), rotated_povm(), 600, seed=0), tmp_path / "d.h5")
    run = CliRunner().invoke(cli, ["train", str(data), "-o", str(tmp_path / "run"), "--epochs", "1", "--model", "rnn",
                                   "--set", "hidden=8", "--set", "n_layers=1", "-q"])
    assert run.exit_code == 0, run.output
    (tmp_path / "run" / RUN_FILE).unlink()
    data.unlink()
    res = CliRunner().invoke(cli, ["sample", str(tmp_path / "run"), "-n", "50", "-o", str(tmp_path / "s.h5")])
    assert res.exit_code == 0, res.output
    with __import__("h5py").File(tmp_path / "s.h5") as f:
        elements = f["povm/elements"][()]
    assert np.allclose(elements, rotated_povm().elements) and read_samples(tmp_path / "s.h5")[0].shape == (50, 3)


def test_library_errors_name_arguments_and_the_cli_names_options(tmp_path):
    ds = simulate(make_target("ghz", n=3), pauli4(), 400, seed=0)
    with pytest.raises(ArgumentError, match="train_samples must lie in 1..320") as err:
        fit(ds, "rnn", tmp_path, train_samples=0, progress=False)
    assert err.value.argument == "train_samples" and "--" not in str(err.value)
    with pytest.raises(ArgumentError) as err:
        make_target("ghz", 4, h=1.0)
    assert err.value.argument == "h" and "--" not in str(err.value)
    res = CliRunner().invoke(cli, ["simulate", "ghz", "--n", "4", "--h", "1", "-o", str(tmp_path / "x.h5")])
    assert res.exit_code == 2 and res.output.startswith("Error: Invalid value for '--h': is not a parameter")
    assert not (tmp_path / "x.h5").exists()


def test_one_recipe_registry_serves_make_target_specs_and_the_cli():
    options = {p.name for p in cli.commands["simulate"].params}
    for recipe in RECIPES.values():  # every recipe parameter is a `qgen simulate` option
        names = {p.name for p in recipe.params + (SOLVER_PARAMS if recipe.ground_state else ())}
        assert names <= options, recipe.name
    kinds = next(p for p in cli.commands["simulate"].params if p.name == "kind").type.choices
    assert list(kinds) == list(RECIPES)

    recipe = Recipe("ghz-pair-test", lambda n, k: ghz(n) if k == 1 else ghz(n).with_noise(0.1),
                    (Param("k", int, 1, "which"),), "test recipe", False)
    register_recipe(recipe)
    try:
        assert make_target("ghz-pair-test", 3, k=2).state.noise == pytest.approx(0.1)
        assert parse_target("ghz-pair-test:k=2", 3).params == {"n": 3, "k": 2}
        with pytest.raises(ValueError, match="already registered"):
            register_recipe(recipe)
    finally:
        del RECIPES["ghz-pair-test"]
