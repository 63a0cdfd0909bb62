"""Target recipes: one registry of named targets, each a builder with typed parameters.

:data:`RECIPES` maps a name to a :class:`Recipe`: a Hamiltonian builder (the target is its
ground state, by exact diagonalisation or DMRG) or a state builder, and the parameters it
takes.  Everything that names targets reads it — :func:`make_target` (Python),
:func:`parse_target` / :func:`parse_hamiltonian` (text specifications such as
``tfim:h=1,J=1``, as ``qgen import``/``qgen attach`` read them) and the options of
``qgen simulate`` — so a new recipe is one :func:`register_recipe` call.

Every target also takes ``noise``: a local depolarizing strength on every qubit, or one
strength per qubit (in text, separated by ``/``: ``ghz:noise=0/0/0.2/0``); ground states
take the solver settings ``method`` (auto | exact | dmrg), ``bond_dims``, ``cutoff`` and
``seed``.

Example
-------
>>> t = make_target("ghz", n=4, noise=0.1)
>>> t.describe()
'ghz n=4 noise=0.1 (MPS, max bond 2)'
>>> parse_target("xxz:delta=0.5", 4).name
'xxz'
>>> [p.name for p in RECIPES["tfim"].params]
['J', 'h', 'boundary']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qgen.errors import ArgumentError, FormatError
from qgen.targets.builders import cluster, ghz, product_state, w_state
from qgen.targets.files import read_mps_npz, read_povm_genmodel_mps
from qgen.targets.hamiltonians import Hamiltonian
from qgen.targets.lattices import heisenberg, heisenberg_2d, tfim, tfim_2d, xxz
from qgen.targets.states import MPS, Noise, check_noise, depolarize
from qgen.targets.target import Target, target_from_hamiltonian

__all__ = [
    "Param", "Recipe", "RECIPES", "register_recipe", "make_target", "parse_target", "parse_hamiltonian",
    "parse_noise", "SOLVER_PARAMS",
]


@dataclass(frozen=True)
class Param:
    """One parameter of a recipe: its name, type (int, float or str), default and meaning."""

    name: str
    type: type
    default: Any
    help: str

    def convert(self, value: Any) -> Any:
        """``value`` as this parameter's type (ValueError if it is not one)."""
        if self.type is int and (isinstance(value, bool) or not isinstance(value, (int, np.integer, str))):
            raise ValueError(f"{self.name} must be an integer, got {value!r}")
        return self.type(value)


@dataclass(frozen=True)
class Recipe:
    """A named target.  ``build(n, **params)`` returns a :class:`Hamiltonian` (the target is
    its ground state) or a state; ``sites(**params)``, when given, says how many qubits
    the parameters make (a lattice's lx·ly), else ``n`` is a parameter of its own."""

    name: str
    build: Callable[..., Any]
    params: tuple[Param, ...]
    doc: str
    ground_state: bool
    sites: Callable[..., int] | None = None


RECIPES: dict[str, Recipe] = {}
"""Registered recipes by name."""

SOLVER_PARAMS = (
    Param("method", str, "auto", "ground-state solver: auto (exact ≤ 12 qubits), exact or dmrg"),
    Param("bond_dims", tuple, (8, 16, 32, 64), "DMRG bond-dimension ramp"),
    Param("cutoff", float, 1e-11, "DMRG singular-value cutoff"),
    Param("seed", int, 0, "seed of the DMRG start"),
)
"""Settings of the ground-state solver, taken by every Hamiltonian recipe."""


def register_recipe(recipe: Recipe) -> Recipe:
    """Add ``recipe`` to :data:`RECIPES` (a one-line error if the name is taken)."""
    if recipe.name in RECIPES:
        raise ValueError(f"a target recipe '{recipe.name}' is already registered")
    RECIPES[recipe.name] = recipe
    return recipe


_J = Param("J", float, 1.0, "coupling J")
_H = Param("h", float, 1.0, "transverse field h")
_BOUNDARY = Param("boundary", str, "open", "open or periodic")
_LX, _LY = Param("lx", int, None, "lattice width"), Param("ly", int, None, "lattice height")
for _recipe in (
    Recipe("tfim", lambda n, J, h, boundary: tfim(n, J=J, h=h, boundary=boundary), (_J, _H, _BOUNDARY),
           "H = −J Σ σz_i σz_{i+1} − h Σ σx_i", True),
    Recipe("tfim2d", lambda n, lx, ly, J, h, boundary: tfim_2d(lx, ly, J=J, h=h, boundary=boundary),
           (_LX, _LY, _J, _H, _BOUNDARY), "the TFIM on an lx × ly square lattice", True, lambda lx, ly, **_: lx * ly),
    Recipe("heisenberg", lambda n, J, boundary: heisenberg(n, J=J, boundary=boundary), (_J, _BOUNDARY),
           "H = J Σ σ_i · σ_{i+1}", True),
    Recipe("heisenberg2d", lambda n, lx, ly, J, boundary: heisenberg_2d(lx, ly, J=J, boundary=boundary),
           (_LX, _LY, _J, _BOUNDARY), "H = J Σ σ_i · σ_j on an lx × ly square lattice, qubits along a snake", True,
           lambda lx, ly, **_: lx * ly),
    Recipe("xxz", lambda n, J, delta, boundary: xxz(n, J=J, delta=delta, boundary=boundary),
           (_J, Param("delta", float, 1.0, "anisotropy Δ"), _BOUNDARY),
           "H = J Σ (σx σx + σy σy + Δ σz σz) on neighbours", True),
    Recipe("ghz", lambda n: ghz(n), (), "(|0…0⟩ + |1…1⟩)/√2", False),
    Recipe("w", lambda n: w_state(n), (), "the equal superposition of all strings with one 1", False),
    Recipe("cluster", lambda n: cluster(n), (), "the 1D cluster state (CZ chain on |+…+⟩)", False),
    Recipe("product", lambda n, product: product_state(product, n),
           (Param("product", str, "0", "single-qubit state: 0, 1, +, -, +i, -i"),), "a product state", False),
):
    register_recipe(_recipe)


def _sizes(n: Any, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"{what} must be an integer ≥ 2, got {n!r}")
    return int(n)


def parse_noise(text: str | float | Sequence[float]) -> Noise:
    """A depolarizing strength, or one per qubit: a number, a sequence, or text with the
    strengths separated by ``/`` or ``,``.

    >>> parse_noise("0/0/0.2/0"), parse_noise("0.05")
    ((0.0, 0.0, 0.2, 0.0), 0.05)
    """
    if isinstance(text, str):
        parts = [p for p in text.replace(",", "/").split("/") if p.strip()]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            raise ValueError(f"noise must be a number or numbers separated by '/', got {text!r}") from None
        text = values[0] if len(values) == 1 else values
    return check_noise(text)


def make_target(kind: str, n: int | None = None, *, noise: Noise | str = 0.0, **params: Any) -> Target:
    """The target of recipe ``kind`` on ``n`` qubits (or on the lattice its parameters
    make), with local depolarizing ``noise`` (one strength, or one per qubit).  ``params`` are the recipe's parameters
    (see :data:`RECIPES`; omitted ones take their defaults) and, for ground states, the
    solver settings :data:`SOLVER_PARAMS`, passed to :func:`qgen.targets.ground_state`.
    """
    recipe = RECIPES.get(str(kind).lower())
    if recipe is None:
        raise ValueError(f"unknown target '{kind}'; choose one of {', '.join(RECIPES)}")
    allowed = {p.name: p for p in recipe.params + (SOLVER_PARAMS if recipe.ground_state else ())}
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        takes = ", ".join(allowed) or "no parameters besides n and noise"
        raise ArgumentError(unknown[0], f"is not a parameter of target '{recipe.name}' (it takes {takes})")
    if recipe.sites is not None:  # a lattice: its sizes, given as integers ≥ 1, make n
        lattice = [p.name for p in recipe.params if p.default is None]
        sizes = [params.get(name) for name in lattice]
        if None in sizes:
            raise ValueError(f"{recipe.name} needs the lattice size {' and '.join(lattice)}")
        if not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= 1 for v in sizes):
            raise ValueError(f"{recipe.name} needs integer lattice sizes {', '.join(lattice)} ≥ 1, got "
                             + ", ".join(map(repr, sizes)))
    values = {name: p.default if params.get(name) is None else p.convert(params[name]) for name, p in allowed.items()}
    own = {p.name: values[p.name] for p in recipe.params}
    if recipe.sites is not None:
        n = recipe.sites(**own)
    n = _sizes(n, "number of qubits")
    built = recipe.build(n, **own)
    if recipe.ground_state:
        solver = {p.name: values[p.name] for p in SOLVER_PARAMS}
        target = target_from_hamiltonian(built, recipe.name, **solver)
        state, params_out, H, info = target.state, target.params, built, target.info
    else:
        state, H, info = built, None, {}
        params_out = {"n": n} | {k: v for k, v in own.items()}
    noise = parse_noise(noise)
    if np.any(noise):
        params_out["noise"] = list(noise) if isinstance(noise, tuple) else noise
    return Target(depolarize(state, noise), recipe.name, params_out, H, info)


# -- text specifications ---------------------------------------------------------------

_SPEC_COMMON = (Param("n", int, None, "number of qubits"), Param("noise", str, "0", "depolarizing strength(s)"))


def _spec_params(spec: str, allowed: tuple[Param, ...]) -> tuple[str, dict]:
    """'kind:k=v,k=v' → (kind, {k: typed v}); keys are matched case-insensitively."""
    kind, _, rest = spec.partition(":")
    names = {p.name.lower(): p for p in allowed}
    params: dict = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, sep, value = item.partition("=")
        param = names.get(key.strip().lower())
        if not sep or param is None:
            raise FormatError(f"target spec '{spec}': '{item}' is not KEY=VALUE with KEY one of "
                              f"{', '.join(p.name for p in allowed)}")
        try:
            params[param.name] = param.convert(value.strip())
        except ValueError:
            raise FormatError(f"target spec '{spec}': {param.name} = '{value}' is not a valid "
                              f"{param.type.__name__}") from None
    return kind.strip().lower(), params


def parse_hamiltonian(spec: str, n_qubits: int) -> Hamiltonian:
    """A Hamiltonian from a spec such as ``tfim:J=-1,h=-1`` (any Hamiltonian recipe with its
    parameters), on ``n_qubits`` sites.

    >>> parse_hamiltonian("xxz:delta=0.5", 3).params
    {'n': 3, 'J': 1.0, 'delta': 0.5, 'boundary': 'open'}
    """
    kinds = [r.name for r in RECIPES.values() if r.ground_state]
    kind = spec.partition(":")[0].strip().lower()
    if kind not in kinds:
        raise FormatError(f"unknown Hamiltonian '{kind}'; choose one of {', '.join(kinds)}")
    recipe = RECIPES[kind]
    _, p = _spec_params(spec, recipe.params)
    own = {q.name: p.get(q.name, q.default) for q in recipe.params}
    _check_lattice(recipe, own, n_qubits)
    return recipe.build(n_qubits, **own)


def _check_lattice(recipe: Recipe, params: dict[str, Any], n_qubits: int) -> None:
    """A lattice recipe's sizes must make the data's number of qubits."""
    lattice = [p.name for p in recipe.params if p.default is None]
    if recipe.sites is not None and (None in (params.get(k) for k in lattice)
                                     or recipe.sites(**{**{p.name: p.default for p in recipe.params}, **params})
                                     != n_qubits):
        raise FormatError(f"{recipe.name} needs {'·'.join(lattice)} = {n_qubits} qubits, got "
                          + ", ".join(f"{k}={params.get(k)}" for k in lattice))


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

    * ``KIND[:KEY=VALUE,…]``: any recipe of :data:`RECIPES` with its parameters
      (``tfim:h=1,J=1``, ``ghz``, ``xxz:delta=0.5``, ``tfim2d:lx=3,ly=4``, ``heisenberg2d:lx=3,ly=3``,
      ``product:product=+``, ``ghz:noise=0.05``; ``n`` may be given but must match);
    * ``state.npz``: an MPS as arrays (:func:`read_mps_npz`);
    * a directory holding ``index.txt`` and ``tensor.txt``, or ``index.txt,tensor.txt``:
      the POVM_GENMODEL text format (:func:`read_povm_genmodel_mps`).

    MPS read from files are normalised (their norm in the file is kept in ``params``).
    ``hamiltonian`` (a :class:`~qgen.targets.Hamiltonian` or a spec for
    :func:`parse_hamiltonian`) attaches a Hamiltonian to a state, so that energies are
    reported; a Hamiltonian recipe already has its own.

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
    kind = spec.partition(":")[0].strip().lower()
    recipe = RECIPES.get(kind)
    if recipe is None:
        raise FormatError(f"unknown target '{spec}': give a kind ({', '.join(RECIPES)}) with KEY=VALUE "
                          "parameters, an .npz MPS, or an index.txt/tensor.txt pair (or their directory)")
    solver = tuple(p for p in SOLVER_PARAMS if p.name != "bond_dims") if recipe.ground_state else ()
    _, p = _spec_params(spec, _SPEC_COMMON + recipe.params + solver)
    n_given = p.pop("n", n_qubits)
    if n_given != n_qubits:
        raise FormatError(f"target spec '{spec}' says n = {n_given} but the data have {n_qubits} qubits")
    _check_lattice(recipe, p, n_qubits)
    if recipe.ground_state and hamiltonian is not None:
        raise FormatError(f"target '{kind}' is the ground state of its own Hamiltonian; give a Hamiltonian only "
                          "with a named state or an MPS file")
    try:
        target = make_target(kind, n_qubits, **p)
    except ValueError as e:
        raise FormatError(f"target spec '{spec}': {str(e).splitlines()[0]}") from None
    if hamiltonian is not None:
        target = Target(target.state, target.name, target.params, hamiltonian, target.info)
    return target
