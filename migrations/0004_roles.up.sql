-- Least privilege: group roles for the services, granted to login roles by the operator
-- (e.g. CREATE ROLE datemaker LOGIN PASSWORD '...' IN ROLE chathub_datemaker).
--   chathub_datemaker  reads and writes the data, runs no DDL (migrations run as the owner)
--   chathub_analytics  reads events, plans and ratings by pseudonymous ids; never names, birthdays,
--                      photos, usernames, report reasons, message contents or call attendance
-- Roles are cluster-wide: created if missing, never dropped by a migration.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chathub_datemaker') THEN
        CREATE ROLE chathub_datemaker NOLOGIN;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'chathub_analytics') THEN
        CREATE ROLE chathub_analytics NOLOGIN;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO chathub_datemaker, chathub_analytics', current_database());
END;
$$;

GRANT USAGE ON SCHEMA public TO chathub_datemaker, chathub_analytics;

GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO chathub_datemaker;
REVOKE INSERT, UPDATE, DELETE ON public.schema_migrations FROM chathub_datemaker;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO chathub_datemaker;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO chathub_datemaker;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO chathub_datemaker;

GRANT SELECT ON public.event_states, public.dating_events, public.registrations, public.event_groups,
    public.event_dates, public.likes, public.dislikes, public.matches TO chathub_analytics;
DO $$
BEGIN
    IF to_regclass('public.event_stats') IS NOT NULL THEN
        GRANT SELECT ON public.event_stats TO chathub_analytics;
    END IF;
END;
$$;
