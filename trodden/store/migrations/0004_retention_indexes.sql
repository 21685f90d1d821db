-- Collector retention per source (collector/retention.py): spans and logs older than a source's
-- retention are found by these instead of a scan of every source's telemetry.
CREATE INDEX spans_source_start ON spans (source, start_ts);
CREATE INDEX logs_source_ts ON logs (source, ts);
