/* Cgroups: the common part.  Detection of the hierarchies from
 * /proc/self/mountinfo, the cgroup's paths in each of them, small file
 * helpers, value conversions, and the public entry points that dispatch to
 * a back-end (cgroup_v1.c: v1 and hybrid, cgroup_v2.c: unified).
 *
 * Paths, as runc's fs and fs2 managers compute them:
 *   cgroupsPath "/a/b"   /a/b below each hierarchy's root
 *   cgroupsPath "a/b"    below the runtime's own cgroup of that hierarchy
 *                        (v2: below the parent of its own cgroup, which
 *                        holds no process and so may delegate controllers)
 *   absent               as "<id>", relative
 * ".." may not climb above the hierarchy root.  When the paths differ
 * between hierarchies (relative paths, the runtime sitting in different
 * cgroups), cgroup_path() records them all: "cpu:/x/id;memory:/y/id;:/id"
 * (as in /proc/self/cgroup, "" naming the v2 hierarchy).
 */
#include "cgroup_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

const char *const cgroup_v1_controllers[] = {
    "cpuset",  "cpu",     "cpuacct",  "memory", "devices",    "freezer", "blkio", "pids",
    "hugetlb", "net_cls", "net_prio", "rdma",   "perf_event", "misc",    NULL,
};

const char *cgroup_ctrl_name(enum cg_ctrl c)
{
	if (c == CG_NAME_SYSTEMD)
		return "name=systemd";
	return cgroup_v1_controllers[c];
}

const char *cgroup_mode_name(enum cgroup_mode mode)
{
	switch (mode) {
	case CGROUP_MODE_V1:
		return "v1";
	case CGROUP_MODE_V2:
		return "v2";
	case CGROUP_MODE_HYBRID:
		return "hybrid";
	}
	return "unknown";
}

/* ---- detection ---- */

static struct {
	bool done;
	bool test;
	enum cgroup_mode mode;
	char *v1_mnt[CG_V1_N];   /* mount point */
	char *v1_mroot[CG_V1_N]; /* the mount's root inside the hierarchy */
	char *v2_mnt;
	char *v2_mroot;
	char *mountinfo; /* the text read, for cgroup_mountinfo */
} hier;

bool cgroup_test_mode(void)
{
	return hier.test;
}

static void hier_reset(void)
{
	for (int c = 0; c < CG_V1_N; c++) {
		free(hier.v1_mnt[c]);
		free(hier.v1_mroot[c]);
	}
	free(hier.v2_mnt);
	free(hier.v2_mroot);
	free(hier.mountinfo);
	memset(&hier, 0, sizeof(hier));
}

void cgroup_set_root_for_tests(enum cgroup_mode mode, const char *root)
{
	hier_reset();
	if (root == NULL)
		return;
	hier.done = hier.test = true;
	hier.mode = mode;
	if (mode != CGROUP_MODE_V1) {
		hier.v2_mnt = strdup(root);
		hier.v2_mroot = strdup("/");
	}
	if (mode == CGROUP_MODE_V2)
		return;
	for (int c = 0; c < CG_V1_N; c++) {
		char *p = NULL;
		const char *name = c == CG_NAME_SYSTEMD ? "systemd" : cgroup_ctrl_name(c);
		struct stat st;
		if (asprintf(&p, "%s/%s", root, name) < 0)
			return;
		if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
			hier.v1_mnt[c] = p;
			hier.v1_mroot[c] = strdup("/");
		} else {
			free(p);
		}
	}
}

static bool has_token(const char *list, const char *tok)
{
	size_t n = strlen(tok);
	for (const char *p = list; p != NULL; p = strchr(p, ',')) {
		if (*p == ',')
			p++;
		if (strncmp(p, tok, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	}
	return false;
}

static void parse_mount_line(char *line)
{
	char *field[6] = {0}, *save = NULL, *tok, *fstype, *super;
	int i = 0;

	for (tok = strtok_r(line, " ", &save); tok != NULL; tok = strtok_r(NULL, " ", &save)) {
		field[i++] = tok;
		if (i == 6)
			break;
	}
	if (i < 6)
		return;
	/* optional fields up to "-", then fstype, source, super options */
	do
		tok = strtok_r(NULL, " ", &save);
	while (tok != NULL && strcmp(tok, "-") != 0);
	fstype = strtok_r(NULL, " ", &save);
	(void)strtok_r(NULL, " ", &save);
	super = strtok_r(NULL, " ", &save);
	if (fstype == NULL || super == NULL)
		return;
	fs_unescape_mountinfo(field[3]);
	fs_unescape_mountinfo(field[4]);
	if (strcmp(fstype, "cgroup2") == 0) {
		/* /sys/fs/cgroup wins over any other cgroup2 mount */
		if (hier.v2_mnt != NULL && strcmp(field[4], "/sys/fs/cgroup") != 0)
			return;
		free(hier.v2_mnt);
		free(hier.v2_mroot);
		hier.v2_mnt = strdup(field[4]);
		hier.v2_mroot = strdup(field[3]);
		return;
	}
	if (strcmp(fstype, "cgroup") != 0)
		return;
	for (int c = 0; c < CG_V1_N; c++) {
		if (hier.v1_mnt[c] != NULL || !has_token(super, cgroup_ctrl_name(c)))
			continue;
		hier.v1_mnt[c] = strdup(field[4]);
		hier.v1_mroot[c] = strdup(field[3]);
	}
}

int cgroup_detect(enum cgroup_mode *mode, berth_error_t *err)
{
	cleanup_free char *text = NULL;
	char *save = NULL;
	bool any_v1 = false;

	if (hier.done) {
		*mode = hier.mode;
		return 0;
	}
	if (fs_read_file_at(AT_FDCWD, "/proc/self/mountinfo", &text, NULL, err) < 0)
		return -1;
	free(hier.mountinfo);
	hier.mountinfo = strdup(text);
	for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save))
		parse_mount_line(line);
	for (int c = 0; c < CG_V1_N; c++)
		if (c != CG_NAME_SYSTEMD && hier.v1_mnt[c] != NULL)
			any_v1 = true;
	if (hier.v2_mnt != NULL && (strcmp(hier.v2_mnt, "/sys/fs/cgroup") == 0 || !any_v1)) {
		hier.mode = CGROUP_MODE_V2;
		for (int c = 0; c < CG_V1_N; c++) {
			free(hier.v1_mnt[c]);
			free(hier.v1_mroot[c]);
			hier.v1_mnt[c] = hier.v1_mroot[c] = NULL;
		}
	} else if (any_v1) {
		hier.mode = hier.v2_mnt != NULL ? CGROUP_MODE_HYBRID : CGROUP_MODE_V1;
	} else {
		return berth_error_set(err, BERTH_ERR_UNSUPPORTED, 0,
		                       "no cgroup file system is mounted (/proc/self/mountinfo)");
	}
	hier.done = true;
	*mode = hier.mode;
	return 0;
}

const char *cgroup_mountinfo(void)
{
	return hier.done && !hier.test ? hier.mountinfo : NULL;
}

/* ---- paths ---- */

/* "/a/./b//c/../d" -> "/a/b/d"; ".." above the root is an error. */
static int clean_path(const char *in, char **out, berth_error_t *err)
{
	size_t len = strlen(in);
	char *buf = malloc(len + 2), *w = buf;
	const char *p = in;

	if (buf == NULL)
		return berth_error_sys(err, ENOMEM, "cgroup path");
	*w = '\0';
	while (*p != '\0') {
		const char *e;
		size_t n;
		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		e = strchrnul(p, '/');
		n = (size_t)(e - p);
		if (n == 1 && p[0] == '.') {
			/* nothing */
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(buf, '/');
			if (slash == NULL) {
				free(buf);
				return berth_error_invalid(
				    err, "cgroupsPath `%s` escapes the cgroup hierarchy", in);
			}
			*slash = '\0';
			w = slash;
		} else {
			*w++ = '/';
			memcpy(w, p, n);
			w += n;
			*w = '\0';
		}
		p = e;
	}
	if (buf[0] == '\0') {
		buf[0] = '/';
		buf[1] = '\0';
	}
	*out = buf;
	return 0;
}

static char *join(const char *a, const char *b)
{
	char *r = NULL;
	size_t la = strlen(a);
	while (la > 0 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (asprintf(&r, "%.*s%s%s", (int)la, a, *b != '\0' ? "/" : "", b) < 0)
		return NULL;
	if (r[0] == '\0') {
		free(r);
		return strdup("/");
	}
	return r;
}

/* The runtime's own cgroup in a hierarchy (name: a v1 controller, or NULL
 * for v2), as a path from the hierarchy root as mounted.  `text`: the
 * content of /proc/self/cgroup, read once for every hierarchy (NULL in the
 * unit tests, where the runtime is at the root). */
static int own_cgroup(const char *text, const char *name, const char *mroot, char **out, berth_error_t *err)
{
	cleanup_free char *copy = NULL;
	char *save = NULL;

	if (text == NULL) {
		*out = strdup("/");
		return *out != NULL ? 0 : berth_error_sys(err, ENOMEM, "/proc/self/cgroup");
	}
	copy = strdup(text);
	if (copy == NULL)
		return berth_error_sys(err, ENOMEM, "/proc/self/cgroup");
	for (char *line = strtok_r(copy, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char *ctrls = strchr(line, ':'), *path;
		if (ctrls == NULL || (path = strchr(++ctrls, ':')) == NULL)
			continue;
		*path++ = '\0';
		if (name == NULL ? (strcmp(line, "0:") != 0 || *ctrls != '\0') : !has_token(ctrls, name))
			continue;
		/* a mount of a sub-tree shows the cgroup below its root */
		if (strcmp(mroot, "/") != 0 && strncmp(path, mroot, strlen(mroot)) == 0 &&
		    (path[strlen(mroot)] == '/' || path[strlen(mroot)] == '\0'))
			path += strlen(mroot);
		*out = strdup(*path != '\0' ? path : "/");
		return *out != NULL ? 0 : berth_error_sys(err, ENOMEM, "/proc/self/cgroup");
	}
	return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0,
	                       "/proc/self/cgroup: no entry for the %s hierarchy",
	                       name != NULL ? name : "v2");
}

static bool systemd_form(const char *p)
{
	return p != NULL && p[0] != '/' && strchr(p, ':') != NULL;
}

static struct cgroup *cgroup_new(void)
{
	struct cgroup *cg = calloc(1, sizeof(*cg));
	if (cg != NULL) {
		cg->v2_fd = -1;
		cg->mode = hier.mode;
		cg->ops = hier.mode == CGROUP_MODE_V2       ? &cgroup_v2_ops
		          : hier.mode == CGROUP_MODE_HYBRID ? &cgroup_hybrid_ops
		                                            : &cgroup_v1_ops;
	}
	return cg;
}

/* Fills v1_dir / v2_dir from v1_rel / v2_rel, and the recorded path. */
static int finish_paths(struct cgroup *cg, berth_error_t *err)
{
	const char *first = NULL;
	bool same = true;
	size_t cap = 1;
	char *enc;

	for (int c = 0; c < CG_V1_N; c++) {
		if (cg->v1_rel[c] == NULL)
			continue;
		cg->v1_dir[c] = join(hier.v1_mnt[c], cg->v1_rel[c]);
		if (cg->v1_dir[c] == NULL)
			return berth_error_sys(err, ENOMEM, "cgroup path");
		for (int d = 0; d < c; d++)
			if (hier.v1_mnt[d] != NULL && strcmp(hier.v1_mnt[d], hier.v1_mnt[c]) == 0)
				cg->v1_alias[c] = true;
		if (first == NULL)
			first = cg->v1_rel[c];
		same = same && strcmp(first, cg->v1_rel[c]) == 0;
		cap += strlen(cgroup_ctrl_name(c)) + strlen(cg->v1_rel[c]) + 2;
	}
	if (cg->v2_rel != NULL) {
		cg->v2_dir = join(hier.v2_mnt, cg->v2_rel);
		cg->v2_root = strdup(hier.v2_mnt);
		if (cg->v2_dir == NULL || cg->v2_root == NULL)
			return berth_error_sys(err, ENOMEM, "cgroup path");
		if (first == NULL)
			first = cg->v2_rel;
		same = same && strcmp(first, cg->v2_rel) == 0;
		cap += strlen(cg->v2_rel) + 2;
	}
	if (first == NULL)
		return berth_error_set(err, BERTH_ERR_UNSUPPORTED, 0, "no cgroup hierarchy is mounted");
	if (same) {
		cg->path = strdup(first);
		return cg->path != NULL ? 0 : berth_error_sys(err, ENOMEM, "cgroup path");
	}
	enc = calloc(1, cap);
	if (enc == NULL)
		return berth_error_sys(err, ENOMEM, "cgroup path");
	for (int c = 0; c < CG_V1_N; c++) {
		if (cg->v1_rel[c] == NULL)
			continue;
		if (enc[0] != '\0')
			strcat(enc, ";");
		strcat(enc, cgroup_ctrl_name(c));
		strcat(enc, ":");
		strcat(enc, cg->v1_rel[c]);
	}
	if (cg->v2_rel != NULL) {
		strcat(enc, ";:");
		strcat(enc, cg->v2_rel);
	}
	cg->path = enc;
	return 0;
}

int cgroup_open(const struct cgroup_config *config, struct cgroup **out, berth_error_t *err)
{
	enum cgroup_mode mode;
	cleanup_free char *rel = NULL;
	const char *inner = config->cgroups_path != NULL && config->cgroups_path[0] != '\0'
	                        ? config->cgroups_path
	                        : config->id;
	cleanup_free char *own_text = NULL;
	struct cgroup *cg;
	bool absolute;

	if (config->systemd || systemd_form(config->cgroups_path))
		return berth_error_set(err, BERTH_ERR_UNSUPPORTED, 0,
		                       "the systemd cgroup driver is not supported yet (cgroupsPath `%s`)",
		                       config->cgroups_path != NULL ? config->cgroups_path : "");
	if (inner == NULL || inner[0] == '\0')
		return berth_error_invalid(err, "cgroup: neither a cgroupsPath nor a container id");
	if (cgroup_detect(&mode, err) < 0)
		return -1;
	absolute = inner[0] == '/';
	if (clean_path(inner, &rel, err) < 0)
		return -1;
	if (!absolute && !hier.test &&
	    fs_read_file_at(AT_FDCWD, "/proc/self/cgroup", &own_text, NULL, err) < 0)
		return -1;
	if (strcmp(rel, "/") == 0)
		return berth_error_invalid(err, "cgroupsPath `%s` names the root cgroup", inner);
	cg = cgroup_new();
	if (cg == NULL)
		return berth_error_sys(err, ENOMEM, "cgroup");
	cg->rootless = config->rootless;
	cg->extra_devices = config->devices;
	cg->extra_devices_len = config->devices_len;
	for (int c = 0; c < CG_V1_N; c++) {
		cleanup_free char *own = NULL;
		if (hier.v1_mnt[c] == NULL)
			continue;
		if (!absolute && own_cgroup(own_text, cgroup_ctrl_name(c), hier.v1_mroot[c], &own, err) < 0)
			goto fail;
		cg->v1_rel[c] = absolute ? strdup(rel) : join(own, rel);
		if (cg->v1_rel[c] == NULL)
			goto oom;
	}
	if (hier.v2_mnt != NULL) {
		cleanup_free char *own = NULL;
		if (!absolute && own_cgroup(own_text, NULL, hier.v2_mroot, &own, err) < 0)
			goto fail;
		if (!absolute && mode == CGROUP_MODE_V2) {
			char *slash = strrchr(own, '/');
			if (slash != NULL)
				slash[slash == own ? 1 : 0] = '\0';
		}
		cg->v2_rel = absolute ? strdup(rel) : join(own, rel);
		if (cg->v2_rel == NULL)
			goto oom;
	}
	if (finish_paths(cg, err) < 0)
		goto fail;
	*out = cg;
	return 0;
oom:
	berth_error_sys(err, ENOMEM, "cgroup path");
fail:
	cgroup_free(cg);
	return -1;
}

int cgroup_open_path(const char *path, struct cgroup **out, berth_error_t *err)
{
	enum cgroup_mode mode;
	cleanup_free char *copy = NULL;
	char *save = NULL;
	struct cgroup *cg;

	if (path == NULL || path[0] == '\0')
		return berth_error_invalid(err, "cgroup: empty recorded path");
	if (cgroup_detect(&mode, err) < 0)
		return -1;
	cg = cgroup_new();
	copy = strdup(path);
	if (cg == NULL || copy == NULL) {
		free(cg);
		return berth_error_sys(err, ENOMEM, "cgroup");
	}
	if (path[0] == '/') {
		for (int c = 0; c < CG_V1_N; c++)
			if (hier.v1_mnt[c] != NULL && (cg->v1_rel[c] = strdup(path)) == NULL)
				goto oom;
		if (hier.v2_mnt != NULL && (cg->v2_rel = strdup(path)) == NULL)
			goto oom;
	} else {
		for (char *e = strtok_r(copy, ";", &save); e != NULL; e = strtok_r(NULL, ";", &save)) {
			char *p = strchr(e, ':');
			if (p == NULL || p[1] != '/') {
				berth_error_invalid(err, "cgroup: bad recorded path `%s`", path);
				goto fail;
			}
			*p++ = '\0';
			if (*e == '\0') {
				if (hier.v2_mnt != NULL && cg->v2_rel == NULL &&
				    (cg->v2_rel = strdup(p)) == NULL)
					goto oom;
				continue;
			}
			for (int c = 0; c < CG_V1_N; c++)
				if (hier.v1_mnt[c] != NULL && cg->v1_rel[c] == NULL &&
				    strcmp(cgroup_ctrl_name(c), e) == 0 &&
				    (cg->v1_rel[c] = strdup(p)) == NULL)
					goto oom;
		}
	}
	if (finish_paths(cg, err) < 0)
		goto fail;
	*out = cg;
	return 0;
oom:
	berth_error_sys(err, ENOMEM, "cgroup path");
fail:
	cgroup_free(cg);
	return -1;
}

const char *cgroup_path(const struct cgroup *cg)
{
	return cg->path;
}

void cgroup_free(struct cgroup *cg)
{
	if (cg == NULL)
		return;
	for (int c = 0; c < CG_V1_N; c++) {
		free(cg->v1_rel[c]);
		free(cg->v1_dir[c]);
	}
	free(cg->v2_rel);
	free(cg->v2_dir);
	free(cg->v2_root);
	free(cg->path);
	if (cg->v2_fd >= 0)
		close(cg->v2_fd);
	free(cg);
}

/* ---- file helpers ---- */

int cg_open_write(const char *dir, const char *file)
{
	char path[PATH_MAX];
	int fd, flags = hier.test ? O_WRONLY | O_CREAT | O_APPEND : O_WRONLY | O_TRUNC;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, flags | O_CLOEXEC, 0644);
	return fd < 0 ? -errno : fd;
}

int cg_write_fd(int fd, const char *value)
{
	if (fs_write_all(fd, value, strlen(value)) < 0 || (hier.test && fs_write_all(fd, "\n", 1) < 0))
		return -errno;
	return 0;
}

int cg_write_try(const char *dir, const char *file, const char *value)
{
	int fd = cg_open_write(dir, file), rc;

	if (fd < 0)
		return fd;
	rc = cg_write_fd(fd, value);
	close(fd);
	return rc;
}

int cg_write(const char *dir, const char *file, const char *value, berth_error_t *err)
{
	int rc = cg_write_try(dir, file, value);
	if (rc < 0)
		return berth_error_sys(err, -rc, "write `%s/%s` = `%s`", dir, file, value);
	return 0;
}

int cg_write_u64(const char *dir, const char *file, uint64_t v, berth_error_t *err)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRIu64, v);
	return cg_write(dir, file, buf, err);
}

int cg_write_i64(const char *dir, const char *file, int64_t v, berth_error_t *err)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return cg_write(dir, file, buf, err);
}

int cg_read(const char *dir, const char *file, char **out, berth_error_t *err)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return berth_error_invalid(err, "path too long: `%s/%s`", dir, file);
	return fs_read_file_at(AT_FDCWD, path, out, NULL, err);
}

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncmp(s, "max", 3) == 0) {
		*out = UINT64_MAX;
		return 0;
	}
	if (*s == '-') { /* v1 reports "-1" for some unlimited values */
		*out = UINT64_MAX;
		return 0;
	}
	errno = 0;
	*out = strtoull(s, &end, 10);
	if (errno != 0 || end == s)
		return -1;
	return 0;
}

int cg_read_u64(const char *dir, const char *file, uint64_t *out)
{
	char path[PATH_MAX], buf[64];
	cleanup_close int fd = -1;
	ssize_t n;

	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = fs_read_all(fd, buf, sizeof(buf) - 1);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	if (parse_u64(buf, out) < 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int cg_keyed_u64(const char *text, const char *key, uint64_t *out)
{
	size_t n = strlen(key);
	for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p != NULL ? p + 1 : NULL)
		if (strncmp(p, key, n) == 0 && (p[n] == ' ' || p[n] == '='))
			return parse_u64(p + n + 1, out);
	return -1;
}

bool cg_file_exists(const char *dir, const char *file)
{
	char path[PATH_MAX];
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, file) >= sizeof(path))
		return false;
	return access(path, F_OK) == 0;
}

int cg_mkdir(const char *dir, bool *created, berth_error_t *err)
{
	*created = false;
	if (mkdir(dir, 0755) == 0) {
		*created = true;
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	if (errno == ENOENT) {
		cleanup_free char *parent = strdup(dir);
		char *slash = parent != NULL ? strrchr(parent, '/') : NULL;
		if (slash != NULL && slash != parent) {
			*slash = '\0';
			if (fs_mkdir_p(parent, 0755, err) < 0)
				return -1;
			if (mkdir(dir, 0755) == 0) {
				*created = true;
				return 0;
			}
			if (errno == EEXIST)
				return 0;
		}
	}
	return berth_error_sys(err, errno, "mkdir `%s`", dir);
}

static int add_pids(const char *dir, pid_t **pids, size_t *n, size_t *cap, int depth, berth_error_t *err)
{
	cleanup_free char *text = NULL;
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	berth_error_t local = NULL;

	if (cg_read(dir, "cgroup.procs", &text, &local) < 0) {
		int missing = local->errnum == ENOENT;
		berth_error_move(err, &local);
		return missing && depth > 0 ? 0 : -1;
	}
	for (char *p = text; *p != '\0';) {
		char *end;
		long v = strtol(p, &end, 10);
		if (end == p)
			break;
		if (*n == *cap) {
			size_t nc = *cap != 0 ? *cap * 2 : 16;
			pid_t *bigger = realloc(*pids, nc * sizeof(pid_t));
			if (bigger == NULL)
				return berth_error_sys(err, ENOMEM, "read `%s/cgroup.procs`", dir);
			*pids = bigger;
			*cap = nc;
		}
		(*pids)[(*n)++] = (pid_t)v;
		p = end;
		while (*p == '\n')
			p++;
	}
	d = opendir(dir);
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		cleanup_free char *sub = NULL;
		if (de->d_type != DT_DIR || strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&sub, "%s/%s", dir, de->d_name) < 0)
			return berth_error_sys(err, ENOMEM, "cgroup pids");
		if (add_pids(sub, pids, n, cap, depth + 1, err) < 0)
			return -1;
	}
	return 0;
}

int cg_read_pids(const char *dir, pid_t **pids, size_t *n, berth_error_t *err)
{
	size_t cap = 0;
	*pids = NULL;
	*n = 0;
	if (add_pids(dir, pids, n, &cap, 0, err) < 0) {
		free(*pids);
		*pids = NULL;
		*n = 0;
		return -1;
	}
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int cg_rmdir_tree(const char *dir, berth_error_t *err)
{
	cleanup_dir DIR *d = NULL;
	struct dirent *de;

	/* Usually there is nothing below: one rmdir, no listing. */
	if (!hier.test && (rmdir(dir) == 0 || errno == ENOENT))
		return 0;
	d = opendir(dir);
	if (d == NULL)
		return errno == ENOENT ? 0 : berth_error_sys(err, errno, "open `%s`", dir);
	while ((de = readdir(d)) != NULL) {
		cleanup_free char *sub = NULL;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (asprintf(&sub, "%s/%s", dir, de->d_name) < 0)
			return berth_error_sys(err, ENOMEM, "remove cgroup");
		if (de->d_type == DT_DIR) {
			if (cg_rmdir_tree(sub, err) < 0)
				return -1;
		} else if (hier.test) {
			unlink(sub);
		}
	}
	/* a process that was just killed may keep the cgroup busy a moment */
	for (int i = 0;; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY || i >= 100)
			return berth_error_sys(err, errno, "rmdir `%s`", dir);
		sleep_ms(i < 10 ? 1 : 10);
	}
}

int cg_signal_pids(const char *dir, int sig, berth_error_t *err)
{
	cleanup_free pid_t *pids = NULL;
	size_t n = 0;
	int count = 0;

	if (cg_read_pids(dir, &pids, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (kill(pids[i], sig) == 0)
			count++;
		else if (errno != ESRCH)
			return berth_error_sys(err, errno, "kill %d", (int)pids[i]);
	return count;
}

/* ---- device rules ---- */

int cgroup_device_rule_from_oci(const struct oci_device_cgroup *d, struct cg_dev_rule *out,
                                berth_error_t *err)
{
	const char *type = d->type != NULL ? d->type : "a";
	const char *access = d->access != NULL ? d->access : "rwm";

	if (strlen(type) != 1 || strchr("acb", type[0]) == NULL)
		return berth_error_invalid(err, "device rule: invalid type `%s`", type);
	out->allow = d->allow;
	out->type = type[0];
	out->major = d->major.set ? d->major.value : -1;
	out->minor = d->minor.set ? d->minor.value : -1;
	out->access = 0;
	for (const char *p = access; *p != '\0'; p++) {
		switch (*p) {
		case 'r':
			out->access |= CG_DEV_READ;
			break;
		case 'w':
			out->access |= CG_DEV_WRITE;
			break;
		case 'm':
			out->access |= CG_DEV_MKNOD;
			break;
		default:
			return berth_error_invalid(err, "device rule: invalid access `%s`", access);
		}
	}
	if (out->access == 0)
		return berth_error_invalid(err, "device rule: empty access");
	if (out->major < -1 || out->minor < -1 || out->major > UINT32_MAX || out->minor > UINT32_MAX)
		return berth_error_invalid(err, "device rule: invalid number %" PRId64 ":%" PRId64,
		                           out->major, out->minor);
	return 0;
}

const char *cgroup_device_rule_string(const struct cg_dev_rule *r, char *buf, size_t size)
{
	char maj[24] = "*", min[24] = "*", acc[4];
	size_t i = 0;

	if (r->major >= 0)
		snprintf(maj, sizeof(maj), "%" PRId64, r->major);
	if (r->minor >= 0)
		snprintf(min, sizeof(min), "%" PRId64, r->minor);
	if (r->access & CG_DEV_READ)
		acc[i++] = 'r';
	if (r->access & CG_DEV_WRITE)
		acc[i++] = 'w';
	if (r->access & CG_DEV_MKNOD)
		acc[i++] = 'm';
	acc[i] = '\0';
	snprintf(buf, size, "%c %s:%s %s", r->type, maj, min, acc);
	return buf;
}

static const struct cg_dev_rule default_allowed[] = {
    {true, 'c', -1, -1, CG_DEV_MKNOD},                               /* mknod any char device */
    {true, 'b', -1, -1, CG_DEV_MKNOD},                               /* mknod any block device */
    {true, 'c', 1, 3, CG_DEV_READ | CG_DEV_WRITE | CG_DEV_MKNOD},    /* /dev/null */
    {true, 'c', 1, 8, CG_DEV_READ | CG_DEV_WRITE | CG_DEV_MKNOD},    /* /dev/random */
    {true, 'c', 1, 7, CG_DEV_READ | CG_DEV_WRITE | CG_DEV_MKNOD},    /* /dev/full */
    {true, 'c', 5, 0, CG_DEV_READ | CG_DEV_WRITE | CG_DEV_MKNOD},    /* /dev/tty */
    {true, 'c', 1, 5, CG_DEV_READ | CG_DEV_WRITE | CG_DEV_MKNOD},    /* /dev/zero */
    {true, 'c', 1, 9, CG_DEV_READ | CG_DEV_WRITE | CG_DEV_MKNOD},    /* /dev/urandom */
    {true, 'c', 5, 1, CG_DEV_READ | CG_DEV_WRITE | CG_DEV_MKNOD},    /* /dev/console */
    {true, 'c', 136, -1, CG_DEV_READ | CG_DEV_WRITE | CG_DEV_MKNOD}, /* /dev/pts/ */
    {true, 'c', 5, 2, CG_DEV_READ | CG_DEV_WRITE | CG_DEV_MKNOD},    /* /dev/ptmx */
    {true, 'c', 10, 200, CG_DEV_READ | CG_DEV_WRITE | CG_DEV_MKNOD}, /* /dev/net/tun */
};

int cgroup_device_rules(const struct cgroup *cg, const struct oci_resources *r, struct cg_dev_rule **out,
                        size_t *n, berth_error_t *err)
{
	size_t nspec = r != NULL ? r->devices_len : 0;
	size_t ndef = sizeof(default_allowed) / sizeof(default_allowed[0]);
	size_t total = nspec + ndef + cg->extra_devices_len, k = 0;
	cleanup_free struct cg_dev_rule *rules = calloc(total, sizeof(*rules));

	if (rules == NULL)
		return berth_error_sys(err, ENOMEM, "device rules");
	for (size_t i = 0; i < nspec; i++)
		if (cgroup_device_rule_from_oci(&r->devices[i], &rules[k++], err) < 0)
			return berth_error_prefix(err, "linux.resources.devices[%zu]", i);
	for (size_t i = 0; i < ndef; i++)
		rules[k++] = default_allowed[i];
	for (size_t i = 0; i < cg->extra_devices_len; i++) {
		const struct oci_device *d = &cg->extra_devices[i];
		if (d->type == NULL || (d->type[0] != 'c' && d->type[0] != 'b' && d->type[0] != 'u'))
			continue; /* fifos need no rule */
		rules[k++] = (struct cg_dev_rule){true, d->type[0] == 'b' ? 'b' : 'c', d->major, d->minor,
		                                  CG_DEV_READ | CG_DEV_WRITE | CG_DEV_MKNOD};
	}
	*out = steal_ptr(&rules);
	*n = k;
	return 0;
}

/* ---- conversions ---- */

uint64_t cgroup_shares_to_weight(uint64_t shares)
{
	if (shares == 0)
		return 0;
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

uint64_t cgroup_blkio_to_io_weight(uint64_t weight)
{
	if (weight == 0)
		return 0;
	if (weight < 10)
		weight = 10;
	return 1 + (weight - 10) * 9999 / 990;
}

int cgroup_swap_to_v2(int64_t swap, int64_t limit, int64_t *out, bool *write, berth_error_t *err)
{
	*write = true;
	if (limit == -1 && swap == 0) { /* unlimited memory: unlimited swap too */
		*out = -1;
		return 0;
	}
	if (swap == -1) {
		*out = -1;
		return 0;
	}
	if (swap == 0) {
		*write = false;
		*out = 0;
		return 0;
	}
	if (limit == 0 || limit == -1)
		return berth_error_invalid(err,
		                           "memory.swap %" PRId64 ": unable to set a swap limit without a "
		                           "memory limit",
		                           swap);
	if (limit < 0 || swap < 0)
		return berth_error_invalid(err, "invalid memory value %" PRId64, limit < 0 ? limit : swap);
	if (swap < limit)
		return berth_error_invalid(err,
		                           "memory.swap %" PRId64 " is below memory.limit %" PRId64
		                           " (memory+swap must be >= memory)",
		                           swap, limit);
	*out = swap - limit;
	return 0;
}

const char *cgroup_v2_num(int64_t v, char *buf, size_t size)
{
	if (v < 0)
		snprintf(buf, size, "max");
	else
		snprintf(buf, size, "%" PRId64, v);
	return buf;
}

const char *cgroup_cpu_max(int64_t quota, uint64_t period, char *buf, size_t size)
{
	char q[24];
	if (quota > 0)
		snprintf(q, sizeof(q), "%" PRId64, quota);
	else
		snprintf(q, sizeof(q), "max");
	if (period != 0)
		snprintf(buf, size, "%s %" PRIu64, q, period);
	else
		snprintf(buf, size, "%s", q);
	return buf;
}

static const struct {
	const char *v1, *v2;
} names[] = {
    {"memory.limit_in_bytes", "memory.max"},
    {"memory.soft_limit_in_bytes", "memory.low"},
    {"memory.memsw.limit_in_bytes", "memory.swap.max"},
    {"memory.usage_in_bytes", "memory.current"},
    {"memory.max_usage_in_bytes", "memory.peak"},
    {"cpu.shares", "cpu.weight"},
    {"cpu.cfs_quota_us", "cpu.max"},
    {"cpu.cfs_period_us", "cpu.max"},
    {"cpu.cfs_burst_us", "cpu.max.burst"},
    {"cpu.idle", "cpu.idle"},
    {"cpuset.cpus", "cpuset.cpus"},
    {"cpuset.mems", "cpuset.mems"},
    {"pids.max", "pids.max"},
    {"pids.current", "pids.current"},
    {"blkio.weight", "io.weight"},
    {"blkio.bfq.weight", "io.bfq.weight"},
    {"blkio.throttle.read_bps_device", "io.max"},
    {"blkio.throttle.write_bps_device", "io.max"},
    {"blkio.throttle.read_iops_device", "io.max"},
    {"blkio.throttle.write_iops_device", "io.max"},
    {"freezer.state", "cgroup.freeze"},
    {"rdma.max", "rdma.max"},
    {"tasks", "cgroup.threads"},
    {"cgroup.procs", "cgroup.procs"},
};

const char *cgroup_v2_name(const char *v1, char *buf, size_t size)
{
	size_t n = strlen(v1);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i].v1, v1) == 0)
			return names[i].v2;
	/* hugetlb.2MB.limit_in_bytes -> hugetlb.2MB.max */
	if (strncmp(v1, "hugetlb.", 8) == 0 && n > 23 && strcmp(v1 + n - 15, ".limit_in_bytes") == 0) {
		snprintf(buf, size, "%.*s.max", (int)(n - 15), v1);
		return buf;
	}
	return NULL;
}

const char *cgroup_v1_name(const char *v2, char *buf, size_t size)
{
	size_t n = strlen(v2);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i].v2, v2) == 0)
			return names[i].v1;
	if (strncmp(v2, "hugetlb.", 8) == 0 && n > 12 && strcmp(v2 + n - 4, ".max") == 0) {
		snprintf(buf, size, "%.*s.limit_in_bytes", (int)(n - 4), v2);
		return buf;
	}
	return NULL;
}

/* ---- public entry points ---- */

int cgroup_create(struct cgroup *cg, const struct oci_resources *resources, berth_error_t *err)
{
	return cg->ops->create(cg, resources, err);
}

int cgroup_update(struct cgroup *cg, const struct oci_resources *resources, berth_error_t *err)
{
	if (resources == NULL)
		return 0;
	return cg->ops->apply(cg, resources, false, err);
}

int cgroup_v2_fd(struct cgroup *cg)
{
	if (cg->mode != CGROUP_MODE_V2 || cg->v2_dir == NULL)
		return -1;
	if (cg->v2_fd < 0)
		cg->v2_fd = open(cg->v2_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	return cg->v2_fd;
}

bool cgroup_born_inside(const struct cgroup *cg)
{
	return cg->mode == CGROUP_MODE_V2 && cg->v2_dir != NULL;
}

int cgroup_enter(struct cgroup *cg, pid_t pid, berth_error_t *err)
{
	return cg->ops->enter(cg, pid, err);
}

int cgroup_freeze(struct cgroup *cg, bool frozen, berth_error_t *err)
{
	return cg->ops->freeze(cg, frozen, err);
}

int cgroup_is_frozen(struct cgroup *cg, bool *frozen, berth_error_t *err)
{
	return cg->ops->is_frozen(cg, frozen, err);
}

int cgroup_pids(struct cgroup *cg, pid_t **pids_out, size_t *n_out, berth_error_t *err)
{
	const char *dir = cg->ops->procs_dir(cg);
	if (dir == NULL)
		return berth_error_set(err, BERTH_ERR_UNSUPPORTED, 0, "cgroup `%s`: no hierarchy to list",
		                       cg->path);
	return cg_read_pids(dir, pids_out, n_out, err);
}

int cgroup_kill_all(struct cgroup *cg, int signal, berth_error_t *err)
{
	const char *dir = cg->ops->procs_dir(cg);
	berth_error_t ferr = NULL;
	bool frozen = false;
	int rc;

	if (dir == NULL)
		return berth_error_set(err, BERTH_ERR_UNSUPPORTED, 0, "cgroup `%s`: no hierarchy to signal",
		                       cg->path);
	if (signal == SIGKILL) {
		rc = cg->ops->kill_fast(cg, err);
		if (rc < 0)
			return -1;
		/* a paused container: the v1 freezer holds SIGKILL back until thawed */
		if (rc > 0 && cg->ops->is_frozen(cg, &frozen, &ferr) == 0 && frozen)
			(void)cg->ops->freeze(cg, false, &ferr);
		berth_error_free(&ferr);
		if (rc > 0)
			return 0;
	}
	/* freeze so that no process forks past the signal, then thaw so
	 * that it is delivered */
	if (cg->ops->freeze(cg, true, &ferr) == 0)
		frozen = true;
	berth_error_free(&ferr);
	rc = cg_signal_pids(dir, signal, err);
	if (frozen && cg->ops->freeze(cg, false, rc < 0 ? NULL : err) < 0)
		return -1;
	return rc < 0 ? -1 : 0;
}

/* Kills what is left in the cgroup and waits until it is empty. */
static int empty_cgroup(struct cgroup *cg, berth_error_t *err)
{
	const char *dir = cg->ops->procs_dir(cg);
	for (int i = 0; dir != NULL; i++) {
		cleanup_free pid_t *pids = NULL;
		size_t n = 0;
		berth_error_t local = NULL;

		if (cg_read_pids(dir, &pids, &n, &local) < 0) {
			/* No cgroup: nothing to empty, and no error to report. */
			if (local->errnum == ENOENT) {
				berth_error_free(&local);
				return 0;
			}
			berth_error_move(err, &local);
			return -1;
		}
		if (n == 0)
			return 0;
		if (i >= 200)
			return berth_error_set(err, BERTH_ERR_SYSTEM, EBUSY,
			                       "cgroup `%s`: %zu processes left", dir, n);
		if (i % 20 == 0 && cgroup_kill_all(cg, SIGKILL, err) < 0)
			return -1;
		sleep_ms(i < 10 ? 1 : 10);
	}
	return 0;
}

int cgroup_destroy(struct cgroup *cg, berth_error_t *err)
{
	int rc = 0;

	if (empty_cgroup(cg, err) < 0)
		return -1;
	for (int c = 0; c < CG_V1_N; c++)
		if (cg->v1_dir[c] != NULL && !cg->v1_alias[c] &&
		    cg_rmdir_tree(cg->v1_dir[c], rc < 0 ? NULL : err) < 0)
			rc = -1;
	if (cg->v2_dir != NULL && cg_rmdir_tree(cg->v2_dir, rc < 0 ? NULL : err) < 0)
		rc = -1;
	return rc;
}

char *cgroup_stats_json(struct cgroup *cg, berth_error_t *err)
{
	struct json_object *data = json_object_new_object();
	char *text = NULL;

	if (data == NULL) {
		berth_error_sys(err, ENOMEM, "cgroup stats");
		return NULL;
	}
	if (cg->ops->stats(cg, data, err) == 0) {
		text = strdup(json_object_to_json_string_ext(data, JSON_C_TO_STRING_PLAIN));
		if (text == NULL)
			berth_error_sys(err, ENOMEM, "cgroup stats");
	}
	json_object_put(data);
	return text;
}

int cgroup_oom_fd(struct cgroup *cg, berth_error_t *err)
{
	return cg->ops->oom_fd(cg, err);
}

bool cgroup_oom_check(struct cgroup *cg, int fd)
{
	return cg->ops->oom_check(cg, fd);
}

/* ---- stats helpers ---- */

void cg_json_u64(struct json_object *o, const char *key, uint64_t v, bool omitempty)
{
	if (o == NULL || (omitempty && v == 0))
		return;
	json_object_object_add(o, key, json_object_new_uint64(v));
}

struct json_object *cg_json_obj(struct json_object *parent, const char *key)
{
	struct json_object *o = NULL;
	if (parent == NULL)
		return NULL;
	if (json_object_object_get_ex(parent, key, &o))
		return o;
	o = json_object_new_object();
	if (o != NULL)
		json_object_object_add(parent, key, o);
	return o;
}

void cg_json_blkio(struct json_object *parent, const char *key, uint64_t major, uint64_t minor,
                   const char *op, uint64_t value)
{
	struct json_object *arr = NULL, *e;
	if (parent == NULL)
		return;
	if (!json_object_object_get_ex(parent, key, &arr)) {
		arr = json_object_new_array();
		if (arr == NULL)
			return;
		json_object_object_add(parent, key, arr);
	}
	e = json_object_new_object();
	if (e == NULL)
		return;
	cg_json_u64(e, "major", major, true);
	cg_json_u64(e, "minor", minor, true);
	if (op != NULL && op[0] != '\0')
		json_object_object_add(e, "op", json_object_new_string(op));
	cg_json_u64(e, "value", value, true);
	json_object_array_add(arr, e);
}

void cg_json_raw(struct json_object *o, const char *text)
{
	const char *p = text;
	while (o != NULL && p != NULL && *p != '\0') {
		const char *sp = strchr(p, ' '), *nl = strchrnul(p, '\n');
		uint64_t v;
		if (sp != NULL && sp < nl && parse_u64(sp + 1, &v) == 0) {
			char key[128];
			snprintf(key, sizeof(key), "%.*s", (int)(sp - p), p);
			json_object_object_add(o, key, json_object_new_uint64(v));
		}
		p = *nl != '\0' ? nl + 1 : NULL;
	}
}

char **cg_hugepage_sizes(void)
{
	cleanup_dir DIR *d = opendir("/sys/kernel/mm/hugepages");
	struct dirent *de;
	char **v = calloc(1, sizeof(char *));
	size_t n = 0;

	if (v == NULL || d == NULL)
		return v;
	while ((de = readdir(d)) != NULL) {
		unsigned long kb;
		char *name = NULL, **bigger;
		if (sscanf(de->d_name, "hugepages-%lukB", &kb) != 1)
			continue;
		if (kb >= 1024UL * 1024 && kb % (1024UL * 1024) == 0)
			(void)!asprintf(&name, "%luGB", kb / (1024UL * 1024));
		else if (kb >= 1024 && kb % 1024 == 0)
			(void)!asprintf(&name, "%luMB", kb / 1024);
		else
			(void)!asprintf(&name, "%luKB", kb);
		if (name == NULL)
			break;
		bigger = realloc(v, (n + 2) * sizeof(char *));
		if (bigger == NULL) {
			free(name);
			break;
		}
		v = bigger;
		v[n++] = name;
		v[n] = NULL;
	}
	return v;
}

int cgroup_open_sub(const struct cgroup *cg, const char *sub, struct cgroup **out, berth_error_t *err)
{
	const char *colon = strchr(sub, ':'), *rel = colon != NULL ? colon + 1 : sub;
	size_t ctrl_len = colon != NULL ? (size_t)(colon - sub) : 0;
	char *path = NULL;
	size_t len = 0;
	FILE *f;
	int ret;

	if (rel[0] == '\0' || strstr(rel, "..") != NULL)
		return berth_error_invalid(err, "invalid sub-cgroup `%s`", sub);
	while (*rel == '/')
		rel++;
	f = open_memstream(&path, &len);
	if (f == NULL)
		return berth_error_sys(err, errno, "sub-cgroup");
	/* Every hierarchy keeps the container's cgroup, and the one named (all
	 * of them without a controller) goes one level down. */
	for (int c = 0; c < CG_V1_N; c++) {
		bool named;
		if (cg->v1_rel[c] == NULL)
			continue;
		named = colon == NULL || (strlen(cgroup_ctrl_name(c)) == ctrl_len &&
		                          strncmp(cgroup_ctrl_name(c), sub, ctrl_len) == 0);
		fprintf(f, "%s%s:%s%s%s", ftell(f) > 0 ? ";" : "", cgroup_ctrl_name(c), cg->v1_rel[c],
		        named ? "/" : "", named ? rel : "");
	}
	if (cg->v2_rel != NULL)
		fprintf(f, "%s:%s%s%s", ftell(f) > 0 ? ";" : "", cg->v2_rel, colon == NULL ? "/" : "",
		        colon == NULL ? rel : "");
	fclose(f);
	ret = cgroup_open_path(path, out, err);
	free(path);
	return ret;
}
