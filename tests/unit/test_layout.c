/* Unit tests for oci-spec/layout.c and oci-spec/archive_read.c: creating a
 * layout, putting and getting blobs (corruption and interrupted writes),
 * tags, resolving references with platform selection, atomic index.json
 * updates, and importing OCI and docker-save archives (made here with
 * libarchive, and by skopeo when it is installed). */
#include "../tap.h"
#include "archive_read.h"
#include "layout.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#define SHA_ABC "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define HEX_ABC "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static char tmpdir[] = "/tmp/berth-test-layout-XXXXXX";

static char *path_in(const char *name)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", tmpdir, name) < 0)
		abort();
	return p;
}

static char *read_text(const char *path)
{
	char *text = NULL;
	berth_error_t err = NULL;

	if (fs_read_file_at(AT_FDCWD, path, &text, NULL, &err) < 0)
		berth_error_free(&err);
	return text;
}

/* Files in dir whose names start with ".tmp-" (leftovers of writes). */
static int count_temp_files(const char *dir)
{
	cleanup_dir DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d != NULL && (de = readdir(d)) != NULL)
		if (strncmp(de->d_name, ".tmp-", 5) == 0)
			n++;
	return n;
}

static const char *msg(berth_error_t err)
{
	return err != NULL ? err->msg : "(no error)";
}

/* Runs argv; returns its exit status (or -1). */
static int run(char *const argv[])
{
	pid_t pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		dup2(null, 1);
		execvp(argv[0], argv);
		_exit(127);
	}
	if (waitpid(pid, &status, 0) < 0 || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

static bool have(const char *prog)
{
	char *const argv[] = {(char *)prog, (char *)"--version", NULL};

	return run(argv) == 0;
}

/* ---- tars made with libarchive ---- */

struct tar_entry {
	const char *path;
	char type;           /* 'f' file, 'd' directory, 'l' symlink, 'h' hard link */
	const char *content; /* file content, or link target */
	size_t len;          /* 0: strlen(content) */
};

/* Writes a tar (gzip'd when asked) of entries to path. */
static int write_tar(const char *path, const struct tar_entry *entries, size_t n, bool gzip)
{
	struct archive *a = archive_write_new();
	int r = 0;

	archive_write_set_format_pax_restricted(a);
	if (gzip)
		archive_write_add_filter_gzip(a);
	if (archive_write_open_filename(a, path) != ARCHIVE_OK) {
		archive_write_free(a);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		size_t len = entries[i].len != 0 ? entries[i].len
		                                 : strlen(entries[i].content ? entries[i].content : "");

		archive_entry_set_pathname(e, entries[i].path);
		archive_entry_set_mtime(e, 0, 0);
		switch (entries[i].type) {
		case 'd':
			archive_entry_set_filetype(e, AE_IFDIR);
			archive_entry_set_perm(e, 0755);
			break;
		case 'l':
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_perm(e, 0777);
			archive_entry_set_symlink(e, entries[i].content);
			break;
		case 'h':
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_hardlink(e, entries[i].content);
			break;
		default:
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_perm(e, 0644);
			archive_entry_set_size(e, (la_int64_t)len);
		}
		if (archive_write_header(a, e) != ARCHIVE_OK ||
		    (entries[i].type == 'f' &&
		     archive_write_data(a, entries[i].content, len) != (la_ssize_t)len))
			r = -1;
		archive_entry_free(e);
	}
	if (archive_write_close(a) != ARCHIVE_OK)
		r = -1;
	archive_write_free(a);
	return r;
}

/* A layer tar (one file) in memory: the bytes of the file written by write_tar. */
static char *make_layer(const char *content, bool gzip, size_t *len)
{
	cleanup_free char *p = path_in(gzip ? "layer.tar.gz" : "layer.tar");
	struct tar_entry e[] = {{"hello.txt", 'f', content, 0}};
	char *text = NULL;
	berth_error_t err = NULL;

	if (write_tar(p, e, 1, gzip) < 0 || fs_read_file_at(AT_FDCWD, p, &text, len, &err) < 0) {
		berth_error_free(&err);
		return NULL;
	}
	unlink(p);
	return text;
}

/* ---- building images in a layout ---- */

/* Puts a one-layer image for arch into l; fills *manifest_desc (with platform). */
static int put_image(struct oci_layout *l, const char *arch, const char *content, bool gzip,
                     struct oci_descriptor *manifest_desc)
{
	berth_error_t err = NULL;
	size_t layer_len = 0;
	cleanup_free char *layer = make_layer(content, gzip, &layer_len);
	cleanup_free char *plain = gzip ? make_layer(content, false, NULL) : NULL;
	char diff_id[OCI_DIGEST_MAX];
	struct oci_descriptor layer_desc = {0};
	struct oci_image_manifest m = {.schema_version = 2, .media_type = (char *)OCI_MEDIA_TYPE_MANIFEST};
	cleanup_free char *config_json = NULL, *manifest_json = NULL;
	size_t plain_len = 0;
	int r = -1;

	if (layer == NULL)
		return -1;
	if (gzip) {
		free(plain);
		plain = make_layer(content, false, &plain_len);
		oci_digest_buffer(OCI_DIGEST_SHA256, plain, plain_len, diff_id, &err);
	} else {
		oci_digest_buffer(OCI_DIGEST_SHA256, layer, layer_len, diff_id, &err);
	}
	if (oci_layout_put_blob_desc(l,
	                             oci_media_type_layer(gzip ? OCI_COMPRESSION_GZIP : OCI_COMPRESSION_NONE),
	                             layer, layer_len, &layer_desc, &err) < 0)
		goto out;
	if (asprintf(&config_json,
	             "{\"architecture\":\"%s\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"/hello\"]},"
	             "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\"]}}",
	             arch, diff_id) < 0)
		goto out;
	if (oci_layout_put_blob_desc(l, OCI_MEDIA_TYPE_CONFIG, config_json, strlen(config_json), &m.config,
	                             &err) < 0)
		goto out;
	m.layers = &layer_desc;
	m.layers_len = 1;
	manifest_json = oci_image_manifest_to_json(&m, false, &err);
	if (manifest_json == NULL || oci_layout_put_blob_desc(l, OCI_MEDIA_TYPE_MANIFEST, manifest_json,
	                                                      strlen(manifest_json), manifest_desc, &err) < 0)
		goto out;
	manifest_desc->platform = calloc(1, sizeof(*manifest_desc->platform));
	manifest_desc->platform->os = strdup("linux");
	manifest_desc->platform->architecture = strdup(arch);
	r = 0;
out:
	if (err != NULL)
		printf("# put_image: %s\n", err->msg);
	berth_error_free(&err);
	oci_descriptor_free_members(&layer_desc);
	oci_descriptor_free_members(&m.config);
	return r;
}

/* ---- tests ---- */

static void test_create_open(void)
{
	cleanup_free char *dir = path_in("store");
	cleanup_free char *layout_file = path_in("store/oci-layout");
	cleanup_free char *index_file = path_in("store/index.json");
	cleanup_free char *text = NULL, *index_text = NULL;
	struct oci_layout_options opts = {.size = sizeof(opts), .create = true};
	struct oci_layout *l = NULL;
	berth_error_t err = NULL;

	ok(oci_layout_open(dir, &opts, &l, &err) == 0, "create a layout");
	oci_layout_close(l);
	text = read_text(layout_file);
	is_str(text, "{\"imageLayoutVersion\":\"1.0.0\"}", "oci-layout written");
	index_text = read_text(index_file);
	is_str(index_text,
	       "{\"schemaVersion\":2,\"mediaType\":\"application/"
	       "vnd.oci.image.index.v1+json\",\"manifests\":[]}",
	       "empty index.json written");
	ok(oci_layout_open(dir, NULL, &l, &err) == 0, "reopen without create");
	oci_layout_close(l);

	ok(oci_layout_open(tmpdir, NULL, &l, &err) < 0 && err->code == BERTH_ERR_NOT_FOUND,
	   "a directory without oci-layout is not a layout");
	ok(err != NULL && strstr(err->msg, "is not an OCI image layout: no oci-layout file") != NULL,
	   "the message says why: %s", msg(err));
	berth_error_free(&err);
}

static ssize_t failing_read(void *ctx, void *buf, size_t len, berth_error_t *err)
{
	int *calls = ctx;

	if ((*calls)++ == 0) {
		memset(buf, 'x', len < 100 ? len : 100);
		return len < 100 ? (ssize_t)len : 100;
	}
	return berth_error_sys(err, EIO, "source");
}

static void test_blobs(void)
{
	cleanup_free char *dir = path_in("blobs");
	cleanup_free char *blob_file = path_in("blobs/blobs/sha256/" HEX_ABC);
	cleanup_free char *sha_dir = path_in("blobs/blobs/sha256");
	cleanup_free char *text = NULL, *buf = NULL;
	struct oci_layout_options opts = {.size = sizeof(opts), .create = true, .fsync = true};
	cleanup_oci_layout struct oci_layout *l = NULL;
	struct oci_blob_reader *r = NULL;
	berth_error_t err = NULL;
	char digest[OCI_DIGEST_MAX];
	int calls = 0, fd;
	size_t len = 0;

	if (oci_layout_open(dir, &opts, &l, &err) < 0)
		return;
	ok(oci_layout_put_blob(l, "abc", 3, NULL, digest, &err) == 0, "put a blob");
	is_str(digest, SHA_ABC, "its digest");
	text = read_text(blob_file);
	is_str(text, "abc", "stored as blobs/sha256/<hex>");
	ok(oci_layout_has_blob(l, SHA_ABC, &err) == 1, "has the blob");
	ok(oci_layout_put_blob(l, "abc", 3, SHA_ABC, NULL, &err) == 0,
	   "putting it again with its digest is fine");

	/* A put whose content does not match leaves nothing. */
	ok(oci_layout_put_blob(l, "abd", 3,
	                       "sha256:a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c8",
	                       NULL, &err) < 0,
	   "put with a wrong digest fails");
	is_str(msg(err),
	       "blob sha256:a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c8: digest "
	       "mismatch (got "
	       "sha256:a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c9)",
	       "the message names both digests");
	berth_error_free(&err);
	ok(oci_layout_has_blob(l, "sha256:a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c8",
	                       &err) == 0,
	   "no blob under the wrong digest");
	ok(count_temp_files(sha_dir) == 0, "and no temporary file left");

	/* An interrupted write (the source fails half-way) leaves no blob. */
	ok(oci_layout_put_blob_stream(l, failing_read, &calls, NULL, -1, digest, NULL, &err) < 0,
	   "a put whose source fails is an error");
	is_str(msg(err), "source: Input/output error", "the source's error");
	berth_error_free(&err);
	ok(count_temp_files(sha_dir) == 0, "an interrupted put leaves no temporary file");
	fd = open(sha_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	{
		cleanup_dir DIR *d = fdopendir(fd);
		struct dirent *de;
		int blobs = 0;
		while (d != NULL && (de = readdir(d)) != NULL)
			blobs += de->d_name[0] != '.';
		ok(blobs == 1, "only the one good blob is there");
	}
	ok(oci_layout_put_blob_fd(l, -1, NULL, -1, NULL, NULL, &err) < 0, "a put from a bad fd fails");
	berth_error_free(&err);
	ok(count_temp_files(sha_dir) == 0, "and leaves nothing");
	ok(oci_layout_put_blob(l, "abcd", 4, SHA_ABC, NULL, &err) < 0, "a put of other content fails");
	is_str(
	    msg(err),
	    "blob " SHA_ABC
	    ": digest mismatch (got sha256:88d4266fd4e6338d13b845fcf289579d209c897823b9217da3e161936f031589)",
	    "digest mismatch message");
	berth_error_free(&err);
	{
		int p[2];
		ok(pipe(p) == 0 && write(p[1], "abc", 3) == 3, "a pipe with 3 bytes");
		close(p[1]);
		ok(oci_layout_put_blob_fd(l, p[0], SHA_ABC, 4, NULL, NULL, &err) < 0,
		   "a put of the wrong size fails");
		close(p[0]);
	}
	is_str(msg(err), "blob " SHA_ABC ": size mismatch: expected 4 bytes, got 3", "size mismatch message");
	berth_error_free(&err);
	text = (free(text), read_text(blob_file));
	is_str(text, "abc", "the good blob is untouched");

	/* A leftover temporary file (a crash mid-put) is no blob. */
	{
		cleanup_free char *leftover = path_in("blobs/blobs/sha256/.tmp-blob-0123456789abcdef");
		int lfd = open(leftover, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		ok(lfd >= 0 && write(lfd, "partial", 7) == 7, "a leftover temporary file");
		close(lfd);
		ok(oci_layout_has_blob(l, "sha256:.tmp-blob-0123456789abcdef", &err) < 0,
		   "its name is no digest");
		berth_error_free(&err);
	}

	/* Paths: a digest is validated before it becomes a path. */
	ok(oci_layout_open_blob(l, "sha256:../../oci-layout", -1, &r, &err) < 0,
	   "a digest with .. is refused");
	is_str(msg(err), "invalid digest `sha256:../../oci-layout`", "refused as an invalid digest");
	berth_error_free(&err);

	/* Reads verify. */
	ok(oci_layout_read_blob(l, SHA_ABC, 3, 1024, &buf, &len, &err) == 0 && len == 3 &&
	       strcmp(buf, "abc") == 0,
	   "read a blob back");
	free(steal_ptr(&buf));
	ok(oci_layout_read_blob(l, SHA_ABC, 5, 1024, &buf, &len, &err) < 0,
	   "a descriptor size that differs is caught");
	is_str(msg(err), "blob " SHA_ABC ": size mismatch: expected 5 bytes, got 3", "size message on read");
	berth_error_free(&err);
	ok(oci_layout_read_blob(l, "sha256:0000000000000000000000000000000000000000000000000000000000000000",
	                        -1, 1024, &buf, &len, &err) < 0 &&
	       err->code == BERTH_ERR_NOT_FOUND,
	   "a missing blob is not found");
	berth_error_free(&err);

	/* Corrupt the blob on disk (same size): both read paths name it. */
	fd = open(blob_file, O_WRONLY | O_CLOEXEC);
	ok(fd >= 0 && write(fd, "abd", 3) == 3, "corrupt the blob on disk");
	close(fd);
	ok(oci_layout_read_blob(l, SHA_ABC, 3, 1024, &buf, &len, &err) < 0,
	   "a corrupted blob is detected on read");
	is_str(
	    msg(err),
	    "blob " SHA_ABC
	    ": digest mismatch (got sha256:a52d159f262b2c6ddb724a61840befc36eb30c88877a4030b65cbe86298449c9)",
	    "the message names the blob");
	berth_error_free(&err);
	ok(oci_layout_open_blob(l, SHA_ABC, 3, &r, &err) == 0, "open the corrupted blob for streaming");
	ok(r != NULL && oci_blob_reader_drain(r, &err) < 0 && strstr(msg(err), "digest mismatch") != NULL,
	   "the streaming reader fails at the end");
	oci_blob_reader_free(r);
	berth_error_free(&err);
	/* Putting the right content repairs it. */
	ok(oci_layout_put_blob(l, "abc", 3, SHA_ABC, NULL, &err) == 0 &&
	       oci_layout_read_blob(l, SHA_ABC, 3, 1024, &buf, &len, &err) == 0,
	   "a put of the right content replaces a corrupted blob");
	berth_error_free(&err);
}

/* A read_fn that hands out a byte of `fd` at a time (a pipe that never ends). */
static ssize_t read_pipe(void *ctx, void *buf, size_t len, berth_error_t *err)
{
	(void)err;
	(void)len;
	return read(*(int *)ctx, buf, 1);
}

/* A writer SIGKILLed half-way through a blob leaves no file in the layout:
 * not even a temporary one (the blob is an unnamed file until complete). */
static void test_killed_writer(void)
{
	cleanup_free char *dir = path_in("killed");
	cleanup_free char *sha_dir = path_in("killed/blobs/sha256");
	struct oci_layout_options opts = {.size = sizeof(opts), .create = true};
	struct oci_layout *l = NULL;
	berth_error_t err = NULL;
	int p[2], status = 0;
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	int entries = 0;

	if (oci_layout_open(dir, &opts, &l, &err) < 0 || pipe(p) < 0) {
		ok(0, "a layout for the killed writer");
		berth_error_free(&err);
		return;
	}
	pid_t pid = fork();
	if (pid == 0) {
		char digest[OCI_DIGEST_MAX];
		int64_t size;
		close(p[1]);
		oci_layout_put_blob_stream(l, read_pipe, &p[0], NULL, -1, digest, &size, &err);
		_exit(0);
	}
	close(p[0]);
	/* some content written, the child blocked in its read */
	ok(write(p[1], "partial content", 15) == 15, "the writer got part of a blob");
	usleep(100000);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	close(p[1]);
	d = opendir(sha_dir);
	while (d != NULL && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			entries++;
	ok(WIFSIGNALED(status) && entries == 0,
	   "a writer killed half-way leaves no file in blobs/sha256 (%d)", entries);
	oci_layout_close(l);
}

static struct oci_layout *new_layout(const char *name)
{
	cleanup_free char *dir = path_in(name);
	struct oci_layout_options opts = {.size = sizeof(opts), .create = true};
	struct oci_layout *l = NULL;
	berth_error_t err = NULL;

	if (oci_layout_open(dir, &opts, &l, &err) < 0) {
		printf("# %s\n", err->msg);
		berth_error_free(&err);
	}
	return l;
}

static void test_tags_resolve(void)
{
	cleanup_oci_layout struct oci_layout *l = new_layout("images");
	cleanup_free char *index_file = path_in("images/index.json");
	struct oci_descriptor amd = {0}, arm = {0}, other = {0}, list_desc = {0};
	struct oci_image_index list = {.schema_version = 2, .media_type = (char *)OCI_MEDIA_TYPE_INDEX};
	struct oci_platform_want want_arm = {.os = "linux", .architecture = "arm64"};
	struct oci_platform_want want_s390 = {.architecture = "s390x"};
	cleanup_free char *list_json = NULL, *before = NULL, *after = NULL;
	cleanup_strv char **tags = NULL;
	struct oci_image *img = NULL;
	berth_error_t err = NULL;
	struct stat st1, st2;
	size_t ntags = 0;

	if (l == NULL || put_image(l, "amd64", "amd", false, &amd) < 0 ||
	    put_image(l, "arm64", "arm", true, &arm) < 0 ||
	    put_image(l, "amd64", "other", false, &other) < 0) {
		ok(0, "images put");
		return;
	}
	ok(oci_layout_tag(l, "v1", &amd, &err) == 0, "tag v1");
	ok(oci_layout_resolve(l, "v1", NULL, &img, &err) == 0, "resolve v1");
	is_str(img != NULL ? img->manifest_desc.digest : NULL, amd.digest, "v1 is the manifest tagged");
	is_str(img != NULL && img->config->config != NULL ? img->config->config->cmd[0] : NULL, "/hello",
	       "the config is parsed");
	ok(img != NULL && img->manifest->layers_len == 1, "the manifest is parsed");
	oci_image_free(steal_ptr(&img));
	ok(oci_layout_resolve(l, NULL, NULL, &img, &err) == 0, "resolve without a reference: the only image");
	oci_image_free(steal_ptr(&img));
	ok(oci_layout_resolve(l, amd.digest, NULL, &img, &err) == 0, "resolve by digest of an index entry");
	oci_image_free(steal_ptr(&img));
	ok(oci_layout_resolve(l, other.digest, NULL, &img, &err) == 0 &&
	       strcmp(img->manifest_desc.digest, other.digest) == 0,
	   "resolve by digest of a manifest blob not in index.json");
	oci_image_free(steal_ptr(&img));
	ok(oci_layout_resolve(l, "v2", NULL, &img, &err) < 0 && err->code == BERTH_ERR_NOT_FOUND,
	   "v2 is not found");
	ok(err != NULL && strstr(err->msg, "image `v2`: not found in") != NULL, "message: %s", msg(err));
	berth_error_free(&err);

	/* Atomic index.json updates: a new file renamed over the old, which a reader still has whole. */
	stat(index_file, &st1);
	before = read_text(index_file);
	ok(oci_layout_tag(l, "v1", &other, &err) == 0, "retag v1");
	stat(index_file, &st2);
	ok(st1.st_ino != st2.st_ino, "index.json was replaced by a rename, not rewritten in place");
	ok(count_temp_files(oci_layout_path(l)) == 0, "no temporary file left beside index.json");
	ok(oci_layout_tag(l, "bad tag!", &amd, &err) < 0, "an invalid tag is refused");
	is_str(msg(err), "tag `bad tag!`: invalid reference name", "invalid tag message");
	berth_error_free(&err);
	after = read_text(index_file);
	ok(before != NULL && after != NULL && strcmp(before, after) != 0,
	   "index.json changed by the retag only");
	ok(oci_layout_list_tags(l, &tags, &ntags, &err) == 0 && ntags == 1 && strcmp(tags[0], "v1") == 0,
	   "one v1 entry after retagging");
	ok(oci_layout_resolve(l, "v1", NULL, &img, &err) == 0 &&
	       strcmp(img->manifest_desc.digest, other.digest) == 0,
	   "v1 now resolves to the other image");
	oci_image_free(steal_ptr(&img));

	/* A multi-platform index, tagged. */
	list.manifests = calloc(2, sizeof(*list.manifests));
	oci_descriptor_copy(&list.manifests[0], &arm, &err);
	oci_descriptor_copy(&list.manifests[1], &amd, &err);
	list.manifests_len = 2;
	list_json = oci_image_index_to_json(&list, false, &err);
	ok(oci_layout_put_blob_desc(l, OCI_MEDIA_TYPE_INDEX, list_json, strlen(list_json), &list_desc,
	                            &err) == 0,
	   "put a multi-platform index");
	ok(oci_layout_tag(l, "multi", &list_desc, &err) == 0, "tag it");
	ok(oci_layout_resolve(l, "multi", NULL, &img, &err) == 0 &&
	       strcmp(img->manifest_desc.digest, amd.digest) == 0 &&
	       strcmp(img->config->architecture, "amd64") == 0,
	   "the host's platform (linux/amd64) by default");
	oci_image_free(steal_ptr(&img));
	ok(oci_layout_resolve(l, "multi", &want_arm, &img, &err) == 0 &&
	       strcmp(img->manifest_desc.digest, arm.digest) == 0,
	   "linux/arm64 when asked");
	ok(img != NULL && img->manifest->layers[0].media_type != NULL &&
	       strcmp(img->manifest->layers[0].media_type, OCI_MEDIA_TYPE_LAYER_GZIP) == 0,
	   "its layer is gzip'd");
	oci_image_free(steal_ptr(&img));
	ok(oci_layout_resolve(l, "multi", &want_s390, &img, &err) < 0 && err->code == BERTH_ERR_NOT_FOUND,
	   "no s390x image");
	ok(strstr(msg(err), "resolve `multi`: index sha256:") == msg(err) &&
	       strstr(msg(err),
	              ": no manifest for platform linux/s390x (available: linux/arm64, linux/amd64)") != NULL,
	   "the message names the platform wanted and those available: %s", msg(err));
	berth_error_free(&err);

	strv_free(steal_ptr(&tags));
	ok(oci_layout_list_tags(l, &tags, &ntags, &err) == 0 && ntags == 2 && strcmp(tags[1], "multi") == 0,
	   "tags listed in index order");
	ok(oci_layout_untag(l, "multi", &err) == 0 && oci_layout_untag(l, "multi", &err) < 0 &&
	       err->code == BERTH_ERR_NOT_FOUND,
	   "untag, then it is gone");
	berth_error_free(&err);
	oci_image_index_free(NULL);
	oci_descriptor_free_members(&list.manifests[0]);
	oci_descriptor_free_members(&list.manifests[1]);
	free(list.manifests);
	oci_descriptor_free_members(&amd);
	oci_descriptor_free_members(&arm);
	oci_descriptor_free_members(&other);
	oci_descriptor_free_members(&list_desc);
}

/* ---- archives ---- */

/* Tars the layout at dir (oci-layout, index.json, blobs/sha256/...) into path; corrupt: one blob's bytes
 * changed. */
static int tar_layout(const char *dir, const char *path, bool gzip, bool corrupt)
{
	struct tar_entry entries[64];
	char *texts[64];
	size_t lens[64], n = 0;
	cleanup_free char *sha_dir = NULL;
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	berth_error_t err = NULL;
	int r = 0;
	static const char *const docs[] = {"oci-layout", "index.json"};

	for (size_t i = 0; i < 2; i++) {
		cleanup_free char *p = NULL;
		if (asprintf(&p, "%s/%s", dir, docs[i]) < 0 ||
		    fs_read_file_at(AT_FDCWD, p, &texts[n], &lens[n], &err) < 0)
			return -1;
		entries[n] = (struct tar_entry){strdup(docs[i]), 'f', texts[n], lens[n]};
		n++;
	}
	entries[n++] = (struct tar_entry){strdup("blobs/"), 'd', NULL, 0};
	texts[n - 1] = NULL;
	if (asprintf(&sha_dir, "%s/blobs/sha256", dir) < 0 || (d = opendir(sha_dir)) == NULL)
		return -1;
	while ((de = readdir(d)) != NULL && n < 64) {
		cleanup_free char *p = NULL;
		char *name = NULL;
		if (de->d_name[0] == '.')
			continue;
		if (asprintf(&p, "%s/%s", sha_dir, de->d_name) < 0 ||
		    fs_read_file_at(AT_FDCWD, p, &texts[n], &lens[n], &err) < 0 ||
		    asprintf(&name, "./blobs/sha256/%s", de->d_name) < 0)
			return -1;
		if (corrupt && lens[n] > 0 && texts[n][0] == '{') {
			texts[n][lens[n] - 1] = ' ';
			corrupt = false;
		}
		entries[n] = (struct tar_entry){name, 'f', texts[n], lens[n]};
		n++;
	}
	r = write_tar(path, entries, n, gzip);
	for (size_t i = 0; i < n; i++) {
		free((char *)entries[i].path);
		free(texts[i]);
	}
	return r;
}

static void test_oci_archive(void)
{
	cleanup_oci_layout struct oci_layout *src = new_layout("oci-src");
	cleanup_oci_layout struct oci_layout *dst = new_layout("oci-dst");
	cleanup_free char *archive = path_in("image.oci.tar.gz"), *bad = path_in("bad.oci.tar");
	struct oci_descriptor desc = {0};
	struct oci_archive_import_result *res = NULL;
	struct oci_archive_import_options opts = {.size = sizeof(opts), .tag = "renamed"};
	struct oci_image *img = NULL;
	berth_error_t err = NULL;

	if (src == NULL || dst == NULL || put_image(src, "amd64", "oci", true, &desc) < 0 ||
	    oci_layout_tag(src, "v1", &desc, &err) < 0 ||
	    tar_layout(oci_layout_path(src), archive, true, false) < 0) {
		ok(0, "OCI archive made");
		return;
	}
	ok(oci_archive_import(dst, archive, NULL, &res, &err) == 0, "import a gzip'd OCI archive: %s",
	   msg(err));
	ok(res != NULL && res->format == OCI_ARCHIVE_OCI && res->manifests_len == 1,
	   "one OCI image imported");
	oci_archive_import_result_free(steal_ptr(&res));
	ok(oci_layout_resolve(dst, "v1", NULL, &img, &err) == 0 &&
	       strcmp(img->manifest_desc.digest, desc.digest) == 0,
	   "its tag resolves to the same manifest");
	oci_image_free(steal_ptr(&img));
	ok(oci_archive_import(dst, archive, &opts, NULL, &err) == 0 &&
	       oci_layout_resolve(dst, "renamed", NULL, &img, &err) == 0,
	   "imported again under another tag");
	oci_image_free(steal_ptr(&img));
	berth_error_free(&err);

	/* A blob whose bytes do not match its name fails the import, naming it. */
	{
		cleanup_oci_layout struct oci_layout *dst2 = new_layout("oci-dst2");
		ok(tar_layout(oci_layout_path(src), bad, false, true) == 0,
		   "an OCI archive with a corrupted blob");
		ok(oci_archive_import(dst2, bad, NULL, NULL, &err) < 0 &&
		       strstr(msg(err), "digest mismatch") != NULL &&
		       strstr(msg(err), "`blobs/sha256/") != NULL,
		   "import fails naming the blob: %s", msg(err));
		berth_error_free(&err);
	}
	oci_descriptor_free_members(&desc);
}

/* An old-style `docker save` archive: <id>/layer.tar, a second layer symlinked to the first. */
static void test_docker_archive(void)
{
	cleanup_oci_layout struct oci_layout *dst = new_layout("docker-dst");
	cleanup_free char *archive = path_in("docker.tar");
	size_t layer_len = 0;
	cleanup_free char *layer = make_layer("docker", false, &layer_len);
	cleanup_free char *config = NULL, *manifest = NULL, *config_name = NULL;
	char diff_id[OCI_DIGEST_MAX], config_digest[OCI_DIGEST_MAX];
	struct oci_archive_import_result *res = NULL;
	struct oci_image *img = NULL;
	berth_error_t err = NULL;

	oci_digest_buffer(OCI_DIGEST_SHA256, layer, layer_len, diff_id, &err);
	if (asprintf(&config,
	             "{\"architecture\":\"arm64\",\"variant\":\"v8\",\"os\":\"linux\",\"config\":{\"Env\":["
	             "\"A=b\"]},"
	             "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"%s\",\"%s\"]},\"container_config\":{}}",
	             diff_id, diff_id) < 0)
		return;
	oci_digest_buffer(OCI_DIGEST_SHA256, config, strlen(config), config_digest, &err);
	if (asprintf(&config_name, "%s.json", config_digest + 7) < 0 ||
	    asprintf(&manifest,
	             "[{\"Config\":\"%s\",\"RepoTags\":[\"example.com/app:1.0\",\"app:latest\"],"
	             "\"Layers\":[\"aaa/layer.tar\",\"bbb/layer.tar\"]}]",
	             config_name) < 0)
		return;
	{
		struct tar_entry e[] = {
		    {"aaa/", 'd', NULL, 0},
		    {"aaa/VERSION", 'f', "1.0", 0},
		    {"aaa/json", 'f', "{}", 0},
		    {"aaa/layer.tar", 'f', layer, layer_len},
		    {"bbb/", 'd', NULL, 0},
		    {"bbb/layer.tar", 'l', "../aaa/layer.tar", 0},
		    {config_name, 'f', config, 0},
		    {"repositories", 'f', "{}", 0},
		    {"manifest.json", 'f', manifest, 0},
		};
		ok(write_tar(archive, e, sizeof(e) / sizeof(e[0]), false) == 0, "a docker-save archive");
	}
	ok(oci_archive_import(dst, archive, NULL, &res, &err) == 0, "import it: %s", msg(err));
	ok(res != NULL && res->format == OCI_ARCHIVE_DOCKER && res->manifests_len == 2,
	   "docker format; one index entry per RepoTags name");
	oci_archive_import_result_free(steal_ptr(&res));
	ok(oci_layout_resolve(dst, "example.com/app:1.0",
	                      &(struct oci_platform_want){.architecture = "arm64"}, &img, &err) == 0,
	   "RepoTags[0] resolves (as arm64): %s", msg(err));
	if (img != NULL) {
		is_str(img->manifest->config.digest, config_digest,
		       "the config blob is the archive's, byte for byte");
		is_str(img->manifest->media_type, OCI_MEDIA_TYPE_MANIFEST, "an OCI manifest");
		ok(img->manifest->layers_len == 2 && strcmp(img->manifest->layers[1].digest, diff_id) == 0 &&
		       strcmp(img->manifest->layers[0].media_type, OCI_MEDIA_TYPE_LAYER) == 0 &&
		       img->manifest->layers[0].size == (int64_t)layer_len,
		   "layers as they are (uncompressed tar), the symlinked one too");
		is_str(img->config->config->env[0], "A=b", "config parsed");
	}
	oci_image_free(steal_ptr(&img));
	ok(oci_layout_resolve(dst, "app:latest", &(struct oci_platform_want){.architecture = "arm64"}, &img,
	                      &err) == 0,
	   "RepoTags[1] too");
	oci_image_free(steal_ptr(&img));
	berth_error_free(&err);
}

static void hostile(const char *name, const struct tar_entry *e, size_t n, const char *want)
{
	cleanup_oci_layout struct oci_layout *dst = new_layout("hostile-dst");
	cleanup_free char *archive = path_in("hostile.tar"), *full = NULL;
	berth_error_t err = NULL;

	if (write_tar(archive, e, n, false) < 0 || asprintf(&full, "archive `%s`: %s", archive, want) < 0)
		return;
	ok(oci_archive_import(dst, archive, NULL, NULL, &err) < 0, "hostile archive refused: %s", name);
	is_str(msg(err), full, "hostile archive: %s: message", name);
	berth_error_free(&err);
}

static void test_hostile_archives(void)
{
	cleanup_free char *escaped = path_in("evil");
	struct tar_entry dotdot[] = {{"../evil", 'f', "x", 0}, {"manifest.json", 'f', "[]", 0}};
	struct tar_entry inner_dotdot[] = {{"a/../../evil", 'f', "x", 0}};
	struct tar_entry absolute[] = {{"/etc/evil", 'f', "x", 0}};
	struct tar_entry symlink_out[] = {{"x", 'l', "../../etc/passwd", 0}};
	struct tar_entry symlink_abs[] = {{"x", 'l', "/etc/passwd", 0}};
	struct tar_entry loop[] = {{"a", 'l', "b", 0},
	                           {"b", 'l', "a", 0},
	                           {"manifest.json", 'f', "[{\"Config\":\"a\",\"Layers\":[]}]", 0}};
	struct tar_entry neither[] = {{"hello", 'f', "x", 0}};
	struct stat st;

	hostile("..", dotdot, 2, "entry `../evil`: path outside the archive");
	hostile("inner ..", inner_dotdot, 1, "entry `a/../../evil`: path outside the archive");
	hostile("absolute", absolute, 1, "entry `/etc/evil`: path outside the archive");
	hostile("symlink out", symlink_out, 1, "entry `x`: link to `../../etc/passwd` leaves the archive");
	hostile("absolute symlink", symlink_abs, 1, "entry `x`: link to `/etc/passwd` leaves the archive");
	hostile("symlink loop", loop, 3, "`a`: too many levels of links");
	hostile("not an image", neither, 1,
	        "neither an OCI archive (no oci-layout) nor a docker archive (no manifest.json)");
	ok(lstat(escaped, &st) < 0 && errno == ENOENT, "nothing was written outside");
}

/* Archives written by skopeo from a layout this store wrote. */
static void test_skopeo(void)
{
	cleanup_oci_layout struct oci_layout *src = new_layout("skopeo-src");
	cleanup_oci_layout struct oci_layout *dst = new_layout("skopeo-dst");
	cleanup_free char *oci_ref = NULL, *oci_archive = path_in("skopeo.oci.tar"),
	                  *docker_archive = path_in("skopeo.docker.tar"), *oci_dst = NULL, *docker_dst = NULL;
	struct oci_descriptor desc = {0};
	struct oci_image *img = NULL, *orig = NULL;
	berth_error_t err = NULL;

	if (!have("skopeo")) {
		printf("ok %d - # SKIP skopeo is not installed\n", ++tap_count);
		return;
	}
	if (src == NULL || dst == NULL || put_image(src, "amd64", "skopeo", true, &desc) < 0 ||
	    oci_layout_tag(src, "v1", &desc, &err) < 0 ||
	    oci_layout_resolve(src, "v1", NULL, &orig, &err) < 0) {
		ok(0, "skopeo source image");
		return;
	}
	if (asprintf(&oci_ref, "oci:%s:v1", oci_layout_path(src)) < 0 ||
	    asprintf(&oci_dst, "oci-archive:%s:fromskopeo", oci_archive) < 0 ||
	    asprintf(&docker_dst, "docker-archive:%s:example.com/skopeo:latest", docker_archive) < 0)
		return;
	{
		char *const copy_oci[] = {(char *)"skopeo",
		                          (char *)"--insecure-policy",
		                          (char *)"copy",
		                          (char *)"-q",
		                          oci_ref,
		                          oci_dst,
		                          NULL};
		char *const copy_docker[] = {(char *)"skopeo",
		                             (char *)"--insecure-policy",
		                             (char *)"copy",
		                             (char *)"-q",
		                             oci_ref,
		                             docker_dst,
		                             NULL};
		ok(run(copy_oci) == 0, "skopeo reads our layout and writes an OCI archive");
		ok(run(copy_docker) == 0, "and a docker archive");
	}
	ok(oci_archive_import(dst, oci_archive, NULL, NULL, &err) == 0, "import skopeo's OCI archive: %s",
	   msg(err));
	ok(oci_layout_resolve(dst, "fromskopeo", NULL, &img, &err) == 0 &&
	       strcmp(img->manifest->config.digest, orig->manifest->config.digest) == 0 &&
	       strcmp(img->manifest->layers[0].digest, orig->manifest->layers[0].digest) == 0,
	   "same config and layer: %s", msg(err));
	oci_image_free(steal_ptr(&img));
	ok(oci_archive_import(dst, docker_archive, NULL, NULL, &err) == 0,
	   "import skopeo's docker archive: %s", msg(err));
	ok(oci_layout_resolve(dst, "example.com/skopeo:latest", NULL, &img, &err) == 0 &&
	       strcmp(img->manifest->config.digest, orig->manifest->config.digest) == 0 &&
	       strcmp(img->manifest->layers[0].digest, orig->config->diff_ids[0]) == 0,
	   "same config; the layer uncompressed (its diff_id): %s", msg(err));
	oci_image_free(steal_ptr(&img));
	oci_image_free(orig);
	oci_descriptor_free_members(&desc);
	berth_error_free(&err);
}

int main(void)
{
	if (mkdtemp(tmpdir) == NULL)
		return 1;
	test_create_open();
	test_blobs();
	test_killed_writer();
	test_tags_resolve();
	test_oci_archive();
	test_docker_archive();
	test_hostile_archives();
	test_skopeo();
	if (getenv("BERTH_KEEP_TMP") == NULL) {
		berth_error_t err = NULL;
		fs_remove_tree_at(AT_FDCWD, tmpdir, &err);
		berth_error_free(&err);
	}
	return tap_done();
}
