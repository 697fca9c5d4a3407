"""A command's wall time and the peak resident memory of its whole process tree: the
command, its worker processes, a JVM. Memory is sampled every 0.2 s; a process's
resident set counts the pages it shares with others, so the sum is an upper bound.
(getrusage's RUSAGE_CHILDREN gives only the largest single process.)
"""

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent

# pid -> (resident MiB, parent pid, command line), one sample of the tree
Sizes = dict[int, tuple[float, int, str]]


def run_measured(command: list[str], groups: Callable[[Sizes], dict[str, float]] = lambda sizes: {},
                 interval: float = 0.2) -> tuple[int, str, float, dict[str, float]]:
    """Run ``command`` from the project root: (exit status, its stderr, seconds, peaks).
    peaks["total"] is the largest sum over the tree; ``groups`` names more figures
    to take the maximum of, each computed from one sample."""
    started = time.perf_counter()
    child = psutil.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    peaks = {"total": 0.0}
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(interval):
            try:
                processes = [child, *child.children(recursive=True)]
            except psutil.NoSuchProcess:
                return
            sizes: Sizes = {}
            for process in processes:
                try:
                    sizes[process.pid] = (process.memory_info().rss / 2**20, process.ppid(), " ".join(process.cmdline()))
                except psutil.NoSuchProcess:  # it ended between the listing and the reading
                    continue
            for name, value in {"total": sum(rss for rss, _, _ in sizes.values()), **groups(sizes)}.items():
                peaks[name] = max(peaks.get(name, 0.0), value)

    sampler = threading.Thread(target=sample)
    sampler.start()
    _, errors = child.communicate()
    seconds = time.perf_counter() - started
    stop.set()
    sampler.join()
    return child.returncode, errors, seconds, peaks
