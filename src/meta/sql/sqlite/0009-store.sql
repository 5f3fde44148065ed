-- kura metadata schema v9 (SQLite), the file store (meta.h, "the file store"): what the store
-- area knows about files and folders except their bytes.
--
--  store_counter  one row: a change counter that only grows. Every change that refreshes etags
--                 takes its next value, so an etag (node id, counter) is never issued twice.
--  spaces         a personal space per account (datasets later): quota and bytes used.
--  nodes          the tree of folders and files of each space. Each node keeps its full path
--                 (denormalised beside parent, "" for the root) so that a lookup is one indexed
--                 query; among live nodes a path is unique per space. A trashed subtree keeps
--                 its old paths and carries trash_root = the id of its top node.
--  versions       a file's contents: a blob in the blob store plus its Crypt4GH header (the file
--                 key encrypted to a server key). Deleting the header shreds the content.
--  props          WebDAV dead properties of a node.
--  locks          WebDAV write locks on paths of a space (a path need not exist).
--
-- Ids are AUTOINCREMENT: a node or version id is never handed out twice, so nothing that
-- remembers an id (an audit record, a client's file id) can come to name another file.

CREATE TABLE store_counter (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL CHECK (value >= 0)
) STRICT;

INSERT INTO store_counter (id, value) VALUES (1, 0);

-- The root folder is the space's node whose parent is NULL (nodes_root keeps it unique).
CREATE TABLE spaces (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL CHECK (kind IN ('personal', 'dataset')),
    owner TEXT NOT NULL CHECK (length(owner) > 0),
    quota_bytes INTEGER NOT NULL DEFAULT 0 CHECK (quota_bytes >= 0),
    used_bytes INTEGER NOT NULL DEFAULT 0 CHECK (used_bytes >= 0),
    created_at INTEGER NOT NULL CHECK (created_at >= 0),
    UNIQUE (kind, owner)
) STRICT;

CREATE TABLE nodes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    space INTEGER NOT NULL REFERENCES spaces (id),
    parent INTEGER REFERENCES nodes (id),
    path TEXT NOT NULL CHECK (length(CAST(path AS BLOB)) <= 4096 AND (path = '' OR (
        substr(path, 1, 1) <> '/' AND substr(path, -1, 1) <> '/' AND instr(path, '//') = 0))),
    folder INTEGER NOT NULL CHECK (folder IN (0, 1)),
    version INTEGER REFERENCES versions (id),
    size INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
    sha256 BLOB CHECK (sha256 IS NULL OR length(sha256) = 32),
    created_at INTEGER NOT NULL CHECK (created_at >= 0),
    mtime INTEGER NOT NULL CHECK (mtime >= 0),
    etag_counter INTEGER NOT NULL CHECK (etag_counter > 0),
    trash_root INTEGER REFERENCES nodes (id),
    trashed_at INTEGER CHECK (trashed_at IS NULL OR trashed_at > 0),
    trashed_by TEXT CHECK (trashed_by IS NULL OR length(trashed_by) > 0),
    CHECK ((parent IS NULL) = (path = '')),
    CHECK (folder = 0 OR (version IS NULL AND size = 0 AND sha256 IS NULL)),
    CHECK ((trash_root IS NULL) = (trashed_at IS NULL)),
    CHECK ((trashed_at IS NULL) = (trashed_by IS NULL)),
    CHECK (parent IS NOT NULL OR trash_root IS NULL) -- a root is never trashed
) STRICT;

-- Live path lookup (WebDAV); unique among live nodes only, so trashing frees a path.
CREATE UNIQUE INDEX nodes_live_path ON nodes (space, path) WHERE trash_root IS NULL;
CREATE UNIQUE INDEX nodes_root ON nodes (space) WHERE parent IS NULL;
-- Children of a folder ordered by name: siblings share the parent's path as a prefix, so path
-- order is name order (bytewise). Also the subtree walk and the foreign key's child index.
CREATE INDEX nodes_children ON nodes (parent, path);
-- A trashed subtree (restore), and the trash's top nodes by age (trash_list, trash_expired).
CREATE INDEX nodes_trashed ON nodes (trash_root, path) WHERE trash_root IS NOT NULL;
CREATE INDEX nodes_trash_space ON nodes (space, trashed_at) WHERE trash_root = id;
CREATE INDEX nodes_trash_age ON nodes (trashed_at) WHERE trash_root = id;
CREATE INDEX nodes_version ON nodes (version) WHERE version IS NOT NULL;

-- header NULL would mean shredded; version_remove zeroes it and then deletes the row.
CREATE TABLE versions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    node INTEGER NOT NULL REFERENCES nodes (id),
    blob TEXT NOT NULL CHECK (length(CAST(blob AS BLOB)) BETWEEN 1 AND 64),
    header BLOB CHECK (header IS NULL OR length(header) BETWEEN 1 AND 4096),
    key_id TEXT NOT NULL CHECK (length(CAST(key_id AS BLOB)) BETWEEN 1 AND 64),
    size INTEGER NOT NULL CHECK (size >= 0),
    segments INTEGER NOT NULL CHECK (segments >= 0),
    sha256 BLOB NOT NULL CHECK (length(sha256) = 32),
    nonce_prefix BLOB NOT NULL CHECK (length(nonce_prefix) = 4),
    created_at INTEGER NOT NULL CHECK (created_at >= 0),
    created_by TEXT NOT NULL CHECK (length(created_by) > 0),
    corrupt_at INTEGER CHECK (corrupt_at IS NULL OR corrupt_at > 0)
) STRICT;

CREATE INDEX versions_node ON versions (node, id);
CREATE INDEX versions_key ON versions (key_id, id);
CREATE INDEX versions_blob ON versions (blob);

-- (namespace URI, local name) -> XML fragment; ns '' is the empty namespace.
CREATE TABLE props (
    node INTEGER NOT NULL REFERENCES nodes (id),
    ns TEXT NOT NULL,
    name TEXT NOT NULL CHECK (length(name) > 0),
    value TEXT NOT NULL,
    PRIMARY KEY (node, ns, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE locks (
    token TEXT PRIMARY KEY NOT NULL CHECK (length(CAST(token AS BLOB)) BETWEEN 1 AND 64),
    space INTEGER NOT NULL REFERENCES spaces (id),
    path TEXT NOT NULL CHECK (length(CAST(path AS BLOB)) <= 4096),
    infinite INTEGER NOT NULL CHECK (infinite IN (0, 1)),
    scope TEXT NOT NULL CHECK (scope IN ('exclusive', 'shared')),
    owner TEXT NOT NULL REFERENCES accounts (id),
    owner_xml TEXT,
    created_at INTEGER NOT NULL CHECK (created_at >= 0),
    expires_at INTEGER NOT NULL CHECK (expires_at >= created_at)
) STRICT, WITHOUT ROWID;

CREATE INDEX locks_path ON locks (space, path);
CREATE INDEX locks_expiry ON locks (expires_at);
