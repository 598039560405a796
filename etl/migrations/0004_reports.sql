-- 0004_reports: what the reports need beyond the loader's tables.
-- The school of a rejected row, so `tmisgw report quality` can count rejects
-- per school. The reject's teacher_key is masked and cannot be joined, so
-- the loader fills this from the row's school_code (teacher rows) or from
-- the stored teacher (other categories); NULL where neither is known.
ALTER TABLE tmis.load_reject ADD COLUMN school_code text;
COMMENT ON COLUMN tmis.load_reject.school_code IS
	'school of the rejected row where known (the row''s own school_code, else its teacher''s), else NULL';
CREATE INDEX load_reject_load_id_school_idx ON tmis.load_reject (load_id, school_code);
