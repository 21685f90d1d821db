-- Distinct users per free or display text (collector/freetext.py), shared by a source's collector
-- replicas and kept across restarts. Never a value: HMAC-SHA256 digests (16 bytes) of the text and
-- of the user under the source's pseudonym key. Each collector adds at most k users per text (k =
-- free_text_min_users); a text that reached k users is listed in free_text_admitted, which every
-- collector polls for what the others admitted.
CREATE TABLE free_text_users (
    source          text NOT NULL,
    value_digest    bytea NOT NULL,
    user_digest     bytea NOT NULL,
    PRIMARY KEY (source, value_digest, user_digest)
);
CREATE TABLE free_text_admitted (
    source          text NOT NULL,
    value_digest    bytea NOT NULL,
    admitted_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (source, value_digest)
);
CREATE INDEX free_text_admitted_at ON free_text_admitted (source, admitted_at);
