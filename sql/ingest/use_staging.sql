-- Unqualified table names of this connection resolve to the staging schema.
SET schema = 'staging';
