-- The registry of application versions (DBOS 3.4's application_versions): every launch registers its version,
-- owned by its application (NULL: unclaimed, every application's); the one with the newest version_timestamp
-- is an application's latest (DBOS.set_latest_application_version moves it). Version names are global. It
-- replaces queue_app_versions, whose rows it takes over (the first application to have seen a version owns it).
CREATE TABLE application_versions (
    version_id        TEXT PRIMARY KEY,
    version_name      TEXT NOT NULL UNIQUE,
    version_timestamp BIGINT NOT NULL,
    created_at        BIGINT NOT NULL,
    application_name  TEXT
);
INSERT INTO application_versions (version_id, version_name, version_timestamp, created_at, application_name)
SELECT DISTINCT ON (version) gen_random_uuid()::text, version, first_seen_ms, first_seen_ms, application_name
FROM queue_app_versions ORDER BY version, first_seen_ms, application_name;
DROP TABLE queue_app_versions;
