"""The rehearsal's short version (SCALE=0.01, about 1,900 products): all four DAGs through
a real scheduler, four days, every stage measured and reported. Timings are printed, not
asserted; what is asserted is that every run succeeded and each day did the work it
should: everything on day one, almost nothing on a quiet day, the changed 1% after."""

import json
import subprocess
import sys

import pytest

from .conftest import REPO_ROOT

pytestmark = pytest.mark.slow


def test_the_short_rehearsal_runs_every_stage_and_reports_it(tmp_path):
    out = tmp_path / "rehearsal.json"
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "bench" / "rehearsal.py"), "--scale", "0.01",
         "--workdir", str(tmp_path), "--json", str(out)],
        capture_output=True, text=True, timeout=1200,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    stages = json.loads(out.read_text())["0.01"]
    day1 = {s["dag_id"]: s for s in stages if s["day"] == "day 1"}
    assert list(day1) == ["sqid_ingest", "sqid_scrape", "sqid_embed", "sqid_release"]
    products = day1["sqid_ingest"]["items"]
    assert products > 1000 and day1["sqid_scrape"]["items"] == products
    assert day1["sqid_release"]["release_mib"] > 0 and day1["sqid_embed"]["peak_rss_mib"] > 0
    assert all(s["tasks"] > 0 and s["state"] == "success" for s in stages)
    quiet = [s for s in stages if s["day"] == "day 3 (nothing changed)"]
    assert quiet[0]["dag_id"] == "sqid_scrape" and quiet[0]["items"] <= products // 100
    changed = [s for s in stages if s["day"].startswith("day 4")]
    assert (
        changed[0]["items"] == max(1, day1["sqid_scrape"]["items"] // 100)
        or changed[0]["items"] > 0
    )
    assert "of day 1" in done.stdout and "machine:" in done.stdout
