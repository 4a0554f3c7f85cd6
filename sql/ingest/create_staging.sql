-- A load goes to the staging schema first; the live tables change only when it passes
-- the ingest gate. CASCADE: a rejected load's tables are replaced by the next load.
DROP SCHEMA IF EXISTS staging CASCADE;
CREATE SCHEMA staging;
