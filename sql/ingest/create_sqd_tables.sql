-- Raw SQD tables, typed as published. Run inside the load transaction: CREATE OR
-- REPLACE makes a re-run replace the data instead of appending to it. Their keys
-- (example_id; product_locale + product_id; query_id) are checked once per load by
-- checks/sqd_duplicate_keys.sql instead of an index: the tables are written once and
-- only read after, and building the index cost more than the load itself.
CREATE OR REPLACE TABLE sqd_examples (
    example_id     BIGINT  NOT NULL,
    query          VARCHAR,
    query_id       BIGINT  NOT NULL,
    product_id     VARCHAR NOT NULL,
    product_locale VARCHAR NOT NULL,
    esci_label     VARCHAR,
    small_version  TINYINT,
    large_version  TINYINT,
    split          VARCHAR
);

CREATE OR REPLACE TABLE sqd_products (
    product_id           VARCHAR NOT NULL,
    product_locale       VARCHAR NOT NULL,
    product_title        VARCHAR,
    product_description  VARCHAR,
    product_bullet_point VARCHAR,
    product_brand        VARCHAR,
    product_color        VARCHAR
);

CREATE OR REPLACE TABLE sqd_sources (
    query_id BIGINT NOT NULL,
    source   VARCHAR
);

CREATE TABLE IF NOT EXISTS sqd_files (
    file_name VARCHAR PRIMARY KEY,
    url       VARCHAR NOT NULL,
    size      BIGINT  NOT NULL,
    sha256    VARCHAR NOT NULL,
    loaded_at TIMESTAMPTZ NOT NULL
);
