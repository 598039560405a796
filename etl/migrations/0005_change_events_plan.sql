-- apply_change_events: pick the teachers with events in the load by a
-- semi-join instead of joining every event to a DISTINCT list, which the
-- planner turned into a quadratic nested loop on fresh tables.
CREATE OR REPLACE FUNCTION tmis.apply_change_events(p_load bigint) RETURNS bigint
LANGUAGE sql AS $$
WITH ev AS (
	SELECT e.id_type, e.id_number, e.effective_date, e.change_no,
	       e.to_school_code, k.status, k.moves_school
	  FROM tmis.change_event e
	  JOIN tmis.change_kind_effect k ON k.kind = e.kind
	 WHERE (e.id_type, e.id_number) IN
	       (SELECT id_type, id_number FROM tmis.change_event WHERE load_id = p_load)
), school AS (
	SELECT DISTINCT ON (id_type, id_number) id_type, id_number, to_school_code
	  FROM ev WHERE moves_school AND to_school_code IS NOT NULL
	 ORDER BY id_type, id_number, effective_date DESC, change_no DESC
), status AS (
	SELECT DISTINCT ON (id_type, id_number) id_type, id_number, status
	  FROM ev WHERE status IS NOT NULL
	 ORDER BY id_type, id_number, effective_date DESC, change_no DESC
), target AS (
	SELECT coalesce(s.id_type, st.id_type) AS id_type,
	       coalesce(s.id_number, st.id_number) AS id_number,
	       s.to_school_code, st.status
	  FROM school s FULL JOIN status st
	    ON st.id_type = s.id_type AND st.id_number = s.id_number
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
