"""Run one benchmark step in a fresh Python process: wall seconds and peak memory.

Peak memory is the child's ``VmHWM`` (its own high-water resident set), read from
``/proc/self/status`` just before it exits. ``ru_maxrss`` is not used: Linux carries a
parent's resident set into a child's ``ru_maxrss`` across fork and exec, so a child
started by a large parent would report the parent's size.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

_CHILD = """
import json, runpy, sys
sys.argv = {argv!r}
namespace = runpy.run_path({script!r}, run_name="bench_child")
result = namespace[{function!r}](*sys.argv[1:])
with open("/proc/self/status") as fh:
    peak_kib = next(int(line.split()[1]) for line in fh if line.startswith("VmHWM:"))
print("\\n" + json.dumps({{"result": result, "peak_kib": peak_kib}}))
"""


def run_fresh(script: Path, function: str, *args: str) -> tuple[object, float, float]:
    """Call ``function(*args)`` from ``script`` in a new interpreter; return its (JSON)
    result, wall seconds including interpreter start-up, and peak resident GiB."""
    code = _CHILD.format(argv=[str(script), *args], script=str(script), function=function)
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{function}{args} failed:\n{proc.stderr[-4000:]}")
    last = json.loads(proc.stdout.strip().splitlines()[-1])
    return last["result"], seconds, last["peak_kib"] / 1024**2
