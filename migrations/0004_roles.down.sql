ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE SELECT, INSERT, UPDATE, DELETE ON TABLES FROM chathub_datemaker;
ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE USAGE, SELECT ON SEQUENCES FROM chathub_datemaker;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM chathub_datemaker, chathub_analytics;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM chathub_datemaker, chathub_analytics;
REVOKE USAGE ON SCHEMA public FROM chathub_datemaker, chathub_analytics;
DO $$
BEGIN
    EXECUTE format('REVOKE CONNECT ON DATABASE %I FROM chathub_datemaker, chathub_analytics', current_database());
END;
$$;
