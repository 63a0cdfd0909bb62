"""Memory (and disk) guards: refuse a request that cannot fit before starting it.

Every ``estimate_*`` function returns the bytes a piece of work needs at its peak — an
order-of-magnitude estimate (within a factor of ~2), counting the arrays qgen allocates,
not Python's or the libraries' fixed overheads.  :func:`check_memory` compares one with
the memory this machine has available (``MemAvailable`` of ``/proc/meminfo``, else
``os.sysconf``; a cgroup limit, as in a container, counts too) and raises a one-line
:class:`ResourceError` quoting both::

    simulate 1,000,000,000,000 strings × 50 qubits needs ~105.5 TiB (outcomes + ln P);
    this machine has 23.4 GiB available

The estimators (N qubits, K POVM outcomes, χ bond dimension, n strings):

=====================================  ================================================
:func:`estimate_simulate`              n·(N + 8) stored (uint8 outcomes, float64 ln P),
                                       twice while concatenated, plus the sampler's
                                       blocks in flight; streamed to a file: one HDF5
                                       chunk instead of all n
:func:`estimate_dataset_file`          disk: a lower bound on the compressed file size
:func:`estimate_mps`                   N·2χ² amplitudes
:func:`estimate_hamiltonian`           the Python objects of T Pauli terms
:func:`estimate_sparse_hamiltonian`    the CSR matrix (2^N × distinct flip masks
                                       entries, several copies) and its construction
:func:`estimate_exact_ground_state`    the CSR matrix plus ARPACK's Lanczos vectors
:func:`estimate_dmrg`                  MPS, environments and the two-site problem
:func:`estimate_enumeration`           all K^N strings with a few float64 columns
:func:`estimate_model_sampling`        n·(N + 8) results plus one chunk's work
:func:`estimate_training_data`         outcomes, ln P and the trainer's copy
=====================================  ================================================

:func:`check_simulate` applies the first two to a target and a POVM.

Example
-------
>>> format_bytes(estimate_simulate(10**12, 50))
'105.5 TiB'
>>> check_memory(10**18, "a test")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
qgen.resources.ResourceError: a test needs ~888.2 PiB; this machine has ... available
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from qgen.measurements.povm import POVM
    from qgen.targets.hamiltonians import Hamiltonian
    from qgen.targets.target import Target

__all__ = [
    "ResourceError", "available_memory", "format_bytes", "check_memory", "check_disk", "estimate_simulate",
    "estimate_dataset_file", "estimate_mps", "estimate_hamiltonian",
    "estimate_sparse_hamiltonian", "estimate_exact_ground_state", "estimate_dmrg", "estimate_enumeration",
    "estimate_model_sampling", "estimate_training_data", "check_simulate",
]

_BLOCK = 4096  # qgen.sampling.BLOCK (not imported: this module must stay import-light)
_LOGP_CHUNK = 128  # strings per exact ln P contraction (qgen.sampling.log_prob's chunk_size)
_TERM_BYTES = 600  # one Pauli term as Python objects while a Hamiltonian is built (measured ≈ 450)
_ARRAY_BYTES = 112  # a small numpy array's header
_LANCZOS_VECTORS = 25  # ARPACK's ncv = 20 for k = 1, plus its workspace


class ResourceError(ValueError):
    """A request that needs more memory (or disk) than this machine has; one line with the estimate."""


def _meminfo() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_room() -> int | None:
    """Limit minus usage of this process's memory cgroup (v2, then v1), if it sets one."""
    v1 = "/sys/fs/cgroup/memory/memory."
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         (v1 + "limit_in_bytes", v1 + "usage_in_bytes")):
        try:
            cap = Path(limit).read_text().strip()
            used = int(Path(usage).read_text().strip())
        except (OSError, ValueError):
            continue
        if cap.isdigit() and int(cap) < 2**60:  # "max" or a huge number: no limit
            return max(0, int(cap) - used)
    return None


def available_memory() -> int:
    """Bytes of memory available to this process now: ``MemAvailable`` (or
    ``SC_AVPHYS_PAGES`` × page size), capped by the cgroup's remaining room.

    >>> available_memory() > 0
    True
    """
    free = _meminfo()
    if free is None:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):  # no such sysconf name on this platform
            free = 2**63
    room = _cgroup_room()
    return int(free if room is None else min(free, room))


def format_bytes(n: float) -> str:
    """Binary units with one decimal: ``format_bytes(3 * 2**30) == '3.0 GiB'``.

    >>> format_bytes(512), format_bytes(1536), format_bytes(5e13)
    ('512 B', '1.5 KiB', '45.5 TiB')
    """
    n = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if abs(n) < 1024 or unit == "PiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def check_memory(nbytes: float, what: str, detail: str = "") -> None:
    """Raise :class:`ResourceError` if ``nbytes`` exceed :func:`available_memory`:
    "``what`` needs ~X (``detail``); this machine has Y available".

    >>> check_memory(1000, "a tiny request")  # fits: nothing happens
    """
    have = available_memory()
    if nbytes > have:
        why = f" ({detail})" if detail else ""
        raise ResourceError(f"{what} needs ~{format_bytes(nbytes)}{why}; this machine has {format_bytes(have)} "
                            "available")


def check_disk(nbytes: float, directory: str | os.PathLike, what: str, detail: str = "") -> None:
    """Raise :class:`ResourceError` if ``nbytes`` exceed the free space of the file system
    holding ``directory``.

    >>> check_disk(1000, ".", "a tiny file")
    """
    free = shutil.disk_usage(Path(directory) if str(directory) else Path(".")).free
    if nbytes > free:
        why = f" ({detail})" if detail else ""
        raise ResourceError(f"{what} needs at least {format_bytes(nbytes)} on disk{why}; '{directory}' has "
                            f"{format_bytes(free)} free")


def _size(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return int(value)


def estimate_simulate(n_samples: int, n_qubits: int, *, bond_dim: int = 2, workers: int = 1,
                      dense_table: int = 0, streamed: bool = False) -> int:
    """Peak bytes of simulating ``n_samples`` strings (:func:`qgen.datasets.simulation`, or
    :func:`qgen.datasets.simulate_to_file` with ``streamed=True``).

    Stored: uint8 outcomes and float64 ln P, n·(N + 8), twice while the blocks are
    concatenated (streamed: one HDF5 chunk of ≈ 1 MB of outcomes instead).  Sampler: per
    block of 4096 strings in flight (two per worker, plus one being written) the uniforms
    and outcomes (9N bytes per string), the left vectors (48χ) and the ln P environments
    of 128 strings (4 × 16χ²).  ``dense_table``: entries of the probability table of a
    small dense target (24 bytes each: complex table and float64 CDF).

    >>> format_bytes(estimate_simulate(100_000, 50, bond_dim=19))
    '35.5 MiB'
    """
    n, nq, chi = _size(n_samples, "n_samples"), _size(n_qubits, "n_qubits"), max(1, _size(bond_dim, "bond_dim"))
    rows = min(n, max(_BLOCK, 2**20 // max(nq, 1))) if streamed else n
    stored = 2 * rows * (nq + 8)
    per_block = _BLOCK * (9 * nq + 48 * chi) + _LOGP_CHUNK * chi**2 * 16 * 4
    return stored + (2 * max(1, workers) + 1) * per_block + 24 * _size(dense_table, "dense_table")


def estimate_dataset_file(n_samples: int, n_qubits: int, povm_elements: np.ndarray) -> int:
    """A lower bound on the size of a dataset file, however well it compresses.

    No state makes a string likelier than Π_i λ_max(M^{a_i}) (P(a) = Tr[(⊗M^{a_i}) ρ] ≤
    Π‖M^{a_i}‖), so every string carries at least h = −log₂ max_a λ_max(M^a) bits per
    qubit (0.34 for Pauli-4, 1 for the tetrahedral POVM, 1.58 for Pauli-6) and no lossless
    code stores n strings in fewer than n·N·h/8 bytes on average.  ln P is not counted.

    >>> from qgen.measurements import pauli6
    >>> estimate_dataset_file(8000, 10, pauli6().elements)
    15849
    """
    lam = float(np.linalg.eigvalsh(np.asarray(povm_elements)).max())
    bits = -np.log2(lam) if lam > 0 else 0.0
    return int(_size(n_samples, "n_samples") * _size(n_qubits, "n_qubits") * bits / 8)


def estimate_mps(n_qubits: int, bond_dim: int) -> int:
    """N tensors (χ, 2, χ) of complex128, plus each array's header.

    >>> estimate_mps(50, 19)
    583200
    """
    return _size(n_qubits, "n_qubits") * (2 * 16 * _size(bond_dim, "bond_dim") ** 2 + _ARRAY_BYTES)


def estimate_hamiltonian(n_terms: int) -> int:
    """The Python objects of ``n_terms`` Pauli terms while a
    :class:`~qgen.hamiltonians.Hamiltonian` is built and put in canonical form (≈ 600
    bytes each: tuples, floats, strings, the merge dictionary).

    >>> estimate_hamiltonian(99)
    59400
    """
    return _TERM_BYTES * _size(n_terms, "n_terms")


def _flip_groups(hamiltonian: Hamiltonian) -> list[int]:
    """Number of terms per distinct X/Y support (one off-diagonal of the matrix each; the
    diagonal is the empty support)."""
    groups: dict[tuple, int] = {(): 0}
    for _, letters, sites in hamiltonian.terms:
        key = tuple(s for s, a in zip(sites, letters) if a in "XY")
        groups[key] = groups.get(key, 0) + 1
    return list(groups.values())


def estimate_sparse_hamiltonian(hamiltonian: Hamiltonian) -> int:
    """:meth:`Hamiltonian.to_sparse`: per distinct flip mask, 2^N entries (int64 row and
    column, value) as COO and as CSR, the (2^N, N) bit table and the (2^N, k) int64 sign
    table of the largest group of k terms sharing a mask.

    >>> from qgen.targets import tfim
    >>> format_bytes(estimate_sparse_hamiltonian(tfim(16)))
    '84.0 MiB'
    """
    groups = _flip_groups(hamiltonian)
    dim = 2**hamiltonian.n_qubits
    return 2 * dim * len(groups) * (8 + 8 + 16) + dim * (hamiltonian.n_qubits + 16 * max(groups))


def estimate_exact_ground_state(hamiltonian: Hamiltonian) -> int:
    """Exact diagonalisation: the sparse matrix (:func:`estimate_sparse_hamiltonian`)
    plus ARPACK's ~25 Lanczos vectors of 2^N complex128 entries.

    >>> from qgen.targets import tfim
    >>> format_bytes(estimate_exact_ground_state(tfim(16)))
    '109.0 MiB'
    """
    return estimate_sparse_hamiltonian(hamiltonian) + _LANCZOS_VECTORS * 16 * 2**hamiltonian.n_qubits


def estimate_dmrg(n_qubits: int, bond_dim: int, mpo_bond: int) -> int:
    """Two-site DMRG at bond dimension χ with an MPO of bond D, complex128: the sweeps —
    the MPS (and quimb's copies, 4 × 2χ²), left and right environments (2 × Dχ²) per site
    and the two-site problem (4χ² amplitudes, ~20 Lanczos vectors, the environments'
    products) — or, if larger, the energy variance of the result that follows them
    (:func:`qgen.targets.solvers.mps_energy_variance`: the MPS and ~3 arrays of the zipper's
    (χ, D, D, 2, χ) environment times the physical index, 6D²χ²).  For the 8 × 8 Heisenberg
    model (D = 29) at χ = 256 the variance dominates.

    >>> format_bytes(estimate_dmrg(50, 64, 3))
    '50.2 MiB'
    >>> format_bytes(estimate_dmrg(64, 256, 29))
    '5.1 GiB'
    """
    n, chi, d = _size(n_qubits, "n_qubits"), _size(bond_dim, "bond_dim"), _size(mpo_bond, "mpo_bond")
    sweeps = 16 * chi**2 * (n * (8 + 2 * d) + 4 * (20 + 2 * d))
    variance = 16 * chi**2 * (2 * n + 6 * d**2)
    return max(sweeps, variance)


def estimate_enumeration(n_qubits: int, n_outcomes: int) -> int:
    """All K^N strings (uint8, N bytes each) with four float64 columns (ln P, ln q, P, q).

    >>> estimate_enumeration(8, 4)
    2621440
    """
    return _size(n_outcomes, "n_outcomes") ** _size(n_qubits, "n_qubits") * (n_qubits + 32)


def estimate_model_sampling(n_samples: int, n_qubits: int, chunk: int = 65536) -> int:
    """Drawing n strings from a model in chunks: the results kept (uint8 outcomes and
    float64 ln q, n·(N + 8)) and one chunk's int64 strings, their log-probabilities and the
    network's activations (≈ 64N bytes per string).

    >>> format_bytes(estimate_model_sampling(10**6, 50))
    '280.8 MiB'
    """
    n, nq = _size(n_samples, "n_samples"), _size(n_qubits, "n_qubits")
    return n * (nq + 8) + min(n, chunk) * (8 * nq + 8 + 64 * nq)


def estimate_training_data(n_samples: int, n_qubits: int) -> int:
    """Loading a dataset to train on it: outcomes and ln P as read (n·(N + 8)) and the
    trainer's uint8 tensor of the strings (n·N).

    >>> format_bytes(estimate_training_data(10**6, 50))
    '103.0 MiB'
    """
    n, nq = _size(n_samples, "n_samples"), _size(n_qubits, "n_qubits")
    return n * (2 * nq + 8)


def check_simulate(target: Target, povm: POVM, n_samples: int, *, workers: int | None = None, streamed: bool = False,
                   output: str | os.PathLike | None = None) -> None:
    """Refuse up front a simulation of ``n_samples`` strings of ``target`` (a
    :class:`~qgen.targets.Target`) measured with ``povm`` that cannot fit: its memory
    (:func:`estimate_simulate`; ``streamed`` for :func:`qgen.datasets.simulate_to_file`)
    and, with an ``output`` file, the disk it needs at least (:func:`estimate_dataset_file`).

    >>> from qgen.targets import make_target
    >>> from qgen.measurements import pauli4
    >>> check_simulate(make_target("ghz", n=50), pauli4(), 10**12)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    qgen.resources.ResourceError: simulate 1,000,000,000,000 strings × 50 qubits needs ~105.5 TiB (outcomes + ln P); ...
    """
    n, k = target.n_qubits, povm.n_outcomes
    dense = getattr(target.state, "data", None)
    table = k**n if dense is not None and (k**n <= 2**24 or dense.ndim == 2) else 0
    chi = getattr(target.state, "max_bond", 2 ** (n // 2))
    what = f"simulate {int(n_samples):,} strings × {n} qubits"
    check_memory(estimate_simulate(n_samples, n, bond_dim=chi, workers=workers or os.cpu_count() or 1,
                                   dense_table=table, streamed=streamed),
                 what, "sampler blocks and one HDF5 chunk" if streamed else "outcomes + ln P")
    if output is not None:
        parent = Path(output).parent
        check_disk(estimate_dataset_file(n_samples, n, povm.elements), parent if str(parent) else ".", what,
                   "the least any compression can store")
