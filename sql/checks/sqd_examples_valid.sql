-- Each column must be true: accepted values of the raw examples table.
SELECT
    count(*) > 0                                         AS has_rows,
    bool_and(esci_label IN ('E', 'S', 'C', 'I'))         AS esci_label_accepted,
    bool_and(split IN ('train', 'test'))                 AS split_accepted,
    bool_and(small_version IN (0, 1))                    AS small_version_accepted,
    bool_and(large_version IN (0, 1))                    AS large_version_accepted,
    bool_and(product_locale IN ('us', 'es', 'jp'))       AS locale_accepted,
    bool_and(query IS NOT NULL)                          AS query_not_null
FROM sqd_examples
