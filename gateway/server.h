/*
 * server: the gateway's HTTP server (libmicrohttpd) and its package workers
 * (docs/serve.md). server_run() blocks until SIGINT/SIGTERM, then stops
 * accepting, lets requests and workers finish their current step, and
 * returns 0; -1 with err when it cannot start. Only the CLI prints.
 */
#ifndef TMISGW_SERVER_H
#define TMISGW_SERVER_H

#include "../etl/err.h"
#include "../etl/srvconf.h"

int server_run(const struct srvconf *cf, struct tmerr *err);

#endif
