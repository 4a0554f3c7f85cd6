-- Product titles and benchmark queries: the texts SQID publishes embeddings of.
SELECT title AS text FROM sqid_products WHERE title IS NOT NULL
UNION
SELECT query AS text FROM sqid_queries
