"""Target recipes: a state from a short name with parameters (:func:`make_target`), and
target or Hamiltonian specifications given as text (:func:`parse_target`,
:func:`parse_hamiltonian`), as ``qgen import``/``qgen attach`` read them.

Example
-------
>>> t = make_target("ghz", n=4, noise=0.1)
>>> t.describe()
'ghz n=4 noise=0.1 (MPS, max bond 2)'
>>> parse_target("xxz:delta=0.5", 4).name
'xxz'
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from qgen._io import FormatError
from qgen.targets.builders import cluster, ghz, product_state, w_state
from qgen.targets.files import read_mps_npz, read_povm_genmodel_mps
from qgen.targets.hamiltonians import Hamiltonian
from qgen.targets.lattices import heisenberg, tfim, tfim_2d, xxz
from qgen.targets.states import MPS, depolarize
from qgen.targets.target import Target, target_from_hamiltonian

__all__ = ["HAMILTONIAN_KINDS", "STATE_KINDS", "TARGET_KINDS", "make_target", "parse_target", "parse_hamiltonian"]


HAMILTONIAN_KINDS = ("tfim", "tfim2d", "heisenberg", "xxz")
STATE_KINDS = ("ghz", "w", "cluster", "product")
TARGET_KINDS = HAMILTONIAN_KINDS + STATE_KINDS


def make_target(
    kind: str,
    n: int | None = None,
    *,
    J: float = 1.0,
    h: float = 1.0,
    delta: float = 1.0,
    lx: int | None = None,
    ly: int | None = None,
    boundary: str = "open",
    noise: float = 0.0,
    method: str = "auto",
    bond_dims: tuple[int, ...] = (8, 16, 32, 64),
    cutoff: float = 1e-11,
    seed: int | None = 0,
    product: str = "0",
) -> Target:
    """Build a target from a recipe.

    Hamiltonian ground states (``tfim``: H = −J Σ σzσz − h Σ σx; ``tfim2d`` on an lx×ly
    lattice; ``xxz``: J Σ (σxσx + σyσy + Δ σzσz); ``heisenberg``: Δ = 1) are solved with
    :func:`qgen.groundstate.ground_state` (``method`` = auto | exact | dmrg).  Named states
    (``ghz``, ``w``, ``cluster``, ``product`` with single-qubit label ``product``) are
    exact MPS.  ``noise`` applies local depolarizing noise of that strength.
    """
    kind = kind.lower()
    if kind not in TARGET_KINDS:
        raise ValueError(f"unknown target '{kind}'; choose one of {', '.join(TARGET_KINDS)}")
    if kind == "tfim2d":
        if not lx or not ly:
            raise ValueError("tfim2d needs the lattice size lx and ly")
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in (lx, ly)):
            raise ValueError(f"tfim2d needs integer lattice sizes lx, ly ≥ 1, got {lx!r}, {ly!r}")
        n = lx * ly
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"number of qubits must be an integer ≥ 2, got {n}")
    n = int(n)
    if kind in HAMILTONIAN_KINDS:
        H = {
            "tfim": lambda: tfim(n, J=J, h=h, boundary=boundary),
            "tfim2d": lambda: tfim_2d(lx, ly, J=J, h=h, boundary=boundary),
            "xxz": lambda: xxz(n, J=J, delta=delta, boundary=boundary),
            "heisenberg": lambda: heisenberg(n, J=J, boundary=boundary),
        }[kind]()
        target = target_from_hamiltonian(H, kind, method=method, bond_dims=bond_dims, cutoff=cutoff,
                                         seed=seed)
        state, params, info = target.state, target.params, target.info
    else:
        state = {
            "ghz": lambda: ghz(n),
            "w": lambda: w_state(n),
            "cluster": lambda: cluster(n),
            "product": lambda: product_state(product, n),
        }[kind]()
        H, info = None, {}
        params = {"n": n} | ({"product": product} if kind == "product" else {})
    if noise:
        params["noise"] = float(noise)
    return Target(depolarize(state, noise), kind, params, H, info)


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
