# P00001: the teacher qualification platform (教师资格管理平台).
# It receives each teacher's basic record and qualification certificates,
# nationwide. ID numbers are masked (rows carry the pseudonymous
# teacher_ref instead); phone, email and every field not listed here never
# leave the centre. Format: docs/profiles.md.
platform P00001
name 教师资格管理平台 (qualification platform)

category teacher id_type id_number name gender birth_date school_code indicator_set status
category qualification *

mask *.id_number id
mask teacher.birth_date generic

scope all
