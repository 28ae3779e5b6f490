"""numpy's BLAS stays on the calling thread in the daemon (daemon/runtime/priority.py): a
second BLAS thread would spin on the core the face checks and the look-ahead need."""

from __future__ import annotations

import subprocess
import sys

from handmap.daemon.runtime.priority import BLAS_THREAD_VARS, single_threaded_blas

#: CPU time over wall time of 300 classify calls in a fresh process, after the CLI's setup.
PROBE = """
import os, sys, time
for name in {names!r}:
    os.environ.pop(name, None)
if sys.argv[1] == "cli":
    from handmap.daemon.cli import main  # noqa: F401  (what the console script imports)
    from handmap.daemon.runtime.priority import single_threaded_blas
    single_threaded_blas()
import numpy as np
from handmap.gestures.poses import classify
pts = np.random.default_rng(0).uniform(0.3, 0.7, (21, 3))
classify(pts)
c, t = time.process_time(), time.perf_counter()
for _ in range(300):
    classify(pts, aspect=4 / 3)
print((time.process_time() - c) / (time.perf_counter() - t))
"""


def test_the_user_setting_wins_and_the_default_is_one_thread():
    env = {"OMP_NUM_THREADS": "4"}
    single_threaded_blas(env)
    assert env == {"OMP_NUM_THREADS": "4", **{name: "1" for name in BLAS_THREAD_VARS if name != "OMP_NUM_THREADS"}}


def test_classify_uses_one_core_under_the_command_line():
    probe = PROBE.format(names=BLAS_THREAD_VARS)
    share = float(subprocess.run([sys.executable, "-c", probe, "cli"], capture_output=True, text=True,
                                 check=True, timeout=120).stdout)
    assert share < 1.3, f"classify used {share:.2f} cores"
