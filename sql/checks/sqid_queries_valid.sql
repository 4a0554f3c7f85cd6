-- Each column must be true: every benchmark query has text and judgements.
SELECT
    count(*) > 0                    AS has_rows,
    bool_and(length(query) > 0)     AS query_not_empty,
    bool_and(n_judgements >= 1)   AS judged
FROM sqid_queries
