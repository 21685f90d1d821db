-- Core schema: sources, sessions, events (partitioned by day), backend spans and logs.
-- Ranges of migration numbers by owner: 0001-0099 kernel/collector, 0100-0199 synthesis,
-- 0200-0299 replay, 0300-0399 operator.

CREATE TABLE sources (
    name            text PRIMARY KEY,
    -- HMAC key for keyed pseudonyms; generated on first use unless the deployment supplies one.
    pseudonym_key   bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sessions (
    source          text NOT NULL,
    session_id      text NOT NULL,
    user_id         text,
    attributes      jsonb NOT NULL DEFAULT '{}'::jsonb,
    first_ts        timestamptz NOT NULL,
    last_ts         timestamptz NOT NULL,
    event_count     integer NOT NULL DEFAULT 0,
    PRIMARY KEY (source, session_id)
);
CREATE INDEX sessions_source_last_ts ON sessions (source, last_ts);

-- One row per event. `data` holds the kind-specific fields of trodden.models.events (everything
-- but the columns below). Partitioned by day so retention drops partitions; the partition key is
-- part of the idempotency key, which holds because a retried batch repeats its timestamps.
CREATE TABLE events (
    source          text NOT NULL,
    session_id      text NOT NULL,
    seq             integer NOT NULL,
    ts              timestamptz NOT NULL,
    kind            text NOT NULL,
    url             text,
    trace_id        text,
    data            jsonb NOT NULL,
    PRIMARY KEY (source, session_id, seq, ts)
) PARTITION BY RANGE (ts);
CREATE TABLE events_default PARTITION OF events DEFAULT;
CREATE INDEX events_trace ON events (trace_id) WHERE trace_id IS NOT NULL;
CREATE INDEX events_kind ON events (source, kind);

-- Backend telemetry (OTLP). session_id is filled when a span or log could be linked to a browser
-- session (traceparent from the tag, or a session.id attribute).
CREATE TABLE spans (
    source          text NOT NULL,
    trace_id        text NOT NULL,
    span_id         text NOT NULL,
    parent_span_id  text,
    session_id      text,
    name            text NOT NULL,
    service         text,
    start_ts        timestamptz NOT NULL,
    duration_ms     double precision NOT NULL,
    http_method     text,
    http_route      text,
    http_status     integer,
    status_code     text NOT NULL DEFAULT 'unset',
    attributes      jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (source, trace_id, span_id)
);
CREATE INDEX spans_session ON spans (source, session_id);
CREATE INDEX spans_route ON spans (source, http_method, http_route);

CREATE TABLE logs (
    source          text NOT NULL,
    ts              timestamptz NOT NULL,
    trace_id        text,
    span_id         text,
    session_id      text,
    severity        text,
    service         text,
    body            jsonb,
    attributes      jsonb NOT NULL DEFAULT '{}'::jsonb,
    -- idempotency for OTLP retries
    fingerprint     text NOT NULL,
    PRIMARY KEY (source, fingerprint)
);
CREATE INDEX logs_session ON logs (source, session_id);

-- Selections made by `trodden select` (SessionSelector jobs).
CREATE TABLE selections (
    id              bigserial PRIMARY KEY,
    source          text NOT NULL,
    name            text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    params          jsonb NOT NULL,
    stats           jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE TABLE selection_items (
    selection_id    bigint NOT NULL REFERENCES selections (id) ON DELETE CASCADE,
    rank            integer NOT NULL,
    session_id      text NOT NULL,
    signature       text NOT NULL,
    reasons         jsonb NOT NULL,
    PRIMARY KEY (selection_id, rank)
);

-- Suites and their revisions; `ir` is the whole suite (trodden.models.suite.Suite) as JSON.
CREATE TABLE suites (
    name            text PRIMARY KEY,
    source          text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE suite_revisions (
    suite           text NOT NULL REFERENCES suites (name) ON DELETE CASCADE,
    revision        integer NOT NULL,
    selection_id    bigint REFERENCES selections (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    ir              jsonb NOT NULL,
    stats           jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (suite, revision)
);

-- Replay runs (one row per shard run) and their per-test results.
CREATE TABLE replay_runs (
    id              bigserial PRIMARY KEY,
    suite           text NOT NULL,
    revision        integer NOT NULL,
    target          text NOT NULL,
    baseline        text,
    shard           text NOT NULL DEFAULT '0/1',
    run_name        text,
    started_at      timestamptz NOT NULL DEFAULT now(),
    finished_at     timestamptz,
    status          text NOT NULL DEFAULT 'running',
    summary         jsonb NOT NULL DEFAULT '{}'::jsonb
);
CREATE INDEX replay_runs_name ON replay_runs (run_name);
CREATE TABLE replay_results (
    run_id          bigint NOT NULL REFERENCES replay_runs (id) ON DELETE CASCADE,
    test_id         text NOT NULL,
    outcome         text NOT NULL,        -- passed | failed | flaky | skipped | error
    attempts        integer NOT NULL,
    duration_ms     double precision NOT NULL,
    flaky_cause     text,
    failures        jsonb NOT NULL DEFAULT '[]'::jsonb,
    PRIMARY KEY (run_id, test_id)
);
