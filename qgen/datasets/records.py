"""Measurement records of other programs (one row per shot) → a qgen :class:`~qgen.datasets.Dataset`:

* ``index``: N outcome indices 0…K−1 per row (the POVM is stated by the caller);
* ``onehot``: K·N values 0/1 per row, qubit-major (columns kK…kK+K−1 are qubit k), with
  exactly one 1 per block — the training-data format of Carrasquilla et al. 2019
  (POVM_GENMODEL);
* ``pauli-basis``: projective Pauli measurements, per row N basis letters X/Y/Z (as N
  values or one word such as ``XZYZ``) followed by N results, either bits 0/1 (0 =
  eigenvalue +1) or signs ±1.  Measuring every qubit in a basis drawn uniformly at
  random from X, Y, Z and recording the eigenvalue is exactly the Pauli-6 POVM
  {⅓(I ± σ_B)/2}, so each record maps to one ``pauli6`` outcome
  (:func:`pauli_records_to_outcomes`; the map is read off the POVM elements).

Missing readouts (a qubit whose readout failed on a shot) are kept, not dropped: in
``index`` and ``pauli-basis`` records a value ``-``, ``?`` or ``nan`` marks one (for
``pauli-basis`` the result alone, or the basis letter and the result; a basis without
its result is fine, a result without its basis is an error), in ``onehot`` an all-zero
block; a ``.npy`` array marks one with NaN.  The readers then return a
``numpy.ma.MaskedArray`` whose mask is the missing readouts (the value under the mask is
0 and means nothing), and :func:`import_records` stores the mask as
``Dataset.missing``.  A Pauli-6 record whose result is missing drops its basis letter
too: the basis is drawn independently of the state (Σ_± ⅓(I ± σ_B)/2 = I/3 for every B),
so on its own it says nothing about ρ, and the qubit is missing as a whole.

Text files (any extension: .txt, .csv, .dat) hold values separated by whitespace or by
commas (decided by the first data line); blank lines and lines starting with ``#`` are
skipped, as is anything after ``#`` on a line; a header line is rejected with a hint to
comment it out or pass ``skip_rows``.  Integers may be written as floats with a zero
fraction (``np.savetxt``'s default ``3.000000000000000000e+00``).  ``.npy`` arrays
(index or one-hot, 2-D, integer, boolean or integral float) are read too.  Every
problem is a one-line :class:`FormatError` naming the file, the line (row for .npy),
the column and what is wrong.  Files are parsed in chunks by numpy's C reader.

Records become datasets with :func:`import_records`; targets are attached with
:func:`qgen.datasets.attach_target` and read from text by :func:`qgen.targets.parse_target`.

Example
-------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "shots.txt").write_text("# bases, then signs\\nXZ +1 -1\\nZZ -1 -1\\n")
>>> read_pauli_records(d / "shots.txt").tolist()   # pauli6: 2·basis + bit, basis Z=0, X=1, Y=2
[[2, 1], [1, 1]]
>>> _ = (d / "holes.txt").write_text("0 3 ?\\n2 - 1\\n")
>>> read_outcome_indices(d / "holes.txt", 4).tolist()
[[0, 3, None], [2, None, 1]]
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from qgen._version import __version__
from qgen.datasets.dataset import Dataset, split_counts
from qgen.datasets.hdf5 import timestamp
from qgen.datasets.rows import Block, check_n_qubits, integer_rows, missing_cells, read_rows
from qgen.datasets.simulation import attach_target
from qgen.errors import FormatError
from qgen.measurements.povm import POVM, POVMError, get_povm, pauli6
from qgen.measurements.readout import pauli_outcome_table
from qgen.targets.recipes import parse_target
from qgen.targets.target import Target

__all__ = [
    "RECORD_FORMATS", "RESULT_VALUES", "import_records", "read_outcome_indices", "read_onehot",
    "read_pauli_records", "pauli_records_to_outcomes", "basis_balance",
]


RECORD_FORMATS = ("index", "onehot", "pauli-basis")
RESULT_VALUES = ("auto", "bit", "sign")


def _outcomes(v: np.ndarray) -> np.ndarray:
    """int16 rows with −1 at missing readouts → uint8, masked there if any is missing."""
    missing = v < 0
    x = np.where(missing, 0, v).astype(np.uint8)
    return np.ma.MaskedArray(x, missing) if missing.any() else x


# -- outcome indices and one-hot rows -----------------------------------------------


def read_outcome_indices(path: str | Path, n_outcomes: int, *, n_qubits: int | None = None,
                         skip_rows: int = 0) -> np.ndarray:
    """Outcome strings from a file with one row of N indices in 0…K−1 per shot
    (``K = n_outcomes``), as ``uint8 (shots, N)``; masked where a value is marked missing
    (``-``, ``?``, ``nan``; see the module doc).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = p.write_text("0,3,1\\n2,2,0\\n")
    >>> read_outcome_indices(p, 4).tolist()
    [[0, 3, 1], [2, 2, 0]]
    """

    def convert(b: Block) -> np.ndarray:
        check_n_qubits(path, b.values.shape[1], n_qubits)
        missing = missing_cells(b)
        v = integer_rows(b, missing)
        bad = ((v < 0) | (v >= n_outcomes)) & ~missing
        if bad.any():
            r, c = b.first(bad)
            raise b.error(r, f"outcome {v[r, c]} outside 0..{n_outcomes - 1} of a {n_outcomes}-outcome POVM", c)
        return np.where(missing, -1, v).astype(np.int16)

    return _outcomes(read_rows(path, convert, skip_rows=skip_rows)[0])


def read_onehot(path: str | Path, n_outcomes: int, *, n_qubits: int | None = None,
                skip_rows: int = 0) -> np.ndarray:
    """Outcome strings from one-hot rows: K·N values 0/1 per shot, qubit-major (qubit k
    is columns kK…kK+K−1, one 1 among them, or none for a missing readout), as ``uint8
    (shots, N)``, masked at the missing readouts.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = p.write_text("0 1 0 0  0 0 0 1\\n1 0 0 0  0 0 1 0\\n")
    >>> read_onehot(p, 4).tolist()
    [[1, 3], [0, 2]]
    """
    k = n_outcomes

    def convert(b: Block) -> np.ndarray:
        v = integer_rows(b)
        if v.shape[1] % k:
            raise b.error(0, f"{v.shape[1]} values per row is not a multiple of K = {k} (one-hot rows hold "
                             f"K values per qubit)")
        check_n_qubits(path, v.shape[1] // k, n_qubits)
        bad = (v != 0) & (v != 1)
        if bad.any():
            r, c = b.first(bad)
            raise b.error(r, f"value {v[r, c]} is not 0 or 1", c)
        blocks = v.reshape(len(v), -1, k)
        ones = blocks.sum(axis=2)
        if np.any(ones > 1):
            r, q = b.first(ones > 1)
            raise b.error(r, f"{ones[r, q]} ones in the block of columns {q * k + 1}-{q * k + k} "
                             f"(qubit {q}); a one-hot block has exactly one (none: a missing readout)")
        return np.where(ones == 0, -1, blocks.argmax(axis=2)).astype(np.int16)

    return _outcomes(read_rows(path, convert, skip_rows=skip_rows)[0])


# -- Pauli-basis records ---------------------------------------------------------------

_MISSING_TOKENS = ("-", "?", "nan", "NaN", "NAN", "Nan")
_LETTER_CODES = {"X": 1, "Y": 2, "Z": 3, "x": 1, "y": 2, "z": 3}  # index into qgen.targets.hamiltonians.PAULI
_BASIS_CODES = _LETTER_CODES | dict.fromkeys(_MISSING_TOKENS, 0)  # 0: missing
_RESULT_TOKENS = ("0", "1", "+1", "-1")  # result codes 0…3; 4: missing
_RESULT_CODES = {t: i for i, t in enumerate(_RESULT_TOKENS)} | dict.fromkeys(_MISSING_TOKENS, 4)


def _pauli_table(povm: POVM) -> np.ndarray:
    """:func:`qgen.measurements.readout.pauli_outcome_table`, its refusal worded for records."""
    try:
        return pauli_outcome_table(povm)
    except POVMError as e:
        raise FormatError(f"{e}; Pauli-basis records need pauli6") from None


def _decode(b: Block, tokens: np.ndarray, table: dict[str, int], what: str, col0: int) -> np.ndarray:
    """Map string tokens to codes through ``table`` (looked up once per distinct token)."""
    uniq, inv = np.unique(tokens, return_inverse=True)
    codes = np.array([table.get(str(u), -1) for u in uniq], dtype=np.int8)[inv.ravel()].reshape(tokens.shape)
    if np.any(codes < 0):
        r, c = b.first(codes < 0)
        raise b.error(r, f"{what} '{tokens[r, c][:30]}'", col0 + c)
    return codes


def _to_bits(b: Block, codes: np.ndarray, values: str, col0: int) -> np.ndarray:
    """Result codes (0 '0', 1 '1', 2 '+1', 3 '-1', 4 missing) → bits (0 = eigenvalue +1;
    0 where missing)."""
    present = np.bincount(codes.ravel(), minlength=5)[:4] > 0
    if values not in RESULT_VALUES:
        raise FormatError(f"values must be one of {', '.join(RESULT_VALUES)}, got '{values}'")
    signs = (codes == 2) | (codes == 3)
    if values == "auto":
        if present[0] and (present[2] or present[3]):
            r, c = b.first(signs)
            raise b.error(r, f"result '{_RESULT_TOKENS[codes[r, c]]}' while other lines use bits 0/1: "
                             "results must be all bits or all signs ±1", col0 + c)
        if present[1] and not (present[0] or present[2] or present[3]):
            raise FormatError(f"{b.path}: every result is '1', which may be a bit (eigenvalue −1) or a sign "
                              "(+1): state which with values='bit' or 'sign' (--values)")
        values = "sign" if present[2] or present[3] else "bit"
    wrong = signs if values == "bit" else codes == 0
    if wrong.any():
        r, c = b.first(wrong)
        other = "sign" if values == "bit" else "bit"
        raise b.error(r, f"result '{_RESULT_TOKENS[codes[r, c]]}' is not a {values} "
                         f"({'0 or 1' if values == 'bit' else '+1 or -1'}); use values='{other}'", col0 + c)
    return (codes == 1).astype(np.uint8) if values == "bit" else (codes == 3).astype(np.uint8)


def pauli_records_to_outcomes(bases: np.ndarray, results: np.ndarray, values: str = "bit",
                              povm: POVM | None = None) -> np.ndarray:
    """``pauli6`` outcome indices of projective Pauli measurements.

    ``bases`` holds one letter X, Y or Z per shot and qubit (array ``(shots, N)`` of
    strings); ``results`` the measured eigenvalue as bits (``values="bit"``: 0 for +1,
    1 for −1) or signs (``values="sign"``: +1/−1).  When each qubit's basis is drawn
    uniformly from X, Y, Z, outcome (B, ±) has probability ⅓ Tr[(I ± σ_B)/2 ρ], i.e. it
    is the outcome of the Pauli-6 POVM element ⅓(I ± σ_B)/2; the index of that element
    is looked up in ``povm.elements`` (default :func:`qgen.measurements.povm.pauli6`), not assumed.

    >>> pauli_records_to_outcomes(np.array([["Z", "X", "Y"]]), np.array([[0, 1, 0]])).tolist()
    [[0, 3, 4]]
    """
    bases, results = np.asarray(bases, dtype=str), np.asarray(results)
    if bases.ndim != 2 or bases.shape != results.shape:
        raise FormatError(f"bases and results must be two (shots, N) arrays of one shape, got {bases.shape} "
                          f"and {results.shape}")
    tokens = np.char.mod("%+d", results) if values == "sign" else np.char.mod("%d", results)
    where = np.arange(1, len(bases) + 1)
    b = Block(bases, where, Path("<array>"), "row")
    basis = _decode(b, bases, _LETTER_CODES, "basis letter not X, Y or Z:", 0)
    codes = _decode(b, tokens, {t: i for i, t in enumerate(_RESULT_TOKENS)}, "result not valid:", 0)
    bits = _to_bits(Block(codes, where, b.path, "row"), codes, values, 0)
    return _pauli_table(povm or pauli6())[basis, bits]


def read_pauli_records(path: str | Path, *, n_qubits: int | None = None, values: str = "auto",
                       skip_rows: int = 0) -> np.ndarray:
    """``pauli6`` outcome strings from a text file of Pauli-basis records, ``uint8 (shots, N)``.

    Each row: N basis letters (X, Y, Z, any case), either as N separate values or as one
    word (``XZYZ``), then N results: bits 0/1 (0 = eigenvalue +1) or signs +1/−1 (1 is
    read as +1).  ``values="auto"`` decides bits or signs from the file (an error when
    it mixes them or holds only 1s); see :func:`pauli_records_to_outcomes` for the map.
    A missing result (``-``, ``?``, ``nan``; its basis letter given or marked missing as
    well, also inside a word: ``X-Z``) is a missing readout: the result is masked there.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "shots.csv"
    >>> _ = p.write_text("X,Y,0,1\\nZ,Z,1,1\\n")
    >>> read_pauli_records(p).tolist()
    [[2, 5], [1, 1]]
    """
    layout: dict[str, int] = {}

    def convert(b: Block) -> np.ndarray:
        t = b.values
        if not layout:
            word = len(t[0, 0])
            n = word if word > 1 else t.shape[1] // 2
            if (word > 1 and t.shape[1] != n + 1) or (word == 1 and t.shape[1] != 2 * n):
                raise b.error(0, f"expected N basis letters (or one word of N letters) and N results, found "
                                 f"{t.shape[1]} values")
            check_n_qubits(path, n, n_qubits)
            layout.update(n=n, compact=int(word > 1))
        n, compact = layout["n"], layout["compact"]
        if compact:
            lengths = np.char.str_len(t[:, 0])
            if np.any(lengths != n):
                r = int(np.argmax(lengths != n))
                raise b.error(r, f"basis word '{t[r, 0][:30]}' has {lengths[r]} letters, expected {n}", 0)
            letters = np.ascontiguousarray(t[:, 0]).astype(f"<U{n}").view("<U1").reshape(len(t), n)
            basis = _decode(b, letters, _BASIS_CODES, "basis word with a letter other than X, Y, Z:", 0)
        else:
            basis = _decode(b, t[:, :n], _BASIS_CODES, "basis letter not X, Y or Z:", 0)
        results = _decode(b, t[:, t.shape[1] - n:], _RESULT_CODES, "result not 0, 1, +1 or -1:", 1 if compact else n)
        orphan = (basis == 0) & (results != 4)
        if orphan.any():
            r, c = b.first(orphan)
            raise b.error(r, f"result '{t[r, t.shape[1] - n + c]}' of qubit {c} without its basis letter (a missing "
                             "basis needs a missing result: mark both with '-', '?' or 'nan')", 0 if compact else c)
        return np.concatenate([basis, results], axis=1).astype(np.uint8)

    both, where = read_rows(path, convert, numeric=False, skip_rows=skip_rows)
    n = both.shape[1] // 2
    col0 = 1 if layout["compact"] else n
    bits = _to_bits(Block(both[:, n:], where, Path(path), "line"), both[:, n:], values, col0)
    x = _pauli_table(pauli6())[both[:, :n], bits].astype(np.int16)
    return _outcomes(np.where(both[:, n:] == 4, -1, x))


def basis_balance(x: np.ndarray, povm: POVM, p_min: float = 1e-6) -> str | None:
    """A warning when the measurement bases of ``pauli6`` strings ``x`` are not uniform.

    Pauli-basis records are Pauli-6 POVM outcomes only if every qubit's basis is chosen
    uniformly at random; per qubit, the counts of X, Y, Z are tested against S/3 each
    (χ² with 2 degrees of freedom: p = exp(−χ²/2)).  Returns None when no qubit has
    p < ``p_min``, else a one-line description of the worst qubit.

    >>> basis_balance(np.array([[0], [2], [4]] * 10, dtype=np.uint8), pauli6()) is None
    True
    """
    table = _pauli_table(povm)
    basis_of = np.zeros(povm.n_outcomes, dtype=np.int64)
    for k in (1, 2, 3):
        basis_of[table[k]] = k - 1  # 0, 1, 2 = X, Y, Z
    present = ~np.ma.getmaskarray(x)  # a masked (missing) readout has no basis
    cols = zip(np.ma.getdata(x).T, present.T)
    counts = np.stack([np.bincount(basis_of[col[ok]], minlength=3) for col, ok in cols])  # (N, 3)
    expected = np.maximum(counts.sum(axis=1, keepdims=True), 1) / 3
    chi2 = ((counts - expected) ** 2 / expected).sum(axis=1)
    worst = int(np.argmax(chi2))
    if math.exp(-chi2[worst] / 2) >= p_min:
        return None
    share = ", ".join(f"{basis} {c / counts[worst].sum():.0%}" for basis, c in zip("XYZ", counts[worst]))
    return (f"measurement bases are not uniformly random (qubit {worst}: {share}); the records are then not "
            "Pauli-6 POVM outcomes and every score is biased")


# -- import ------------------------------------------------------------------------------


def import_records(
    path: str | Path,
    format: str,
    povm: POVM | str | None = None,
    *,
    n_qubits: int | None = None,
    values: str = "auto",
    skip_rows: int = 0,
    target: Target | str | None = None,
    hamiltonian: str | None = None,
    val_fraction: float = 0.1,
    test_fraction: float = 0.1,
    shuffle: bool = True,
    seed: int = 0,
    workers: int | None = None,
    progress: bool = False,
) -> Dataset:
    """A :class:`~qgen.datasets.Dataset` from a file of measurement records.

    ``format`` is one of :data:`RECORD_FORMATS`; ``povm`` (a POVM or its name) is
    required for ``index`` and ``onehot`` and must be Pauli-6 (the default) for
    ``pauli-basis``.  The shots are permuted with ``seed`` (``shuffle=False`` keeps the
    file order: records grouped by setting or drifting in time would otherwise give
    unlike splits) and split into train / validation / test like
    :func:`qgen.datasets.simulation`.  ``log_prob`` is NaN and ``target`` None unless a
    ``target`` (a :class:`~qgen.targets.Target` or a spec for :func:`parse_target`,
    with an optional ``hamiltonian`` spec) is given: then it is attached with the exact
    ln P of every string (:func:`qgen.datasets.attach_target`; for a shot with missing
    readouts, the marginal of the ones it has).  Missing readouts are kept as the
    dataset's ``missing`` mask.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = p.write_text("0 1\\n" * 8 + "2 3\\n" * 2)
    >>> ds = import_records(p, "index", "pauli4", seed=1)
    >>> ds.split, ds.target is None, ds.meta["source"]["format"]
    ((8, 1, 1), True, 'index')
    """
    if format not in RECORD_FORMATS:
        raise FormatError(f"unknown record format '{format}'; choose one of {', '.join(RECORD_FORMATS)}")
    if format == "pauli-basis":
        povm = get_povm(povm) if isinstance(povm, str) else povm or pauli6()
        _pauli_table(povm)  # refuses any other POVM
        x = read_pauli_records(path, n_qubits=n_qubits, values=values, skip_rows=skip_rows)
    else:
        if povm is None:
            raise FormatError(f"'{format}' records need their POVM stated (e.g. pauli4, tetra, pauli6)")
        povm = get_povm(povm) if isinstance(povm, str) else povm
        reader = read_outcome_indices if format == "index" else read_onehot
        x = reader(path, povm.n_outcomes, n_qubits=n_qubits, skip_rows=skip_rows)
    split = split_counts(len(x), (val_fraction, test_fraction))
    if shuffle:
        x = x[np.random.default_rng(seed).permutation(len(x))]
    source = {"file": str(Path(path).resolve()), "format": format, "shots": len(x), "shuffled": shuffle}
    warning = basis_balance(x, povm) if format == "pauli-basis" else None
    meta = {"qgen_version": __version__, "created": timestamp(), "source": source}
    if warning:
        meta["warnings"] = [warning]
    missing = np.ma.getmask(x) if np.ma.is_masked(x) else None
    ds = Dataset(np.ma.getdata(x), povm, split, np.full(len(x), np.nan), None, seed if shuffle else None, meta,
                 missing)
    if target is not None:
        if isinstance(target, str):
            target = parse_target(target, ds.n_qubits, hamiltonian=hamiltonian)
        ds = attach_target(ds, target, workers=workers, progress=progress)
    return ds
