/* The cgroup v2 (unified) back-end, as runc's fs2 manager: controllers are
 * enabled in cgroup.subtree_control of every ancestor, limits are written
 * to the v2 files (converted from the spec's v1-shaped values), devices
 * are an eBPF program (cgroup_bpf.c), freezing is cgroup.freeze, killing
 * is cgroup.kill.  The helpers at the top serve the hybrid back-end too.
 *
 * Create, numbered:
 *   1. enable the root's controllers down to the parent; mkdir the cgroup
 *   2. pids, memory, io, cpu, cpuset, hugetlb, rdma, unified (runc's order)
 *   3. attach the device program
 */
#include "cgroup_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <json-c/json.h>

/* ---- shared helpers ---- */

/* "+cpu +memory ..." from the root's cgroup.controllers. */
static int enable_string(const char *root, char **out, berth_error_t *err)
{
	cleanup_free char *text = NULL;
	char *save = NULL, *buf;
	size_t len;

	if (cg_read(root, "cgroup.controllers", &text, err) < 0)
		return -1;
	len = strlen(text);
	buf = calloc(1, len * 2 + 2);
	if (buf == NULL)
		return berth_error_sys(err, ENOMEM, "cgroup controllers");
	for (char *t = strtok_r(text, " \n", &save); t != NULL; t = strtok_r(NULL, " \n", &save)) {
		if (buf[0] != '\0')
			strcat(buf, " ");
		strcat(buf, "+");
		strcat(buf, t);
	}
	*out = buf;
	return 0;
}

int cgroup_v2_make(struct cgroup *cg, const char *controllers, berth_error_t *err)
{
	cleanup_free char *enable = NULL, *rel = strdup(cg->v2_rel), *cur = strdup(cg->v2_root);
	char *save = NULL, *next;
	bool created;

	if (rel == NULL || cur == NULL)
		return berth_error_sys(err, ENOMEM, "cgroup path");
	if (controllers == NULL && enable_string(cg->v2_root, &enable, err) < 0)
		return -1;
	if (controllers != NULL && controllers[0] != '\0' && asprintf(&enable, "+%s", controllers) < 0)
		return berth_error_sys(err, ENOMEM, "cgroup path");
	for (char *e = strtok_r(rel, "/", &save); e != NULL; e = next) {
		char *child = NULL;
		next = strtok_r(NULL, "/", &save);
		/* 1. the parent delegates its controllers, then the child is made */
		if (enable != NULL && enable[0] != '\0' &&
		    cg_write_try(cur, "cgroup.subtree_control", enable) < 0) {
			/* one at a time: some may be unavailable here (threaded
			 * parents, rootless); the limits that need them fail later
			 * with a message naming the file */
			cleanup_free char *copy = strdup(enable);
			char *s2 = NULL;
			for (char *c = copy != NULL ? strtok_r(copy, " ", &s2) : NULL; c != NULL;
			     c = strtok_r(NULL, " ", &s2))
				(void)cg_write_try(cur, "cgroup.subtree_control", c);
		}
		if (asprintf(&child, "%s/%s", cur, e) < 0)
			return berth_error_sys(err, ENOMEM, "cgroup path");
		free(cur);
		cur = child;
		if (cg_mkdir(cur, &created, err) < 0)
			return -1;
	}
	return 0;
}

int cgroup_v2_enter_dir(const char *dir, pid_t pid, berth_error_t *err)
{
	char buf[24];
	snprintf(buf, sizeof(buf), "%d", (int)pid);
	return cg_write(dir, "cgroup.procs", buf, err);
}

static int read_frozen(const char *dir, int fd, bool *frozen, berth_error_t *err)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	uint64_t v = 0;

	if (n < 0)
		return berth_error_sys(err, errno, "read `%s/cgroup.events`", dir);
	buf[n] = '\0';
	if (cg_keyed_u64(buf, "frozen", &v) < 0)
		v = 0;
	*frozen = v == 1;
	return 0;
}

int cgroup_v2_freeze_dir(const char *dir, bool frozen, berth_error_t *err)
{
	cleanup_close int fd = -1;
	char path[PATH_MAX];

	if (cg_write(dir, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
		return -1;
	if (cgroup_test_mode())
		return 0;
	snprintf(path, sizeof(path), "%s/cgroup.events", dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_sys(err, errno, "open `%s`", path);
	/* cgroup.events signals POLLPRI on each change; 10 s at most */
	for (int i = 0; i < 1000; i++) {
		struct pollfd p = {fd, POLLPRI, 0};
		bool now;
		if (read_frozen(dir, fd, &now, err) < 0)
			return -1;
		if (now == frozen)
			return 0;
		if (poll(&p, 1, 10) < 0 && errno != EINTR)
			return berth_error_sys(err, errno, "poll `%s`", path);
	}
	return berth_error_set(err, BERTH_ERR_SYSTEM, ETIMEDOUT, "%s `%s`", frozen ? "freeze" : "thaw", dir);
}

int cgroup_v2_kill_dir(const char *dir, berth_error_t *err)
{
	int rc = cg_write_try(dir, "cgroup.kill", "1");
	if (rc == -ENOENT && !cgroup_test_mode())
		return 0;
	if (rc < 0)
		return berth_error_sys(err, -rc, "write `%s/cgroup.kill` = `1`", dir);
	return 1;
}

int cgroup_v2_hugetlb(const char *dir, const struct oci_resources *r, berth_error_t *err)
{
	for (size_t i = 0; i < r->hugepage_limits_len; i++) {
		const struct oci_hugepage_limit *h = &r->hugepage_limits[i];
		char file[128], rsvd[128];
		if (h->page_size == NULL || strchr(h->page_size, '/') != NULL)
			return berth_error_invalid(
			    err, "linux.resources.hugepageLimits[%zu]: invalid pageSize", i);
		snprintf(file, sizeof(file), "hugetlb.%s.max", h->page_size);
		snprintf(rsvd, sizeof(rsvd), "hugetlb.%s.rsvd.max", h->page_size);
		if (cg_write_u64(dir, file, h->limit, err) < 0)
			return -1;
		/* the reservation limit, where the kernel has it (runc 1.1) */
		if (cg_file_exists(dir, rsvd) && cg_write_u64(dir, rsvd, h->limit, err) < 0)
			return -1;
	}
	return 0;
}

int cgroup_v2_unified(const char *dir, const struct oci_resources *r, berth_error_t *err)
{
	for (size_t i = 0; i < r->unified_len; i++) {
		const char *k = r->unified[i].key, *dot;
		int rc;
		if (k == NULL || strchr(k, '/') != NULL || k[0] == '.')
			return berth_error_invalid(err, "unified resource `%s` must be a file name",
			                           k ? k : "");
		dot = strchr(k, '.');
		if (dot == NULL || dot == k)
			return berth_error_invalid(
			    err, "unified resource `%s` must be in the form controller.parameter", k);
		rc = cg_write_try(dir, k, r->unified[i].value != NULL ? r->unified[i].value : "");
		if (rc == -ENOENT || rc == -EPERM) {
			cleanup_free char *avail = NULL;
			berth_error_t ignore = NULL;
			char ctrl[64];
			snprintf(ctrl, sizeof(ctrl), "%.*s", (int)(dot - k), k);
			if (strcmp(ctrl, "cgroup") != 0 &&
			    cg_read(dir, "cgroup.controllers", &avail, &ignore) == 0) {
				char *save = NULL;
				bool found = false;
				for (char *t = strtok_r(avail, " \n", &save); t != NULL;
				     t = strtok_r(NULL, " \n", &save))
					found = found || strcmp(t, ctrl) == 0;
				if (!found)
					return berth_error_set(err, BERTH_ERR_UNSUPPORTED, 0,
					                       "unified resource `%s` can't be set: "
					                       "controller `%s` not available",
					                       k, ctrl);
			}
			berth_error_free(&ignore);
		}
		if (rc < 0)
			return berth_error_sys(err, -rc, "write `%s/%s` = `%s`", dir, k,
			                       r->unified[i].value ? r->unified[i].value : "");
	}
	return 0;
}

int cgroup_v2_hugetlb_stats(const char *dir, struct json_object *data)
{
	char **sizes = cg_hugepage_sizes();
	struct json_object *h = NULL;

	for (size_t i = 0; sizes != NULL && sizes[i] != NULL; i++) {
		char file[128];
		uint64_t v;
		cleanup_free char *events = NULL;
		berth_error_t ignore = NULL;
		struct json_object *e;
		snprintf(file, sizeof(file), "hugetlb.%s.current", sizes[i]);
		if (cg_read_u64(dir, file, &v) < 0)
			continue;
		if (h == NULL)
			h = cg_json_obj(data, "hugetlb");
		e = cg_json_obj(h, sizes[i]);
		cg_json_u64(e, "usage", v, true);
		snprintf(file, sizeof(file), "hugetlb.%s.events", sizes[i]);
		v = 0;
		if (cg_read(dir, file, &events, &ignore) == 0)
			(void)cg_keyed_u64(events, "max", &v);
		berth_error_free(&ignore);
		cg_json_u64(e, "failcnt", v, false);
	}
	strv_free(sizes);
	return 0;
}

/* ---- resources ---- */

static int set_memory(const char *dir, const struct oci_memory *m, bool create, berth_error_t *err)
{
	int64_t limit = m->limit.set ? m->limit.value : 0, swap = m->swap.set ? m->swap.value : 0, sv;
	bool write_swap;
	char buf[24];

	if (cgroup_swap_to_v2(swap, limit, &sv, &write_swap, err) < 0)
		return -1;
	if (!create && m->check_before_update.set && m->check_before_update.value && limit > 0) {
		uint64_t usage;
		if (cg_read_u64(dir, "memory.current", &usage) == 0 && usage >= (uint64_t)limit)
			return berth_error_invalid(
			    err, "rejecting memory limit %" PRId64 " below the current usage %" PRIu64, limit,
			    usage);
	}
	if (write_swap) {
		int rc;
		cgroup_v2_num(sv, buf, sizeof(buf));
		if (sv == 0 && swap > 0)
			snprintf(buf, sizeof(buf), "0"); /* memory == memory+swap: no swap */
		rc = cg_write_try(dir, "memory.swap.max", buf);
		/* without swap accounting, "max" and "0" are what we have */
		if (rc < 0 && !(rc == -ENOENT && (sv == -1 || sv == 0)))
			return berth_error_sys(err, -rc, "write `%s/memory.swap.max` = `%s`", dir, buf);
	}
	if (limit != 0 && cg_write(dir, "memory.max", cgroup_v2_num(limit, buf, sizeof(buf)), err) < 0)
		return -1;
	if (m->reservation.set && m->reservation.value != 0 &&
	    cg_write(dir, "memory.low", cgroup_v2_num(m->reservation.value, buf, sizeof(buf)), err) < 0)
		return -1;
	/* kernel, kernelTCP, swappiness, disableOOMKiller: no v2 files (runc
	 * ignores them too) */
	return 0;
}

static int set_io(const char *dir, const struct oci_block_io *b, berth_error_t *err)
{
	const struct {
		const struct oci_throttle_device *arr;
		size_t len;
		const char *key;
	} thr[] = {
	    {b->throttle_read_bps_device, b->throttle_read_bps_device_len, "rbps"},
	    {b->throttle_write_bps_device, b->throttle_write_bps_device_len, "wbps"},
	    {b->throttle_read_iops_device, b->throttle_read_iops_device_len, "riops"},
	    {b->throttle_write_iops_device, b->throttle_write_iops_device_len, "wiops"},
	};
	bool bfq = (b->weight.set && b->weight.value != 0) || b->weight_device_len > 0
	               ? cg_file_exists(dir, "io.bfq.weight")
	               : false;
	char buf[96];

	if (b->weight.set && b->weight.value != 0) {
		if (bfq) {
			if (cg_write_u64(dir, "io.bfq.weight", b->weight.value, err) < 0)
				return -1;
		} else if (cg_write_u64(dir, "io.weight", cgroup_blkio_to_io_weight(b->weight.value), err) <
		           0) {
			return -1;
		}
	}
	/* per-device weights only exist with BFQ; leafWeight not at all */
	for (size_t i = 0; bfq && i < b->weight_device_len; i++) {
		const struct oci_weight_device *w = &b->weight_device[i];
		if (!w->weight.set || w->weight.value == 0)
			continue;
		snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %u", w->major, w->minor, w->weight.value);
		if (cg_write(dir, "io.bfq.weight", buf, err) < 0)
			return -1;
	}
	for (size_t t = 0; t < sizeof(thr) / sizeof(thr[0]); t++) {
		const struct oci_throttle_device *arr = thr[t].arr;
		size_t n = thr[t].len;
		for (size_t i = 0; i < n; i++) {
			snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %s=%" PRIu64, arr[i].major,
			         arr[i].minor, thr[t].key, arr[i].rate);
			if (cg_write(dir, "io.max", buf, err) < 0)
				return -1;
		}
	}
	return 0;
}

static int set_cpu(const char *dir, const struct oci_cpu *c, berth_error_t *err)
{
	char buf[64];

	if ((c->realtime_runtime.set && c->realtime_runtime.value != 0) ||
	    (c->realtime_period.set && c->realtime_period.value != 0))
		return berth_error_set(
		    err, BERTH_ERR_UNSUPPORTED, 0,
		    "linux.resources.cpu: realtimeRuntime and realtimePeriod are not supported "
		    "on cgroup v2");
	if (c->idle.set && cg_write_i64(dir, "cpu.idle", c->idle.value, err) < 0)
		return -1;
	if (c->shares.set && c->shares.value != 0 &&
	    cg_write_u64(dir, "cpu.weight", cgroup_shares_to_weight(c->shares.value), err) < 0)
		return -1;
	if ((c->quota.set && c->quota.value != 0) || (c->period.set && c->period.value != 0)) {
		cgroup_cpu_max(c->quota.set ? c->quota.value : -1, c->period.set ? c->period.value : 0, buf,
		               sizeof(buf));
		if (cg_write(dir, "cpu.max", buf, err) < 0)
			return -1;
	}
	if (c->burst.set && cg_write_u64(dir, "cpu.max.burst", c->burst.value, err) < 0)
		return -1;
	return 0;
}

static int set_rdma(const char *dir, const struct oci_resources *r, berth_error_t *err)
{
	for (size_t i = 0; i < r->rdma_len; i++) {
		const struct oci_rdma_limit *l = &r->rdma[i];
		char buf[256];
		int n = snprintf(buf, sizeof(buf), "%s", l->device != NULL ? l->device : "");
		if (l->hca_handles.set)
			n += snprintf(buf + n, sizeof(buf) - (size_t)n, " hca_handle=%u",
			              l->hca_handles.value);
		if (l->hca_objects.set)
			snprintf(buf + n, sizeof(buf) - (size_t)n, " hca_object=%u", l->hca_objects.value);
		if (cg_write(dir, "rdma.max", buf, err) < 0)
			return -1;
	}
	return 0;
}

int cgroup_rdma_write(const char *dir, const struct oci_resources *r, berth_error_t *err)
{
	return set_rdma(dir, r, err);
}

static int v2_apply(struct cgroup *cg, const struct oci_resources *r, bool create, berth_error_t *err)
{
	const char *dir = cg->v2_dir;

	if (r == NULL)
		return 0;
	/* 2. resources, in runc's order */
	if (r->has_pids && r->pids_limit.set) {
		char buf[24];
		if (cg_write(
		        dir, "pids.max",
		        cgroup_v2_num(r->pids_limit.value > 0 ? r->pids_limit.value : -1, buf, sizeof(buf)),
		        err) < 0)
			return -1;
	}
	if (r->memory != NULL && set_memory(dir, r->memory, create, err) < 0)
		return -1;
	if (r->block_io != NULL && set_io(dir, r->block_io, err) < 0)
		return -1;
	if (r->cpu != NULL && set_cpu(dir, r->cpu, err) < 0)
		return -1;
	if (r->cpu != NULL && r->cpu->cpus != NULL && r->cpu->cpus[0] != '\0' &&
	    cg_write(dir, "cpuset.cpus", r->cpu->cpus, err) < 0)
		return -1;
	if (r->cpu != NULL && r->cpu->mems != NULL && r->cpu->mems[0] != '\0' &&
	    cg_write(dir, "cpuset.mems", r->cpu->mems, err) < 0)
		return -1;
	if (cgroup_v2_hugetlb(dir, r, err) < 0)
		return -1;
	if (set_rdma(dir, r, err) < 0)
		return -1;
	if (r->network != NULL && (r->network->class_id.set || r->network->priorities_len > 0))
		return berth_error_set(
		    err, BERTH_ERR_UNSUPPORTED, 0,
		    "linux.resources.network: net_cls and net_prio do not exist on cgroup v2");
	return cgroup_v2_unified(dir, r, err);
}

static int v2_devices(struct cgroup *cg, const struct oci_resources *r, berth_error_t *err)
{
	cleanup_free struct cg_dev_rule *rules = NULL;
	cleanup_close int fd = -1;
	size_t n = 0;

	if (cgroup_device_rules(cg, r, &rules, &n, err) < 0)
		return -1;
	if (cgroup_test_mode())
		return 0;
	fd = open(cg->v2_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return berth_error_sys(err, errno, "open `%s`", cg->v2_dir);
	return cgroup_bpf_devices_attach(fd, rules, n, err);
}

static int v2_create(struct cgroup *cg, const struct oci_resources *r, berth_error_t *err)
{
	berth_error_t local = NULL;

	/* 1. */
	if (cgroup_v2_make(cg, NULL, &local) < 0) {
		if (cg->rootless &&
		    (local->errnum == EACCES || local->errnum == EPERM || local->errnum == EROFS)) {
			berth_error_free(&local);
			free(cg->v2_dir);
			cg->v2_dir = NULL;
			return 0;
		}
		berth_error_move(err, &local);
		return -1;
	}
	/* 2. */
	if (v2_apply(cg, r, true, err) < 0)
		return -1;
	/* 3. */
	if (v2_devices(cg, r, &local) < 0) {
		if (!cg->rootless) {
			berth_error_move(err, &local);
			return -1;
		}
		berth_error_free(&local);
	}
	return 0;
}

static int v2_enter(struct cgroup *cg, pid_t pid, berth_error_t *err)
{
	if (cg->v2_dir == NULL)
		return 0;
	return cgroup_v2_enter_dir(cg->v2_dir, pid, err);
}

static int v2_freeze(struct cgroup *cg, bool frozen, berth_error_t *err)
{
	if (cg->v2_dir == NULL)
		return berth_error_set(err, BERTH_ERR_UNSUPPORTED, 0, "cgroup `%s` was not created",
		                       cg->path);
	return cgroup_v2_freeze_dir(cg->v2_dir, frozen, err);
}

static int v2_is_frozen(struct cgroup *cg, bool *frozen, berth_error_t *err)
{
	cleanup_close int fd = -1;
	char path[PATH_MAX];

	*frozen = false;
	if (cg->v2_dir == NULL)
		return 0;
	snprintf(path, sizeof(path), "%s/cgroup.events", cg->v2_dir);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : berth_error_sys(err, errno, "open `%s`", path);
	return read_frozen(cg->v2_dir, fd, frozen, err);
}

static const char *v2_procs_dir(struct cgroup *cg)
{
	return cg->v2_dir;
}

static int v2_kill_fast(struct cgroup *cg, berth_error_t *err)
{
	if (cg->v2_dir == NULL)
		return 0;
	return cgroup_v2_kill_dir(cg->v2_dir, err);
}

static void io_stats(const char *dir, struct json_object *data)
{
	cleanup_free char *text = NULL;
	berth_error_t ignore = NULL;
	struct json_object *blkio;
	char *save = NULL;

	if (cg_read(dir, "io.stat", &text, &ignore) < 0) {
		berth_error_free(&ignore);
		return;
	}
	blkio = cg_json_obj(data, "blkio");
	for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long major, minor;
		char *s2 = NULL, *tok;
		int off = 0;
		if (sscanf(line, "%llu:%llu %n", &major, &minor, &off) < 2)
			continue;
		for (tok = strtok_r(line + off, " ", &s2); tok != NULL; tok = strtok_r(NULL, " ", &s2)) {
			unsigned long long v;
			char key[16];
			if (sscanf(tok, "%15[a-z]=%llu", key, &v) != 2)
				continue;
			if (strcmp(key, "rbytes") == 0)
				cg_json_blkio(blkio, "ioServiceBytesRecursive", major, minor, "Read", v);
			else if (strcmp(key, "wbytes") == 0)
				cg_json_blkio(blkio, "ioServiceBytesRecursive", major, minor, "Write", v);
			else if (strcmp(key, "rios") == 0)
				cg_json_blkio(blkio, "ioServicedRecursive", major, minor, "Read", v);
			else if (strcmp(key, "wios") == 0)
				cg_json_blkio(blkio, "ioServicedRecursive", major, minor, "Write", v);
		}
	}
}

static int v2_stats(struct cgroup *cg, struct json_object *data, berth_error_t *err)
{
	const char *dir = cg->v2_dir;
	cleanup_free char *cpu = NULL, *mem = NULL, *events = NULL;
	berth_error_t ignore = NULL;
	struct json_object *o, *u;
	uint64_t v, cur = 0, lim = 0;

	if (dir == NULL)
		return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0, "cgroup `%s` was not created", cg->path);
	/* cpu.stat is there without the cpu controller too */
	if (cg_read(dir, "cpu.stat", &cpu, &ignore) == 0) {
		o = cg_json_obj(data, "cpu");
		u = cg_json_obj(o, "usage");
		if (cg_keyed_u64(cpu, "usage_usec", &v) == 0)
			cg_json_u64(u, "total", v * 1000, true);
		cg_json_u64(u, "kernel", cg_keyed_u64(cpu, "system_usec", &v) == 0 ? v * 1000 : 0, false);
		cg_json_u64(u, "user", cg_keyed_u64(cpu, "user_usec", &v) == 0 ? v * 1000 : 0, false);
		u = cg_json_obj(o, "throttling");
		if (cg_keyed_u64(cpu, "nr_periods", &v) == 0)
			cg_json_u64(u, "periods", v, true);
		if (cg_keyed_u64(cpu, "nr_throttled", &v) == 0)
			cg_json_u64(u, "throttledPeriods", v, true);
		if (cg_keyed_u64(cpu, "throttled_usec", &v) == 0)
			cg_json_u64(u, "throttledTime", v * 1000, true);
	}
	berth_error_free(&ignore);
	if (cg_read_u64(dir, "memory.current", &cur) == 0) {
		o = cg_json_obj(data, "memory");
		u = cg_json_obj(o, "usage");
		(void)cg_read_u64(dir, "memory.max", &lim);
		cg_json_u64(u, "limit", lim, false);
		cg_json_u64(u, "usage", cur, true);
		if (cg_read_u64(dir, "memory.peak", &v) == 0)
			cg_json_u64(u, "max", v, true);
		v = 0;
		if (cg_read(dir, "memory.events", &events, &ignore) == 0)
			(void)cg_keyed_u64(events, "max", &v);
		berth_error_free(&ignore);
		cg_json_u64(u, "failcnt", v, false);
		/* v1 reports memory+swap; so does runc on v2 */
		if (cg_read_u64(dir, "memory.swap.current", &v) == 0) {
			uint64_t slim = 0;
			u = cg_json_obj(o, "swap");
			(void)cg_read_u64(dir, "memory.swap.max", &slim);
			cg_json_u64(u, "limit",
			            slim == UINT64_MAX || lim == UINT64_MAX ? UINT64_MAX : slim + lim, false);
			cg_json_u64(u, "usage", v + cur, true);
			cg_json_u64(u, "failcnt", 0, false);
		}
		if (cg_read(dir, "memory.stat", &mem, &ignore) == 0) {
			if (cg_keyed_u64(mem, "file", &v) == 0)
				cg_json_u64(o, "cache", v, true);
			cg_json_raw(cg_json_obj(o, "raw"), mem);
		}
		berth_error_free(&ignore);
	}
	if (cg_read_u64(dir, "pids.current", &v) == 0) {
		o = cg_json_obj(data, "pids");
		cg_json_u64(o, "current", v, true);
		if (cg_read_u64(dir, "pids.max", &v) == 0)
			cg_json_u64(o, "limit", v == UINT64_MAX ? 0 : v, true);
	}
	io_stats(dir, data);
	return cgroup_v2_hugetlb_stats(dir, data);
}

static int v2_oom_fd(struct cgroup *cg, berth_error_t *err)
{
	cleanup_close int fd = -1;
	cleanup_free char *events = NULL;
	char path[PATH_MAX];

	if (cg->v2_dir == NULL)
		return berth_error_set(err, BERTH_ERR_NOT_FOUND, 0, "cgroup `%s` was not created", cg->path);
	snprintf(path, sizeof(path), "%s/memory.events", cg->v2_dir);
	fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
	if (fd < 0)
		return berth_error_sys(err, errno, "inotify_init1");
	if (inotify_add_watch(fd, path, IN_MODIFY) < 0)
		return berth_error_sys(err, errno, "inotify_add_watch `%s`", path);
	cg->oom_kills = 0;
	if (cg_read(cg->v2_dir, "memory.events", &events, err) < 0)
		return -1;
	(void)cg_keyed_u64(events, "oom_kill", &cg->oom_kills);
	return steal_fd(&fd);
}

static bool v2_oom_check(struct cgroup *cg, int fd)
{
	char buf[4096];
	cleanup_free char *events = NULL;
	berth_error_t ignore = NULL;
	uint64_t v = 0;

	while (read(fd, buf, sizeof(buf)) > 0)
		;
	if (cg->v2_dir == NULL || cg_read(cg->v2_dir, "memory.events", &events, &ignore) < 0) {
		berth_error_free(&ignore);
		return false;
	}
	if (cg_keyed_u64(events, "oom_kill", &v) < 0 || v <= cg->oom_kills)
		return false;
	cg->oom_kills = v;
	return true;
}

const struct cgroup_ops cgroup_v2_ops = {
    .name = "v2",
    .create = v2_create,
    .apply = v2_apply,
    .enter = v2_enter,
    .freeze = v2_freeze,
    .is_frozen = v2_is_frozen,
    .procs_dir = v2_procs_dir,
    .kill_fast = v2_kill_fast,
    .stats = v2_stats,
    .oom_fd = v2_oom_fd,
    .oom_check = v2_oom_check,
};
