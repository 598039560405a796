-- Exchange packages received and sent, and the exchange log
-- (docs/package.md, docs/exchange-log.md).

-- Packages this gateway received and answered (check 4 and 5). A package
-- refused at checks 1-3 has no row here (its manifest is not trusted); it
-- is only logged. A row's receipt is the exact receipt package sent back,
-- so a resend gets the same bytes again.
CREATE TABLE tmis.package_in (
	sender         text NOT NULL,
	id             text NOT NULL,
	recipient      text NOT NULL,
	sequence       bigint NOT NULL CHECK (sequence >= 1),
	kind           text NOT NULL,
	sha256         text NOT NULL,
	bytes          bigint NOT NULL,
	signer_fpr     text NOT NULL,
	state          text NOT NULL CHECK (state IN ('held', 'loaded', 'rejected')),
	received_at    timestamptz NOT NULL DEFAULT now(),
	finished_at    timestamptz,
	load_id        bigint REFERENCES tmis.load_run,
	outcome        text CHECK (outcome IN ('accepted', 'accepted-with-rejects', 'rejected')),
	records_loaded   bigint,
	records_rejected bigint,
	error          text,
	held_path      text,
	receipt_id     text,
	receipt_sha256 text,
	receipt        bytea,
	PRIMARY KEY (sender, id)
);
CREATE UNIQUE INDEX package_in_sequence_idx ON tmis.package_in (sender, recipient, sequence);

-- Packages this gateway made from its database (pack --from-db): the
-- change-number window of each, so the next delta starts where it ended.
CREATE TABLE tmis.package_out (
	recipient      text NOT NULL,
	sequence       bigint NOT NULL CHECK (sequence >= 1),
	id             text NOT NULL UNIQUE,
	kind           text NOT NULL,
	changes_since  bigint NOT NULL,
	changes_upto   bigint NOT NULL,
	sha256         text NOT NULL,
	bytes          bigint NOT NULL,
	records        bigint NOT NULL,
	path           text NOT NULL,
	created_at     timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (recipient, sequence)
);

-- The exchange log: append-only and hash-chained. id and prev_hash are set
-- by the insert trigger under a transaction-scoped lock, so ids are gapless
-- and in chain order; hash covers every column (tmis.exchange_log_text).
-- No personal data is ever written here.
CREATE TABLE tmis.exchange_log (
	id               bigint PRIMARY KEY,
	at               timestamptz NOT NULL,
	direction        text NOT NULL CHECK (direction IN ('in', 'out', 'local')),
	event            text NOT NULL,
	partner          text,
	package_id       text,
	sequence         bigint,
	kind             text,
	bytes            bigint,
	sha256           text,
	signer_fpr       text,
	records_loaded   bigint,
	records_rejected bigint,
	outcome          text NOT NULL,
	error            text,
	prev_hash        text NOT NULL,
	hash             text NOT NULL
);

CREATE FUNCTION tmis.exchange_log_text(e tmis.exchange_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT json_build_array(e.id,
		to_char(e.at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
		e.direction, e.event, e.partner, e.package_id, e.sequence, e.kind,
		e.bytes, e.sha256, e.signer_fpr, e.records_loaded, e.records_rejected,
		e.outcome, e.error, e.prev_hash)::text
$$;

CREATE FUNCTION tmis.exchange_log_hash(e tmis.exchange_log) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
	SELECT encode(sha256(convert_to(tmis.exchange_log_text(e), 'UTF8')), 'hex')
$$;

CREATE FUNCTION tmis.exchange_log_chain() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
	last_id bigint;
	last_hash text;
BEGIN
	-- one writer at a time until commit: the chain follows commit order
	PERFORM pg_advisory_xact_lock(7235617281);
	SELECT id, hash INTO last_id, last_hash
	  FROM tmis.exchange_log ORDER BY id DESC LIMIT 1;
	NEW.id := coalesce(last_id, 0) + 1;
	NEW.at := clock_timestamp();
	NEW.prev_hash := coalesce(last_hash, repeat('0', 64));
	NEW.hash := tmis.exchange_log_hash(NEW);
	RETURN NEW;
END $$;

CREATE FUNCTION tmis.exchange_log_refuse() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the exchange log is append-only: % refused', TG_OP
		USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER exchange_log_chain BEFORE INSERT ON tmis.exchange_log
	FOR EACH ROW EXECUTE FUNCTION tmis.exchange_log_chain();
CREATE TRIGGER exchange_log_no_update BEFORE UPDATE OR DELETE ON tmis.exchange_log
	FOR EACH ROW EXECUTE FUNCTION tmis.exchange_log_refuse();
CREATE TRIGGER exchange_log_no_truncate BEFORE TRUNCATE ON tmis.exchange_log
	FOR EACH STATEMENT EXECUTE FUNCTION tmis.exchange_log_refuse();
REVOKE UPDATE, DELETE, TRUNCATE ON tmis.exchange_log FROM PUBLIC;
