"""Helpers shared by the benchmarks: run a function in a fresh process and report its time and peak memory."""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import resource
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

# The datasets live beside the repository, never inside it.
SHARED_DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"


def _child(fn: Callable[..., Any], args: tuple, queue: mp.Queue) -> None:
    os.setsid()  # its own process group: the parent can stop what it leaves behind (see measure)
    start = time.perf_counter()
    value = fn(*args)
    seconds = time.perf_counter() - start
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    queue.put((seconds, peak_mib, value))


def measure(fn: Callable[..., Any], *args: Any) -> tuple[float, float, Any]:
    """``(seconds, peak RSS in MiB, return value)`` of ``fn(*args)`` run in a fresh spawned process, so
    each contender starts cold and its peak memory is its own."""
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(fn, args, queue))
    proc.start()
    try:
        result = queue.get()
    finally:
        # vLLM's engine processes can keep a finished child from exiting (its shutdown waits on them): once the
        # result is in, whatever is left of the child's process group is stopped.
        proc.join(timeout=60)
        if proc.is_alive():
            os.killpg(proc.pid, signal.SIGKILL)
            proc.join()
        elif proc.exitcode != 0:
            sys.exit(f"benchmark child failed with exit code {proc.exitcode}")
        else:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    return result
