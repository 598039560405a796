-- The gateway server's uploads and its workers' queue (docs/serve.md), and
-- what a sender learns from receipts (push, sync).

-- One row per package file received over HTTP, by (partner, sha256): a
-- resend of the same bytes finds its row. Workers claim rows with
-- FOR UPDATE SKIP LOCKED; a row "loading" or "verified" whose worker's
-- connection (worker_pid, worker_start) is gone is claimed again.
CREATE TABLE tmis.upload (
	id            bigserial PRIMARY KEY,
	partner       text NOT NULL,
	package_id    text NOT NULL,
	sha256        text NOT NULL,
	bytes         bigint NOT NULL,
	path          text NOT NULL,
	state         text NOT NULL DEFAULT 'received'
	              CHECK (state IN ('received', 'loading', 'verified', 'loaded', 'rejected', 'held')),
	outcome       text,
	error         text,
	received_at   timestamptz NOT NULL DEFAULT now(),
	started_at    timestamptz,
	finished_at   timestamptz,
	attempts      int NOT NULL DEFAULT 0,
	worker_pid    int,
	worker_start  timestamptz,
	UNIQUE (partner, sha256)
);
CREATE INDEX upload_open_idx ON tmis.upload (id)
	WHERE state IN ('received', 'loading', 'verified', 'held');
CREATE INDEX upload_package_idx ON tmis.upload (partner, package_id);

-- A sender's view of its packages' answers.
CREATE TABLE tmis.receipt_in (
	partner        text NOT NULL,
	package_id     text NOT NULL,
	receipt_id     text NOT NULL,
	sequence       bigint NOT NULL,
	outcome        text NOT NULL,
	package_sha256 text NOT NULL,
	receipt_sha256 text NOT NULL,
	received       bigint,
	loaded         bigint,
	rejected       bigint,
	path           text,
	at             timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (partner, package_id)
);
