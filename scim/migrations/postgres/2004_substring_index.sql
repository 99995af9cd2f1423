-- Substring filters (`co`) read a trigram index of the search index's values
-- where the pg_trgm extension can be installed (it is a trusted extension:
-- a database owner may install it). Where it cannot, they scan the
-- attribute's rows, as before.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'pg_trgm unavailable (%): substring filters will scan', SQLERRM;
END
$$;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm') THEN
        CREATE INDEX scim_index_value_trigrams ON scim_index USING gin (value gin_trgm_ops);
    END IF;
END
$$;
