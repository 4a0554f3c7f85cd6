-- The checked staging tables become the live ones. Runs inside the gate's transaction,
-- after create_sqd_tables and create_sqid_sets emptied the live tables (keys and all):
-- readers see either the previous tables or these, never a mix.
INSERT INTO main.sqd_examples SELECT * FROM staging.sqd_examples;
INSERT INTO main.sqd_products SELECT * FROM staging.sqd_products;
INSERT INTO main.sqd_sources SELECT * FROM staging.sqd_sources;
INSERT OR REPLACE INTO main.sqd_files SELECT * FROM staging.sqd_files;
INSERT INTO main.sqid_products SELECT * FROM staging.sqid_products;
INSERT INTO main.sqid_queries SELECT * FROM staging.sqid_queries;
INSERT INTO main.sqid_set_rule SELECT * FROM staging.sqid_set_rule;
