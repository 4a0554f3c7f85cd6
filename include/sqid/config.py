"""Runtime configuration, read from environment variables in one place.

Every path and endpoint the pipeline uses is resolved here so that a laptop demo, CI
and a Celery cluster differ only in their environment. Values are read when
``load_settings()`` is called (inside tasks), never at DAG parse time.

| variable | default | meaning |
|---|---|---|
| ``SQID_HOME`` | ``./.sqid`` | root of all local state |
| ``SQID_DATA_DIR`` | ``$SQID_HOME/data`` | downloads, shards, caches |
| ``SQID_DUCKDB_PATH`` | ``$SQID_HOME/sqid.duckdb`` | the DuckDB database file |
| ``SQID_RELEASE_DIR`` | ``$SQID_HOME/releases`` | published releases |
| ``SQID_SQD_SOURCE`` | the public esci-data URLs | base URL, ``file://`` URL or directory holding the SQD files |
| ``SQID_SQD_CHECKSUMS`` | ``published`` | ``published`` or a path/URL to a JSON checksum manifest |
| ``SQID_HTTP_CONNECT_TIMEOUT`` | ``10`` | seconds |
| ``SQID_HTTP_READ_TIMEOUT`` | ``60`` | seconds |
| ``SQID_HTTP_MAX_ATTEMPTS`` | ``5`` | attempts per download before giving up |
| ``SQID_HTTP_USER_AGENT`` | ``sqid-pipeline/<version>`` | User-Agent of dataset downloads |
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

SQL_DIR = Path(os.environ.get("SQID_SQL_DIR", Path(__file__).resolve().parents[2] / "sql"))
"""Where the project's SQL files live (``sql/`` at the repository root by default)."""

DUCKDB_CONN_ID = "sqid_duckdb"
"""Airflow connection used by the SQL check operators (``AIRFLOW_CONN_SQID_DUCKDB``)."""


class ConfigError(ValueError):
    """A mistake in how a run was configured (an unknown Param, a source that does not
    exist, a version that is taken). Retrying cannot fix it, so the orchestration fails
    such a task at once instead of spending its retries and their backoff on it."""


@dataclass(frozen=True)
class HttpSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    max_attempts: int = 5
    backoff_base: float = 2.0
    backoff_max: float = 120.0
    user_agent: str = "sqid-pipeline/0.1 (+https://github.com/sqid-pipeline)"

    @property
    def timeout(self) -> tuple[float, float]:
        return (self.connect_timeout, self.read_timeout)


@dataclass(frozen=True)
class Settings:
    home: Path
    data_dir: Path
    duckdb_path: Path
    release_dir: Path
    sqd_source: str
    sqd_checksums: str
    http: HttpSettings = field(default_factory=HttpSettings)

    @property
    def download_dir(self) -> Path:
        return self.data_dir / "sqd"


def _env_path(env: dict[str, str], name: str, default: Path) -> Path:
    value = env.get(name)
    return Path(value).expanduser().resolve() if value else default


def load_settings(env: dict[str, str] | None = None) -> Settings:
    """Build settings from ``env`` (default: ``os.environ``)."""
    env = dict(os.environ if env is None else env)
    home = _env_path(env, "SQID_HOME", Path.cwd() / ".sqid")
    data_dir = _env_path(env, "SQID_DATA_DIR", home / "data")
    http = HttpSettings(
        connect_timeout=float(env.get("SQID_HTTP_CONNECT_TIMEOUT", HttpSettings.connect_timeout)),
        read_timeout=float(env.get("SQID_HTTP_READ_TIMEOUT", HttpSettings.read_timeout)),
        max_attempts=int(env.get("SQID_HTTP_MAX_ATTEMPTS", HttpSettings.max_attempts)),
        backoff_base=float(env.get("SQID_HTTP_BACKOFF_BASE", HttpSettings.backoff_base)),
        backoff_max=float(env.get("SQID_HTTP_BACKOFF_MAX", HttpSettings.backoff_max)),
        user_agent=env.get("SQID_HTTP_USER_AGENT", HttpSettings.user_agent),
    )
    return Settings(
        home=home,
        data_dir=data_dir,
        duckdb_path=_env_path(env, "SQID_DUCKDB_PATH", home / "sqid.duckdb"),
        release_dir=_env_path(env, "SQID_RELEASE_DIR", home / "releases"),
        sqd_source=env.get("SQID_SQD_SOURCE", ""),
        sqd_checksums=env.get("SQID_SQD_CHECKSUMS", "published"),
        http=http,
    )
