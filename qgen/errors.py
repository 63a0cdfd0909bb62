"""The error types qgen raises for bad input, besides the domain-specific ones
(:class:`~qgen.datasets.DatasetError`, :class:`~qgen.measurements.POVMError`,
:class:`~qgen.resources.ResourceError`).  Every message is one line.

* :class:`FormatError`: a file that does not follow its stated format (the message names
  the file, the line and the column);
* :class:`ArgumentError`: a bad value of one named argument of a library function.  It
  keeps the argument's name, so that a front end can point at its own spelling of it (the
  ``qgen`` command line names the option: ``--train-samples``).

Example
-------
>>> try:
...     raise ArgumentError("train_samples", "must lie in 1..320, got 0")
... except ValueError as e:
...     print(e.argument, "|", e)
train_samples | train_samples must lie in 1..320, got 0
"""

from __future__ import annotations

__all__ = ["ArgumentError", "FormatError"]


class FormatError(ValueError):
    """A file that cannot be read as the stated format; the message is one line."""


class ArgumentError(ValueError):
    """A bad value of the argument ``argument``; ``problem`` says what is wrong with it."""

    def __init__(self, argument: str, problem: str) -> None:
        super().__init__(f"{argument} {problem}")
        self.argument, self.problem = argument, problem
