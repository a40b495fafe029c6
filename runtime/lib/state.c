#include "state.h"
#include "cgroup.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define DEFAULT_STATE_ROOT "/run/berth"

const char *state_root_path(const struct berth_context *ctx)
{
	return (ctx != NULL && ctx->state_root != NULL) ? ctx->state_root : DEFAULT_STATE_ROOT;
}

int state_validate_id(const char *id, berth_error_t *err)
{
	if (id == NULL || *id == '\0')
		return berth_error_invalid(err, "container id cannot be empty");
	if (strcmp(id, ".") == 0 || strcmp(id, "..") == 0 || strlen(id) > 1024)
		return berth_error_invalid(err, "invalid container id `%s`", id);
	for (const char *p = id; *p != '\0'; p++) {
		if (!isalnum((unsigned char)*p) && strchr("_+-.", *p) == NULL)
			return berth_error_invalid(err, "invalid container id `%s`", id);
	}
	return 0;
}

static int open_root(const struct berth_context *ctx, bool create, berth_error_t *err)
{
	const char *root = state_root_path(ctx);
	int fd;

	if (create && fs_mkdir_p(root, 0700, err) < 0)
		return -1;
	fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_sys(err, errno, "open state root `%s`", root);
	return fd;
}

static int lock_dir(int dir_fd, const char *id, berth_error_t *err)
{
	while (flock(dir_fd, LOCK_EX) < 0) {
		if (errno != EINTR)
			return berth_error_sys(err, errno, "lock container `%s`", id);
	}
	return 0;
}

static struct container *container_new(const char *id, berth_error_t *err)
{
	struct container *c = calloc(1, sizeof(*c));
	if (c == NULL || (c->id = strdup(id)) == NULL) {
		free(c);
		berth_error_sys(err, ENOMEM, "container `%s`", id);
		return NULL;
	}
	c->root_fd = -1;
	c->dir_fd = -1;
	c->mount_base = -1;
	return c;
}

int state_create(const struct berth_context *ctx, const char *id, struct container **out, berth_error_t *err)
{
	cleanup_container struct container *c = NULL;

	if (state_validate_id(id, err) < 0)
		return -1;
	c = container_new(id, err);
	if (c == NULL)
		return -1;
	c->root_fd = open_root(ctx, true, err);
	if (c->root_fd < 0)
		return -1;
	/* mkdir is the atomic claim of the id: of two racing creates, one wins. */
	if (mkdirat(c->root_fd, id, 0711) < 0) {
		if (errno == EEXIST)
			return berth_error_set(err, BERTH_ERR_EXISTS, 0, "container `%s` already exists", id);
		return berth_error_sys(err, errno, "create state directory `%s/%s`", state_root_path(ctx),
		                       id);
	}
	c->dir_fd = openat(c->root_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (c->dir_fd < 0 || lock_dir(c->dir_fd, id, err) < 0) {
		int saved = errno;
		unlinkat(c->root_fd, id, AT_REMOVEDIR);
		return berth_error_sys(err, saved, "open state directory of `%s`", id);
	}
	*out = steal_ptr(&c);
	return 0;
}

static char *dup_string(json_object *obj, const char *key)
{
	json_object *v;
	if (!json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return strdup(json_object_get_string(v));
}

static int load_state(struct container *c, berth_error_t *err)
{
	cleanup_free char *text = NULL;
	json_object *obj, *v;

	if (fs_read_file_at(c->dir_fd, STATE_FILE, &text, NULL, err) < 0) {
		if ((*err)->errnum == ENOENT) {
			berth_error_free(err);
			return 0; /* still creating */
		}
		return -1;
	}
	obj = json_tokener_parse(text);
	if (obj == NULL)
		return berth_error_invalid(err, "container `%s`: corrupt %s", c->id, STATE_FILE);
	if (json_object_object_get_ex(obj, "pid", &v))
		c->pid = (pid_t)json_object_get_int(v);
	if (json_object_object_get_ex(obj, "start_time", &v))
		c->start_time = json_object_get_uint64(v);
	c->bundle = dup_string(obj, "bundle");
	c->rootfs = dup_string(obj, "rootfs");
	c->created = dup_string(obj, "created");
	c->owner = dup_string(obj, "owner");
	c->cgroup = dup_string(obj, "cgroup");
	if (json_object_object_get_ex(obj, "mount_base", &v) && json_object_is_type(v, json_type_int))
		c->mount_base = json_object_get_int(v);
	json_object_put(obj);
	return 0;
}

int state_open(const struct berth_context *ctx, const char *id, bool lock, bool load_spec,
               struct container **out, berth_error_t *err)
{
	cleanup_container struct container *c = NULL;

	if (state_validate_id(id, err) < 0)
		return -1;
	c = container_new(id, err);
	if (c == NULL)
		return -1;
	c->root_fd = open_root(ctx, false, err);
	if (c->root_fd < 0) {
		if ((*err)->errnum != ENOENT)
			return -1;
		berth_error_free(err);
		return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0, "container `%s` does not exist", id);
	}
	c->dir_fd = openat(c->root_fd, id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (c->dir_fd < 0) {
		if (errno == ENOENT)
			return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0, "container `%s` does not exist",
			                       id);
		return berth_error_sys(err, errno, "open state directory of `%s`", id);
	}
	if (lock && lock_dir(c->dir_fd, id, err) < 0)
		return -1;
	/* The directory may have been removed while we waited for the lock. */
	if (lock && faccessat(c->root_fd, id, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
		return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0, "container `%s` does not exist", id);
	if (load_state(c, err) < 0)
		return -1;
	if (load_spec && c->pid > 0) {
		cleanup_free char *config = NULL;
		size_t len;
		if (fs_read_file_at(c->dir_fd, CONFIG_FILE, &config, &len, err) < 0 ||
		    oci_spec_parse(config, len, CONFIG_FILE, &c->spec, err) < 0)
			return berth_error_prefix(err, "container `%s`", id);
	}
	*out = steal_ptr(&c);
	return 0;
}

int state_save(const struct container *c, berth_error_t *err)
{
	json_object *obj = json_object_new_object();
	const char *text;
	int ret;

	if (obj == NULL)
		return berth_error_sys(err, ENOMEM, "write state");
	json_object_object_add(obj, "id", json_object_new_string(c->id));
	json_object_object_add(obj, "pid", json_object_new_int(c->pid));
	json_object_object_add(obj, "start_time", json_object_new_uint64(c->start_time));
	json_object_object_add(obj, "bundle", json_object_new_string(c->bundle ? c->bundle : ""));
	json_object_object_add(obj, "rootfs", json_object_new_string(c->rootfs ? c->rootfs : ""));
	json_object_object_add(obj, "created", json_object_new_string(c->created ? c->created : ""));
	json_object_object_add(obj, "owner", json_object_new_string(c->owner ? c->owner : ""));
	if (c->cgroup != NULL)
		json_object_object_add(obj, "cgroup", json_object_new_string(c->cgroup));
	if (c->mount_base >= 0)
		json_object_object_add(obj, "mount_base", json_object_new_int(c->mount_base));
	text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	ret = fs_write_file_atomic_at(c->dir_fd, STATE_FILE, text, strlen(text), 0600, err);
	json_object_put(obj);
	return ret;
}

int state_remove(struct container *c, berth_error_t *err)
{
	return fs_remove_tree_at(c->root_fd, c->id, err);
}

unsigned long long state_pid_start_time(pid_t pid)
{
	char path[64], buf[1024];
	cleanup_close int fd = -1;
	ssize_t n;
	char *p;
	unsigned long long start = 0;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = fs_read_all(fd, buf, sizeof(buf) - 1);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	/* The command name may hold spaces and parentheses: skip past the last ')'. */
	p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return 0;
	p += 2;
	if (*p == 'Z' || *p == 'X')
		return 0;
	/* Fields after the name start at 3 (state); starttime is field 22. */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (p == NULL)
			return 0;
		p++;
	}
	sscanf(p, "%llu", &start);
	return start;
}

/* The freezer state of the container's cgroup; false without one. */
static bool is_frozen(const struct container *c)
{
	struct cgroup *cg = NULL;
	berth_error_t err = NULL;
	bool frozen = false;

	if (c->cgroup == NULL || c->cgroup[0] == '\0')
		return false;
	if (cgroup_open_path(c->cgroup, &cg, &err) < 0 || cgroup_is_frozen(cg, &frozen, &err) < 0)
		frozen = false;
	berth_error_free(&err);
	cgroup_free(cg);
	return frozen;
}

enum container_status state_status(const struct container *c)
{
	if (c->pid <= 0)
		return STATUS_CREATING;
	if (state_pid_start_time(c->pid) != c->start_time)
		return STATUS_STOPPED;
	if (faccessat(c->dir_fd, FIFO_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return STATUS_CREATED;
	return is_frozen(c) ? STATUS_PAUSED : STATUS_RUNNING;
}

const char *state_status_name(enum container_status status)
{
	static const char *const names[] = {"creating", "created", "running", "stopped", "paused"};
	return names[status];
}

char *state_to_oci_json(const struct container *c, enum container_status status, bool runc_fields,
                        berth_error_t *err)
{
	json_object *obj = json_object_new_object();
	char *text;

	if (obj == NULL) {
		berth_error_sys(err, ENOMEM, "state of `%s`", c->id);
		return NULL;
	}
	json_object_object_add(obj, "ociVersion", json_object_new_string("1.2.0"));
	json_object_object_add(obj, "id", json_object_new_string(c->id));
	json_object_object_add(obj, "pid", json_object_new_int(status == STATUS_STOPPED ? 0 : c->pid));
	json_object_object_add(obj, "status", json_object_new_string(state_status_name(status)));
	json_object_object_add(obj, "bundle", json_object_new_string(c->bundle ? c->bundle : ""));
	if (runc_fields) {
		json_object_object_add(obj, "rootfs", json_object_new_string(c->rootfs ? c->rootfs : ""));
		json_object_object_add(obj, "created", json_object_new_string(c->created ? c->created : ""));
		json_object_object_add(obj, "owner", json_object_new_string(c->owner ? c->owner : ""));
	}
	if (c->spec != NULL && c->spec->annotations_len > 0) {
		json_object *ann = json_object_new_object();
		for (size_t i = 0; i < c->spec->annotations_len; i++)
			json_object_object_add(ann, c->spec->annotations[i].key,
			                       json_object_new_string(c->spec->annotations[i].value));
		json_object_object_add(obj, "annotations", ann);
	}
	text = strdup(json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
	                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(obj);
	if (text == NULL)
		berth_error_sys(err, ENOMEM, "state of `%s`", c->id);
	return text;
}

void container_free(struct container *c)
{
	if (c == NULL)
		return;
	if (c->dir_fd >= 0)
		close(c->dir_fd);
	if (c->root_fd >= 0)
		close(c->root_fd);
	oci_spec_free(c->spec);
	free(c->id);
	free(c->bundle);
	free(c->rootfs);
	free(c->created);
	free(c->owner);
	free(c->cgroup);
	free(c);
}
