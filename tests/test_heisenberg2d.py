"""The 2D Heisenberg antiferromagnet H = J Σ_⟨ij⟩ σ_i · σ_j on an lx × ly lattice, qubits
along a snake: the Hamiltonian against a dense Kronecker-product reference built from
lattice coordinates, ground energies against scipy's sparse eigensolver on an
independently built matrix (and closed forms / published exact values), the snake path,
DMRG against exact diagonalisation, and the recipe through make_target, parse_target and
``qgen simulate``."""

from functools import reduce

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla
from click.testing import CliRunner

from qgen.cli import cli
from qgen.datasets.hdf5 import read_dataset
from qgen.errors import FormatError
from qgen.targets import (
    ground_state,
    heisenberg_2d,
    make_target,
    parse_hamiltonian,
    parse_target,
    snake_sites,
)
from qgen.targets.target import _mpo_bond

PAULIS = [np.array([[0, 1], [1, 0]]), np.array([[0, -1j], [1j, 0]]), np.diag([1.0, -1.0])]


def snake_walk(lx, ly):
    """Qubit of each site by walking the path: up column 0, down column 1, ... (no formula)."""
    sites, q = {}, 0
    for x in range(lx):
        for y in range(ly) if x % 2 == 0 else reversed(range(ly)):
            sites[x, y] = q
            q += 1
    return sites


def lattice_bonds(lx, ly, periodic=False):
    """Nearest-neighbour pairs of lattice sites ((x, y), (x', y')), wraps along lengths > 2."""
    bonds = set()
    for x in range(lx):
        for y in range(ly):
            for dx, dy, length in ((1, 0, lx), (0, 1, ly)):
                x2, y2 = x + dx, y + dy
                if periodic and length > 2:
                    x2, y2 = x2 % lx, y2 % ly
                if x2 < lx and y2 < ly:
                    bonds.add(tuple(sorted([(x, y), (x2, y2)])))
    return sorted(bonds)


def reference_matrix(lx, ly, J=1.0, periodic=False, sparse=False):
    """J Σ_bonds Σ_a σ^a ⊗ σ^a as Kronecker products I ⊗ σ^a ⊗ I ⊗ σ^a ⊗ I, qubit 0 the
    leftmost factor."""
    n, q = lx * ly, snake_walk(lx, ly)
    eye = (lambda k: sp.identity(2**k, format="csr")) if sparse else (lambda k: np.eye(2**k))
    kron = (lambda u, v: sp.kron(u, v, format="csr")) if sparse else np.kron
    total = 0
    for a, b in lattice_bonds(lx, ly, periodic):
        i, j = sorted((q[a], q[b]))
        for s in PAULIS:
            total = total + J * reduce(kron, [eye(i), s, eye(j - i - 1), s, eye(n - j - 1)])
    return total.real if sparse else total


def eigh_lowest(mat):
    """Lowest eigenpair by ARPACK from a random start (a product start such as |+…+⟩ lies
    in the S = N/2 multiplet, which H never leaves)."""
    v0 = np.random.default_rng(0).normal(size=mat.shape[0])
    e, v = spla.eigsh(mat, k=1, which="SA", v0=v0)
    return float(e[0]), v[:, 0]


def lowest(mat):
    return eigh_lowest(mat)[0]


@pytest.mark.parametrize("lx, ly", [(3, 4), (4, 3), (1, 5), (5, 1), (2, 2)])
def test_snake_path(lx, ly):
    sites = snake_sites(lx, ly)
    walk = snake_walk(lx, ly)
    assert sites.shape == (lx, ly)
    assert all(sites[x, y] == q for (x, y), q in walk.items())
    # a path: qubits q and q + 1 are lattice neighbours
    where = {int(sites[x, y]): (x, y) for x in range(lx) for y in range(ly)}
    steps = [np.subtract(where[q + 1], where[q]) for q in range(lx * ly - 1)]
    assert all(abs(dx) + abs(dy) == 1 for dx, dy in steps)


@pytest.mark.parametrize("lx, ly, J, periodic", [(2, 3, 1.0, False), (3, 2, -0.7, False), (3, 3, 1.3, False),
                                                 (3, 3, 1.0, True), (2, 4, 1.0, True)])
def test_hamiltonian_matches_kronecker_reference(lx, ly, J, periodic):
    H = heisenberg_2d(lx, ly, J=J, boundary="periodic" if periodic else "open")
    ref = reference_matrix(lx, ly, J, periodic)
    assert len(H) == 3 * len(lattice_bonds(lx, ly, periodic))
    np.testing.assert_allclose(H.to_sparse().toarray(), ref, atol=1e-13)
    assert H.name == "heisenberg_2d" and H.params == {"lx": lx, "ly": ly, "J": J,
                                                      "boundary": "periodic" if periodic else "open"}


def test_mpo_of_the_snake():
    """The exact MPO matches the matrix despite bonds 2·ly − 1 qubits long, and its bond
    dimension is 2 + 3·(ly + 1): ly rungs and one column bond cross every cut."""
    H = heisenberg_2d(2, 3)
    np.testing.assert_allclose(H.to_mpo().to_dense(), H.to_sparse().toarray(), atol=1e-13)
    for lx, ly in [(4, 3), (3, 5), (8, 8)]:
        H = heisenberg_2d(lx, ly)
        assert _mpo_bond(H) == max(H.to_mpo().bond_sizes()) == 2 + 3 * (ly + 1)


def test_small_lattice_energies():
    """Ground energies against scipy on the independent matrix, and closed forms: the
    2 × 2 plaquette is the 4-site ring, E_S = −2J (E_σ = 4 E_S = −8J); the 2 × 1 dimer is
    the singlet, E_σ = −3J."""
    assert ground_state(heisenberg_2d(2, 1), "exact").energy == pytest.approx(-3.0, abs=1e-12)
    assert ground_state(heisenberg_2d(2, 2, J=0.5), "exact").energy == pytest.approx(-4.0, abs=1e-12)
    for lx, ly in [(2, 3), (3, 3), (2, 5)]:
        e_ref = lowest(reference_matrix(lx, ly, sparse=True))
        assert ground_state(heisenberg_2d(lx, ly), "exact").energy == pytest.approx(e_ref, abs=1e-9)


def test_4x4_exact_energy_is_the_published_one():
    """Open 4 × 4: exact diagonalisation (scipy on the independent matrix, and qgen's own)
    gives the published E_S / 16 = −0.57432544 (Lubasch, Cirac & Bañuls, PRB 90, 064425
    (2014), App. C, Table III), i.e. E_σ = 4 · 16 · E_S / 16."""
    e_ref = lowest(reference_matrix(4, 4, sparse=True))
    assert e_ref / 4 / 16 == pytest.approx(-0.57432544, abs=1e-8)
    assert ground_state(heisenberg_2d(4, 4), "exact").energy == pytest.approx(e_ref, abs=1e-8)


def test_dmrg_4x3_state_matches_exact():
    """4 columns of 3 along the snake: every cut has Schmidt rank ≤ 2^6 = 64, so DMRG at
    χ = 64 is exact; its state has fidelity 1 with the unique singlet ground state of the
    independent matrix."""
    e, v = eigh_lowest(reference_matrix(4, 3, sparse=True))
    gs = ground_state(heisenberg_2d(4, 3), "dmrg", bond_dims=(16, 32, 64), seed=1)
    assert gs.energy == pytest.approx(e, abs=1e-8) and gs.variance < 1e-7
    assert abs(np.vdot(v, gs.state.to_dense())) ** 2 == pytest.approx(1.0, abs=1e-8)


def test_dmrg_3x3_matches_exact():
    """Nine spins: a degenerate S = 1/2 ground doublet, so energies and variances are
    compared (the state is not unique)."""
    e_ref = lowest(reference_matrix(3, 3, sparse=True))
    gs = ground_state(heisenberg_2d(3, 3), "dmrg", bond_dims=(8, 16, 32), seed=0)
    assert gs.energy == pytest.approx(e_ref, abs=1e-9) and gs.variance < 1e-8


def test_recipe_make_target_and_specs():
    t = make_target("heisenberg2d", lx=3, ly=3)
    assert t.name == "heisenberg2d" and t.n_qubits == 9
    assert t.params == {"lx": 3, "ly": 3, "J": 1.0, "boundary": "open"}
    assert t.hamiltonian.terms == heisenberg_2d(3, 3).terms
    assert t.info["energy"] == pytest.approx(lowest(reference_matrix(3, 3, sparse=True)), abs=1e-9)
    p = parse_target("heisenberg2d:lx=3,ly=3", 9)
    assert p.name == "heisenberg2d" and p.hamiltonian.terms == t.hamiltonian.terms
    q = parse_target("heisenberg2d:lx=2,ly=3,J=0.5,noise=0.1", 6)
    assert q.noise == pytest.approx(0.1) and q.params["J"] == 0.5 and q.hamiltonian.terms[0][0] == 0.5
    assert parse_hamiltonian("heisenberg2d:lx=2,ly=3", 6).terms == heisenberg_2d(2, 3).terms
    with pytest.raises(FormatError, match=r"lx·ly = 8"):
        parse_target("heisenberg2d:lx=3,ly=3", 8)
    with pytest.raises(ValueError, match="lx and ly"):
        make_target("heisenberg2d", lx=3)


@pytest.mark.parametrize("call, msg", [
    (lambda: heisenberg_2d(1, 1), "lx·ly ≥ 2"),
    (lambda: heisenberg_2d(0, 3), "integers ≥ 1"),
    (lambda: heisenberg_2d(2, 2, boundary="twisted"), "open' or 'periodic"),
    (lambda: heisenberg_2d(2, 2, J=float("nan")), "not finite"),
    (lambda: snake_sites(2.5, 2), "integers ≥ 1"),
])
def test_bad_arguments(call, msg):
    with pytest.raises(ValueError, match=msg):
        call()


def test_cli_simulate(tmp_path):
    out = tmp_path / "h.h5"
    res = CliRunner().invoke(cli, ["simulate", "heisenberg2d", "--lx", "3", "--ly", "3", "--samples", "300",
                                   "-q", "-o", str(out)])
    assert res.exit_code == 0, res.output
    ds = read_dataset(out)
    assert ds.target.name == "heisenberg2d" and ds.n_qubits == 9
    assert ds.target.hamiltonian.terms == heisenberg_2d(3, 3).terms
    assert ds.target.info["energy"] == pytest.approx(lowest(reference_matrix(3, 3, sparse=True)), abs=1e-9)
    res = CliRunner().invoke(cli, ["simulate", "heisenberg2d", "--lx", "3", "-q", "-o", str(tmp_path / "x.h5")])
    assert res.exit_code != 0 and "lx and ly" in res.output


@pytest.mark.slow
def test_dmrg_6x6_against_published_exact_energy():
    """Open 6 × 6: E_σ = −86.9071441699763 by exact diagonalisation (VarBench,
    Heisenberg/square_6_OO_36; Wu et al., Science 386, 296 (2024)); DMRG along the snake at
    χ = 256 is within 2e-3 of it, above it (variational), with the gap to it below the
    variance bound √var (Weinstein)."""
    e_ed = -86.9071441699763
    gs = ground_state(heisenberg_2d(6, 6), "dmrg", bond_dims=(32, 64, 128, 256), tol=1e-6, max_sweeps=10)
    assert e_ed - 1e-9 <= gs.energy < e_ed + 2e-3
    assert gs.energy - e_ed <= np.sqrt(gs.variance)
