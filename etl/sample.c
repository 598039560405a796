/*
 * sample: streaming generator of a realistic, reproducible teacher province.
 *
 * Teacher i (0 <= i < N) is made from i alone plus two PRNG streams: the
 * identity (division, birth date, sequence) is an affine bijection of i over
 * the space divisions x birth days x 500, so ID numbers are unique without
 * remembering any; the school is i / 60 and everything about a school is a
 * hash of its number. Nothing held in memory grows with N.
 *
 * Two xoshiro256** streams: "rng" draws the clean data, "drng" every dirty
 * decision and every injected row, so a dirty sample differs from the clean
 * sample of the same seed only in the rows made dirty.
 *
 * Dirty teacher rows keep their children: those rows still carry the
 * teacher's real (valid) key, so they load when the loader does not require
 * the teacher row, and are unknown_teacher rejects when it does. A
 * "duplicate" teacher row carries the previous teacher's key instead of its
 * own (its own teacher row is then missing, same consequence for children).
 */
#include "sample.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#define OUT_BUFSZ (1 << 20)
#define LINE_MAX_BYTES 16384
#define REC_BYTES 8192
#define PER_SCHOOL 60
#define NDIVISIONS 80 /* 8 cities x 10 counties */
#define SEQ_SLOTS 500 /* sequences per gender */

/* ---- categories and fields this generator knows ------------------------ */

enum cat {
	C_TEACHER, C_EDUCATION, C_WORK, C_POST, C_TITLE, C_PAY, C_ASSESS,
	C_QUAL, C_ETHICS, C_TEACHING, C_RESEARCH, C_TALENT, C_TRAINING,
	C_OVERSEAS, C_CERT, C_EXCHANGE, C_CHANGE, NCAT
};

static const char *const cat_names[NCAT] = {
	"teacher", "education", "work_history", "post_appointment",
	"title_appointment", "pay", "assessment", "qualification", "ethics",
	"teaching", "research_award", "talent_program", "training",
	"overseas_study", "certificate", "exchange_rotation", "change_event",
};

/* Mean rows per applicable teacher: the rate of "not_applicable" rows. */
static const double cat_mean_rows[NCAT] = {
	1, 1.6, 1.4, 1.5, 1.5, 3, 3, 1, 0.25, 2, 0.75, 0.03, 6, 0.02, 0.8,
	0.08, 1.4,
};

enum fld {
	F_ID_TYPE, F_ID_NUMBER, F_NAME, F_FORMER_NAME, F_GENDER, F_BIRTH_DATE,
	F_NATIONALITY, F_ETHNICITY, F_POLITICAL, F_NATIVE_PLACE, F_MARITAL,
	F_HEALTH, F_STAFF_NO, F_SCHOOL_CODE, F_INDICATOR_SET, F_WORK_START,
	F_SCHOOL_JOIN, F_STAFF_SOURCE, F_STAFF_CATEGORY, F_ON_EST,
	F_EMPLOYMENT, F_CONTRACT, F_FREE_NORMAL, F_SPECIAL_GRADE, F_STATUS,
	F_PHONE, F_EMAIL, F_START_MONTH, F_END_MONTH, F_INSTITUTION, F_MAJOR,
	F_IS_NORMAL, F_EDU_LEVEL, F_DEGREE, F_DEGREE_COUNTRY, F_STUDY_MODE,
	F_EMPLOYER, F_POSITION, F_POST_CATEGORY, F_POST_GRADE, F_TITLE, F_YEAR,
	F_ANNUAL_PAY, F_BASIC_PAY, F_PERF_PAY, F_ALLOWANCES, F_RESULT, F_UNIT,
	F_QTYPE, F_CERTNO, F_SUBJECT, F_ISSUE_DATE, F_ISSUER, F_KIND, F_DATE,
	F_LEVEL, F_SCHOOL_YEAR, F_TERM, F_GRADE, F_WEEKLY_HOURS,
	F_OTHER_DUTIES, F_ROLE, F_PROGRAM, F_PROJECT, F_START_DATE, F_END_DATE,
	F_HOURS, F_CREDITS, F_PROVIDER, F_COUNTRY, F_FROM_SCHOOL, F_TO_SCHOOL,
	F_PERSONNEL, F_EFFECTIVE, F_NOTE, NFLD
};

static const char *const fld_names[NFLD] = {
	"id_type", "id_number", "name", "former_name", "gender", "birth_date",
	"nationality", "ethnicity", "political_status", "native_place",
	"marital_status", "health_status", "staff_no", "school_code",
	"indicator_set", "work_start_month", "school_join_month",
	"staff_source", "staff_category", "on_establishment",
	"employment_form", "contract_status", "free_normal_student",
	"special_grade_teacher", "status", "phone", "email", "start_month",
	"end_month", "institution", "major", "is_normal_major", "edu_level",
	"degree", "degree_country", "study_mode", "employer", "position",
	"post_category", "post_grade", "title", "year", "annual_pay",
	"basic_pay", "performance_pay", "allowances", "result", "unit",
	"qualification_type", "certificate_no", "subject", "issue_date",
	"issuer", "kind", "date", "level", "school_year", "term", "grade",
	"weekly_hours", "other_duties", "role", "program", "project",
	"start_date", "end_date", "hours", "credits", "provider", "country",
	"from_school_code", "to_school_code", "personnel_transferred",
	"effective_date", "note",
};

/* ---- indicator sets ----------------------------------------------------- */

enum iset {
	S_K12, S_KG, S_SECVOC, S_HIGHVOC, S_UNIV, S_SPECIAL, S_OTHER, NSET
};

static const char *const set_names[NSET] = {
	"k12", "kindergarten", "secondary_vocational", "higher_vocational",
	"university", "special_education", "other",
};

/* Schools per mille of each kind. */
static const unsigned set_weight[NSET] = { 700, 130, 60, 35, 45, 15, 15 };
static const double set_female[NSET] = {
	0.72, 0.97, 0.55, 0.50, 0.48, 0.75, 0.60
};

/* ---- small tables ------------------------------------------------------- */

struct prov {
	char code[3];
	const char *name, *full;
};

/* The last three are never generated (no sample for them). */
static const struct prov provinces[] = {
	{ "11", "北京", "北京市" }, { "12", "天津", "天津市" },
	{ "13", "河北", "河北省" }, { "14", "山西", "山西省" },
	{ "15", "内蒙古", "内蒙古自治区" }, { "21", "辽宁", "辽宁省" },
	{ "22", "吉林", "吉林省" }, { "23", "黑龙江", "黑龙江省" },
	{ "31", "上海", "上海市" }, { "32", "江苏", "江苏省" },
	{ "33", "浙江", "浙江省" }, { "34", "安徽", "安徽省" },
	{ "35", "福建", "福建省" }, { "36", "江西", "江西省" },
	{ "37", "山东", "山东省" }, { "41", "河南", "河南省" },
	{ "42", "湖北", "湖北省" }, { "43", "湖南", "湖南省" },
	{ "44", "广东", "广东省" }, { "45", "广西", "广西壮族自治区" },
	{ "46", "海南", "海南省" }, { "50", "重庆", "重庆市" },
	{ "51", "四川", "四川省" }, { "52", "贵州", "贵州省" },
	{ "53", "云南", "云南省" }, { "54", "西藏", "西藏自治区" },
	{ "61", "陕西", "陕西省" }, { "62", "甘肃", "甘肃省" },
	{ "63", "青海", "青海省" }, { "64", "宁夏", "宁夏回族自治区" },
	{ "65", "新疆", "新疆维吾尔自治区" },
	{ "66", "兵团", "新疆生产建设兵团" },
	{ "71", "台湾", "台湾省" }, { "81", "香港", "香港特别行政区" },
	{ "82", "澳门", "澳门特别行政区" },
};
#define NPROV (sizeof(provinces) / sizeof(provinces[0]))

struct py {
	const char *han, *pinyin;
};

static const struct py surnames[] = {
	{ "王", "wang" }, { "李", "li" }, { "张", "zhang" }, { "刘", "liu" },
	{ "陈", "chen" }, { "杨", "yang" }, { "黄", "huang" }, { "赵", "zhao" },
	{ "吴", "wu" }, { "周", "zhou" }, { "徐", "xu" }, { "孙", "sun" },
	{ "马", "ma" }, { "朱", "zhu" }, { "胡", "hu" }, { "郭", "guo" },
	{ "何", "he" }, { "高", "gao" }, { "林", "lin" }, { "罗", "luo" },
	{ "郑", "zheng" }, { "梁", "liang" }, { "谢", "xie" }, { "宋", "song" },
	{ "唐", "tang" }, { "许", "xu" }, { "韩", "han" }, { "冯", "feng" },
	{ "邓", "deng" }, { "曹", "cao" }, { "彭", "peng" }, { "曾", "zeng" },
	{ "肖", "xiao" }, { "田", "tian" }, { "董", "dong" }, { "袁", "yuan" },
	{ "潘", "pan" }, { "于", "yu" }, { "蒋", "jiang" }, { "蔡", "cai" },
	{ "余", "yu" }, { "杜", "du" }, { "叶", "ye" }, { "程", "cheng" },
	{ "苏", "su" }, { "魏", "wei" }, { "吕", "lv" }, { "丁", "ding" },
	{ "任", "ren" }, { "沈", "shen" }, { "姚", "yao" }, { "卢", "lu" },
	{ "姜", "jiang" }, { "崔", "cui" }, { "钟", "zhong" }, { "谭", "tan" },
	{ "陆", "lu" }, { "汪", "wang" }, { "范", "fan" }, { "金", "jin" },
	{ "石", "shi" }, { "廖", "liao" }, { "贾", "jia" }, { "夏", "xia" },
	{ "韦", "wei" }, { "付", "fu" }, { "方", "fang" }, { "白", "bai" },
	{ "邹", "zou" }, { "孟", "meng" }, { "熊", "xiong" }, { "秦", "qin" },
	{ "邱", "qiu" }, { "江", "jiang" }, { "尹", "yin" }, { "薛", "xue" },
	{ "闫", "yan" }, { "段", "duan" }, { "雷", "lei" }, { "侯", "hou" },
	{ "龙", "long" }, { "史", "shi" }, { "陶", "tao" }, { "黎", "li" },
	{ "贺", "he" }, { "顾", "gu" }, { "毛", "mao" }, { "郝", "hao" },
	{ "龚", "gong" }, { "邵", "shao" }, { "万", "wan" }, { "钱", "qian" },
	{ "严", "yan" }, { "覃", "qin" }, { "武", "wu" }, { "戴", "dai" },
	{ "莫", "mo" }, { "孔", "kong" }, { "向", "xiang" }, { "汤", "tang" },
	{ "欧阳", "ouyang" }, { "司马", "sima" }, { "上官", "shangguan" },
};
#define NSURNAMES (sizeof(surnames) / sizeof(surnames[0]))

static const struct py given_f[] = {
	{ "芳", "fang" }, { "娜", "na" }, { "敏", "min" }, { "静", "jing" },
	{ "丽", "li" }, { "艳", "yan" }, { "娟", "juan" }, { "霞", "xia" },
	{ "燕", "yan" }, { "玲", "ling" }, { "婷", "ting" }, { "雪", "xue" },
	{ "慧", "hui" }, { "莉", "li" }, { "颖", "ying" }, { "琳", "lin" },
	{ "倩", "qian" }, { "晶", "jing" }, { "洁", "jie" }, { "萍", "ping" },
	{ "红", "hong" }, { "梅", "mei" }, { "琴", "qin" }, { "云", "yun" },
	{ "华", "hua" }, { "秀", "xiu" }, { "英", "ying" }, { "佳", "jia" },
	{ "欣", "xin" }, { "悦", "yue" }, { "雨", "yu" }, { "晓", "xiao" },
	{ "月", "yue" }, { "春", "chun" }, { "琪", "qi" }, { "思", "si" },
	{ "璐", "lu" }, { "丹", "dan" }, { "蕾", "lei" }, { "薇", "wei" },
	{ "瑶", "yao" }, { "怡", "yi" }, { "妍", "yan" }, { "楠", "nan" },
};
#define NGIVEN_F (sizeof(given_f) / sizeof(given_f[0]))

static const struct py given_m[] = {
	{ "伟", "wei" }, { "强", "qiang" }, { "磊", "lei" }, { "军", "jun" },
	{ "勇", "yong" }, { "杰", "jie" }, { "涛", "tao" }, { "明", "ming" },
	{ "超", "chao" }, { "刚", "gang" }, { "平", "ping" }, { "辉", "hui" },
	{ "鹏", "peng" }, { "华", "hua" }, { "飞", "fei" }, { "鑫", "xin" },
	{ "波", "bo" }, { "斌", "bin" }, { "宇", "yu" }, { "浩", "hao" },
	{ "凯", "kai" }, { "健", "jian" }, { "俊", "jun" }, { "帆", "fan" },
	{ "旭", "xu" }, { "宁", "ning" }, { "龙", "long" }, { "林", "lin" },
	{ "博", "bo" }, { "文", "wen" }, { "峰", "feng" }, { "建", "jian" },
	{ "国", "guo" }, { "志", "zhi" }, { "海", "hai" }, { "东", "dong" },
	{ "亮", "liang" }, { "成", "cheng" }, { "晨", "chen" }, { "轩", "xuan" },
};
#define NGIVEN_M (sizeof(given_m) / sizeof(given_m[0]))

static const char *const mail_domains[] = {
	"163.com", "126.com", "qq.com", "sina.com", "139.com", "foxmail.com",
	"outlook.com", "sohu.com",
};
#define NMAIL (sizeof(mail_domains) / sizeof(mail_domains[0]))

static const char *const phone_prefixes[] = {
	"130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
	"150", "151", "152", "153", "155", "156", "157", "158", "159", "166",
	"170", "176", "177", "178", "180", "181", "182", "183", "184", "185",
	"186", "187", "188", "189", "191", "198", "199",
};
#define NPHONE (sizeof(phone_prefixes) / sizeof(phone_prefixes[0]))

static const char *const districts[] = {
	"城关", "新华", "红旗", "东城", "西城", "南关", "北关", "城东", "城西",
	"朝阳", "胜利", "解放", "人民", "光明", "建设", "和平", "长安", "滨河",
	"金水", "高新", "开发", "青山", "文化", "花园",
};
#define NDISTRICTS (sizeof(districts) / sizeof(districts[0]))

static const char *const cn_num[] = {
	"一", "二", "三", "四", "五", "六", "七", "八", "九", "十", "十一",
	"十二", "十三", "十四", "十五", "十六",
};
#define NCN_NUM (sizeof(cn_num) / sizeof(cn_num[0]))

struct subject {
	const char *subject, *major;
	unsigned char sets; /* bit per enum iset */
};

#define B(s) (1u << (s))
#define SCHOOL_SETS (B(S_K12) | B(S_SPECIAL) | B(S_OTHER))

static const struct subject subjects[] = {
	{ "语文", "汉语言文学", SCHOOL_SETS | B(S_SECVOC) },
	{ "数学", "数学与应用数学", SCHOOL_SETS | B(S_SECVOC) },
	{ "英语", "英语", SCHOOL_SETS | B(S_SECVOC) },
	{ "物理", "物理学", B(S_K12) },
	{ "化学", "化学", B(S_K12) },
	{ "生物", "生物科学", B(S_K12) },
	{ "历史", "历史学", B(S_K12) },
	{ "地理", "地理科学", B(S_K12) },
	{ "道德与法治", "思想政治教育", B(S_K12) | B(S_OTHER) },
	{ "音乐", "音乐学", SCHOOL_SETS },
	{ "体育", "体育教育", SCHOOL_SETS },
	{ "美术", "美术学", SCHOOL_SETS },
	{ "信息技术", "计算机科学与技术", B(S_K12) | B(S_OTHER) },
	{ "科学", "科学教育", B(S_K12) },
	{ "学前教育", "学前教育", B(S_KG) },
	{ "特殊教育", "特殊教育", B(S_SPECIAL) },
	{ "康复训练", "康复治疗学", B(S_SPECIAL) },
	{ "机电技术应用", "机械设计制造及其自动化", B(S_SECVOC) },
	{ "计算机应用", "计算机科学与技术", B(S_SECVOC) | B(S_HIGHVOC) },
	{ "会计", "会计学", B(S_SECVOC) | B(S_HIGHVOC) },
	{ "护理", "护理学", B(S_SECVOC) | B(S_HIGHVOC) },
	{ "电子商务", "电子商务", B(S_SECVOC) | B(S_HIGHVOC) },
	{ "高等数学", "数学与应用数学", B(S_HIGHVOC) | B(S_UNIV) },
	{ "大学英语", "英语", B(S_HIGHVOC) | B(S_UNIV) },
	{ "计算机科学", "计算机科学与技术", B(S_UNIV) },
	{ "机械工程", "机械工程", B(S_UNIV) | B(S_HIGHVOC) },
	{ "临床医学", "临床医学", B(S_UNIV) },
	{ "经济学", "经济学", B(S_UNIV) },
	{ "汉语言文学", "汉语言文学", B(S_UNIV) },
	{ "教育学", "教育学", B(S_UNIV) | B(S_OTHER) },
};
#define NSUBJECTS (sizeof(subjects) / sizeof(subjects[0]))

static const char *const national_univs[] = {
	"北京师范大学", "华东师范大学", "华中师范大学", "东北师范大学",
	"陕西师范大学", "西南大学", "南京师范大学", "首都师范大学",
	"华南师范大学", "湖南师范大学",
};
#define NNATUNIV (sizeof(national_univs) / sizeof(national_univs[0]))

static const char *const prov_univ_suffix[] = {
	"师范大学", "大学", "师范学院", "理工大学", "科技大学",
};
#define NPUNIV (sizeof(prov_univ_suffix) / sizeof(prov_univ_suffix[0]))

struct abroad {
	const char *country, *institution;
};

static const struct abroad abroad[] = {
	{ "840", "哥伦比亚大学教师学院" }, { "826", "伦敦大学学院教育学院" },
	{ "036", "墨尔本大学" }, { "124", "多伦多大学" },
	{ "392", "东京学艺大学" }, { "702", "南洋理工大学国立教育学院" },
	{ "246", "赫尔辛基大学" }, { "276", "海德堡大学" },
	{ "410", "首尔大学" }, { "554", "奥克兰大学" },
};
#define NABROAD (sizeof(abroad) / sizeof(abroad[0]))

static const char *const overseas_projects[] = {
	"国家留学基金委访问学者项目", "省级骨干教师海外研修项目",
	"校际交流访学项目", "中外合作办学师资培训项目",
};

static const char *const training_projects[] = {
	"国培计划—中小学骨干教师培训", "省培计划—乡村教师能力提升培训",
	"新任教师岗前培训", "班主任能力提升培训",
	"信息技术应用能力提升工程2.0", "师德师风专题培训",
	"学科教学能力提升研修", "心理健康教育专题培训", "校本研修",
	"名师工作室研修", "新课程标准专题培训", "作业设计与评价专题培训",
	"安全教育专题培训", "教育科研方法培训",
};
#define NTPROJ (sizeof(training_projects) / sizeof(training_projects[0]))

static const char *const research_kinds[] = {
	"论文", "课题", "著作", "教学成果奖", "优质课", "专利",
};
#define NRKINDS (sizeof(research_kinds) / sizeof(research_kinds[0]))

static const char *const research_topics[] = {
	"核心素养导向的教学设计", "大单元教学", "分层作业设计",
	"信息技术与课堂融合", "项目式学习", "课堂提问策略",
	"学习评价改革", "跨学科主题学习", "家校协同育人", "劳动教育实践",
};
#define NRTOPICS (sizeof(research_topics) / sizeof(research_topics[0]))

static const char *const research_roles[] = {
	"独立完成", "第一作者", "主持人", "参与者",
};

static const char *const levels5[] = {
	"国家级", "省级", "市级", "县级", "校级",
};

static const char *const ethics_titles[] = {
	"优秀教师", "师德标兵", "优秀班主任", "模范教师", "最美教师",
	"优秀教育工作者",
};
#define NETHICS (sizeof(ethics_titles) / sizeof(ethics_titles[0]))

static const char *const talent_programs[] = {
	"国家级教学名师", "省级骨干教师", "市级骨干教师", "省级学科带头人",
	"市级学科带头人", "乡村优秀青年教师培养计划", "特支计划教学名师",
};
#define NTALENT (sizeof(talent_programs) / sizeof(talent_programs[0]))

struct certdef {
	const char *name, *issuer;
	const char *levels[3];
};

static const struct certdef certdefs[] = {
	{ "普通话水平测试等级证书", "省语言文字工作委员会",
	  { "一级乙等", "二级甲等", "二级乙等" } },
	{ "全国计算机等级考试证书", "教育部教育考试院",
	  { "一级", "二级", "三级" } },
	{ "心理健康教育教师资格证书", "省教育厅", { "C证", "B证", "C证" } },
	{ "大学英语等级证书", "全国大学英语四六级考试委员会",
	  { "四级", "六级", "四级" } },
	{ "信息技术应用能力培训合格证书", "省教育厅",
	  { "合格", "合格", "合格" } },
	{ "育婴师职业资格证书", "人力资源和社会保障部门",
	  { "三级", "四级", "三级" } },
	{ "双师型教师资格证书", "省教育厅", { "初级", "中级", "高级" } },
};
#define NCERTDEFS (sizeof(certdefs) / sizeof(certdefs[0]))

/* Title series: k12-style, secondary vocational, higher education. */
/* Title series, lowest first: k12-style, secondary vocational, higher. */
static const char *const title_codes[3][5] = {
	{ "065", "064", "063", "062", "061" },
	{ "075", "074", "073", "072", "071" },
	{ "014", "013", "012", "011", NULL },
};
static const char *const title_labels[3][5] = {
	{ "三级教师", "二级教师", "一级教师", "高级教师", "正高级教师" },
	{ "教员", "助理讲师", "讲师(中职)", "高级讲师", "正高级讲师" },
	{ "助教", "讲师", "副教授", "教授", NULL },
};

/* ---- dirty rules --------------------------------------------------------- */

enum trule {
	TR_ID_CHECKSUM, TR_ID_DIVISION, TR_ID_BIRTH, TR_ID_LENGTH,
	TR_BIRTH_MISMATCH, TR_GENDER_MISMATCH, TR_CODE, TR_REQUIRED,
	TR_SCHOOL_CODE, TR_DATE, TR_MONTH, TR_FUTURE, TR_END_BEFORE_START,
	TR_PHONE, TR_EMAIL, TR_DUPLICATE, NTRULE
};

enum mrule {
	MR_NUMBER, MR_RANGE, MR_END_BEFORE_START, MR_CERTNO, MR_CERTTYPE,
	MR_SCHOOL_YEAR, MR_UNKNOWN_TEACHER, MR_CODE, MR_DATE, MR_FUTURE, NMRULE
};

/* What a multi-record row offers to its dirty rules; -1 = nothing. */
struct mctx {
	int start_f, end_f, period_is_month;
	long start;            /* days, or month index */
	int num_f;
	double num_max;
	int code_f;
	const char *bad_code;
	int date_f, date_is_month;
	int year;              /* year of the date_f value */
	int qual, school_year;
};

static void mctx_init(struct mctx *m)
{
	memset(m, 0, sizeof(*m));
	m->start_f = m->end_f = m->num_f = m->code_f = m->date_f = -1;
}

/* ---- PRNG ---------------------------------------------------------------- */

struct rng {
	uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static void rng_seed(struct rng *r, uint64_t seed)
{
	int i;

	for (i = 0; i < 4; i++)
		r->s[i] = splitmix64(&seed);
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

static inline uint64_t rnd64(struct rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

/* Uniform in [0, n), n > 0 (Lemire's multiply, bias negligible here). */
static inline unsigned rnd(struct rng *r, unsigned n)
{
	return (unsigned)(((rnd64(r) >> 32) * (uint64_t)n) >> 32);
}

static inline double rnd_unit(struct rng *r)
{
	return (double)(rnd64(r) >> 11) * 0x1p-53;
}

static inline uint64_t hash2(uint64_t a, uint64_t b)
{
	uint64_t x = a ^ (b * 0xd6e8feb86659fd93ULL);

	return splitmix64(&x);
}

/* ---- dates (days since 1970-01-01, months as y * 12 + m - 1) ----------- */

static long days_from_civil(int y, int m, int d)
{
	long era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d)
{
	long era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int mdays(int y, int m)
{
	static const unsigned char n[12] = {
		31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31
	};
	int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

	return m == 2 ? 28 + leap : n[m - 1];
}

static long month_first_day(int mi)
{
	return days_from_civil(mi / 12, mi % 12 + 1, 1);
}

/* ---- digits ------------------------------------------------------------- */

static inline char *put_pad(char *p, unsigned long v, int w)
{
	int i;

	for (i = w - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + w;
}

static inline char *put_uint(char *p, unsigned long v)
{
	char tmp[24];
	int n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_date(char *p, long days)
{
	int y, m, d;

	civil_from_days(days, &y, &m, &d);
	p = put_pad(p, (unsigned long)y, 4);
	*p++ = '-';
	p = put_pad(p, (unsigned long)m, 2);
	*p++ = '-';
	return put_pad(p, (unsigned long)d, 2);
}

static char *put_month(char *p, int mi)
{
	p = put_pad(p, (unsigned long)(mi / 12), 4);
	*p++ = '-';
	return put_pad(p, (unsigned long)(mi % 12 + 1), 2);
}

static char id_check(const char *s17)
{
	static const unsigned char w[17] = {
		7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2
	};
	unsigned sum = 0;
	int i;

	for (i = 0; i < 17; i++)
		sum += (unsigned)(s17[i] - '0') * w[i];
	return "10X98765432"[sum % 11];
}

/* ---- one record: values by enum fld, emitted in schema order ------------ */

struct rec {
	unsigned short off[NFLD], len[NFLD];
	unsigned char set[NFLD];
	size_t used;
	int open;                /* field being appended to, or -1 */
	int overflow;
	char buf[REC_BYTES];
};

static void rec_reset(struct rec *r)
{
	memset(r->set, 0, sizeof(r->set));
	r->used = 0;
	r->open = -1;
}

/* Reserve n bytes as the whole value of f; NULL only on internal overflow. */
static char *rec_slot(struct rec *r, int f, size_t n)
{
	char *p;

	if (r->used + n > sizeof(r->buf)) {
		r->overflow = 1;
		return NULL;
	}
	p = r->buf + r->used;
	r->off[f] = (unsigned short)r->used;
	r->len[f] = (unsigned short)n;
	r->set[f] = 1;
	r->used += n;
	return p;
}

static void rec_mem(struct rec *r, int f, const char *s, size_t n)
{
	char *p = rec_slot(r, f, n);

	if (p)
		memcpy(p, s, n);
}

static void rec_str(struct rec *r, int f, const char *s)
{
	if (s)
		rec_mem(r, f, s, strlen(s));
	else
		r->set[f] = 0;
}

/* Concatenated values: rec_open, rec_add..., rec_close. */
static void rec_open(struct rec *r, int f)
{
	r->open = f;
	r->off[f] = (unsigned short)r->used;
	r->len[f] = 0;
	r->set[f] = 1;
}

static void rec_add(struct rec *r, const char *s)
{
	size_t n = strlen(s);

	if (r->used + n > sizeof(r->buf)) {
		r->overflow = 1;
		return;
	}
	memcpy(r->buf + r->used, s, n);
	r->used += n;
}

static void rec_close(struct rec *r)
{
	r->len[r->open] = (unsigned short)(r->used - r->off[r->open]);
	r->open = -1;
}

/* Formatted values: p points to scratch space at the end of buf. */
static char *rec_tmp(struct rec *r)
{
	if (r->used + 64 > sizeof(r->buf)) {
		r->overflow = 1;
		r->used = 0;
	}
	return r->buf + r->used;
}

static void rec_end(struct rec *r, int f, char *end)
{
	char *start = r->buf + r->used;

	r->off[f] = (unsigned short)r->used;
	r->len[f] = (unsigned short)(end - start);
	r->set[f] = 1;
	r->used += (size_t)(end - start);
}

static void rec_uint(struct rec *r, int f, unsigned long v)
{
	rec_end(r, f, put_uint(rec_tmp(r), v));
}

static void rec_int(struct rec *r, int f, long v)
{
	char *p = rec_tmp(r);

	if (v < 0) {
		*p++ = '-';
		v = -v;
	}
	rec_end(r, f, put_uint(p, (unsigned long)v));
}

/* Whole yuan as "123.00". */
static void rec_money(struct rec *r, int f, long yuan)
{
	char *p = rec_tmp(r);

	if (yuan < 0) {
		*p++ = '-';
		yuan = -yuan;
	}
	p = put_uint(p, (unsigned long)yuan);
	memcpy(p, ".00", 3);
	rec_end(r, f, p + 3);
}

/* Tenths as "2.4" ("3" when whole). */
static void rec_tenths(struct rec *r, int f, long tenths)
{
	char *p = put_uint(rec_tmp(r), (unsigned long)(tenths / 10));

	if (tenths % 10) {
		*p++ = '.';
		*p++ = (char)('0' + tenths % 10);
	}
	rec_end(r, f, p);
}

static void rec_date(struct rec *r, int f, long days)
{
	rec_end(r, f, put_date(rec_tmp(r), days));
}

static void rec_month(struct rec *r, int f, int mi)
{
	rec_end(r, f, put_month(rec_tmp(r), mi));
}

static void rec_bool(struct rec *r, int f, int v)
{
	rec_str(r, f, v ? "true" : "false");
}

/* ---- code pickers -------------------------------------------------------- */

#define PICK_MAX 24

/* Weighted listed codes plus a "rest" weight spread over the whole set. */
struct picker {
	const struct codeset *cs;
	int n;
	const char *code[PICK_MAX];
	unsigned cum[PICK_MAX];
	unsigned total, rest;
};

static const char *cs_has(const struct codeset *cs, const char *code)
{
	size_t i;

	if (!cs)
		return NULL;
	for (i = 0; i < cs->ncodes; i++)
		if (!strcmp(cs->codes[i].code, code))
			return cs->codes[i].code;
	return NULL;
}

/* The code, or the set's first code, or the literal if the set is empty. */
static const char *code_or(const struct codeset *cs, const char *code)
{
	const char *c = cs_has(cs, code);

	if (c)
		return c;
	if (cs && cs->ncodes)
		return cs->codes[0].code;
	return code;
}

static const char *cs_by_label(const struct codeset *cs, const char *label)
{
	size_t i;

	if (!cs || !label)
		return NULL;
	for (i = 0; i < cs->ncodes; i++)
		if (cs->codes[i].label && !strcmp(cs->codes[i].label, label))
			return cs->codes[i].code;
	return NULL;
}

static void picker_init(struct picker *p, const struct codeset *cs,
			const char *const *codes, const unsigned *weights,
			int n, unsigned rest)
{
	int i;

	memset(p, 0, sizeof(*p));
	p->cs = cs;
	for (i = 0; i < n && p->n < PICK_MAX; i++) {
		const char *c = cs_has(cs, codes[i]);

		if (!c)
			continue;
		p->total += weights[i];
		p->code[p->n] = c;
		p->cum[p->n++] = p->total;
	}
	p->rest = cs && cs->ncodes ? rest : 0;
	if (!p->n && cs && cs->ncodes)
		p->rest = 1;
	p->total += p->rest;
}

static const char *pick(struct rng *r, const struct picker *p)
{
	unsigned x;
	int i;

	if (!p->total)
		return "";
	x = rnd(r, p->total);
	for (i = 0; i < p->n; i++)
		if (x < p->cum[i])
			return p->code[i];
	return p->cs->codes[rnd(r, (unsigned)p->cs->ncodes)].code;
}

/* The first code of cs, weighted heavily, then the rest uniformly. */
static void picker_first(struct picker *p, const struct codeset *cs,
			 unsigned first, unsigned rest)
{
	const char *c = cs && cs->ncodes ? cs->codes[0].code : "";

	picker_init(p, cs, &c, &first, 1, rest);
}

/* A value not valid in cs, for "code" rejects. */
static const char *bad_code(const struct codeset *cs)
{
	static const char *const cand[] = { "99", "X9", "ZZ", "Q", "0000000" };
	size_t i;

	for (i = 0; cs && i < sizeof(cand) / sizeof(cand[0]); i++)
		if (!codeset_valid(cs, cand[i], strlen(cand[i])))
			return cand[i];
	return "Z?";
}

/* ---- generator state ----------------------------------------------------- */

struct catout {
	const struct category_def *def;
	FILE *f;
	char *vbuf;
	char *path;
	signed char *map;         /* [def->nfields]: enum fld or -1 */
	unsigned cyc;             /* next dirty rule to try */
};

struct teacher {
	long no;
	char id[19];
	int male;
	long birth;
	int by, bmo, bd, age;
	int set;
	int level;                /* k12: 0 primary, 1 junior, 2 senior */
	long school, prev_school; /* prev_school -1: never moved */
	char school_code[11];
	int ws, sj;               /* work start, school join (month index) */
	int subj;
	int qtype;
	char name[32];
	char email_local[48];
};

struct gen {
	const struct sample_opts *o;
	const struct defs *d;
	struct sample_stats *st;
	struct tmerr *err;
	struct rng rng, drng;
	uint64_t seed;

	struct catout out[SAMPLE_MAXCATS];
	int nout;
	int bycat[NCAT];          /* enum cat -> out index, -1 */
	const struct indicator_set *iset[NSET];
	int have_sets;
	unsigned set_cum[NSET];

	const char *prov_name, *prov_full;
	long today, today_mi;
	long birth_lo;
	uint64_t space, mul, add;

	unsigned surname_cum[NSURNAMES];

	/* resolved codes */
	const char *id_type, *male_code, *female_code, *nationality;
	const char *set_code[NSET];
	const char *qtype_code[8];
	const char *title_code[3][5];
	const char *edu[5];       /* 11 doctorate 14 master 21 bachelor 31 college 41 secondary */
	const char *degree[5];
	const char *china;
	const char *abroad_code[NABROAD];
	const char *hire, *transfer_in;
	const char *rot_exchange, *rot_other[2];
	const char *study_full, *study_part;
	const char *ethics_review, *ethics_honour;
	struct picker ethnicity, political_old, political_young, marital_single,
		marital_married, health, staff_source, staff_category,
		employment, contract, status, post_category, post_grade[3],
		assessment, ethics_kind, training_kind;
	const struct codeset *title_cs;

	/* bad codes for "code" rejects */
	const char *bad_ethnicity, *bad_edu, *bad_post, *bad_title,
		*bad_assess, *bad_qtype, *bad_ethics, *bad_training,
		*bad_country, *bad_rotation, *bad_change;

	unsigned tcyc;
	int have_prev;
	char prev_id[19];
	long prev_birth;
	int prev_male;

	int na_mode;              /* emitting one not_applicable row */
	int stop;                 /* generator: no more rows for this call */
	int failed;

	struct rec rec;
	char line[LINE_MAX_BYTES];
};

static const struct field_def *cat_field(const struct gen *g, int c,
					 const char *name)
{
	const struct category_def *def;
	size_t j;

	if (g->bycat[c] < 0)
		return NULL;
	def = g->out[g->bycat[c]].def;
	for (j = 0; j < def->nfields; j++)
		if (!strcmp(def->fields[j].name, name))
			return &def->fields[j];
	return NULL;
}

static const struct codeset *field_cs(const struct gen *g, int c,
				      const char *name)
{
	const struct field_def *f = cat_field(g, c, name);

	return f ? f->codes : NULL;
}

/* ---- output -------------------------------------------------------------- */

static int mkdir_p(const char *dir, struct tmerr *err)
{
	char path[4096];
	size_t n = strlen(dir), i;

	if (n == 0 || n >= sizeof(path))
		return tmerr_set(err, TMERR_USAGE,
				 "output directory name is empty or too long");
	memcpy(path, dir, n + 1);
	for (i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		path[i] = '\0';
		if (mkdir(path, 0777) && errno != EEXIST)
			return tmerr_set(err, TMERR_SYS,
					 "cannot create directory \"%s\": %s",
					 path, strerror(errno));
		path[i] = i < n ? '/' : '\0';
	}
	return 0;
}

static int write_fail(struct gen *g, struct catout *c)
{
	if (!g->failed) {
		tmerr_set(g->err, TMERR_SYS, "cannot write \"%s\": %s", c->path,
			  strerror(errno ? errno : EIO));
		tmerr_where(g->err, c->path, 0, 0);
	}
	g->failed = 1;
	g->stop = 1;
	return -1;
}

static inline int needs_quote(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r')
			return 1;
	return 0;
}

static void emit_row(struct gen *g, struct catout *c, const struct rec *r)
{
	const struct category_def *def = c->def;
	char *p = g->line, *end = g->line + sizeof(g->line) - 4;
	size_t j, i;

	if (g->failed)
		return;
	for (j = 0; j < def->nfields; j++) {
		int k = c->map[j];
		const char *v;
		size_t n;

		if (j)
			*p++ = ',';
		if (k < 0 || !r->set[k])
			continue;
		v = r->buf + r->off[k];
		n = r->len[k];
		if ((size_t)(end - p) < 2 * n + 3)
			break;
		if (!needs_quote(v, n)) {
			memcpy(p, v, n);
			p += n;
			continue;
		}
		*p++ = '"';
		for (i = 0; i < n; i++) {
			if (v[i] == '"')
				*p++ = '"';
			*p++ = v[i];
		}
		*p++ = '"';
	}
	*p++ = '\n';
	if (fwrite_unlocked(g->line, 1, (size_t)(p - g->line), c->f) !=
	    (size_t)(p - g->line))
		write_fail(g, c);
}

static int open_outputs(struct gen *g)
{
	size_t dl = strlen(g->o->out_dir);
	int i;

	for (i = 0; i < g->nout; i++) {
		struct catout *c = &g->out[i];
		const struct category_def *def = c->def;
		size_t j, len = 0;
		char *p;

		c->path = malloc(dl + strlen(def->name) + 6);
		c->map = malloc(def->nfields ? def->nfields : 1);
		c->vbuf = malloc(OUT_BUFSZ);
		if (!c->path || !c->map || !c->vbuf)
			return tmerr_set(g->err, TMERR_SYS,
					 "out of memory opening sample files");
		sprintf(c->path, "%s/%s.csv", g->o->out_dir, def->name);
		for (j = 0; j < def->nfields; j++) {
			int k;

			c->map[j] = -1;
			for (k = 0; k < NFLD; k++)
				if (!strcmp(def->fields[j].name, fld_names[k]))
					c->map[j] = (signed char)k;
		}
		c->f = fopen(c->path, "w");
		if (!c->f) {
			tmerr_set(g->err, TMERR_SYS, "cannot create \"%s\": %s",
				  c->path, strerror(errno));
			tmerr_where(g->err, c->path, 0, 0);
			return -1;
		}
		setvbuf(c->f, c->vbuf, _IOFBF, OUT_BUFSZ);
		p = g->line;
		for (j = 0; j < def->nfields; j++) {
			size_t n = strlen(def->fields[j].name);

			if (len + n + 2 >= sizeof(g->line))
				break;
			if (j)
				p[len++] = ',';
			memcpy(p + len, def->fields[j].name, n);
			len += n;
		}
		p[len++] = '\n';
		if (fwrite(p, 1, len, c->f) != len)
			return write_fail(g, c);
	}
	return 0;
}

static int close_outputs(struct gen *g)
{
	int i, rc = 0;

	for (i = 0; i < g->nout; i++) {
		struct catout *c = &g->out[i];

		if (c->f) {
			int bad = ferror(c->f);

			errno = 0;
			if (fclose(c->f) || bad) {
				if (!g->failed && rc == 0) {
					tmerr_set(g->err, TMERR_SYS,
						  "cannot write \"%s\": %s",
						  c->path,
						  strerror(errno ? errno : EIO));
					tmerr_where(g->err, c->path, 0, 0);
				}
				rc = -1;
			}
		}
		free(c->vbuf);
		free(c->map);
		free(c->path);
	}
	return rc;
}

/* ---- setup --------------------------------------------------------------- */

static int applicable(const struct gen *g, const struct teacher *t, int c)
{
	const struct indicator_set *s = g->iset[t->set];

	if (g->bycat[c] < 0)
		return 0;
	if (s && s->applicable)
		return s->applicable[g->bycat[c]];
	if (c == C_EXCHANGE)
		return t->set == S_K12;
	if (c == C_TEACHING)
		return t->set != S_KG;
	return 1;
}

static uint64_t gcd64(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

static int setup(struct gen *g)
{
	const struct defs *d = g->d;
	const struct sample_opts *o = g->o;
	const struct codeset *cs;
	size_t i;
	int k, s;
	unsigned tot;
	uint64_t x;
	long hi;

	for (k = 0; k < NCAT; k++)
		g->bycat[k] = -1;
	if (d->ncats > SAMPLE_MAXCATS)
		return tmerr_set(g->err, TMERR_MAPPING,
				 "too many categories in the schema (%zu)",
				 d->ncats);
	for (i = 0; i < d->ncats; i++) {
		struct catout *c = &g->out[g->nout++];

		c->def = &d->cats[i];
		if (c->def->index < 0 || c->def->index >= SAMPLE_MAXCATS)
			return tmerr_set(g->err, TMERR_MAPPING,
					 "category \"%s\" has index %d out of range",
					 c->def->name, c->def->index);
		for (k = 0; k < NCAT; k++)
			if (!strcmp(c->def->name, cat_names[k]))
				g->bycat[k] = (int)i;
	}
	if (g->bycat[C_TEACHER] < 0)
		return tmerr_set(g->err, TMERR_MAPPING,
				 "the schema has no \"teacher\" category");

	for (k = 0; k < NSET; k++) {
		g->iset[k] = NULL;
		for (i = 0; i < d->nsets; i++)
			if (!strcmp(d->sets[i].name, set_names[k]))
				g->iset[k] = &d->sets[i];
	}
	g->have_sets = d->nsets > 0;
	tot = 0;
	for (k = 0; k < NSET; k++) {
		if (!g->have_sets || g->iset[k])
			tot += set_weight[k];
		g->set_cum[k] = tot;
	}
	if (!tot)
		return tmerr_set(g->err, TMERR_MAPPING,
				 "no known indicator set (such as \"k12\") is defined");
	cs = field_cs(g, C_TEACHER, "indicator_set");
	for (k = 0; k < NSET; k++) {
		const char *c = cs_has(cs, set_names[k]);

		if (!c && g->iset[k])
			c = cs_by_label(cs, g->iset[k]->label);
		g->set_code[k] = c ? c : set_names[k];
	}

	/* today and the birth window: ages 22..60 */
	g->today = days_from_civil(o->today_y, o->today_m, o->today_d);
	g->today_mi = (long)o->today_y * 12 + o->today_m - 1;
	g->birth_lo = days_from_civil(o->today_y - 61, o->today_m,
				      o->today_m == 2 && o->today_d == 29 ?
				      28 : o->today_d) + 1;
	hi = days_from_civil(o->today_y - 22, o->today_m,
			     o->today_m == 2 && o->today_d == 29 ?
			     28 : o->today_d);
	g->space = (uint64_t)NDIVISIONS * (uint64_t)(hi - g->birth_lo + 1) *
		   SEQ_SLOTS;
	if ((uint64_t)o->teachers > g->space || o->teachers > 60000000L)
		return tmerr_set(g->err, TMERR_USAGE,
				 "too many teachers for one province (%ld)",
				 o->teachers);
	x = g->seed ^ 0x5a4d504c45ULL;
	g->mul = (splitmix64(&x) % g->space) | 1;
	while (gcd64(g->mul, g->space) != 1)
		g->mul = (g->mul + 2) % g->space;
	g->add = splitmix64(&x) % g->space;

	tot = 0;
	for (i = 0; i < NSURNAMES; i++) {
		tot += 4000 / (unsigned)(i + 8);
		g->surname_cum[i] = tot;
	}

	/* teacher codes */
	g->id_type = code_or(field_cs(g, C_TEACHER, "id_type"), "1");
	cs = field_cs(g, C_TEACHER, "gender");
	g->male_code = code_or(cs, "1");
	g->female_code = code_or(cs, "2");
	g->nationality = code_or(field_cs(g, C_TEACHER, "nationality"), "156");
	{
		static const char *const e[] = {
			"01", "03", "08", "11", "06", "07", "15", "02", "04",
			"05", "10", "12", "13", "14"
		};
		static const unsigned w[] = {
			9160, 90, 130, 80, 70, 60, 60, 40, 40, 40, 20, 20, 20, 20
		};
		picker_init(&g->ethnicity, field_cs(g, C_TEACHER, "ethnicity"),
			    e, w, 14, 30);
	}
	{
		static const char *const p[] = {
			"13", "01", "02", "03", "07", "05", "06", "10", "08",
			"12"
		};
		static const unsigned wo[] = {
			50, 40, 1, 0, 3, 2, 1, 1, 1, 1
		};
		static const unsigned wy[] = {
			40, 25, 5, 28, 1, 0, 0, 0, 0, 1
		};
		cs = field_cs(g, C_TEACHER, "political_status");
		picker_init(&g->political_old, cs, p, wo, 10, 0);
		picker_init(&g->political_young, cs, p, wy, 10, 0);
	}
	{
		static const char *const m[] = { "10", "20", "21", "22", "40",
						 "30" };
		static const unsigned ws[] = { 85, 15, 0, 0, 0, 0 };
		static const unsigned wm[] = { 5, 85, 0, 3, 5, 2 };

		cs = field_cs(g, C_TEACHER, "marital_status");
		picker_init(&g->marital_single, cs, m, ws, 6, 0);
		picker_init(&g->marital_married, cs, m, wm, 6, 0);
	}
	{
		static const char *const h[] = { "1", "2", "3", "6" };
		static const unsigned w[] = { 950, 30, 17, 3 };

		picker_init(&g->health, field_cs(g, C_TEACHER, "health_status"),
			    h, w, 4, 0);
	}
	picker_first(&g->staff_source, field_cs(g, C_TEACHER, "staff_source"),
		     60, 40);
	picker_first(&g->staff_category,
		     field_cs(g, C_TEACHER, "staff_category"), 85, 15);
	picker_first(&g->employment, field_cs(g, C_TEACHER, "employment_form"),
		     85, 15);
	picker_first(&g->contract, field_cs(g, C_TEACHER, "contract_status"),
		     80, 20);
	/* status follows the change events, and the sample's events (hire,
	 * transfer_in) all leave a teacher 在职: anything else would be
	 * "corrected" by the events on load */
	picker_first(&g->status, field_cs(g, C_TEACHER, "status"), 100, 0);
	g->bad_ethnicity = bad_code(field_cs(g, C_TEACHER, "ethnicity"));

	/* education */
	cs = field_cs(g, C_EDUCATION, "edu_level");
	g->edu[0] = code_or(cs, "11");
	g->edu[1] = code_or(cs, "14");
	g->edu[2] = code_or(cs, "21");
	g->edu[3] = code_or(cs, "31");
	g->edu[4] = code_or(cs, "41");
	g->bad_edu = bad_code(cs);
	cs = field_cs(g, C_EDUCATION, "degree");
	g->degree[0] = code_or(cs, "2");
	g->degree[1] = code_or(cs, "3");
	g->degree[2] = code_or(cs, "4");
	g->degree[3] = g->degree[4] = NULL;
	cs = field_cs(g, C_EDUCATION, "degree_country");
	g->china = code_or(cs, "156");
	for (i = 0; i < NABROAD; i++)
		g->abroad_code[i] = cs_has(field_cs(g, C_OVERSEAS, "country"),
					   abroad[i].country);
	g->bad_country = bad_code(field_cs(g, C_OVERSEAS, "country"));
	cs = field_cs(g, C_EDUCATION, "study_mode");
	g->study_full = code_or(cs, "1");
	g->study_part = g->study_full;
	for (i = 0; cs && i < cs->ncodes; i++)
		if (cs->codes[i].code != g->study_full) {
			g->study_part = cs->codes[i].code;
			break;
		}

	/* appointments */
	cs = field_cs(g, C_POST, "post_category");
	{
		static const char *const pc[] = { "1", "2", "3" };
		static const unsigned w[] = { 92, 5, 3 };

		picker_init(&g->post_category, cs, pc, w, 3, 0);
	}
	g->bad_post = bad_code(cs);
	cs = field_cs(g, C_POST, "post_grade");
	for (s = 0; s < 3; s++) {
		static const char *const key[3][2] = {
			{ "专技", "专业技术" }, { "管理", "职员" },
			{ "工勤", "普通工" },
		};
		const char *codes[PICK_MAX];
		unsigned w[PICK_MAX];
		int n = 0;

		for (i = 0; cs && i < cs->ncodes && n < PICK_MAX; i++) {
			const char *l = cs->codes[i].label;

			if (l && (strstr(l, key[s][0]) || strstr(l, key[s][1]))) {
				codes[n] = cs->codes[i].code;
				w[n++] = 1;
			}
		}
		picker_init(&g->post_grade[s], cs, codes, w, n, n ? 0 : 1);
	}
	g->title_cs = cs = field_cs(g, C_TITLE, "title");
	for (s = 0; s < 3; s++)
		for (k = 0; k < 5; k++) {
			g->title_code[s][k] = cs_by_label(cs,
							  title_labels[s][k]);
			if (title_codes[s][k] && cs_has(cs, title_codes[s][k]))
				g->title_code[s][k] = cs_has(cs,
							     title_codes[s][k]);
		}
	g->bad_title = bad_code(cs);

	/* assessment, qualification, others */
	cs = field_cs(g, C_ASSESS, "result");
	{
		static const char *const a[] = { "1", "2", "3", "4", "5" };
		static const unsigned w[] = { 150, 830, 12, 3, 5 };

		picker_init(&g->assessment, cs, a, w, 5, 0);
	}
	g->bad_assess = bad_code(cs);
	cs = field_cs(g, C_QUAL, "qualification_type");
	for (k = 1; k <= 7; k++) {
		char c[2] = { (char)('0' + k), 0 };

		g->qtype_code[k] = code_or(cs, c);
	}
	g->qtype_code[0] = g->qtype_code[1];
	g->bad_qtype = bad_code(cs);
	cs = field_cs(g, C_ETHICS, "kind");
	{
		static const char *const e[] = { "01", "02" };
		static const unsigned w[] = { 450, 500 };

		picker_init(&g->ethics_kind, cs, e, w, 2, 50);
	}
	g->ethics_review = cs_has(cs, "01");
	g->ethics_honour = cs_has(cs, "02");
	g->bad_ethics = bad_code(cs);
	cs = field_cs(g, C_TRAINING, "kind");
	picker_init(&g->training_kind, cs, NULL, NULL, 0, 1);
	g->bad_training = bad_code(cs);
	cs = field_cs(g, C_EXCHANGE, "kind");
	g->rot_exchange = code_or(cs, "exchange");
	g->rot_other[0] = code_or(cs, "rotation");
	g->rot_other[1] = code_or(cs, "support");
	g->bad_rotation = bad_code(cs);
	cs = field_cs(g, C_CHANGE, "kind");
	g->hire = code_or(cs, "hire");
	g->transfer_in = code_or(cs, "transfer_in");
	g->bad_change = bad_code(cs);
	return 0;
}

/* ---- teachers ------------------------------------------------------------ */

static void school_code(const struct gen *g, long j, char *out)
{
	unsigned long v = (unsigned long)((j * 7919L + 100003L) % 1000000L);

	out[0] = '2';
	out[1] = '1';
	out[2] = g->o->province[0];
	out[3] = g->o->province[1];
	put_pad(out + 4, v, 6);
	out[10] = '\0';
}

static int school_set(const struct gen *g, long j, int *level)
{
	uint64_t h = hash2(g->seed, (uint64_t)j);
	unsigned x = (unsigned)(h % 1000u) * g->set_cum[NSET - 1] / 1000u;
	int s;

	*level = (int)((h >> 20) % 100u);
	*level = *level < 55 ? 0 : *level < 82 ? 1 : 2;
	for (s = 0; s < NSET; s++)
		if (x < g->set_cum[s])
			return s;
	return S_K12;
}

static void school_name(const struct gen *g, long j, struct rec *r, int f)
{
	uint64_t h = hash2(g->seed ^ 0x11, (uint64_t)j);
	int level, s = school_set(g, j, &level);
	const char *dist = districts[h % NDISTRICTS];
	const char *num = cn_num[(h >> 16) % NCN_NUM];

	rec_open(r, f);
	switch (s) {
	case S_K12:
		rec_add(r, dist);
		rec_add(r, "区第");
		rec_add(r, num);
		rec_add(r, level == 0 ? "小学" : level == 1 ? "初级中学" :
			"高级中学");
		break;
	case S_KG:
		rec_add(r, dist);
		rec_add(r, "区第");
		rec_add(r, num);
		rec_add(r, "幼儿园");
		break;
	case S_SECVOC:
		rec_add(r, dist);
		rec_add(r, "区第");
		rec_add(r, num);
		rec_add(r, "职业中等专业学校");
		break;
	case S_HIGHVOC:
		rec_add(r, g->prov_name);
		rec_add(r, dist);
		rec_add(r, "职业技术学院");
		break;
	case S_UNIV:
		rec_add(r, g->prov_name);
		rec_add(r, dist);
		rec_add(r, "大学");
		break;
	case S_SPECIAL:
		rec_add(r, dist);
		rec_add(r, "区特殊教育学校");
		break;
	default:
		rec_add(r, dist);
		rec_add(r, "区教师发展中心");
		break;
	}
	rec_close(r);
}

static int clampi(int v, int lo, int hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

static void make_id(const struct gen *g, char *id, const char *div4,
		    long birth, unsigned seq)
{
	int y, m, d;

	civil_from_days(birth, &y, &m, &d);
	id[0] = g->o->province[0];
	id[1] = g->o->province[1];
	memcpy(id + 2, div4, 4);
	put_pad(id + 6, (unsigned long)y, 4);
	put_pad(id + 10, (unsigned long)m, 2);
	put_pad(id + 12, (unsigned long)d, 2);
	put_pad(id + 14, seq, 3);
	id[17] = id_check(id);
	id[18] = '\0';
}

static void make_teacher(struct gen *g, long i, struct teacher *t)
{
	struct rng *r = &g->rng;
	uint64_t x = (g->mul * (uint64_t)i + g->add) % g->space;
	unsigned slot = (unsigned)(x % SEQ_SLOTS);
	long days_span = (long)(g->space / SEQ_SLOTS / NDIVISIONS);
	long bday;
	unsigned dv;
	char div4[4];
	int start_age, lo, hi, sub, n, k;
	const struct py *gn;

	x /= SEQ_SLOTS;
	bday = (long)(x % (uint64_t)days_span);
	dv = (unsigned)(x / (uint64_t)days_span);
	put_pad(div4, dv / 10 + 1, 2);
	put_pad(div4 + 2, dv % 10 + 2, 2);

	memset(t, 0, sizeof(*t));
	t->no = i;
	t->school = i / PER_SCHOOL;
	t->set = school_set(g, t->school, &t->level);
	school_code(g, t->school, t->school_code);
	t->birth = g->birth_lo + bday;
	civil_from_days(t->birth, &t->by, &t->bmo, &t->bd);
	t->age = g->o->today_y - t->by -
		 (g->o->today_m < t->bmo ||
		  (g->o->today_m == t->bmo && g->o->today_d < t->bd));
	t->male = rnd_unit(r) >= set_female[t->set];
	make_id(g, t->id, div4, t->birth, slot * 2 + (unsigned)t->male);

	/* career */
	switch (t->set) {
	case S_UNIV:
		start_age = 26 + (int)rnd(r, 5);
		break;
	case S_HIGHVOC:
		start_age = 23 + (int)rnd(r, 5);
		break;
	default:
		start_age = 20 + (int)rnd(r, 4);
		break;
	}
	lo = t->by * 12 + t->bmo - 1 + 18 * 12;
	hi = (int)g->today_mi - 1;
	t->ws = (t->by + start_age) * 12 + (rnd(r, 10) < 7 ? 8 :
					     (int)rnd(r, 12));
	t->ws = clampi(t->ws, lo, hi);
	t->prev_school = -1;
	t->sj = t->ws;
	if (rnd(r, 100) < 40 && hi - (t->ws + 12) > 0) {
		t->sj = t->ws + 12 + (int)rnd(r, (unsigned)(hi - t->ws - 12));
		/* any school of the province, in the sample or not */
		t->prev_school = t->school + 1 + (long)rnd(r, 997);
	}

	/* subject and qualification */
	n = 0;
	for (k = 0; k < (int)NSUBJECTS; k++)
		n += (subjects[k].sets >> t->set) & 1;
	sub = (int)rnd(r, (unsigned)n);
	for (k = 0; k < (int)NSUBJECTS; k++)
		if (((subjects[k].sets >> t->set) & 1) && sub-- == 0)
			break;
	t->subj = k;
	switch (t->set) {
	case S_KG:
		t->qtype = 1;
		break;
	case S_K12:
		t->qtype = 2 + t->level;
		break;
	case S_SECVOC:
		t->qtype = rnd(r, 10) ? 5 : 6;
		break;
	case S_HIGHVOC:
	case S_UNIV:
		t->qtype = 7;
		break;
	case S_SPECIAL:
		t->qtype = 2;
		break;
	default:
		t->qtype = 3 + (int)rnd(r, 2);
		break;
	}

	/* name */
	{
		unsigned v = rnd(r, g->surname_cum[NSURNAMES - 1]);
		const struct py *sn;
		char *p = t->name, *e = t->email_local;
		size_t len;

		for (k = 0; v >= g->surname_cum[k]; k++)
			;
		sn = &surnames[k];
		len = strlen(sn->han);
		memcpy(p, sn->han, len);
		p += len;
		len = strlen(sn->pinyin);
		memcpy(e, sn->pinyin, len);
		e += len;
		n = rnd(r, 100) < 35 ? 1 : 2;
		for (k = 0; k < n; k++) {
			gn = t->male ? &given_m[rnd(r, NGIVEN_M)] :
				&given_f[rnd(r, NGIVEN_F)];
			len = strlen(gn->han);
			memcpy(p, gn->han, len);
			p += len;
			len = strlen(gn->pinyin);
			memcpy(e, gn->pinyin, len);
			e += len;
		}
		*p = '\0';
		e = put_pad(e, (unsigned long)(t->by % 100), 2);
		if (rnd(r, 2))
			e = put_pad(e, rnd(r, 1000), 3);
		*e = '\0';
	}
}

static void rec_key(const struct gen *g, struct rec *r, const struct teacher *t)
{
	rec_reset(r);
	rec_str(r, F_ID_TYPE, g->id_type);
	rec_mem(r, F_ID_NUMBER, t->id, 18);
}

static void count_row(struct gen *g, int c, int dirty)
{
	int idx = g->out[g->bycat[c]].def->index;

	g->st->rows[idx]++;
	if (dirty)
		g->st->dirty_rows[idx]++;
}

/* A never-generated but valid ID: city code 99 is never used. */
static void ghost_id(const struct gen *g, const struct teacher *t, char *id)
{
	make_id(g, id, "9901", t->birth, (unsigned)(t->no % 1000));
}

static void bad_date_str(struct rec *r, int f, int year, int is_month)
{
	char *p = put_pad(rec_tmp(r), (unsigned long)year, 4);

	memcpy(p, is_month ? "-13" : "-02-30", is_month ? 3 : 6);
	rec_end(r, f, p + (is_month ? 3 : 6));
}

static int mrule_ok(const struct mctx *m, int rule)
{
	switch (rule) {
	case MR_NUMBER:
	case MR_RANGE:
		return m->num_f >= 0;
	case MR_END_BEFORE_START:
		return m->start_f >= 0 && m->end_f >= 0;
	case MR_CERTNO:
	case MR_CERTTYPE:
		return m->qual;
	case MR_SCHOOL_YEAR:
		return m->school_year;
	case MR_UNKNOWN_TEACHER:
		return 1;
	case MR_CODE:
		return m->code_f >= 0;
	case MR_DATE:
	case MR_FUTURE:
		return m->date_f >= 0;
	}
	return 0;
}

static void dirty_multi(struct gen *g, struct catout *c, struct rec *r,
			const struct teacher *t, const struct mctx *m)
{
	int rule, k;
	char *p;

	for (k = 0; k < NMRULE; k++) {
		rule = (int)((c->cyc + (unsigned)k) % NMRULE);
		if (mrule_ok(m, rule))
			break;
	}
	c->cyc = (unsigned)rule + 1;
	switch (rule) {
	case MR_NUMBER:
		rec_int(r, m->num_f, -(long)(1 + rnd(&g->drng, 100)));
		break;
	case MR_RANGE:
		rec_uint(r, m->num_f, (unsigned long)(m->num_max * 10 + 7));
		break;
	case MR_END_BEFORE_START:
		if (m->period_is_month)
			rec_month(r, m->end_f, (int)m->start - 1 -
				  (int)rnd(&g->drng, 12));
		else
			rec_date(r, m->end_f, m->start - 1 -
				 (long)rnd(&g->drng, 60));
		break;
	case MR_CERTNO: /* 16 digits */
		p = r->buf + r->off[F_CERTNO];
		rec_mem(r, F_CERTNO, p, 16);
		break;
	case MR_CERTTYPE: { /* type digit (10th) differs from the type */
		char no[17];

		memcpy(no, r->buf + r->off[F_CERTNO], 17);
		no[9] = no[9] >= '1' && no[9] <= '6' ? (char)(no[9] + 1) : '1';
		rec_mem(r, F_CERTNO, no, 17);
		break;
	}
	case MR_SCHOOL_YEAR:
		p = r->buf + r->off[F_SCHOOL_YEAR];
		{
			char sy[9];
			int y = (p[0] - '0') * 1000 + (p[1] - '0') * 100 +
				(p[2] - '0') * 10 + (p[3] - '0');

			put_pad(sy, (unsigned long)y, 4);
			sy[4] = '-';
			put_pad(sy + 5, (unsigned long)(y + 2), 4);
			rec_mem(r, F_SCHOOL_YEAR, sy, 9);
		}
		break;
	case MR_UNKNOWN_TEACHER: {
		char id[19];

		ghost_id(g, t, id);
		rec_mem(r, F_ID_NUMBER, id, 18);
		break;
	}
	case MR_CODE:
		rec_str(r, m->code_f, m->bad_code);
		break;
	case MR_DATE:
		bad_date_str(r, m->date_f, m->year, m->date_is_month);
		break;
	case MR_FUTURE:
		if (m->date_is_month)
			rec_month(r, m->date_f, (int)g->today_mi + 2 +
				  (int)rnd(&g->drng, 12));
		else
			rec_date(r, m->date_f, g->today + 20 +
				 (long)rnd(&g->drng, 300));
		break;
	}
}

/*
 * Writes the record of category c; in not_applicable mode it is the one
 * injected row. Returns nonzero when the generator must stop.
 */
static int finish(struct gen *g, int c, struct rec *r, const struct teacher *t,
		  const struct mctx *m)
{
	struct catout *co = &g->out[g->bycat[c]];
	int dirty = 0;

	if (g->na_mode) {
		dirty = 1;
		g->stop = 1;
	} else if (g->o->dirty > 0 && rnd_unit(&g->drng) < g->o->dirty) {
		dirty = 1;
		dirty_multi(g, co, r, t, m);
	}
	count_row(g, c, dirty);
	emit_row(g, co, r);
	return g->stop;
}

/* A day in [lo, hi] (hi >= lo). */
static long rnd_day(struct rng *r, long lo, long hi)
{
	return lo + (long)rnd(r, (unsigned)(hi - lo + 1));
}

static long max_l(long a, long b)
{
	return a > b ? a : b;
}

/* ---- categories ---------------------------------------------------------- */

static void gen_teacher(struct gen *g, struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	struct catout *co = &g->out[g->bycat[C_TEACHER]];
	int dirty = 0, rule = -1, k;
	char *p;

	rec_key(g, rc, t);
	rec_str(rc, F_NAME, t->name);
	if (rnd(r, 100) < 2) {
		rec_open(rc, F_FORMER_NAME);
		rec_add(rc, surnames[rnd(r, 20)].han);
		rec_add(rc, t->male ? given_m[rnd(r, NGIVEN_M)].han :
			given_f[rnd(r, NGIVEN_F)].han);
		rec_close(rc);
	}
	rec_str(rc, F_GENDER, t->male ? g->male_code : g->female_code);
	rec_date(rc, F_BIRTH_DATE, t->birth);
	rec_str(rc, F_NATIONALITY, g->nationality);
	rec_str(rc, F_ETHNICITY, pick(r, &g->ethnicity));
	rec_str(rc, F_POLITICAL, pick(r, t->age < 28 ? &g->political_young :
				       &g->political_old));
	p = rec_tmp(rc);
	if (rnd(r, 10)) {
		p[0] = g->o->province[0];
		p[1] = g->o->province[1];
	} else {
		const struct prov *pv = &provinces[rnd(r, NPROV - 3)];

		p[0] = pv->code[0];
		p[1] = pv->code[1];
	}
	put_pad(p + 2, rnd(r, 8) + 1, 2);
	put_pad(p + 4, rnd(r, 10) + 2, 2);
	rec_end(rc, F_NATIVE_PLACE, p + 6);
	rec_str(rc, F_MARITAL, pick(r, t->age < 27 && rnd(r, 3) ?
				    &g->marital_single : &g->marital_married));
	rec_str(rc, F_HEALTH, pick(r, &g->health));
	p = put_pad(rec_tmp(rc), (unsigned long)(t->sj / 12), 4);
	p = put_pad(p, (unsigned long)(t->no % PER_SCHOOL + 1), 3);
	rec_end(rc, F_STAFF_NO, p);
	rec_mem(rc, F_SCHOOL_CODE, t->school_code, 10);
	rec_str(rc, F_INDICATOR_SET, g->set_code[t->set]);
	rec_month(rc, F_WORK_START, t->ws);
	rec_month(rc, F_SCHOOL_JOIN, t->sj);
	rec_str(rc, F_STAFF_SOURCE, pick(r, &g->staff_source));
	rec_str(rc, F_STAFF_CATEGORY, pick(r, &g->staff_category));
	rec_bool(rc, F_ON_EST, rnd(r, 100) < 85);
	rec_str(rc, F_EMPLOYMENT, pick(r, &g->employment));
	rec_str(rc, F_CONTRACT, pick(r, &g->contract));
	rec_bool(rc, F_FREE_NORMAL, t->age < 40 && rnd(r, 100) < 8);
	rec_bool(rc, F_SPECIAL_GRADE, t->set == S_K12 && t->age > 40 &&
		 rnd(r, 1000) < 8);
	rec_str(rc, F_STATUS, pick(r, &g->status));
	p = rec_tmp(rc);
	memcpy(p, phone_prefixes[rnd(r, NPHONE)], 3);
	p = put_pad(p + 3, rnd(r, 100000000), 8);
	rec_end(rc, F_PHONE, p);
	rec_open(rc, F_EMAIL);
	rec_add(rc, t->email_local);
	rec_add(rc, "@");
	rec_add(rc, mail_domains[rnd(r, NMAIL)]);
	rec_close(rc);

	if (g->o->dirty > 0 && rnd_unit(&g->drng) < g->o->dirty) {
		dirty = 1;
		for (k = 0; k < NTRULE; k++) {
			rule = (int)((g->tcyc + (unsigned)k) % NTRULE);
			if (rule != TR_DUPLICATE || g->have_prev)
				break;
		}
		g->tcyc = (unsigned)rule + 1;
	}
	switch (rule) {
	case TR_ID_CHECKSUM:
		p = rec_slot(rc, F_ID_NUMBER, 18);
		if (p) {
			memcpy(p, t->id, 18);
			p[17] = p[17] == '0' ? '1' : p[17] == 'X' ? '2' : '0';
		}
		break;
	case TR_ID_DIVISION:
	case TR_ID_BIRTH:
		p = rec_slot(rc, F_ID_NUMBER, 18);
		if (!p)
			break;
		memcpy(p, t->id, 18);
		if (rule == TR_ID_DIVISION)
			memcpy(p, "00", 2);
		else
			memcpy(p + 10, "0230", 4);
		p[17] = id_check(p);
		break;
	case TR_ID_LENGTH:
		rc->len[F_ID_NUMBER] = 17;
		break;
	case TR_BIRTH_MISMATCH:
		rec_date(rc, F_BIRTH_DATE, t->birth - 400 -
			 (long)rnd(&g->drng, 300));
		break;
	case TR_GENDER_MISMATCH:
		rec_str(rc, F_GENDER, t->male ? g->female_code :
			g->male_code);
		break;
	case TR_CODE:
		rec_str(rc, F_ETHNICITY, g->bad_ethnicity);
		break;
	case TR_REQUIRED:
		rec_mem(rc, F_NAME, "", 0);
		break;
	case TR_SCHOOL_CODE:
		p = rec_slot(rc, F_SCHOOL_CODE, 10);
		if (p) {
			memcpy(p, t->school_code, 10);
			memcpy(p + 2, "00", 2);
		}
		break;
	case TR_DATE:
		bad_date_str(rc, F_BIRTH_DATE, t->by, 0);
		break;
	case TR_MONTH:
		bad_date_str(rc, F_WORK_START, t->ws / 12, 1);
		break;
	case TR_FUTURE:
		rec_month(rc, F_SCHOOL_JOIN, (int)g->today_mi + 3 +
			  (int)rnd(&g->drng, 12));
		break;
	case TR_END_BEFORE_START:
		rec_month(rc, F_SCHOOL_JOIN, t->ws - 1 -
			  (int)rnd(&g->drng, 12));
		break;
	case TR_PHONE:
		p = rec_slot(rc, F_PHONE, 11);
		if (p) {
			memcpy(p, "12", 2);
			put_pad(p + 2, rnd(&g->drng, 1000000000), 9);
		}
		break;
	case TR_EMAIL:
		rec_open(rc, F_EMAIL);
		rec_add(rc, t->email_local);
		rec_add(rc, mail_domains[rnd(&g->drng, NMAIL)]);
		rec_close(rc);
		break;
	case TR_DUPLICATE:
		rec_mem(rc, F_ID_NUMBER, g->prev_id, 18);
		rec_date(rc, F_BIRTH_DATE, g->prev_birth);
		rec_str(rc, F_GENDER, g->prev_male ? g->male_code :
			g->female_code);
		break;
	}
	count_row(g, C_TEACHER, dirty);
	emit_row(g, co, rc);
	memcpy(g->prev_id, t->id, 19);
	g->prev_birth = t->birth;
	g->prev_male = t->male;
	g->have_prev = 1;
}

static void institution(const struct gen *g, struct rng *r, struct rec *rc,
			int lvl)
{
	rec_open(rc, F_INSTITUTION);
	if (lvl <= 2 && rnd(r, 3) == 0) {
		rec_add(rc, national_univs[rnd(r, NNATUNIV)]);
	} else {
		rec_add(rc, g->prov_name);
		if (lvl <= 2)
			rec_add(rc, prov_univ_suffix[rnd(r, NPUNIV)]);
		else if (lvl == 3)
			rec_add(rc, rnd(r, 2) ? "师范高等专科学校" :
				"幼儿师范高等专科学校");
		else
			rec_add(rc, "幼儿师范学校");
	}
	rec_close(rc);
}

/* Education levels: 0 doctorate, 1 master, 2 bachelor, 3 college, 4 secondary. */
static const int edu_years[5] = { 4, 3, 4, 3, 3 };

static void edu_row(struct gen *g, const struct teacher *t, int lvl,
		    int start, int end, int part_time)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	const struct subject *s = &subjects[t->subj];
	struct mctx m;
	int normal;

	rec_key(g, rc, t);
	rec_month(rc, F_START_MONTH, start);
	rec_month(rc, F_END_MONTH, end);
	institution(g, r, rc, lvl);
	rec_str(rc, F_MAJOR, lvl == 4 ? "学前教育" : s->major);
	normal = t->set == S_UNIV || t->set == S_HIGHVOC ||
		 t->set == S_SECVOC ? rnd(r, 100) < 20 : rnd(r, 100) < 75;
	rec_bool(rc, F_IS_NORMAL, normal);
	rec_str(rc, F_EDU_LEVEL, g->edu[lvl]);
	if (lvl <= 2) /* no degree below bachelor */
		rec_str(rc, F_DEGREE, g->degree[lvl]);
	if (lvl == 0 && rnd(r, 10) == 0 && g->abroad_code[rnd(r, 4)])
		rec_str(rc, F_DEGREE_COUNTRY, g->abroad_code[rnd(r, 4)]);
	else
		rec_str(rc, F_DEGREE_COUNTRY, g->china);
	rec_str(rc, F_STUDY_MODE, part_time ? g->study_part : g->study_full);
	mctx_init(&m);
	m.start_f = F_START_MONTH;
	m.end_f = F_END_MONTH;
	m.period_is_month = 1;
	m.start = start;
	m.code_f = F_EDU_LEVEL;
	m.bad_code = g->bad_edu;
	m.date_f = F_START_MONTH;
	m.date_is_month = 1;
	m.year = start / 12;
	finish(g, C_EDUCATION, rc, t, &m);
}

static void gen_education(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	int chain[3], n = 0, k, end, start[3], ends[3];
	int floor_mi = t->by * 12 + t->bmo - 1 + 15 * 12;

	switch (t->set) {
	case S_UNIV:
		chain[n++] = 2;
		chain[n++] = 1;
		if (rnd(r, 10) < 7)
			chain[n++] = 0;
		break;
	case S_HIGHVOC:
		chain[n++] = 2;
		if (rnd(r, 10) < 7)
			chain[n++] = 1;
		break;
	case S_KG:
		chain[n++] = rnd(r, 100) < 30 ? 4 : rnd(r, 100) < 60 ? 3 : 2;
		break;
	default:
		chain[n++] = rnd(r, 5) ? 2 : 3;
		break;
	}
	/* back from the work start; drop the top levels if they do not fit */
	for (;;) {
		end = t->ws - 1 - (int)rnd(r, 3);
		for (k = n - 1; k >= 0; k--) {
			ends[k] = end;
			start[k] = end - edu_years[chain[k]] * 12 + 2;
			end = start[k] - 2 - (int)rnd(r, 2);
		}
		if (start[0] >= floor_mi || n == 1)
			break;
		n--;
	}
	for (k = 0; k < n && !g->stop; k++)
		edu_row(g, t, chain[k], start[k], ends[k], 0);
	/* in-service study: a master's degree, or college after secondary */
	if (!g->stop && n < 3 && (chain[n - 1] == 4 || (chain[n - 1] == 2 &&
							 rnd(r, 100) < 25))) {
		int lvl = chain[n - 1] == 4 ? 3 : 1;
		int s = t->ws + 24 + (int)rnd(r, 36);
		int e = s + edu_years[lvl] * 12 - 10;

		if (e <= g->today_mi - 1)
			edu_row(g, t, lvl, s, e, 1);
	}
}

static const char *position_of(struct rng *r, int set)
{
	static const char *const p[] = {
		"教师", "教师", "教师", "班主任", "教研组长", "年级主任",
		"教务处主任", "副校长",
	};

	if (set == S_UNIV || set == S_HIGHVOC)
		return rnd(r, 8) ? "专任教师" : "系主任";
	return p[rnd(r, 8)];
}

static void gen_work(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	struct mctx m;

	mctx_init(&m);
	m.start_f = F_START_MONTH;
	m.end_f = F_END_MONTH;
	m.period_is_month = 1;
	m.date_f = F_START_MONTH;
	m.date_is_month = 1;
	if (t->prev_school >= 0) {
		rec_key(g, rc, t);
		rec_month(rc, F_START_MONTH, t->ws);
		rec_month(rc, F_END_MONTH, t->sj - 1);
		school_name(g, t->prev_school, rc, F_EMPLOYER);
		rec_str(rc, F_POSITION, "教师");
		m.start = t->ws;
		m.year = t->ws / 12;
		if (finish(g, C_WORK, rc, t, &m))
			return;
	}
	rec_key(g, rc, t);
	rec_month(rc, F_START_MONTH, t->sj);
	school_name(g, t->school, rc, F_EMPLOYER);
	rec_str(rc, F_POSITION, position_of(r, t->set));
	m.start = t->sj;
	m.year = t->sj / 12;
	finish(g, C_WORK, rc, t, &m);
}

static void gen_post(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	const char *cat = pick(r, &g->post_category);
	int ci = cat[0] >= '1' && cat[0] <= '3' ? cat[0] - '1' : 0;
	int first = t->ws + 12, second = -1, k, starts[2], n;
	struct mctx m;

	if (first > g->today_mi - 1)
		first = (int)g->today_mi - 1;
	if (g->today_mi - 1 - first > 8 * 12 && rnd(r, 10) < 6)
		second = first + 60 + (int)rnd(r, (unsigned)(g->today_mi - 1 -
							     first - 60));
	starts[0] = first;
	starts[1] = second;
	n = second >= 0 ? 2 : 1;
	for (k = 0; k < n; k++) {
		rec_key(g, rc, t);
		rec_str(rc, F_POST_CATEGORY, cat);
		rec_str(rc, F_POST_GRADE, pick(r, &g->post_grade[ci]));
		rec_month(rc, F_START_MONTH, starts[k]);
		if (k + 1 < n)
			rec_month(rc, F_END_MONTH, starts[k + 1] - 1);
		mctx_init(&m);
		m.start_f = F_START_MONTH;
		m.end_f = F_END_MONTH;
		m.period_is_month = 1;
		m.start = starts[k];
		m.code_f = F_POST_CATEGORY;
		m.bad_code = g->bad_post;
		m.date_f = F_START_MONTH;
		m.date_is_month = 1;
		m.year = starts[k] / 12;
		if (finish(g, C_POST, rc, t, &m))
			return;
	}
}

static void gen_title(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	int series = t->set == S_UNIV || t->set == S_HIGHVOC ? 2 :
		t->set == S_SECVOC ? 1 : 0;
	int years = (int)(g->today_mi - t->ws) / 12, lvl, k, n, starts[2],
		lv[2];
	struct mctx m;

	if (series == 2)
		lvl = years < 2 ? 0 : years < 7 ? 1 : years < 15 ? 2 : 3;
	else
		lvl = years < 1 ? 0 : years < 5 ? 1 : years < 12 ? 2 :
			years < 25 ? (rnd(r, 10) < 4 ? 3 : 2) :
			(rnd(r, 100) < 3 ? 4 : rnd(r, 10) < 6 ? 3 : 2);
	if (series == 2 && lvl > 3)
		lvl = 3;
	starts[0] = t->ws + 12;
	if (starts[0] > g->today_mi - 1)
		starts[0] = (int)g->today_mi - 1;
	n = 1;
	lv[0] = lvl;
	if (lvl >= 1 && years >= 6) {
		lv[0] = lvl - 1;
		lv[1] = lvl;
		starts[1] = starts[0] + 36 + (int)rnd(r,
			(unsigned)(g->today_mi - 1 - starts[0] - 36));
		n = 2;
	}
	for (k = 0; k < n; k++) {
		const char *code = g->title_code[series][lv[k]];

		if (!code && g->title_cs && g->title_cs->ncodes)
			code = g->title_cs->codes[rnd(r,
				(unsigned)g->title_cs->ncodes)].code;
		rec_key(g, rc, t);
		rec_str(rc, F_TITLE, code ? code : "");
		rec_month(rc, F_START_MONTH, starts[k]);
		if (k + 1 < n)
			rec_month(rc, F_END_MONTH, starts[k + 1] - 1);
		mctx_init(&m);
		m.start_f = F_START_MONTH;
		m.end_f = F_END_MONTH;
		m.period_is_month = 1;
		m.start = starts[k];
		m.code_f = F_TITLE;
		m.bad_code = g->bad_title;
		m.date_f = F_START_MONTH;
		m.date_is_month = 1;
		m.year = starts[k] / 12;
		if (finish(g, C_TITLE, rc, t, &m))
			return;
	}
}

static void gen_pay(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	int y, ty = g->o->today_y;
	long years = (g->today_mi - t->ws) / 12;
	long basic = 2600 + 55 * years + (long)rnd(r, 800);
	long perf = 1400 + (long)rnd(r, 2600);
	long allow = 500 + (long)rnd(r, 1500);
	struct mctx m;

	if (t->set == S_UNIV) {
		basic += 1200;
		perf += 2500;
	}
	for (y = ty - 3; y < ty; y++) {
		long f = 100 - 3 * (ty - 1 - y); /* ~3% a year */
		long b = basic * f / 100, p = perf * f / 100,
		     a = allow * f / 100;

		if (y < t->ws / 12)
			continue;
		rec_key(g, rc, t);
		rec_uint(rc, F_YEAR, (unsigned long)y);
		rec_money(rc, F_ANNUAL_PAY, 12 * (b + p + a) + b +
			  (long)rnd(r, 12000));
		rec_money(rc, F_BASIC_PAY, b);
		rec_money(rc, F_PERF_PAY, p);
		rec_money(rc, F_ALLOWANCES, a);
		mctx_init(&m);
		m.num_f = F_ANNUAL_PAY;
		m.num_max = 10000000;
		if (finish(g, C_PAY, rc, t, &m))
			return;
	}
}

static void gen_assessment(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	int y, ty = g->o->today_y;
	struct mctx m;

	for (y = ty - 3; y < ty; y++) {
		if (y < t->ws / 12)
			continue;
		rec_key(g, rc, t);
		rec_uint(rc, F_YEAR, (unsigned long)y);
		rec_str(rc, F_RESULT, pick(r, &g->assessment));
		school_name(g, t->school, rc, F_UNIT);
		mctx_init(&m);
		m.code_f = F_RESULT;
		m.bad_code = g->bad_assess;
		if (finish(g, C_ASSESS, rc, t, &m))
			return;
	}
}

static void gen_qualification(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	long lo = t->birth + 365L * 20, hi = month_first_day(t->ws) + 200;
	long issue;
	int y, m_, d;
	char *p;
	struct mctx m;
	const char *q = g->qtype_code[t->qtype];

	if (hi > g->today - 1)
		hi = g->today - 1;
	if (lo > hi - 30)
		lo = hi - 30;
	issue = rnd_day(r, max_l(lo, hi - 700), hi);
	civil_from_days(issue, &y, &m_, &d);
	rec_key(g, rc, t);
	rec_str(rc, F_QTYPE, q);
	p = rec_slot(rc, F_CERTNO, 17);
	if (p) {
		put_pad(p, (unsigned long)y, 4);
		p[4] = g->o->province[0];
		p[5] = g->o->province[1];
		put_pad(p + 6, (unsigned long)(100 + (t->no / 1000000) % 900),
			3);
		p[9] = q[0] >= '0' && q[0] <= '9' ? q[0] :
			(char)('0' + t->qtype);
		p[10] = (char)('0' + rnd(r, 3));
		put_pad(p + 11, (unsigned long)(t->no % 1000000), 6);
	}
	rec_str(rc, F_SUBJECT, t->qtype == 1 ? "幼儿园" :
		subjects[t->subj].subject);
	rec_date(rc, F_ISSUE_DATE, issue);
	rec_open(rc, F_ISSUER);
	if (t->qtype >= 4) {
		rec_add(rc, g->prov_full);
		rec_add(rc, "教育厅");
	} else {
		rec_add(rc, districts[rnd(r, NDISTRICTS)]);
		rec_add(rc, "区教育局");
	}
	rec_close(rc);
	mctx_init(&m);
	m.qual = 1;
	m.code_f = F_QTYPE;
	m.bad_code = g->bad_qtype;
	m.date_f = F_ISSUE_DATE;
	m.year = y;
	finish(g, C_QUAL, rc, t, &m);
}

static void gen_ethics(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	long lo = max_l(month_first_day(t->ws) + 365, g->today - 3650);
	long day;
	int y, mo, d;
	struct mctx m;
	const char *kind;

	if (rnd(r, 100) >= 25 || lo >= g->today - 1)
		return;
	day = rnd_day(r, lo, g->today - 1);
	civil_from_days(day, &y, &mo, &d);
	kind = pick(r, &g->ethics_kind);
	rec_key(g, rc, t);
	rec_str(rc, F_KIND, kind);
	rec_date(rc, F_DATE, day);
	if (kind == g->ethics_review) {
		rec_str(rc, F_TITLE, "年度师德考核");
		rec_str(rc, F_LEVEL, rnd(r, 4) ? "合格" : "优秀");
	} else if (kind == g->ethics_honour) {
		rec_str(rc, F_TITLE, ethics_titles[rnd(r, NETHICS)]);
		rec_str(rc, F_LEVEL, levels5[1 + rnd(r, 3)]);
	} else {
		rec_str(rc, F_TITLE, "违反职业行为准则的处理");
		rec_str(rc, F_LEVEL, "校级");
	}
	rec_open(rc, F_ISSUER);
	rec_add(rc, districts[rnd(r, NDISTRICTS)]);
	rec_add(rc, "区教育局");
	rec_close(rc);
	mctx_init(&m);
	m.code_f = F_KIND;
	m.bad_code = g->bad_ethics;
	m.date_f = F_DATE;
	m.year = y;
	finish(g, C_ETHICS, rc, t, &m);
}

static void gen_teaching(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	int ty = g->o->today_y, tm = g->o->today_m, k;
	int sy[2], term[2];
	struct mctx m;
	static const char *const grades[3][6] = {
		{ "一年级", "二年级", "三年级", "四年级", "五年级", "六年级" },
		{ "七年级", "八年级", "九年级", "七年级", "八年级", "九年级" },
		{ "高一", "高二", "高三", "高一", "高二", "高三" },
	};
	const char *grade;
	unsigned hours;

	if (tm >= 9) {
		sy[0] = ty; term[0] = 1;
		sy[1] = ty - 1; term[1] = 2;
	} else if (tm >= 3) {
		sy[0] = ty - 1; term[0] = 2;
		sy[1] = ty - 1; term[1] = 1;
	} else {
		sy[0] = ty - 1; term[0] = 1;
		sy[1] = ty - 2; term[1] = 2;
	}
	switch (t->set) {
	case S_K12:
		grade = grades[t->level][rnd(r, 6)];
		hours = 10 + rnd(r, 9);
		break;
	case S_UNIV:
	case S_HIGHVOC:
		grade = grades[0][rnd(r, 4)];
		hours = 4 + rnd(r, 10);
		break;
	default:
		grade = grades[0][rnd(r, 3)];
		hours = 10 + rnd(r, 10);
		break;
	}
	for (k = 0; k < 2; k++) {
		char *p;

		rec_key(g, rc, t);
		p = put_pad(rec_tmp(rc), (unsigned long)sy[k], 4);
		*p++ = '-';
		p = put_pad(p, (unsigned long)(sy[k] + 1), 4);
		rec_end(rc, F_SCHOOL_YEAR, p);
		rec_uint(rc, F_TERM, (unsigned long)term[k]);
		rec_str(rc, F_SUBJECT, subjects[t->subj].subject);
		rec_str(rc, F_GRADE, grade);
		rec_uint(rc, F_WEEKLY_HOURS, hours + rnd(r, 3));
		if (k == 0 ? rnd(r, 100) < 35 : rnd(r, 100) < 10)
			rec_str(rc, F_OTHER_DUTIES, k ? "教研组长" : "班主任");
		mctx_init(&m);
		m.num_f = F_WEEKLY_HOURS;
		m.num_max = 80;
		m.school_year = 1;
		if (finish(g, C_TEACHING, rc, t, &m))
			return;
	}
}

static void gen_research(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	unsigned x = rnd(r, 100), kind0 = rnd(r, NRKINDS), k;
	int n = x < 45 ? 0 : x < 80 ? 1 : 2;
	long lo = month_first_day(t->ws) + 180;
	struct mctx m;

	if (lo >= g->today - 1)
		return;
	for (k = 0; k < (unsigned)n; k++) {
		long day = rnd_day(r, lo, g->today - 1);
		int y, mo, d;

		civil_from_days(day, &y, &mo, &d);
		rec_key(g, rc, t);
		rec_str(rc, F_KIND, research_kinds[(kind0 + k) % NRKINDS]);
		rec_open(rc, F_TITLE);
		rec_add(rc, subjects[t->subj].subject);
		rec_add(rc, "教学中");
		rec_add(rc, research_topics[rnd(r, NRTOPICS)]);
		rec_add(rc, "的实践研究");
		rec_close(rc);
		rec_date(rc, F_DATE, day);
		rec_str(rc, F_ROLE, research_roles[rnd(r, 4)]);
		rec_str(rc, F_LEVEL, levels5[rnd(r, 5)]);
		mctx_init(&m);
		m.date_f = F_DATE;
		m.year = y;
		if (finish(g, C_RESEARCH, rc, t, &m))
			return;
	}
}

static void gen_talent(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	int first = t->ws / 12 + 3, ty = g->o->today_y;
	struct mctx m;

	if (rnd(r, 1000) >= (t->set == S_UNIV ? 80u : 30u) || first > ty)
		return;
	rec_key(g, rc, t);
	rec_str(rc, F_PROGRAM, talent_programs[rnd(r, NTALENT)]);
	rec_uint(rc, F_YEAR, (unsigned long)(first + (int)rnd(r,
		 (unsigned)(ty - first + 1))));
	mctx_init(&m);
	finish(g, C_TALENT, rc, t, &m);
}

static void gen_training(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	long lo = max_l(g->today - 3650, month_first_day(t->ws));
	long hi = g->today - 1, span = hi - lo, slot;
	int n = 4 + (int)rnd(r, 5), k;
	unsigned p0 = rnd(r, NTPROJ);
	struct mctx m;

	if (span < (long)n * 20)
		n = (int)(span / 20);
	if (n <= 0)
		return;
	slot = span / n;
	for (k = 0; k < n; k++) {
		long start = lo + k * slot + (long)rnd(r, (unsigned)(slot - 5));
		unsigned days = 1 + rnd(r, 10);
		unsigned hours = days * (6 + rnd(r, 3));
		int y, mo, d;

		civil_from_days(start, &y, &mo, &d);
		rec_key(g, rc, t);
		rec_str(rc, F_PROJECT, training_projects[(p0 + (unsigned)k * 3) %
							 NTPROJ]);
		rec_date(rc, F_START_DATE, start);
		rec_date(rc, F_END_DATE, start + days - 1);
		rec_str(rc, F_KIND, pick(r, &g->training_kind));
		rec_uint(rc, F_HOURS, hours);
		rec_tenths(rc, F_CREDITS, (long)hours);
		rec_open(rc, F_PROVIDER);
		switch (rnd(r, 4)) {
		case 0:
			rec_add(rc, g->prov_name);
			rec_add(rc, "教育学院");
			break;
		case 1:
			rec_add(rc, g->prov_name);
			rec_add(rc, "师范大学继续教育学院");
			break;
		case 2:
			rec_add(rc, districts[rnd(r, NDISTRICTS)]);
			rec_add(rc, "区教师发展中心");
			break;
		default:
			rec_add(rc, "中国教师研修网");
			break;
		}
		rec_close(rc);
		mctx_init(&m);
		m.start_f = F_START_DATE;
		m.end_f = F_END_DATE;
		m.start = start;
		m.num_f = F_HOURS;
		m.num_max = 2000;
		m.code_f = F_KIND;
		m.bad_code = g->bad_training;
		m.date_f = F_START_DATE;
		m.year = y;
		if (finish(g, C_TRAINING, rc, t, &m))
			return;
	}
}

static void gen_overseas(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	long lo = max_l(month_first_day(t->ws) + 365, g->today - 3650);
	long hi = g->today - 200, start;
	unsigned a = rnd(r, NABROAD), k;
	int y, mo, d;
	struct mctx m;

	if (rnd(r, 1000) >= (t->set == S_UNIV ? 150u : 15u) || lo >= hi)
		return;
	for (k = 0; k < NABROAD && !g->abroad_code[a]; k++)
		a = (a + 1) % NABROAD;
	start = rnd_day(r, lo, hi);
	civil_from_days(start, &y, &mo, &d);
	rec_key(g, rc, t);
	rec_date(rc, F_START_DATE, start);
	rec_date(rc, F_END_DATE, start + 90 + (long)rnd(r, 275));
	rec_str(rc, F_COUNTRY, g->abroad_code[a] ? g->abroad_code[a] :
		abroad[a].country);
	rec_str(rc, F_INSTITUTION, abroad[a].institution);
	rec_str(rc, F_PROJECT, overseas_projects[rnd(r, 4)]);
	mctx_init(&m);
	m.start_f = F_START_DATE;
	m.end_f = F_END_DATE;
	m.start = start;
	m.code_f = F_COUNTRY;
	m.bad_code = g->bad_country;
	m.date_f = F_START_DATE;
	m.year = y;
	finish(g, C_OVERSEAS, rc, t, &m);
}

static void gen_certificate(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	unsigned x = rnd(r, 100), c0, k;
	int n = x < 40 ? 0 : x < 80 ? 1 : 2;
	long lo = t->birth + 365L * 18;
	struct mctx m;

	/* second certificate: 育婴师 in kindergartens, 双师型 in vocational */
	c0 = rnd(r, 5);
	for (k = 0; k < (unsigned)n; k++) {
		const struct certdef *c = &certdefs[(c0 + k) % 5];
		long day = rnd_day(r, lo, g->today - 1);
		int y, mo, d;

		if (k == 1 && t->set == S_KG)
			c = &certdefs[5];
		else if (k == 1 && (t->set == S_SECVOC ||
				    t->set == S_HIGHVOC))
			c = &certdefs[6];
		civil_from_days(day, &y, &mo, &d);
		rec_key(g, rc, t);
		rec_str(rc, F_NAME, c->name);
		rec_str(rc, F_LEVEL, c->levels[rnd(r, 3)]);
		rec_date(rc, F_ISSUE_DATE, day);
		rec_str(rc, F_ISSUER, c->issuer);
		mctx_init(&m);
		m.date_f = F_ISSUE_DATE;
		m.year = y;
		if (finish(g, C_CERT, rc, t, &m))
			return;
	}
}

static void gen_exchange(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	long lo = max_l(month_first_day(t->sj), g->today - 6 * 365);
	long start;
	int transferred, y, mo, d;
	char other[11];
	struct mctx m;

	if (rnd(r, 100) >= 8 && !g->na_mode)
		return;
	transferred = t->prev_school >= 0 &&
		      month_first_day(t->sj) >= g->today - 6 * 365 &&
		      rnd(r, 2);
	if (!transferred && lo >= g->today - 30)
		return;
	start = transferred ? month_first_day(t->sj) :
		rnd_day(r, lo, g->today - 30);
	civil_from_days(start, &y, &mo, &d);
	rec_key(g, rc, t);
	rec_date(rc, F_START_DATE, start);
	rec_date(rc, F_END_DATE, start + (rnd(r, 3) ? 365 : 3 * 365) - 1);
	rec_str(rc, F_KIND, transferred ? g->rot_exchange :
		g->rot_other[rnd(r, 2)]);
	if (transferred) {
		school_code(g, t->prev_school, other);
		rec_mem(rc, F_FROM_SCHOOL, other, 10);
		rec_mem(rc, F_TO_SCHOOL, t->school_code, 10);
	} else {
		school_code(g, t->school + 1 + (long)rnd(r, 50), other);
		rec_mem(rc, F_FROM_SCHOOL, t->school_code, 10);
		rec_mem(rc, F_TO_SCHOOL, other, 10);
	}
	rec_bool(rc, F_PERSONNEL, transferred);
	mctx_init(&m);
	m.start_f = F_START_DATE;
	m.end_f = F_END_DATE;
	m.start = start;
	m.code_f = F_KIND;
	m.bad_code = g->bad_rotation;
	m.date_f = F_START_DATE;
	m.year = y;
	finish(g, C_EXCHANGE, rc, t, &m);
}

static void gen_change(struct gen *g, const struct teacher *t)
{
	struct rng *r = &g->rng;
	struct rec *rc = &g->rec;
	char code[11];
	long day;
	int y, mo, d;
	struct mctx m;

	day = month_first_day(t->ws) + (long)rnd(r, 28);
	if (day > g->today - 1)
		day = g->today - 1;
	civil_from_days(day, &y, &mo, &d);
	rec_key(g, rc, t);
	rec_str(rc, F_KIND, g->hire);
	rec_date(rc, F_EFFECTIVE, day);
	if (t->prev_school >= 0) {
		school_code(g, t->prev_school, code);
		rec_mem(rc, F_TO_SCHOOL, code, 10);
	} else {
		rec_mem(rc, F_TO_SCHOOL, t->school_code, 10);
	}
	rec_str(rc, F_NOTE, "新入职");
	mctx_init(&m);
	m.code_f = F_KIND;
	m.bad_code = g->bad_change;
	m.date_f = F_EFFECTIVE;
	m.year = y;
	if (finish(g, C_CHANGE, rc, t, &m) || t->prev_school < 0)
		return;
	day = month_first_day(t->sj) + (long)rnd(r, 28);
	if (day > g->today - 1)
		day = g->today - 1;
	civil_from_days(day, &y, &mo, &d);
	rec_key(g, rc, t);
	rec_str(rc, F_KIND, g->transfer_in);
	rec_date(rc, F_EFFECTIVE, day);
	rec_mem(rc, F_FROM_SCHOOL, code, 10);
	rec_mem(rc, F_TO_SCHOOL, t->school_code, 10);
	rec_str(rc, F_NOTE, "调入");
	m.year = y;
	finish(g, C_CHANGE, rc, t, &m);
}

typedef void (*gen_fn)(struct gen *, const struct teacher *);

static const gen_fn generators[NCAT] = {
	NULL, gen_education, gen_work, gen_post, gen_title, gen_pay,
	gen_assessment, gen_qualification, gen_ethics, gen_teaching,
	gen_research, gen_talent, gen_training, gen_overseas,
	gen_certificate, gen_exchange, gen_change,
};

/*
 * One row of a category the teacher's set excludes, drawn from the dirty
 * stream so the clean data stays the same; the generator may emit none.
 */
static void not_applicable(struct gen *g, const struct teacher *t, int c)
{
	struct rng saved = g->rng;

	g->rng = g->drng;
	g->na_mode = 1;
	generators[c](g, t);
	g->na_mode = 0;
	g->drng = g->rng;
	g->rng = saved;
}

static void gen_one(struct gen *g, long i)
{
	struct teacher t;
	int c;

	make_teacher(g, i, &t);
	gen_teacher(g, &t);
	for (c = 1; c < NCAT && !g->failed; c++) {
		g->stop = 0;
		if (g->bycat[c] < 0)
			continue;
		if (applicable(g, &t, c)) {
			generators[c](g, &t);
			continue;
		}
		if (g->o->dirty > 0 && rnd_unit(&g->drng) <
		    g->o->dirty * cat_mean_rows[c])
			not_applicable(g, &t, c);
	}
	g->stop = 0;
}

/* ---- entry --------------------------------------------------------------- */

int sample_write(const struct sample_opts *o, struct sample_stats *st,
		 struct tmerr *err)
{
	struct gen *g;
	size_t k;
	long i;
	int rc = 0;

	memset(st, 0, sizeof(*st));
	if (!o->defs)
		return tmerr_set(err, TMERR_USAGE, "no definitions loaded");
	if (o->teachers < 0)
		return tmerr_set(err, TMERR_USAGE,
				 "teacher count must not be negative");
	if (!(o->dirty >= 0 && o->dirty <= 1))
		return tmerr_set(err, TMERR_USAGE,
				 "dirty rate must be between 0 and 1");
	if (o->today_y < 1900 || o->today_y > 9999 || o->today_m < 1 ||
	    o->today_m > 12 || o->today_d < 1 ||
	    o->today_d > mdays(o->today_y, o->today_m))
		return tmerr_set(err, TMERR_USAGE, "invalid date for today");
	if (!o->province)
		return tmerr_set(err, TMERR_USAGE, "no province given");
	g = calloc(1, sizeof(*g));
	if (!g)
		return tmerr_set(err, TMERR_SYS, "out of memory");
	for (k = 0; k < NPROV - 3; k++) {
		if (!strcmp(o->province, provinces[k].code)) {
			g->prov_name = provinces[k].name;
			g->prov_full = provinces[k].full;
		}
	}
	if (!g->prov_name) {
		free(g);
		return tmerr_set(err, TMERR_USAGE,
				 "unknown province \"%.8s\" (two digits, such as 41)",
				 o->province);
	}
	g->o = o;
	g->d = o->defs;
	g->st = st;
	g->err = err;
	g->seed = o->seed;
	rng_seed(&g->rng, o->seed);
	rng_seed(&g->drng, o->seed ^ 0xd1b54a32d192ed03ULL);
	rec_reset(&g->rec);

	if (setup(g) || mkdir_p(o->out_dir, err) || open_outputs(g)) {
		close_outputs(g);
		free(g);
		return -1;
	}
	for (i = 0; i < o->teachers && !g->failed; i++)
		gen_one(g, i);
	if (!g->failed && g->rec.overflow) {
		tmerr_set(err, TMERR_SYS, "internal error: sample row too long");
		g->failed = 1;
	}
	if (close_outputs(g) || g->failed)
		rc = -1;
	free(g);
	return rc;
}
