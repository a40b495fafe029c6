/* RUN --mount (see run_mounts.h).
 *
 * A mount:
 *   1. its target, absolute (relative ones from the working directory)
 *   2. its cache key part: the type, target, options, and for a bind of
 *      the context the copied content; for a stage or image its key or
 *      digest; for a secret its id only
 *   3. its source: a copy under <tmp>/r<N>, a path of a stage's view or an
 *      unpacked image, a cache directory, a file in the secrets' tmpfs */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "fsops.h"
#include "layer.h"
#include "run_mounts.h"
#include "util/cleanup.h"
#include "util/fs.h"

static void key_add(struct oci_hasher *h, const char *tag, const char *s)
{
	oci_hasher_update(h, tag, strlen(tag) + 1);
	if (s != NULL)
		oci_hasher_update(h, s, strlen(s) + 1);
	else
		oci_hasher_update(h, "\xff", 1);
}

static int nomem(berth_error_t *err)
{
	return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "RUN --mount");
}

static int push_mount(struct run_mounts *rm, const char *dest, const char *type, const char *source,
                      const char *options, berth_error_t *err)
{
	struct run_step_mount *v = realloc(rm->v, (rm->n + 1) * sizeof(*v));
	if (v == NULL)
		return nomem(err);
	rm->v = v;
	v = &v[rm->n++];
	v->destination = strdup(dest);
	v->type = strdup(type);
	v->source = strdup(source);
	v->options = strdup(options);
	if (!v->destination || !v->type || !v->source || !v->options)
		return nomem(err);
	return 0;
}

/* 1. */
static char *abs_target(const char *cwd, const char *target)
{
	cleanup_free char *j = NULL;
	char out[4096];
	if (asprintf(&j, "%s/%s", *target == '/' ? "" : cwd, target) < 0)
		return NULL;
	if (layer_clean_path(j, out + 1, sizeof(out) - 1) < 0)
		return NULL;
	out[0] = '/';
	return strdup(out);
}

static char *fd_path(int fd)
{
	char p[64], buf[4096];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(p, buf, sizeof(buf) - 1);
	if (n < 0)
		return NULL;
	buf[n] = '\0';
	return strdup(buf);
}

static char *sub_dir(struct run_mounts *rm, const char *name, berth_error_t *err)
{
	char *p = NULL;
	if (asprintf(&p, "%s/%s", rm->dir, name) < 0) {
		nomem(err);
		return NULL;
	}
	return p;
}

/* A copy of root_fd/src at rm->dir/<name> (a directory's contents, or a file). */
/* Copies src of the root (a directory's contents, or a file) to the new
 * path dst; a context's with .dockerignore applied and hashed into key. */
static int copy_tree(struct builder *b, int root_fd, const char *src, bool context, const char *dst,
                     struct oci_hasher *key, berth_error_t *err)
{
	char clean[4096];
	int cr = layer_clean_path(src, clean, sizeof(clean));
	if (cr < 0)
		return berth_error_invalid(err, "source `%s`: outside the %s", src,
		                           context ? "build context" : "source");
	if (cr == 1)
		clean[0] = '\0';
	cleanup_close int sfd = fsops_open_in_root(root_fd, *clean ? clean : "/", O_PATH, err);
	if (sfd < 0)
		return -1;
	struct stat sb;
	if (fstat(sfd, &sb) < 0)
		return berth_error_sys(err, errno, "source `%s`", src);
	struct fsops_copy_opts co = {
	    .uid = (uid_t)-1,
	    .gid = (gid_t)-1,
	    .mode = -1,
	    .ignore = context && b->has_di ? &b->di : NULL,
	    .hash = context ? key : NULL,
	};
	char p[64];
	snprintf(p, sizeof(p), "/proc/self/fd/%d", (int)sfd);
	if (S_ISDIR(sb.st_mode)) {
		if (mkdir(dst, sb.st_mode & 07777) < 0)
			return berth_error_sys(err, errno, "mkdir `%s`", dst);
		cleanup_close int rfd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		cleanup_close int dfd = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (rfd < 0 || dfd < 0)
			return berth_error_sys(err, errno, "copy `%s`", src);
		if (fsops_copy_contents(rfd, clean, dfd, &co, err) < 0)
			return -1;
	} else {
		/* a file: copied from its parent directory */
		const char *sl = strrchr(clean, '/');
		cleanup_free char *parent = sl ? strndup(clean, (size_t)(sl - clean)) : strdup("/");
		if (parent == NULL)
			return nomem(err);
		cleanup_close int pfd =
		    fsops_open_in_root(root_fd, *parent ? parent : "/", O_RDONLY | O_DIRECTORY, err);
		if (pfd < 0)
			return -1;
		co.ignore = NULL;
		if (fsops_copy(pfd, sl ? sl + 1 : clean, clean, AT_FDCWD, dst, &co, err) < 0)
			return -1;
	}
	return 0;
}

static int copy_source(struct builder *b, struct run_mounts *rm, int root_fd, const char *src, bool context,
                       const char *name, struct oci_hasher *key, char **out, berth_error_t *err)
{
	cleanup_free char *dst = sub_dir(rm, name, err);
	if (dst == NULL || copy_tree(b, root_fd, src, context, dst, key, err) < 0)
		return -1;
	*out = steal_ptr(&dst);
	return 0;
}

/* The root of a mount's from= (a stage's view or an image unpacked), opened
 * into *fd; what it is goes into the key. */
static int open_from(struct builder *b, size_t stage, const struct df_mount *m, struct oci_hasher *key,
                     int *fd, berth_error_t *err)
{
	long si = df_stage_lookup(&b->df, m->from, stage);
	const char *dir = NULL;
	cleanup_free char *idir = NULL;
	if (si >= 0) {
		if (!b->st[si].built)
			return berth_error_invalid(err, "from=%s: the stage is not built", m->from);
		if (steps_stage_view(b, &b->st[si], &dir, err) < 0)
			return berth_error_prefix(err, "from=%s", m->from);
		key_add(key, "from", b->st[si].chain);
	} else {
		struct oci_layout *l = NULL;
		struct oci_image *img = NULL;
		if (build_find_image(b, m->from, &l, &img, err) < 0)
			return berth_error_prefix(err, "from=%s", m->from);
		if (img == NULL)
			return berth_error_invalid(
			    err, "from=%s: no such stage, and no build context names that image", m->from);
		if (img->manifest->layers_len == 0)
			dir = b->empty;
		else if (steps_unpack_base(b, l, img, &idir, err) < 0)
			return berth_error_prefix(err, "from=%s", m->from);
		else
			dir = idir;
		key_add(key, "from", img->manifest_desc.digest);
	}
	*fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (*fd < 0)
		return berth_error_sys(err, errno, "from=%s: open `%s`", m->from, dir);
	return 0;
}

/* 3. type=bind */
static int mount_bind(struct builder *b, size_t stage, const struct df_mount *m, const char *target,
                      size_t idx, struct oci_hasher *key, struct run_mounts *rm, berth_error_t *err)
{
	const char *src = m->source != NULL ? m->source : "/";
	bool context = m->from == NULL;
	cleanup_free char *source = NULL;
	cleanup_close int from_fd = -1;
	int root_fd = b->ctx_fd;
	char name[32];

	if (!context) {
		if (open_from(b, stage, m, key, &from_fd, err) < 0)
			return -1;
		root_fd = from_fd;
	}
	key_add(key, "source", src);
	snprintf(name, sizeof(name), "b%zu", idx);
	if (context || !m->readonly) {
		/* the context (filtered, hashed), or a copy whose writes vanish */
		if (copy_source(b, rm, root_fd, src, context, name, key, &source, err) < 0)
			return berth_error_prefix(err, "source `%s`", src);
	} else {
		cleanup_close int fd = fsops_open_in_root(root_fd, src, O_PATH, err);
		if (fd < 0)
			return berth_error_prefix(err, "source `%s`", src);
		if ((source = fd_path(fd)) == NULL)
			return berth_error_sys(err, errno, "source `%s`", src);
	}
	return push_mount(rm, target, "bind", source, m->readonly ? "rbind,ro" : "rbind,rw", err);
}

static char *mounts_root(const struct builder *b)
{
	cleanup_free char *cache = b->o->cache_dir ? strdup(b->o->cache_dir) : build_default_cache_dir();
	char *s = NULL;
	if (cache == NULL || asprintf(&s, "%s/mounts", cache) < 0)
		return NULL;
	return s;
}

/* 3. type=cache */
static int mount_cache(struct builder *b, size_t stage, const struct df_mount *m, const char *target,
                       size_t idx, struct oci_hasher *key, struct run_mounts *rm, berth_error_t *err)
{
	const char *id = m->id != NULL && *m->id ? m->id : target;
	const char *sharing = m->sharing ? m->sharing : "shared";
	char digest[OCI_DIGEST_MAX];
	cleanup_free char *root = mounts_root(b), *dir = NULL, *lock = NULL;
	struct oci_hasher *h = oci_hasher_new(OCI_DIGEST_SHA256, err);
	if (h == NULL)
		return -1;
	oci_hasher_update(h, id, strlen(id));
	oci_hasher_final(h, digest);
	oci_hasher_free(h);
	if (root == NULL || asprintf(&dir, "%s/%.32s", root, digest + 7) < 0 ||
	    asprintf(&lock, "%s/%.32s.lock", root, digest + 7) < 0)
		return nomem(err);
	key_add(key, "id", id);
	key_add(key, "sharing", sharing);
	if (fs_mkdir_p(root, 0700, err) < 0)
		return berth_error_prefix(err, "cache mount");

	/* sharing: a lock file per id, held for the step */
	int *locks = realloc(rm->locks, (rm->n_locks + 1) * sizeof(*locks));
	if (locks == NULL)
		return nomem(err);
	rm->locks = locks;
	int lfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0)
		return berth_error_sys(err, errno, "cache mount lock `%s`", lock);
	rm->locks[rm->n_locks++] = lfd;
	int op = strcmp(sharing, "shared") == 0 ? LOCK_SH : LOCK_EX;
	if (strcmp(sharing, "private") == 0)
		op |= LOCK_NB;
	while (flock(lfd, op) < 0) {
		if (errno == EWOULDBLOCK) {
			/* private and in use: a directory of its own for this step */
			char name[32];
			snprintf(name, sizeof(name), "c%zu", idx);
			free(dir);
			if ((dir = sub_dir(rm, name, err)) == NULL)
				return -1;
			break;
		}
		if (errno != EINTR)
			return berth_error_sys(err, errno, "cache mount lock `%s`", lock);
	}
	struct stat dsb;
	if (stat(dir, &dsb) < 0) {
		/* made once: empty, or with the content of from=/source=,
		 * in a directory of its own renamed into place */
		cleanup_free char *seed = NULL;
		if (asprintf(&seed, "%s.new-%d", dir, (int)getpid()) < 0)
			return nomem(err);
		if (m->from != NULL) {
			cleanup_close int from_fd = -1;
			if (open_from(b, stage, m, key, &from_fd, err) < 0 ||
			    copy_tree(b, from_fd, m->source ? m->source : "/", false, seed, NULL, err) < 0) {
				berth_error_t e = NULL;
				if (fsops_remove(seed, &e) < 0)
					berth_error_free(&e);
				return berth_error_prefix(err, "from=%s", m->from);
			}
		} else if (mkdir(seed, 0700) < 0) {
			return berth_error_sys(err, errno, "cache mount `%s`", seed);
		}
		if (chmod(seed, m->mode >= 0 ? (mode_t)m->mode : 0755) < 0 ||
		    chown(seed, m->uid >= 0 ? (uid_t)m->uid : 0, m->gid >= 0 ? (gid_t)m->gid : 0) < 0 ||
		    (rename(seed, dir) < 0 && errno != EEXIST && errno != ENOTEMPTY)) {
			int e = errno;
			berth_error_t e2 = NULL;
			if (fsops_remove(seed, &e2) < 0)
				berth_error_free(&e2);
			return berth_error_sys(err, e, "cache mount `%s`", dir);
		}
		/* another step made it first: its directory is the cache */
		berth_error_t e = NULL;
		if (access(seed, F_OK) == 0 && fsops_remove(seed, &e) < 0)
			berth_error_free(&e);
	}
	return push_mount(rm, target, "bind", dir, m->readonly ? "rbind,ro" : "rbind,rw", err);
}

/* The value of --secret id=ID: the file's content or the variable's. */
static int secret_value(const struct builder *b, const char *id, char **val, size_t *len, berth_error_t *err)
{
	*val = NULL;
	for (size_t i = 0; b->o->secrets != NULL && b->o->secrets[i] != NULL; i++) {
		cleanup_free char *spec = strdup(b->o->secrets[i]);
		const char *sid = NULL, *src = NULL, *env = NULL;
		char *save = NULL;
		if (spec == NULL)
			return nomem(err);
		for (char *t = strtok_r(spec, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			if (strncmp(t, "id=", 3) == 0)
				sid = t + 3;
			else if (strncmp(t, "src=", 4) == 0 || strncmp(t, "source=", 7) == 0)
				src = strchr(t, '=') + 1;
			else if (strncmp(t, "env=", 4) == 0)
				env = t + 4;
		}
		if (sid == NULL || strcmp(sid, id) != 0)
			continue;
		if (src != NULL)
			return fs_read_file_at(AT_FDCWD, src, val, len, err) < 0
			           ? berth_error_prefix(err, "secret `%s`", id)
			           : 0;
		const char *v = getenv(env ? env : id);
		if (v == NULL)
			return berth_error_invalid(err, "secret `%s`: the variable `%s` is not set", id,
			                           env ? env : id);
		*len = strlen(v);
		return (*val = strdup(v)) == NULL ? nomem(err) : 0;
	}
	return 0;
}

/* 3. type=ssh: the agent's socket of --ssh ID=SOCKET bound at target
 * (default /run/buildkit/ssh_agent.N), SSH_AUTH_SOCK set to the first */
static int mount_ssh(struct builder *b, const struct df_mount *m, const char *cwd, size_t idx,
                     struct oci_hasher *key, struct run_mounts *rm, berth_error_t *err)
{
	const char *id = m->id != NULL && *m->id ? m->id : "default", *sock = NULL;
	cleanup_free char *target = NULL;
	if (m->target != NULL)
		target = abs_target(cwd, m->target);
	else if (asprintf(&target, "/run/buildkit/ssh_agent.%zu", idx) < 0)
		target = NULL;
	if (target == NULL)
		return nomem(err);
	key_add(key, "ssh", id);
	key_add(key, "target", target);
	size_t il = strlen(id);
	for (size_t i = 0; b->o->ssh != NULL && b->o->ssh[i] != NULL && sock == NULL; i++)
		if (strncmp(b->o->ssh[i], id, il) == 0 && b->o->ssh[i][il] == '=')
			sock = b->o->ssh[i] + il + 1;
	if (sock == NULL) {
		if (m->required)
			return berth_error_invalid(err, "ssh `%s`: required, and not given with --ssh %s", id,
			                           id);
		return 0;
	}
	if (m->uid >= 0 || m->gid >= 0 || m->mode >= 0)
		return berth_error_invalid(err,
		                           "ssh `%s`: uid, gid and mode are not supported (the agent's "
		                           "socket is bound as it is)",
		                           id);
	struct stat sb;
	if (stat(sock, &sb) < 0)
		return berth_error_sys(err, errno, "--ssh %s=%s", id, sock);
	if (!S_ISSOCK(sb.st_mode))
		return berth_error_invalid(err, "--ssh %s=%s: not a socket (an ssh agent's is expected)", id,
		                           sock);
	bool first = true;
	for (size_t i = 0; i < rm->n_env && first; i++)
		first = strncmp(rm->env[i], "SSH_AUTH_SOCK=", 14) != 0;
	cleanup_free char *kv = NULL;
	if (first &&
	    (asprintf(&kv, "SSH_AUTH_SOCK=%s", target) < 0 || build_strv_push(&rm->env, &rm->n_env, kv) < 0))
		return nomem(err);
	return push_mount(rm, target, "bind", sock, "bind,rw", err);
}

/* 3. type=secret */
static int mount_secret(struct builder *b, const struct df_mount *m, const char *cwd, size_t idx,
                        struct oci_hasher *key, struct run_mounts *rm, berth_error_t *err)
{
	cleanup_free char *id = NULL, *target = NULL, *val = NULL, *sec = NULL, *file = NULL;
	size_t len = 0;
	if (m->id != NULL && *m->id)
		id = strdup(m->id);
	else if (m->source != NULL)
		id = strdup(m->source);
	else {
		const char *t = strrchr(m->target, '/');
		id = strdup(t ? t + 1 : m->target);
	}
	if (id == NULL)
		return nomem(err);
	if (m->target != NULL)
		target = abs_target(cwd, m->target);
	else if (m->env == NULL && asprintf(&target, "/run/secrets/%s", id) < 0)
		target = NULL;
	if (target == NULL && (m->target != NULL || m->env == NULL))
		return nomem(err);
	key_add(key, "secret", id);
	key_add(key, "target", target);
	key_add(key, "env", m->env);
	if (secret_value(b, id, &val, &len, err) < 0)
		return -1;
	if (val == NULL) {
		if (m->required)
			return berth_error_invalid(
			    err, "secret `%s`: required, and not given with --secret id=%s", id, id);
		return 0;
	}
	if (m->env != NULL) {
		cleanup_free char *kv = NULL;
		if (asprintf(&kv, "%s=%.*s", m->env, (int)len, val) < 0 ||
		    build_strv_push(&rm->env, &rm->n_env, kv) < 0)
			return nomem(err);
	}
	if (target == NULL)
		return 0;
	/* a tmpfs of the step holds the files: nothing on disk */
	if ((sec = sub_dir(rm, "secrets", err)) == NULL)
		return -1;
	if (!rm->secrets_mounted) {
		if (mkdir(sec, 0700) < 0 ||
		    mount("tmpfs", sec, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700,size=16m") < 0)
			return berth_error_sys(err, errno, "secrets tmpfs `%s`", sec);
		rm->secrets_mounted = true;
	}
	if (asprintf(&file, "%s/%zu", sec, idx) < 0)
		return nomem(err);
	cleanup_close int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || fs_write_all(fd, val, len) < 0 ||
	    fchown(fd, m->uid >= 0 ? (uid_t)m->uid : 0, m->gid >= 0 ? (gid_t)m->gid : 0) < 0 ||
	    fchmod(fd, m->mode >= 0 ? (mode_t)m->mode & 07777 : 0400) < 0)
		return berth_error_sys(err, errno, "secret `%s`", id);
	return push_mount(rm, target, "bind", file, "rbind,ro", err);
}

int run_mounts_prepare(struct builder *b, size_t stage, const struct df_instr *in, const char *cwd,
                       struct oci_hasher *key, struct run_mounts *rm, berth_error_t *err)
{
	memset(rm, 0, sizeof(*rm));
	if (in->n_mounts == 0)
		return 0;
	if (asprintf(&rm->dir, "%s/r%u", b->tmp, ++b->counter) < 0) {
		rm->dir = NULL;
		return nomem(err);
	}
	if (mkdir(rm->dir, 0700) < 0)
		return berth_error_sys(err, errno, "mkdir `%s`", rm->dir);
	for (size_t i = 0; i < in->n_mounts; i++) {
		const struct df_mount *m = &in->mounts[i];
		const char *type = df_mount_type_name(m->type);
		cleanup_free char *target = m->target ? abs_target(cwd, m->target) : NULL;
		int r = 0;
		if (m->target != NULL && target == NULL)
			return nomem(err);
		/* 2. */
		key_add(key, "mount", type);
		if (m->type != DF_MOUNT_SECRET) {
			key_add(key, "target", target);
			key_add(key, "ro", m->readonly ? "1" : "0");
		}
		switch (m->type) {
		case DF_MOUNT_BIND:
			r = mount_bind(b, stage, m, target, i, key, rm, err);
			break;
		case DF_MOUNT_CACHE:
			r = mount_cache(b, stage, m, target, i, key, rm, err);
			break;
		case DF_MOUNT_TMPFS: {
			char opts[64];
			if (m->size > 0)
				snprintf(opts, sizeof(opts), "nosuid,nodev,size=%lld", (long long)m->size);
			else
				snprintf(opts, sizeof(opts), "nosuid,nodev");
			key_add(key, "size", opts);
			r = push_mount(rm, target, "tmpfs", "tmpfs", opts, err);
			break;
		}
		case DF_MOUNT_SECRET:
			r = mount_secret(b, m, cwd, i, key, rm, err);
			break;
		case DF_MOUNT_SSH:
			r = mount_ssh(b, m, cwd, i, key, rm, err);
			break;
		}
		if (r < 0)
			return berth_error_prefix(err, "--mount=type=%s", type);
	}
	return 0;
}

void run_mounts_release(struct run_mounts *rm)
{
	berth_error_t e = NULL;
	for (size_t i = 0; i < rm->n; i++) {
		free(rm->v[i].destination);
		free(rm->v[i].type);
		free(rm->v[i].source);
		free(rm->v[i].options);
	}
	free(rm->v);
	for (size_t i = 0; i < rm->n_locks; i++)
		close(rm->locks[i]);
	free(rm->locks);
	strv_free(rm->env);
	if (rm->secrets_mounted) {
		cleanup_free char *sec = NULL;
		if (asprintf(&sec, "%s/secrets", rm->dir) >= 0)
			fsops_umount(sec);
	}
	if (rm->dir != NULL && fsops_remove(rm->dir, &e) < 0)
		berth_error_free(&e);
	free(rm->dir);
	memset(rm, 0, sizeof(*rm));
}

/* ---- mount points ---- */

static char *prefix_of(char *const *comps, size_t n)
{
	size_t len = 1, off = 0;
	for (size_t i = 0; i < n; i++)
		len += strlen(comps[i]) + 1;
	char *s = calloc(1, len);
	for (size_t i = 0; s != NULL && i < n; i++)
		off += (size_t)snprintf(s + off, len - off, "%s%s", i ? "/" : "", comps[i]);
	return s;
}

int mount_points_record(int root_fd, const char *const *paths, size_t n, struct mount_point **out,
                        berth_error_t *err)
{
	struct mount_point *mp = calloc(n + 1, sizeof(*mp));
	if (mp == NULL)
		return nomem(err);
	*out = mp;
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *p = strdup(paths[i]);
		char *save = NULL;
		size_t nc = 0;
		if (p == NULL)
			return nomem(err);
		for (char *t = strtok_r(p, "/", &save); t; t = strtok_r(NULL, "/", &save))
			if (build_strv_push(&mp[i].comps, &nc, t) < 0)
				return nomem(err);
		mp[i].n_comps = nc;
		if (nc == 0 || (mp[i].anc = calloc(nc, sizeof(struct stat))) == NULL)
			continue;
		for (size_t k = 1; k <= nc; k++) {
			cleanup_free char *pre = prefix_of(mp[i].comps, k);
			struct stat sb;
			if (pre == NULL)
				return nomem(err);
			if (fstatat(root_fd, pre, &sb, AT_SYMLINK_NOFOLLOW) < 0) {
				mp[i].missing = nc - k + 1;
				break;
			}
			if (!S_ISDIR(sb.st_mode))
				break; /* a file or a symlink: nothing of ours below */
			mp[i].anc[k - 1] = sb;
		}
	}
	return 0;
}

void mount_points_clean(const char *upper, struct mount_point *mp, size_t n)
{
	cleanup_close int ufd = open(upper, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (ufd < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		size_t nc = mp[i].n_comps, k = nc;
		if (mp[i].missing == 0)
			continue;
		/* what the runtime made, deepest first, while empty */
		for (; k > nc - mp[i].missing; k--) {
			cleanup_free char *pre = prefix_of(mp[i].comps, k);
			struct stat sb;
			if (pre == NULL || fstatat(ufd, pre, &sb, AT_SYMLINK_NOFOLLOW) < 0)
				break;
			if (S_ISREG(sb.st_mode) && sb.st_size == 0 && k == nc) {
				if (unlinkat(ufd, pre, 0) < 0)
					break;
			} else if (!S_ISDIR(sb.st_mode) || unlinkat(ufd, pre, AT_REMOVEDIR) < 0) {
				break;
			}
		}
		if (k > nc - mp[i].missing)
			continue;
		/* the directories copied up for them, when unchanged and empty */
		for (; k > 0; k--) {
			cleanup_free char *pre = prefix_of(mp[i].comps, k), *full = NULL;
			struct stat sb;
			const struct stat *was = &mp[i].anc[k - 1];
			if (pre == NULL || fstatat(ufd, pre, &sb, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISDIR(sb.st_mode))
				break;
			if (sb.st_mode != was->st_mode || sb.st_uid != was->st_uid ||
			    sb.st_gid != was->st_gid)
				break;
			if (asprintf(&full, "%s/%s", upper, pre) < 0 ||
			    lgetxattr(full, "trusted.overlay.opaque", NULL, 0) >= 0)
				break;
			if (unlinkat(ufd, pre, AT_REMOVEDIR) < 0)
				break;
		}
	}
}

void mount_points_free(struct mount_point *mp, size_t n)
{
	for (size_t i = 0; mp != NULL && i < n; i++) {
		strv_free(mp[i].comps);
		free(mp[i].anc);
	}
	free(mp);
}
