-- The SQID product and query sets, derived from the raw SQD tables.
CREATE OR REPLACE TABLE sqid_products (
    product_id   VARCHAR PRIMARY KEY,
    product_set  VARCHAR NOT NULL,  -- 'test' or 'supp'
    title        VARCHAR,
    brand        VARCHAR,
    n_queries    INTEGER NOT NULL,
    n_judgements INTEGER NOT NULL
);

CREATE OR REPLACE TABLE sqid_queries (
    query_id     BIGINT PRIMARY KEY,
    query        VARCHAR NOT NULL,
    source       VARCHAR,
    n_judgements INTEGER NOT NULL
);

-- The rule the sets were derived with, so checks and releases can state it.
CREATE OR REPLACE TABLE sqid_set_rule (
    min_supp_judgements INTEGER NOT NULL,
    derived_at          TIMESTAMPTZ NOT NULL
);
