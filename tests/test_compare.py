"""qgen compare and the likelihood-free (GAN) scoring path of the evaluator."""

import json

from click.testing import CliRunner

from qgen.cli import cli
from qgen.datasets import simulate
from qgen.datasets.hdf5 import write_dataset
from qgen.measurements import pauli4, probabilities, sample
from qgen.scores import enumerate_strings
from qgen.targets import make_target
from qgen.workflows import ComparisonRow, compare, format_comparison
from qgen.workflows.evaluation import histogram_scores


def test_histogram_scores_of_exact_samples_approach_one():
    """Samples drawn from P itself: the histogram's F_c is close to 1 (bias ≈ K^N/(8n))."""
    state = make_target("ghz", n=3, noise=0.1).state
    x = sample(state, pauli4(), 50_000, seed=0)
    s = histogram_scores(x, state, pauli4())
    p = probabilities(state, pauli4()).ravel()
    bias = (p > 0).sum() / (8 * len(x))
    assert abs(s["classical_fidelity"].mean - 1) < 3 * s["classical_fidelity"].stderr + 2 * bias
    assert s["classical_fidelity"].stderr > 0 and "histogram" in s["classical_fidelity"].note
    # a biased sampler (a different state) is clearly detected
    other = sample(make_target("ghz", n=3, noise=0.6).state, pauli4(), 50_000, seed=1)
    assert histogram_scores(other, state, pauli4())["classical_fidelity"].mean < 0.99
    assert enumerate_strings(4, 3).shape == (64, 3)


def test_compare_two_backends_table_and_files(tmp_path):
    ds = simulate(make_target("tfim", n=4), pauli4(), 2000, seed=0)
    rows = compare(ds, ["rnn", "gan"], max_time=3, out_dir=tmp_path, n_samples=1000)
    assert [r.model for r in rows] == ["rnn", "gan"]
    rnn, gan = rows
    assert rnn.kl_target_model.available and rnn.energy_error.available
    assert "histogram" in gan.classical_fidelity.note  # N ≤ 8: from the sampled histogram
    table = format_comparison(rows)
    assert "rnn" in table and "gan" in table and "F_c" in table
    saved = [ComparisonRow.from_dict(d) for d in json.loads((tmp_path / "compare.json").read_text())]
    assert [r.to_dict() for r in saved] == [r.to_dict() for r in rows]  # (an infinite KL is stored as null)
    assert (tmp_path / "compare.png").is_file() and (tmp_path / "gan" / "model.safetensors").is_file()


def test_gan_scores_are_na_above_enumeration_size(tmp_path):
    from qgen.models import create_model
    from qgen.workflows import evaluate

    ds = simulate(make_target("ghz", n=10), pauli4(), 500, seed=0)
    rep = evaluate(create_model("gan", 10, 4), ds, n_samples=200)
    assert not rep.scores.classical_fidelity.available
    assert "no likelihood" in rep.scores.classical_fidelity.note
    assert rep.observables["correlation_zz"].model[0].available  # samples still scored


def test_compare_cli_rejects_unknown_model_before_training(tmp_path):
    path = write_dataset(simulate(make_target("ghz", n=3), pauli4(), 200, seed=0), tmp_path / "d.h5")
    res = CliRunner().invoke(cli, ["compare", str(path), "--models", "rnn,nope", "-o", str(tmp_path / "c")])
    assert res.exit_code == 1 and res.output.startswith("Error: unknown model 'nope'")
    assert not (tmp_path / "c").exists()


def test_compare_quantum_fidelity_is_exact_where_the_model_allows(tmp_path):
    """The table's quantum F is the verdict's ⟨ψ|ρ|ψ⟩: for the MPS backend its state's
    fidelity (checked against the dense density matrix it holds), for the RNN that of
    ρ_q = Σ_a q(a) D^a over all 4^3 strings (checked by linear inversion with weights q)."""
    import torch

    from qgen.scores.densities import fidelity_pure
    from qgen.scores.tomography import linear_inversion
    from qgen.training import load_model

    target = make_target("ghz", n=3)
    ds = simulate(target, pauli4(), 1500, seed=0)
    rows = compare(ds, ["mps", "rnn"], max_time=1.5, out_dir=tmp_path, n_samples=500)
    psi = target.state.to_dense()
    mps = load_model(tmp_path / "mps")[0]
    assert rows[0].quantum_fidelity.note.startswith("exact")
    assert abs(rows[0].quantum_fidelity.mean - fidelity_pure(mps.to_dense(), psi)) < 1e-9
    rnn, x = load_model(tmp_path / "rnn")[0], enumerate_strings(4, 3)
    with torch.no_grad():
        q = torch.exp(rnn.log_prob(torch.as_tensor(x, dtype=torch.long))).double().numpy()
    rho_q = linear_inversion(x, pauli4(), weights=q)
    assert rows[1].quantum_fidelity.note.startswith("exact")
    assert abs(rows[1].quantum_fidelity.mean - fidelity_pure(rho_q, psi)) < 1e-6


def test_every_backend_is_named_in_the_help_the_readme_and_the_backends_table():
    from pathlib import Path

    from qgen.models.base import MODELS

    root = Path(__file__).resolve().parents[1]
    table = (root / "docs" / "runs.md").read_text()
    rows = {name.strip("` ") for line in table.splitlines() if line.startswith("| `")
            for name in line.split("|")[1].split(",")}
    models_line = next(line for line in (root / "README.md").read_text().splitlines() if "`qgen.models`" in line)
    for command in ("compare", "train", "sweep"):
        text = " ".join(CliRunner().invoke(cli, [command, "--help"]).output.split())
        assert all(name in text for name in MODELS), (command, text)
    assert set(MODELS) <= rows, sorted(set(MODELS) - rows)
    assert all(name in models_line for name in MODELS), models_line
