/* Small public helpers: error accessors, signal names, the default spec. */
#include "berth/berth.h"
#include "util/cleanup.h"
#include "util/error.h"

#include <ctype.h>
#include <errno.h>
#include <json-c/json.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

const char *berth_error_message(berth_error_t err)
{
	return err != NULL ? err->msg : "";
}

int berth_error_code(berth_error_t err)
{
	return err != NULL ? err->code : 0;
}

static const struct {
	const char *name;
	int number;
} signal_names[] = {
    {"HUP", SIGHUP},   {"INT", SIGINT},       {"QUIT", SIGQUIT}, {"ILL", SIGILL},     {"TRAP", SIGTRAP},
    {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},   {"FPE", SIGFPE},     {"KILL", SIGKILL},
    {"USR1", SIGUSR1}, {"SEGV", SIGSEGV},     {"USR2", SIGUSR2}, {"PIPE", SIGPIPE},   {"ALRM", SIGALRM},
    {"TERM", SIGTERM}, {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},   {"STOP", SIGSTOP},
    {"TSTP", SIGTSTP}, {"TTIN", SIGTTIN},     {"TTOU", SIGTTOU}, {"URG", SIGURG},     {"XCPU", SIGXCPU},
    {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF}, {"WINCH", SIGWINCH}, {"IO", SIGIO},
    {"POLL", SIGPOLL}, {"PWR", SIGPWR},       {"SYS", SIGSYS},
};

int berth_signal_parse(const char *name, int *signal_out, berth_error_t *err)
{
	const char *bare = name;
	char *end;
	long n;

	if (name == NULL || *name == '\0')
		return berth_error_invalid(err, "invalid signal ``");
	n = strtol(name, &end, 10);
	if (*end == '\0' && isdigit((unsigned char)*name)) {
		if (n <= 0 || n > SIGRTMAX)
			return berth_error_invalid(err, "invalid signal `%s`", name);
		*signal_out = (int)n;
		return 0;
	}
	if (strncasecmp(bare, "SIG", 3) == 0)
		bare += 3;
	for (size_t i = 0; i < sizeof(signal_names) / sizeof(signal_names[0]); i++) {
		if (strcasecmp(bare, signal_names[i].name) == 0) {
			*signal_out = signal_names[i].number;
			return 0;
		}
	}
	/* RTMIN, RTMIN+n, RTMAX-n */
	if (strncasecmp(bare, "RTMIN", 5) == 0 || strncasecmp(bare, "RTMAX", 5) == 0) {
		int base = strncasecmp(bare, "RTMIN", 5) == 0 ? SIGRTMIN : SIGRTMAX;
		long off = 0;
		if (bare[5] != '\0') {
			off = strtol(bare + 5, &end, 10);
			if (*end != '\0')
				return berth_error_invalid(err, "invalid signal `%s`", name);
		}
		if (base + off < SIGRTMIN || base + off > SIGRTMAX)
			return berth_error_invalid(err, "invalid signal `%s`", name);
		*signal_out = (int)(base + off);
		return 0;
	}
	return berth_error_invalid(err, "invalid signal `%s`", name);
}

/* The default config, as runc's `spec` writes it (hostname aside). */
static const char default_spec[] =
    "{\"ociVersion\":\"1.2.0\","
    "\"process\":{\"terminal\":true,\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"sh\"],"
    "\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"TERM=xterm\"],"
    "\"cwd\":\"/\","
    "\"capabilities\":{\"bounding\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
    "\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
    "\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
    "\"ambient\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]},"
    "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],"
    "\"noNewPrivileges\":true},"
    "\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
    "\"hostname\":\"berth\","
    "\"mounts\":["
    "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
    "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
    "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
    "\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
    "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
    "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\","
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
    "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
    "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\","
    "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}],"
    "\"linux\":{\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
    "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},"
    "{\"type\":\"mount\"},{\"type\":\"cgroup\"}],"
    "\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\",\"/proc/latency_stats\","
    "\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\",\"/sys/firmware\",\"/proc/scsi\"],"
    "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]}}";

static json_object *id_mapping(unsigned int host_id)
{
	json_object *list = json_object_new_array(), *m = json_object_new_object();
	json_object_object_add(m, "containerID", json_object_new_int(0));
	json_object_object_add(m, "hostID", json_object_new_int64(host_id));
	json_object_object_add(m, "size", json_object_new_int(1));
	json_object_array_add(list, m);
	return list;
}

/* As runc's --rootless: a user namespace mapping us to root, no network or
 * cgroup namespace of our own (we may not configure them), /sys bound from
 * the host, no devpts gid we cannot map, no resources. */
static void make_rootless(json_object *spec)
{
	json_object *linux_, *namespaces, *mounts, *kept = json_object_new_array();

	json_object_object_get_ex(spec, "linux", &linux_);
	json_object_object_del(linux_, "resources");
	json_object_object_get_ex(linux_, "namespaces", &namespaces);
	for (size_t i = 0; i < json_object_array_length(namespaces); i++) {
		json_object *ns = json_object_array_get_idx(namespaces, i), *type;
		json_object_object_get_ex(ns, "type", &type);
		if (strcmp(json_object_get_string(type), "network") != 0 &&
		    strcmp(json_object_get_string(type), "cgroup") != 0)
			json_object_array_add(kept, json_object_get(ns));
	}
	{
		json_object *user = json_object_new_object();
		json_object_object_add(user, "type", json_object_new_string("user"));
		json_object_array_add(kept, user);
	}
	json_object_object_add(linux_, "namespaces", kept);
	json_object_object_add(linux_, "uidMappings", id_mapping(geteuid()));
	json_object_object_add(linux_, "gidMappings", id_mapping(getegid()));
	json_object_object_get_ex(spec, "mounts", &mounts);
	for (size_t i = json_object_array_length(mounts); i-- > 0;) {
		json_object *m = json_object_array_get_idx(mounts, i), *dest;
		json_object_object_get_ex(m, "destination", &dest);
		if (strcmp(json_object_get_string(dest), "/sys/fs/cgroup") == 0) {
			json_object_array_del_idx(mounts, i, 1);
		} else if (strcmp(json_object_get_string(dest), "/sys") == 0) {
			json_object *opts = json_object_new_array();
			const char *o[] = {"rbind", "nosuid", "noexec", "nodev", "ro"};
			for (size_t k = 0; k < sizeof(o) / sizeof(o[0]); k++)
				json_object_array_add(opts, json_object_new_string(o[k]));
			json_object_object_add(m, "type", json_object_new_string("none"));
			json_object_object_add(m, "source", json_object_new_string("/sys"));
			json_object_object_add(m, "options", opts);
		} else if (strcmp(json_object_get_string(dest), "/dev/pts") == 0) {
			json_object *opts, *kept_opts = json_object_new_array();
			json_object_object_get_ex(m, "options", &opts);
			for (size_t k = 0; k < json_object_array_length(opts); k++) {
				json_object *o = json_object_array_get_idx(opts, k);
				if (strcmp(json_object_get_string(o), "gid=5") != 0)
					json_object_array_add(kept_opts, json_object_get(o));
			}
			json_object_object_add(m, "options", kept_opts);
		}
	}
}

int berth_spec_generate(bool rootless, char **json_out, berth_error_t *err)
{
	json_object *spec = json_tokener_parse(default_spec);

	if (spec == NULL)
		return berth_error_sys(err, ENOMEM, "default spec");
	if (rootless)
		make_rootless(spec);
	*json_out = strdup(json_object_to_json_string_ext(
	    spec, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(spec);
	if (*json_out == NULL)
		return berth_error_sys(err, ENOMEM, "default spec");
	return 0;
}

_Static_assert((int)BERTH_ERROR_NOT_FOUND == (int)BERTH_ERR_NOT_FOUND &&
                   (int)BERTH_ERROR_EXISTS == (int)BERTH_ERR_EXISTS &&
                   (int)BERTH_ERROR_STATE == (int)BERTH_ERR_STATE &&
                   (int)BERTH_ERROR_UNSUPPORTED == (int)BERTH_ERR_UNSUPPORTED,
               "public error codes match the library's");
