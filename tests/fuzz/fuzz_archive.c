/* Fuzz target: image archive import (oci_archive_import_fd).  The input is
 * the archive's bytes (an OCI archive or a `docker save` tar, maybe gzip'd
 * or zstd'd), imported into a fresh layout store in a scratch directory.
 *
 * Any input: no crash, no leak, no undefined behaviour; a rejected archive
 * sets an error.  Whatever happens, nothing is written beside the store, and
 * the store holds only oci-layout, index.json and blobs/<alg>/<hex> (no
 * temporary file left by a failed put).  After a successful import,
 * index.json parses and each imported image resolves or fails with an error.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive_read.h"
#include "layout.h"

static bool is_hex(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

/* Calls fn on each name in path (not . and ..). */
static void each_entry(const char *path, void (*fn)(const char *dir, const char *name))
{
	DIR *d = opendir(path);
	struct dirent *e;

	fuzz_require(d != NULL, "open %s: %s", path, strerror(errno));
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			fn(path, e->d_name);
	closedir(d);
}

static void check_blob(const char *dir, const char *name)
{
	fuzz_require(is_hex(name), "stray file in the store: %s/%s", dir, name);
}

static void check_alg(const char *dir, const char *name)
{
	char path[PATH_MAX];

	fuzz_require(strcmp(name, "sha256") == 0 || strcmp(name, "sha512") == 0,
	             "stray entry in blobs: %s/%s", dir, name);
	fuzz_path(path, "%s/%s", dir, name);
	each_entry(path, check_blob);
}

static void check_layout_entry(const char *dir, const char *name)
{
	char path[PATH_MAX];

	if (strcmp(name, "oci-layout") == 0 || strcmp(name, "index.json") == 0)
		return;
	fuzz_require(strcmp(name, "blobs") == 0, "stray entry in the store: %s/%s", dir, name);
	fuzz_path(path, "%s/%s", dir, name);
	each_entry(path, check_alg);
}

static void check_run_entry(const char *dir, const char *name)
{
	fuzz_require(strcmp(name, "layout") == 0, "written beside the store: %s/%s", dir, name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct oci_layout_options lopts = {.size = sizeof(lopts), .create = true};
	struct oci_archive_import_result *res = NULL;
	struct oci_image_index *index = NULL;
	struct oci_layout *layout = NULL;
	berth_error_t err = NULL;
	char run[PATH_MAX], store[PATH_MAX];
	int fd;

	fuzz_path(run, "%s/run", fuzz_scratch_dir());
	fuzz_path(store, "%s/layout", run);
	fuzz_remove_tree(run);
	fuzz_require(mkdir(run, 0700) == 0, "mkdir %s: %s", run, strerror(errno));
	if (oci_layout_open(store, &lopts, &layout, &err) < 0)
		fuzz_fail("create the layout: %s", fuzz_msg(err));
	fd = fuzz_memfd(data, size);
	fuzz_require(fd >= 0, "memfd: %s", strerror(errno));

	if (oci_archive_import_fd(layout, fd, "fuzz.tar", NULL, &res, &err) < 0) {
		fuzz_require(res == NULL, "oci_archive_import_fd failed but returned a result");
		fuzz_check_error(&err, "oci_archive_import_fd");
	} else {
		fuzz_require(res != NULL && err == NULL, "oci_archive_import_fd: no result, or an error set");
		if (oci_layout_read_index(layout, &index, &err) < 0)
			fuzz_fail("index.json after a successful import: %s", fuzz_msg(err));
		oci_image_index_free(index);
		for (size_t i = 0; i < res->manifests_len; i++) {
			struct oci_image *img = NULL;
			if (oci_layout_resolve(layout, res->manifests[i].digest, NULL, &img, &err) < 0)
				fuzz_check_error(&err, "oci_layout_resolve");
			oci_image_free(img);
		}
		oci_archive_import_result_free(res);
	}
	close(fd);
	oci_layout_close(layout);

	each_entry(run, check_run_entry);
	each_entry(store, check_layout_entry);
	return 0;
}
