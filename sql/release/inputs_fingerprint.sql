-- What a release's data files are made of, reduced to row counts and order-independent
-- hash sums, so that an unchanged day is recognised before anything is written. Vectors
-- are represented by their keys: embeddings are inserted once per (model, revision,
-- content hash) and never rewritten, so a key names its vector. Only key columns are
-- read (DuckDB is columnar): the vectors themselves are never loaded.
WITH latest_fetch AS (
    SELECT image_url, sha256 FROM image_fetches WHERE status = 'ok'
    QUALIFY row_number() OVER (PARTITION BY image_url ORDER BY fetched_at DESC) = 1
),
products AS (
    SELECT
        p.product_id, p.product_set, sha256(p.title) AS title_sha256,
        i.status, i.page_kind, i.image_id, i.image_key, i.image_url, i.hires_url, i.source,
        i.default_reason, i.scraped_at, f.sha256 AS image_sha256
    FROM sqid_products AS p
    LEFT JOIN product_images AS i ON i.product_id = p.product_id
    LEFT JOIN latest_fetch AS f ON f.image_url = i.image_url AND i.status = 'ok'
),
product_rows AS (
    SELECT
        p.*,
        t.text_sha256 AS text_vector,
        e.sha256 AS image_vector
    FROM products AS p
    LEFT JOIN text_embeddings AS t
        ON t.text_sha256 = p.title_sha256 AND t.model_id = $model_id AND t.revision = $revision
    LEFT JOIN image_embeddings AS e
        ON e.sha256 = p.image_sha256 AND e.model_id = $model_id AND e.revision = $revision
),
query_rows AS (
    SELECT q.query_id, sha256(q.query) AS query_sha256, t.text_sha256 AS text_vector
    FROM sqid_queries AS q
    LEFT JOIN text_embeddings AS t
        ON t.text_sha256 = sha256(q.query) AND t.model_id = $model_id AND t.revision = $revision
)
SELECT
    (SELECT count(*) FROM product_rows) AS products,
    (SELECT CAST(sum(hash(product_id, product_set, title_sha256, status, page_kind, image_id,
                          image_key, image_url, hires_url, source, default_reason, scraped_at,
                          image_sha256, text_vector, image_vector)) AS VARCHAR)
     FROM product_rows) AS products_hash,
    (SELECT count(*) FROM query_rows) AS queries,
    (SELECT CAST(sum(hash(query_id, query_sha256, text_vector)) AS VARCHAR)
     FROM query_rows) AS queries_hash,
    (SELECT CAST(sum(hash(file_name, size, sha256)) AS VARCHAR) FROM sqd_files) AS sqd_hash,
    (SELECT CAST(max(min_supp_judgements) AS VARCHAR) FROM sqid_set_rule) AS set_rule
