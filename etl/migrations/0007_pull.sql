-- Linked-platform exports (docs/profiles.md). At the centre: the secret
-- behind the pseudonymous teacher_ref of masked exports. At a platform:
-- what it pulled (pull_state: the change number to ask for next;
-- pull_package: every export imported, to refuse replays) and the
-- records themselves (pull_record: one row per exported record, by the
-- partner's key columns, values as the export gave them).

CREATE TABLE tmis.export_secret (
	id          int PRIMARY KEY CHECK (id = 1),
	secret      bytea NOT NULL CHECK (octet_length(secret) = 32),
	created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tmis.pull_state (
	partner       text PRIMARY KEY,
	changes_upto  bigint NOT NULL CHECK (changes_upto >= 0),
	package_id    text NOT NULL,
	sha256        text NOT NULL,
	pulled_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tmis.pull_package (
	partner        text NOT NULL,
	package_id     text NOT NULL,
	sequence       bigint,
	changes_since  bigint NOT NULL,
	changes_upto   bigint NOT NULL,
	sha256         text NOT NULL,
	mode           text NOT NULL CHECK (mode IN ('db', 'files')),
	records        bigint NOT NULL,
	imported_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (partner, package_id)
);

CREATE TABLE tmis.pull_record (
	partner       text NOT NULL,
	category      text NOT NULL,
	key           text NOT NULL,   -- JSON array of the row's key values
	data          jsonb NOT NULL,  -- column -> value, as exported (masked)
	changes_upto  bigint NOT NULL, -- the export that last wrote it
	updated_at    timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (partner, category, key)
);
