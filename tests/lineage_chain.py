"""Run the four DAGs once (dag.test) with OpenLineage on, its events to a file: a script
of its own, since the provider decides at import whether to listen, and the test
session keeps it off (it slows every other dag.test down)."""

import json
import os
import sys
from pathlib import Path

home, events = Path(sys.argv[1]), Path(sys.argv[2])
os.environ.update({
    "SQID_HOME": str(home), "AIRFLOW_HOME": str(home / "airflow"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "True",
    "AIRFLOW__CORE__DAGS_FOLDER": str(Path(__file__).resolve().parents[1] / "dags"),
    "AIRFLOW__OPENLINEAGE__DISABLED": "False", "AIRFLOW__OPENLINEAGE__NAMESPACE": "sqid-test",
    "AIRFLOW__OPENLINEAGE__TRANSPORT": json.dumps(
        {"type": "file", "log_file_path": str(events), "append": True}),
})  # fmt: skip
for name in ("SQID_DATA_DIR", "SQID_DUCKDB_PATH", "SQID_RELEASE_DIR", "SQID_TELEMETRY_DIR"):
    os.environ.pop(name, None)

from sqid.airflow_local import prepare  # noqa: E402
from sqid.demo import run_pipeline  # noqa: E402
from sqid.embed.tinyclip import build  # noqa: E402
from sqid.ingest.sample import generate  # noqa: E402
from sqid.localserve.site import SiteConfig  # noqa: E402

prepare()
sample = generate(home / "sqd", n_queries=150, seed=2)
states = run_pipeline(sample.out_dir, SiteConfig(page_size=20_000), str(build(home / "clip")),
                      pacing={"requests_per_second": 500, "concurrency": 4},
                      release_conf={"coverage_threshold": 0.0, "min_vector_share": 0.0})  # fmt: skip
sys.exit(0 if len(states) == 4 and set(states.values()) == {"success"} else 1)
