#include <stdio.h>
#include <stdlib.h>

#include "../etl/srvconf.h"
#include "cli.h"
#include "server.h"

int cmd_serve(struct ctx *c)
{
	const char *path = arg_get(c, "config");
	struct srvconf *cf;
	struct tmerr err;
	int rc;

	if (!path) {
		fprintf(stderr, "tmisgw serve: --config FILE is required\n");
		return EXIT_USAGE;
	}
	cf = calloc(1, sizeof(*cf));
	if (!cf)
		return EXIT_FAIL;
	tmerr_clear(&err);
	if (srvconf_load(cf, path, &err) || server_run(cf, &err)) {
		report_error(&err);
		rc = exit_code_for(&err);
	} else {
		rc = EXIT_OK;
	}
	free(cf);
	return rc;
}
