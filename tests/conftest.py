import os

# Small dense algebra is much faster single-threaded on this 2-core machine (calibration notes).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
