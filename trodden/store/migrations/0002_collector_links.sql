-- Collector (issue 2): linking backend logs to browser sessions by trace id. Every flush that holds
-- request events looks up the still unlinked logs of those traces; without this index that is a
-- scan of `logs`. (Spans are found through their primary key, which starts with (source, trace_id).)
CREATE INDEX logs_unlinked_trace ON logs (source, trace_id) WHERE session_id IS NULL AND trace_id IS NOT NULL;
