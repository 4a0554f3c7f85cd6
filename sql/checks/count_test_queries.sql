SELECT count(*) FROM sqid_queries
