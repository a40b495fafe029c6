/* seccomp: .linux.seccomp compiled with libseccomp; see seccomp.h.
 *
 * build, as a list of steps:
 *   1. the default action (with defaultErrnoRet) and a context for it
 *   2. context attributes: no NNP on load, raw errnos, then the flags
 *   3. architectures
 *   4. listenerPath against the NOTIFY rules
 *   5. the rules: per syscall entry, per name, with its conditions
 */
#include "seccomp.h"
#include "util/cleanup.h"
#include "util/socket.h"
#include "sync.h"

#include <errno.h>
#include <json-c/json.h>
#include <linux/seccomp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#define ORIGIN "config.json: .linux.seccomp"
/* The version of the runtime-spec whose containerProcessState we send. */
#define PROCESS_STATE_VERSION "1.0.2"
#define MAX_ARGS              6

#ifndef SECCOMP_FILTER_FLAG_TSYNC
#define SECCOMP_FILTER_FLAG_TSYNC (1UL << 0)
#endif
#ifndef SECCOMP_FILTER_FLAG_LOG
#define SECCOMP_FILTER_FLAG_LOG (1UL << 1)
#endif
#ifndef SECCOMP_FILTER_FLAG_SPEC_ALLOW
#define SECCOMP_FILTER_FLAG_SPEC_ALLOW (1UL << 2)
#endif
#ifndef SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV
#define SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV (1UL << 5)
#endif
#if SCMP_VER_MAJOR > 2 || (SCMP_VER_MAJOR == 2 && SCMP_VER_MINOR >= 6)
#define HAVE_SCMP_WAITKILL 1
#endif

struct seccomp_filter {
	scmp_filter_ctx ctx;
	bool has_notify;
};

/* ---- tables: what build accepts, and what features lists ---- */

enum action_kind {
	ACT_PLAIN,      /* the value as is */
	ACT_WITH_ERRNO, /* ERRNO / TRACE: the value takes errnoRet */
};

struct action_def {
	const char *name;
	uint32_t value; /* for ACT_WITH_ERRNO: the value with a return code of 0 */
	enum action_kind kind;
};

/* Sorted by name (features prints them in this order). */
static const struct action_def actions[] = {
    {"SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, ACT_PLAIN},
    {"SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), ACT_WITH_ERRNO},
    {"SCMP_ACT_KILL", SCMP_ACT_KILL_THREAD, ACT_PLAIN},
    {"SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, ACT_PLAIN},
    {"SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, ACT_PLAIN},
    {"SCMP_ACT_LOG", SCMP_ACT_LOG, ACT_PLAIN},
    {"SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, ACT_PLAIN},
    {"SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), ACT_WITH_ERRNO},
    {"SCMP_ACT_TRAP", SCMP_ACT_TRAP, ACT_PLAIN},
};
#define N_ACTIONS (sizeof(actions) / sizeof(actions[0]))
static const char *const action_names[] = {
    "SCMP_ACT_ALLOW", "SCMP_ACT_ERRNO",  "SCMP_ACT_KILL",  "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_LOG",   "SCMP_ACT_NOTIFY", "SCMP_ACT_TRACE", "SCMP_ACT_TRAP",         NULL,
};
_Static_assert(sizeof(action_names) / sizeof(action_names[0]) == N_ACTIONS + 1, "one name per action");

struct operator_def {
	const char *name;
	enum oci_seccomp_op oci;
	enum scmp_compare scmp;
};

static const struct operator_def operators[] = {
    {"SCMP_CMP_EQ", OCI_SCMP_CMP_EQ, SCMP_CMP_EQ},
    {"SCMP_CMP_GE", OCI_SCMP_CMP_GE, SCMP_CMP_GE},
    {"SCMP_CMP_GT", OCI_SCMP_CMP_GT, SCMP_CMP_GT},
    {"SCMP_CMP_LE", OCI_SCMP_CMP_LE, SCMP_CMP_LE},
    {"SCMP_CMP_LT", OCI_SCMP_CMP_LT, SCMP_CMP_LT},
    {"SCMP_CMP_MASKED_EQ", OCI_SCMP_CMP_MASKED_EQ, SCMP_CMP_MASKED_EQ},
    {"SCMP_CMP_NE", OCI_SCMP_CMP_NE, SCMP_CMP_NE},
};
#define N_OPERATORS (sizeof(operators) / sizeof(operators[0]))
static const char *const operator_names[] = {
    "SCMP_CMP_EQ", "SCMP_CMP_GE",        "SCMP_CMP_GT", "SCMP_CMP_LE",
    "SCMP_CMP_LT", "SCMP_CMP_MASKED_EQ", "SCMP_CMP_NE", NULL,
};
_Static_assert(sizeof(operator_names) / sizeof(operator_names[0]) == N_OPERATORS + 1,
               "one name per operator");

struct arch_def {
	const char *name;
	uint32_t token;
};

#define ARCH(x)                                                                                              \
	{                                                                                                    \
		"SCMP_ARCH_" #x, SCMP_ARCH_##x                                                               \
	}
static const struct arch_def archs[] = {
    ARCH(AARCH64),     ARCH(ARM),
#ifdef SCMP_ARCH_LOONGARCH64
    ARCH(LOONGARCH64),
#endif
#ifdef SCMP_ARCH_M68K
    ARCH(M68K),
#endif
    ARCH(MIPS),        ARCH(MIPS64),  ARCH(MIPS64N32), ARCH(MIPSEL), ARCH(MIPSEL64),
    ARCH(MIPSEL64N32), ARCH(PARISC),  ARCH(PARISC64),  ARCH(PPC),    ARCH(PPC64),
    ARCH(PPC64LE),     ARCH(RISCV64), ARCH(S390),      ARCH(S390X),
#ifdef SCMP_ARCH_SH
    ARCH(SH),          ARCH(SHEB),
#endif
    ARCH(X32),         ARCH(X86),     ARCH(X86_64),
};
#undef ARCH
#define N_ARCHS (sizeof(archs) / sizeof(archs[0]))

struct flag_def {
	const char *name;
	unsigned long kernel_flag;  /* for the kernel probe */
	enum scmp_filter_attr attr; /* the libseccomp attribute that sets it */
	unsigned int api_level;     /* the libseccomp API level it needs */
};

static const struct flag_def flags[] = {
    {"SECCOMP_FILTER_FLAG_LOG", SECCOMP_FILTER_FLAG_LOG, SCMP_FLTATR_CTL_LOG, 3},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SECCOMP_FILTER_FLAG_SPEC_ALLOW, SCMP_FLTATR_CTL_SSB, 4},
    {"SECCOMP_FILTER_FLAG_TSYNC", SECCOMP_FILTER_FLAG_TSYNC, SCMP_FLTATR_CTL_TSYNC, 2},
#ifdef HAVE_SCMP_WAITKILL
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV,
     SCMP_FLTATR_CTL_WAITKILL, 7},
#endif
};
#define N_FLAGS (sizeof(flags) / sizeof(flags[0]))
/* Flags of the runtime-spec this build cannot apply: an error that says why. */
static const char *const flags_needing_newer_libseccomp[] = {
#ifndef HAVE_SCMP_WAITKILL
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
#endif
    NULL,
};

static const char *arch_names[N_ARCHS + 1];
static const char *flag_names[N_FLAGS + 1];
static const char *supported_flag_names[N_FLAGS + 1];
static bool supported_probed;

/* ---- lookups ---- */

static const struct action_def *find_action(const char *name)
{
	for (size_t i = 0; i < N_ACTIONS; i++)
		if (strcmp(actions[i].name, name) == 0)
			return &actions[i];
	return NULL;
}

static const struct operator_def *find_operator(enum oci_seccomp_op op)
{
	for (size_t i = 0; i < N_OPERATORS; i++)
		if (operators[i].oci == op)
			return &operators[i];
	return NULL;
}

static const struct arch_def *find_arch(const char *name)
{
	for (size_t i = 0; i < N_ARCHS; i++)
		if (strcmp(archs[i].name, name) == 0)
			return &archs[i];
	return NULL;
}

static const struct flag_def *find_flag(const char *name)
{
	for (size_t i = 0; i < N_FLAGS; i++)
		if (strcmp(flags[i].name, name) == 0)
			return &flags[i];
	return NULL;
}

/* The action `name` with its errnoRet; `path` names it in errors
 * ("defaultAction", "syscalls[3].action"). */
static int resolve_action(const char *name, const struct oci_opt_u32 *errno_ret, const char *path,
                          uint32_t *out, bool *is_notify, berth_error_t *err)
{
	const struct action_def *a;

	if (name == NULL)
		return berth_error_invalid(err, ORIGIN ".%s: missing action", path);
	a = find_action(name);
	if (a == NULL)
		return berth_error_invalid(err, ORIGIN ".%s: unknown action `%s`", path, name);
	*out = a->value;
	if (a->kind == ACT_WITH_ERRNO) {
		uint32_t ret = errno_ret->set ? errno_ret->value : EPERM;
		if (ret > 0xffff)
			return berth_error_invalid(err, ORIGIN ".%s: errnoRet %u out of range", path, ret);
		*out = a->value | ret;
	}
	*is_notify = a->value == SCMP_ACT_NOTIFY;
	return 0;
}

/* ---- build ---- */

static int set_attr(struct seccomp_filter *f, enum scmp_filter_attr attr, uint32_t value, const char *what,
                    berth_error_t *err)
{
	int r = seccomp_attr_set(f->ctx, attr, value);
	if (r < 0)
		return berth_error_sys(err, -r, "seccomp: set %s", what);
	return 0;
}

/* 2. */
static int apply_flags(struct seccomp_filter *f, const struct oci_seccomp *spec, berth_error_t *err)
{
	const struct scmp_version *v = seccomp_version();
	unsigned int api = seccomp_api_get();

	/* The caller decides about no_new_privs (see seccomp.h). */
	if (set_attr(f, SCMP_FLTATR_CTL_NNP, 0, "no_new_privs off", err) < 0)
		return -1;
	/* Real errnos from seccomp_load instead of libseccomp's -ECANCELED. */
	if (api >= 1)
		seccomp_attr_set(f->ctx, SCMP_FLTATR_API_SYSRAWRC, 1);

	for (size_t i = 0; i < spec->flags_len; i++) {
		const char *name = spec->flags[i];
		const struct flag_def *fl = find_flag(name);

		if (fl == NULL) {
			for (const char *const *p = flags_needing_newer_libseccomp; *p != NULL; p++)
				if (strcmp(*p, name) == 0)
					return berth_error_set(err, BERTH_ERR_UNSUPPORTED, 0,
					                       ORIGIN
					                       ".flags[%zu]: flag `%s` needs libseccomp "
					                       ">= 2.6 (built with %u.%u.%u)",
					                       i, name, v->major, v->minor, v->micro);
			return berth_error_invalid(err, ORIGIN ".flags[%zu]: unknown flag `%s`", i, name);
		}
		if (api < fl->api_level)
			return berth_error_set(err, BERTH_ERR_UNSUPPORTED, 0,
			                       ORIGIN ".flags[%zu]: flag `%s` is not supported by libseccomp "
			                              "%u.%u.%u (API level %u) on this kernel",
			                       i, name, v->major, v->minor, v->micro, api);
		if (set_attr(f, fl->attr, 1, name, err) < 0)
			return berth_error_prefix(err, ORIGIN ".flags[%zu]", i);
	}
	return 0;
}

/* 3. */
static int add_archs(struct seccomp_filter *f, const struct oci_seccomp *spec, berth_error_t *err)
{
	for (size_t i = 0; i < spec->architectures_len; i++) {
		const char *name = spec->architectures[i];
		const struct arch_def *a = find_arch(name);
		int r;

		if (a == NULL)
			return berth_error_invalid(
			    err, ORIGIN ".architectures[%zu]: unknown architecture `%s`", i, name);
		r = seccomp_arch_add(f->ctx, a->token);
		if (r < 0 && r != -EEXIST)
			return berth_error_sys(err, -r, ORIGIN ".architectures[%zu]: add architecture `%s`",
			                       i, name);
	}
	return 0;
}

/* 5. One name of one entry.  Conditions on distinct indexes go in one rule;
 * a repeated index makes each condition a rule of its own (runc's way). */
static int add_rule(struct seccomp_filter *f, const char *name, int nr, uint32_t action,
                    const struct scmp_arg_cmp *conds, size_t n_conds, bool split, size_t entry,
                    berth_error_t *err)
{
	int r;

	if (!split) {
		r = seccomp_rule_add_array(f->ctx, action, nr, (unsigned int)n_conds, n_conds ? conds : NULL);
		if (r < 0)
			return berth_error_sys(err, -r, ORIGIN ".syscalls[%zu]: add rule for `%s`", entry,
			                       name);
		return 0;
	}
	for (size_t j = 0; j < n_conds; j++) {
		r = seccomp_rule_add_array(f->ctx, action, nr, 1, &conds[j]);
		if (r < 0)
			return berth_error_sys(err, -r, ORIGIN ".syscalls[%zu].args[%zu]: add rule for `%s`",
			                       entry, j, name);
	}
	return 0;
}

static int add_entry(struct seccomp_filter *f, const struct oci_seccomp_syscall *sc, size_t i,
                     uint32_t default_action, berth_error_t *err)
{
	cleanup_free struct scmp_arg_cmp *conds = NULL;
	unsigned int per_index[MAX_ARGS] = {0};
	bool split = false, is_notify = false;
	uint32_t action;
	char path[64];

	snprintf(path, sizeof(path), "syscalls[%zu].action", i);
	if (resolve_action(sc->action, &sc->errno_ret, path, &action, &is_notify, err) < 0)
		return -1;
	if (sc->args_len > 0) {
		conds = calloc(sc->args_len, sizeof(*conds));
		if (conds == NULL)
			return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "seccomp rules");
	}
	for (size_t j = 0; j < sc->args_len; j++) {
		const struct oci_seccomp_arg *a = &sc->args[j];
		const struct operator_def *op = find_operator(a->op);

		if (op == NULL)
			return berth_error_invalid(
			    err, ORIGIN ".syscalls[%zu].args[%zu].op: unknown operator `%d`", i, j,
			    (int)a->op);
		if (a->index >= MAX_ARGS)
			return berth_error_invalid(
			    err, ORIGIN ".syscalls[%zu].args[%zu].index: %u is out of range (0-5)", i, j,
			    a->index);
		if (++per_index[a->index] > 1)
			split = true;
		conds[j] = (struct scmp_arg_cmp){
		    .arg = a->index, .op = op->scmp, .datum_a = a->value, .datum_b = a->value_two};
	}
	/* libseccomp rejects a rule with the default action: it would do nothing. */
	if (action == default_action)
		return 0;
	for (size_t k = 0; k < sc->names_len; k++) {
		const char *name = sc->names[k];
		int nr = seccomp_syscall_resolve_name(name);

		/* Unknown to libseccomp (a newer syscall, or a typo): runc skips it. */
		if (nr == __NR_SCMP_ERROR)
			continue;
		if (add_rule(f, name, nr, action, conds, sc->args_len, split, i, err) < 0)
			return -1;
		if (is_notify)
			f->has_notify = true;
	}
	return 0;
}

static bool spec_has_notify(const struct oci_seccomp *spec)
{
	for (size_t i = 0; i < spec->syscalls_len; i++)
		if (spec->syscalls[i].action != NULL &&
		    strcmp(spec->syscalls[i].action, "SCMP_ACT_NOTIFY") == 0)
			return true;
	return false;
}

int seccomp_filter_build(const struct oci_seccomp *spec, struct seccomp_filter **out, berth_error_t *err)
{
	struct seccomp_filter *f;
	uint32_t default_action;
	bool default_notify = false;

	*out = NULL;
	/* 1. */
	if (resolve_action(spec->default_action, &spec->default_errno_ret, "defaultAction", &default_action,
	                   &default_notify, err) < 0)
		return -1;
	if (default_notify)
		return berth_error_invalid(err,
		                           ORIGIN ".defaultAction: SCMP_ACT_NOTIFY cannot be the default "
		                                  "action");
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "seccomp filter");
	f->ctx = seccomp_init(default_action);
	if (f->ctx == NULL) {
		free(f);
		return berth_error_set(err, BERTH_ERR_SYSTEM, 0, "seccomp: cannot create a filter for `%s`",
		                       spec->default_action);
	}
	/* 2. - 3. */
	if (apply_flags(f, spec, err) < 0 || add_archs(f, spec, err) < 0)
		goto fail;
	/* 4. */
	if (spec_has_notify(spec) && (spec->listener_path == NULL || spec->listener_path[0] == '\0')) {
		berth_error_invalid(err, ORIGIN ": SCMP_ACT_NOTIFY needs .linux.seccomp.listenerPath");
		goto fail;
	}
	/* 5. */
	for (size_t i = 0; i < spec->syscalls_len; i++)
		if (add_entry(f, &spec->syscalls[i], i, default_action, err) < 0)
			goto fail;
	*out = f;
	return 0;
fail:
	seccomp_filter_free(f);
	return -1;
}

/* ---- load, free ---- */

int seccomp_filter_load(struct seccomp_filter *f, int *notify_fd_out, berth_error_t *err)
{
	int r;

	*notify_fd_out = -1;
	r = seccomp_load(f->ctx);
	if (r < 0)
		return berth_error_sys(err, -r, "load seccomp filter");
	if (f->has_notify) {
		int fd = seccomp_notify_fd(f->ctx);
		if (fd < 0)
			return berth_error_sys(err, fd < -1 ? -fd : EBADF, "seccomp listener fd");
		*notify_fd_out = fd;
	}
	return 0;
}

bool seccomp_filter_has_notify(const struct seccomp_filter *f)
{
	return f->has_notify;
}

void seccomp_filter_free(struct seccomp_filter *f)
{
	if (f == NULL)
		return;
	seccomp_release(f->ctx);
	free(f);
}

/* ---- the seccomp agent ---- */

static void json_putp(json_object **o)
{
	json_object_put(*o);
}

static char *process_state_json(const char *metadata, const char *state_json, pid_t pid, berth_error_t *err)
{
	__attribute__((cleanup(json_putp))) json_object *doc = NULL;
	json_object *state, *fds;
	const char *text;
	char *copy;

	state = json_tokener_parse(state_json);
	if (state == NULL || !json_object_is_type(state, json_type_object)) {
		json_object_put(state);
		berth_error_invalid(err, "container state: not a JSON object");
		return NULL;
	}
	doc = json_object_new_object();
	fds = json_object_new_array();
	if (doc == NULL || fds == NULL) {
		json_object_put(state);
		json_object_put(fds);
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "container process state");
		return NULL;
	}
	json_object_array_add(fds, json_object_new_string("seccompFd"));
	json_object_object_add(doc, "ociVersion", json_object_new_string(PROCESS_STATE_VERSION));
	json_object_object_add(doc, "fds", fds);
	json_object_object_add(doc, "pid", json_object_new_int(pid));
	if (metadata != NULL && metadata[0] != '\0')
		json_object_object_add(doc, "metadata", json_object_new_string(metadata));
	json_object_object_add(doc, "state", state);
	text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE);
	copy = text ? strdup(text) : NULL;
	if (copy == NULL)
		berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "container process state");
	return copy;
}

int seccomp_send_to_listener(const char *listener_path, int notify_fd, const char *listener_metadata,
                             const char *state_json, pid_t pid, berth_error_t *err)
{
	cleanup_free char *doc = NULL;
	cleanup_close int sock = -1;

	doc = process_state_json(listener_metadata, state_json, pid, err);
	if (doc == NULL)
		return -1;
	sock = socket_connect_unix(listener_path, "seccomp listener", err);
	if (sock < 0)
		return -1;
	if (socket_send_with_fd(sock, doc, strlen(doc), notify_fd) < 0)
		return berth_error_sys(err, errno, "send to seccomp listener `%s`", listener_path);
	return 0;
}

int seccomp_filter_load_sync(struct seccomp_filter *f, int sync_sock, berth_error_t *err)
{
	int notify_fd = -1, ret;
	struct sync_msg msg;

	if (f == NULL)
		return 0;
	if (seccomp_filter_load(f, &notify_fd, err) < 0)
		return -1;
	if (notify_fd < 0)
		return 0;
	ret = sync_send(sync_sock, SYNC_SECCOMP, 0, NULL, notify_fd, err);
	close(notify_fd);
	if (ret < 0)
		return -1;
	return sync_expect(sync_sock, SYNC_SECCOMP_DONE, &msg, err);
}

/* ---- lists for features ---- */

const char *const *seccomp_known_actions(void)
{
	return action_names;
}

const char *const *seccomp_known_operators(void)
{
	return operator_names;
}

const char *const *seccomp_known_archs(void)
{
	if (arch_names[0] == NULL)
		for (size_t i = 0; i < N_ARCHS; i++)
			arch_names[i] = archs[i].name;
	return arch_names;
}

const char *const *seccomp_known_flags(void)
{
	if (flag_names[0] == NULL)
		for (size_t i = 0; i < N_FLAGS; i++)
			flag_names[i] = flags[i].name;
	return flag_names;
}

/* The kernel checks a filter's flags before reading the filter: EFAULT on a
 * NULL program means it took the flags, EINVAL that it does not know one. */
static bool kernel_takes_flag(unsigned long flag)
{
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, NULL) < 0 && errno == EFAULT;
}

const char *const *seccomp_supported_flags(void)
{
	if (!supported_probed) {
		unsigned int api = seccomp_api_get();
		size_t n = 0;

		for (size_t i = 0; i < N_FLAGS; i++)
			if (api >= flags[i].api_level && kernel_takes_flag(flags[i].kernel_flag))
				supported_flag_names[n++] = flags[i].name;
		supported_probed = true;
	}
	return supported_flag_names;
}
