-- Provenance: (load_id, src_line) name the load and the input line that last
-- wrote each record, so a reject found after the rows are in place still names
-- its line, and an operator can trace any stored record to its source.
ALTER TABLE tmis."teacher" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."teacher".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."education" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."education".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."work_history" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."work_history".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."post_appointment" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."post_appointment".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."title_appointment" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."title_appointment".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."pay" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."pay".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."assessment" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."assessment".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."qualification" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."qualification".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."ethics" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."ethics".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."teaching" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."teaching".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."research_award" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."research_award".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."talent_program" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."talent_program".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."training" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."training".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."overseas_study" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."overseas_study".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."certificate" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."certificate".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."exchange_rotation" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."exchange_rotation".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
ALTER TABLE tmis."change_event" ADD COLUMN src_line bigint;
COMMENT ON COLUMN tmis."change_event".src_line IS 'input line (or record number) that last wrote this row, in load load_id';
