-- Collector (issue 2): PostgreSQL keeps `sessions` (first/last timestamp, event count, user id) and
-- the trace links of backend spans and logs up to date for every statement that inserts events, in
-- that statement's own transaction. A flush of new events is then one COPY in autocommit: no
-- BEGIN, no second statement, no COMMIT, each of them a round trip. The transition table holds only
-- the rows actually inserted, so `INSERT ... ON CONFLICT DO NOTHING` (a retried batch) counts
-- nothing twice. Sessions are upserted in key order, so concurrent writers lock their rows in the
-- same order and cannot deadlock.

-- The user id the event's batch carried: the session's user follows from its events alone.
ALTER TABLE events ADD COLUMN user_id text;

CREATE FUNCTION trodden_events_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sessions (source, session_id, first_ts, last_ts, event_count, user_id)
    SELECT source, session_id, min(ts), max(ts), count(*),
           (array_agg(user_id ORDER BY ts DESC, seq DESC) FILTER (WHERE user_id IS NOT NULL))[1]
    FROM inserted GROUP BY 1, 2 ORDER BY 1, 2
    ON CONFLICT (source, session_id) DO UPDATE SET
        first_ts = least(sessions.first_ts, excluded.first_ts),
        last_ts = greatest(sessions.last_ts, excluded.last_ts),
        event_count = sessions.event_count + excluded.event_count,
        user_id = coalesce(excluded.user_id, sessions.user_id);
    -- Spans and logs that arrived before the browser's beacon meet their session through the trace id.
    WITH traced AS (
        SELECT DISTINCT source, session_id, trace_id FROM inserted WHERE trace_id IS NOT NULL
    ), spans_linked AS (
        UPDATE spans SET session_id = t.session_id FROM traced t
        WHERE spans.session_id IS NULL AND spans.source = t.source AND spans.trace_id = t.trace_id
    )
    UPDATE logs SET session_id = t.session_id FROM traced t
    WHERE logs.session_id IS NULL AND logs.trace_id IS NOT NULL
      AND logs.source = t.source AND logs.trace_id = t.trace_id;
    RETURN NULL;
END
$$;

CREATE TRIGGER events_inserted AFTER INSERT ON events
    REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION trodden_events_inserted();
