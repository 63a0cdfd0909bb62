"""Readers of other programs' state formats, including the published 50-qubit Ising MPS."""

from pathlib import Path

import numpy as np
import pytest
from reference import tfim_open_energy

from qgen.hamiltonians import tfim
from qgen.importers import FormatError, read_mps_npz, read_povm_genmodel_mps
from qgen.metrics import exact_observable
from qgen.states import random_mps

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
