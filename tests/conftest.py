"""Test setup: an isolated SQID and Airflow home, set before Airflow is first imported."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_HOME = Path(tempfile.mkdtemp(prefix="sqid-test-home-"))
os.environ["SQID_HOME"] = str(_HOME)
os.environ.pop("SQID_DUCKDB_PATH", None)
os.environ.pop("SQID_DATA_DIR", None)
os.environ["AIRFLOW_HOME"] = str(_HOME / "airflow")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "True"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(Path(__file__).resolve().parents[1] / "dags")
# OpenLineage off (it slows every dag.test); tests/lineage_chain.py turns it on for its chain.
os.environ["AIRFLOW__OPENLINEAGE__DISABLED"] = "True"

# In CI the property tests draw the same examples every run (a red build always means a
# change broke something); on a developer's machine they explore new ones each time.
from hypothesis import settings  # noqa: E402

settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


def shared_file(*parts: str) -> Path:
    """A file from ``../shared/data``, or skip: it sits beside a developer checkout only."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"{path} is not present (../shared/data is beside the checkout only in CI)")
    return path


@pytest.fixture(scope="session")
def sample_sqd(tmp_path_factory: pytest.TempPathFactory):
    """A small generated SQD (1,500 queries), shared read-only by the tests."""
    from sqid.ingest.sample import generate

    return generate(tmp_path_factory.mktemp("sqd-sample"), n_queries=1_500, seed=11)


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory):
    """A tiny random-weight CLIP saved in the Hugging Face layout."""
    from sqid.embed.tinyclip import build

    return build(tmp_path_factory.mktemp("tiny-clip"))


@pytest.fixture(scope="session")
def encoder(tiny_clip):
    from sqid.embed.clip import ClipEncoder

    return ClipEncoder(str(tiny_clip), device="cpu")
