"""One-off set-up of an Airflow deployment: the pools and connections the DAGs use.

Compose's ``airflow-init`` runs it after ``airflow db migrate``; ``make airflow`` calls
:func:`ensure_pools` for the embedded default. The pools come from the same
:data:`~sqid.orchestration.POOLS` the DAGs import, so a deployment cannot drift from
the DAGs, and one Python process replaces a CLI start-up per pool::

    python -m sqid.orchestration.deploy --product-host www.amazon.com --requests-per-second 1
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqid.orchestration import AMAZON_CONN_ID, POOLS


def ensure_pools() -> None:
    from airflow.models.pool import Pool

    for name, (slots, description) in POOLS.items():
        Pool.create_or_update_pool(name, slots, description, include_deferred=False)


def ensure_connection(conn_id: str, *, host: str, schema: str, extra: dict[str, Any]) -> None:
    """Create or replace ``conn_id``; re-running the init leaves one, current, copy."""
    from airflow.models.connection import Connection
    from airflow.utils.session import create_session
    from sqlalchemy import delete

    with create_session() as session:
        session.execute(delete(Connection).where(Connection.conn_id == conn_id))
        connection = Connection(conn_id=conn_id, conn_type="generic", host=host,
                                schema=schema, extra=json.dumps(extra))  # fmt: skip
        session.add(connection)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--product-host", required=True, help="e.g. www.amazon.com")
    parser.add_argument("--product-schema", default="https")
    parser.add_argument("--requests-per-second", type=float, required=True,
                        help="per scrape shard; the sqid_scrape pool bounds the shards")  # fmt: skip
    parser.add_argument("--concurrency", type=int, default=2)
    args = parser.parse_args(argv)
    ensure_pools()
    extra = {"requests_per_second": args.requests_per_second, "concurrency": args.concurrency}
    ensure_connection(AMAZON_CONN_ID, host=args.product_host, schema=args.product_schema,
                      extra=extra)  # fmt: skip
    for name, (slots, _) in POOLS.items():
        print(f"pool {name}: {slots} slots")
    print(f"connection {AMAZON_CONN_ID}: {args.product_schema}://{args.product_host} {extra}")


if __name__ == "__main__":
    main()
