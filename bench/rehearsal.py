"""The full-scale rehearsal (``make rehearsal SCALE=...``): all four DAGs through a real
Airflow scheduler on loopback at a share of SQID's size, three days, every stage
measured; with several scales, the cost curve between them.

    python bench/rehearsal.py --scale 0.01            # about 1,900 products, minutes
    python bench/rehearsal.py --scale 0.01 0.1 1.0    # the cost curve (1.0: SQID's size)

The data are synthetic (generated SQD files, a local product site and image CDN, a tiny
CLIP): the figures measure the pipeline and Airflow on this machine, not Amazon.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "include"))

from sqid.rehearsal import rehearse
from sqid.rehearsal_report import HEADER, cost_curve, stages_json


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, nargs="+", default=[0.01])
    parser.add_argument("--workdir", help="keep everything here (default: a temp folder)")
    parser.add_argument("--json", help="also write the measurements to this file")
    args = parser.parse_args()
    cpus = os.cpu_count()
    print(f"machine: {platform.machine()}, {cpus} cores, {_memory_gib():.0f} GiB, "
          f"Python {platform.python_version()}; synthetic data on loopback")  # fmt: skip
    by_scale = {}
    for scale in sorted(args.scale):
        workdir = (
            Path(args.workdir or tempfile.mkdtemp(prefix="sqid-rehearsal-")) / f"scale-{scale:g}"
        )
        print(f"\nscale {scale:g} in {workdir}\n{HEADER}", flush=True)
        by_scale[scale] = rehearse(scale, workdir, log=lambda line: print(line, flush=True))
    if len(by_scale) > 1:
        print("\ncost curve (day 1 wall time per stage):")
        print("\n".join(cost_curve(by_scale)))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {f"{s:g}": stages_json(stages) for s, stages in by_scale.items()}, indent=2))  # fmt: skip
    failed = [s for stages in by_scale.values() for s in stages if s.state != "success"]
    return 1 if failed else 0


def _memory_gib() -> float:
    with open("/proc/meminfo") as fh:
        return int(fh.readline().split()[1]) / 2**20


if __name__ == "__main__":
    sys.exit(main())
