/*
 * input: a struct input over a plain file descriptor, read with read(2).
 * The context (fd and a copy of the name) is owned by the input and freed by
 * input_close_file(); failures fill err and return -1.
 */
#include "adapter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct file_ctx {
	int fd;
	int owned; /* 0 for standard input, which is never closed */
	char name[];
};

static ssize_t file_read(void *ctx, void *dst, size_t n)
{
	struct file_ctx *f = ctx;
	ssize_t r;

	do
		r = read(f->fd, dst, n);
	while (r < 0 && errno == EINTR);
	return r;
}

int input_open_file(struct input *in, const char *path, struct tmerr *err)
{
	const char *name = strcmp(path, "-") ? path : "<stdin>";
	size_t nlen = strlen(name);
	struct file_ctx *f;
	struct stat st;
	int fd;

	memset(in, 0, sizeof(*in));
	if (!strcmp(path, "-")) {
		fd = STDIN_FILENO;
	} else {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return tmerr_set(err, TMERR_INPUT, "cannot open \"%s\": %s",
					 path, strerror(errno));
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		if (fd != STDIN_FILENO)
			close(fd);
		return tmerr_set(err, TMERR_INPUT,
				 "cannot read \"%s\": is a directory", path);
	}
	f = malloc(sizeof(*f) + nlen + 1);
	if (!f) {
		if (fd != STDIN_FILENO)
			close(fd);
		return tmerr_set(err, TMERR_SYS, "out of memory opening \"%s\"",
				 path);
	}
	f->fd = fd;
	f->owned = fd != STDIN_FILENO;
	memcpy(f->name, name, nlen + 1);
	in->read = file_read;
	in->ctx = f;
	in->name = f->name;
	return 0;
}

void input_close_file(struct input *in)
{
	struct file_ctx *f = in->ctx;

	if (!f)
		return;
	if (f->owned)
		close(f->fd);
	free(f);
	memset(in, 0, sizeof(*in));
}
