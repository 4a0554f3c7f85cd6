"""Every DAG's Params, made from the declarations in :mod:`sqid.settings`.

An empty value that means "the default" is ``null`` (a nullable type): Airflow's form
treats an empty string as a missing required value and would not let a run be
triggered with the defaults. Closed sets are enums, so a typo is refused by Airflow's
own validation before a run starts (``tests/test_dags.py`` checks every default passes
that validation, and that every Param has a title and a description).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from airflow.sdk import Param

from sqid.config import ConfigError
from sqid.setting import Setting, markdown_table
from sqid.settings import EMBED, GROUPS, INGEST, RELEASE, SCRAPE


class UnknownParamsError(ConfigError):
    """A run's conf names keys the DAG declares no Param for."""


def require_declared(params: Mapping[str, Any], declared: Callable[[], dict[str, Param]]) -> None:
    """Fail a run whose conf has a key the DAG does not declare. Airflow validates each
    declared Param but merges any other conf key into ``params`` without a word, so a typo
    such as ``{"limitt": 5}`` would run with the default limit: the first task of each
    DAG calls this, so such a run fails at once and names the keys it knows."""
    known = declared()
    unknown = sorted(set(params) - set(known))
    if unknown:
        raise UnknownParamsError(
            f"unknown Params {unknown} in the run's conf; this DAG takes {sorted(known)}"
        )


def as_params(settings: Iterable[Setting]) -> dict[str, Param]:
    """Airflow Params (what the Trigger form shows and validates) of ``settings``."""
    return {
        s.name: Param(
            list(s.default) if isinstance(s.default, list) else s.default,
            title=s.title,
            description=s.full_description(),
            **s.json_schema(),
        )
        for s in settings
    }


def ingest_params() -> dict[str, Param]:
    return as_params(INGEST)


def scrape_params() -> dict[str, Param]:
    return as_params(SCRAPE)


def embed_params() -> dict[str, Param]:
    return as_params(EMBED)


def release_params() -> dict[str, Param]:
    return as_params(RELEASE)


def with_params_table(doc: str, group: str) -> str:
    """A DAG's ``doc_md``: its own text, then the table of its Params (the README's)."""
    return f"{doc.rstrip()}\n\n**Params**\n\n{markdown_table(GROUPS[group])}\n"
