"""Schema migrations, applied in order; ``PRAGMA user_version`` records progress.

Never edit a released migration: add a new one. Each runs in one transaction.
"""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # 1: events and engine metadata
    """
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    CREATE TABLE events (
        id TEXT PRIMARY KEY,
        camera TEXT NOT NULL,
        start_time REAL NOT NULL,
        end_time REAL,
        labels TEXT NOT NULL DEFAULT '[]',
        zones TEXT NOT NULL DEFAULT '[]',
        objects TEXT NOT NULL DEFAULT '[]',
        top_score REAL NOT NULL DEFAULT 0,
        has_snapshot INTEGER NOT NULL DEFAULT 0,
        has_clip INTEGER NOT NULL DEFAULT 0,
        risk TEXT,
        alert INTEGER NOT NULL DEFAULT 0,
        acknowledged INTEGER NOT NULL DEFAULT 0,
        protected INTEGER NOT NULL DEFAULT 0,
        updated_at REAL NOT NULL
    );
    CREATE INDEX events_start ON events (start_time DESC, id DESC);
    CREATE INDEX events_camera_start ON events (camera, start_time DESC);
    CREATE INDEX events_open ON events (end_time) WHERE end_time IS NULL;
    """,
]

MIGRATIONS.append(
    # 2: recordings index and stream outages
    """
    CREATE TABLE recordings (
        id INTEGER PRIMARY KEY,
        camera TEXT NOT NULL,
        path TEXT NOT NULL UNIQUE,
        start_time REAL NOT NULL,
        end_time REAL NOT NULL,
        size INTEGER NOT NULL,
        motion INTEGER NOT NULL DEFAULT 0,
        objects INTEGER NOT NULL DEFAULT 0,
        kept INTEGER NOT NULL DEFAULT 1
    );
    CREATE INDEX recordings_camera_start ON recordings (camera, start_time);
    CREATE INDEX recordings_start ON recordings (start_time);
    CREATE TABLE outages (
        id INTEGER PRIMARY KEY,
        camera TEXT NOT NULL,
        start_time REAL NOT NULL,
        end_time REAL,
        reason TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX outages_camera_start ON outages (camera, start_time);
    """
)

MIGRATIONS.append(
    # 3: risk assessments: alert reasons, durable scoring jobs, audit, LLM budget
    """
    ALTER TABLE events ADD COLUMN alert_reason TEXT NOT NULL DEFAULT '';
    CREATE TABLE risk_jobs (
        event_id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt REAL NOT NULL,
        last_error TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL
    );
    CREATE INDEX risk_jobs_due ON risk_jobs (status, next_attempt);
    CREATE TABLE risk_audit (
        id INTEGER PRIMARY KEY,
        event_id TEXT NOT NULL,
        created_at REAL NOT NULL,
        provider TEXT NOT NULL,
        model TEXT NOT NULL,
        prompt_version TEXT NOT NULL,
        prompt TEXT,
        raw TEXT,
        error TEXT,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0,
        latency_ms REAL NOT NULL DEFAULT 0
    );
    CREATE INDEX risk_audit_event ON risk_audit (event_id);
    CREATE TABLE llm_usage (
        day TEXT PRIMARY KEY,
        calls INTEGER NOT NULL DEFAULT 0,
        prompt_tokens INTEGER NOT NULL DEFAULT 0,
        completion_tokens INTEGER NOT NULL DEFAULT 0
    );
    """
)

_FTS_BODY = (
    "new.camera || ' ' || replace(new.camera, '_', ' ') || ' ' || "
    "COALESCE((SELECT group_concat(value, ' ') FROM json_each(new.labels)), '') || ' ' || "
    "COALESCE((SELECT group_concat(replace(value, '_', ' '), ' ') "
    "FROM json_each(new.zones)), '') || ' ' || "
    "COALESCE(replace(json_extract(new.risk, '$.activity_type'), '_', ' '), '') || ' ' || "
    "COALESCE(json_extract(new.risk, '$.summary'), '') || ' ' || "
    "COALESCE(json_extract(new.risk, '$.reasoning'), '')"
)

MIGRATIONS.append(
    # 4: full-text search over cameras, labels, zones, activity, summaries and reasoning
    "CREATE VIRTUAL TABLE events_fts USING fts5(event_id UNINDEXED, body, "
    "tokenize = 'porter unicode61');"
    "CREATE TRIGGER events_fts_ai AFTER INSERT ON events BEGIN "
    f"INSERT INTO events_fts (rowid, event_id, body) VALUES (new.rowid, new.id, {_FTS_BODY}); "
    "END;"
    "CREATE TRIGGER events_fts_au AFTER UPDATE OF camera, labels, zones, risk ON events BEGIN "
    "DELETE FROM events_fts WHERE rowid = old.rowid; "
    f"INSERT INTO events_fts (rowid, event_id, body) VALUES (new.rowid, new.id, {_FTS_BODY}); "
    "END;"
    "CREATE TRIGGER events_fts_ad AFTER DELETE ON events BEGIN "
    "DELETE FROM events_fts WHERE rowid = old.rowid; END;"
    "INSERT INTO events_fts (rowid, event_id, body) SELECT rowid, id, "
    + _FTS_BODY.replace("new.", "events.") + " FROM events;"
)

MIGRATIONS.append(
    # 5: events from other sources (Frigate): origin, source metadata, dismissal; the
    # Frigate bridge's own index (dedupe, durable clip downloads, write-back).
    """
    ALTER TABLE events ADD COLUMN source TEXT NOT NULL DEFAULT 'vigil';
    ALTER TABLE events ADD COLUMN frigate TEXT;
    ALTER TABLE events ADD COLUMN dismissed TEXT;
    CREATE TABLE frigate_events (
        server TEXT NOT NULL,
        frigate_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        camera TEXT NOT NULL,
        frigate_camera TEXT NOT NULL,
        state TEXT NOT NULL,
        clip_status TEXT NOT NULL DEFAULT 'none',
        clip_attempts INTEGER NOT NULL DEFAULT 0,
        clip_next REAL NOT NULL DEFAULT 0,
        clip_error TEXT NOT NULL DEFAULT '',
        clip_path TEXT,
        described TEXT,
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (server, frigate_id)
    );
    CREATE UNIQUE INDEX frigate_events_event ON frigate_events (event_id);
    CREATE INDEX frigate_events_clip_due ON frigate_events (clip_status, clip_next);
    """
)

MIGRATIONS.append(
    # 6: the latest escalation of an event (it got worse after it was announced)
    "ALTER TABLE events ADD COLUMN escalation TEXT;"
)
