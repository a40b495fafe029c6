/* libberth: the public API of Berth's OCI runtime library.
 *
 * Every entry point takes a context and, last, a `berth_error_t *err`; it
 * returns < 0 on failure and sets *err (free it with berth_error_free).
 * Option structs start with their size so that they can grow without
 * breaking callers built against an older header: set `.size = sizeof(...)`.
 * The library never prints and never exits; warnings go to ctx->log.
 */
#ifndef BERTH_BERTH_H
#define BERTH_BERTH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define BERTH_PUBLIC __attribute__((visibility("default")))

struct berth_error_s;
typedef struct berth_error_s *berth_error_t;

/* Values of berth_error_code(). */
enum {
	BERTH_ERROR_SYSTEM = 1,
	BERTH_ERROR_INVALID,
	BERTH_ERROR_NOT_FOUND,
	BERTH_ERROR_EXISTS,
	BERTH_ERROR_STATE,
	BERTH_ERROR_NOMEM,
	BERTH_ERROR_UNSUPPORTED,
};

BERTH_PUBLIC void berth_error_free(berth_error_t *err);
BERTH_PUBLIC const char *berth_error_message(berth_error_t err);
BERTH_PUBLIC int berth_error_code(berth_error_t err);

enum berth_log_level { BERTH_LOG_ERROR, BERTH_LOG_WARNING, BERTH_LOG_INFO, BERTH_LOG_DEBUG };

struct berth_context {
	size_t size;            /* sizeof(struct berth_context) */
	const char *state_root; /* NULL: /run/berth */
	bool systemd_cgroup;
	bool debug;
	/* Receives warnings and debug lines; may be NULL. */
	void (*log)(void *log_data, enum berth_log_level level, const char *msg);
	void *log_data;
};

struct berth_create_options {
	size_t size; /* sizeof(struct berth_create_options) */
	const char *id;
	const char *bundle;         /* NULL: the current directory */
	const char *pid_file;       /* NULL: none */
	const char *console_socket; /* NULL: none; needed when process.terminal is true (except run) */
	bool no_pivot;
	bool no_new_keyring;
	unsigned int preserve_fds; /* pass fds 3 .. 3+n-1 to the container */
	bool detach;               /* run only: return once the container started */
	/* With use_stdio_fds, the container's stdin, stdout and stderr are these
	 * fds (a supervisor's pipes or fifos) instead of the caller's own. */
	bool use_stdio_fds;
	int stdio_fds[3];
	/* run only: SIGINT, SIGTERM or SIGHUP kill the container (SIGKILL)
	 * and fail the run with "interrupted", instead of being forwarded to
	 * it (a builder cancelling a step whose shell ignores them). */
	bool kill_on_interrupt;
};

/* create: sets up the container and leaves its init waiting for start. */
BERTH_PUBLIC int berth_container_create(const struct berth_context *ctx,
                                        const struct berth_create_options *opts, berth_error_t *err);
/* start: releases a created container's init into the user process. */
BERTH_PUBLIC int berth_container_start(const struct berth_context *ctx, const char *id, berth_error_t *err);
/* run: create + start, then (unless detach) wait, forwarding signals; the
 * container's exit status (128+signal for a signal) is stored in *exit_status. */
BERTH_PUBLIC int berth_container_run(const struct berth_context *ctx, const struct berth_create_options *opts,
                                     int *exit_status, berth_error_t *err);
/* state: the state document as runc prints it (JSON text, caller frees). */
BERTH_PUBLIC int berth_container_state(const struct berth_context *ctx, const char *id, char **json_out,
                                       berth_error_t *err);
BERTH_PUBLIC int berth_container_kill(const struct berth_context *ctx, const char *id, int signal, bool all,
                                      berth_error_t *err);
BERTH_PUBLIC int berth_container_delete(const struct berth_context *ctx, const char *id, bool force,
                                        berth_error_t *err);

struct berth_container_info {
	char *id;
	pid_t pid; /* 0 when stopped */
	char *status;
	char *bundle;
	char *rootfs;
	char *created; /* RFC 3339 */
	char *owner;
};
/* list: every container under the state root, sorted by id. */
BERTH_PUBLIC int berth_container_list(const struct berth_context *ctx, struct berth_container_info **out,
                                      size_t *n_out, berth_error_t *err);
BERTH_PUBLIC void berth_container_info_free(struct berth_container_info *infos, size_t n);

/* Programs that start container processes call one of these first, so that
 * no container process can write their binary through /proc/<pid>/exe.
 * berth_reexec_sealed re-executes the program, with argv, from a sealed
 * in-memory copy of its binary, and returns only on failure (or, at once,
 * 0 when already running from a sealed copy).  berth_seal_exe makes the
 * running process run from such a copy: in place where the process may
 * (CAP_SYS_ADMIN or CAP_CHECKPOINT_RESTORE: no second program start), and
 * returns 0 then; otherwise it re-executes as berth_reexec_sealed does. */
BERTH_PUBLIC int berth_reexec_sealed(char **argv, berth_error_t *err);
BERTH_PUBLIC int berth_seal_exe(char **argv, berth_error_t *err);

/* spec: a default config.json like runc's (rootless: for an unprivileged user). */
BERTH_PUBLIC int berth_spec_generate(bool rootless, char **json_out, berth_error_t *err);
/* Parses "KILL", "SIGKILL", "9" into a signal number. */
BERTH_PUBLIC int berth_signal_parse(const char *name, int *signal_out, berth_error_t *err);

struct berth_exec_options {
	size_t size; /* sizeof(struct berth_exec_options) */
	const char *id;
	/* --process: a process.json; the fields below that describe the
	 * process (args .. process_label) are then ignored. */
	const char *process_file;
	char *const *args; /* the command */
	size_t args_len;
	bool tty;
	const char *console_socket;
	bool detach;
	const char *pid_file;
	char *const *env; /* NAME=value, added to (or replacing in) the container's */
	size_t env_len;
	const char *cwd;
	const char *user; /* "uid[:gid]" */
	const unsigned int *additional_gids;
	size_t additional_gids_len;
	char *const *caps; /* added to the bounding, effective and permitted sets */
	size_t caps_len;
	bool no_new_privs;
	const char *apparmor;
	const char *process_label;
	unsigned int preserve_fds;
	const char *cgroup; /* a sub-cgroup of the container's to join ("path" or "controller:path") */
	bool ignore_paused;
	bool use_stdio_fds; /* as in berth_create_options */
	int stdio_fds[3];
};

/* exec: runs a new process in a created or running container, in every one
 * of its namespaces and its cgroup.  Unless detach, waits for it and stores
 * its exit status (128+signal when killed). */
BERTH_PUBLIC int berth_container_exec(const struct berth_context *ctx, const struct berth_exec_options *opts,
                                      int *exit_status, berth_error_t *err);

/* ---- cgroup-backed commands: pause, resume, ps, update, events, features ---- */

/* pause: freezes every process of a running container (its cgroup's
 * freezer); the container then reads as "paused".  resume: thaws a paused
 * one.  Other states fail with BERTH_ERROR_STATE. */
BERTH_PUBLIC int berth_container_pause(const struct berth_context *ctx, const char *id, berth_error_t *err);
BERTH_PUBLIC int berth_container_resume(const struct berth_context *ctx, const char *id, berth_error_t *err);
/* pids: the (host) pids of every process in the container's cgroup, sorted;
 * the caller frees *pids_out.  A container whose cgroup is gone has none. */
BERTH_PUBLIC int berth_container_pids(const struct berth_context *ctx, const char *id, pid_t **pids_out,
                                      size_t *n_out, berth_error_t *err);

struct berth_update_options {
	size_t size; /* sizeof(struct berth_update_options) */
	const char *id;
	/* A linux.resources JSON object; only the members present change.
	 * Devices are ignored, as runc ignores them.  NULL: none. */
	const char *resources_json;
	const char *resources_origin; /* names the document in errors; NULL: "resources" */
	/* Intel RDT schemata (linux.intelRdt); NULL: unchanged.  Berth has
	 * no Intel RDT support, so setting them fails (BERTH_ERROR_UNSUPPORTED). */
	const char *l3_cache_schema;
	const char *mem_bw_schema;
};

/* update: applies new resources to the container's cgroup, then records
 * them in its stored config (later reads see them). */
BERTH_PUBLIC int berth_container_update(const struct berth_context *ctx,
                                        const struct berth_update_options *opts, berth_error_t *err);
/* stats: the data object of runc's `events --stats` ({"cpu":..,"memory":..,
 * "pids":..,"blkio":..,"hugetlb":..}), JSON text; the caller frees it. */
BERTH_PUBLIC int berth_container_stats(const struct berth_context *ctx, const char *id, char **json_out,
                                       berth_error_t *err);

/* events: a watch on one container, for `berth events`:
 *
 *   berth_events_open(ctx, id, &ev, &err);
 *   while (berth_events_wait(ev, 5000, &type, &err) == 0 && type != BERTH_EVENT_EXIT)
 *           type == BERTH_EVENT_OOM ? report the OOM kill : berth_events_stats(ev, &json, &err);
 *   berth_events_close(ev);
 */
struct berth_events;
enum berth_event_type {
	BERTH_EVENT_TIMEOUT, /* nothing happened within the timeout */
	BERTH_EVENT_OOM,     /* a process of the container was killed by the OOM killer */
	BERTH_EVENT_EXIT,    /* the container's init exited: no more events */
};
/* Fails unless the container is created, running or paused.  Without a
 * memory controller there are no OOM events (a warning goes to ctx->log). */
BERTH_PUBLIC int berth_events_open(const struct berth_context *ctx, const char *id, struct berth_events **out,
                                   berth_error_t *err);
/* Waits up to timeout_ms (< 0: forever) for the next event. */
BERTH_PUBLIC int berth_events_wait(struct berth_events *ev, int timeout_ms, enum berth_event_type *type_out,
                                   berth_error_t *err);
/* As berth_container_stats, for the watched container. */
BERTH_PUBLIC int berth_events_stats(struct berth_events *ev, char **json_out, berth_error_t *err);
BERTH_PUBLIC void berth_events_close(struct berth_events *ev);
/* For a caller's own poll loop: the fd that becomes readable on a possible
 * OOM kill (-1 without a memory controller).  When it is readable,
 * berth_events_wait(ev, 0, ...) tells an OOM kill (BERTH_EVENT_OOM, once
 * per kill) from a spurious wake-up. */
BERTH_PUBLIC int berth_events_oom_fd(const struct berth_events *ev);

/* features: the runtime-spec features document (JSON text, pretty; the
 * caller frees it), built from the tables the runtime itself uses. */
BERTH_PUBLIC int berth_features_json(char **json_out, berth_error_t *err);

/* "1024", "100k", "100m", "1.5g", "1GiB", "-1" (unlimited) -> bytes, as runc
 * reads its memory flags (binary multiples). */
BERTH_PUBLIC int berth_size_parse(const char *text, long long *bytes_out, berth_error_t *err);
/* "5s", "500ms", "1m30s", "1h" (Go's time.ParseDuration) -> nanoseconds. */
BERTH_PUBLIC int berth_duration_parse(const char *text, long long *ns_out, berth_error_t *err);

struct berth_unpack_options {
	size_t size;                             /* sizeof(struct berth_unpack_options) */
	const char *layout;                      /* an OCI image layout directory, or */
	const char *archive;                     /* an OCI archive or a `docker save` archive */
	const char *ref;                         /* a tag or a digest; NULL: the only image */
	const char *os, *architecture, *variant; /* the platform; NULL: this host's */
	const char *bundle;                      /* made by unpack: it must not exist */
	/* Overrides of the image's Entrypoint and Cmd (as `docker run`). */
	bool entrypoint_set;
	char *const *entrypoint;
	size_t entrypoint_len;
	char *const *args;
	size_t args_len;
	bool terminal; /* process.terminal of the config written */
};

/* unpack: the image's layers, verified and applied with whiteouts, into
 * <bundle>/rootfs, and a config.json made from the image config (Entrypoint
 * + Cmd, Env, WorkingDir, User resolved in the rootfs, labels and the rest
 * as annotations) on berth's default spec. */
BERTH_PUBLIC int berth_image_unpack(const struct berth_unpack_options *opts, berth_error_t *err);

#endif
