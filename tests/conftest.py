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
