# SQID pipeline image: Airflow 3 + the sqid package, installed from the lock file.
# CPU image:  docker build -t sqid-pipeline:latest .
# GPU image:  docker build -t sqid-pipeline:gpu --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cu128 .
FROM python:3.11-slim-bookworm

ARG TORCH_VERSION=2.13.0
ARG TORCH_INDEX=https://download.pytorch.org/whl/cpu
ARG AIRFLOW_UID=50000

ENV AIRFLOW_HOME=/opt/airflow \
    SQID_HOME=/data/sqid \
    SQID_SQL_DIR=/opt/sqid/sql \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/sqid/dags \
    AIRFLOW__CORE__PLUGINS_FOLDER=/opt/sqid/plugins \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

RUN apt-get update \
 && apt-get install -y --no-install-recommends tini curl \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid "${AIRFLOW_UID}" --gid 0 --home-dir "${AIRFLOW_HOME}" --create-home airflow \
 && mkdir -p /data/sqid /opt/sqid && chown -R "${AIRFLOW_UID}:0" /data/sqid /opt/sqid

WORKDIR /opt/sqid
COPY requirements/lock.txt requirements/lock.txt
RUN pip install "uv==0.13.9" \
 && uv pip install --system --require-hashes -r requirements/lock.txt \
 && pip install --index-url "${TORCH_INDEX}" "torch==${TORCH_VERSION}"

COPY pyproject.toml README.md ./
COPY include/ include/
COPY sql/ sql/
COPY dags/ dags/
COPY plugins/ plugins/
RUN uv pip install --system --no-deps -e .

USER ${AIRFLOW_UID}
ENTRYPOINT ["/usr/bin/tini", "--", "airflow"]
CMD ["version"]
