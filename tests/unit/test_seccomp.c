/* Unit tests of seccomp: .linux.seccomp from a config.json, compiled with
 * seccomp_filter_build and loaded, for real, in forked children (with
 * no_new_privs set, as an unprivileged init would have it).  Each child runs
 * a few syscalls under the filter and reports what it saw through a pipe:
 * "r=<return>/<errno>".  The parent checks the text or how the child died. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <json-c/json.h>

#include "runtime_spec.h"
#include "seccomp.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "../tap.h"

#ifndef SECCOMP_USER_NOTIF_FLAG_CONTINUE
#define SECCOMP_USER_NOTIF_FLAG_CONTINUE (1UL << 0)
#endif

static char scratch[] = "/tmp/berth-seccomp-XXXXXX";

/* ---- helpers ---- */

/* A config.json around `seccomp` (the text of .linux.seccomp). */
static struct oci_spec *parse_config(const char *seccomp)
{
	static const char fmt[] = "{\"ociVersion\":\"1.0.2\",\"process\":{\"args\":[\"sh\"],\"cwd\":\"/\"},"
	                          "\"root\":{\"path\":\"rootfs\"},\"linux\":{\"seccomp\":%s}}";
	cleanup_free char *json = NULL;
	struct oci_spec *spec = NULL;
	berth_error_t err = NULL;

	if (asprintf(&json, fmt, seccomp) < 0)
		return NULL;
	if (oci_spec_parse(json, strlen(json), "config.json", &spec, &err) < 0) {
		printf("# parse: %s\n", err->msg);
		berth_error_free(&err);
		return NULL;
	}
	return spec;
}

/* Builds the filter of `seccomp`; NULL (with the message in *msg when msg is
 * not NULL) when build fails. */
static struct seccomp_filter *build(const char *seccomp, char *msg, size_t msg_len)
{
	cleanup_oci_spec struct oci_spec *spec = parse_config(seccomp);
	struct seccomp_filter *f = NULL;
	berth_error_t err = NULL;

	if (msg != NULL)
		msg[0] = '\0';
	if (spec == NULL)
		return NULL;
	if (seccomp_filter_build(spec->linux_->seccomp, &f, &err) < 0) {
		if (msg != NULL)
			snprintf(msg, msg_len, "%s", err->msg);
		else
			printf("# build: %s\n", err->msg);
		berth_error_free(&err);
		return NULL;
	}
	return f;
}

/* The message build gives for `seccomp` ("" when it succeeds). */
static const char *build_error(const char *seccomp)
{
	static char msg[512];
	struct seccomp_filter *f = build(seccomp, msg, sizeof(msg));

	seccomp_filter_free(f);
	return msg;
}

struct report {
	char text[512];
	size_t len;
};

static void report(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void report(struct report *r, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(r->text + r->len, sizeof(r->text) - r->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		r->len += (size_t)n < sizeof(r->text) - r->len ? (size_t)n : sizeof(r->text) - r->len - 1;
}

/* "<name>=<ret>/<errno>" (errno 0 on success). */
static void report_call(struct report *r, const char *name, long ret)
{
	report(r, "%s%s=%ld/%d", r->len ? " " : "", name, ret < 0 ? -1 : ret, ret < 0 ? errno : 0);
}

typedef void (*child_fn)(struct report *r, void *arg);

struct outcome {
	int status; /* from waitpid */
	char text[512];
};

/* Forks a child that sets no_new_privs, loads `f`, runs fn and writes its
 * report to the parent. */
static struct outcome run_filtered(struct seccomp_filter *f, child_fn fn, void *arg)
{
	struct outcome o = {.status = -1};
	int p[2];
	pid_t pid;
	ssize_t n;

	if (f == NULL || pipe2(p, O_CLOEXEC) < 0)
		return o;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct report r = {.len = 0};
		berth_error_t err = NULL;
		int nfd;

		close(p[0]);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(100);
		if (seccomp_filter_load(f, &nfd, &err) < 0) {
			report(&r, "load: %s", err->msg);
		} else {
			if (nfd >= 0)
				report(&r, "notify fd! ");
			fn(&r, arg);
		}
		if (write(p[1], r.text, r.len) < 0)
			_exit(101);
		_exit(0);
	}
	close(p[1]);
	n = fs_read_all(p[0], o.text, sizeof(o.text) - 1);
	o.text[n > 0 ? n : 0] = '\0';
	close(p[0]);
	waitpid(pid, &o.status, 0);
	return o;
}

static bool exited_ok(const struct outcome *o)
{
	return WIFEXITED(o->status) && WEXITSTATUS(o->status) == 0;
}

static bool killed_by(const struct outcome *o, int sig)
{
	return WIFSIGNALED(o->status) && WTERMSIG(o->status) == sig;
}

/* ---- children ---- */

static void call_getcwd_mkdir(struct report *r, void *arg)
{
	char buf[4096], path[256];

	snprintf(path, sizeof(path), "%s/made", scratch);
	report_call(r, "getcwd", syscall(SYS_getcwd, buf, sizeof(buf)) < 0 ? -1 : 0);
	report_call(r, "mkdir", syscall(SYS_mkdir, path, 0700));
	report_call(r, "getpid", syscall(SYS_getpid) > 0 ? 0 : -1);
	rmdir(path);
}

static void call_getppid(struct report *r, void *arg)
{
	report_call(r, "getppid", syscall(SYS_getppid) > 0 ? 0 : -1);
}

/* umask(2) never fails, so any -1 is the filter's: 'X' denied, '.' allowed. */
static const unsigned long umask_probes[] = {0x00, 0x01, 0x12, 0x22, 0x7f, 0xff};

static void call_umask_probes(struct report *r, void *arg)
{
	for (size_t i = 0; i < sizeof(umask_probes) / sizeof(umask_probes[0]); i++) {
		long ret = syscall(SYS_umask, umask_probes[i]);
		report(r, "%c", ret < 0 && errno == EPERM ? 'X' : ret < 0 ? '?' : '.');
	}
}

static void call_sockets(struct report *r, void *arg)
{
	static const struct {
		const char *name;
		int domain, type;
	} calls[] = {
	    {"inet-stream", AF_INET, SOCK_STREAM},
	    {"inet-dgram", AF_INET, SOCK_DGRAM},
	    {"unix-stream", AF_UNIX, SOCK_STREAM},
	    {"unix-dgram", AF_UNIX, SOCK_DGRAM},
	    {"unix-dgram-cloexec", AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC},
	};
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		long fd = syscall(SYS_socket, calls[i].domain, calls[i].type, 0);
		report_call(r, calls[i].name, fd < 0 ? -1 : 0);
		if (fd >= 0)
			close((int)fd);
	}
}

static void call_personality(struct report *r, void *arg)
{
	report_call(r, "query", syscall(SYS_personality, 0xffffffffUL) < 0 ? -1 : 0);
	report_call(r, "linux", syscall(SYS_personality, 0UL) < 0 ? -1 : 0);
}

static volatile sig_atomic_t trapped_nr = -1;

static void on_sigsys(int sig, siginfo_t *info, void *ctx)
{
	trapped_nr = info->si_syscall;
}

static void call_trapped(struct report *r, void *arg)
{
	struct sigaction sa = {.sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO};

	sigaction(SIGSYS, &sa, NULL);
	syscall(SYS_getppid);
	report(r, "trapped=%s", trapped_nr == SYS_getppid ? "getppid" : "other");
}

/* ---- tests ---- */

static void test_errno_actions(void)
{
	struct seccomp_filter *f =
	    build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
	          "{\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_ERRNO\"},"
	          "{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":38}]}",
	          NULL, 0);
	struct outcome o;

	ok(f != NULL, "errno: default ALLOW, getcwd and mkdir ERRNO builds");
	ok(f != NULL && !seccomp_filter_has_notify(f), "errno: no notify rule");
	o = run_filtered(f, call_getcwd_mkdir, NULL);
	ok(exited_ok(&o), "errno: the child exits normally");
	is_str(o.text, "getcwd=-1/1 mkdir=-1/38 getpid=0/0",
	       "errno: getcwd gets EPERM (the default errnoRet), mkdir errnoRet 38, getpid allowed");
	seccomp_filter_free(f);
}

static void test_default_errno(void)
{
	/* Everything denied with defaultErrnoRet, but what the child needs to
	 * report and exit. */
	struct seccomp_filter *f = build(
	    "{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":95,\"syscalls\":["
	    "{\"names\":[\"write\",\"exit_group\",\"exit\",\"getpid\",\"rt_sigreturn\",\"brk\",\"mmap\","
	    "\"munmap\"],\"action\":\"SCMP_ACT_ALLOW\"},"
	    "{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":95}]}",
	    NULL, 0);
	struct outcome o = run_filtered(f, call_getcwd_mkdir, NULL);

	ok(f != NULL, "default errno: builds (the mkdir rule equals the default and is skipped)");
	is_str(o.text, "getcwd=-1/95 mkdir=-1/95 getpid=0/0",
	       "default errno: defaultErrnoRet 95 everywhere else");
	seccomp_filter_free(f);
}

static void call_get_nnp(struct report *r, void *arg)
{
	report(r, "nnp=%d", prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0));
}

/* seccomp_filter_load leaves no_new_privs alone: a privileged init loads
 * the filter with CAP_SYS_ADMIN and keeps setuid programs working. */
static void test_no_nnp(void)
{
	struct seccomp_filter *f = build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
	                                 "{\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_ERRNO\"}]}",
	                                 NULL, 0);
	struct outcome o = {.status = -1};
	int p[2];
	pid_t pid;
	ssize_t n;

	if (geteuid() != 0 || f == NULL || pipe2(p, O_CLOEXEC) < 0) {
		ok(1, "# SKIP loading without no_new_privs needs root");
		seccomp_filter_free(f);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct report r = {.len = 0};
		berth_error_t err = NULL;
		int nfd;

		close(p[0]);
		if (seccomp_filter_load(f, &nfd, &err) < 0)
			report(&r, "load: %s", err->msg);
		else
			call_get_nnp(&r, NULL);
		if (write(p[1], r.text, r.len) < 0)
			_exit(101);
		_exit(0);
	}
	close(p[1]);
	n = fs_read_all(p[0], o.text, sizeof(o.text) - 1);
	o.text[n > 0 ? n : 0] = '\0';
	close(p[0]);
	waitpid(pid, &o.status, 0);
	is_str(o.text, "nnp=0", "load with CAP_SYS_ADMIN does not set no_new_privs");
	seccomp_filter_free(f);
}

static void test_kill_and_trap(void)
{
	static const char *const kills[] = {"SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD"};
	char cfg[512];

	for (size_t i = 0; i < sizeof(kills) / sizeof(kills[0]); i++) {
		snprintf(cfg, sizeof(cfg),
		         "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getppid\"],"
		         "\"action\":\"%s\"}]}",
		         kills[i]);
		struct seccomp_filter *f = build(cfg, NULL, 0);
		struct outcome o = run_filtered(f, call_getppid, NULL);
		ok(killed_by(&o, SIGSYS), "%s: getppid kills the child with SIGSYS", kills[i]);
		is_str(o.text, "", "%s: nothing reported after the call", kills[i]);
		seccomp_filter_free(f);
	}

	struct seccomp_filter *f = build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":"
	                                 "[\"getppid\"],\"action\":\"SCMP_ACT_TRAP\"}]}",
	                                 NULL, 0);
	struct outcome o = run_filtered(f, call_trapped, NULL);
	ok(exited_ok(&o), "trap: the child handles SIGSYS and exits");
	is_str(o.text, "trapped=getppid", "trap: SIGSYS names the syscall");
	seccomp_filter_free(f);

	/* No tracer: the kernel fails a TRACE'd syscall with ENOSYS.  LOG allows. */
	f = build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
	          "{\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_TRACE\",\"errnoRet\":7},"
	          "{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_LOG\"}]}",
	          NULL, 0);
	o = run_filtered(f, call_getcwd_mkdir, NULL);
	is_str(o.text, "getcwd=-1/38 mkdir=0/0 getpid=0/0",
	       "trace without a tracer: ENOSYS; log: the syscall runs");
	seccomp_filter_free(f);
}

struct op_case {
	const char *args;
	const char *want;
	const char *what;
};

static void test_operators(void)
{
	/* Probes: 0x00 0x01 0x12 0x22 0x7f 0xff. */
	static const struct op_case cases[] = {
	    {"{\"index\":0,\"value\":34,\"op\":\"SCMP_CMP_EQ\"}", "...X..", "EQ 0x22"},
	    {"{\"index\":0,\"value\":34,\"op\":\"SCMP_CMP_NE\"}", "XXX.XX", "NE 0x22"},
	    {"{\"index\":0,\"value\":18,\"op\":\"SCMP_CMP_LT\"}", "XX....", "LT 0x12"},
	    {"{\"index\":0,\"value\":18,\"op\":\"SCMP_CMP_LE\"}", "XXX...", "LE 0x12"},
	    {"{\"index\":0,\"value\":34,\"op\":\"SCMP_CMP_GT\"}", "....XX", "GT 0x22"},
	    {"{\"index\":0,\"value\":34,\"op\":\"SCMP_CMP_GE\"}", "...XXX", "GE 0x22"},
	    {"{\"index\":0,\"value\":15,\"valueTwo\":2,\"op\":\"SCMP_CMP_MASKED_EQ\"}", "..XX..",
	     "MASKED_EQ mask 0xf == 2"},
	    /* Two conditions on one index: one rule each, as runc does (OR). */
	    {"{\"index\":0,\"value\":127,\"op\":\"SCMP_CMP_GE\"},{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_"
	     "LE\"}",
	     "XX..XX", "GE 0x7f, LE 0x01 on one index: separate rules"},
	    {"{\"index\":0,\"value\":18,\"op\":\"SCMP_CMP_GE\"},{\"index\":0,\"value\":34,\"op\":\"SCMP_CMP_"
	     "LE\"}",
	     "XXXXXX", "GE 0x12, LE 0x22 on one index: separate rules match everything"},
	};
	char cfg[1024];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(cfg, sizeof(cfg),
		         "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"umask\"],"
		         "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[%s]}]}",
		         cases[i].args);
		struct seccomp_filter *f = build(cfg, NULL, 0);
		struct outcome o = run_filtered(f, call_umask_probes, NULL);
		ok(f != NULL, "operator %s: builds", cases[i].what);
		is_str(o.text, cases[i].want, "operator %s: umask 0x00 0x01 0x12 0x22 0x7f 0xff",
		       cases[i].what);
		seccomp_filter_free(f);
	}
}

static void test_argument_rules(void)
{
	struct seccomp_filter *f;
	struct outcome o;

	f = build(
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"socket\"],"
	    "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":2,\"op\":\"SCMP_CMP_EQ\"}]}]}",
	    NULL, 0);
	o = run_filtered(f, call_sockets, NULL);
	is_str(o.text,
	       "inet-stream=-1/1 inet-dgram=-1/1 unix-stream=0/0 unix-dgram=0/0 unix-dgram-cloexec=0/0",
	       "socket denied for AF_INET only");
	seccomp_filter_free(f);

	/* Conditions on two indexes: one rule, both must hold. */
	f = build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"socket\"],"
	          "\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":13,\"args\":["
	          "{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"},"
	          "{\"index\":1,\"value\":15,\"valueTwo\":2,\"op\":\"SCMP_CMP_MASKED_EQ\"}]}]}",
	          NULL, 0);
	o = run_filtered(f, call_sockets, NULL);
	is_str(o.text,
	       "inet-stream=0/0 inet-dgram=0/0 unix-stream=0/0 unix-dgram=-1/13 unix-dgram-cloexec=-1/13",
	       "socket denied for AF_UNIX and (type & 0xf) == SOCK_DGRAM only");
	seccomp_filter_free(f);

	f = build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"personality\"],"
	          "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":4294967295,"
	          "\"op\":\"SCMP_CMP_EQ\"}]}]}",
	          NULL, 0);
	o = run_filtered(f, call_personality, NULL);
	is_str(o.text, "query=-1/1 linux=0/0", "personality denied only for 0xffffffff");
	seccomp_filter_free(f);
}

static void test_names_archs_flags(void)
{
	struct seccomp_filter *f;
	struct outcome o;

	f = build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"berth_no_such_syscall\","
	          "\"getcwd\"],\"action\":\"SCMP_ACT_ERRNO\",\"errnoRet\":5}]}",
	          NULL, 0);
	ok(f != NULL, "an unknown syscall name is skipped");
	o = run_filtered(f, call_getcwd_mkdir, NULL);
	ok(strncmp(o.text, "getcwd=-1/5 ", 12) == 0, "the known name of the same entry still applies (%s)",
	   o.text);
	seccomp_filter_free(f);

	f = build("{\"defaultAction\":\"SCMP_ACT_ALLOW\","
	          "\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_X86\",\"SCMP_ARCH_X32\","
	          "\"SCMP_ARCH_AARCH64\",\"SCMP_ARCH_ARM\"],"
	          "\"flags\":[\"SECCOMP_FILTER_FLAG_TSYNC\",\"SECCOMP_FILTER_FLAG_LOG\","
	          "\"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"],"
	          "\"syscalls\":[{\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_ERRNO\"}]}",
	          NULL, 0);
	ok(f != NULL, "architectures (native among them) and flags build");
	o = run_filtered(f, call_getcwd_mkdir, NULL);
	ok(strncmp(o.text, "getcwd=-1/1 ", 12) == 0, "with architectures and flags: loads and denies (%s)",
	   o.text);
	seccomp_filter_free(f);

	f = build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"getcwd\"],"
	          "\"action\":\"SCMP_ACT_ALLOW\"},{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_ERRNO\","
	          "\"errnoRet\":1}]}",
	          NULL, 0);
	ok(f != NULL, "a rule with the default action is skipped, not an error");
	seccomp_filter_free(f);

	f = build("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"/run/agent.sock\","
	          "\"syscalls\":[{\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_ERRNO\"}]}",
	          NULL, 0);
	ok(f != NULL && !seccomp_filter_has_notify(f), "listenerPath without a NOTIFY rule is fine");
	seccomp_filter_free(f);
}

static void test_errors(void)
{
	is_str(build_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":["
	                   "{\"names\":[\"a\"],\"action\":\"SCMP_ACT_ERRNO\"},"
	                   "{\"names\":[\"b\"],\"action\":\"SCMP_ACT_ERRNO\"},"
	                   "{\"names\":[\"c\"],\"action\":\"SCMP_ACT_ERRNO\"},"
	                   "{\"names\":[\"getcwd\"],\"action\":\"SCMP_ACT_FOO\"}]}"),
	       "config.json: .linux.seccomp.syscalls[3].action: unknown action `SCMP_ACT_FOO`",
	       "unknown action in a rule");
	is_str(build_error("{\"defaultAction\":\"SCMP_ACT_BAR\"}"),
	       "config.json: .linux.seccomp.defaultAction: unknown action `SCMP_ACT_BAR`",
	       "unknown default action");
	is_str(build_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\","
	                   "\"SCMP_ARCH_VAX\"]}"),
	       "config.json: .linux.seccomp.architectures[1]: unknown architecture `SCMP_ARCH_VAX`",
	       "unknown architecture");
	is_str(build_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_NOPE\"]}"),
	       "config.json: .linux.seccomp.flags[0]: unknown flag `SECCOMP_FILTER_FLAG_NOPE`",
	       "unknown flag");
	is_str(build_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"mkdir\"],"
	                   "\"action\":\"SCMP_ACT_NOTIFY\"}]}"),
	       "config.json: .linux.seccomp: SCMP_ACT_NOTIFY needs .linux.seccomp.listenerPath",
	       "NOTIFY without listenerPath");
	is_str(build_error("{\"defaultAction\":\"SCMP_ACT_NOTIFY\",\"listenerPath\":\"/x\"}"),
	       "config.json: .linux.seccomp.defaultAction: SCMP_ACT_NOTIFY cannot be the default action",
	       "NOTIFY as the default action");
	is_str(build_error("{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"umask\"],"
	                   "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":6,\"value\":1,"
	                   "\"op\":\"SCMP_CMP_EQ\"}]}]}"),
	       "config.json: .linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0-5)",
	       "argument index out of range");
	is_str(build_error("{\"defaultAction\":\"SCMP_ACT_ERRNO\",\"defaultErrnoRet\":70000}"),
	       "config.json: .linux.seccomp.defaultAction: errnoRet 70000 out of range",
	       "errnoRet out of range");

	/* An operator outside the enum (the parser admits none: a corrupted
	 * model must still not reach libseccomp). */
	cleanup_oci_spec struct oci_spec *spec = parse_config(
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"umask\"],"
	    "\"action\":\"SCMP_ACT_ERRNO\",\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]}");
	struct seccomp_filter *f = NULL;
	berth_error_t err = NULL;
	if (spec != NULL) {
		spec->linux_->seccomp->syscalls[0].args[0].op = (enum oci_seccomp_op)42;
		ok(seccomp_filter_build(spec->linux_->seccomp, &f, &err) < 0 && f == NULL,
		   "an unknown operator value is refused");
		is_str(err ? err->msg : NULL,
		       "config.json: .linux.seccomp.syscalls[0].args[0].op: unknown operator `42`",
		       "unknown operator message");
		ok(err != NULL && err->code == BERTH_ERR_INVALID, "unknown operator: code INVALID");
		berth_error_free(&err);
	}
}

static bool listed(const char *const *list, const char *name)
{
	for (; *list != NULL; list++)
		if (strcmp(*list, name) == 0)
			return true;
	return false;
}

static size_t count(const char *const *list)
{
	size_t n = 0;
	while (list[n] != NULL)
		n++;
	return n;
}

static void test_feature_lists(void)
{
	static const char *const want_actions[] = {
	    "SCMP_ACT_ALLOW",        "SCMP_ACT_ERRNO",       "SCMP_ACT_KILL",
	    "SCMP_ACT_KILL_PROCESS", "SCMP_ACT_KILL_THREAD", "SCMP_ACT_LOG",
	    "SCMP_ACT_NOTIFY",       "SCMP_ACT_TRACE",       "SCMP_ACT_TRAP"};
	const char *const *ops = seccomp_known_operators();
	const char *const *flags = seccomp_known_flags();
	const char *const *supported = seccomp_supported_flags();
	bool all = true;

	ok(count(seccomp_known_actions()) == 9, "features: nine actions");
	for (size_t i = 0; i < sizeof(want_actions) / sizeof(want_actions[0]); i++)
		all = all && listed(seccomp_known_actions(), want_actions[i]);
	ok(all, "features: every runtime-spec action");
	all = count(ops) == 7;
	for (int op = OCI_SCMP_CMP_NE; op <= OCI_SCMP_CMP_MASKED_EQ; op++)
		all = all && listed(ops, oci_seccomp_op_name((enum oci_seccomp_op)op));
	ok(all, "features: the operators are the parser's");
	ok(listed(seccomp_known_archs(), "SCMP_ARCH_X86_64") &&
	       listed(seccomp_known_archs(), "SCMP_ARCH_AARCH64") &&
	       listed(seccomp_known_archs(), "SCMP_ARCH_RISCV64"),
	   "features: archs");
	for (size_t i = 1; seccomp_known_archs()[i] != NULL; i++)
		all = all && strcmp(seccomp_known_archs()[i - 1], seccomp_known_archs()[i]) < 0;
	ok(all, "features: archs sorted");
	ok(listed(flags, "SECCOMP_FILTER_FLAG_TSYNC") && listed(flags, "SECCOMP_FILTER_FLAG_LOG") &&
	       listed(flags, "SECCOMP_FILTER_FLAG_SPEC_ALLOW"),
	   "features: known flags");
	ok(listed(supported, "SECCOMP_FILTER_FLAG_TSYNC") && listed(supported, "SECCOMP_FILTER_FLAG_LOG"),
	   "features: this kernel supports TSYNC and LOG");
	all = true;
	for (size_t i = 0; supported[i] != NULL; i++)
		all = all && listed(flags, supported[i]);
	ok(all, "features: supported flags are known flags");
}

/* ---- the seccomp agent: NOTIFY, the listener fd, the process state ---- */

static int listen_at(const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(addr.sun_path))
		return -1;
	memcpy(addr.sun_path, path, strlen(path) + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(fd, 1) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Reads the whole document (until EOF) and the fd that came with it. */
static ssize_t recv_state(int conn, char *buf, size_t len, int *fd_out)
{
	size_t got = 0;

	*fd_out = -1;
	while (got < len - 1) {
		union {
			char buf[CMSG_SPACE(sizeof(int) * 4)];
			struct cmsghdr align;
		} u;
		struct iovec iov = {.iov_base = buf + got, .iov_len = len - 1 - got};
		struct msghdr msg = {
		    .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
		ssize_t n = recvmsg(conn, &msg, MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c))
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS && *fd_out < 0)
				memcpy(fd_out, CMSG_DATA(c), sizeof(int));
		got += (size_t)n;
	}
	buf[got] = '\0';
	return (ssize_t)got;
}

struct notify_child {
	const char *listener;
	const char *dir;
};

static void call_mkdir_twice(struct report *r, void *arg)
{
	const struct notify_child *nc = arg;
	char path[512];

	snprintf(path, sizeof(path), "%s/first", nc->dir);
	report_call(r, "mkdir1", syscall(SYS_mkdir, path, 0700));
	snprintf(path, sizeof(path), "%s/second", nc->dir);
	report_call(r, "mkdir2", syscall(SYS_mkdir, path, 0700));
	report_call(r, "done", 0);
}

/* Answers one notification: checks it is mkdir from `pid`, then fails it
 * with `error` or lets it run (error 0). */
static bool answer(int nfd, pid_t pid, int error)
{
	struct seccomp_notif *req = NULL;
	struct seccomp_notif_resp *resp = NULL;
	bool good = false;

	if (seccomp_notify_alloc(&req, &resp) < 0)
		return false;
	if (seccomp_notify_receive(nfd, req) == 0) {
		good = req->data.nr == SYS_mkdir && (pid_t)req->pid == pid;
		resp->id = req->id;
		resp->val = 0;
		resp->error = error ? -error : 0;
		resp->flags = error ? 0 : SECCOMP_USER_NOTIF_FLAG_CONTINUE;
		good = seccomp_notify_respond(nfd, resp) == 0 && good;
	}
	seccomp_notify_free(req, resp);
	return good;
}

static void test_notify(void)
{
	char listener[256], dir[256], state[512], doc[4096];
	struct seccomp_filter *f;
	cleanup_close int lfd = -1, conn = -1, nfd = -1;
	int status = -1, p[2];
	pid_t pid;
	char cfg[1024], text[512] = "";
	ssize_t n;

	snprintf(listener, sizeof(listener), "%s/agent.sock", scratch);
	snprintf(dir, sizeof(dir), "%s/notify", scratch);
	mkdir(dir, 0700);
	snprintf(
	    cfg, sizeof(cfg),
	    "{\"defaultAction\":\"SCMP_ACT_ALLOW\",\"listenerPath\":\"%s\",\"listenerMetadata\":\"meta=1\","
	    "\"syscalls\":[{\"names\":[\"mkdir\"],\"action\":\"SCMP_ACT_NOTIFY\"}]}",
	    listener);
	f = build(cfg, NULL, 0);
	ok(f != NULL && seccomp_filter_has_notify(f), "notify: builds, with a NOTIFY rule");
	lfd = listen_at(listener);
	if (f == NULL || lfd < 0 || pipe2(p, O_CLOEXEC) < 0) {
		ok(0, "notify: set up");
		seccomp_filter_free(f);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct notify_child nc = {listener, dir};
		struct report r = {.len = 0};
		berth_error_t err = NULL;
		int fd = -1;

		close(p[0]);
		snprintf(state, sizeof(state),
		         "{\"ociVersion\":\"1.0.2\",\"id\":\"c1\",\"status\":\"creating\",\"pid\":%d,"
		         "\"bundle\":\"/b\"}",
		         (int)getpid());
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || seccomp_filter_load(f, &fd, &err) < 0 ||
		    fd < 0 || seccomp_send_to_listener(listener, fd, "meta=1", state, getpid(), &err) < 0) {
			report(&r, "setup: %s", err ? err->msg : "no fd");
		} else {
			close(fd);
			call_mkdir_twice(&r, &nc);
		}
		if (write(p[1], r.text, r.len) < 0)
			_exit(101);
		_exit(0);
	}
	close(p[1]);
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	n = conn >= 0 ? recv_state(conn, doc, sizeof(doc), &nfd) : -1;
	ok(n > 0 && nfd >= 0, "notify: the agent gets the document and an fd");

	json_object *j = n > 0 ? json_tokener_parse(doc) : NULL, *v;
	ok(j != NULL && json_object_object_get_ex(j, "ociVersion", &v) &&
	       strcmp(json_object_get_string(v), "1.0.2") == 0,
	   "notify: ociVersion");
	ok(j != NULL && json_object_object_get_ex(j, "fds", &v) && json_object_array_length(v) == 1 &&
	       strcmp(json_object_get_string(json_object_array_get_idx(v, 0)), "seccompFd") == 0,
	   "notify: fds is [\"seccompFd\"]");
	ok(j != NULL && json_object_object_get_ex(j, "pid", &v) && json_object_get_int(v) == pid,
	   "notify: pid");
	ok(j != NULL && json_object_object_get_ex(j, "metadata", &v) &&
	       strcmp(json_object_get_string(v), "meta=1") == 0,
	   "notify: metadata");
	ok(j != NULL && json_object_object_get_ex(j, "state", &v) && json_object_object_get_ex(v, "id", &v) &&
	       strcmp(json_object_get_string(v), "c1") == 0,
	   "notify: state is the container's state");
	json_object_put(j);

	ok(nfd >= 0 && answer(nfd, pid, EXDEV), "notify: first mkdir is seen and refused with EXDEV");
	ok(nfd >= 0 && answer(nfd, pid, 0), "notify: second mkdir is seen and continued");
	n = fs_read_all(p[0], text, sizeof(text) - 1);
	text[n > 0 ? n : 0] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	is_str(text, "mkdir1=-1/18 mkdir2=0/0 done=0/0", "notify: the child sees the agent's answers");
	snprintf(doc, sizeof(doc), "%s/second", dir);
	ok(access(doc, F_OK) == 0, "notify: the continued mkdir made its directory");
	rmdir(doc);
	rmdir(dir);
	unlink(listener);
	seccomp_filter_free(f);
}

int main(void)
{
	alarm(60);
	if (mkdtemp(scratch) == NULL) {
		printf("Bail out! mkdtemp: %s\n", strerror(errno));
		return 1;
	}
	test_errno_actions();
	test_default_errno();
	test_no_nnp();
	test_kill_and_trap();
	test_operators();
	test_argument_rules();
	test_names_archs_flags();
	test_errors();
	test_feature_lists();
	test_notify();
	rmdir(scratch);
	return tap_done();
}
