#include "home.h"

#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "buf.h"

#define CONFIG_MAX (64 * 1024)
#define CONFIG_LINE_MAX 1024

int home_org_valid(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (i >= 6 || !((s[i] >= '0' && s[i] <= '9') ||
				(s[i] >= 'A' && s[i] <= 'Z')))
			return 0;
	return i == 6;
}

void home_close(struct gw_home *h)
{
	free(h->dir);
	free(h->gnupg);
	free(h->spool);
	free(h->outbox);
	free(h->inbox);
	memset(h, 0, sizeof(*h));
}

static char *sub(const char *dir, const char *name, struct tmerr *err)
{
	char *p;

	if (asprintf(&p, "%s/%s", dir, name) < 0) {
		tmerr_set(err, TMERR_SYS, "out of memory");
		return NULL;
	}
	return p;
}

/* mkdir when create (or when the home already exists), then check it. */
static int ensure_dir(const char *path, int create, struct tmerr *err)
{
	struct stat st;

	if (create && mkdir(path, 0700) && errno != EEXIST)
		return tmerr_set(err, TMERR_SYS, "cannot create directory \"%s\": %s",
				 path, strerror(errno));
	if (stat(path, &st))
		return tmerr_set(err, errno == ENOENT ? TMERR_USAGE : TMERR_SYS,
				 "cannot open \"%s\": %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return tmerr_set(err, TMERR_USAGE, "\"%s\" is not a directory", path);
	return 0;
}

int home_open(struct gw_home *h, const char *dir, int create,
	      struct tmerr *err)
{
	char *abs = NULL, val[32];
	struct stat st;
	int r;

	memset(h, 0, sizeof(*h));
	if (!dir || !*dir)
		dir = getenv("TMISGW_HOME");
	if (!dir || !*dir)
		return tmerr_set(err, TMERR_USAGE,
				 "no gateway home: give --home DIR or set TMISGW_HOME");
	if (create && mkdir(dir, 0700) && errno != EEXIST)
		return tmerr_set(err, TMERR_SYS, "cannot create gateway home \"%s\": %s",
				 dir, strerror(errno));
	abs = realpath(dir, NULL);
	if (!abs)
		return tmerr_set(err, errno == ENOENT ? TMERR_USAGE : TMERR_SYS,
				 "cannot open gateway home \"%s\": %s%s", dir,
				 strerror(errno), errno == ENOENT ?
				 " (\"tmisgw keys init\" makes one)" : "");
	h->dir = abs;
	if (!(h->gnupg = sub(abs, "gnupg", err)) ||
	    !(h->spool = sub(abs, "spool", err)) ||
	    !(h->outbox = sub(abs, "outbox", err)) ||
	    !(h->inbox = sub(abs, "inbox", err)))
		goto fail;
	if (ensure_dir(abs, 0, err))
		goto fail;
	if (!create && lstat(h->gnupg, &st) && errno == ENOENT) {
		tmerr_set(err, TMERR_USAGE,
			  "\"%s\" is not a gateway home: it has no gnupg directory (\"tmisgw keys init\" makes one)",
			  abs);
		goto fail;
	}
	if (ensure_dir(h->gnupg, create, err) ||
	    ensure_dir(h->spool, 1, err) ||
	    ensure_dir(h->outbox, 1, err) ||
	    ensure_dir(h->inbox, 1, err))
		goto fail;
	if (lstat(h->gnupg, &st) || !S_ISDIR(st.st_mode) ||
	    st.st_uid != geteuid() || (st.st_mode & 077)) {
		tmerr_set(err, TMERR_USAGE,
			  "unsafe permissions on \"%s\": it must be a directory of mode 0700 owned by this user",
			  h->gnupg);
		goto fail;
	}
	r = home_config_get(h, "org", val, sizeof(val), err);
	if (r < 0)
		goto fail;
	if (r > 0) {
		if (!home_org_valid(val)) {
			tmerr_set(err, TMERR_INPUT, "bad organisation code \"%s\" in \"%s/config\"",
				  val, abs);
			goto fail;
		}
		memcpy(h->org, val, 7);
	}
	return 0;
fail:
	home_close(h);
	return -1;
}

/* Read DIR/config into b (capped). A missing file reads as empty. */
static int config_read(const struct gw_home *h, struct buf *b,
		       struct tmerr *err)
{
	char path[PATH_MAX], chunk[4096];
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "%s/config", h->dir);
	f = fopen(path, "r");
	if (!f) {
		if (errno == ENOENT)
			return 0;
		return tmerr_set(err, TMERR_SYS, "cannot open \"%s\": %s", path,
				 strerror(errno));
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		int r = buf_add(b, chunk, n);

		if (r) {
			fclose(f);
			return tmerr_set(err, r == BUF_TOOBIG ? TMERR_LIMIT : TMERR_SYS,
					 r == BUF_TOOBIG ? "\"%s\" is larger than 64 KiB" :
					 "out of memory reading \"%s\"", path);
		}
	}
	if (ferror(f)) {
		fclose(f);
		return tmerr_set(err, TMERR_SYS, "cannot read \"%s\"", path);
	}
	fclose(f);
	return 0;
}

/*
 * Split the line at p (up to the end of b) into key and value; returns the
 * start of the next line. Blank lines and comments give klen 0.
 */
static const char *config_line(const char *p, const char *end,
			       const char **key, size_t *klen,
			       const char **val, size_t *vlen)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p)), *e = nl ? nl : end;

	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	*key = p;
	while (p < e && *p != ' ' && *p != '\t' && *p != '\r')
		p++;
	*klen = (size_t)(p - *key);
	if (*klen && **key == '#')
		*klen = 0;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	*val = p;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		e--;
	*vlen = (size_t)(e - p);
	return nl ? nl + 1 : end;
}

int home_config_get(const struct gw_home *h, const char *key, char *val,
		    size_t valsz, struct tmerr *err)
{
	struct buf b = BUF_INIT(CONFIG_MAX);
	const char *p, *end, *k, *v;
	size_t kl, vl, line = 0;
	int found = 0;

	if (valsz)
		val[0] = '\0';
	if (config_read(h, &b, err)) {
		buf_release(&b);
		return -1;
	}
	end = b.ptr + b.len;
	for (p = b.ptr; p < end;) {
		const char *start = p;

		line++;
		p = config_line(p, end, &k, &kl, &v, &vl);
		if ((size_t)(p - start) > CONFIG_LINE_MAX) {
			tmerr_set(err, TMERR_LIMIT, "line too long in \"%s/config\"", h->dir);
			tmerr_where(err, NULL, (long)line, 0);
			buf_release(&b);
			return -1;
		}
		if (kl == strlen(key) && !memcmp(k, key, kl)) {
			if (vl >= valsz) {
				tmerr_set(err, TMERR_LIMIT,
					  "value of \"%s\" too long in \"%s/config\"", key, h->dir);
				buf_release(&b);
				return -1;
			}
			memcpy(val, v, vl);
			val[vl] = '\0';
			found = 1;
		}
	}
	buf_release(&b);
	return found;
}

int home_config_set(const struct gw_home *h, const char *key, const char *val,
		    struct tmerr *err)
{
	struct buf b = BUF_INIT(CONFIG_MAX), out = BUF_INIT(CONFIG_MAX + 2048);
	char path[PATH_MAX], tmp[PATH_MAX];
	const char *p, *end, *k, *v;
	size_t kl, vl;
	int done = 0, fd;
	FILE *f;

	if (strpbrk(key, " \t\r\n#") || !*key || strpbrk(val, "\r\n"))
		return tmerr_set(err, TMERR_USAGE, "bad configuration entry \"%s\"", key);
	if (config_read(h, &b, err))
		goto fail;
	end = b.ptr + b.len;
	for (p = b.ptr; p < end;) {
		const char *start = p;

		p = config_line(p, end, &k, &kl, &v, &vl);
		if (kl == strlen(key) && !memcmp(k, key, kl)) {
			if (!done && buf_addf(&out, "%s %s\n", key, val))
				goto nomem;
			done = 1;
			continue;
		}
		if (buf_add(&out, start, (size_t)(p - start)) ||
		    (p == end && p > start && p[-1] != '\n' && buf_addch(&out, '\n')))
			goto nomem;
	}
	if (!done && buf_addf(&out, "%s %s\n", key, val))
		goto nomem;
	snprintf(path, sizeof(path), "%s/config", h->dir);
	snprintf(tmp, sizeof(tmp), "%s/config.tmp", h->dir);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || !(f = fdopen(fd, "w"))) {
		tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		goto fail;
	}
	if (fwrite(out.ptr, 1, out.len, f) != out.len || fflush(f) ||
	    fsync(fileno(f))) {
		tmerr_set(err, TMERR_SYS, "cannot write \"%s\": %s", tmp, strerror(errno));
		fclose(f);
		unlink(tmp);
		goto fail;
	}
	if (fclose(f) || rename(tmp, path)) {
		tmerr_set(err, TMERR_SYS, "cannot replace \"%s\": %s", path, strerror(errno));
		unlink(tmp);
		goto fail;
	}
	buf_release(&b);
	buf_release(&out);
	return 0;
nomem:
	tmerr_set(err, TMERR_LIMIT, "\"%s/config\" would grow too large", h->dir);
fail:
	buf_release(&b);
	buf_release(&out);
	return -1;
}

static int rm_entry(const char *p, const struct stat *st, int flag,
		    struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(p) : unlink(p);
}

void home_rm_tree(const char *dir)
{
	if (dir && *dir)
		nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
