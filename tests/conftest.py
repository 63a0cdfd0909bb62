import os

# Small dense algebra is much faster single-threaded on this 2-core machine (calibration notes).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import pytest  # noqa: E402


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """The test models are tiny: one torch thread avoids OpenMP oversubscription (two-thread
    runs were up to 100× slower on the shared 2-core machine)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(autouse=True)
def no_automatic_refits(request, monkeypatch):
    """``qgen train``'s default bootstrap ("auto") would refit every small test model 8 more
    times; tests get no automatic refits unless marked ``refits`` (explicit counts still work)."""
    if request.node.get_closest_marker("refits") is None:
        from qgen.workflows import refits

        monkeypatch.setattr(refits, "AUTO_REFITS", 0)
