-- 0013: least privilege. Two group roles (NOLOGIN), granted to the log-in
-- roles that use the warehouse, so that neither the pipeline nor an analyst
-- connects as the owner of schema news:
--
--   newsingest_pipeline  reads and writes the rows of news (what the fetch,
--                        extract, deduplicate, load, check and maintenance
--                        tasks do), but cannot change its structure or the
--                        migration ledger; migrations run as the owner.
--   newsingest_analyst   reads every table and view of news, writes nothing.
--
-- Roles belong to the cluster, not the database: they are created only when
-- missing (another database of the same server may have created them, even
-- at the same moment). Creating them needs CREATEROLE; without it, have an
-- administrator run the two CREATE ROLE statements first and migrate again.
-- Default privileges give both roles the tables and sequences of later
-- migrations, which are run by the same owner.

DO $$
DECLARE
    name text;
BEGIN
    FOREACH name IN ARRAY ARRAY['newsingest_pipeline', 'newsingest_analyst'] LOOP
        IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = name) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', name);
            EXCEPTION
                WHEN duplicate_object OR unique_violation THEN
                    NULL;  -- created meanwhile by a migration of another database
                WHEN insufficient_privilege THEN
                    RAISE EXCEPTION 'role % is missing and % may not create roles', name, current_user
                        USING HINT = format('Run "CREATE ROLE %I NOLOGIN" as an administrator, then migrate again.', name);
            END;
        END IF;
    END LOOP;
END
$$;

COMMENT ON ROLE newsingest_pipeline IS 'newsingest: reads and writes the rows of schema news; no DDL, no migration ledger writes. Grant it to the pipeline''s log-in role.';
COMMENT ON ROLE newsingest_analyst IS 'newsingest: reads the tables and views of schema news, writes nothing. Grant it to analysts'' log-in roles.';

GRANT USAGE ON SCHEMA news TO newsingest_pipeline, newsingest_analyst;

GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA news TO newsingest_pipeline;
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON news.schema_migrations FROM newsingest_pipeline;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA news TO newsingest_pipeline;
GRANT SELECT ON ALL TABLES IN SCHEMA news TO newsingest_analyst;

ALTER DEFAULT PRIVILEGES IN SCHEMA news
    GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO newsingest_pipeline;
ALTER DEFAULT PRIVILEGES IN SCHEMA news
    GRANT USAGE, SELECT ON SEQUENCES TO newsingest_pipeline;
ALTER DEFAULT PRIVILEGES IN SCHEMA news
    GRANT SELECT ON TABLES TO newsingest_analyst;
