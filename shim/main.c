/* containerd-shim-berth-v2: a containerd runtime v2 shim over libberth.
 *
 * | action | who runs it                 | does                                                    |
 * |--------|-----------------------------|---------------------------------------------------------|
 * | start  | containerd, cwd = bundle    | prints only `unix://<socket>`, writes <bundle>/address,  |
 * |        |                             | exits 0; the socket is the group's (below): when its    |
 * |        |                             | server answers, it is reused, else start listens on it  |
 * |        |                             | and forks a new server                                  |
 * | delete | containerd after every task | force-deletes the container, unmounts the rootfs,       |
 * |        |                             | prints a DeleteResponse; idempotent                     |
 * | serve  | start's child (internal)    | the server: sealed re-exec, subreaper, event loop       |
 *
 * Grouping (as the runc shim): containers whose config.json carries the same
 * io.containerd.runc.v2.group or, failing that, io.kubernetes.cri.sandbox-id
 * annotation share one server (one per pod under CRI); the others get one
 * each.  The server logs to the first container's <bundle>/log, and when
 * that container goes, to another one's (service.c).
 *
 * Flags come first, Go style (-flag value, --flag, -flag=value): -namespace,
 * -address, -publish-binary, -id, -bundle, -debug, -socket, -v; unknown ones
 * are ignored.  The server gets the listening socket as fd 3 and its stderr
 * is <bundle>/log, the fifo containerd copies into its own log.
 */
#include "shim.h"
#include "introspection.pb-c.h"
#include "task.pb-c.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define SOCKET_DIR "/run/containerd/s"
#define LISTEN_FD  3

struct args {
	const char *ns, *address, *publish_binary, *id, *bundle, *socket;
	const char *socket_dir; /* SOCKET_DIR, or containerd 2.3's socket_dir */
	bool debug, version, info;
	const char *action;
};

static bool is_action(const char *a)
{
	return strcmp(a, "start") == 0 || strcmp(a, "delete") == 0 || strcmp(a, "serve") == 0;
}

static void parse_args(int argc, char **argv, struct args *a)
{
	static const struct {
		const char *name;
		size_t off;
	} strings[] = {
	    {"namespace", offsetof(struct args, ns)},
	    {"address", offsetof(struct args, address)},
	    {"publish-binary", offsetof(struct args, publish_binary)},
	    {"id", offsetof(struct args, id)},
	    {"bundle", offsetof(struct args, bundle)},
	    {"socket", offsetof(struct args, socket)},
	};

	for (int i = 1; i < argc; i++) {
		char *arg = argv[i], *eq;
		bool known = false;
		size_t len;

		if (arg[0] != '-') {
			a->action = arg;
			return;
		}
		arg += arg[1] == '-' ? 2 : 1;
		eq = strchr(arg, '=');
		len = eq != NULL ? (size_t)(eq - arg) : strlen(arg);
		for (size_t j = 0; j < sizeof(strings) / sizeof(strings[0]); j++) {
			if (strlen(strings[j].name) != len || strncmp(arg, strings[j].name, len) != 0)
				continue;
			const char *value = eq != NULL ? eq + 1 : (i + 1 < argc ? argv[++i] : "");
			*(const char **)((char *)a + strings[j].off) = value;
			known = true;
		}
		if (known)
			continue;
		if (strncmp(arg, "debug", len) == 0 && len == 5)
			a->debug = eq == NULL || strcmp(eq + 1, "false") != 0;
		else if ((len == 1 && arg[0] == 'v') || (len == 7 && strncmp(arg, "version", 7) == 0))
			a->version = true;
		else if (len == 4 && strncmp(arg, "info", 4) == 0)
			a->info = true;
		else if (eq == NULL && i + 1 < argc && argv[i + 1][0] != '-' && !is_action(argv[i + 1]))
			i++; /* an unknown flag's value */
	}
}

/* ---- start ---- */

/* The group a container's shim serves, as the runc shim groups: the
 * annotation io.containerd.runc.v2.group, else the CRI sandbox id (set on
 * the pause container, with its own id, and on every container of the pod),
 * else the container alone.  The caller frees the result. */
static char *group_for(const char *id)
{
	static const char *const keys[] = {"io.containerd.runc.v2.group", "io.kubernetes.cri.sandbox-id"};
	struct json_object *spec = json_object_from_file("config.json"), *annotations = NULL, *v;
	char *group = NULL;

	if (spec != NULL && json_object_object_get_ex(spec, "annotations", &annotations))
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]) && group == NULL; i++)
			if (json_object_object_get_ex(annotations, keys[i], &v) &&
			    json_object_is_type(v, json_type_string) && json_object_get_string_len(v) > 0)
				group = strdup(json_object_get_string(v));
	json_object_put(spec);
	return group != NULL ? group : strdup(id);
}

/* <SOCKET_DIR>/<hash of "address/ns/group">: short, and two containerds apart. */
static void socket_path_for(const struct args *a, const char *group, char *out, size_t size)
{
	uint64_t h1 = 0xcbf29ce484222325ULL, h2 = 0x84222325cbf29ce4ULL;
	const char *parts[] = {a->address, "/", a->ns, "/", group};

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		for (const unsigned char *p = (const unsigned char *)parts[i]; *p; p++) {
			h1 = (h1 ^ *p) * 0x100000001b3ULL;
			h2 = (h2 ^ *p) * 0x100000001b3ULL + (h2 >> 29);
		}
	snprintf(out, size, "%s/%016llx%016llx", a->socket_dir, (unsigned long long)h1,
	         (unsigned long long)h2);
}

static int socket_alive(const struct sockaddr_un *addr)
{
	cleanup_close int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return fd >= 0 && connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) == 0;
}

static int listen_on(const char *path, berth_error_t *err)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	cleanup_close int fd = -1;

	if (strlen(path) >= sizeof(addr.sun_path) - 2)
		return berth_error_invalid(err, "socket path `%s` is too long", path);
	memcpy(addr.sun_path, path, strlen(path));
	if (socket_alive(&addr))
		return berth_error_set(err, BERTH_ERROR_EXISTS, 0, "a shim already listens on `%s`", path);
	unlink(path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return berth_error_sys(err, errno, "socket");
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || chmod(path, 0600) < 0 ||
	    listen(fd, 128) < 0)
		return berth_error_sys(err, errno, "listen on `%s`", path);
	return steal_fd(&fd);
}

/* Everything on stdin (containerd closes it; at most 1 MiB is kept). */
static uint8_t *read_stdin(size_t *len)
{
	size_t cap = 4096;
	uint8_t *buf = malloc(cap);
	ssize_t n;

	*len = 0;
	if (buf == NULL)
		return NULL;
	while ((n = read(STDIN_FILENO, buf + *len, cap - *len)) > 0 || (n < 0 && errno == EINTR)) {
		if (n > 0)
			*len += (size_t)n;
		if (*len == cap && cap < (1u << 20)) {
			uint8_t *more = realloc(buf, cap * 2);
			if (more == NULL)
				break;
			buf = more;
			cap *= 2;
		} else if (*len == cap) {
			*len = 0; /* too much: not ours to read, drop it */
		}
	}
	return buf;
}

/* containerd 2.3+ writes BootstrapParams on start's stdin instead of the
 * bare options Any.  Fields 1-2 have an Any's wire types, so it is one only
 * when a field from 3 on is there.  What it says that the flags do not:
 * socket_dir, the log level, the addresses when the flags or the
 * environment lack them, and the options (an extension).  Strings are
 * leaked (the process is short-lived).  Returns 1 when stdin was
 * BootstrapParams (its options in *opts), 0 when not, -1 on bad options. */
static int apply_bootstrap(struct args *a, const uint8_t *in, size_t len, struct shim_options *opts,
                           berth_error_t *err)
{
	Containerd__Types__BootstrapParams *bp = containerd__types__bootstrap_params__unpack(NULL, len, in);
	int ret = 1;

	if (bp == NULL)
		return 0;
	if (bp->log_level == 0 && *bp->containerd_version == '\0' && *bp->containerd_ttrpc_address == '\0' &&
	    *bp->containerd_grpc_address == '\0' && *bp->containerd_binary == '\0' && bp->n_extensions == 0 &&
	    *bp->socket_dir == '\0') {
		containerd__types__bootstrap_params__free_unpacked(bp, NULL);
		return 0;
	}
	if (*bp->socket_dir != '\0')
		a->socket_dir = strdup(bp->socket_dir);
	if (bp->log_level < 0) /* DEBUG, TRACE */
		a->debug = true;
	if (a->id == NULL && *bp->instance_id != '\0')
		a->id = strdup(bp->instance_id);
	if (a->ns == NULL && *bp->namespace_ != '\0')
		a->ns = strdup(bp->namespace_);
	if (a->address == NULL && *bp->containerd_grpc_address != '\0')
		a->address = strdup(bp->containerd_grpc_address);
	if (a->publish_binary == NULL && *bp->containerd_binary != '\0')
		a->publish_binary = strdup(bp->containerd_binary);
	if (getenv("TTRPC_ADDRESS") == NULL && *bp->containerd_ttrpc_address != '\0')
		setenv("TTRPC_ADDRESS", bp->containerd_ttrpc_address, 1);
	/* the options are the first extension (containerd sends no other) */
	if (bp->n_extensions > 0 && bp->extensions[0]->value != NULL &&
	    options_parse(bp->extensions[0]->value, opts, err) < 0)
		ret = -1;
	containerd__types__bootstrap_params__free_unpacked(bp, NULL);
	return ret;
}

/* Undoes mountinfo's octal escapes (\040 for a space) in place. */
static void mountinfo_unescape(char *s)
{
	char *out = s;
	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' && s[3] >= '0' &&
		    s[3] <= '7') {
			*out++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*out++ = *s;
		}
	}
	*out = '\0';
}

/* Options ShimCgroup: this process (and so the server it forks) joins the
 * cgroup `path` in every hierarchy where it exists, as the runc shim does;
 * the cgroup is the caller's to create.  None at all is an error. */
static int join_shim_cgroup(const char *path, berth_error_t *err)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	cleanup_free char *line = NULL;
	size_t cap = 0;
	int joined = 0;

	if (f == NULL)
		return berth_error_sys(err, errno, "shim cgroup `%s`: /proc/self/mountinfo", path);
	while (getline(&line, &cap, f) > 0) {
		char mnt[PATH_MAX], fstype[32], *sep = strstr(line, " - ");
		cleanup_free char *dir = NULL;
		cleanup_close int fd = -1;
		struct stat st;

		/* 5th field: the mount point; after " - ": the file system type */
		if (sep == NULL || sscanf(line, "%*s %*s %*s %*s %4095s", mnt) != 1 ||
		    sscanf(sep + 3, "%31s", fstype) != 1 ||
		    (strcmp(fstype, "cgroup") != 0 && strcmp(fstype, "cgroup2") != 0))
			continue;
		mountinfo_unescape(mnt);
		if (asprintf(&dir, "%s/%s", mnt, path + (*path == '/')) < 0)
			return berth_error_sys(err, ENOMEM, "shim cgroup");
		if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode))
			continue;
		free(dir);
		dir = NULL;
		if (asprintf(&dir, "%s/%s/cgroup.procs", mnt, path + (*path == '/')) < 0)
			return berth_error_sys(err, ENOMEM, "shim cgroup");
		fd = open(dir, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, "0", 1) != 1)
			return berth_error_sys(err, errno, "shim cgroup: join `%s`", dir);
		joined++;
	}
	if (joined == 0)
		return berth_error_set(err, BERTH_ERROR_NOT_FOUND, 0, "shim cgroup `%s`: no such cgroup",
		                       path);
	return 0;
}

/* The server's side of the fork: new session, stdio away from containerd's
 * pipes, and a re-exec from a sealed copy of the binary. */
__attribute__((noreturn)) static void become_server(const struct args *a, const char *bundle,
                                                    const char *path, int listen_fd, char *argv0)
{
	berth_error_t err = NULL;
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int log = open("log", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
	char *args[] = {argv0,
	                (char *)"-namespace",
	                (char *)a->ns,
	                (char *)"-id",
	                (char *)a->id,
	                (char *)"-address",
	                (char *)a->address,
	                (char *)"-publish-binary",
	                (char *)(a->publish_binary != NULL ? a->publish_binary : ""),
	                (char *)"-bundle",
	                (char *)bundle,
	                (char *)"-socket",
	                (char *)path,
	                (char *)(a->debug ? "-debug" : "-debug=false"),
	                (char *)"serve",
	                NULL};

	setsid();
	dup2(null, STDIN_FILENO);
	dup2(null, STDOUT_FILENO);
	dup2(log >= 0 ? log : null, STDERR_FILENO);
	if (listen_fd == LISTEN_FD) /* dup2 onto itself would keep FD_CLOEXEC */
		fcntl(LISTEN_FD, F_SETFD, 0);
	else
		dup2(listen_fd, LISTEN_FD);
	berth_reexec_sealed(args, &err);
	shim_log(LOG_ERR, "start the server: %s", berth_error_message(err));
	_exit(1);
}

static int cmd_start(struct args *a, char *argv0)
{
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)], address[160], cwd[PATH_MAX];
	const char *bundle = a->bundle;
	cleanup_free char *group = NULL;
	cleanup_close int dir_fd = -1;
	berth_error_t err = NULL;
	int fd, n;
	pid_t pid;

	cleanup_free uint8_t *in = NULL;
	size_t in_len = 0;
	struct shim_options opts = {0};

	/* the options Any (Create brings it again), or containerd 2.3's
	 * BootstrapParams with the options inside; start needs only ShimCgroup */
	in = read_stdin(&in_len);
	if (in != NULL && in_len > 0) {
		n = apply_bootstrap(a, in, in_len, &opts, &err);
		if (n == 0)
			n = options_parse_bytes(in, in_len, &opts, &err);
		if (n < 0)
			goto fail;
	}
	if (bundle == NULL || *bundle == '\0')
		bundle = getcwd(cwd, sizeof(cwd));
	if (bundle == NULL || a->id == NULL || a->ns == NULL || a->address == NULL) {
		fprintf(stderr, "start: -namespace, -address and -id are required\n");
		return 1;
	}
	group = group_for(a->id);
	if (group == NULL) {
		berth_error_sys(&err, ENOMEM, "start");
		goto fail;
	}
	socket_path_for(a, group, path, sizeof(path));
	n = snprintf(address, sizeof(address), "unix://%s", path);
	if (fs_mkdir_p(a->socket_dir, 0700, &err) < 0)
		goto fail;
	/* Starts of one group take turns: one of them starts the server, the
	 * others find it listening.  The lock goes with the fd (close-on-exec
	 * in the server). */
	dir_fd = open(a->socket_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir_fd < 0 || flock(dir_fd, LOCK_EX) < 0) {
		berth_error_sys(&err, errno, "lock `%s`", a->socket_dir);
		goto fail;
	}
	fd = listen_on(path, &err);
	if (fd < 0 && berth_error_code(err) != BERTH_ERROR_EXISTS)
		goto fail;
	/* a new server starts in Options.ShimCgroup: this process joins it */
	if (fd >= 0 && opts.shim_cgroup != NULL && join_shim_cgroup(opts.shim_cgroup, &err) < 0) {
		close(fd);
		unlink(path);
		goto fail;
	}
	/* containerd reads it only when it reconnects after a restart */
	if (fs_write_file_atomic_at(AT_FDCWD, "address", address, (size_t)n, 0644, &err) < 0)
		goto fail;
	if (fd >= 0) { /* else the server for this task is already there */
		pid = fork();
		if (pid < 0) {
			berth_error_sys(&err, errno, "fork");
			goto fail;
		}
		if (pid == 0)
			become_server(a, bundle, path, fd, argv0);
		close(fd);
	} else {
		berth_error_free(&err);
	}
	options_free(&opts);
	fputs(address, stdout);
	return fflush(stdout) == 0 ? 0 : 1;
fail:
	options_free(&opts);
	fprintf(stderr, "containerd-shim-berth-v2 start: %s\n", berth_error_message(err));
	berth_error_free(&err);
	return 1;
}

/* ---- info ---- */

/* -info (containerd 2.x, for containers with idmapped mounts): the options
 * Any on stdin; prints containerd.types.RuntimeInfo with those options and
 * the runtime-spec features document, as the runc shim does. */
static int cmd_info(void)
{
	Containerd__Types__RuntimeInfo info = CONTAINERD__TYPES__RUNTIME_INFO__INIT;
	Containerd__Types__RuntimeVersion version = CONTAINERD__TYPES__RUNTIME_VERSION__INIT;
	Google__Protobuf__Any features = GOOGLE__PROTOBUF__ANY__INIT;
	Google__Protobuf__Any *options = NULL;
	cleanup_free uint8_t *in = NULL, *out = NULL;
	cleanup_free char *json = NULL;
	berth_error_t err = NULL;
	size_t in_len = 0, len;
	int ret = 1;

	in = read_stdin(&in_len);
	if (in != NULL && in_len > 0)
		options = google__protobuf__any__unpack(NULL, in_len, in);
	if (berth_features_json(&json, &err) < 0) {
		fprintf(stderr, "containerd-shim-berth-v2 -info: %s\n", berth_error_message(err));
		berth_error_free(&err);
		goto out;
	}
	info.name = (char *)"io.containerd.berth.v2";
	version.version = (char *)PACKAGE_VERSION;
	info.version = &version;
	info.options = options;
	features.type_url = (char *)"types.containerd.io/opencontainers/runtime-spec/1/features/Features";
	features.value.data = (uint8_t *)json;
	features.value.len = strlen(json);
	info.features = &features;
	if (ttrpc_pack(&info.base, &out, &len) == 0 && fs_write_all(STDOUT_FILENO, out, len) == 0)
		ret = 0;
out:
	if (options != NULL)
		google__protobuf__any__free_unpacked(options, NULL);
	return ret;
}

/* ---- delete ---- */

static int cmd_delete(const struct args *a)
{
	Containerd__Task__V2__DeleteResponse resp = CONTAINERD__TASK__V2__DELETE_RESPONSE__INIT;
	Google__Protobuf__Timestamp now = GOOGLE__PROTOBUF__TIMESTAMP__INIT;
	cleanup_free char *root = NULL, *rootfs = NULL;
	cleanup_free uint8_t *out = NULL;
	const char *bundle = a->bundle;
	char cwd[PATH_MAX];
	berth_error_t err = NULL;
	struct timespec ts;
	size_t len;

	if (bundle == NULL || *bundle == '\0')
		bundle = getcwd(cwd, sizeof(cwd));
	if (bundle == NULL || a->id == NULL) {
		fprintf(stderr, "delete: -id and a bundle are required\n");
		return 1;
	}
	/* 1. the container, if Create got that far */
	if (fs_read_file_at(AT_FDCWD, "berth-root", &root, &len, &err) == 0) {
		struct berth_context ctx = {.size = sizeof(ctx), .state_root = root};
		if (berth_container_delete(&ctx, a->id, true, &err) < 0 &&
		    berth_error_code(err) != BERTH_ERROR_NOT_FOUND)
			fprintf(stderr, "%s\n", berth_error_message(err));
	}
	berth_error_free(&err);
	/* 2. the rootfs (stacked mounts one by one) */
	if (asprintf(&rootfs, "%s/rootfs", bundle) < 0)
		return 1;
	for (int i = 0; i < 16 && umount2(rootfs, 0) == 0; i++)
		;
	if (errno == EBUSY)
		umount2(rootfs, MNT_DETACH);
	/* 3. what containerd reports as the exit: killed, now */
	clock_gettime(CLOCK_REALTIME, &ts);
	now.seconds = ts.tv_sec;
	now.nanos = (int32_t)ts.tv_nsec;
	resp.exit_status = 128 + SIGKILL;
	resp.exited_at = &now;
	if (ttrpc_pack(&resp.base, &out, &len) < 0 || fs_write_all(STDOUT_FILENO, out, len) < 0)
		return 1;
	return 0;
}

/* ---- serve ---- */

/* containerd's oom_score_adj + 1: the shim goes before containerd, after
 * the containers. */
static void raise_oom_score(void)
{
	char buf[32] = "";
	cleanup_close int fd = open("/proc/self/oom_score_adj", O_RDWR | O_CLOEXEC);
	int v, n;

	if (fd < 0 || read(fd, buf, sizeof(buf) - 1) <= 0)
		return;
	v = atoi(buf);
	if (v >= 1000)
		return;
	n = snprintf(buf, sizeof(buf), "%d", v + 1);
	(void)!pwrite(fd, buf, (size_t)n, 0);
}

static int cmd_serve(const struct args *a, char **argv)
{
	struct shim s = {0};
	berth_error_t err = NULL;
	int ret;

	if (berth_reexec_sealed(argv, &err) < 0) {
		shim_log(LOG_ERR, "%s", berth_error_message(err));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_NAME, "berth-shim");
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	raise_oom_score();
	fcntl(STDERR_FILENO, F_SETFL, fcntl(STDERR_FILENO, F_GETFL) | O_NONBLOCK);
	fcntl(LISTEN_FD, F_SETFD, FD_CLOEXEC);
	fcntl(LISTEN_FD, F_SETFL, fcntl(LISTEN_FD, F_GETFL) | O_NONBLOCK);
	s.ns = a->ns;
	s.id = a->id;
	s.address = a->address;
	s.publish_binary = a->publish_binary;
	s.bundle = a->bundle;
	s.socket_path = a->socket;
	s.debug = a->debug;
	s.ttrpc_address = getenv("TTRPC_ADDRESS");
	s.listen_fd = LISTEN_FD;
	s.pub.fd = -1;
	shim_log(LOG_INFO, "serving %s/%s on %s (pid %d)", s.ns, s.id, s.socket_path, (int)getpid());
	ret = shim_serve(&s);
	if (ret < 0)
		shim_log(LOG_ERR, "event loop: %s", strerror(errno));
	if (ret < 0)
		unlink(s.socket_path);
	return ret < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct args a = {.socket_dir = SOCKET_DIR};

	parse_args(argc, argv, &a);
	shim_log_set_debug(a.debug);
	if (a.version) {
		printf("containerd-shim-berth-v2:\n  Version:  %s\n  Runtime:  libberth (linked)\n",
		       PACKAGE_VERSION);
		return 0;
	}
	if (a.info)
		return cmd_info();
	if (a.action == NULL) {
		fprintf(stderr, "usage: containerd-shim-berth-v2 [flags] start|delete\n");
		return 1;
	}
	if (strcmp(a.action, "start") == 0)
		return cmd_start(&a, argv[0]);
	if (strcmp(a.action, "delete") == 0)
		return cmd_delete(&a);
	if (strcmp(a.action, "serve") == 0 && a.ns != NULL && a.id != NULL && a.socket != NULL)
		return cmd_serve(&a, argv);
	fprintf(stderr, "containerd-shim-berth-v2: unknown action `%s`\n", a.action);
	return 1;
}
