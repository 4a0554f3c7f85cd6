-- Scrape results. Every HTTP attempt is kept; product_images holds the latest outcome.
CREATE TABLE IF NOT EXISTS scrape_attempts (
    attempt_id  VARCHAR PRIMARY KEY,  -- '<run_id>:<product_id>:<attempt>'
    product_id  VARCHAR NOT NULL,
    attempt     INTEGER NOT NULL,
    fetched_at  TIMESTAMPTZ NOT NULL,
    http_status INTEGER,
    page_kind   VARCHAR,
    latency_ms  DOUBLE,
    bytes       BIGINT,
    error       VARCHAR,
    run_id      VARCHAR NOT NULL,
    final_url   VARCHAR           -- where the page was served from after redirects
);
-- Databases created before final_url was recorded gain the column.
ALTER TABLE scrape_attempts ADD COLUMN IF NOT EXISTS final_url VARCHAR;

CREATE TABLE IF NOT EXISTS product_images (
    product_id     VARCHAR PRIMARY KEY,
    status         VARCHAR NOT NULL,
    page_kind      VARCHAR,
    image_id       VARCHAR,
    image_key      VARCHAR,  -- image identity (ID, plus the inner ID of a composite)
    image_url      VARCHAR,
    hires_url      VARCHAR,
    original_url   VARCHAR,
    source         VARCHAR,
    default_reason VARCHAR,
    http_status    INTEGER,
    attempts       INTEGER NOT NULL,
    error          VARCHAR,
    scraped_at     TIMESTAMPTZ NOT NULL,
    run_id         VARCHAR NOT NULL
);
