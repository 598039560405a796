#include <stdio.h>

#include "../etl/xlog.h"
#include "cli.h"

int cmd_audit_verify(struct ctx *c)
{
	struct xlog_check chk;
	struct tmerr err;

	tmerr_clear(&err);
	if (xlog_verify(c->conn, &chk, &err)) {
		report_error(&err);
		return exit_code_for(&err);
	}
	if (chk.first_bad) {
		printf("exchange log NOT intact: entry %lld: %s\n", chk.first_bad, chk.why);
		printf("checked %lld entries\n", chk.entries);
		return EXIT_FAIL;
	}
	printf("exchange log intact: %lld entries, ids 1-%lld without a gap, every hash and link checked\n",
	       chk.entries, chk.last_id);
	printf("last entry %lld, hash %s (keep it elsewhere: a later verify proves nothing before it changed)\n",
	       chk.last_id, chk.last_hash);
	return EXIT_OK;
}
