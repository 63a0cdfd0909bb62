"""Imports every command module so that each registers itself on the group."""

from . import info, simulate  # noqa: F401
