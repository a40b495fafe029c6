/* Unit tests for oci-spec/runtime_spec.c: config.json, process.json, state
 * and features parsing, validation messages and round trips. */
#include "../tap.h"
#include "runtime_spec.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

/* JSON written with single quotes, to keep the C strings readable. */
static char *q(const char *s)
{
	char *r = strdup(s);

	for (char *p = r; p != NULL && *p != '\0'; p++)
		if (*p == '\'')
			*p = '"';
	return r;
}

static char *fixture(const char *name, size_t *len)
{
	const char *srcdir = getenv("BERTH_SRCDIR");
	cleanup_free char *path = NULL;
	char *text = NULL;
	berth_error_t err = NULL;

	if (asprintf(&path, "%s/tests/unit/data/%s", srcdir != NULL ? srcdir : ".", name) < 0)
		return NULL;
	if (fs_read_file_at(AT_FDCWD, path, &text, len, &err) < 0) {
		printf("# %s\n", err->msg);
		berth_error_free(&err);
		return NULL;
	}
	return text;
}

/* Two JSON texts with the same content, whatever the key order and layout. */
static bool same_json(const char *a, const char *b)
{
	json_object *ja = json_tokener_parse(a), *jb = json_tokener_parse(b);
	bool same = ja != NULL && jb != NULL && json_object_equal(ja, jb);

	json_object_put(ja);
	json_object_put(jb);
	return same;
}

/* ---- the full config ---- */

static void check_full_process(const struct oci_process *p)
{
	ok(p->terminal && p->has_console_size && p->console_size.height == 24 && p->console_size.width == 80,
	   "process: terminal and console size");
	ok(p->user.uid == 1000 && p->user.gid == 1000 && p->user.umask.set && p->user.umask.value == 18,
	   "process.user: uid, gid, umask");
	ok(p->user.additional_gids_len == 3 && p->user.additional_gids[2] == UINT32_MAX,
	   "process.user.additionalGids keeps 4294967295");
	is_str(p->user.username, "app", "process.user.username");
	ok(p->args_len == 3 && p->args[3] == NULL, "process.args: counted and NULL-terminated");
	is_str(p->args[2], "echo hi", "process.args[2]");
	is_str(p->command_line, "sh -c \"echo hi\"", "process.commandLine");
	ok(p->env_len == 2 && p->env[2] == NULL, "process.env: counted and NULL-terminated");
	is_str(p->env[0], "PATH=/usr/bin:/bin", "process.env[0]");
	is_str(p->cwd, "/home/app", "process.cwd");
	ok(p->has_capabilities && p->capabilities.has_bounding && p->capabilities.bounding_len == 2,
	   "process.capabilities.bounding");
	ok(p->capabilities.has_ambient && p->capabilities.ambient_len == 0 &&
	       p->capabilities.ambient != NULL && p->capabilities.ambient[0] == NULL,
	   "an empty capability set is present and empty");
	ok(p->rlimits_len == 2 && p->rlimits[1].hard == UINT64_MAX && p->rlimits[1].soft == 0,
	   "process.rlimits keeps 18446744073709551615");
	is_str(p->rlimits[0].type, "RLIMIT_NOFILE", "process.rlimits[0].type");
	ok(p->no_new_privileges, "process.noNewPrivileges");
	ok(p->oom_score_adj.set && p->oom_score_adj.value == -500, "process.oomScoreAdj is -500");
	is_str(p->apparmor_profile, "berth-default", "process.apparmorProfile");
	is_str(p->selinux_label, "system_u:system_r:container_t:s0", "process.selinuxLabel");
	ok(p->io_priority != NULL && p->io_priority->priority == 4, "process.ioPriority.priority");
	is_str(p->io_priority ? p->io_priority->class : NULL, "IOPRIO_CLASS_BE", "process.ioPriority.class");
	ok(p->scheduler != NULL && p->scheduler->nice.set && p->scheduler->nice.value == -5 &&
	       p->scheduler->priority.set && p->scheduler->priority.value == 0 &&
	       p->scheduler->flags_len == 2 && p->scheduler->runtime.value == 10000000 &&
	       p->scheduler->period.value == 30000000,
	   "process.scheduler");
	is_str(p->exec_cpu_affinity ? p->exec_cpu_affinity->final : NULL, "1-3",
	       "process.execCPUAffinity.final");
}

static void check_full_resources(const struct oci_resources *r)
{
	const struct oci_memory *m = r->memory;
	const struct oci_cpu *cpu = r->cpu;

	ok(r->devices_len == 2 && !r->devices[0].allow && r->devices[0].type == NULL &&
	       !r->devices[0].major.set && r->devices[1].allow && r->devices[1].major.value == 10 &&
	       r->devices[1].minor.value == 229,
	   "resources.devices");
	ok(m != NULL && m->limit.set && m->limit.value == -1, "memory.limit is -1");
	ok(m != NULL && m->reservation.value == INT64_MAX && m->swap.value == INT64_MIN,
	   "memory: int64 extremes stay exact");
	ok(m != NULL && m->kernel.set && m->kernel.value == 0, "memory.kernel 0 is set, not absent");
	ok(m != NULL && m->swappiness.set && m->swappiness.value == UINT64_MAX,
	   "memory.swappiness as uint64");
	ok(m != NULL && m->disable_oom_killer.set && !m->disable_oom_killer.value && m->use_hierarchy.value,
	   "memory booleans");
	ok(cpu != NULL && cpu->quota.value == -1 && cpu->shares.value == 1024 && cpu->idle.value == 1 &&
	       cpu->realtime_period.value == 1000000,
	   "cpu");
	is_str(cpu ? cpu->cpus : NULL, "0-3", "cpu.cpus");
	ok(r->has_pids && r->pids_limit.set && r->pids_limit.value == 32771, "pids.limit");
	ok(r->block_io != NULL && r->block_io->weight.value == 500 &&
	       r->block_io->leaf_weight.value == 65535 && r->block_io->weight_device_len == 2 &&
	       !r->block_io->weight_device[1].weight.set &&
	       r->block_io->throttle_write_bps_device[0].rate == UINT64_MAX &&
	       r->block_io->throttle_write_iops_device[0].minor == 16,
	   "blockIO");
	ok(r->hugepage_limits_len == 1 && r->hugepage_limits[0].limit == 9223372036854772000ULL,
	   "hugepageLimits");
	ok(r->network != NULL && r->network->class_id.value == 1048577 &&
	       r->network->priorities[0].priority == 500,
	   "network");
	ok(r->rdma_len == 2 && r->rdma[1].hca_handles.value == 1 && !r->rdma[1].hca_objects.set, "rdma");
	is_str(r->rdma_len == 2 ? r->rdma[0].device : NULL, "mlx5_1", "rdma keeps document order");
	ok(r->unified_len == 2, "unified");
	is_str(r->unified_len == 2 ? r->unified[1].value : NULL, "8:0 rbps=1048576", "unified[1]");
}

static void check_full_linux(const struct oci_linux *l)
{
	const struct oci_seccomp *sc = l->seccomp;

	ok(l->namespaces_len == 8 && l->namespaces[1].type == OCI_NS_NETWORK &&
	       l->namespaces[7].type == OCI_NS_TIME,
	   "linux.namespaces");
	is_str(l->namespaces[1].path, "/var/run/netns/box", "linux.namespaces[1].path");
	ok(l->uid_mappings_len == 1 && l->uid_mappings[0].host_id == 1000 && l->gid_mappings_len == 1,
	   "linux id mappings");
	ok(l->time_offsets_len == 2 && l->time_offsets[0].secs == -86400 &&
	       l->time_offsets[0].nanosecs == 500 && l->time_offsets[1].secs == INT64_MAX,
	   "linux.timeOffsets");
	is_str(l->time_offsets[1].clock, "boottime", "timeOffsets key goes to clock");
	ok(l->devices_len == 2 && l->devices[0].major == 10 && l->devices[0].file_mode.value == 0666 &&
	       l->devices[0].uid.set && !l->devices[1].uid.set,
	   "linux.devices");
	is_str(l->rootfs_propagation, "rslave", "linux.rootfsPropagation");
	ok(sc != NULL && sc->default_errno_ret.value == 1 && sc->architectures_len == 2 &&
	       sc->syscalls_len == 2,
	   "seccomp");
	ok(sc != NULL && sc->syscalls[1].errno_ret.set && sc->syscalls[1].args_len == 7 &&
	       sc->syscalls[1].args[0].value == UINT64_MAX && sc->syscalls[1].args[0].op == OCI_SCMP_CMP_EQ,
	   "seccomp arg value 18446744073709551615 is exact");
	ok(sc != NULL && sc->syscalls[1].args[1].op == OCI_SCMP_CMP_MASKED_EQ &&
	       sc->syscalls[1].args[1].value_two == 8 && sc->syscalls[1].args[2].op == OCI_SCMP_CMP_NE &&
	       sc->syscalls[1].args[6].op == OCI_SCMP_CMP_GT,
	   "seccomp operators map to enum oci_seccomp_op");
	is_str(sc ? sc->listener_path : NULL, "/run/seccomp.sock", "seccomp.listenerPath");
	ok(l->sysctl_len == 2, "linux.sysctl");
	is_str(l->sysctl[0].key, "net.ipv4.ip_forward", "sysctl key");
	ok(l->masked_paths_len == 2 && l->masked_paths[2] == NULL && l->readonly_paths_len == 1,
	   "masked, readonly");
	ok(l->intel_rdt != NULL && l->intel_rdt->enable_cmt.value && l->intel_rdt->enable_mbm.set &&
	       !l->intel_rdt->enable_mbm.value,
	   "intelRdt");
	ok(l->personality != NULL && l->personality->flags != NULL && l->personality->flags_len == 0,
	   "personality with empty flags");
	if (l->resources != NULL)
		check_full_resources(l->resources);
	else
		ok(0, "linux.resources present");
}

static void check_full(const struct oci_spec *s, const char *when)
{
	printf("# checking the full config (%s)\n", when);
	is_str(s->oci_version, "1.2.0", "ociVersion");
	ok(s->root != NULL && s->root->readonly, "root.readonly");
	ok(s->mounts_len == 2 && s->mounts[0].options == NULL && s->mounts[1].options_len == 3 &&
	       s->mounts[1].uid_mappings[0].host_id == 100000 && s->mounts[1].gid_mappings[0].size == 65536,
	   "mounts");
	is_str(s->hostname, "box", "hostname");
	ok(s->has_hooks && s->hooks.prestart_len == 1 && s->hooks.create_runtime[0].timeout.value == 5 &&
	       s->hooks.create_runtime[0].args_len == 2 && s->hooks.poststop[0].timeout.value == 60 &&
	       !s->hooks.prestart[0].timeout.set,
	   "hooks");
	ok(s->annotations_len == 2, "annotations");
	is_str(s->annotations[0].key, "org.example.b", "annotations keep document order");
	if (s->process != NULL)
		check_full_process(s->process);
	else
		ok(0, "process present");
	if (s->linux_ != NULL)
		check_full_linux(s->linux_);
	else
		ok(0, "linux present");
}

static void test_full_config(void)
{
	cleanup_free char *text = NULL, *pretty = NULL, *compact = NULL, *again = NULL;
	struct oci_spec *spec = NULL, *reparsed = NULL;
	berth_error_t err = NULL;
	size_t len = 0;

	text = fixture("config-full.json", &len);
	ok(text != NULL, "read the full config fixture");
	if (text == NULL)
		return;
	ok(oci_spec_parse(text, len, "config.json", &spec, &err) == 0, "parse the full config");
	if (spec == NULL) {
		printf("# %s\n", err->msg);
		berth_error_free(&err);
		return;
	}
	check_full(spec, "parsed");

	pretty = oci_spec_to_json(spec, true, &err);
	ok(pretty != NULL && strchr(pretty, '\n') != NULL, "serialise pretty");
	ok(pretty != NULL && same_json(pretty, text), "serialised JSON equals the input document");
	ok(pretty != NULL && strstr(pretty, "\"/proc\"") != NULL, "no escaped slashes");
	compact = oci_spec_to_json(spec, false, &err);
	ok(compact != NULL && strchr(compact, '\n') == NULL, "serialise compact");

	ok(pretty != NULL && oci_spec_parse(pretty, strlen(pretty), "config.json", &reparsed, &err) == 0,
	   "parse the serialised config");
	if (reparsed != NULL) {
		check_full(reparsed, "round trip");
		again = oci_spec_to_json(reparsed, false, &err);
		is_str(again, compact, "a second round trip gives the same text");
	}
	oci_spec_free(reparsed);
	oci_spec_free(spec);
	berth_error_free(&err);
}

static void test_minimal_config(void)
{
	cleanup_free char *doc = q("{'ociVersion': '1.0.2', 'vm': {'hypervisor': {}}, 'process': null, "
	                           "'linux': {'unknownKey': [1, 2]}, 'windows': 5}");
	cleanup_free char *lenient =
	    q("{'ociVersion': '1.2.0', 'x': [1e400, 123456789012345678901234567890, "
	      "'99999999999999999999999'], 'linux': {'devices': [{'type': 'p', 'path': "
	      "'/dev/fifo'}]}}");
	cleanup_free char *out = NULL;
	struct oci_spec *spec = NULL;
	berth_error_t err = NULL;

	ok(oci_spec_parse(doc, strlen(doc), "config.json", &spec, &err) == 0,
	   "unknown keys are ignored and null counts as absent");
	if (spec == NULL)
		return;
	ok(spec->process == NULL && spec->root == NULL && spec->mounts == NULL && !spec->has_hooks,
	   "absent members stay NULL");
	ok(spec->linux_ != NULL && spec->linux_->namespaces == NULL && spec->linux_->resources == NULL,
	   "an empty linux object");
	ok(oci_spec_namespace(spec, OCI_NS_PID) == NULL, "no pid namespace");
	out = oci_spec_to_json(spec, false, &err);
	is_str(out, "{\"ociVersion\":\"1.0.2\",\"linux\":{}}", "only present members are written");
	oci_spec_free(spec);
	spec = NULL;

	ok(oci_spec_parse(lenient, strlen(lenient), "config.json", &spec, &err) == 0,
	   "a fifo needs no major/minor; huge numbers in unknown keys are fine");
	ok(spec != NULL && spec->linux_->devices_len == 1 && spec->linux_->devices[0].major == 0,
	   "fifo device");
	oci_spec_free(spec);
	berth_error_free(&err);
}

/* ---- invalid documents ---- */

static const struct {
	const char *doc;
	const char *error;
} invalid_configs[] = {
    {"{}", "config.json: .ociVersion: required"},
    {"{'ociVersion': null}", "config.json: .ociVersion: required"},
    {"{'ociVersion': 1}", "config.json: .ociVersion: expected a string"},
    {"{'ociVersion': '1', 'process': []}", "config.json: .process: expected an object"},
    {"{'ociVersion': '1', 'process': {'args': 'sh', 'cwd': '/'}}",
     "config.json: .process.args: expected an array of strings"},
    {"{'ociVersion': '1', 'process': {'args': ['sh', 1], 'cwd': '/'}}",
     "config.json: .process.args: expected an array of strings"},
    {"{'ociVersion': '1', 'process': {'args': [], 'cwd': '/'}}",
     "config.json: .process.args: expected a non-empty array of strings"},
    {"{'ociVersion': '1', 'process': {'cwd': '/'}}", "config.json: .process.args: required"},
    {"{'ociVersion': '1', 'process': {'args': ['a\\u0000b'], 'cwd': '/'}}",
     "config.json: .process.args[0]: expected a string without NUL bytes"},
    {"{'ociVersion': '1', 'process': {'args': ['sh']}}", "config.json: .process.cwd: required"},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': 'home'}}",
     "config.json: .process.cwd: expected an absolute path"},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'terminal': 'yes'}}",
     "config.json: .process.terminal: expected a boolean"},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'consoleSize': {'height': 1}}}",
     "config.json: .process.consoleSize.width: required"},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'user': {'uid': -1, 'gid': 0}}}",
     "config.json: .process.user.uid: expected an unsigned 32-bit integer"},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'user': {'uid': 4294967296, 'gid': 0}}}",
     "config.json: .process.user.uid: expected an unsigned 32-bit integer"},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'user': {'uid': 1.5, 'gid': 0}}}",
     "config.json: .process.user.uid: expected an unsigned 32-bit integer"},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'user': {'uid': '0', 'gid': 0}}}",
     "config.json: .process.user.uid: expected an unsigned 32-bit integer"},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'user': {'uid': 0}}}",
     "config.json: .process.user.gid: required"},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'user': {'uid': 0, 'gid': 0, "
     "'additionalGids': [1, 'x']}}}",
     "config.json: .process.user.additionalGids[1]: expected an unsigned 32-bit integer"},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'capabilities': {'bounding': 'CAP_KILL'}}}",
     "config.json: .process.capabilities.bounding: expected an array of strings"},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'rlimits': [{'type': 'RLIMIT_FOO', 'hard': "
     "1, "
     "'soft': 1}]}}",
     "config.json: .process.rlimits[0].type: unknown rlimit type \"RLIMIT_FOO\""},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'rlimits': [{'type': 'RLIMIT_NOFILE', "
     "'hard': 1, 'soft': 1}, {'type': 'RLIMIT_CORE', 'hard': 1, 'soft': 1}, {'type': 'RLIMIT_NOFILE', "
     "'hard': "
     "2, 'soft': 2}]}}",
     "config.json: .process.rlimits[2].type: duplicate rlimit type \"RLIMIT_NOFILE\""},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'rlimits': [{'type': 'RLIMIT_NOFILE', "
     "'hard': -1, 'soft': 1}]}}",
     "config.json: .process.rlimits[0].hard: expected a non-negative integer"},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'rlimits': [{'type': 'RLIMIT_NOFILE', "
     "'hard': 1}]}}",
     "config.json: .process.rlimits[0].soft: required"},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'oomScoreAdj': 2147483648}}",
     "config.json: .process.oomScoreAdj: expected a 32-bit integer"},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'ioPriority': {'class': 'IOPRIO_CLASS_X', "
     "'priority': 1}}}",
     "config.json: .process.ioPriority.class: unknown I/O priority class \"IOPRIO_CLASS_X\""},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'scheduler': {'policy': 'SCHED_FOO'}}}",
     "config.json: .process.scheduler.policy: unknown scheduler policy \"SCHED_FOO\""},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'scheduler': {'policy': 'SCHED_RR', "
     "'flags': ['SCHED_FLAG_RECLAIM', 'SCHED_FLAG_X']}}}",
     "config.json: .process.scheduler.flags[1]: unknown scheduler flag \"SCHED_FLAG_X\""},
    {"{'ociVersion': '1', 'process': {'args': ['sh'], 'cwd': '/', 'scheduler': {'policy': 'SCHED_RR', "
     "'runtime': -1}}}",
     "config.json: .process.scheduler.runtime: expected a non-negative integer"},
    {"{'ociVersion': '1', 'root': {'readonly': true}}", "config.json: .root.path: required"},
    {"{'ociVersion': '1', 'mounts': {}}", "config.json: .mounts: expected an array"},
    {"{'ociVersion': '1', 'mounts': [1]}", "config.json: .mounts[0]: expected an object"},
    {"{'ociVersion': '1', 'mounts': [{'destination': '/a'}, {'type': 'proc'}]}",
     "config.json: .mounts[1].destination: required"},
    {"{'ociVersion': '1', 'mounts': [{'destination': '/a', 'uidMappings': [{'containerID': 0, 'hostID': "
     "1}]}]}",
     "config.json: .mounts[0].uidMappings[0].size: required"},
    {"{'ociVersion': '1', 'hooks': {'prestart': [{'path': 'bin/hook'}]}}",
     "config.json: .hooks.prestart[0].path: expected an absolute path"},
    {"{'ociVersion': '1', 'hooks': {'poststop': [{'path': '/h', 'timeout': 0}]}}",
     "config.json: .hooks.poststop[0].timeout: expected a positive integer"},
    {"{'ociVersion': '1', 'hooks': {'createRuntime': [{'path': '/h'}, {'path': '/h', 'timeout': -3}]}}",
     "config.json: .hooks.createRuntime[1].timeout: expected a positive integer"},
    {"{'ociVersion': '1', 'annotations': []}", "config.json: .annotations: expected an object"},
    {"{'ociVersion': '1', 'annotations': {'a': 1}}", "config.json: .annotations.a: expected a string"},
    {"{'ociVersion': '1', 'annotations': {'org.example': null}}",
     "config.json: .annotations[\"org.example\"]: expected a string"},
    {"{'ociVersion': '1', 'linux': 'x'}", "config.json: .linux: expected an object"},
    {"{'ociVersion': '1', 'linux': {'namespaces': [{'type': 'pid'}, {'type': 'mount'}, {'type': 'foo'}]}}",
     "config.json: .linux.namespaces[2].type: unknown namespace type \"foo\""},
    {"{'ociVersion': '1', 'linux': {'namespaces': [{'type': 'pid'}, {'type': 'pid', 'path': "
     "'/proc/1/ns/pid'}]}}",
     "config.json: .linux.namespaces[1].type: duplicate namespace type \"pid\""},
    {"{'ociVersion': '1', 'linux': {'namespaces': [{'type': 1}]}}",
     "config.json: .linux.namespaces[0].type: expected a string"},
    {"{'ociVersion': '1', 'linux': {'namespaces': [{'path': '/x'}]}}",
     "config.json: .linux.namespaces[0].type: required"},
    {"{'ociVersion': '1', 'linux': {'timeOffsets': []}}",
     "config.json: .linux.timeOffsets: expected an object"},
    {"{'ociVersion': '1', 'linux': {'timeOffsets': {'realtime': {'secs': 1}}}}",
     "config.json: .linux.timeOffsets.realtime: unknown time offset clock \"realtime\""},
    {"{'ociVersion': '1', 'linux': {'timeOffsets': {'monotonic': {'secs': 'x'}}}}",
     "config.json: .linux.timeOffsets.monotonic.secs: expected an integer"},
    {"{'ociVersion': '1', 'linux': {'devices': [{'type': 'x', 'path': '/dev/x'}]}}",
     "config.json: .linux.devices[0].type: unknown device type \"x\""},
    {"{'ociVersion': '1', 'linux': {'devices': [{'type': 'c', 'path': '/dev/x', 'minor': 1}]}}",
     "config.json: .linux.devices[0].major: required for device type \"c\""},
    {"{'ociVersion': '1', 'linux': {'devices': [{'type': 'b', 'path': 'dev/x', 'major': 1, 'minor': 1}]}}",
     "config.json: .linux.devices[0].path: expected an absolute path"},
    {"{'ociVersion': '1', 'linux': {'rootfsPropagation': 'bogus'}}",
     "config.json: .linux.rootfsPropagation: unknown rootfs propagation \"bogus\""},
    {"{'ociVersion': '1', 'linux': {'resources': {'memory': {'limit': 'x'}}}}",
     "config.json: .linux.resources.memory.limit: expected an integer"},
    {"{'ociVersion': '1', 'linux': {'resources': {'memory': {'limit': 9223372036854775808}}}}",
     "config.json: .linux.resources.memory.limit: expected an integer"},
    {"{'ociVersion': '1', 'linux': {'resources': {'memory': {'swap': -9223372036854775809}}}}",
     "config.json: .linux.resources.memory.swap: expected an integer"},
    {"{'ociVersion': '1', 'linux': {'resources': {'memory': {'swappiness': -1}}}}",
     "config.json: .linux.resources.memory.swappiness: expected a non-negative integer"},
    {"{'ociVersion': '1', 'linux': {'resources': {'memory': {'disableOOMKiller': 1}}}}",
     "config.json: .linux.resources.memory.disableOOMKiller: expected a boolean"},
    {"{'ociVersion': '1', 'linux': {'resources': {'pids': 5}}}",
     "config.json: .linux.resources.pids: expected an object"},
    {"{'ociVersion': '1', 'linux': {'resources': {'pids': {'limit': 'max'}}}}",
     "config.json: .linux.resources.pids.limit: expected an integer"},
    {"{'ociVersion': '1', 'linux': {'resources': {'blockIO': {'weight': 65536}}}}",
     "config.json: .linux.resources.blockIO.weight: expected an unsigned 16-bit integer"},
    {"{'ociVersion': '1', 'linux': {'resources': {'blockIO': {'throttleReadBpsDevice': [{'major': 8, "
     "'minor': 0}]}}}}",
     "config.json: .linux.resources.blockIO.throttleReadBpsDevice[0].rate: required"},
    {"{'ociVersion': '1', 'linux': {'resources': {'devices': [{'access': 'rwm'}]}}}",
     "config.json: .linux.resources.devices[0].allow: required"},
    {"{'ociVersion': '1', 'linux': {'resources': {'devices': [{'allow': true, 'type': 'p'}]}}}",
     "config.json: .linux.resources.devices[0].type: unknown device cgroup type \"p\""},
    {"{'ociVersion': '1', 'linux': {'resources': {'rdma': {'mlx5_1': {'hcaHandles': -1}}}}}",
     "config.json: .linux.resources.rdma.mlx5_1.hcaHandles: expected an unsigned 32-bit integer"},
    {"{'ociVersion': '1', 'linux': {'resources': {'unified': {'memory.max': 5}}}}",
     "config.json: .linux.resources.unified[\"memory.max\"]: expected a string"},
    {"{'ociVersion': '1', 'linux': {'sysctl': ['a=b']}}", "config.json: .linux.sysctl: expected an object"},
    {"{'ociVersion': '1', 'linux': {'seccomp': {'syscalls': []}}}",
     "config.json: .linux.seccomp.defaultAction: required"},
    {"{'ociVersion': '1', 'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'action': "
     "'SCMP_ACT_ERRNO'}]}}}",
     "config.json: .linux.seccomp.syscalls[0].names: required"},
    {"{'ociVersion': '1', 'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': "
     "['kill'], 'action': 'SCMP_ACT_ERRNO', 'args': [{'index': 0, 'value': 1, 'op': 'SCMP_CMP_FOO'}]}]}}}",
     "config.json: .linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator \"SCMP_CMP_FOO\""},
    {"{'ociVersion': '1', 'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': "
     "['kill'], 'action': 'SCMP_ACT_ERRNO', 'args': [{'index': 0, 'value': -1, 'op': 'SCMP_CMP_EQ'}]}]}}}",
     "config.json: .linux.seccomp.syscalls[0].args[0].value: expected a non-negative integer"},
    {"{'ociVersion': '1', 'linux': {'seccomp': {'defaultAction': 'SCMP_ACT_ALLOW', 'syscalls': [{'names': "
     "['kill'], 'action': 'SCMP_ACT_ERRNO', 'args': [{'index': 0, 'value': 18446744073709551616, 'op': "
     "'SCMP_CMP_EQ'}]}]}}}",
     "config.json: .linux.seccomp.syscalls[0].args[0].value: expected a non-negative integer"},
    {"{'ociVersion': '1', 'linux': {'personality': {'domain': 'LINUX64'}}}",
     "config.json: .linux.personality.domain: unknown personality domain \"LINUX64\""},
    {"{'ociVersion': '1', 'linux': {'intelRdt': {'enableCMT': 'yes'}}}",
     "config.json: .linux.intelRdt.enableCMT: expected a boolean"},
    {"[1, 2]", "config.json: expected a JSON object"},
    {"{'ociVersion': '1'} {}", "config.json: invalid JSON: unexpected character at line 1, column 21"},
    {"{'ociVersion': '1',\n 'process': {\n",
     "config.json: invalid JSON: unexpected end of input at line 3, column 1"},
    {"", "config.json: invalid JSON: unexpected end of input at line 1, column 1"},
};

static void test_invalid_configs(void)
{
	for (size_t i = 0; i < sizeof(invalid_configs) / sizeof(invalid_configs[0]); i++) {
		cleanup_free char *doc = q(invalid_configs[i].doc);
		struct oci_spec *spec = NULL;
		berth_error_t err = NULL;
		int r = oci_spec_parse(doc, strlen(doc), "config.json", &spec, &err);

		ok(r < 0 && spec == NULL && err != NULL && err->code == BERTH_ERR_INVALID,
		   "invalid config %zu is rejected", i);
		is_str(err != NULL ? err->msg : NULL, invalid_configs[i].error, "message: %s",
		       invalid_configs[i].error);
		oci_spec_free(spec);
		berth_error_free(&err);
	}
}

/* The syntax error names the place; json-c words the reason. */
static void test_syntax_error(void)
{
	const char *doc = "{\n  \"ociVersion\": \"1\",\n  oops\n}";
	struct oci_spec *spec = NULL;
	berth_error_t err = NULL;

	ok(oci_spec_parse(doc, strlen(doc), "config.json", &spec, &err) < 0, "a syntax error is rejected");
	ok(err != NULL && strncmp(err->msg, "config.json: invalid JSON: ", 27) == 0, "syntax error prefix");
	ok(err != NULL && strstr(err->msg, " at line 3, column 3") != NULL, "syntax error position");
	printf("# %s\n", err != NULL ? err->msg : "(no error)");
	berth_error_free(&err);
}

static void test_parse_file(void)
{
	char path[] = "/tmp/berth-test-spec-XXXXXX";
	const char bad[] = "{\"ociVersion\": \"1.2.0\", \"mounts\": [{}]}";
	cleanup_free char *want = NULL;
	struct oci_spec *spec = NULL;
	berth_error_t err = NULL;
	int fd = mkstemp(path);

	ok(fd >= 0 && write(fd, bad, sizeof(bad) - 1) == (ssize_t)(sizeof(bad) - 1), "write a config file");
	if (fd >= 0)
		close(fd);
	ok(oci_spec_parse_file(path, &spec, &err) < 0, "parse_file rejects a bad file");
	if (asprintf(&want, "%s: .mounts[0].destination: required", path) < 0)
		want = NULL;
	is_str(err != NULL ? err->msg : NULL, want, "parse_file errors name the file");
	berth_error_free(&err);
	unlink(path);

	ok(oci_spec_parse_file(path, &spec, &err) < 0 && err != NULL && err->code == BERTH_ERR_NOT_FOUND,
	   "a missing file is not found");
	ok(err != NULL && strstr(err->msg, path) != NULL, "and the error names it");
	berth_error_free(&err);
}

static void test_process(void)
{
	cleanup_free char *doc =
	    q("{'args': ['/bin/true'], 'cwd': '/', 'env': [], 'user': {'uid': 0, 'gid': 0}}");
	cleanup_free char *bad = q("{'args': ['/bin/true'], 'cwd': '/', 'rlimits': [{'type': 'RLIMIT_CPU', "
	                           "'hard': 1, 'soft': 1}, {'type': 'RLIMIT_CPU', 'hard': 1, 'soft': 1}]}");
	cleanup_free char *out = NULL;
	struct oci_process *p = NULL;
	berth_error_t err = NULL;

	ok(oci_process_parse(doc, strlen(doc), "process.json", &p, &err) == 0, "parse a process.json");
	ok(p != NULL && p->env != NULL && p->env_len == 0 && p->env[0] == NULL,
	   "an empty env is an empty vector");
	out = p != NULL ? oci_process_to_json(p, false, &err) : NULL;
	is_str(out, "{\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"/bin/true\"],\"env\":[],\"cwd\":\"/\"}",
	       "serialise a process");
	oci_process_free(p);
	p = NULL;

	ok(oci_process_parse(bad, strlen(bad), "process.json", &p, &err) < 0 && p == NULL,
	   "reject a bad process");
	is_str(err != NULL ? err->msg : NULL,
	       "process.json: .rlimits[1].type: duplicate rlimit type \"RLIMIT_CPU\"",
	       "process errors use the process origin and paths");
	berth_error_free(&err);
}

static void test_namespace_helpers(void)
{
	cleanup_free char *doc = q("{'ociVersion': '1', 'linux': {'namespaces': [{'type': 'user'}, "
	                           "{'type': 'network', 'path': '/run/netns/x'}]}}");
	struct oci_spec *spec = NULL;
	const struct oci_namespace *ns;
	berth_error_t err = NULL;
	bool names_ok = true;

	for (int t = 0; t < OCI_NS_COUNT; t++)
		names_ok = names_ok && oci_namespace_type_from_name(oci_namespace_type_name(t)) == t;
	ok(names_ok, "namespace names round trip");
	is_str(oci_namespace_type_name(OCI_NS_NETWORK), "network", "OCI_NS_NETWORK is network");
	ok(oci_namespace_type_name(OCI_NS_COUNT) == NULL, "no name past the last type");
	ok(oci_namespace_type_from_name("net") == -1 && oci_namespace_type_from_name(NULL) == -1,
	   "unknown names");

	ok(oci_spec_parse(doc, strlen(doc), "config.json", &spec, &err) == 0, "parse namespaces");
	ns = oci_spec_namespace(spec, OCI_NS_NETWORK);
	is_str(ns != NULL ? ns->path : NULL, "/run/netns/x",
	       "oci_spec_namespace finds the network namespace");
	ok(oci_spec_namespace(spec, OCI_NS_PID) == NULL, "and not an absent one");

	/* A bad enum value cannot be written. */
	spec->linux_->namespaces[0].type = (enum oci_namespace_type)42;
	ok(oci_spec_to_json(spec, false, &err) == NULL && err != NULL,
	   "an invalid namespace type is not written");
	berth_error_free(&err);
	oci_spec_free(spec);
}

/* ---- state ---- */

static void test_state(void)
{
	struct oci_kv annotations[] = {{(char *)"org.example", (char *)"yes"}};
	struct oci_state state = {
	    .oci_version = (char *)"1.2.0",
	    .id = (char *)"abc",
	    .status = (char *)"created",
	    .pid = 4242,
	    .bundle = (char *)"/run/bundles/abc",
	    .annotations = annotations,
	    .annotations_len = 1,
	};
	const char *want = "{\"ociVersion\":\"1.2.0\",\"id\":\"abc\",\"status\":\"created\",\"pid\":4242,"
	                   "\"bundle\":\"/run/bundles/abc\",\"annotations\":{\"org.example\":\"yes\"}}";
	cleanup_free char *out = oci_state_to_json(&state, false, NULL);
	cleanup_free char *out2 = NULL, *stopped_out = NULL;
	cleanup_free char *no_pid =
	    q("{'ociVersion': '1.2.0', 'id': 'a', 'status': 'running', 'bundle': '/b'}");
	cleanup_free char *bad_status =
	    q("{'ociVersion': '1.2.0', 'id': 'a', 'status': 'paused', 'bundle': '/b'}");
	struct oci_state *parsed = NULL;
	berth_error_t err = NULL;

	is_str(out, want, "serialise a state");
	ok(out != NULL && oci_state_parse(out, strlen(out), "state.json", &parsed, &err) == 0,
	   "parse it back");
	if (parsed != NULL) {
		ok(parsed->pid == 4242 && parsed->annotations_len == 1, "state pid and annotations");
		is_str(parsed->bundle, "/run/bundles/abc", "state bundle");
		out2 = oci_state_to_json(parsed, true, &err);
		ok(out2 != NULL && same_json(out2, want), "state round trip");
		oci_state_free(parsed);
	}

	state.status = (char *)"stopped";
	state.pid = 0;
	state.annotations = NULL;
	state.annotations_len = 0;
	stopped_out = oci_state_to_json(&state, false, NULL);
	is_str(stopped_out,
	       "{\"ociVersion\":\"1.2.0\",\"id\":\"abc\",\"status\":\"stopped\",\"bundle\":\"/run/bundles/"
	       "abc\"}",
	       "a stopped container has no pid");

	ok(oci_state_parse(no_pid, strlen(no_pid), "state.json", &parsed, &err) < 0, "running needs a pid");
	is_str(err != NULL ? err->msg : NULL,
	       "state.json: .pid: required (a positive integer) when the status is \"running\"",
	       "state pid message");
	berth_error_free(&err);
	ok(oci_state_parse(bad_status, strlen(bad_status), "state.json", &parsed, &err) < 0,
	   "unknown status");
	is_str(err != NULL ? err->msg : NULL, "state.json: .status: unknown container status \"paused\"",
	       "state status message");
	berth_error_free(&err);
}

/* ---- features ---- */

static void test_features(void)
{
	cleanup_free char *doc =
	    q("{'ociVersionMin': '1.0.0', 'ociVersionMax': '1.2.0', 'hooks': ['prestart', 'poststop'], "
	      "'mountOptions': ['ro', 'rbind'], 'linux': {'namespaces': ['pid', 'time'], 'capabilities': "
	      "['CAP_CHOWN'], 'cgroup': {'v1': true, 'v2': true, 'systemd': false, 'systemdUser': false, "
	      "'rdma': "
	      "false}, 'seccomp': {'enabled': true, 'actions': ['SCMP_ACT_ALLOW'], 'operators': "
	      "['SCMP_CMP_EQ'], "
	      "'archs': ['SCMP_ARCH_X86_64'], 'knownFlags': ['SECCOMP_FILTER_FLAG_LOG'], 'supportedFlags': "
	      "[]}, "
	      "'apparmor': {'enabled': false}, 'selinux': {'enabled': true}, 'intelRdt': {'enabled': false}, "
	      "'mountExtensions': {'idmap': {'enabled': true}}}, 'annotations': "
	      "{'org.opencontainers.runc.version': "
	      "'1.1'}}");
	cleanup_free char *bare =
	    q("{'ociVersionMin': '1.0.0', 'ociVersionMax': '1.2.0', 'linux': {'cgroup': {}}}");
	cleanup_free char *bad =
	    q("{'ociVersionMin': '1.0.0', 'ociVersionMax': '1.2.0', 'linux': {'seccomp': "
	      "{'enabled': 'yes'}}}");
	cleanup_free char *out = NULL, *bare_out = NULL;
	struct oci_features *f = NULL;
	berth_error_t err = NULL;

	ok(oci_features_parse(doc, strlen(doc), "features.json", &f, &err) == 0, "parse a features document");
	if (f != NULL) {
		ok(f->hooks_len == 2 && f->mount_options_len == 2 && f->namespaces_len == 2 &&
		       f->capabilities_len == 1,
		   "features lists");
		ok(f->cgroup_v1.set && f->cgroup_v1.value && f->cgroup_rdma.set && !f->cgroup_rdma.value,
		   "features cgroup");
		ok(f->seccomp_enabled.value && f->seccomp_supported_flags != NULL &&
		       f->seccomp_supported_flags_len == 0,
		   "features seccomp");
		ok(f->apparmor_enabled.set && !f->apparmor_enabled.value && f->selinux_enabled.value &&
		       f->mount_extensions_idmap_enabled.value,
		   "features apparmor, selinux, idmap");
		out = oci_features_to_json(f, true, &err);
		ok(out != NULL && same_json(out, doc), "features round trip");
		oci_features_free(f);
		f = NULL;
	}

	ok(oci_features_parse(bare, strlen(bare), "features.json", &f, &err) == 0,
	   "parse a bare features document");
	bare_out = f != NULL ? oci_features_to_json(f, false, &err) : NULL;
	is_str(bare_out, "{\"ociVersionMin\":\"1.0.0\",\"ociVersionMax\":\"1.2.0\"}",
	       "empty sections are left out");
	oci_features_free(f);
	f = NULL;

	ok(oci_features_parse(bad, strlen(bad), "features.json", &f, &err) < 0, "reject bad features");
	is_str(err != NULL ? err->msg : NULL, "features.json: .linux.seccomp.enabled: expected a boolean",
	       "features error path");
	berth_error_free(&err);
}

int main(void)
{
	test_full_config();
	test_minimal_config();
	test_invalid_configs();
	test_syntax_error();
	test_parse_file();
	test_process();
	test_namespace_helpers();
	test_state();
	test_features();
	return tap_done();
}
