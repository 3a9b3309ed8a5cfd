-- Pieces, their redo log and snapshots, and the tenant registry (SQLite).
-- Ids are text; bodies are the wire codec's bytes with a SHA-256 checksum beside them.

CREATE TABLE pieces (
    piece_id   TEXT PRIMARY KEY,
    tenant     TEXT NOT NULL,
    title      TEXT NOT NULL,
    owner      TEXT NOT NULL,
    created_us BIGINT NOT NULL,
    updated_us BIGINT NOT NULL,
    version    BIGINT NOT NULL,
    access     BLOB NOT NULL
) WITHOUT ROWID;

CREATE INDEX pieces_by_tenant ON pieces (tenant, piece_id);

-- The log is a rowid table: new records go to its end, so a group commit dirties a few pages
-- rather than one per piece (its key index is the only scattered part). WITHOUT ROWID keyed by
-- piece measured 18k durable commits/s at 64 writers against 23k for this.
CREATE TABLE redo_log (
    piece_id TEXT NOT NULL,
    version  BIGINT NOT NULL,
    body     BLOB NOT NULL,
    checksum BLOB NOT NULL,
    PRIMARY KEY (piece_id, version)
);

CREATE TABLE snapshots (
    piece_id TEXT NOT NULL,
    version  BIGINT NOT NULL,
    body     BLOB NOT NULL,
    checksum BLOB NOT NULL,
    PRIMARY KEY (piece_id, version)
) WITHOUT ROWID;

CREATE TABLE tenants (
    tenant TEXT PRIMARY KEY,
    body   BLOB NOT NULL
) WITHOUT ROWID;
