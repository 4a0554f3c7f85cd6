SELECT (SELECT count(*) FROM plain_examples) + (SELECT count(*) FROM plain_products)
     + (SELECT count(*) FROM plain_sources) AS rows
