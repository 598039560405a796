-- History and change events.
-- Multi-record categories keep records that disappear from a full load as
-- history (current = false) instead of deleting them; teacher rows keep
-- their previous versions in teacher_history; change events move the school
-- of record and the status, in effective_date order.
CREATE TABLE tmis.change_kind_effect (
	kind         text PRIMARY KEY,
	status       text,
	moves_school boolean NOT NULL
);

CREATE TABLE tmis.teacher_history (
	id         bigserial PRIMARY KEY,
	id_type    text NOT NULL,
	id_number  text NOT NULL,
	changed_at timestamptz NOT NULL DEFAULT now(),
	load_id    bigint,
	change_no  bigint,
	previous   jsonb NOT NULL
);
CREATE INDEX ON tmis.teacher_history (id_type, id_number, id);

CREATE FUNCTION tmis.keep_teacher_version() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO tmis.teacher_history (id_type, id_number, load_id, change_no, previous)
	VALUES (OLD.id_type, OLD.id_number, NEW.load_id, NEW.change_no,
		to_jsonb(OLD) - 'extra');
	RETURN NEW;
END $$;
CREATE TRIGGER teacher_keep_version BEFORE UPDATE ON tmis.teacher
	FOR EACH ROW WHEN (OLD.change_no IS DISTINCT FROM NEW.change_no)
	EXECUTE FUNCTION tmis.keep_teacher_version();

ALTER TABLE tmis.teacher ADD COLUMN reported boolean NOT NULL DEFAULT true;

-- Recompute school and status of the teachers that have events in load
-- p_load from ALL their events, so arrival order never matters and an event
-- sent twice applies once. Returns the number of teachers changed.
CREATE FUNCTION tmis.apply_change_events(p_load bigint) RETURNS bigint
LANGUAGE sql AS $$
WITH touched AS (
	SELECT DISTINCT id_type, id_number FROM tmis.change_event WHERE load_id = p_load
), school AS (
	SELECT DISTINCT ON (e.id_type, e.id_number) e.id_type, e.id_number, e.to_school_code
	  FROM tmis.change_event e JOIN touched USING (id_type, id_number)
	  JOIN tmis.change_kind_effect k ON k.kind = e.kind
	 WHERE k.moves_school AND e.to_school_code IS NOT NULL
	 ORDER BY e.id_type, e.id_number, e.effective_date DESC, e.change_no DESC
), status AS (
	SELECT DISTINCT ON (e.id_type, e.id_number) e.id_type, e.id_number, k.status
	  FROM tmis.change_event e JOIN touched USING (id_type, id_number)
	  JOIN tmis.change_kind_effect k ON k.kind = e.kind
	 WHERE k.status IS NOT NULL
	 ORDER BY e.id_type, e.id_number, e.effective_date DESC, e.change_no DESC
), target AS (
	SELECT x.id_type, x.id_number, s.to_school_code, st.status
	  FROM touched x LEFT JOIN school s USING (id_type, id_number)
	  LEFT JOIN status st USING (id_type, id_number)
), upd AS (
	UPDATE tmis.teacher t
	   SET school_code = COALESCE(g.to_school_code, t.school_code),
	       status = COALESCE(g.status, t.status),
	       load_id = p_load,
	       change_no = nextval('tmis.change_no_seq'),
	       updated_at = now()
	  FROM target g
	 WHERE t.id_type = g.id_type AND t.id_number = g.id_number
	   AND ROW(t.school_code, t.status) IS DISTINCT FROM
	       ROW(COALESCE(g.to_school_code, t.school_code), COALESCE(g.status, t.status))
	RETURNING 1
)
SELECT count(*) FROM upd
$$;

ALTER TABLE tmis."education" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;

ALTER TABLE tmis."work_history" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;

ALTER TABLE tmis."post_appointment" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;

ALTER TABLE tmis."title_appointment" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;

ALTER TABLE tmis."pay" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;

ALTER TABLE tmis."assessment" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;

ALTER TABLE tmis."qualification" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;

ALTER TABLE tmis."ethics" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;

ALTER TABLE tmis."teaching" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;

ALTER TABLE tmis."research_award" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;

ALTER TABLE tmis."talent_program" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;

ALTER TABLE tmis."training" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;

ALTER TABLE tmis."overseas_study" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;

ALTER TABLE tmis."certificate" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;

ALTER TABLE tmis."exchange_rotation" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;

ALTER TABLE tmis."change_event" ADD COLUMN current boolean NOT NULL DEFAULT true,
	ADD COLUMN superseded_at timestamptz, ADD COLUMN superseded_load bigint;
