"""Missing readouts: import, storage, exact marginals, training, conditional sampling and
imputation, each against an independent reference (exact enumeration, χ² tests)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from scipy import stats

from qgen.datasets import Dataset, attach_target, read_dataset, read_header, simulate, split_counts, write_dataset
from qgen.datasets.records import import_records, read_onehot, read_outcome_indices, read_pauli_records
from qgen.errors import FormatError
from qgen.measurements import log_prob, pauli4
from qgen.models import create_model
from qgen.targets import make_target
from qgen.training import TrainConfig, train
from qgen.workflows import impute


def _completions(x: np.ndarray, holes: np.ndarray, k: int) -> np.ndarray:
    """Every completion of one string, by itertools (the reference enumeration)."""
    where = np.flatnonzero(holes)
    out = np.repeat(x[None], k ** len(where), 0)
    if len(where):
        out[:, where] = np.array(list(itertools.product(range(k), repeat=len(where))))
    return out


# -- records -------------------------------------------------------------------------


def test_records_with_missing_markers(tmp_path):
    p = tmp_path / "x.txt"
    p.write_text("0 3 ?\n2 - 1\nnan 1 1\n1 1 1\n")
    x = read_outcome_indices(p, 4)
    assert np.ma.getmaskarray(x).tolist() == [[0, 0, 1], [0, 1, 0], [1, 0, 0], [0, 0, 0]]
    assert np.ma.getdata(x)[0].tolist() == [0, 3, 0]
    p.write_text("1 0 0 0 0 0 0 0\n0 0 0 1 0 1 0 0\n")
    x = read_onehot(p, 4)
    assert np.ma.getmaskarray(x).tolist() == [[0, 1], [0, 0]] and np.ma.getdata(x).tolist() == [[0, 0], [3, 1]]
    p.write_text("X Z 0 ?\n- Y - 1\nX Z 1 0\n")  # a missing result, then a missing basis and result
    x = read_pauli_records(p)
    assert np.ma.getmaskarray(x).tolist() == [[0, 1], [1, 0], [0, 0]]
    assert np.ma.getdata(x)[2].tolist() == read_pauli_records(tmp_path / "x.txt").data[2].tolist()
    p.write_text("X Z 0 ?\n- Y - 1\nX Z 1 0\n")
    ds = import_records(p, "pauli-basis", shuffle=False, val_fraction=0, test_fraction=0)
    assert ds.missing_per_qubit().tolist() == [1, 1] and "missing   2 readouts" in ds.describe()


@pytest.mark.parametrize("fmt, text, message", [
    ("pauli-basis", "- Z 0 1\n", "line 1, column 1: result '0' of qubit 0 without its basis letter"),
    ("index", "0 ??\n", "line 1"),
    ("onehot", "1 1 0 0 0 0 0 1\n", "line 1: 2 ones in the block of columns 1-4"),
])
def test_malformed_missing_markers_give_one_line_errors(tmp_path, fmt, text, message):
    p = tmp_path / "bad.txt"
    p.write_text(text)
    with pytest.raises(FormatError) as e:
        import_records(p, fmt, povm=None if fmt == "pauli-basis" else "pauli4")
    assert message in str(e.value) and "\n" not in str(e.value)


# -- storage and exact marginals ------------------------------------------------------


def test_hdf5_round_trip_of_the_mask_and_files_without_it(tmp_path):
    rng = np.random.default_rng(0)
    ds = simulate(make_target("ghz", 4), pauli4(), 300, seed=0)
    holes = rng.random(ds.outcomes.shape) < 0.2
    ds = Dataset(ds.outcomes, ds.povm, ds.split, None, None, 0, {}, holes)
    assert not ds.outcomes[holes].any()  # stored as 0 under the mask
    back = read_dataset(write_dataset(ds, tmp_path / "h.h5"))
    assert (back.missing == holes).all() and (back.outcomes == ds.outcomes).all()
    assert read_header(tmp_path / "h.h5").missing_per_qubit == tuple(holes.sum(0).tolist())
    complete = read_dataset(write_dataset(simulate(make_target("ghz", 4), pauli4(), 50, seed=0), tmp_path / "c.h5"))
    assert complete.missing is None and read_header(tmp_path / "c.h5").missing_per_qubit is None
    assert read_dataset("datasets/examples/ghz4_pauli4.h5").missing is None  # schema version 1
    with pytest.raises(Exception, match="missing must be a bool array"):
        Dataset(ds.outcomes, ds.povm, ds.split, missing=holes[:, :2])


def test_exact_marginal_log_prob_against_the_summed_table():
    target = make_target("tfim", 5)
    rng = np.random.default_rng(1)
    x = rng.integers(0, 4, (40, 5)).astype(np.uint8)
    holes = rng.random(x.shape) < 0.4
    holes[0] = True  # nothing observed: ln 1
    ds = attach_target(Dataset(x, pauli4(), split_counts(40, (0, 0)), missing=holes), target)
    table = np.exp(log_prob(target.state, pauli4(), np.array(list(itertools.product(range(4), repeat=5)))))
    index = 4 ** np.arange(4, -1, -1)
    want = [np.log(table[_completions(np.where(h, 0, r), h, 4) @ index].sum()) for r, h in zip(x, holes)]
    assert np.allclose(ds.log_prob, want, atol=1e-10)


# -- models -------------------------------------------------------------------------


@pytest.mark.parametrize("name, options", [("rnn", {"hidden": 8, "n_layers": 1}),
                                           ("rnn", {"hidden": 8, "n_layers": 1, "patch": 2}),
                                           ("transformer", {"d_model": 16, "n_layers": 1, "n_heads": 2})])
def test_autoregressive_marginal_against_summed_completions(name, options):
    torch.manual_seed(0)
    model = create_model(name, 5, 4, **options)
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 4, (30, 5), generator=g)
    holes = torch.rand(30, 5, generator=g) < 0.4
    holes[0], holes[1] = True, False
    with torch.no_grad():
        got = model.marginal_log_prob(x, holes)
        want = [torch.logsumexp(model.log_prob(torch.from_numpy(_completions(r.numpy(), h.numpy(), 4))), 0)
                for r, h in zip(torch.where(holes, 0, x), holes)]
    assert torch.allclose(got.float(), torch.stack(want), atol=1e-4)


@pytest.mark.parametrize("name, options", [("rnn", {"hidden": 8, "n_layers": 1}),
                                           ("transformer", {"d_model": 16, "n_layers": 1, "n_heads": 2}),
                                           ("rbm", {"n_hidden": 4})])
def test_conditional_sampling_against_the_exact_conditional(name, options):
    torch.manual_seed(1)
    model = create_model(name, 3, 4, **options)
    given = torch.tensor([-1, 2, -1])  # a given qubit after a free one: enumeration, then ancestral
    n = 20_000
    x, lq = model.sample(n, torch.Generator().manual_seed(0), given=given)
    assert (x[:, 1] == 2).all()
    with torch.no_grad():
        rows = torch.from_numpy(_completions(np.array([0, 2, 0]), np.array([1, 0, 1], bool), 4))
        lp = model.log_prob(rows).double()
    p = torch.softmax(lp, 0).numpy()
    code = (x[:, 0] * 4 + x[:, 2]).numpy()
    assert np.allclose(lq.double().numpy(), np.log(p[code]), atol=1e-4)
    counts = np.bincount(code, minlength=16)
    assert stats.chisquare(counts, p * n).pvalue > 1e-3


def test_models_without_a_likelihood_refuse_missing_readouts(tmp_path):
    gan = create_model("gan", 3, 4)
    with pytest.raises(NotImplementedError, match="cannot draw conditionally"):
        gan.sample(2, given=[0, -1, -1])
    holes = np.ma.MaskedArray(np.zeros((20, 3), np.uint8), np.eye(3, dtype=bool)[np.arange(20) % 3])
    with pytest.raises(ValueError, match="impute them with another model first"):
        train(gan, holes, np.zeros((4, 3), np.uint8), TrainConfig(epochs=1), tmp_path, progress=False)
    with pytest.raises(ValueError, match="given must have shape"):
        create_model("rnn", 3, 4).sample(2, given=[0, -1])


# -- training and imputation ------------------------------------------------------------


def _holes_data(n: int, seed: int):
    ds = simulate(make_target("tfim", 4), pauli4(), n, seed=seed)
    holes = np.random.default_rng(seed).random(ds.outcomes.shape) < 0.2
    return ds, Dataset(ds.outcomes, ds.povm, ds.split, None, ds.target, seed, {}, holes)


@pytest.mark.parametrize("name, options, kind", [("rnn", {"hidden": 16, "n_layers": 1}, "marginalised"),
                                                 ("vae", {"hidden": 16, "latent": 4}, "imputed")])
def test_training_on_incomplete_shots_is_reproducible_and_logged(tmp_path, name, options, kind):
    _, ds = _holes_data(400, 0)
    runs = []
    for k in range(2):
        torch.manual_seed(0)
        model = create_model(name, 4, 4, **options)
        result = train(model, ds.masked("train"), ds.masked("val"), TrainConfig(epochs=2, batch_size=100),
                       tmp_path / str(k), progress=False)
        runs.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    last = result.history[-1]
    assert abs(last[f"train_missing_{kind}"] - ds.split_missing("train").mean()) < 0.02
    assert last["train_missing_dropped"] == 0 and np.isfinite(last[f"val_{model.val_name}"])
    assert torch.equal(runs[0], runs[1])


def test_impute_keeps_the_record_and_draws_from_the_model(tmp_path):
    full, ds = _holes_data(600, 2)
    torch.manual_seed(0)
    model = create_model("rnn", 4, 4, hidden=8, n_layers=1)
    copies = impute(model, ds, seed=3, n_draws=2)
    assert len(copies) == 2 and not (copies[0].outcomes == copies[1].outcomes).all()
    for c in copies:
        assert c.missing is None and (c.imputed == ds.missing).all()
        assert (c.outcomes[~ds.missing] == full.outcomes[~ds.missing]).all()
        whole = ~ds.missing.any(1)  # ln P recomputed on the completed strings (−inf: one the state cannot give)
        assert np.allclose(c.log_prob[whole], full.log_prob[whole]) and not np.isnan(c.log_prob).any()
        assert c.meta["imputed"]["readouts"] == int(ds.missing.sum())
    back = read_dataset(write_dataset(copies[0], tmp_path / "i.h5"))
    assert (back.imputed == ds.missing).all() and "imputed" in back.describe()
    again = impute(model, ds, seed=3)[0]
    assert (again.outcomes == copies[0].outcomes).all()


def test_impute_command(tmp_path):
    from click.testing import CliRunner

    from qgen.cli import cli

    _, ds = _holes_data(300, 4)
    write_dataset(ds, tmp_path / "holes.h5")
    torch.manual_seed(0)
    model = create_model("rnn", 4, 4, hidden=8, n_layers=1)
    train(model, ds.masked("train"), ds.masked("val"), TrainConfig(epochs=1, batch_size=100), tmp_path / "run",
          progress=False, dataset_info=ds.identity())
    out = CliRunner().invoke(cli, ["impute", str(tmp_path / "run"), "--data", str(tmp_path / "holes.h5"),
                                   "--draws", "2", "-o", str(tmp_path / "filled.h5")])
    assert out.exit_code == 0, out.output
    for name in ("filled.h5", "filled_1.h5"):
        done = read_dataset(tmp_path / name)
        assert done.missing is None and (done.imputed == ds.missing).all()
    help_text = " ".join(CliRunner().invoke(cli, ["import", "--help"]).output.split())
    assert "'-', '?' or 'nan'" in help_text

@pytest.mark.slow
def test_tfim12_imputation_matches_the_exact_conditional_and_fidelity_survives(tmp_path):
    """The issue's test (the full run with its numbers: benchmarks/bench_missing.py): 20 %
    of the readouts of 20,000 TFIM-12 shots hidden; the model trained on the incomplete
    shots reaches the F_c of the one trained on the complete shots within 0.02 (the
    incomplete data hold 20 % fewer readouts, so somewhat more statistical error is
    expected; 0.02 is ≈ 5 standard errors of F_c from 20,000 samples at this size), and its
    imputations match the exact conditional marginals within |z| < 5 per qubit and outcome
    (a trained model is not exact: the margin admits its error)."""
    from qgen.scores.distribution import classical_fidelity

    target, povm = make_target("tfim", 12), pauli4()
    full = simulate(target, povm, 20_000, seed=0)
    holes = np.random.default_rng(0).random(full.outcomes.shape) < 0.2
    ds = Dataset(full.outcomes, povm, full.split, None, target, 0, {}, holes)
    fc = {}
    for name, data in (("complete", full), ("incomplete", ds)):
        torch.manual_seed(0)
        model = create_model("rnn", 12, 4, hidden=32, n_layers=1)
        train(model, data.masked("train"), data.masked("val"), TrainConfig(epochs=20, batch_size=500, lr=3e-3),
              tmp_path / name, progress=False)
        with torch.no_grad():
            x, lq = model.sample(20_000, torch.Generator().manual_seed(1))
        fc[name] = classical_fidelity(lq.double().numpy(), log_prob(target.state, povm, x.numpy())).mean
    assert fc["incomplete"] > fc["complete"] - 0.02
    filled = impute(model, ds, seed=0)[0]
    shots, qubits = np.nonzero(holes)
    base, rest = np.where(holes, 0, ds.outcomes)[shots], holes[shots].copy()
    rest[np.arange(len(shots)), qubits] = False
    joint = []
    for a in range(4):
        y = base.copy()
        y[np.arange(len(shots)), qubits] = a
        joint.append(log_prob(target.state, povm, y, missing=rest))
    p = np.exp(np.stack(joint, 1) - np.logaddexp.reduce(np.stack(joint, 1), axis=1, keepdims=True))
    drawn = filled.outcomes[shots, qubits]
    for q in range(12):
        sel = qubits == q
        z = (np.bincount(drawn[sel], minlength=4) - p[sel].sum(0)) / np.sqrt((p[sel] * (1 - p[sel])).sum(0))
        assert np.abs(z).max() < 5, (q, z)
