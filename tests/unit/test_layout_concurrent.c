/* Unit test: writers of one OCI layout in several processes at once (what
 * builds sharing an output layout do): no entry of index.json is lost, the
 * file always parses, and no temporary file is left.  Each process opens
 * the layout itself, as a separate program would.  And what killed writers
 * leave (temporary blobs, temporary index.json copies) is removed by the
 * next writer, but not a blob another writer is still writing. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../tap.h"
#include "digest.h"
#include "layout.h"
#include "util/fs.h"

#define WRITERS 4
#define TAGS    40 /* per writer; every 8th also an untagged entry */

static const char manifest[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
    "\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\","
    "\"size\":2},\"layers\":[]}";
/* added untagged by every writer with oci_layout_add_once: one entry in all */
static const char manifest_once[] =
    "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
    "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
    "\"digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\","
    "\"size\":2},\"layers\":[],\"annotations\":{\"once\":\"yes\"}}";
static char once_digest[OCI_DIGEST_MAX];

/* One writer: its own open of the layout, then TAGS tags (and untagged
 * entries); exits 0 when all went well. */
static void __attribute__((noreturn)) writer(const char *dir, int k, bool create)
{
	struct oci_layout_options lo = {.size = sizeof(lo), .create = create, .fsync = k % 2 == 0};
	struct oci_layout *l = NULL;
	struct oci_descriptor d = {0}, once = {0};
	berth_error_t err = NULL;
	int bad = 0;

	if (oci_layout_open(dir, &lo, &l, &err) < 0 ||
	    oci_layout_put_blob_desc(l, OCI_MEDIA_TYPE_MANIFEST, manifest, strlen(manifest), &d, &err) < 0 ||
	    oci_layout_put_blob_desc(l, OCI_MEDIA_TYPE_MANIFEST, manifest_once, strlen(manifest_once), &once,
	                             &err) < 0) {
		fprintf(stderr, "writer %d: %s\n", k, err->msg);
		_exit(1);
	}
	for (int j = 0; j < TAGS; j++) {
		char tag[32];
		snprintf(tag, sizeof(tag), "w%d-t%d", k, j);
		if (oci_layout_tag(l, tag, &d, &err) < 0 || (j % 8 == 0 && oci_layout_add(l, &d, &err) < 0) ||
		    (j % 8 == 4 && oci_layout_add_once(l, &once, &err) < 0)) {
			fprintf(stderr, "writer %d: %s\n", k, err->msg);
			berth_error_free(&err);
			bad++;
		}
	}
	oci_descriptor_free_members(&d);
	oci_descriptor_free_members(&once);
	oci_layout_close(l);
	_exit(bad ? 1 : 0);
}

static void run_writers(const char *dir, bool create, int tags)
{
	pid_t pids[WRITERS];
	int failed = 0;

	for (int k = 0; k < WRITERS; k++) {
		pids[k] = fork();
		if (pids[k] == 0)
			writer(dir, k, create);
	}
	for (int k = 0; k < WRITERS; k++) {
		int st = 0;
		if (pids[k] < 0 || waitpid(pids[k], &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			failed++;
	}
	ok(failed == 0, "%d writers at once%s: all succeed (%d failed)", WRITERS,
	   create ? ", creating the layout" : "", failed);

	struct oci_layout *l = NULL;
	struct oci_image_index *idx = NULL;
	berth_error_t err = NULL;
	ok(oci_layout_open(dir, NULL, &l, &err) == 0 && oci_layout_read_index(l, &idx, &err) == 0,
	   "index.json parses: %s", err ? err->msg : "");
	if (idx != NULL) {
		size_t tagged = 0, untagged = 0, once = 0;
		for (size_t i = 0; i < idx->manifests_len; i++) {
			if (oci_descriptor_annotation(&idx->manifests[i], OCI_ANNOTATION_REF_NAME) != NULL)
				tagged++;
			else if (strcmp(idx->manifests[i].digest, once_digest) == 0)
				once++;
			else
				untagged++;
		}
		ok(once == (tags > 4 ? 1u : 0u), "an entry added once by every writer is there once: %zu",
		   once);
		ok(tagged == (size_t)(WRITERS * tags), "every tag is there: %zu of %d", tagged,
		   WRITERS * tags);
		ok(untagged == (size_t)(WRITERS * ((tags + 7) / 8)),
		   "every untagged entry is there: %zu of %d", untagged, WRITERS * ((tags + 7) / 8));
		oci_image_index_free(idx);
	}
	oci_layout_close(l);

	/* nothing but oci-layout, index.json and blobs/ */
	DIR *d = opendir(dir);
	struct dirent *de;
	int stray = 0;
	while (d != NULL && (de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") && strcmp(de->d_name, "oci-layout") &&
		    strcmp(de->d_name, "index.json") && strcmp(de->d_name, "blobs")) {
			printf("# stray file: %s\n", de->d_name);
			stray++;
		}
	if (d != NULL)
		closedir(d);
	ok(stray == 0, "no temporary file is left (%d)", stray);
}

/* A file `name` under dir, its times `age` seconds in the past. */
static int make_old(const char *dir, const char *name, int age)
{
	char path[512];
	struct timespec t[2];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec -= age;
	t[1] = t[0];
	futimens(fd, t);
	return fd;
}

static bool exists(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

static void test_stale_temps(const char *dir)
{
	struct oci_layout_options lo = {.size = sizeof(lo), .create = true};
	struct oci_layout *l = NULL;
	berth_error_t err = NULL;
	char blobs[512];
	int fd, held;

	snprintf(blobs, sizeof(blobs), "%s/blobs/sha256", dir);
	ok(oci_layout_open(dir, &lo, &l, &err) == 0, "a layout");
	oci_layout_close(l);
	fs_mkdir_p(blobs, 0755, &err);
	/* a killed writer's blob and index.json copies: old, held by nobody */
	close(make_old(blobs, ".tmp-blob-dead", 600));
	close(make_old(dir, ".tmp-index.json-dead", 600));
	close(make_old(dir, "index.json.tmp-4242", 600));
	/* a live writer's blob: held (as the writer holds it), and one just made */
	held = make_old(blobs, ".tmp-blob-held", 600);
	flock(held, LOCK_EX);
	fd = make_old(blobs, ".tmp-blob-fresh", 0);
	close(fd);
	pid_t pid = fork();
	if (pid == 0) {
		/* another process opens the layout to write, as the next build does */
		struct oci_layout *l2 = NULL;
		berth_error_t e = NULL;
		_exit(oci_layout_open(dir, &lo, &l2, &e) == 0 ? 0 : 1);
	}
	int st = 1;
	waitpid(pid, &st, 0);
	ok(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the next writer opens the layout");
	ok(!exists(blobs, ".tmp-blob-dead"), "a killed writer's temporary blob is removed");
	ok(!exists(dir, ".tmp-index.json-dead") && !exists(dir, "index.json.tmp-4242"),
	   "a killed writer's temporary index.json copies are removed");
	ok(exists(blobs, ".tmp-blob-held"), "a blob another writer holds stays");
	ok(exists(blobs, ".tmp-blob-fresh"), "a blob just created stays");
	close(held);
	berth_error_free(&err);
}

int main(void)
{
	char tmpl[] = "/tmp/berth-layout-concurrent.XXXXXX";
	char dir[sizeof(tmpl) + 16];
	berth_error_t err = NULL;

	if (mkdtemp(tmpl) == NULL) {
		ok(0, "mkdtemp: %m");
		return tap_done();
	}
	if (oci_digest_buffer(OCI_DIGEST_SHA256, manifest_once, strlen(manifest_once), once_digest, &err) <
	    0) {
		ok(0, "digest: %s", err->msg);
		return tap_done();
	}
	/* writers that all find the layout missing, each creating it */
	snprintf(dir, sizeof(dir), "%s/new", tmpl);
	run_writers(dir, true, TAGS);
	/* writers of an existing layout */
	snprintf(dir, sizeof(dir), "%s/new", tmpl);
	fs_remove_tree_at(AT_FDCWD, dir, &err);
	struct oci_layout_options lo = {.size = sizeof(lo), .create = true};
	struct oci_layout *l = NULL;
	ok(oci_layout_open(dir, &lo, &l, &err) == 0, "a layout");
	oci_layout_close(l);
	run_writers(dir, false, TAGS);
	snprintf(dir, sizeof(dir), "%s/stale", tmpl);
	test_stale_temps(dir);
	fs_remove_tree_at(AT_FDCWD, tmpl, &err);
	berth_error_free(&err);
	return tap_done();
}
