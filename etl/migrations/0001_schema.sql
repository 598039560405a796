-- 0001_schema: the unified teacher schema (tmis), generated from
-- mappings/schema.tsv: one table per category, columns in canonical order,
-- then bookkeeping. Run by db_migrate inside its transaction; no BEGIN/COMMIT.

CREATE SCHEMA IF NOT EXISTS tmis;

CREATE TABLE IF NOT EXISTS tmis.schema_migrations (
	version    int PRIMARY KEY,
	name       text NOT NULL,
	applied_at timestamptz NOT NULL DEFAULT now()
);

CREATE SEQUENCE tmis.change_no_seq;

CREATE TABLE tmis."teacher" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"name"                   text,
	"former_name"            text,
	"gender"                 text,
	"birth_date"             date,
	"nationality"            text,
	"ethnicity"              text,
	"political_status"       text,
	"native_place"           text,
	"marital_status"         text,
	"health_status"          text,
	"staff_no"               text,
	"school_code"            text,
	"indicator_set"          text,
	"work_start_month"       text CHECK ("work_start_month" ~ '^[0-9]{4}-[0-9]{2}$'),
	"school_join_month"      text CHECK ("school_join_month" ~ '^[0-9]{4}-[0-9]{2}$'),
	"staff_source"           text,
	"staff_category"         text,
	"on_establishment"       boolean,
	"employment_form"        text,
	"contract_status"        text,
	"free_normal_student"    boolean,
	"special_grade_teacher"  boolean,
	"status"                 text,
	"phone"                  text,
	"email"                  text,
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number")
);
COMMENT ON TABLE tmis."teacher" IS 'teacher';
COMMENT ON COLUMN tmis."teacher"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."teacher"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."teacher"."name" IS '姓名 [text(100)]';
COMMENT ON COLUMN tmis."teacher"."former_name" IS '曾用名 [text(100)]';
COMMENT ON COLUMN tmis."teacher"."gender" IS '性别 [code(gender)]';
COMMENT ON COLUMN tmis."teacher"."birth_date" IS '出生日期 [date]';
COMMENT ON COLUMN tmis."teacher"."nationality" IS '国籍/地区 [code(country)]';
COMMENT ON COLUMN tmis."teacher"."ethnicity" IS '民族 [code(ethnicity)]';
COMMENT ON COLUMN tmis."teacher"."political_status" IS '政治面貌 [code(political)]';
COMMENT ON COLUMN tmis."teacher"."native_place" IS '籍贯 [code(division)]';
COMMENT ON COLUMN tmis."teacher"."marital_status" IS '婚姻状况 [code(marital)]';
COMMENT ON COLUMN tmis."teacher"."health_status" IS '健康状况 [code(health)]';
COMMENT ON COLUMN tmis."teacher"."staff_no" IS '教职工号 [text(40)]';
COMMENT ON COLUMN tmis."teacher"."school_code" IS '学校标识码 [school]';
COMMENT ON COLUMN tmis."teacher"."indicator_set" IS '指标集 [code(indicator_set)]';
COMMENT ON COLUMN tmis."teacher"."work_start_month" IS '参加工作年月 [month]';
COMMENT ON COLUMN tmis."teacher"."school_join_month" IS '进本校年月 [month]';
COMMENT ON COLUMN tmis."teacher"."staff_source" IS '教职工来源 [code(staff_source)]';
COMMENT ON COLUMN tmis."teacher"."staff_category" IS '教职工类别 [code(staff_category)]';
COMMENT ON COLUMN tmis."teacher"."on_establishment" IS '是否在编 [bool]';
COMMENT ON COLUMN tmis."teacher"."employment_form" IS '用人形式 [code(employment_form)]';
COMMENT ON COLUMN tmis."teacher"."contract_status" IS '签订合同情况 [code(contract)]';
COMMENT ON COLUMN tmis."teacher"."free_normal_student" IS '是否是免费(公费)师范生 [bool]';
COMMENT ON COLUMN tmis."teacher"."special_grade_teacher" IS '是否是特级教师 [bool]';
COMMENT ON COLUMN tmis."teacher"."status" IS '人员状态 [code(teacher_status)]';
COMMENT ON COLUMN tmis."teacher"."phone" IS '手机号码 [phone]';
COMMENT ON COLUMN tmis."teacher"."email" IS '电子信箱 [email]';

CREATE TABLE tmis."education" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"start_month"            text NOT NULL CHECK ("start_month" ~ '^[0-9]{4}-[0-9]{2}$'),
	"end_month"              text CHECK ("end_month" ~ '^[0-9]{4}-[0-9]{2}$'),
	"institution"            text,
	"major"                  text,
	"is_normal_major"        boolean,
	"edu_level"              text,
	"degree"                 text,
	"degree_country"         text,
	"study_mode"             text,
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "start_month")
);
COMMENT ON TABLE tmis."education" IS 'education';
COMMENT ON COLUMN tmis."education"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."education"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."education"."start_month" IS '入学年月 [month]';
COMMENT ON COLUMN tmis."education"."end_month" IS '毕业年月 [month]';
COMMENT ON COLUMN tmis."education"."institution" IS '学校(单位)名称 [text(200)]';
COMMENT ON COLUMN tmis."education"."major" IS '所学专业 [text(100)]';
COMMENT ON COLUMN tmis."education"."is_normal_major" IS '是否师范类专业 [bool]';
COMMENT ON COLUMN tmis."education"."edu_level" IS '学历 [code(edu_level)]';
COMMENT ON COLUMN tmis."education"."degree" IS '学位 [code(degree)]';
COMMENT ON COLUMN tmis."education"."degree_country" IS '学位授予国家(地区) [code(country)]';
COMMENT ON COLUMN tmis."education"."study_mode" IS '学习方式 [code(study_mode)]';

CREATE TABLE tmis."work_history" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"start_month"            text NOT NULL CHECK ("start_month" ~ '^[0-9]{4}-[0-9]{2}$'),
	"end_month"              text CHECK ("end_month" ~ '^[0-9]{4}-[0-9]{2}$'),
	"employer"               text,
	"position"               text,
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "start_month")
);
COMMENT ON TABLE tmis."work_history" IS 'work_history';
COMMENT ON COLUMN tmis."work_history"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."work_history"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."work_history"."start_month" IS '起始年月 [month]';
COMMENT ON COLUMN tmis."work_history"."end_month" IS '结束年月 [month]';
COMMENT ON COLUMN tmis."work_history"."employer" IS '任职单位名称 [text(200)]';
COMMENT ON COLUMN tmis."work_history"."position" IS '任职岗位 [text(100)]';

CREATE TABLE tmis."post_appointment" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"post_category"          text NOT NULL,
	"post_grade"             text,
	"start_month"            text NOT NULL CHECK ("start_month" ~ '^[0-9]{4}-[0-9]{2}$'),
	"end_month"              text CHECK ("end_month" ~ '^[0-9]{4}-[0-9]{2}$'),
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "post_category", "start_month")
);
COMMENT ON TABLE tmis."post_appointment" IS 'post_appointment';
COMMENT ON COLUMN tmis."post_appointment"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."post_appointment"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."post_appointment"."post_category" IS '岗位类别 [code(post_category)]';
COMMENT ON COLUMN tmis."post_appointment"."post_grade" IS '岗位等级 [code(post_grade)]';
COMMENT ON COLUMN tmis."post_appointment"."start_month" IS '聘任开始年月 [month]';
COMMENT ON COLUMN tmis."post_appointment"."end_month" IS '聘任结束年月 [month]';

CREATE TABLE tmis."title_appointment" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"title"                  text NOT NULL,
	"start_month"            text NOT NULL CHECK ("start_month" ~ '^[0-9]{4}-[0-9]{2}$'),
	"end_month"              text CHECK ("end_month" ~ '^[0-9]{4}-[0-9]{2}$'),
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "title", "start_month")
);
COMMENT ON TABLE tmis."title_appointment" IS 'title_appointment';
COMMENT ON COLUMN tmis."title_appointment"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."title_appointment"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."title_appointment"."title" IS '聘任专业技术职务 [code(title)]';
COMMENT ON COLUMN tmis."title_appointment"."start_month" IS '聘任开始年月 [month]';
COMMENT ON COLUMN tmis."title_appointment"."end_month" IS '聘任结束年月 [month]';

CREATE TABLE tmis."pay" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"year"                   smallint NOT NULL,
	"annual_pay"             numeric(14,4),
	"basic_pay"              numeric(14,4),
	"performance_pay"        numeric(14,4),
	"allowances"             numeric(14,4),
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "year")
);
COMMENT ON TABLE tmis."pay" IS 'pay';
COMMENT ON COLUMN tmis."pay"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."pay"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."pay"."year" IS '年度 [year]';
COMMENT ON COLUMN tmis."pay"."annual_pay" IS '年工资收入(元) [decimal(0,10000000)]';
COMMENT ON COLUMN tmis."pay"."basic_pay" IS '基本工资(元/月) [decimal(0,10000000)]';
COMMENT ON COLUMN tmis."pay"."performance_pay" IS '绩效工资(元/月) [decimal(0,10000000)]';
COMMENT ON COLUMN tmis."pay"."allowances" IS '津贴补贴(元/月) [decimal(0,10000000)]';

CREATE TABLE tmis."assessment" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"year"                   smallint NOT NULL,
	"result"                 text,
	"unit"                   text,
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "year")
);
COMMENT ON TABLE tmis."assessment" IS 'assessment';
COMMENT ON COLUMN tmis."assessment"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."assessment"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."assessment"."year" IS '考核年度 [year]';
COMMENT ON COLUMN tmis."assessment"."result" IS '考核结果 [code(assessment)]';
COMMENT ON COLUMN tmis."assessment"."unit" IS '考核单位名称 [text(200)]';

CREATE TABLE tmis."qualification" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"qualification_type"     text,
	"certificate_no"         text NOT NULL,
	"subject"                text,
	"issue_date"             date,
	"issuer"                 text,
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "certificate_no")
);
COMMENT ON TABLE tmis."qualification" IS 'qualification';
COMMENT ON COLUMN tmis."qualification"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."qualification"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."qualification"."qualification_type" IS '教师资格证种类 [code(qualification_type)]';
COMMENT ON COLUMN tmis."qualification"."certificate_no" IS '教师资格证号码 [certno]';
COMMENT ON COLUMN tmis."qualification"."subject" IS '任教学科 [text(100)]';
COMMENT ON COLUMN tmis."qualification"."issue_date" IS '证书颁发日期 [date]';
COMMENT ON COLUMN tmis."qualification"."issuer" IS '颁发机构 [text(200)]';

CREATE TABLE tmis."ethics" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"kind"                   text NOT NULL,
	"date"                   date NOT NULL,
	"title"                  text,
	"level"                  text,
	"issuer"                 text,
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "kind", "date")
);
COMMENT ON TABLE tmis."ethics" IS 'ethics';
COMMENT ON COLUMN tmis."ethics"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."ethics"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."ethics"."kind" IS '类别 [code(ethics_kind)]';
COMMENT ON COLUMN tmis."ethics"."date" IS '日期 [date]';
COMMENT ON COLUMN tmis."ethics"."title" IS '名称 [text(200)]';
COMMENT ON COLUMN tmis."ethics"."level" IS '级别 [text(50)]';
COMMENT ON COLUMN tmis."ethics"."issuer" IS '授予/处理单位 [text(200)]';

CREATE TABLE tmis."teaching" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"school_year"            text NOT NULL,
	"term"                   integer NOT NULL,
	"subject"                text NOT NULL,
	"grade"                  text,
	"weekly_hours"           numeric(14,4),
	"other_duties"           text,
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "school_year", "term", "subject")
);
COMMENT ON TABLE tmis."teaching" IS 'teaching';
COMMENT ON COLUMN tmis."teaching"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."teaching"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."teaching"."school_year" IS '学年 [schoolyear]';
COMMENT ON COLUMN tmis."teaching"."term" IS '学期 [int(1,2)]';
COMMENT ON COLUMN tmis."teaching"."subject" IS '任教学科 [text(100)]';
COMMENT ON COLUMN tmis."teaching"."grade" IS '任教年级 [text(50)]';
COMMENT ON COLUMN tmis."teaching"."weekly_hours" IS '周课时数 [decimal(0,80)]';
COMMENT ON COLUMN tmis."teaching"."other_duties" IS '承担的其他工作 [text(200)]';

CREATE TABLE tmis."research_award" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"kind"                   text NOT NULL,
	"title"                  text NOT NULL,
	"date"                   date,
	"role"                   text,
	"level"                  text,
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "kind", "title")
);
COMMENT ON TABLE tmis."research_award" IS 'research_award';
COMMENT ON COLUMN tmis."research_award"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."research_award"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."research_award"."kind" IS '成果/获奖类别 [text(50)]';
COMMENT ON COLUMN tmis."research_award"."title" IS '名称 [text(300)]';
COMMENT ON COLUMN tmis."research_award"."date" IS '日期 [date]';
COMMENT ON COLUMN tmis."research_award"."role" IS '本人角色 [text(50)]';
COMMENT ON COLUMN tmis."research_award"."level" IS '级别 [text(50)]';

CREATE TABLE tmis."talent_program" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"program"                text NOT NULL,
	"year"                   smallint NOT NULL,
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "program", "year")
);
COMMENT ON TABLE tmis."talent_program" IS 'talent_program';
COMMENT ON COLUMN tmis."talent_program"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."talent_program"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."talent_program"."program" IS '人才项目名称 [text(200)]';
COMMENT ON COLUMN tmis."talent_program"."year" IS '入选年份 [year]';

CREATE TABLE tmis."training" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"project"                text NOT NULL,
	"start_date"             date NOT NULL,
	"end_date"               date,
	"kind"                   text,
	"hours"                  numeric(14,4),
	"credits"                numeric(14,4),
	"provider"               text,
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "project", "start_date")
);
COMMENT ON TABLE tmis."training" IS 'training';
COMMENT ON COLUMN tmis."training"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."training"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."training"."project" IS '培训项目名称 [text(300)]';
COMMENT ON COLUMN tmis."training"."start_date" IS '培训开始日期 [date]';
COMMENT ON COLUMN tmis."training"."end_date" IS '培训结束日期 [date]';
COMMENT ON COLUMN tmis."training"."kind" IS '培训类别 [code(training_kind)]';
COMMENT ON COLUMN tmis."training"."hours" IS '学时 [decimal(0,2000)]';
COMMENT ON COLUMN tmis."training"."credits" IS '学分 [decimal(0,200)]';
COMMENT ON COLUMN tmis."training"."provider" IS '培训机构名称 [text(200)]';

CREATE TABLE tmis."overseas_study" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"start_date"             date NOT NULL,
	"end_date"               date,
	"country"                text,
	"institution"            text,
	"project"                text,
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "start_date")
);
COMMENT ON TABLE tmis."overseas_study" IS 'overseas_study';
COMMENT ON COLUMN tmis."overseas_study"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."overseas_study"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."overseas_study"."start_date" IS '开始日期 [date]';
COMMENT ON COLUMN tmis."overseas_study"."end_date" IS '结束日期 [date]';
COMMENT ON COLUMN tmis."overseas_study"."country" IS '国家(地区) [code(country)]';
COMMENT ON COLUMN tmis."overseas_study"."institution" IS '研修(访学)机构名称 [text(200)]';
COMMENT ON COLUMN tmis."overseas_study"."project" IS '项目名称 [text(200)]';

CREATE TABLE tmis."certificate" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"name"                   text NOT NULL,
	"level"                  text,
	"issue_date"             date,
	"issuer"                 text,
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "name")
);
COMMENT ON TABLE tmis."certificate" IS 'certificate';
COMMENT ON COLUMN tmis."certificate"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."certificate"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."certificate"."name" IS '证书名称 [text(200)]';
COMMENT ON COLUMN tmis."certificate"."level" IS '证书等级 [text(50)]';
COMMENT ON COLUMN tmis."certificate"."issue_date" IS '发证日期 [date]';
COMMENT ON COLUMN tmis."certificate"."issuer" IS '发证单位 [text(200)]';

CREATE TABLE tmis."exchange_rotation" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"start_date"             date NOT NULL,
	"end_date"               date,
	"kind"                   text,
	"from_school_code"       text,
	"to_school_code"         text,
	"personnel_transferred"  boolean,
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "start_date")
);
COMMENT ON TABLE tmis."exchange_rotation" IS 'exchange_rotation';
COMMENT ON COLUMN tmis."exchange_rotation"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."exchange_rotation"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."exchange_rotation"."start_date" IS '开始日期 [date]';
COMMENT ON COLUMN tmis."exchange_rotation"."end_date" IS '结束日期 [date]';
COMMENT ON COLUMN tmis."exchange_rotation"."kind" IS '交流轮岗类型 [code(rotation_kind)]';
COMMENT ON COLUMN tmis."exchange_rotation"."from_school_code" IS '原单位学校标识码 [school]';
COMMENT ON COLUMN tmis."exchange_rotation"."to_school_code" IS '交流轮岗单位学校标识码 [school]';
COMMENT ON COLUMN tmis."exchange_rotation"."personnel_transferred" IS '是否调动人事关系 [bool]';

CREATE TABLE tmis."change_event" (
	"id_type"                text NOT NULL,
	"id_number"              text NOT NULL,
	"kind"                   text NOT NULL,
	"effective_date"         date NOT NULL,
	"from_school_code"       text,
	"to_school_code"         text,
	"note"                   text,
	extra                    jsonb,
	load_id                  bigint,
	change_no                bigint NOT NULL DEFAULT nextval('tmis.change_no_seq'),
	updated_at               timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY ("id_type", "id_number", "kind", "effective_date")
);
COMMENT ON TABLE tmis."change_event" IS 'change_event';
COMMENT ON COLUMN tmis."change_event"."id_type" IS '证件类型 [code(id_type)]';
COMMENT ON COLUMN tmis."change_event"."id_number" IS '身份证件号 [idnumber]';
COMMENT ON COLUMN tmis."change_event"."kind" IS '变动类型 [code(change_kind)]';
COMMENT ON COLUMN tmis."change_event"."effective_date" IS '生效日期 [date]';
COMMENT ON COLUMN tmis."change_event"."from_school_code" IS '原学校标识码 [school]';
COMMENT ON COLUMN tmis."change_event"."to_school_code" IS '现学校标识码 [school]';
COMMENT ON COLUMN tmis."change_event"."note" IS '备注 [text(500)]';

CREATE INDEX teacher_school_code_idx ON tmis.teacher (school_code);

CREATE TABLE tmis.code_set (
	name     text PRIMARY KEY,
	label    text,
	standard text
);

CREATE TABLE tmis.code_value (
	set_name    text REFERENCES tmis.code_set ON DELETE CASCADE,
	code        text,
	label       text,
	provisional boolean NOT NULL DEFAULT false,
	PRIMARY KEY (set_name, code)
);

-- field '*' records that the category applies to the indicator set at all.
CREATE TABLE tmis.indicator_requirement (
	set_name    text,
	category    text,
	field       text,
	requirement text CHECK (requirement IN ('applicable', 'required')),
	PRIMARY KEY (set_name, category, field)
);

CREATE TABLE tmis.load_run (
	id              bigserial PRIMARY KEY,
	started_at      timestamptz NOT NULL DEFAULT now(),
	finished_at     timestamptz,
	status          text NOT NULL
	                CHECK (status IN ('committed', 'refused', 'dry_run', 'failed')),
	files           text[] NOT NULL,
	rows_read       bigint,
	inserted        bigint,
	updated         bigint,
	unchanged       bigint,
	rejected        bigint,
	duration_ms     bigint,
	max_reject_rate numeric,
	note            text
);

CREATE TABLE tmis.load_file (
	load_id   bigint REFERENCES tmis.load_run ON DELETE CASCADE,
	seq       int,
	file      text,
	category  text,
	mapping   text,
	rows_read bigint,
	inserted  bigint,
	updated   bigint,
	unchanged bigint,
	rejected  bigint,
	PRIMARY KEY (load_id, seq)
);

-- teacher_key and value are stored masked (value also truncated).
CREATE TABLE tmis.load_reject (
	load_id     bigint REFERENCES tmis.load_run ON DELETE CASCADE,
	file        text,
	line        bigint,
	category    text,
	teacher_key text,
	field       text,
	rule        text NOT NULL,
	value       text,
	message     text
);
CREATE INDEX load_reject_load_id_rule_idx ON tmis.load_reject (load_id, rule);
