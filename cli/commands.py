"""Imports every command module so that each registers itself on the group."""

from . import compare, demo, evaluate, import_, impute, info, measure, simulate, sweep, train  # noqa: F401
