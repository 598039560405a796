# P00002: Henan's teacher training platform (教师培训管理平台).
# It receives who the province's teachers are (name and school) and their
# training records, for province 41 only. ID numbers are masked (rows
# carry the pseudonymous teacher_ref). Format: docs/profiles.md.
platform P00002
name 河南省教师培训管理平台 (training platform)

category teacher id_type id_number name school_code
category training *

mask *.id_number id

scope province 41
