"""sqid_ingest through Airflow itself (dag.test) against a loopback file server."""

import duckdb
import pytest
from sqid.sqd import CHECKSUM_MANIFEST

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def airflow_ready():
    from sqid.airflow_local import prepare

    return prepare()


def test_ingest_dag_end_to_end(airflow_ready, sample_sqd):
    from sqid.airflow_local import task_states, test_dag
    from sqid.localserve.files import FileServer

    settings = airflow_ready
    with FileServer(sample_sqd.out_dir) as srv:
        run = test_dag(
            "sqid_ingest",
            {"source": srv.base_url, "checksums": srv.url(CHECKSUM_MANIFEST)},
        )
    states = task_states(run)
    assert str(run.state) == "success", states
    assert states["check_published_test_products"] == "skipped"
    assert states["announce"] == "success"
    assert all(states[f"download[{i}]"] == "success" for i in range(3))

    con = duckdb.connect(str(settings.duckdb_path), read_only=True)
    examples = con.execute("SELECT count(*) FROM sqd_examples").fetchone()[0]
    test_products = con.execute(
        "SELECT count(*) FROM sqid_products WHERE product_set = 'test'"
    ).fetchone()[0]
    con.close()
    assert examples == sample_sqd.examples
    assert test_products > 0

    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).all()
        extras = [e.extra for e in events if e.asset.name == "sqid.sqid_sets"]
    assert extras and extras[-1]["test_products"] == test_products
