/*
 * mask: masked copies of personal values (ID numbers, phones, names, dates,
 * pay, email) for logs, error messages and reject files.
 *
 * Every masker writes into a caller-owned out of outsz bytes, never
 * allocates and never fails: out is always NUL-terminated (unless outsz is
 * 0) and truncated on a UTF-8 character boundary. Lengths count UTF-8
 * characters; control characters and invalid bytes that are kept show as '?'.
 */
#ifndef TMISGW_MASK_H
#define TMISGW_MASK_H

#include <stddef.h>

/* 18 characters: first 6 and last 4 kept (410105********0493); longer than
 * 6: first 2 and last 2 kept; otherwise all '*'. */
void mask_id(const char *v, size_t n, char *out, size_t outsz);
/* 11 characters or more: first 3 and last 4 kept (138****5678); 3 to 10:
 * all but the last 2 starred; shorter: all '*'. */
void mask_phone(const char *v, size_t n, char *out, size_t outsz);
/* First character kept, one '*' per further character (张**); a one-character
 * value becomes "*". */
void mask_name(const char *v, size_t n, char *out, size_t outsz);
/* Any other personal value: "***" ("" if empty); an email address keeps its
 * first character and domain (z***@example.cn). */
void mask_generic(const char *v, size_t n, char *out, size_t outsz);
/* "id_type:masked id_number", e.g. "1:410105********0493". */
void mask_teacher_key(const char *id_type, const char *id_number, size_t n,
		      char *out, size_t outsz);

#endif
