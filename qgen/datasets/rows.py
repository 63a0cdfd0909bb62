"""Rows of measurement-record files, read in chunks by numpy's C reader, with where each
row came from, so that every problem is reported as one line naming the file, the line
(row for ``.npy``) and the column.

Text files (any extension) hold values separated by whitespace or by commas (decided by
the first data line); blank lines and lines starting with ``#`` are skipped, as is
anything after ``#`` on a line.  ``.npy`` arrays (2-D) are read too.  A value may be
marked missing (a readout that failed) with one of :data:`MISSING_MARKERS`; numeric rows
read it as NaN (:func:`missing_cells`), which :func:`integer_rows` refuses unless the
caller allows it there.

Example
-------
>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "r.txt"
>>> _ = p.write_text("# shots\\n0 1\\n2 x\\n")
>>> try:
...     read_rows(p, integer_rows)
... except FormatError as e:
...     print(str(e).split(", ", 1)[1])
line 3, column 2: 'x' is not a number
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from qgen.errors import FormatError

__all__ = ["Block", "read_rows", "integer_rows", "missing_cells", "check_n_qubits", "MISSING_MARKERS"]


_CHUNK_LINES = 16384

MISSING_MARKERS = ("-", "?", "nan")
"""Tokens that mark a missing value (any case for ``nan``; a float ``NaN`` in ``.npy``)."""
_MARKER = re.compile(r"(?<![^\s,])[-?](?![^\s,])")  # a lone '-' or '?' between separators

# -- rows of a file, with where they came from ---------------------------------------


@dataclass
class Block:
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


def _diagnose(path: Path, lines: list[str], numbers: list[int], delimiter: str | None, ncols: int, first_line: int,
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


def _text_blocks(path: Path, numeric: bool, skip_rows: int) -> Iterator[Block]:
    """Chunks of a text table: int64 or float64 values (``numeric``), else stripped strings."""
    delimiter, ncols, first_line = None, -1, 0
    lines: list[str] = []
    numbers: list[int] = []

    def load(dtype: type) -> np.ndarray:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return np.loadtxt(lines, dtype=dtype, delimiter=delimiter, comments="#", ndmin=2)

    def parse() -> Block:
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
        return Block(a, np.asarray(numbers), path, "line")

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
                if numeric and ("-" in data or "?" in data):
                    s = _MARKER.sub("nan", data)  # numpy's float reader takes 'nan'
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


def _npy_blocks(path: Path) -> Iterator[Block]:
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
        yield Block(np.asarray(a[start:stop]), np.arange(start + 1, stop + 1), path, "row")


def _blocks(path: str | Path, numeric: bool, skip_rows: int) -> Iterator[Block]:
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


def read_rows(path: str | Path, convert: Callable[[Block], np.ndarray], numeric: bool = True,
          skip_rows: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """All rows of ``path`` converted block by block, and their line numbers."""
    parts, where = [], []
    for b in _blocks(path, numeric, skip_rows):
        parts.append(convert(b))
        where.append(b.where)
    if not parts:
        raise FormatError(f"{path}: no data rows (the file is empty or holds only comments)")
    return np.concatenate(parts), np.concatenate(where)


def missing_cells(b: Block) -> np.ndarray:
    """Where the numeric rows of ``b`` hold a missing-value marker (read as NaN)."""
    return np.isnan(b.values) if b.values.dtype.kind == "f" else np.zeros(b.values.shape, bool)


def integer_rows(b: Block, missing: np.ndarray | None = None) -> np.ndarray:
    """The values of ``b`` as int64; a one-line error for any that is not an integer,
    except NaN (a missing-value marker) in the cells ``missing`` allows, which become 0."""
    v = b.values
    if v.dtype.kind == "f":
        nan = np.isnan(v)
        if missing is not None:
            v = np.where(missing, 0.0, v)
        bad = ~np.isfinite(v) | (v != np.round(v)) | (np.abs(v) >= 2.0**62)
        if bad.any():
            r, c = b.first(bad)
            x = v[r, c]
            what = "too large" if np.isfinite(x) and x == np.round(x) else "not an integer"
            problem = ("missing-value marker where a number is required" if nan[r, c]
                       else f"value {x:g} is {what}")
            raise b.error(r, problem, c)
    return v.astype(np.int64)


def check_n_qubits(path: str | Path, n: int, n_qubits: int | None) -> None:
    if n_qubits is not None and n != n_qubits:
        raise FormatError(f"{path}: rows hold {n} qubits but {n_qubits} were stated")
