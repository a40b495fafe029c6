/* The output layout as a tar file (see output.h). */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "output.h"
#include "util/cleanup.h"

struct tarw {
	struct archive *a;
	int64_t mtime;
	const char *dest;
};

static int add_entry(struct tarw *w, int dir_fd, const char *name, const char *path, bool dir,
                     berth_error_t *err)
{
	struct archive_entry *e = archive_entry_new();
	cleanup_close int fd = -1;
	struct stat st = {0};
	int r = -1;
	if (e == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "output `%s`", w->dest);
	if (!dir) {
		fd = openat(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0) {
			berth_error_sys(err, errno, "output `%s`: `%s`", w->dest, path);
			goto out;
		}
	}
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
	archive_entry_set_perm(e, dir ? 0755 : 0644);
	archive_entry_set_size(e, dir ? 0 : st.st_size);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	archive_entry_set_mtime(e, (time_t)w->mtime, 0);
	if (archive_write_header(w->a, e) != ARCHIVE_OK) {
		berth_error_set(err, BERTH_ERR_SYSTEM, 0, "output `%s`: `%s`: %s", w->dest, path,
		                archive_error_string(w->a));
		goto out;
	}
	char buf[65536];
	ssize_t n = 0;
	while (!dir && (n = read(fd, buf, sizeof(buf))) > 0) {
		if (archive_write_data(w->a, buf, (size_t)n) != n) {
			berth_error_set(err, BERTH_ERR_SYSTEM, 0, "output `%s`: `%s`: %s", w->dest, path,
			                archive_error_string(w->a));
			goto out;
		}
	}
	if (n < 0) {
		berth_error_sys(err, errno, "output `%s`: read `%s`", w->dest, path);
		goto out;
	}
	r = 0;
out:
	archive_entry_free(e);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* oci-layout, index.json, blobs/, blobs/<alg>/, blobs/<alg>/<hex> sorted */
static int add_layout(struct tarw *w, int lfd, berth_error_t *err)
{
	if (add_entry(w, lfd, "oci-layout", "oci-layout", false, err) < 0 ||
	    add_entry(w, lfd, "index.json", "index.json", false, err) < 0 ||
	    add_entry(w, lfd, "blobs", "blobs/", true, err) < 0)
		return -1;
	static const char *const algs[] = {"sha256", "sha512"};
	for (size_t k = 0; k < 2; k++) {
		char rel[64];
		snprintf(rel, sizeof(rel), "blobs/%s", algs[k]);
		int afd = openat(lfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (afd < 0 && errno == ENOENT)
			continue;
		cleanup_dir DIR *d = afd >= 0 ? fdopendir(afd) : NULL;
		if (d == NULL) {
			if (afd >= 0)
				close(afd);
			return berth_error_sys(err, errno, "output `%s`: `%s`", w->dest, rel);
		}
		char **names = NULL;
		size_t n = 0;
		struct dirent *de;
		int r = 0;
		while (r == 0 && (de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			char **nn = realloc(names, (n + 1) * sizeof(*nn));
			if (nn == NULL || (nn[n] = strdup(de->d_name)) == NULL) {
				names = nn ? nn : names;
				r = berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "output");
				break;
			}
			names = nn;
			n++;
		}
		if (n > 0)
			qsort(names, n, sizeof(*names), name_cmp);
		char dpath[80];
		snprintf(dpath, sizeof(dpath), "%s/", rel);
		if (r == 0)
			r = add_entry(w, lfd, rel, dpath, true, err);
		for (size_t i = 0; i < n; i++) {
			cleanup_free char *path = NULL;
			if (r == 0 && asprintf(&path, "%s/%s", rel, names[i]) < 0)
				r = berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "output");
			if (r == 0)
				r = add_entry(w, dirfd(d), names[i], path, false, err);
			free(names[i]);
		}
		free(names);
		if (r < 0)
			return -1;
	}
	return 0;
}

int output_layout_tar(const char *layout_dir, const char *dest, int64_t mtime, berth_error_t *err)
{
	cleanup_free char *tmp = NULL;
	if (asprintf(&tmp, "%s.tmp-%d", dest, (int)getpid()) < 0)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "output");
	cleanup_close int lfd = open(layout_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (lfd < 0 || out < 0)
		return berth_error_sys(err, errno, "output `%s`", lfd < 0 ? layout_dir : tmp);
	struct tarw w = {.a = archive_write_new(), .mtime = mtime, .dest = dest};
	int r = -1;
	if (w.a == NULL) {
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "output");
		goto out;
	}
	if (archive_write_set_format_pax_restricted(w.a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w.a, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(w.a, out) != ARCHIVE_OK) {
		berth_error_set(err, BERTH_ERR_SYSTEM, 0, "output `%s`: %s", dest, archive_error_string(w.a));
		goto out;
	}
	if (add_layout(&w, lfd, err) < 0)
		goto out;
	if (archive_write_close(w.a) != ARCHIVE_OK) {
		berth_error_set(err, BERTH_ERR_SYSTEM, 0, "output `%s`: %s", dest, archive_error_string(w.a));
		goto out;
	}
	if (fsync(out) < 0 || rename(tmp, dest) < 0) {
		berth_error_sys(err, errno, "output `%s`", dest);
		goto out;
	}
	r = 0;
out:
	if (w.a != NULL)
		archive_write_free(w.a);
	if (r < 0)
		unlink(tmp);
	return r;
}
