-- Billow metadata, version 1. One script for SQLite and PostgreSQL: only TEXT and BIGINT
-- columns (times are microseconds since the Unix epoch, flags 0/1, ids UUID text, binary
-- values base64), so both engines and sqlx's Any driver read the same types.

CREATE TABLE organizations (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX organizations_name ON organizations (name);

CREATE TABLE users (
    id             TEXT PRIMARY KEY,
    email          TEXT NOT NULL,
    name           TEXT NOT NULL,
    password_hash  TEXT,
    disabled       BIGINT NOT NULL DEFAULT 0,
    created_at     BIGINT NOT NULL
);
CREATE UNIQUE INDEX users_email ON users (email);

-- A user's role in one organization, the cost types they may see, and for restricted roles
-- the accounts they may see (membership_accounts).
CREATE TABLE memberships (
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id     TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    cost_types  TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    PRIMARY KEY (org_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id);

CREATE TABLE membership_accounts (
    org_id      TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    PRIMARY KEY (org_id, user_id, account_id),
    FOREIGN KEY (org_id, user_id) REFERENCES memberships (org_id, user_id) ON DELETE CASCADE
);

-- API tokens and login sessions: only the SHA-256 of the secret part is kept.
CREATE TABLE credentials (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,
    org_id        TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    user_id       TEXT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    name          TEXT NOT NULL,
    secret_hash   TEXT NOT NULL,
    max_role      TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL,
    revoked_at    BIGINT,
    last_used_at  BIGINT
);
CREATE UNIQUE INDEX credentials_secret ON credentials (secret_hash);
CREATE INDEX credentials_user ON credentials (org_id, user_id);

CREATE TABLE connections (
    id          TEXT PRIMARY KEY,
    org_id      TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name        TEXT NOT NULL,
    provider    TEXT NOT NULL,
    settings    TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
CREATE UNIQUE INDEX connections_name ON connections (org_id, name);

-- Secrets sealed with AES-256-GCM under the master key `key_id`; never returned.
CREATE TABLE secrets (
    org_id         TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    connection_id  TEXT NOT NULL REFERENCES connections (id) ON DELETE CASCADE,
    name           TEXT NOT NULL,
    key_id         TEXT NOT NULL,
    nonce          TEXT NOT NULL,
    ciphertext     TEXT NOT NULL,
    fingerprint    TEXT NOT NULL,
    updated_at     BIGINT NOT NULL,
    PRIMARY KEY (connection_id, name)
);
CREATE INDEX secrets_key ON secrets (key_id);

CREATE TABLE sync_state (
    connection_id   TEXT PRIMARY KEY REFERENCES connections (id) ON DELETE CASCADE,
    org_id          TEXT NOT NULL,
    last_attempt_at BIGINT,
    last_success_at BIGINT,
    last_version    TEXT,
    last_error      TEXT
);

CREATE TABLE audit_log (
    id        TEXT PRIMARY KEY,
    org_id    TEXT,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    target    TEXT NOT NULL,
    detail    TEXT NOT NULL,
    at        BIGINT NOT NULL
);
CREATE INDEX audit_log_org ON audit_log (org_id, at);
