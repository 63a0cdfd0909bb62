"""The bad-input corpus of ``tests/test_bad_input.py``: every input is generated at test
time from a few good files (see :mod:`badinput.corpus`); nothing binary is committed."""
