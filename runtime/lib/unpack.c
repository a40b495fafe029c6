/* `berth unpack`: an image of an OCI layout (or an OCI or docker archive)
 * turned into a bundle that `berth run` runs.
 *
 *   1. the image: import an archive into a temporary layout, resolve the
 *      reference and the platform to a manifest and a config
 *   2. the bundle directory and its rootfs (must not exist yet)
 *   3. each layer, in order: verified against its digest and size, then
 *      applied with whiteouts (oci-spec/layer.h)
 *   4. config.json: berth's default spec with the image config applied as
 *      the image-spec's conversion rules say
 * A failure removes the bundle it made.
 */
#include "berth/berth.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "safe_path.h"

#include "archive_read.h"
#include "digest.h"
#include "image_spec.h"
#include "layer.h"
#include "layout.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct unpack {
	const struct berth_unpack_options *o;
	struct oci_layout *layout;
	char *tmp_layout; /* an archive's temporary layout, removed at the end */
	struct oci_image *image;
	int bundle_fd;
	int rootfs_fd;
	bool made_bundle;
};

static bool differs(const char *want, const char *have)
{
	return want != NULL && have != NULL && strcmp(want, have) != 0;
}

/* A manifest without a platform (the only one of its tag) is picked
 * whatever the platform asked: its config says what it is for. */
static int check_platform(struct unpack *u, berth_error_t *err)
{
	const struct berth_unpack_options *o = u->o;
	const struct oci_image_config *c = u->image->config;

	if (differs(o->os, c->os) || differs(o->architecture, c->architecture) ||
	    differs(o->variant, c->variant))
		return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0,
		                       "image `%s` is for %s/%s%s%s, not for the platform asked %s/%s%s%s",
		                       o->ref != NULL ? o->ref : "", c->os, c->architecture,
		                       c->variant != NULL ? "/" : "", c->variant != NULL ? c->variant : "",
		                       o->os != NULL ? o->os : c->os,
		                       o->architecture != NULL ? o->architecture : c->architecture,
		                       o->variant != NULL ? "/" : "", o->variant != NULL ? o->variant : "");
	return 0;
}

/* 1. */
static int open_image(struct unpack *u, berth_error_t *err)
{
	const struct berth_unpack_options *o = u->o;
	struct oci_layout_options lo = {.size = sizeof(lo), .create = o->archive != NULL};
	struct oci_platform_want want = {o->os, o->architecture, o->variant};

	if ((o->layout == NULL) == (o->archive == NULL))
		return berth_error_invalid(err, "unpack: give either an image layout or an archive");
	if (o->archive != NULL) {
		char tmpl[] = "/tmp/berth-unpack.XXXXXX";
		if (mkdtemp(tmpl) == NULL)
			return berth_error_sys(err, errno, "unpack: temporary layout");
		u->tmp_layout = strdup(tmpl);
		if (u->tmp_layout == NULL)
			return berth_error_sys(err, ENOMEM, "unpack");
		if (oci_layout_open(u->tmp_layout, &lo, &u->layout, err) < 0 ||
		    oci_archive_import(u->layout, o->archive, NULL, NULL, err) < 0)
			return -1;
	} else if (oci_layout_open(o->layout, &lo, &u->layout, err) < 0) {
		return -1;
	}
	if (oci_layout_resolve(u->layout, o->ref, &want, &u->image, err) < 0)
		return -1;
	if (u->image->config == NULL)
		return berth_error_invalid(err, "image `%s`: no image config", o->ref != NULL ? o->ref : "");
	return check_platform(u, err);
}

/* 2. */
static int make_bundle(struct unpack *u, berth_error_t *err)
{
	const char *bundle = u->o->bundle;

	if (mkdir(bundle, 0700) < 0) {
		if (errno == EEXIST)
			return berth_error_set(err, BERTH_ERROR_EXISTS, 0, "bundle `%s` already exists",
			                       bundle);
		return berth_error_sys(err, errno, "bundle `%s`", bundle);
	}
	u->made_bundle = true;
	u->bundle_fd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (u->bundle_fd < 0)
		return berth_error_sys(err, errno, "bundle `%s`", bundle);
	/* The rootfs is the container's /: it must not be more restricted. */
	if (mkdirat(u->bundle_fd, "rootfs", 0755) < 0 || fchmodat(u->bundle_fd, "rootfs", 0755, 0) < 0)
		return berth_error_sys(err, errno, "bundle `%s`: rootfs", bundle);
	u->rootfs_fd = openat(u->bundle_fd, "rootfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (u->rootfs_fd < 0)
		return berth_error_sys(err, errno, "bundle `%s`: rootfs", bundle);
	return 0;
}

/* 3. A layer is verified before any of it is applied: a corrupt or
 * tampered blob never reaches the rootfs. */
static int apply_layer(struct unpack *u, const struct oci_descriptor *d, berth_error_t *err)
{
	struct oci_blob_reader *reader = NULL;
	struct layer_apply_options ao = {.size = sizeof(ao)};
	char got[OCI_DIGEST_MAX];
	enum oci_digest_alg alg;
	const char *hex;
	int64_t size = 0;
	int fd, compression = layer_compression_from_media_type(d->media_type), ret = -1;

	if (compression < 0)
		return berth_error_invalid(err, "layer %s: not a layer media type `%s`", d->digest,
		                           d->media_type != NULL ? d->media_type : "");
	ao.compression = (enum layer_compression)compression;
	if (geteuid() != 0)
		ao.flags = LAYER_APPLY_ROOTLESS;
	if (oci_digest_parse(d->digest, &alg, &hex, err) < 0 ||
	    oci_layout_open_blob(u->layout, d->digest, d->size, &reader, err) < 0)
		return -1;
	fd = oci_blob_reader_fd(reader);
	if (oci_digest_fd(alg, fd, got, &size, err) < 0)
		goto out;
	if (strcmp(got, d->digest) != 0) {
		berth_error_invalid(err, "blob %s: digest mismatch (got %s)", d->digest, got);
		goto out;
	}
	if (size != d->size) {
		berth_error_invalid(err, "blob %s: size mismatch: expected %lld bytes, got %lld", d->digest,
		                    (long long)d->size, (long long)size);
		goto out;
	}
	if (lseek(fd, 0, SEEK_SET) < 0) {
		berth_error_sys(err, errno, "blob %s", d->digest);
		goto out;
	}
	ret = layer_apply(fd, u->rootfs_fd, &ao, NULL, err);
	if (ret < 0)
		berth_error_prefix(err, "layer %s", d->digest);
out:
	oci_blob_reader_free(reader);
	return ret;
}

/* ---- 4. config.json ---- */

static json_object *string_array(char *const *v, size_t n)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; i < n; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

/* A line of /etc/passwd or /etc/group of the rootfs whose name (field 0) or
 * id (field 2) is `who`; fields split in place. */
static bool find_entry(int rootfs_fd, const char *file, const char *who, char *line, size_t len,
                       char **fields, int n_fields)
{
	cleanup_close int fd = -1;
	cleanup_fclose FILE *f = NULL;

	/* Only a regular file inside the rootfs: no symlink out of it. */
	fd = openat(rootfs_fd, file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || (f = fdopen(fd, "r")) == NULL)
		return false;
	fd = -1;
	while (fgets(line, (int)len, f) != NULL) {
		char *p = line;
		int n = 0;
		while (n < n_fields && (fields[n] = strsep(&p, ":\n")) != NULL)
			n++;
		if (n < 3)
			continue;
		if (strcmp(fields[0], who) == 0 || strcmp(fields[2], who) == 0)
			return true;
	}
	return false;
}

static bool all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* The groups that list `name` as a member in the rootfs's /etc/group. */
static json_object *additional_gids(int rootfs_fd, const char *name, unsigned long gid)
{
	json_object *gids = json_object_new_array();
	cleanup_close int fd = openat(rootfs_fd, "etc/group", O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	cleanup_fclose FILE *f = NULL;
	char line[4096];

	if (fd < 0 || name == NULL || (f = fdopen(fd, "r")) == NULL)
		return gids;
	fd = -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		char *fields[4] = {0}, *p = line, *member, *members;
		int n = 0;
		while (n < 4 && (fields[n] = strsep(&p, ":\n")) != NULL)
			n++;
		if (n < 4 || !all_digits(fields[2]) || strtoul(fields[2], NULL, 10) == gid)
			continue;
		members = fields[3];
		while ((member = strsep(&members, ",")) != NULL)
			if (strcmp(member, name) == 0)
				json_object_array_add(
				    gids, json_object_new_int64((int64_t)strtoul(fields[2], NULL, 10)));
	}
	return gids;
}

/* User "name|uid[:group|gid]" resolved through the rootfs, as the
 * image-spec says. */
static int set_user(int rootfs_fd, const char *user, json_object *process, berth_error_t *err)
{
	cleanup_free char *copy = strdup(user != NULL ? user : "");
	char line[4096], *fields[7] = {0}, *group;
	unsigned long uid = 0, gid = 0;
	const char *name = NULL;
	json_object *u = json_object_new_object();

	if (copy == NULL)
		return berth_error_sys(err, ENOMEM, "user");
	group = strchr(copy, ':');
	if (group != NULL)
		*group++ = '\0';
	if (copy[0] != '\0') {
		if (find_entry(rootfs_fd, "etc/passwd", copy, line, sizeof(line), fields, 7) &&
		    all_digits(fields[2])) {
			uid = strtoul(fields[2], NULL, 10);
			gid = fields[3] != NULL && all_digits(fields[3]) ? strtoul(fields[3], NULL, 10) : 0;
			name = fields[0];
		} else if (all_digits(copy)) {
			uid = strtoul(copy, NULL, 10);
		} else {
			json_object_put(u);
			return berth_error_invalid(err,
			                           "image config: User `%s`: no such user in the image's "
			                           "/etc/passwd",
			                           user);
		}
	}
	if (group != NULL && group[0] != '\0') {
		char gline[4096], *gfields[4] = {0};
		if (find_entry(rootfs_fd, "etc/group", group, gline, sizeof(gline), gfields, 4) &&
		    all_digits(gfields[2])) {
			gid = strtoul(gfields[2], NULL, 10);
		} else if (all_digits(group)) {
			gid = strtoul(group, NULL, 10);
		} else {
			json_object_put(u);
			return berth_error_invalid(err,
			                           "image config: User `%s`: no such group in the image's "
			                           "/etc/group",
			                           user);
		}
	}
	json_object_object_add(u, "uid", json_object_new_int64((int64_t)uid));
	json_object_object_add(u, "gid", json_object_new_int64((int64_t)gid));
	if (group == NULL && name != NULL) {
		json_object *gids = additional_gids(rootfs_fd, name, gid);
		if (json_object_array_length(gids) > 0)
			json_object_object_add(u, "additionalGids", gids);
		else
			json_object_put(gids);
	}
	json_object_object_add(process, "user", u);
	return 0;
}

static int make_dir(struct unpack *u, const char *path, berth_error_t *err)
{
	int fd = safe_path_mkdir_all(u->rootfs_fd, path, 0755, err);
	if (fd < 0)
		return berth_error_prefix(err, "image config: directory `%s`", path);
	close(fd);
	return 0;
}

static void annotate(json_object *annotations, const char *key, const char *value)
{
	if (value != NULL && value[0] != '\0')
		json_object_object_add(annotations, key, json_object_new_string(value));
}

static int write_config(struct unpack *u, berth_error_t *err)
{
	const struct berth_unpack_options *o = u->o;
	const struct oci_image_config *ic = u->image->config;
	const struct oci_image_exec_config *c = ic->config;
	static const struct oci_image_exec_config empty;
	cleanup_free char *defaults = NULL;
	json_object *spec, *process, *args, *annotations;
	const char *text;
	int ret;

	if (c == NULL)
		c = &empty;
	if (berth_spec_generate(false, &defaults, err) < 0)
		return -1;
	spec = json_tokener_parse(defaults);
	if (spec == NULL)
		return berth_error_sys(err, ENOMEM, "config.json");
	json_object_object_get_ex(spec, "process", &process);
	json_object_object_add(process, "terminal", json_object_new_boolean(o->terminal));
	/* args: the command line's entrypoint and args replace the image's */
	args = json_object_new_array();
	{
		char *const *ep = o->entrypoint_set ? o->entrypoint : c->entrypoint;
		size_t ep_len = o->entrypoint_set ? o->entrypoint_len : c->entrypoint_len;
		char *const *cmd = o->args_len > 0 ? o->args : (o->entrypoint_set ? NULL : c->cmd);
		size_t cmd_len = o->args_len > 0 ? o->args_len : (o->entrypoint_set ? 0 : c->cmd_len);
		for (size_t i = 0; i < ep_len; i++)
			json_object_array_add(args, json_object_new_string(ep[i]));
		for (size_t i = 0; i < cmd_len; i++)
			json_object_array_add(args, json_object_new_string(cmd[i]));
	}
	if (json_object_array_length(args) == 0) {
		json_object_put(args);
		json_object_put(spec);
		return berth_error_invalid(err, "image has no Entrypoint or Cmd: give the command to run");
	}
	json_object_object_add(process, "args", args);
	if (c->env_len > 0)
		json_object_object_add(process, "env", string_array(c->env, c->env_len));
	json_object_object_add(process, "cwd",
	                       json_object_new_string(c->working_dir != NULL && c->working_dir[0] == '/'
	                                                  ? c->working_dir
	                                                  : "/"));
	if (set_user(u->rootfs_fd, c->user, process, err) < 0) {
		json_object_put(spec);
		return -1;
	}
	/* The image's files decide; a writable root as docker gives. */
	json_object_object_add(spec, "root", json_tokener_parse("{\"path\":\"rootfs\",\"readonly\":false}"));
	json_object_object_add(spec, "hostname", json_object_new_string("berth"));
	annotations = json_object_new_object();
	for (size_t i = 0; i < c->labels_len; i++)
		annotate(annotations, c->labels[i].key, c->labels[i].value);
	annotate(annotations, "org.opencontainers.image.os", ic->os);
	annotate(annotations, "org.opencontainers.image.architecture", ic->architecture);
	annotate(annotations, "org.opencontainers.image.variant", ic->variant);
	annotate(annotations, "org.opencontainers.image.author", ic->author);
	annotate(annotations, "org.opencontainers.image.created", ic->created);
	annotate(annotations, "org.opencontainers.image.stopSignal", c->stop_signal);
	if (c->exposed_ports_len > 0) {
		size_t len = 0;
		char *ports = NULL;
		FILE *f = open_memstream(&ports, &len);
		for (size_t i = 0; f != NULL && i < c->exposed_ports_len; i++)
			fprintf(f, "%s%s", i > 0 ? "," : "", c->exposed_ports[i].key);
		if (f != NULL)
			fclose(f);
		annotate(annotations, "org.opencontainers.image.exposedPorts", ports);
		free(ports);
	}
	/* WorkingDir and Volumes exist in the rootfs (as docker makes them);
	 * what to mount on a volume is the caller's choice, as with umoci.
	 * Made through the safe resolution: a symlink of the image must not
	 * lead a mkdir out of the rootfs. */
	if (c->working_dir != NULL && c->working_dir[0] == '/' && make_dir(u, c->working_dir, err) < 0) {
		json_object_put(annotations);
		json_object_put(spec);
		return -1;
	}
	for (size_t i = 0; i < c->volumes_len; i++) {
		if (make_dir(u, c->volumes[i].key, err) < 0) {
			json_object_put(annotations);
			json_object_put(spec);
			return -1;
		}
	}
	if (json_object_object_length(annotations) > 0)
		json_object_object_add(spec, "annotations", annotations);
	else
		json_object_put(annotations);
	text = json_object_to_json_string_ext(spec, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	                                                JSON_C_TO_STRING_NOSLASHESCAPE);
	ret = fs_write_file_atomic_at(u->bundle_fd, "config.json", text, strlen(text), 0644, err);
	json_object_put(spec);
	return ret;
}

int berth_image_unpack(const struct berth_unpack_options *o, berth_error_t *err)
{
	struct unpack u = {.o = o, .bundle_fd = -1, .rootfs_fd = -1};
	int ret = -1;

	if (o->bundle == NULL)
		return berth_error_invalid(err, "unpack: no bundle directory given");
	if (open_image(&u, err) < 0 || make_bundle(&u, err) < 0)
		goto out;
	for (size_t i = 0; i < u.image->manifest->layers_len; i++) {
		if (apply_layer(&u, &u.image->manifest->layers[i], err) < 0)
			goto out;
	}
	ret = write_config(&u, err);
out:
	if (u.rootfs_fd >= 0)
		close(u.rootfs_fd);
	if (u.bundle_fd >= 0)
		close(u.bundle_fd);
	if (ret < 0 && u.made_bundle)
		fs_remove_tree_at(AT_FDCWD, o->bundle, NULL);
	oci_image_free(u.image);
	oci_layout_close(u.layout);
	if (u.tmp_layout != NULL) {
		fs_remove_tree_at(AT_FDCWD, u.tmp_layout, NULL);
		free(u.tmp_layout);
	}
	if (ret < 0)
		berth_error_prefix(err, "unpack `%s`", o->archive != NULL ? o->archive : o->layout);
	return ret;
}
