"""Readers for data and states stored in other programs' formats.

Measurement records (one row per shot) → a qgen :class:`~qgen.datasets.Dataset`:

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

Text files (any extension: .txt, .csv, .dat) hold values separated by whitespace or by
commas (decided by the first data line); blank lines and lines starting with ``#`` are
skipped, as is anything after ``#`` on a line; a header line is rejected with a hint to
comment it out or pass ``skip_rows``.  Integers may be written as floats with a zero
fraction (``np.savetxt``'s default ``3.000000000000000000e+00``).  ``.npy`` arrays
(index or one-hot, 2-D, integer, boolean or integral float) are read too.  Every
problem is a one-line :class:`FormatError` naming the file, the line (row for .npy),
the column and what is wrong.  Files are parsed in chunks by numpy's C reader.

States, for attaching a target to data (:func:`parse_target`):

* :func:`read_povm_genmodel_mps`: the text format of the MPS published with
  Carrasquilla et al. 2019 (repository POVM_GENMODEL): ``index.txt`` gives per site the
  rank, the number of non-zero entries and the dimensions; ``tensor.txt`` lists the
  non-zero entries (1-based indices, then the value) site by site, blocks separated by
  blank lines.  Index order: first tensor (right bond, physical), bulk tensors (right
  bond, physical, left bond), last tensor (physical, left bond).  The published 50-qubit
  Ising state is the ground state of H = +Σ σzσz + Σ σx, i.e. ``tfim(50, J=-1, h=-1)`` in
  qgen's convention (⟨H⟩ = −63.2936 against the exact −63.3012; entries are stored
  to ~6 digits).
* :func:`read_mps_npz`: an ``.npz`` of arrays ``0 … N−1`` (or ``arr_0 …``), each
  (left, physical, right), the ends optionally without their outer bond.

Example
-------
>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = (d / "index.txt").write_text("2 2 2 2\\n2 2 2 2\\n")
>>> _ = (d / "tensor.txt").write_text("1 1 0.7071\\n2 2 0.7071\\n\\n1 1 1\\n2 2 1\\n")
>>> mps = read_povm_genmodel_mps(d / "index.txt", d / "tensor.txt")   # a Bell pair
>>> np.round(mps.to_dense(), 4).tolist()
[0.7071, 0.0, 0.0, 0.7071]
>>> _ = (d / "shots.txt").write_text("# bases, then signs\\nXZ +1 -1\\nZZ -1 -1\\n")
>>> read_pauli_records(d / "shots.txt").tolist()   # pauli6: 2·basis + bit, basis Z=0, X=1, Y=2
[[2, 1], [1, 1]]
"""

from __future__ import annotations

import math
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._version import __version__
from .datasets import Dataset, _now, attach_target, split_counts
from .hamiltonians import Hamiltonian, heisenberg, tfim, tfim_2d, xxz
from .povm import PAULI, POVM, get_povm, pauli6
from .resources import ResourceError, check_memory
from .states import MPS
from .targets import HAMILTONIAN_KINDS, TARGET_KINDS, Target, make_target

__all__ = [
    "FormatError", "RECORD_FORMATS", "RESULT_VALUES", "import_records", "read_outcome_indices", "read_onehot",
    "read_pauli_records", "pauli_records_to_outcomes", "basis_balance", "parse_target", "parse_hamiltonian",
    "read_povm_genmodel_mps", "read_mps_npz",
]

RECORD_FORMATS = ("index", "onehot", "pauli-basis")
RESULT_VALUES = ("auto", "bit", "sign")
_CHUNK_LINES = 16384


class FormatError(ValueError):
    """A file that cannot be read as the stated format; the message is one line."""


# -- rows of a file, with where they came from ---------------------------------------


@dataclass
class _Block:
    """Rows read from one file and the 1-based line (text) or row (.npy) number of each."""

    values: np.ndarray
    where: np.ndarray
    path: Path
    unit: str

    def error(self, row: int, problem: str, col: int | None = None) -> FormatError:
        at = f"{self.unit} {int(self.where[row])}" + ("" if col is None else f", column {col + 1}")
        return FormatError(f"{self.path}, {at}: {problem}")

    def first(self, bad: np.ndarray) -> tuple[int, int]:
        """(row, column) of the first True entry of ``bad``."""
        r, c = np.argwhere(bad)[0]
        return int(r), int(c)


def _tokens(line: str, delimiter: str | None) -> list[str]:
    return [t.strip() for t in line.split("#", 1)[0].split(delimiter)]


def _diagnose(path: Path, lines: list[str], numbers: list[int], delimiter, ncols: int, first_line: int,
              numeric: bool, cause: Exception) -> FormatError:
    """The one-line error for a chunk numpy's reader refused: the first bad line and why."""
    for s, no in zip(lines, numbers):
        toks = _tokens(s, delimiter)
        if len(toks) != ncols:
            return FormatError(f"{path}, line {no}: wrong column count: expected {ncols} values "
                               f"(as on line {first_line}), found {len(toks)}")
        for j, t in enumerate(toks):
            try:
                if numeric:
                    float(t)
            except ValueError:
                hint = (" (a header line? start it with '#' or skip it with skip_rows=1 / --skip-rows 1)"
                        if no == first_line else "")
                return FormatError(f"{path}, line {no}, column {j + 1}: '{t[:30]}' is not a number{hint}")
    return FormatError(f"{path}: {str(cause).splitlines()[0]}")


def _text_blocks(path: Path, numeric: bool, skip_rows: int) -> Iterator[_Block]:
    """Chunks of a text table: int64 or float64 values (``numeric``), else stripped strings."""
    delimiter, ncols, first_line = None, -1, 0
    lines: list[str] = []
    numbers: list[int] = []

    def load(dtype) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.loadtxt(lines, dtype=dtype, delimiter=delimiter, comments="#", ndmin=2)

    def parse() -> _Block:
        try:
            try:
                a = load(np.int64 if numeric else str)
            except ValueError:
                if not numeric:
                    raise
                a = load(np.float64)  # integers written as floats (6× slower to parse)
        except ValueError as e:
            raise _diagnose(path, lines, numbers, delimiter, ncols, first_line, numeric, e) from None
        if a.shape[1] != ncols:
            raise _diagnose(path, lines, numbers, delimiter, ncols, first_line, numeric, ValueError("column count"))
        if not numeric and delimiter is not None:
            a = np.char.strip(a)
        return _Block(a, np.asarray(numbers), path, "line")

    try:
        with open(path, encoding="utf-8") as f:
            for no, line in enumerate(f, 1):
                s = line.removeprefix("\ufeff").strip() if no == 1 else line.strip()  # a byte-order mark
                if no <= skip_rows or not s or s.startswith("#"):
                    continue
                data = s.split("#", 1)[0]
                if not data.isascii():  # records are ASCII; numpy's parser has crashed on other characters
                    bad = next(c for c in data if not c.isascii())
                    raise FormatError(f"{path}, line {no}: character {bad!r} in the data (records are ASCII "
                                      "outside '#' comments)")
                if ncols < 0:
                    delimiter = "," if "," in s else None
                    ncols, first_line = len(_tokens(s, delimiter)), no
                lines.append(s)
                numbers.append(no)
                if len(lines) == _CHUNK_LINES:
                    yield parse()
                    lines, numbers = [], []
    except UnicodeDecodeError:
        raise FormatError(f"{path}: not a text file (use .npy for binary arrays)") from None
    except OSError as e:
        raise FormatError(f"{path}: cannot read ({e.strerror or e})") from None
    if lines:
        yield parse()


def _npy_blocks(path: Path) -> Iterator[_Block]:
    try:
        a = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:  # a pickled array is a ValueError: it is never loaded
        raise FormatError(f"{path}: not a readable .npy array ({str(e).splitlines()[0] or type(e).__name__})") from None
    if a.ndim != 2:
        raise FormatError(f"{path}: array of shape {a.shape}; expected 2-D (shots, columns)")
    if a.dtype.kind not in "biuf":
        raise FormatError(f"{path}: array of dtype {a.dtype}; expected integers (or integral floats)")
    for start in range(0, a.shape[0], _CHUNK_LINES):
        stop = min(start + _CHUNK_LINES, a.shape[0])
        yield _Block(np.asarray(a[start:stop]), np.arange(start + 1, stop + 1), path, "row")


def _blocks(path: str | Path, numeric: bool, skip_rows: int) -> Iterator[_Block]:
    path = Path(path)
    if not path.is_file():
        raise FormatError(f"'{path}' not found")
    if skip_rows < 0:
        raise FormatError(f"skip_rows must be ≥ 0, got {skip_rows}")
    if path.suffix.lower() == ".npy":
        if not numeric:
            raise FormatError(f"{path}: Pauli-basis records are read from text files, not .npy")
        return _npy_blocks(path)
    return _text_blocks(path, numeric, skip_rows)


def _read(path: str | Path, convert: Callable[[_Block], np.ndarray], numeric: bool = True,
          skip_rows: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """All rows of ``path`` converted block by block, and their line numbers."""
    parts, where = [], []
    for b in _blocks(path, numeric, skip_rows):
        parts.append(convert(b))
        where.append(b.where)
    if not parts:
        raise FormatError(f"{path}: no data rows (the file is empty or holds only comments)")
    return np.concatenate(parts), np.concatenate(where)


def _integers(b: _Block) -> np.ndarray:
    v = b.values
    if v.dtype.kind == "f":
        bad = ~np.isfinite(v) | (v != np.round(v)) | (np.abs(v) >= 2.0**62)
        if bad.any():
            r, c = b.first(bad)
            x = v[r, c]
            raise b.error(r, f"value {x:g} is {'too large' if np.isfinite(x) and x == np.round(x) else 'not an integer'}",
                          c)
    return v.astype(np.int64)


def _check_n(path, n: int, n_qubits: int | None) -> None:
    if n_qubits is not None and n != n_qubits:
        raise FormatError(f"{path}: rows hold {n} qubits but {n_qubits} were stated")


# -- outcome indices and one-hot rows -----------------------------------------------


def read_outcome_indices(path: str | Path, n_outcomes: int, *, n_qubits: int | None = None,
                         skip_rows: int = 0) -> np.ndarray:
    """Outcome strings from a file with one row of N indices in 0…K−1 per shot
    (``K = n_outcomes``), as ``uint8 (shots, N)``.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.csv"
    >>> _ = p.write_text("0,3,1\\n2,2,0\\n")
    >>> read_outcome_indices(p, 4).tolist()
    [[0, 3, 1], [2, 2, 0]]
    """

    def convert(b: _Block) -> np.ndarray:
        _check_n(path, b.values.shape[1], n_qubits)
        v = _integers(b)
        bad = (v < 0) | (v >= n_outcomes)
        if bad.any():
            r, c = b.first(bad)
            raise b.error(r, f"outcome {v[r, c]} outside 0..{n_outcomes - 1} of a {n_outcomes}-outcome POVM", c)
        return v.astype(np.uint8)

    return _read(path, convert, skip_rows=skip_rows)[0]


def read_onehot(path: str | Path, n_outcomes: int, *, n_qubits: int | None = None,
                skip_rows: int = 0) -> np.ndarray:
    """Outcome strings from one-hot rows: K·N values 0/1 per shot, qubit-major (qubit k
    is columns kK…kK+K−1, one 1 among them), as ``uint8 (shots, N)``.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.txt"
    >>> _ = p.write_text("0 1 0 0  0 0 0 1\\n1 0 0 0  0 0 1 0\\n")
    >>> read_onehot(p, 4).tolist()
    [[1, 3], [0, 2]]
    """
    k = n_outcomes

    def convert(b: _Block) -> np.ndarray:
        v = _integers(b)
        if v.shape[1] % k:
            raise b.error(0, f"{v.shape[1]} values per row is not a multiple of K = {k} (one-hot rows hold "
                             f"K values per qubit)")
        _check_n(path, v.shape[1] // k, n_qubits)
        bad = (v != 0) & (v != 1)
        if bad.any():
            r, c = b.first(bad)
            raise b.error(r, f"value {v[r, c]} is not 0 or 1", c)
        blocks = v.reshape(len(v), -1, k)
        ones = blocks.sum(axis=2)
        if np.any(ones != 1):
            r, q = b.first(ones != 1)
            raise b.error(r, f"{ones[r, q]} ones in the block of columns {q * k + 1}-{q * k + k} "
                             f"(qubit {q}); a one-hot block has exactly one")
        return blocks.argmax(axis=2).astype(np.uint8)

    return _read(path, convert, skip_rows=skip_rows)[0]


# -- Pauli-basis records ---------------------------------------------------------------

_BASIS_CODES = {"X": 1, "Y": 2, "Z": 3, "x": 1, "y": 2, "z": 3}  # index into qgen.povm.PAULI
_RESULT_TOKENS = ("0", "1", "+1", "-1")  # result codes 0…3


def _pauli_outcome_table(povm: POVM) -> np.ndarray:
    """table[k, b] = the outcome a with M^a = ⅓·(I + (−1)^b σ_k)/2, for Pauli k = 1, 2, 3
    (X, Y, Z): the projector on the eigenvalue-(−1)^b eigenvector of σ_k, weighted by the
    probability ⅓ of choosing that basis."""
    table = np.zeros((4, 2), dtype=np.uint8)
    for k in (1, 2, 3):
        for bit in (0, 1):
            m = (PAULI[0] + (-1) ** bit * PAULI[k]) / 6
            hits = np.flatnonzero(np.all(np.abs(povm.elements - m) < 1e-9, axis=(1, 2)))
            if hits.size != 1:
                raise FormatError(f"POVM '{povm.name}' is not the Pauli-6 POVM of uniformly random X/Y/Z "
                                  "measurements; Pauli-basis records need pauli6")
            table[k, bit] = hits[0]
    return table


def _decode(b: _Block, tokens: np.ndarray, table: dict[str, int], what: str, col0: int) -> np.ndarray:
    """Map string tokens to codes through ``table`` (looked up once per distinct token)."""
    uniq, inv = np.unique(tokens, return_inverse=True)
    codes = np.array([table.get(str(u), -1) for u in uniq], dtype=np.int8)[inv.ravel()].reshape(tokens.shape)
    if np.any(codes < 0):
        r, c = b.first(codes < 0)
        raise b.error(r, f"{what} '{tokens[r, c][:30]}'", col0 + c)
    return codes


def _to_bits(b: _Block, codes: np.ndarray, values: str, col0: int) -> np.ndarray:
    """Result codes (0 '0', 1 '1', 2 '+1', 3 '-1') → bits (0 = eigenvalue +1)."""
    present = np.bincount(codes.ravel(), minlength=4) > 0
    if values not in RESULT_VALUES:
        raise FormatError(f"values must be one of {', '.join(RESULT_VALUES)}, got '{values}'")
    if values == "auto":
        if present[0] and (present[2] or present[3]):
            r, c = b.first(codes >= 2)
            raise b.error(r, f"result '{_RESULT_TOKENS[codes[r, c]]}' while other lines use bits 0/1: "
                             "results must be all bits or all signs ±1", col0 + c)
        if not (present[0] or present[2] or present[3]):
            raise FormatError(f"{b.path}: every result is '1', which may be a bit (eigenvalue −1) or a sign "
                              "(+1): state which with values='bit' or 'sign' (--values)")
        values = "bit" if present[0] else "sign"
    wrong = codes >= 2 if values == "bit" else codes == 0
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
    is looked up in ``povm.elements`` (default :func:`qgen.povm.pauli6`), not assumed.

    >>> pauli_records_to_outcomes(np.array([["Z", "X", "Y"]]), np.array([[0, 1, 0]])).tolist()
    [[0, 3, 4]]
    """
    bases, results = np.asarray(bases, dtype=str), np.asarray(results)
    if bases.ndim != 2 or bases.shape != results.shape:
        raise FormatError(f"bases and results must be two (shots, N) arrays of one shape, got {bases.shape} "
                          f"and {results.shape}")
    tokens = np.char.mod("%+d", results) if values == "sign" else np.char.mod("%d", results)
    where = np.arange(1, len(bases) + 1)
    b = _Block(bases, where, Path("<array>"), "row")
    basis = _decode(b, bases, _BASIS_CODES, "basis letter not X, Y or Z:", 0)
    codes = _decode(b, tokens, {t: i for i, t in enumerate(_RESULT_TOKENS)}, "result not valid:", 0)
    bits = _to_bits(_Block(codes, where, b.path, "row"), codes, values, 0)
    return _pauli_outcome_table(povm or pauli6())[basis, bits]


def read_pauli_records(path: str | Path, *, n_qubits: int | None = None, values: str = "auto",
                       skip_rows: int = 0) -> np.ndarray:
    """``pauli6`` outcome strings from a text file of Pauli-basis records, ``uint8 (shots, N)``.

    Each row: N basis letters (X, Y, Z, any case), either as N separate values or as one
    word (``XZYZ``), then N results: bits 0/1 (0 = eigenvalue +1) or signs +1/−1 (1 is
    read as +1).  ``values="auto"`` decides bits or signs from the file (an error when
    it mixes them or holds only 1s); see :func:`pauli_records_to_outcomes` for the map.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "shots.csv"
    >>> _ = p.write_text("X,Y,0,1\\nZ,Z,1,1\\n")
    >>> read_pauli_records(p).tolist()
    [[2, 5], [1, 1]]
    """
    layout: dict[str, int] = {}
    result_table = {t: i for i, t in enumerate(_RESULT_TOKENS)}

    def convert(b: _Block) -> np.ndarray:
        t = b.values
        if not layout:
            word = len(t[0, 0])
            n = word if word > 1 else t.shape[1] // 2
            if (word > 1 and t.shape[1] != n + 1) or (word == 1 and t.shape[1] != 2 * n):
                raise b.error(0, f"expected N basis letters (or one word of N letters) and N results, found "
                                 f"{t.shape[1]} values")
            _check_n(path, n, n_qubits)
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
        results = _decode(b, t[:, t.shape[1] - n:], result_table, "result not 0, 1, +1 or -1:", 1 if compact else n)
        return np.concatenate([basis, results], axis=1).astype(np.uint8)

    both, where = _read(path, convert, numeric=False, skip_rows=skip_rows)
    n = both.shape[1] // 2
    col0 = 1 if layout["compact"] else n
    bits = _to_bits(_Block(both[:, n:], where, Path(path), "line"), both[:, n:], values, col0)
    return _pauli_outcome_table(pauli6())[both[:, :n], bits]


def basis_balance(x: np.ndarray, povm: POVM, p_min: float = 1e-6) -> str | None:
    """A warning when the measurement bases of ``pauli6`` strings ``x`` are not uniform.

    Pauli-basis records are Pauli-6 POVM outcomes only if every qubit's basis is chosen
    uniformly at random; per qubit, the counts of X, Y, Z are tested against S/3 each
    (χ² with 2 degrees of freedom: p = exp(−χ²/2)).  Returns None when no qubit has
    p < ``p_min``, else a one-line description of the worst qubit.

    >>> basis_balance(np.array([[0], [2], [4]] * 10, dtype=np.uint8), pauli6()) is None
    True
    """
    table = _pauli_outcome_table(povm)
    basis_of = np.zeros(povm.n_outcomes, dtype=np.int64)
    for k in (1, 2, 3):
        basis_of[table[k]] = k - 1  # 0, 1, 2 = X, Y, Z
    counts = np.stack([np.bincount(basis_of[col], minlength=3) for col in np.asarray(x).T])  # (N, 3)
    expected = len(x) / 3
    chi2 = ((counts - expected) ** 2 / expected).sum(axis=1)
    worst = int(np.argmax(chi2))
    if math.exp(-chi2[worst] / 2) >= p_min:
        return None
    share = ", ".join(f"{l} {c / len(x):.0%}" for l, c in zip("XYZ", counts[worst]))
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
    :func:`qgen.datasets.simulate`.  ``log_prob`` is NaN and ``target`` None unless a
    ``target`` (a :class:`~qgen.targets.Target` or a spec for :func:`parse_target`,
    with an optional ``hamiltonian`` spec) is given: then it is attached with the exact
    ln P of every string (:func:`qgen.datasets.attach_target`).

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
        _pauli_outcome_table(povm)  # refuses any other POVM
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
    meta = {"qgen_version": __version__, "created": _now(), "source": source}
    if warning:
        meta["warnings"] = [warning]
    ds = Dataset(x, povm, split, np.full(len(x), np.nan), None, seed if shuffle else None, meta)
    if target is not None:
        if isinstance(target, str):
            target = parse_target(target, ds.n_qubits, hamiltonian=hamiltonian)
        ds = attach_target(ds, target, workers=workers, progress=progress)
    return ds


# -- target specifications ------------------------------------------------------------

_SPEC_KEYS: dict[str, Callable[[str], object]] = {
    "n": int, "J": float, "h": float, "delta": float, "lx": int, "ly": int, "boundary": str, "noise": float,
    "method": str, "cutoff": float, "product": str, "seed": int,
}
_HAMILTONIANS = {"tfim": ("J", "h", "boundary"), "tfim2d": ("lx", "ly", "J", "h", "boundary"),
                 "xxz": ("J", "delta", "boundary"), "heisenberg": ("J", "boundary")}


def _spec_params(spec: str, allowed: tuple[str, ...]) -> tuple[str, dict]:
    """'kind:k=v,k=v' → (kind, {k: typed v}); keys are matched case-insensitively."""
    kind, _, rest = spec.partition(":")
    names = {k.lower(): k for k in allowed}
    params: dict = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, sep, value = item.partition("=")
        key = names.get(key.strip().lower())
        if not sep or key is None:
            raise FormatError(f"target spec '{spec}': '{item}' is not KEY=VALUE with KEY one of {', '.join(allowed)}")
        try:
            params[key] = _SPEC_KEYS[key](value.strip())
        except ValueError:
            raise FormatError(f"target spec '{spec}': {key} = '{value}' is not a valid "
                              f"{_SPEC_KEYS[key].__name__}") from None
    return kind.strip().lower(), params


def parse_hamiltonian(spec: str, n_qubits: int) -> Hamiltonian:
    """A Hamiltonian from a spec such as ``tfim:J=-1,h=-1`` (kinds tfim, tfim2d, xxz,
    heisenberg; keys J, h, delta, lx, ly, boundary), on ``n_qubits`` sites.

    >>> parse_hamiltonian("xxz:delta=0.5", 3).params
    {'n': 3, 'J': 1.0, 'delta': 0.5, 'boundary': 'open'}
    """
    kind, p = _spec_params(spec, ("J", "h", "delta", "lx", "ly", "boundary"))
    if kind not in _HAMILTONIANS:
        raise FormatError(f"unknown Hamiltonian '{kind}'; choose one of {', '.join(_HAMILTONIANS)}")
    extra = set(p) - set(_HAMILTONIANS[kind])
    if extra:
        raise FormatError(f"Hamiltonian '{kind}' takes {', '.join(_HAMILTONIANS[kind])}, not {', '.join(extra)}")
    if kind == "tfim2d":
        if p.get("lx", 0) * p.get("ly", 0) != n_qubits:
            raise FormatError(f"tfim2d needs lx·ly = {n_qubits} qubits, got lx={p.get('lx')}, ly={p.get('ly')}")
        return tfim_2d(**p)
    return {"tfim": tfim, "xxz": xxz, "heisenberg": heisenberg}[kind](n_qubits, **p)


def _file_target(spec: str) -> tuple[MPS, str] | None:
    """The MPS named by a file spec, with its description, or None if ``spec`` names no file."""
    path = Path(spec)
    parts = [s.strip() for s in spec.split(",")]
    if path.is_dir():
        return read_povm_genmodel_mps(path / "index.txt", path / "tensor.txt"), str(path)
    if spec.lower().endswith(".npz"):
        if not path.is_file():
            raise FormatError(f"'{path}' not found")
        return read_mps_npz(path), str(path)
    if len(parts) == 2 and all(p.lower().endswith(".txt") for p in parts):
        return read_povm_genmodel_mps(*parts), spec
    if path.exists():
        raise FormatError(f"'{path}' is neither an .npz MPS nor a directory holding index.txt and tensor.txt")
    return None


def parse_target(spec: str, n_qubits: int, *, hamiltonian: str | Hamiltonian | None = None) -> Target:
    """The :class:`~qgen.targets.Target` a spec names, on ``n_qubits`` qubits (taken from
    the data):

    * ``KIND[:KEY=VALUE,…]``: any :func:`~qgen.targets.make_target` kind with its
      parameters (``tfim:h=1,J=1``, ``ghz``, ``xxz:delta=0.5``, ``tfim2d:lx=3,ly=4``,
      ``product:product=+``, ``ghz:noise=0.05``; ``n`` may be given but must match);
    * ``state.npz``: an MPS as arrays (:func:`read_mps_npz`);
    * a directory holding ``index.txt`` and ``tensor.txt``, or ``index.txt,tensor.txt``:
      the POVM_GENMODEL text format (:func:`read_povm_genmodel_mps`).

    MPS read from files are normalised (their norm in the file is kept in ``params``).
    ``hamiltonian`` (a :class:`~qgen.hamiltonians.Hamiltonian` or a spec for
    :func:`parse_hamiltonian`) attaches a Hamiltonian to a state, so that energies are
    reported; a Hamiltonian kind already has its own.

    >>> parse_target("ghz:noise=0.1", 4).describe()
    'ghz n=4 noise=0.1 (MPS, max bond 2)'
    """
    spec = spec.strip()
    if isinstance(hamiltonian, str):
        hamiltonian = parse_hamiltonian(hamiltonian, n_qubits)
    if hamiltonian is not None and hamiltonian.n_qubits != n_qubits:
        raise FormatError(f"the Hamiltonian acts on {hamiltonian.n_qubits} qubits but the data have {n_qubits}")
    found = _file_target(spec)
    if found is not None:
        mps, source = found
        if mps.n_qubits != n_qubits:
            raise FormatError(f"the MPS in '{source}' has {mps.n_qubits} qubits but the data have {n_qubits}")
        return Target(mps.right_canonical(), "mps", {"source": source, "norm_in_file": mps.norm()}, hamiltonian)
    kind, p = _spec_params(spec, tuple(_SPEC_KEYS))
    if kind not in TARGET_KINDS:
        raise FormatError(f"unknown target '{spec}': give a kind ({', '.join(TARGET_KINDS)}) with KEY=VALUE "
                          "parameters, an .npz MPS, or an index.txt/tensor.txt pair (or their directory)")
    n_given = p.pop("n", n_qubits)
    if n_given != n_qubits:
        raise FormatError(f"target spec '{spec}' says n = {n_given} but the data have {n_qubits} qubits")
    if kind == "tfim2d" and p.get("lx", 0) * p.get("ly", 0) != n_qubits:
        raise FormatError(f"tfim2d needs lx·ly = {n_qubits} qubits, got lx={p.get('lx')}, ly={p.get('ly')}")
    if kind in HAMILTONIAN_KINDS and hamiltonian is not None:
        raise FormatError(f"target '{kind}' is the ground state of its own Hamiltonian; give a Hamiltonian only "
                          "with a named state or an MPS file")
    try:
        target = make_target(kind, None if kind == "tfim2d" else n_qubits, **p)
    except ValueError as e:
        raise FormatError(f"target spec '{spec}': {str(e).splitlines()[0]}") from None
    if hamiltonian is not None:
        target = Target(target.state, target.name, target.params, hamiltonian, target.info)
    return target


# -- MPS files --------------------------------------------------------------------------


def _floats(line: str, where: str) -> list[float]:
    try:
        values = [float(v) for v in line.split()]
    except ValueError:
        raise FormatError(f"{where}: not a list of numbers: '{line.strip()[:60]}'") from None
    if not all(math.isfinite(v) for v in values):
        raise FormatError(f"{where}: NaN or infinite value in '{line.strip()[:60]}'")
    return values


def _lines(path: Path) -> list[str]:
    try:
        return path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError:
        raise FormatError(f"{path}: not a text file") from None
    except OSError as e:
        raise FormatError(f"{path}: cannot read ({e.strerror or e})") from None


def _counts(values: list[float], where: str, least: int) -> tuple[int, ...]:
    """Integral entries ≥ ``least`` (ranks, counts, dimensions) of a header line."""
    if not all(v == int(v) and v >= least for v in values):
        raise FormatError(f"{where}: expected integers ≥ {least} (rank, entries, dimensions), got {values}")
    return tuple(int(v) for v in values)


def read_povm_genmodel_mps(index_path: str | Path, tensor_path: str | Path) -> MPS:
    """Read the POVM_GENMODEL ``index.txt`` / ``tensor.txt`` pair into an :class:`MPS`;
    the dimensions it declares are checked against the available memory before any
    tensor is allocated."""
    index_path, tensor_path = Path(index_path), Path(tensor_path)
    for p in (index_path, tensor_path):
        if not p.is_file():
            raise FormatError(f"'{p}' not found")
    heads = [_floats(l, f"{index_path}:{i + 1}") for i, l in enumerate(_lines(index_path)) if l.strip()]
    blocks, current = [], []
    for i, line in enumerate(_lines(tensor_path)):
        if line.strip():
            current.append(_floats(line, f"{tensor_path}:{i + 1}"))
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    n = len(heads)
    if n < 2 or len(blocks) != n:
        raise FormatError(f"{index_path} describes {n} tensors but {tensor_path} holds {len(blocks)} blocks")
    shapes = []
    for site, head in enumerate(heads):
        if len(head) < 2:
            raise FormatError(f"{index_path}:{site + 1}: expected rank, number of entries and dimensions")
        rank, nnz = _counts(head[:2], f"{index_path}:{site + 1}", 0)
        dims = _counts(head[2:], f"{index_path}:{site + 1}", 1)
        expected_rank = 2 if site in (0, n - 1) else 3
        if rank != expected_rank or len(dims) != rank:
            raise FormatError(f"site {site + 1}: rank {rank} with dimensions {dims}, expected rank {expected_rank}")
        shapes.append((nnz, dims))
    check_memory(8 * sum(math.prod(dims) for _, dims in shapes), f"the MPS in {index_path}")
    tensors = []
    for site, ((nnz, dims), rows) in enumerate(zip(shapes, blocks)):
        rank = len(dims)
        if len(rows) != nnz or any(len(r) != rank + 1 for r in rows):
            raise FormatError(f"site {site + 1}: expected {nnz} rows of {rank} indices and a value")
        data = np.asarray(rows, dtype=np.float64).reshape(nnz, rank + 1)
        idx = data[:, :rank] - 1
        if np.any(idx != np.round(idx)) or idx.min(initial=0) < 0 or np.any(idx >= np.array(dims)):
            raise FormatError(f"site {site + 1}: index out of range (or not an integer) for dimensions {dims}")
        a = np.zeros(dims)
        a[tuple(idx.astype(np.int64).T)] = data[:, rank]
        if site == 0:  # (right, phys) → (1, phys, right)
            a = a.T[None]
        elif site == n - 1:  # (phys, left) → (left, phys, 1)
            a = a.T[:, :, None]
        else:  # (right, phys, left) → (left, phys, right)
            a = a.transpose(2, 1, 0)
        tensors.append(a)
    try:
        return MPS(tuple(tensors))
    except ValueError as e:
        raise FormatError(f"{index_path}: {e}") from None


def _npz_order(keys: list[str], path: Path) -> list[str]:
    """The arrays' names in site order: ``0 … N−1`` or ``arr_0 … arr_{N−1}``."""
    sites = [k.removeprefix("arr_") for k in keys]
    if not keys or not all(k.isdigit() for k in sites) or sorted(int(k) for k in sites) != list(range(len(keys))):
        raise FormatError(f"'{path}' is not an MPS .npz: its arrays must be named 0 … N−1 (or arr_0 …), "
                          f"got {', '.join(keys[:5]) or 'none'}")
    return [k for _, k in sorted(zip((int(k) for k in sites), keys))]


def _npz_header(z, key: str, path: Path) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype of one array of an open .npz, read from its header alone."""
    with z.zip.open(f"{key}.npy") as fp:
        version = np.lib.format.read_magic(fp)
        if version not in ((1, 0), (2, 0)):
            raise FormatError(f"'{path}' is not an MPS .npz: array {key} has .npy version {version}")
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _, dtype = read(fp)
    if dtype.hasobject or dtype.kind not in "biufc":
        raise FormatError(f"'{path}' is not an MPS .npz: array {key} has dtype {dtype}; expected numbers (pickled "
                          "objects are never loaded)")
    return shape, dtype


def read_mps_npz(path: str | Path) -> MPS:
    """An MPS from an ``.npz`` of per-site arrays (left, physical, right); the arrays'
    sizes are read from their headers and checked against the available memory first,
    and nothing pickled is ever loaded."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as z:
            keys = _npz_order(list(z.files), path)
            headers = [_npz_header(z, k, path) for k in keys]
            check_memory(sum(math.prod(shape) * dtype.itemsize for shape, dtype in headers), f"the MPS in {path}")
            return MPS.from_arrays([z[k] for k in keys])
    except (FormatError, ResourceError):
        raise
    except (OSError, ValueError, EOFError, KeyError, TypeError, zipfile.BadZipFile) as e:  # TypeError: a bare .npy
        raise FormatError(f"'{path}' is not an MPS .npz: {str(e).splitlines()[0] or type(e).__name__}") from None
