"""Run a command and print its wall time and the peak memory of its whole process tree.

`/usr/bin/time -v` reports the largest single process; a generator or Spark run is several processes,
so this samples the memory of the whole tree from /proc (Linux only; see ``tree_pss`` for how often). It sums PSS
(proportional set size): pages that forked workers share with their parent are counted once, not once
per process as a sum of RSS would.

    python -m ecommerce_assets_tests.peak_memory -- ecommerce generate --scale 1.0 --start 2019-11-11 --end 2019-11-17
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path


def _children(pid: int) -> list[int]:
    tree, frontier = [pid], [pid]
    while frontier:
        current = frontier.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                kids = (task / "children").read_text().split()
                tree += map(int, kids)
                frontier += map(int, kids)
        except OSError:
            continue
    return tree


def _pss_bytes(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def tree_pss(pid: int) -> tuple[int, float]:
    """PSS of ``pid`` and its descendants, and the seconds until the next sample should be taken.

    Reading smaps_rollup walks the process's page tables (about 50 ms for a JVM with a 4 GiB heap) and
    holds its memory lock, so sampling waits twenty times as long as the reading took: the sampler costs
    the measured run at most 5%, and never samples more often than every 0.2 s.
    """
    began = time.perf_counter()
    used = sum(_pss_bytes(p) for p in _children(pid))
    return used, max(0.2, 20 * (time.perf_counter() - began))


class PeakMemory:
    """Samples the PSS of this process and its children (``tree_pss``) and the free disk of the scratch
    folder (Spark's shuffle and DuckDB's spill included); ``take()`` returns and resets the peak."""

    def __init__(self, scratch: Path) -> None:
        self.peak = self.run_peak = 0
        self.scratch, self.min_free = scratch, shutil.disk_usage(scratch).free
        threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        while True:
            used, wait = tree_pss(os.getpid())
            self.peak, self.run_peak = max(self.peak, used), max(self.run_peak, used)
            self.min_free = min(self.min_free, shutil.disk_usage(self.scratch).free)
            time.sleep(wait)

    def take(self) -> int:
        peak, self.peak = self.peak, 0
        return peak


def stop_spark() -> None:
    """End Spark's session and its gateway JVM in this process.

    A deployed run is its own process, so Spark's JVM ends with the clean run; in process it would stay
    up (stop() keeps the gateway JVM and its heap) and count in the peak memory of every later stage.
    """
    from pyspark import SparkContext
    from pyspark.sql import SparkSession

    if (session := SparkSession.getActiveSession() or SparkSession._instantiatedSession) is not None:
        session.stop()
    if (gateway := SparkContext._gateway) is not None:
        gateway.shutdown()
        gateway.proc.stdin.close()  # the gateway JVM exits when its stdin closes
        gateway.proc.wait(timeout=60)
        SparkContext._gateway = SparkContext._jvm = None


def main(argv: list[str]) -> int:
    command = argv[argv.index("--") + 1 :] if "--" in argv else argv
    if not command:
        print(__doc__, file=sys.stderr)
        return 2
    started = time.perf_counter()
    process = subprocess.Popen(command)
    peak = 0
    while process.poll() is None:
        used, wait = tree_pss(process.pid)
        peak = max(peak, used)
        time.sleep(wait)
    seconds = time.perf_counter() - started
    print(f"peak_memory: wall {seconds:.1f} s, peak memory (PSS) of the process tree {peak / 2**30:.2f} GiB, "
          f"exit {process.returncode}", file=sys.stderr)
    return process.returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
