-- Tenancy (issue 14): in a cluster every namespace's data lives in a schema of its own, owned by a
-- database role of its own; the operator provisions both (trodden.operator.tenancy) and gives the
-- namespace's pods that role's DSN only. This migration runs in every schema, the operator's own
-- (the default, `public`, where the CLI works outside Kubernetes) and each tenant's.

-- The operator's catalog of tenants: rows only in the operator's own schema. The password is the
-- role's; the operator needs it again to write the namespace's Secret (which it may create, never
-- read) and to connect as the tenant.
CREATE TABLE tenants (
    namespace       text PRIMARY KEY,
    schema_name     text NOT NULL UNIQUE,
    role_name       text NOT NULL UNIQUE,
    password        text NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

-- In a tenant's schema: which incarnation (uid) of a custom resource owns the data stored under
-- its name, and when the data lost its resource (a tombstone). Data of a resource deleted more
-- than the operator's retention ago is removed; a TestSuite or SessionSelector recreated under the
-- same name (a new uid) never inherits the old one's revisions or selections.
CREATE TABLE owners (
    kind            text NOT NULL,         -- RumSource | SessionSelector | TestSuite | ReplayRun
    name            text NOT NULL,         -- the resource's name (ReplayRun: its run name NS/NAME/UID8)
    uid             text,                  -- the owning incarnation, when known
    claimed_at      timestamptz NOT NULL DEFAULT now(),
    deleted_at      timestamptz,
    PRIMARY KEY (kind, name)
);
CREATE INDEX owners_deleted ON owners (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX selections_name ON selections (name);
