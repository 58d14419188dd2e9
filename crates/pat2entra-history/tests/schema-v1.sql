-- Azure DevOps organization names ignore case.
CREATE TABLE organizations (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE COLLATE NOCASE
);
-- One scan of one organization: its numbers, as its record's summary has them.
CREATE TABLE scans (
    id INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    as_of TEXT NOT NULL,
    -- sha256 of the record's JSON: the same scan added twice is recognised.
    digest TEXT NOT NULL,
    tool_version TEXT NOT NULL,
    coverage_complete INTEGER NOT NULL,
    owners_listed INTEGER NOT NULL,
    owners_failed INTEGER NOT NULL,
    tokens INTEGER NOT NULL,
    active_tokens INTEGER NOT NULL,
    active_pats INTEGER NOT NULL,
    -- Open (unsuppressed) findings per severity, and the suppressed ones.
    critical INTEGER NOT NULL,
    high INTEGER NOT NULL,
    medium INTEGER NOT NULL,
    low INTEGER NOT NULL,
    info INTEGER NOT NULL,
    suppressed INTEGER NOT NULL,
    UNIQUE (organization_id, as_of)
);
CREATE TABLE owners (
    id INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    descriptor TEXT NOT NULL,
    principal_name TEXT NOT NULL,
    UNIQUE (organization_id, descriptor)
);
-- One credential (PAT or SSH key) of one owner, as the latest scan listing it saw it.
CREATE TABLE credentials (
    id INTEGER PRIMARY KEY,
    owner_id INTEGER NOT NULL REFERENCES owners(id),
    authorization_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    valid_from TEXT,
    valid_to TEXT,
    -- The audit log's creation event.
    created_at TEXT,
    first_seen_scan INTEGER NOT NULL REFERENCES scans(id),
    state TEXT NOT NULL,
    -- audit (the event's time), observed (the first scan showing it revoked), before_first_seen.
    revoked_at TEXT,
    revoked_how TEXT,
    UNIQUE (owner_id, authorization_id)
);
-- One episode of one finding: first scan reporting it to the scan that ended it (NULL: open).
CREATE TABLE findings (
    id INTEGER PRIMARY KEY,
    organization_id INTEGER NOT NULL REFERENCES organizations(id),
    -- NULL for the organization's own finding (a tenant policy).
    credential_id INTEGER REFERENCES credentials(id),
    rule TEXT NOT NULL,
    severity TEXT NOT NULL,
    suppressed INTEGER NOT NULL,
    first_seen_scan INTEGER NOT NULL REFERENCES scans(id),
    ended_scan INTEGER REFERENCES scans(id),
    -- resolved, suppressed, unsuppressed
    ending TEXT
);
-- The scan's retirement plan: active PATs per wave and due date.
CREATE TABLE plan_due (
    scan_id INTEGER NOT NULL REFERENCES scans(id),
    wave TEXT NOT NULL,
    due TEXT NOT NULL,
    pats INTEGER NOT NULL,
    PRIMARY KEY (scan_id, wave, due)
);
