/* The attributes of the container process, applied by init just before
 * execve: rlimits and oom_score_adj (while privileged), the lookup of the
 * program, then the identity:
 *
 *   1. capability names resolved and checked (nothing changed yet, so a bad
 *      name fails cleanly)
 *   2. umask, cwd
 *   3. PR_SET_KEEPCAPS, so the permitted set survives the switch of uid
 *   4. the bounding set cut down to process.capabilities.bounding
 *   5. supplementary groups (unless the user namespace denies setgroups),
 *      gid, uid
 *   6. effective / permitted / inheritable, then ambient
 *   7. PR_SET_KEEPCAPS off, no_new_privs
 *
 * An absent process.capabilities means empty sets, as with crun: the
 * process gets no capability it was not given.
 */
#include "config.h"
#include "process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* ---- limits ---- */

static const struct {
	const char *name;
	int resource;
} rlimit_names[] = {
    {"RLIMIT_CPU", RLIMIT_CPU},           {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_DATA", RLIMIT_DATA},         {"RLIMIT_STACK", RLIMIT_STACK},
    {"RLIMIT_CORE", RLIMIT_CORE},         {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_NPROC", RLIMIT_NPROC},       {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},   {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},       {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE}, {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},     {"RLIMIT_RTTIME", RLIMIT_RTTIME},
};

static int rlimit_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(rlimit_names) / sizeof(rlimit_names[0]); i++)
		if (strcmp(rlimit_names[i].name, name) == 0)
			return rlimit_names[i].resource;
	return -1;
}

int process_apply_limits(const struct oci_process *process, berth_error_t *err)
{
	/* 1. rlimits.  A hard limit above ours needs CAP_SYS_RESOURCE: the
	 *    kernel says EPERM and the error names the limit and values. */
	for (size_t i = 0; i < process->rlimits_len; i++) {
		const struct oci_rlimit *r = &process->rlimits[i];
		int res = r->type != NULL ? rlimit_from_name(r->type) : -1;
		struct rlimit rl = {.rlim_cur = (rlim_t)r->soft, .rlim_max = (rlim_t)r->hard};

		if (res < 0)
			return berth_error_invalid(err, "unknown rlimit `%s`",
			                           r->type != NULL ? r->type : "");
		if (setrlimit((__rlimit_resource_t)res, &rl) < 0)
			return berth_error_sys(err, errno, "setrlimit %s (soft %llu, hard %llu)", r->type,
			                       (unsigned long long)r->soft, (unsigned long long)r->hard);
	}

	/* 2. oom_score_adj. */
	if (process->oom_score_adj.set) {
		char value[16];
		cleanup_close int fd = open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);

		snprintf(value, sizeof(value), "%d", (int)process->oom_score_adj.value);
		if (fd < 0 || fs_write_all(fd, value, strlen(value)) < 0)
			return berth_error_sys(err, errno, "set oom_score_adj to %s", value);
	}
	return 0;
}

/* ---- executable ---- */

static const char *env_path(const struct oci_process *process)
{
	for (size_t i = 0; i < process->env_len; i++)
		if (process->env[i] != NULL && strncmp(process->env[i], "PATH=", 5) == 0)
			return process->env[i] + 5;
	return DEFAULT_PATH;
}

/* `path` relative to the process's cwd (it is not there yet). */
static char *in_cwd(const struct oci_process *process, const char *path)
{
	const char *cwd = process->cwd != NULL && process->cwd[0] != '\0' ? process->cwd : "/";
	char *out = NULL;

	if (path[0] == '/')
		return strdup(path);
	if (asprintf(&out, "%s%s%s", cwd, cwd[strlen(cwd) - 1] == '/' ? "" : "/", path) < 0)
		return NULL;
	return out;
}

/* 0 if `path` is a regular file we may execute, else an errno. */
static int check_executable(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return errno;
	if (!S_ISREG(st.st_mode))
		return EACCES;
	if (access(path, X_OK) < 0)
		return errno;
	return 0;
}

int process_find_executable(const struct oci_process *process, char **path_out, berth_error_t *err)
{
	const char *name = process->args_len > 0 ? process->args[0] : NULL;
	cleanup_free char *dirs = NULL;
	char *save = NULL;
	int e;

	*path_out = NULL;
	if (name == NULL || name[0] == '\0')
		return berth_error_invalid(err, "exec: process.args is empty");

	/* 1. A path: used as it is (relative to process.cwd). */
	if (strchr(name, '/') != NULL) {
		cleanup_free char *path = in_cwd(process, name);
		if (path == NULL)
			return berth_error_sys(err, ENOMEM, "exec `%s`", name);
		e = check_executable(path);
		if (e != 0)
			return berth_error_sys(err, e, "exec `%s`", name);
		*path_out = steal_ptr(&path);
		return 0;
	}

	/* 2. A name: the first executable file on PATH, as execvp. */
	dirs = strdup(env_path(process));
	if (dirs == NULL)
		return berth_error_sys(err, ENOMEM, "exec `%s`", name);
	for (char *d = strtok_r(dirs, ":", &save); d != NULL; d = strtok_r(NULL, ":", &save)) {
		cleanup_free char *candidate = NULL, *path = NULL;

		if (asprintf(&candidate, "%s/%s", d[0] != '\0' ? d : ".", name) < 0)
			return berth_error_sys(err, ENOMEM, "exec `%s`", name);
		path = in_cwd(process, candidate);
		if (path == NULL)
			return berth_error_sys(err, ENOMEM, "exec `%s`", name);
		if (check_executable(path) == 0) {
			*path_out = steal_ptr(&path);
			return 0;
		}
	}
	return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0, "exec `%s`: executable file not found in $PATH",
	                       name);
}

/* ---- identity ---- */

struct cap_list {
	cap_value_t caps[CAP_LAST_CAP + 64];
	size_t len;
};

struct cap_sets {
	struct cap_list bounding, effective, permitted, inheritable, ambient;
	uint64_t current_bounding; /* the bounding set we run with */
};

/* Resolves names; unknown ones are an error, ones this kernel does not have
 * are skipped (as runc: a config written for a newer kernel still runs). */
static int resolve_caps(char *const *names, size_t len, struct cap_list *out, berth_error_t *err)
{
	int max = cap_max_bits();

	out->len = 0;
	for (size_t i = 0; i < len; i++) {
		cap_value_t v;

		if (names[i] == NULL || strncmp(names[i], "CAP_", 4) != 0 || cap_from_name(names[i], &v) < 0)
			return berth_error_invalid(err, "unknown capability `%s`",
			                           names[i] != NULL ? names[i] : "");
		if (v >= max)
			continue;
		if (out->len < sizeof(out->caps) / sizeof(out->caps[0]))
			out->caps[out->len++] = v;
	}
	return 0;
}

/* The name of a capability ("cap_chown" from libcap, printed upper case as
 * config.json spells it); libcap's string must go back through cap_free. */
static const char *cap_name(cap_value_t v, char buf[static 64])
{
	char *n = cap_to_name(v);

	snprintf(buf, 64, "%s", n != NULL ? n : "?");
	cap_free(n);
	for (char *c = buf; *c != '\0'; c++)
		if (*c >= 'a' && *c <= 'z')
			*c = (char)(*c - 'a' + 'A');
	return buf;
}

static bool cap_list_has(const struct cap_list *l, cap_value_t v)
{
	for (size_t i = 0; i < l->len; i++)
		if (l->caps[i] == v)
			return true;
	return false;
}

/* Our bounding set, from CapBnd of /proc/self/status: one read instead of
 * a prctl per capability. */
static uint64_t current_bounding(void)
{
	char buf[4096], *line;
	cleanup_close int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? fs_read_all(fd, buf, sizeof(buf) - 1) : -1;

	if (n <= 0)
		return ~0ULL; /* unknown: try every drop */
	buf[n] = '\0';
	line = strstr(buf, "\nCapBnd:");
	return line != NULL ? strtoull(line + 8, NULL, 16) : ~0ULL;
}

static bool in_bounding(uint64_t bounding, cap_value_t v)
{
	return v < 64 && (bounding & (1ULL << v)) != 0;
}

/* The sets must lie within the bounding set we run with: say which
 * capability is out of reach before anything has changed. */
static int check_reachable(const struct cap_list *l, uint64_t bounding, berth_error_t *err)
{
	for (size_t i = 0; i < l->len; i++) {
		if (!in_bounding(bounding, l->caps[i])) {
			char name[64];
			return berth_error_sys(err, EPERM, "set capability `%s`", cap_name(l->caps[i], name));
		}
	}
	return 0;
}

static int resolve_all(const struct oci_process *process, struct cap_sets *s, berth_error_t *err)
{
	const struct oci_capabilities *c = &process->capabilities;

	memset(s, 0, sizeof(*s));
	s->current_bounding = current_bounding();
	if (!process->has_capabilities)
		return 0;
	if (resolve_caps(c->bounding, c->bounding_len, &s->bounding, err) < 0 ||
	    resolve_caps(c->effective, c->effective_len, &s->effective, err) < 0 ||
	    resolve_caps(c->permitted, c->permitted_len, &s->permitted, err) < 0 ||
	    resolve_caps(c->inheritable, c->inheritable_len, &s->inheritable, err) < 0 ||
	    resolve_caps(c->ambient, c->ambient_len, &s->ambient, err) < 0)
		return -1;
	if (check_reachable(&s->effective, s->current_bounding, err) < 0 ||
	    check_reachable(&s->permitted, s->current_bounding, err) < 0 ||
	    check_reachable(&s->inheritable, s->current_bounding, err) < 0 ||
	    check_reachable(&s->ambient, s->current_bounding, err) < 0)
		return -1;
	return 0;
}

static int drop_bounding(const struct cap_list *keep, uint64_t bounding, berth_error_t *err)
{
	int max = cap_max_bits();

	for (cap_value_t v = 0; v < max; v++) {
		if (cap_list_has(keep, v) || !in_bounding(bounding, v))
			continue;
		if (cap_drop_bound(v) < 0) {
			char name[64];
			return berth_error_sys(err, errno, "drop capability `%s` from the bounding set",
			                       cap_name(v, name));
		}
	}
	return 0;
}

/* A user namespace whose setgroups file says "deny" refuses setgroups(2). */
static bool setgroups_denied(void)
{
	char buf[16] = "";
	cleanup_close int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fs_read_all(fd, buf, sizeof(buf) - 1) < 0)
		return false;
	return strncmp(buf, "deny", 4) == 0;
}

static int set_ids(const struct oci_user *user, berth_error_t *err)
{
	{
		gid_t *groups = user->additional_gids_len > 0 ? (gid_t *)user->additional_gids : NULL;
		/* the file is read only when the call fails: rarely */
		if (setgroups(user->additional_gids_len, groups) < 0) {
			int e = errno;
			if (e != EPERM || !setgroups_denied())
				return berth_error_sys(err, e, "setgroups");
		}
	}
	if (setresgid(user->gid, user->gid, user->gid) < 0)
		return berth_error_sys(err, errno, "setgid %u", user->gid);
	if (setresuid(user->uid, user->uid, user->uid) < 0)
		return berth_error_sys(err, errno, "setuid %u", user->uid);
	return 0;
}

static int set_flag(cap_t c, cap_flag_t flag, const struct cap_list *l)
{
	if (l->len == 0)
		return 0;
	return cap_set_flag(c, flag, (int)l->len, l->caps, CAP_SET);
}

static int set_caps(const struct cap_sets *s, berth_error_t *err)
{
	cap_t c = cap_init();
	int rc;

	if (c == NULL)
		return berth_error_sys(err, errno, "set capabilities");
	rc = set_flag(c, CAP_EFFECTIVE, &s->effective) < 0 || set_flag(c, CAP_PERMITTED, &s->permitted) < 0 ||
	             set_flag(c, CAP_INHERITABLE, &s->inheritable) < 0
	         ? -1
	         : cap_set_proc(c);
	int saved = errno;
	cap_free(c);
	if (rc < 0)
		return berth_error_sys(err, saved, "set capabilities");

	/* Ambient: cleared, then raised one by one.  A capability that is not
	 * both permitted and inheritable cannot be ambient (EPERM): runc only
	 * warns there (its default spec asks for ambient caps without
	 * inheritable ones), so skip it rather than fail the container. */
	if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
		return berth_error_sys(err, errno, "clear ambient capabilities");
	for (size_t i = 0; i < s->ambient.len; i++) {
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, (unsigned long)s->ambient.caps[i], 0, 0) <
		        0 &&
		    errno != EPERM) {
			char name[64];
			return berth_error_sys(err, errno, "raise ambient capability `%s`",
			                       cap_name(s->ambient.caps[i], name));
		}
	}
	return 0;
}

int process_apply_identity(const struct oci_process *process, berth_error_t *err)
{
	cleanup_free struct cap_sets *sets = malloc(sizeof(*sets));
	const char *cwd = process->cwd != NULL && process->cwd[0] != '\0' ? process->cwd : "/";

	if (sets == NULL)
		return berth_error_sys(err, ENOMEM, "capabilities");

	/* 1. Capability names, before anything irreversible. */
	if (resolve_all(process, sets, err) < 0)
		return -1;

	/* 2. umask and cwd. */
	umask(process->user.umask.set ? (mode_t)(process->user.umask.value & 0777) : 0022);
	if (chdir(cwd) < 0)
		return berth_error_sys(err, errno, "chdir `%s`", cwd);
	/* A cwd reached through a leaked fd (/proc/self/fd/N) would be outside
	 * the container's root: getcwd() then fails or is not absolute. */
	{
		char where[PATH_MAX];
		/* (A seccomp filter may deny getcwd itself: that says nothing.) */
		bool outside = getcwd(where, sizeof(where)) == NULL ? errno == ENOENT : where[0] != '/';
		if (outside)
			return berth_error_set(err, BERTH_ERR_INVALID, 0, "cwd `%s` is outside the container",
			                       cwd);
	}

	/* 3. Keep the permitted set across setuid. */
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return berth_error_sys(err, errno, "prctl PR_SET_KEEPCAPS");

	/* 4. Bounding set (needs CAP_SETPCAP: before the uid changes). */
	if (drop_bounding(&sets->bounding, sets->current_bounding, err) < 0)
		return -1;

	/* 5. Groups and ids. */
	if (set_ids(&process->user, err) < 0)
		return -1;

	/* 6. Capability sets. */
	if (set_caps(sets, err) < 0)
		return -1;

	/* 7. Done with KEEPCAPS; no_new_privs last (it does not stop the rest). */
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return berth_error_sys(err, errno, "prctl PR_SET_KEEPCAPS");
	if (process->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return berth_error_sys(err, errno, "prctl PR_SET_NO_NEW_PRIVS");
	return 0;
}

int process_default_home(struct oci_process *p, berth_error_t *err)
{
	cleanup_fclose FILE *f = NULL;
	char line[1024], home[512] = "/", *entry;
	char **env;

	for (size_t i = 0; i < p->env_len; i++) {
		if (strncmp(p->env[i], "HOME=", 5) == 0)
			return 0;
	}
	f = fopen("/etc/passwd", "re");
	while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
		char *fields[7] = {0}, *tok = line;
		int n = 0;
		/* name:password:uid:gid:gecos:home:shell */
		while (n < 7 && (fields[n] = strsep(&tok, ":\n")) != NULL)
			n++;
		if (n >= 6 && fields[2][0] != '\0' && strtoul(fields[2], NULL, 10) == p->user.uid &&
		    fields[5][0] != '\0') {
			snprintf(home, sizeof(home), "%s", fields[5]);
			break;
		}
	}
	if (asprintf(&entry, "HOME=%s", home) < 0)
		return berth_error_sys(err, ENOMEM, "environment");
	env = realloc(p->env, (p->env_len + 2) * sizeof(char *));
	if (env == NULL) {
		free(entry);
		return berth_error_sys(err, ENOMEM, "environment");
	}
	env[p->env_len++] = entry;
	env[p->env_len] = NULL;
	p->env = env;
	return 0;
}

static bool is_kept(int fd, const int *keep, size_t n_keep)
{
	for (size_t i = 0; i < n_keep; i++)
		if (keep[i] == fd)
			return true;
	return false;
}

static int compare_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int process_keep_fds(unsigned int preserve, const int *keep, size_t n_keep, berth_error_t *err)
{
	int first = 3 + (int)preserve, sorted[8];
	size_t n = 0;

	for (int fd = 3; fd < first; fd++) {
		int flags = fcntl(fd, F_GETFD);
		if (flags >= 0 && !is_kept(fd, keep, n_keep) && fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0)
			return berth_error_sys(err, errno, "preserve fd %d", fd);
	}
	for (size_t i = 0; i < n_keep && n < sizeof(sorted) / sizeof(sorted[0]); i++)
		if (keep[i] >= first)
			sorted[n++] = keep[i];
	qsort(sorted, n, sizeof(int), compare_int);
	/* Close the gaps between the kept fds. */
	for (size_t i = 0; i <= n; i++) {
		int from = i == 0 ? first : sorted[i - 1] + 1;
		unsigned int to = i == n ? ~0U : (unsigned int)sorted[i] - 1;
		if ((unsigned int)from > to)
			continue;
		if (syscall(SYS_close_range, (unsigned int)from, to, 0) < 0) {
			/* Kernels before 5.9: one by one. */
			for (int fd = from; (unsigned int)fd <= to && fd < 65536; fd++)
				close(fd);
		}
	}
	return 0;
}
