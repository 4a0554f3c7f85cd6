-- Unqualified table names of this connection resolve to the live tables.
SET schema = 'main';
