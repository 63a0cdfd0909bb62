"""Readers of other programs' state formats, including the published 50-qubit Ising MPS."""

from itertools import product
from pathlib import Path

import numpy as np
import pytest
from reference import tfim_open_energy
from scipy.stats import chi2

from qgen.datasets import DatasetError, FormatError, attach_target, simulate
from qgen.datasets import rows as importers
from qgen.datasets.records import (
    basis_balance,
    import_records,
    pauli_records_to_outcomes,
    read_onehot,
    read_outcome_indices,
    read_pauli_records,
)
from qgen.measurements import log_prob, pauli4, pauli6, probabilities, sample
from qgen.scores import exact_observable
from qgen.targets import (
    MPS,
    DenseState,
    make_target,
    parse_hamiltonian,
    parse_target,
    random_mps,
    read_mps_npz,
    read_povm_genmodel_mps,
    tfim,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "povm_genmodel"


def write_povm_genmodel(mps, d: Path) -> tuple[Path, Path]:
    """Write ``mps`` in the POVM_GENMODEL text format (independent of the reader)."""
    n, heads, blocks = mps.n_qubits, [], []
    for i, a in enumerate(mps.tensors):
        t = a[0].T if i == 0 else a[:, :, 0].T if i == n - 1 else a.transpose(2, 1, 0)
        nz = np.argwhere(t != 0)
        heads.append(f"{t.ndim}\t{len(nz)}\t" + "   ".join(str(s) for s in t.shape))
        blocks.append("\n".join(" ".join(str(j + 1) for j in ix) + f"\t{float(t[tuple(ix)])!r}" for ix in nz))
    (d / "index.txt").write_text("\n".join(heads) + "\n")
    (d / "tensor.txt").write_text("\n\n".join(blocks) + "\n\n")
    return d / "index.txt", d / "tensor.txt"


def test_round_trip_through_the_text_format(tmp_path):
    mps = random_mps(6, 3, seed=4, real=True)
    back = read_povm_genmodel_mps(*write_povm_genmodel(mps, tmp_path))
    np.testing.assert_allclose(back.to_dense(), mps.to_dense(), atol=1e-14)


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared/data not beside the checkout")
def test_published_ising_mps_is_the_critical_ground_state():
    mps = read_povm_genmodel_mps(SHARED / "index.txt", SHARED / "tensor.txt")
    assert mps.n_qubits == 50 and abs(mps.norm() - 1) < 1e-4
    c, o = tfim(50, J=-1.0, h=-1.0).pauli_indices()
    energy = exact_observable(mps, c, o)
    exact = tfim_open_energy(50)  # free fermions; spectrum independent of the signs of J, h
    assert abs(energy - exact) / abs(exact) < 2e-4


def test_npz_round_trip(tmp_path):
    mps = random_mps(5, 2, seed=1)
    np.savez(tmp_path / "m.npz", *mps.tensors)
    np.testing.assert_allclose(read_mps_npz(tmp_path / "m.npz").to_dense(), mps.to_dense(), atol=1e-14)


@pytest.mark.parametrize(
    "index, tensor, message",
    [
        ("2 2 2 2\n2 2 2 2\n", "1 1 0.5\n2 2 0.5\n", "2 tensors but .* 1 blocks"),
        ("2 2 2 2\n2 2 2 2\n", "1 1 x\n2 2 0.5\n\n1 1 1\n2 2 1\n", "not a list of numbers"),
        ("2 2 2 2\n2 2 2 2\n", "1 3 0.5\n2 2 0.5\n\n1 1 1\n2 2 1\n", "out of range"),
        ("2 3 2 2\n2 2 2 2\n", "1 1 0.5\n2 2 0.5\n\n1 1 1\n2 2 1\n", "expected 3 rows"),
        ("3 2 2 2 2\n2 2 2 2\n", "1 1 1 0.5\n\n1 1 1\n2 2 1\n", "rank 3"),
    ],
)
def test_bad_files_give_one_line_errors(tmp_path, index, tensor, message):
    (tmp_path / "index.txt").write_text(index)
    (tmp_path / "tensor.txt").write_text(tensor)
    with pytest.raises(FormatError, match=message) as e:
        read_povm_genmodel_mps(tmp_path / "index.txt", tmp_path / "tensor.txt")
    assert "\n" not in str(e.value)


# -- measurement records ----------------------------------------------------------------
# A "laboratory" written from the textbook definition, independent of qgen's POVMs: each
# qubit's basis is drawn uniformly from X, Y, Z, the state is measured projectively in the
# eigenbasis of that Pauli matrix, and the eigenvalue is recorded.

LAB_PAULI = {"X": np.array([[0, 1], [1, 0]], complex), "Y": np.array([[0, -1j], [1j, 0]]),
             "Z": np.array([[1, 0], [0, -1]], complex)}


def eigvec(letter: str, sign: int) -> np.ndarray:
    """The eigenvector of the Pauli matrix ``letter`` with eigenvalue ``sign``."""
    w, v = np.linalg.eigh(LAB_PAULI[letter])
    return v[:, int(np.argmin(np.abs(w - sign)))]


def lab_pauli_records(psi: np.ndarray, shots: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(bases (shots, N) letters, signs (shots, N) ±1) of random-basis measurements of ``psi``."""
    rng = np.random.default_rng(seed)
    n = int(np.log2(psi.size))
    bases = np.array(list("XYZ"))[rng.integers(0, 3, (shots, n))]
    signs = np.zeros((shots, n), dtype=int)
    settings, inverse = np.unique(["".join(b) for b in bases], return_inverse=True)
    for s, setting in enumerate(settings):  # one Born-rule distribution per setting
        rows = np.flatnonzero(inverse == s)
        outcomes = list(product((1, -1), repeat=n))
        amps = []
        for out in outcomes:
            v = eigvec(setting[0], out[0])
            for letter, sign in zip(setting[1:], out[1:]):
                v = np.kron(v, eigvec(letter, sign))
            amps.append(np.vdot(v, psi))
        p = np.abs(np.array(amps)) ** 2
        signs[rows] = np.array(outcomes)[rng.choice(len(outcomes), size=len(rows), p=p / p.sum())]
    return bases, signs


def write_records(path: Path, bases: np.ndarray, results: np.ndarray, compact: bool, sep: str = " ") -> Path:
    """Lab-style text records: basis letters (one word if ``compact``), then signs ±1 or bits."""
    signs = results.min() < 0
    lines = ["# lab export: bases then results"]
    for b, r in zip(bases, results):
        head = ["".join(b)] if compact else list(b)
        lines.append(sep.join(head + [f"{v:+d}" if signs else str(v) for v in r]))
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("letter", "XYZ")
@pytest.mark.parametrize("sign", [1, -1])
def test_pauli_record_is_the_pauli6_element_of_that_eigenprojector(letter, sign):
    """Outcome (B, s) must be the POVM element ⅓|v⟩⟨v|, v the eigenvector of σ_B with eigenvalue s."""
    v = eigvec(letter, sign)
    expected = np.outer(v, v.conj()) / 3
    for values, result in (("sign", sign), ("bit", (1 - sign) // 2)):
        a = pauli_records_to_outcomes(np.array([[letter]]), np.array([[result]]), values=values)[0, 0]
        np.testing.assert_allclose(pauli6().elements[a], expected, atol=1e-12)


@pytest.mark.parametrize("compact, sep, signs", [(True, " ", True), (False, ",", False), (False, " ", True)])
def test_random_basis_lab_records_follow_the_pauli6_distribution(tmp_path, compact, sep, signs):
    """χ² test: imported lab records of a random 3-qubit state against P(a) = Tr[(⊗M^a) ρ]."""
    rng = np.random.default_rng(7)
    psi = rng.normal(size=8) + 1j * rng.normal(size=8)
    psi /= np.linalg.norm(psi)
    bases, s = lab_pauli_records(psi, 20_000, seed=3)
    path = write_records(tmp_path / "lab.txt", bases, s if signs else (1 - s) // 2, compact, sep)
    x = read_pauli_records(path, n_qubits=3)
    counts = np.bincount(np.ravel_multi_index(tuple(x.T.astype(int)), (6,) * 3), minlength=216)
    p = probabilities(DenseState(psi), pauli6()).ravel()
    keep = p * len(x) > 5
    stat = np.sum((counts[keep] - len(x) * p[keep]) ** 2 / (len(x) * p[keep]))
    assert chi2.sf(stat, keep.sum() - 1) > 1e-3, stat
    assert np.all(counts[p < 1e-12] == 0)


def test_non_uniform_bases_are_flagged():
    rng = np.random.default_rng(0)
    uniform = rng.integers(0, 6, (3000, 4)).astype(np.uint8)
    assert basis_balance(uniform, pauli6()) is None
    no_y = uniform.copy()
    no_y[:, 2] = np.where(uniform[:, 2] >= 4, uniform[:, 2] - 4, uniform[:, 2])  # Y outcomes → Z
    assert "qubit 2" in basis_balance(no_y, pauli6())


def test_index_onehot_and_npy_readers_agree(tmp_path):
    x = np.random.default_rng(1).integers(0, 4, (50, 5))
    np.savetxt(tmp_path / "idx.txt", x)  # numpy's default '%.18e' floats, as in the paper's files
    np.savetxt(tmp_path / "idx.csv", x, fmt="%d", delimiter=", ", header="written by a lab script")
    np.savetxt(tmp_path / "onehot.txt", np.eye(4)[x].reshape(len(x), -1))
    np.save(tmp_path / "idx.npy", x.astype(np.int32))
    for got in (read_outcome_indices(tmp_path / "idx.txt", 4), read_outcome_indices(tmp_path / "idx.csv", 4),
                read_outcome_indices(tmp_path / "idx.npy", 4, n_qubits=5), read_onehot(tmp_path / "onehot.txt", 4)):
        assert got.dtype == np.uint8
        np.testing.assert_array_equal(got, x)


def test_chunked_reading_keeps_rows_and_line_numbers(tmp_path, monkeypatch):
    monkeypatch.setattr(importers, "_CHUNK_LINES", 3)
    x = np.arange(20).reshape(10, 2) % 4
    text = "\n".join(" ".join(map(str, r)) for r in x).replace("\n2 3", "\n# note\n2 3", 1)
    (tmp_path / "a.txt").write_text(text + "\n")
    np.testing.assert_array_equal(read_outcome_indices(tmp_path / "a.txt", 4), x)
    (tmp_path / "b.txt").write_text(text + "\n0 9\n")
    with pytest.raises(FormatError, match=r"b.txt, line 12, column 2: outcome 9 outside 0..3"):
        read_outcome_indices(tmp_path / "b.txt", 4)


@pytest.mark.parametrize(
    "fmt, text, message",
    [
        ("index", "q0,q1\n0,1\n", r"line 1, column 1: 'q0' is not a number \(a header line\?"),
        ("index", "0 1 2\n0 1\n", "line 2: wrong column count: expected 3 values"),
        ("index", "0 1\n0 4\n", "line 2, column 2: outcome 4 outside 0..3"),
        ("index", "0 1\n0 -1\n", "line 2, column 2: outcome -1 outside"),
        ("index", "0 1\n0.5 1\n", "line 2, column 1: value 0.5 is not an integer"),
        ("index", "# only a comment\n\n", "no data rows"),
        ("index", "", "no data rows"),
        ("index", "0 1 2\n", "rows hold 3 qubits but 2 were stated"),
        ("onehot", "1 0 0 0 0 1 0\n", "7 values per row is not a multiple of K = 4"),
        ("index", "0 x\n", "line 1, column 2: 'x' is not a number"),
        ("onehot", "1 0 0 0 0 1 1 0\n", "line 1: 2 ones in the block of columns 5-8"),
        ("onehot", "1 0 0 0 0 1 0 3\n", "line 1, column 8: value 3 is not 0 or 1"),
        ("pauli-basis", "X Z 0 1\nX W 0 1\n", "line 2, column 2: basis letter not X, Y or Z: 'W'"),
        ("pauli-basis", "XZ 0 1\nXZZ 0 1\n", "line 2, column 1: basis word 'XZZ' has 3 letters, expected 2"),
        ("pauli-basis", "X Z 0 1\nX Z -1 1\n", "line 2, column 3: result '-1' while other lines use bits"),
        ("pauli-basis", "X Z 1 1\n", "every result is '1'"),
        ("pauli-basis", "X Z 0 2\n", "line 1, column 4: result not 0, 1, \\+1 or -1: '2'"),
        ("pauli-basis", "X Z 0\n", "expected N basis letters .* found 3 values"),
    ],
)
def test_bad_records_give_one_line_errors_with_file_and_line(tmp_path, fmt, text, message):
    (tmp_path / "r.txt").write_text(text)
    n = 2 if "stated" in message else None
    with pytest.raises(FormatError, match=message) as e:
        import_records(tmp_path / "r.txt", fmt, "pauli4" if fmt != "pauli-basis" else None, n_qubits=n)
    assert "\n" not in str(e.value) and "r.txt" in str(e.value)


def test_stated_values_convention_is_enforced(tmp_path):
    (tmp_path / "r.txt").write_text("X Z +1 -1\n")
    with pytest.raises(FormatError, match="result '\\+1' is not a bit .*values='sign'"):
        read_pauli_records(tmp_path / "r.txt", values="bit")
    (tmp_path / "s.txt").write_text("X Z 1 1\n")
    assert read_pauli_records(tmp_path / "s.txt", values="sign").tolist() == [[2, 0]]  # X+, Z+
    assert read_pauli_records(tmp_path / "s.txt", values="bit").tolist() == [[3, 1]]  # X−, Z−


def test_import_shuffles_reproducibly_and_attaches_a_target(tmp_path):
    target = make_target("ghz", 4)
    x = sample(target.state, pauli4(), 500, seed=2)
    np.savetxt(tmp_path / "x.txt", x, fmt="%d")
    a = import_records(tmp_path / "x.txt", "index", "pauli4", seed=5)
    b = import_records(tmp_path / "x.txt", "index", "pauli4", seed=5)
    kept = import_records(tmp_path / "x.txt", "index", pauli4(), shuffle=False)
    np.testing.assert_array_equal(a.outcomes, b.outcomes)
    np.testing.assert_array_equal(kept.outcomes, x)
    assert not np.array_equal(a.outcomes, x) and sorted(map(tuple, a.outcomes)) == sorted(map(tuple, x))
    assert a.split == (400, 50, 50) and a.target is None and np.isnan(a.log_prob).all()
    c = import_records(tmp_path / "x.txt", "index", "pauli4", target="ghz", seed=5)
    np.testing.assert_allclose(c.log_prob, log_prob(target.state, pauli4(), c.outcomes))
    with pytest.raises(FormatError, match="need their POVM stated"):
        import_records(tmp_path / "x.txt", "index")
    with pytest.raises(FormatError, match="not the Pauli-6 POVM"):
        import_records(tmp_path / "x.txt", "pauli-basis", "pauli4")


def test_attach_checks_qubit_count_and_marks_impossible_strings():
    ds = simulate(make_target("product", 3, product="0"), pauli6(), 200, seed=0)
    with pytest.raises(DatasetError, match="target has 4 qubits but the data have 3"):
        attach_target(ds, make_target("ghz", 4))
    lp = attach_target(ds, make_target("product", 3, product="1")).log_prob
    # |0⟩ never gives the |1⟩ outcome (index 1) of Pauli-6, and |1⟩ never gives |0⟩ (index 0)
    assert np.array_equal(lp == -np.inf, np.any(ds.outcomes == 0, axis=1))


def test_target_specs_name_kinds_and_files(tmp_path):
    t = parse_target("tfim:h=0.5, J=1", 6)
    assert t.name == "tfim" and abs(t.info["energy"] - tfim_open_energy(6, h=0.5)) < 1e-9
    assert parse_target("XXZ:delta=0.5", 4).hamiltonian.params["delta"] == 0.5
    assert parse_target("product:product=+,noise=0.2", 3).noise == pytest.approx(0.2)
    mps = random_mps(5, 3, seed=2, real=True)
    scaled = MPS((3 * mps.tensors[0],) + mps.tensors[1:])
    np.savez(tmp_path / "m.npz", *scaled.tensors)
    d = tmp_path / "paper"
    d.mkdir()
    write_povm_genmodel(scaled, d)
    psi = mps.to_dense() / np.linalg.norm(mps.to_dense())
    for spec in (str(tmp_path / "m.npz"), str(d), f"{d / 'index.txt'},{d / 'tensor.txt'}"):
        t = parse_target(spec, 5, hamiltonian="tfim:J=-1,h=-1")
        assert abs(abs(np.vdot(t.state.to_dense(), psi)) - 1) < 1e-12  # normalised, same state
        assert abs(t.params["norm_in_file"] - 3 * mps.norm()) < 1e-9
        assert t.hamiltonian.params == {"n": 5, "J": -1.0, "h": -1.0, "boundary": "open"}


@pytest.mark.parametrize(
    "spec, message",
    [
        ("tfim:h=1,n=4", "says n = 4 but the data have 5"),
        ("tfim:g=1", "'g=1' is not KEY=VALUE"),
        ("tfim:h=x", "h = 'x' is not a valid float"),
        ("tfim2d:lx=2,ly=2", "lx·ly = 5"),
        ("nonsense", "unknown target 'nonsense'"),
        ("missing.npz", "'missing.npz' not found"),
        ("product:product=7", "target spec 'product:product=7'"),
    ],
)
def test_bad_target_specs(spec, message):
    with pytest.raises(FormatError, match=message) as e:
        parse_target(spec, 5)
    assert "\n" not in str(e.value)


def test_hamiltonian_only_for_states_without_one():
    with pytest.raises(FormatError, match="ground state of its own Hamiltonian"):
        parse_target("tfim", 4, hamiltonian="xxz")
    with pytest.raises(FormatError, match="acts on 3 qubits"):
        parse_target("ghz", 4, hamiltonian=parse_hamiltonian("tfim", 3))


@pytest.mark.skipif(not SHARED.is_dir(), reason="shared/data not beside the checkout")
def test_published_mps_directory_as_target_spec():
    t = parse_target(str(SHARED), 50, hamiltonian="tfim:J=-1,h=-1")
    assert t.n_qubits == 50 and abs(t.params["norm_in_file"] - 1) < 1e-4 and abs(t.state.norm() - 1) < 1e-12
