"""The SQID releases page and search box in the Airflow UI.

The app (``sqid.search.web``) is mounted in the api-server at ``/sqid`` and guarded by
Airflow's own login (the UI's token cookie, or a bearer token); ``external_views`` puts
it in the UI's navigation. Releases and the image cache are the ones the DAGs write.
"""

from __future__ import annotations

from typing import ClassVar

from airflow.plugins_manager import AirflowPlugin

URL_PREFIX = "/sqid"


def _app():
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi import Depends
    from sqid.config import load_settings
    from sqid.embed.shard import cache_dir_default
    from sqid.search.web import create_app

    return create_app(load_settings().release_dir, cache_dir_default(),
                      dependencies=[Depends(get_user)])  # fmt: skip


class SqidSearchPlugin(AirflowPlugin):
    name = "sqid_search"
    fastapi_apps: ClassVar[list] = [
        {"app": _app(), "url_prefix": URL_PREFIX, "name": "SQID releases and search"}
    ]
    external_views: ClassVar[list] = [
        {
            "name": "SQID releases",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "sqid-releases",
        }
    ]
