-- What each scrape and embed run did, kept for history: one row per run, its counts by
-- dimension, and scrape latency per host. A merge replaces its run's rows (idempotent).
CREATE TABLE IF NOT EXISTS run_stats (
    stage          VARCHAR NOT NULL,   -- scrape or embed
    run_id         VARCHAR NOT NULL,
    recorded_at    TIMESTAMPTZ NOT NULL,
    started_at     TIMESTAMPTZ,
    finished_at    TIMESTAMPTZ,
    shards         INTEGER NOT NULL,
    items          BIGINT NOT NULL,    -- products scraped, or image URLs handled
    requests       BIGINT NOT NULL,    -- HTTP requests (scrape), images embedded (embed)
    seconds        DOUBLE NOT NULL,    -- summed over shards
    per_second     DOUBLE NOT NULL,    -- pages/s per shard (scrape), images/s (embed)
    bytes          BIGINT,
    retries        BIGINT,
    captchas       BIGINT,
    throttled      BIGINT,
    drift_stops    INTEGER,
    cache_hits     BIGINT,
    finish_reason  VARCHAR NOT NULL,   -- finished, or why shards stopped
    PRIMARY KEY (stage, run_id)
);

CREATE TABLE IF NOT EXISTS run_counts (
    stage     VARCHAR NOT NULL,
    run_id    VARCHAR NOT NULL,
    dimension VARCHAR NOT NULL,  -- outcome, http_status, page_kind, error, retry_reason, error_page
    key       VARCHAR NOT NULL,
    n         BIGINT NOT NULL,
    PRIMARY KEY (stage, run_id, dimension, key)
);

CREATE TABLE IF NOT EXISTS run_latency (
    run_id   VARCHAR NOT NULL,
    host     VARCHAR NOT NULL,
    requests BIGINT NOT NULL,
    p50_ms   DOUBLE,
    p95_ms   DOUBLE,
    p99_ms   DOUBLE,
    PRIMARY KEY (run_id, host)
);
