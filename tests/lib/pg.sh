# pg.sh: a private, throw-away PostgreSQL cluster for tests (source it).
#
#   pg_start            initdb + start on a Unix socket in a new /tmp/tmpg.*
#                       directory; exports PGHOST PGPORT PGUSER PGDATABASE,
#                       TMISGW_DB (a libpq conninfo) and PSQL (psql binary)
#   pg_stop             stop it and remove the directory (idempotent)
#   pg_trap             install EXIT/INT/TERM traps that call pg_stop
#   pg_restart          stop (fast) and start again, same data
#   pg_sql SQL          run SQL with psql, unaligned tuples-only output
#   pg_kill_backend [P] terminate client backends (those whose query text
#                       contains P, if given); prints how many
#
# As root the server runs as $PG_OS_USER (default postgres) via runuser.
# Environment knobs: PG_BINDIR (initdb/pg_ctl/psql location), PG_FSYNC
# (default off), PG_OS_USER. Every function returns non-zero on failure and
# prints the server log to stderr when the server does not start.

PG_DIR=

# Sets PG_BINDIR to a directory holding initdb and pg_ctl.
_pg_bindir()
{
	if [ -n "${PG_BINDIR:-}" ] && [ -x "$PG_BINDIR/initdb" ]; then
		return 0
	fi
	_pg_d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null |
		sort -t/ -k4,4n | tail -n 1)
	if [ -n "$_pg_d" ] && [ -x "$_pg_d/initdb" ] && [ -x "$_pg_d/pg_ctl" ]; then
		PG_BINDIR=$_pg_d
		return 0
	fi
	_pg_i=$(command -v initdb 2>/dev/null)
	if [ -n "$_pg_i" ] && command -v pg_ctl >/dev/null 2>&1; then
		PG_BINDIR=$(dirname "$_pg_i")
		return 0
	fi
	echo "pg.sh: cannot find initdb and pg_ctl (install postgresql or set PG_BINDIR)" >&2
	return 1
}

# Runs a server-side command in $PG_DIR, as the server's OS user.
_pg_as()
{
	if [ "$(id -u)" = 0 ]; then
		(cd "$PG_DIR" && runuser -u "${PG_OS_USER:-postgres}" -- "$@")
	else
		(cd "$PG_DIR" && "$@")
	fi
}

_pg_ctl_start()
{
	if ! _pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" \
		-w -t 60 -o "$PG_OPTS" start >"$PG_DIR/pg_ctl.log" 2>&1; then
		echo "pg.sh: postgres did not start in $PG_DIR:" >&2
		cat "$PG_DIR/pg_ctl.log" "$PG_DIR/server.log" >&2 2>/dev/null
		return 1
	fi
}

pg_start()
{
	if [ -n "$PG_DIR" ]; then
		echo "pg.sh: a cluster is already running in $PG_DIR" >&2
		return 1
	fi
	_pg_bindir || return 1
	PG_DIR=$(mktemp -d /tmp/tmpg.XXXXXX) || { PG_DIR=; return 1; }
	if [ "$(id -u)" = 0 ]; then
		if ! id "${PG_OS_USER:-postgres}" >/dev/null 2>&1; then
			echo "pg.sh: running as root needs the OS user \"${PG_OS_USER:-postgres}\"" >&2
			rm -rf "$PG_DIR"
			PG_DIR=
			return 1
		fi
		chown "${PG_OS_USER:-postgres}" "$PG_DIR"
	fi
	if ! _pg_as "$PG_BINDIR/initdb" -D "$PG_DIR/data" -A trust -E UTF8 \
		--no-locale -U postgres --no-sync >"$PG_DIR/initdb.log" 2>&1; then
		echo "pg.sh: initdb failed:" >&2
		cat "$PG_DIR/initdb.log" >&2
		rm -rf "$PG_DIR"
		PG_DIR=
		return 1
	fi
	PGPORT=5432
	PG_OPTS="-c listen_addresses='' -k $PG_DIR -p $PGPORT -c fsync=${PG_FSYNC:-off} -c max_connections=30 -c shared_buffers=32MB -c max_wal_size=1GB"
	if ! _pg_ctl_start; then
		rm -rf "$PG_DIR"
		PG_DIR=
		return 1
	fi
	PGHOST=$PG_DIR
	PGUSER=postgres
	PGDATABASE=postgres
	TMISGW_DB="host=$PG_DIR port=$PGPORT user=postgres dbname=postgres"
	if [ -x "$PG_BINDIR/psql" ]; then
		PSQL=$PG_BINDIR/psql
	else
		PSQL=psql
	fi
	export PGHOST PGPORT PGUSER PGDATABASE TMISGW_DB PSQL PG_DIR
}

pg_stop()
{
	[ -n "$PG_DIR" ] || return 0
	if [ -f "$PG_DIR/data/postmaster.pid" ]; then
		_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m immediate -w \
			stop >/dev/null 2>&1
	fi
	rm -rf "$PG_DIR"
	PG_DIR=
	unset PGHOST PGPORT PGUSER PGDATABASE TMISGW_DB
}

pg_trap()
{
	trap 'pg_stop' EXIT
	trap 'pg_stop; trap - EXIT; exit 130' INT
	trap 'pg_stop; trap - EXIT; exit 143' TERM
}

pg_restart()
{
	[ -n "$PG_DIR" ] || { echo "pg.sh: no cluster to restart" >&2; return 1; }
	_pg_as "$PG_BINDIR/pg_ctl" -D "$PG_DIR/data" -m fast -w stop \
		>"$PG_DIR/pg_ctl.log" 2>&1 || return 1
	_pg_ctl_start
}

pg_sql()
{
	"$PSQL" -X -q -At -v ON_ERROR_STOP=1 -c "$1"
}

pg_kill_backend()
{
	"$PSQL" -X -q -At -v ON_ERROR_STOP=1 -v pat="${1:-}" <<'SQL'
SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
 WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()
   AND (:'pat' = '' OR strpos(query, :'pat') > 0);
SQL
}
