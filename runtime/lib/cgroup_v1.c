/* The cgroup v1 back-end, as runc's fs manager: one directory per mounted
 * controller; and the hybrid back-end: the same, plus a cgroup in the v2
 * hierarchy mounted beside them (e.g. /sys/fs/cgroup/unified), which holds
 * the processes too (so that cgroup.kill works) and takes the limits of
 * controllers that only it has (hugetlb here) and linux.resources.unified.
 *
 * Create, numbered:
 *   1. mkdir in every mounted hierarchy (cpuset first, its cpus and mems
 *      filled from the parent so that the cgroup accepts tasks)
 *   2. (hybrid) mkdir in the v2 hierarchy
 *   3. resources: cpu, memory, pids, blkio, hugetlb, net_cls, net_prio, rdma
 *   4. devices: deny "a", then the rules in order
 */
#include "cgroup_internal.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

/* The directory of controller c, or an error naming the controller. */
static const char *need(struct cgroup *cg, enum cg_ctrl c, berth_error_t *err)
{
	if (cg->v1_dir[c] != NULL)
		return cg->v1_dir[c];
	if (cg->v1_rel[c] != NULL) /* mounted, but creating it failed (rootless) */
		berth_error_set(err, BERTH_ERR_SYSTEM, 0,
		                "cannot set %s limit: container could not join or create cgroup",
		                cgroup_ctrl_name(c));
	else
		berth_error_set(err, BERTH_ERR_UNSUPPORTED, 0,
		                "linux.resources needs the %s cgroup controller, which is not mounted",
		                cgroup_ctrl_name(c));
	return NULL;
}

static bool tolerable(const struct cgroup *cg, int errnum)
{
	return cg->rootless && (errnum == EACCES || errnum == EPERM || errnum == EROFS);
}

/* ---- 1. mkdir ---- */

static bool empty_value(const char *s)
{
	return s[strspn(s, " \n")] == '\0';
}

/* Fills cpuset.cpus and cpuset.mems of dir from parent when empty (a new
 * v1 cpuset has none, and then refuses tasks), except those the spec sets.
 * known[] holds the parent's values when the level above read or wrote them
 * (NULL: read them), and is left holding dir's for the level below. */
static int cpuset_fill(const char *dir, const char *parent, bool created, const struct oci_cpu *spec,
                       char *known[2], berth_error_t *err)
{
	static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
	for (int i = 0; i < 2; i++) {
		cleanup_free char *mine = NULL, *theirs = steal_ptr(&known[i]);
		const char *want = spec == NULL ? NULL : i == 0 ? spec->cpus : spec->mems;
		if (want != NULL && want[0] != '\0')
			continue; /* written with the resources */
		if (!created && cg_read(dir, files[i], &mine, err) < 0)
			return -1;
		if (mine != NULL && !empty_value(mine)) {
			known[i] = steal_ptr(&mine);
			continue;
		}
		if (theirs == NULL && cg_read(parent, files[i], &theirs, err) < 0)
			return -1;
		theirs[strcspn(theirs, "\n")] = '\0';
		if (theirs[0] != '\0' && cg_write(dir, files[i], theirs, err) < 0)
			return -1;
		known[i] = steal_ptr(&theirs);
	}
	return 0;
}

static int cpuset_make(struct cgroup *cg, const struct oci_resources *r, berth_error_t *err)
{
	cleanup_free char *rel = strdup(cg->v1_rel[CG_CPUSET]), *cur = NULL;
	cleanup_free char *cpus = NULL, *mems = NULL;
	const char *root = cg->v1_dir[CG_CPUSET];
	size_t rootlen = strlen(root) - strlen(cg->v1_rel[CG_CPUSET]);
	char *save = NULL, *next;

	if (rel == NULL || (cur = strndup(root, rootlen)) == NULL)
		return berth_error_sys(err, ENOMEM, "cgroup path");
	for (char *e = strtok_r(rel, "/", &save); e != NULL; e = next) {
		cleanup_free char *parent = cur;
		char *known[2] = {steal_ptr(&cpus), steal_ptr(&mems)};
		bool created;
		int rc;
		next = strtok_r(NULL, "/", &save);
		cur = NULL;
		if (asprintf(&cur, "%s/%s", parent, e) < 0) {
			cur = NULL;
			rc = berth_error_sys(err, ENOMEM, "cgroup path");
		} else if ((rc = cg_mkdir(cur, &created, err)) == 0) {
			rc = cpuset_fill(cur, parent, created, next == NULL && r != NULL ? r->cpu : NULL,
			                 known, err);
		}
		cpus = known[0];
		mems = known[1];
		if (rc < 0)
			return -1;
	}
	return 0;
}

static int v1_make(struct cgroup *cg, const struct oci_resources *r, berth_error_t *err)
{
	for (int c = 0; c < CG_V1_N; c++) {
		berth_error_t local = NULL;
		bool created;
		int rc;
		if (cg->v1_dir[c] == NULL || cg->v1_alias[c])
			continue;
		rc = c == CG_CPUSET ? cpuset_make(cg, r, &local) : cg_mkdir(cg->v1_dir[c], &created, &local);
		if (rc == 0)
			continue;
		if (!tolerable(cg, local->errnum)) {
			berth_error_move(err, &local);
			return -1;
		}
		berth_error_free(&local);
		free(cg->v1_dir[c]);
		cg->v1_dir[c] = NULL;
	}
	return 0;
}

/* ---- 3. resources ---- */

static int set_cpu(const char *dir, const struct oci_cpu *c, berth_error_t *err)
{
	bool retry_period = false;
	int rc;

	/* realtime first: a process already SCHED_RR needs the runtime */
	if (c->realtime_period.set && c->realtime_period.value != 0 &&
	    cg_write_u64(dir, "cpu.rt_period_us", c->realtime_period.value, err) < 0)
		return -1;
	if (c->realtime_runtime.set && c->realtime_runtime.value != 0 &&
	    cg_write_i64(dir, "cpu.rt_runtime_us", c->realtime_runtime.value, err) < 0)
		return -1;
	if (c->shares.set && c->shares.value != 0) {
		uint64_t got;
		if (cg_write_u64(dir, "cpu.shares", c->shares.value, err) < 0)
			return -1;
		/* the kernel clamps: tell the user instead */
		if (!cgroup_test_mode() && cg_read_u64(dir, "cpu.shares", &got) == 0 &&
		    got != c->shares.value)
			return berth_error_invalid(
			    err, "cpu.shares %" PRIu64 ": the %s allowed cpu-shares is %" PRIu64,
			    c->shares.value, c->shares.value > got ? "maximum" : "minimum", got);
	}
	if (c->period.set && c->period.value != 0) {
		char buf[24];
		snprintf(buf, sizeof(buf), "%" PRIu64, c->period.value);
		rc = cg_write_try(dir, "cpu.cfs_period_us", buf);
		/* a shorter period can exceed the parent's quota with the old
		 * quota: set the quota, then the period again */
		if (rc == -EINVAL && c->quota.set && c->quota.value != 0)
			retry_period = true;
		else if (rc < 0)
			return berth_error_sys(err, -rc, "write `%s/cpu.cfs_period_us` = `%s`", dir, buf);
	}
	if (c->quota.set && c->quota.value != 0) {
		if (cg_write_i64(dir, "cpu.cfs_quota_us", c->quota.value, err) < 0)
			return -1;
		if (retry_period && cg_write_u64(dir, "cpu.cfs_period_us", c->period.value, err) < 0)
			return -1;
	}
	if (c->burst.set && cg_write_u64(dir, "cpu.cfs_burst_us", c->burst.value, err) < 0)
		return -1;
	if (c->idle.set) {
		char buf[24];
		snprintf(buf, sizeof(buf), "%" PRId64, c->idle.value);
		rc = cg_write_try(dir, "cpu.idle", buf);
		if (rc < 0 && rc != -ENOENT) /* older kernels have no cpu.idle */
			return berth_error_sys(err, -rc, "write `%s/cpu.idle` = `%s`", dir, buf);
	}
	return 0;
}

static int write_limit(const char *dir, int64_t limit, berth_error_t *err)
{
	char buf[24];
	int rc;

	snprintf(buf, sizeof(buf), "%" PRId64, limit);
	rc = cg_write_try(dir, "memory.limit_in_bytes", buf);
	if (rc == -EBUSY) {
		uint64_t usage = 0, peak = 0;
		(void)cg_read_u64(dir, "memory.usage_in_bytes", &usage);
		(void)cg_read_u64(dir, "memory.max_usage_in_bytes", &peak);
		return berth_error_sys(err, EBUSY,
		                       "unable to set memory limit to %" PRId64 " (current usage: %" PRIu64
		                       ", peak usage: %" PRIu64 ")",
		                       limit, usage, peak);
	}
	if (rc < 0)
		return berth_error_sys(err, -rc, "write `%s/memory.limit_in_bytes` = `%s`", dir, buf);
	return 0;
}

static int write_swap(const char *dir, int64_t swap, berth_error_t *err)
{
	char buf[24];
	int rc;

	snprintf(buf, sizeof(buf), "%" PRId64, swap);
	rc = cg_write_try(dir, "memory.memsw.limit_in_bytes", buf);
	if (rc == -ENOENT && swap == -1)
		return 0; /* no swap accounting: unlimited is what we have */
	if (rc < 0)
		return berth_error_sys(err, -rc, "write `%s/memory.memsw.limit_in_bytes` = `%s`", dir, buf);
	return 0;
}

static int set_memory(const char *dir, const struct oci_memory *m, bool create, berth_error_t *err)
{
	int64_t limit = m->limit.set ? m->limit.value : 0, swap = m->swap.set ? m->swap.value : 0;
	bool swap_first = false;

	if (!create && m->check_before_update.set && m->check_before_update.value && limit > 0) {
		uint64_t usage;
		if (cg_read_u64(dir, "memory.usage_in_bytes", &usage) == 0 && usage >= (uint64_t)limit)
			return berth_error_invalid(
			    err, "rejecting memory limit %" PRId64 " below the current usage %" PRIu64, limit,
			    usage);
	}
	if (limit == -1 && swap == 0 && cg_file_exists(dir, "memory.memsw.limit_in_bytes"))
		swap = -1;
	/* memory <= memory+swap must hold after each write: raising both,
	 * memsw goes first */
	if (limit != 0 && swap != 0) {
		uint64_t cur = 0;
		if (swap == -1 ||
		    (cg_read_u64(dir, "memory.limit_in_bytes", &cur) == 0 && cur < (uint64_t)swap))
			swap_first = true;
	}
	if (swap_first && write_swap(dir, swap, err) < 0)
		return -1;
	if (limit != 0 && write_limit(dir, limit, err) < 0)
		return -1;
	if (!swap_first && swap != 0 && write_swap(dir, swap, err) < 0)
		return -1;
	/* kernel memory limits are deprecated; the kernel may refuse them */
	if (m->kernel.set && m->kernel.value != 0) {
		char buf[24];
		snprintf(buf, sizeof(buf), "%" PRId64, m->kernel.value);
		(void)cg_write_try(dir, "memory.kmem.limit_in_bytes", buf);
	}
	if (m->kernel_tcp.set && m->kernel_tcp.value != 0) {
		char buf[24];
		int rc;
		snprintf(buf, sizeof(buf), "%" PRId64, m->kernel_tcp.value);
		rc = cg_write_try(dir, "memory.kmem.tcp.limit_in_bytes", buf);
		if (rc < 0 && rc != -ENOENT && rc != -EOPNOTSUPP)
			return berth_error_sys(err, -rc, "write `%s/memory.kmem.tcp.limit_in_bytes` = `%s`",
			                       dir, buf);
	}
	if (m->reservation.set && m->reservation.value != 0 &&
	    cg_write_i64(dir, "memory.soft_limit_in_bytes", m->reservation.value, err) < 0)
		return -1;
	if (m->disable_oom_killer.set && m->disable_oom_killer.value &&
	    cg_write(dir, "memory.oom_control", "1", err) < 0)
		return -1;
	if (m->swappiness.set && m->swappiness.value != UINT64_MAX) { /* -1: the default */
		if (m->swappiness.value > 100)
			return berth_error_invalid(
			    err, "invalid memory swappiness value: %" PRIu64 " (valid range is 0-100)",
			    m->swappiness.value);
		if (cg_write_u64(dir, "memory.swappiness", m->swappiness.value, err) < 0)
			return -1;
	}
	return 0;
}

static int set_blkio(const char *dir, const struct oci_block_io *b, berth_error_t *err)
{
	const struct {
		const struct oci_throttle_device *arr;
		size_t len;
		const char *file;
	} thr[] = {
	    {b->throttle_read_bps_device, b->throttle_read_bps_device_len, "blkio.throttle.read_bps_device"},
	    {b->throttle_write_bps_device, b->throttle_write_bps_device_len,
	     "blkio.throttle.write_bps_device"},
	    {b->throttle_read_iops_device, b->throttle_read_iops_device_len,
	     "blkio.throttle.read_iops_device"},
	    {b->throttle_write_iops_device, b->throttle_write_iops_device_len,
	     "blkio.throttle.write_iops_device"},
	};
	const char *weight = "blkio.weight", *weight_dev = "blkio.weight_device";
	char buf[96];

	/* CFQ's files, else BFQ's (runc's choice) */
	if ((b->weight.set || b->weight_device_len > 0) && !cg_file_exists(dir, weight) &&
	    cg_file_exists(dir, "blkio.bfq.weight")) {
		weight = "blkio.bfq.weight";
		weight_dev = "blkio.bfq.weight_device";
	}
	if (b->weight.set && b->weight.value != 0 && cg_write_u64(dir, weight, b->weight.value, err) < 0)
		return -1;
	/* leaf weights went away with CFQ: where the file is missing, asking
	 * for one is an error naming it (as runc), not a silent no-op */
	if (b->leaf_weight.set && b->leaf_weight.value != 0 &&
	    cg_write_u64(dir, "blkio.leaf_weight", b->leaf_weight.value, err) < 0)
		return -1;
	for (size_t i = 0; i < b->weight_device_len; i++) {
		const struct oci_weight_device *w = &b->weight_device[i];
		if (w->weight.set && w->weight.value != 0) {
			snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %u", w->major, w->minor,
			         w->weight.value);
			if (cg_write(dir, weight_dev, buf, err) < 0)
				return -1;
		}
		if (w->leaf_weight.set && w->leaf_weight.value != 0) {
			snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %u", w->major, w->minor,
			         w->leaf_weight.value);
			if (cg_write(dir, "blkio.leaf_weight_device", buf, err) < 0)
				return -1;
		}
	}
	for (size_t t = 0; t < sizeof(thr) / sizeof(thr[0]); t++) {
		const struct oci_throttle_device *arr = thr[t].arr;
		size_t n = thr[t].len;
		for (size_t i = 0; i < n; i++) {
			snprintf(buf, sizeof(buf), "%" PRId64 ":%" PRId64 " %" PRIu64, arr[i].major,
			         arr[i].minor, arr[i].rate);
			if (cg_write(dir, thr[t].file, buf, err) < 0)
				return -1;
		}
	}
	return 0;
}

static bool blkio_set(const struct oci_block_io *b)
{
	return b != NULL &&
	       ((b->weight.set && b->weight.value != 0) || (b->leaf_weight.set && b->leaf_weight.value) ||
	        b->weight_device_len || b->throttle_read_bps_device_len || b->throttle_write_bps_device_len ||
	        b->throttle_read_iops_device_len || b->throttle_write_iops_device_len);
}

static bool cpu_set(const struct oci_cpu *c)
{
	return c != NULL && ((c->shares.set && c->shares.value) || (c->quota.set && c->quota.value) ||
	                     (c->period.set && c->period.value) || c->burst.set ||
	                     (c->realtime_runtime.set && c->realtime_runtime.value) ||
	                     (c->realtime_period.set && c->realtime_period.value) || c->idle.set);
}

static bool memory_set(const struct oci_memory *m)
{
	return m != NULL && ((m->limit.set && m->limit.value) || (m->swap.set && m->swap.value) ||
	                     (m->reservation.set && m->reservation.value) ||
	                     (m->disable_oom_killer.set && m->disable_oom_killer.value) ||
	                     (m->swappiness.set && m->swappiness.value != UINT64_MAX) ||
	                     (m->kernel_tcp.set && m->kernel_tcp.value));
}

static int v1_apply(struct cgroup *cg, const struct oci_resources *r, bool create, berth_error_t *err)
{
	const char *dir;

	if (r == NULL)
		return 0;
	/* 3. resources */
	if (r->cpu != NULL &&
	    ((r->cpu->cpus != NULL && r->cpu->cpus[0]) || (r->cpu->mems != NULL && r->cpu->mems[0]))) {
		if ((dir = need(cg, CG_CPUSET, err)) == NULL)
			return -1;
		if (r->cpu->cpus != NULL && r->cpu->cpus[0] != '\0' &&
		    cg_write(dir, "cpuset.cpus", r->cpu->cpus, err) < 0)
			return -1;
		if (r->cpu->mems != NULL && r->cpu->mems[0] != '\0' &&
		    cg_write(dir, "cpuset.mems", r->cpu->mems, err) < 0)
			return -1;
	}
	if (cpu_set(r->cpu) && ((dir = need(cg, CG_CPU, err)) == NULL || set_cpu(dir, r->cpu, err) < 0))
		return -1;
	if (memory_set(r->memory) &&
	    ((dir = need(cg, CG_MEMORY, err)) == NULL || set_memory(dir, r->memory, create, err) < 0))
		return -1;
	if (r->has_pids && r->pids_limit.set) {
		char buf[24];
		if ((dir = need(cg, CG_PIDS, err)) == NULL ||
		    cg_write(
		        dir, "pids.max",
		        cgroup_v2_num(r->pids_limit.value > 0 ? r->pids_limit.value : -1, buf, sizeof(buf)),
		        err) < 0)
			return -1;
	}
	if (blkio_set(r->block_io) &&
	    ((dir = need(cg, CG_BLKIO, err)) == NULL || set_blkio(dir, r->block_io, err) < 0))
		return -1;
	if (r->hugepage_limits_len > 0) {
		if (cg->v1_dir[CG_HUGETLB] == NULL && cg->v1_rel[CG_HUGETLB] == NULL && cg->v2_dir != NULL) {
			if (cgroup_v2_hugetlb(cg->v2_dir, r, err) < 0) /* hybrid: the v2 hierarchy has it */
				return -1;
		} else {
			if ((dir = need(cg, CG_HUGETLB, err)) == NULL)
				return -1;
			for (size_t i = 0; i < r->hugepage_limits_len; i++) {
				const struct oci_hugepage_limit *h = &r->hugepage_limits[i];
				char file[128];
				if (h->page_size == NULL || strchr(h->page_size, '/') != NULL)
					return berth_error_invalid(
					    err, "linux.resources.hugepageLimits[%zu]: invalid pageSize", i);
				snprintf(file, sizeof(file), "hugetlb.%s.limit_in_bytes", h->page_size);
				if (cg_write_u64(dir, file, h->limit, err) < 0)
					return -1;
				snprintf(file, sizeof(file), "hugetlb.%s.rsvd.limit_in_bytes", h->page_size);
				if (cg_file_exists(dir, file) && cg_write_u64(dir, file, h->limit, err) < 0)
					return -1;
			}
		}
	}
	if (r->network != NULL && r->network->class_id.set &&
	    ((dir = need(cg, CG_NET_CLS, err)) == NULL ||
	     cg_write_u64(dir, "net_cls.classid", r->network->class_id.value, err) < 0))
		return -1;
	if (r->network != NULL && r->network->priorities_len > 0) {
		if ((dir = need(cg, CG_NET_PRIO, err)) == NULL)
			return -1;
		for (size_t i = 0; i < r->network->priorities_len; i++) {
			char buf[128];
			snprintf(buf, sizeof(buf), "%s %u", r->network->priorities[i].name,
			         r->network->priorities[i].priority);
			if (cg_write(dir, "net_prio.ifpriomap", buf, err) < 0)
				return -1;
		}
	}
	if (r->rdma_len > 0 && ((dir = need(cg, CG_RDMA, err)) == NULL || cgroup_rdma_write(dir, r, err) < 0))
		return -1;
	if (r->unified_len > 0) {
		if (cg->v2_dir == NULL)
			return berth_error_set(
			    err, BERTH_ERR_UNSUPPORTED, 0,
			    "linux.resources.unified (`%s`) needs cgroup v2, and this host has only v1",
			    r->unified[0].key);
		if (cgroup_v2_unified(cg->v2_dir, r, err) < 0)
			return -1;
	}
	return 0;
}

/* ---- 4. devices ---- */

static int v1_devices(struct cgroup *cg, const struct oci_resources *r, berth_error_t *err)
{
	static const char *const files[] = {"devices.deny", "devices.allow"};
	cleanup_free struct cg_dev_rule *rules = NULL;
	cleanup_close int deny = -1, allow = -1;
	bool allowed = false;
	const char *dir;
	size_t n = 0;
	int rc;

	if (cgroup_device_rules(cg, r, &rules, &n, err) < 0)
		return -1;
	/* without the devices controller a container could open any device */
	if ((dir = need(cg, CG_DEVICES, err)) == NULL)
		return -1;
	/* Each file opened once for all its rules: the kernel takes one rule
	 * per write. */
	deny = cg_open_write(dir, files[0]);
	rc = deny < 0 ? deny : cg_write_fd(deny, "a");
	if (rc < 0)
		return berth_error_sys(err, -rc, "write `%s/%s` = `a`", dir, files[0]);
	for (size_t i = 0; i < n; i++) {
		int *fd = rules[i].allow ? &allow : &deny;
		char buf[64];
		/* Before any allow, denying all again changes nothing ('a' ignores
		 * the numbers and the access): the spec's usual first rule. */
		if (!rules[i].allow && rules[i].type == 'a' && !allowed)
			continue;
		allowed = allowed || rules[i].allow;
		cgroup_device_rule_string(&rules[i], buf, sizeof(buf));
		if (*fd < 0)
			*fd = cg_open_write(dir, files[rules[i].allow ? 1 : 0]);
		rc = *fd < 0 ? *fd : cg_write_fd(*fd, buf);
		if (rc < 0)
			return berth_error_sys(err, -rc, "write `%s/%s` = `%s`", dir,
			                       files[rules[i].allow ? 1 : 0], buf);
	}
	return 0;
}

static int v1_create(struct cgroup *cg, const struct oci_resources *r, berth_error_t *err)
{
	berth_error_t local = NULL;

	/* 1. */
	if (v1_make(cg, r, err) < 0)
		return -1;
	/* 2. */
	if (cg->mode == CGROUP_MODE_HYBRID && cg->v2_dir != NULL) {
		bool v2_limits =
		    r != NULL &&
		    (r->unified_len > 0 || (r->hugepage_limits_len > 0 && cg->v1_rel[CG_HUGETLB] == NULL));
		if (cgroup_v2_make(cg, v2_limits ? NULL : "", &local) < 0) {
			/* the v2 cgroup is a convenience unless limits need it */
			if (v2_limits && !tolerable(cg, local->errnum)) {
				berth_error_move(err, &local);
				return -1;
			}
			berth_error_free(&local);
			free(cg->v2_dir);
			cg->v2_dir = NULL;
		}
	}
	/* 3. */
	if (v1_apply(cg, r, true, err) < 0)
		return -1;
	/* 4. */
	if (v1_devices(cg, r, &local) < 0) {
		if (!cg->rootless) {
			berth_error_move(err, &local);
			return -1;
		}
		berth_error_free(&local);
	}
	return 0;
}

static int v1_enter(struct cgroup *cg, pid_t pid, berth_error_t *err)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%d", (int)pid);
	for (int c = 0; c < CG_V1_N; c++) {
		int rc;
		if (cg->v1_dir[c] == NULL || cg->v1_alias[c])
			continue;
		rc = cg_write_try(cg->v1_dir[c], "cgroup.procs", buf);
		if (rc < 0 && !tolerable(cg, -rc))
			return berth_error_sys(err, -rc, "write `%s/cgroup.procs` = `%s`", cg->v1_dir[c],
			                       buf);
	}
	if (cg->mode == CGROUP_MODE_HYBRID && cg->v2_dir != NULL)
		return cgroup_v2_enter_dir(cg->v2_dir, pid, err);
	return 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {0, ms * 1000000L};
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int v1_freeze(struct cgroup *cg, bool frozen, berth_error_t *err)
{
	const char *want = frozen ? "FROZEN" : "THAWED", *dir = cg->v1_dir[CG_FREEZER];

	if (dir == NULL) {
		if (cg->mode == CGROUP_MODE_HYBRID && cg->v2_dir != NULL)
			return cgroup_v2_freeze_dir(cg->v2_dir, frozen, err);
		return need(cg, CG_FREEZER, err) == NULL ? -1 : 0;
	}
	/* FREEZING can last while tasks are busy in the kernel: poll it, and
	 * write again now and then */
	for (int i = 0; i < 1000; i++) {
		cleanup_free char *state = NULL;
		if ((i % 50 == 0) && cg_write(dir, "freezer.state", want, err) < 0)
			return -1;
		if (cgroup_test_mode())
			return 0;
		if (cg_read(dir, "freezer.state", &state, err) < 0)
			return -1;
		if (strncmp(state, want, strlen(want)) == 0)
			return 0;
		sleep_ms(1);
	}
	if (frozen) {
		berth_error_t ignore = NULL;
		(void)cg_write(dir, "freezer.state", "THAWED", &ignore);
		berth_error_free(&ignore);
	}
	return berth_error_set(err, BERTH_ERR_SYSTEM, ETIMEDOUT, "%s `%s`: still not %s",
	                       frozen ? "freeze" : "thaw", dir, want);
}

static int v1_is_frozen(struct cgroup *cg, bool *frozen, berth_error_t *err)
{
	cleanup_free char *state = NULL;
	berth_error_t local = NULL;

	*frozen = false;
	if (cg->v1_dir[CG_FREEZER] == NULL)
		return 0;
	if (cg_read(cg->v1_dir[CG_FREEZER], "freezer.state", &state, &local) < 0) {
		if (local->errnum == ENOENT) {
			berth_error_free(&local);
			return 0;
		}
		berth_error_move(err, &local);
		return -1;
	}
	*frozen = strncmp(state, "FROZEN", 6) == 0;
	return 0;
}

static const char *v1_procs_dir(struct cgroup *cg)
{
	static const enum cg_ctrl pref[] = {CG_FREEZER, CG_PIDS, CG_MEMORY, CG_DEVICES, CG_CPU};
	if (cg->mode == CGROUP_MODE_HYBRID && cg->v2_dir != NULL)
		return cg->v2_dir;
	for (size_t i = 0; i < sizeof(pref) / sizeof(pref[0]); i++)
		if (cg->v1_dir[pref[i]] != NULL)
			return cg->v1_dir[pref[i]];
	for (int c = 0; c < CG_V1_N; c++)
		if (cg->v1_dir[c] != NULL)
			return cg->v1_dir[c];
	return NULL;
}

static int v1_kill_fast(struct cgroup *cg, berth_error_t *err)
{
	if (cg->mode == CGROUP_MODE_HYBRID && cg->v2_dir != NULL)
		return cgroup_v2_kill_dir(cg->v2_dir, err);
	return 0;
}

/* ---- stats ---- */

static void memory_entry(const char *dir, const char *prefix, struct json_object *o, const char *key)
{
	char file[96];
	uint64_t v;
	struct json_object *e;

	snprintf(file, sizeof(file), "%s.usage_in_bytes", prefix);
	if (cg_read_u64(dir, file, &v) < 0)
		return;
	e = cg_json_obj(o, key);
	cg_json_u64(e, "usage", v, true);
	snprintf(file, sizeof(file), "%s.limit_in_bytes", prefix);
	cg_json_u64(e, "limit", cg_read_u64(dir, file, &v) == 0 ? v : 0, false);
	snprintf(file, sizeof(file), "%s.max_usage_in_bytes", prefix);
	if (cg_read_u64(dir, file, &v) == 0)
		cg_json_u64(e, "max", v, true);
	snprintf(file, sizeof(file), "%s.failcnt", prefix);
	cg_json_u64(e, "failcnt", cg_read_u64(dir, file, &v) == 0 ? v : 0, false);
}

static void blkio_file(const char *dir, const char *file, struct json_object *blkio, const char *key)
{
	cleanup_free char *text = NULL;
	berth_error_t ignore = NULL;
	char *save = NULL;

	if (cg_read(dir, file, &text, &ignore) < 0) {
		berth_error_free(&ignore);
		return;
	}
	for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		unsigned long long major, minor, v;
		char op[16];
		if (sscanf(line, "%llu:%llu %15s %llu", &major, &minor, op, &v) == 4)
			cg_json_blkio(blkio, key, major, minor, op, v);
	}
}

static int v1_stats(struct cgroup *cg, struct json_object *data, berth_error_t *err)
{
	const char *dir;
	uint64_t v;

	if ((dir = cg->v1_dir[CG_CPUACCT]) != NULL) {
		cleanup_free char *percpu = NULL, *stat = NULL;
		berth_error_t ignore = NULL;
		struct json_object *u = cg_json_obj(cg_json_obj(data, "cpu"), "usage");
		long hz = sysconf(_SC_CLK_TCK);
		if (hz <= 0)
			hz = 100;
		if (cg_read_u64(dir, "cpuacct.usage", &v) == 0)
			cg_json_u64(u, "total", v, true);
		if (cg_read(dir, "cpuacct.usage_percpu", &percpu, &ignore) == 0) {
			struct json_object *arr = json_object_new_array();
			char *p = percpu, *end;
			for (unsigned long long x = strtoull(p, &end, 10); end != p;
			     x = strtoull(p, &end, 10)) {
				json_object_array_add(arr, json_object_new_uint64(x));
				p = end;
			}
			json_object_object_add(u, "percpu", arr);
		}
		berth_error_free(&ignore);
		if (cg_read(dir, "cpuacct.stat", &stat, &ignore) == 0) {
			uint64_t ticks = 0;
			(void)cg_keyed_u64(stat, "system", &ticks);
			cg_json_u64(u, "kernel", ticks * (1000000000ULL / (uint64_t)hz), false);
			ticks = 0;
			(void)cg_keyed_u64(stat, "user", &ticks);
			cg_json_u64(u, "user", ticks * (1000000000ULL / (uint64_t)hz), false);
		}
		berth_error_free(&ignore);
	}
	if ((dir = cg->v1_dir[CG_CPU]) != NULL) {
		cleanup_free char *stat = NULL;
		berth_error_t ignore = NULL;
		if (cg_read(dir, "cpu.stat", &stat, &ignore) == 0) {
			struct json_object *t = cg_json_obj(cg_json_obj(data, "cpu"), "throttling");
			if (cg_keyed_u64(stat, "nr_periods", &v) == 0)
				cg_json_u64(t, "periods", v, true);
			if (cg_keyed_u64(stat, "nr_throttled", &v) == 0)
				cg_json_u64(t, "throttledPeriods", v, true);
			if (cg_keyed_u64(stat, "throttled_time", &v) == 0)
				cg_json_u64(t, "throttledTime", v, true);
		}
		berth_error_free(&ignore);
	}
	if ((dir = cg->v1_dir[CG_MEMORY]) != NULL) {
		cleanup_free char *stat = NULL;
		berth_error_t ignore = NULL;
		struct json_object *m = cg_json_obj(data, "memory");
		memory_entry(dir, "memory", m, "usage");
		memory_entry(dir, "memory.memsw", m, "swap");
		memory_entry(dir, "memory.kmem", m, "kernel");
		memory_entry(dir, "memory.kmem.tcp", m, "kernelTCP");
		if (cg_read(dir, "memory.stat", &stat, &ignore) == 0) {
			if (cg_keyed_u64(stat, "cache", &v) == 0)
				cg_json_u64(m, "cache", v, true);
			cg_json_raw(cg_json_obj(m, "raw"), stat);
		}
		berth_error_free(&ignore);
	}
	if ((dir = cg->v1_dir[CG_PIDS]) != NULL && cg_read_u64(dir, "pids.current", &v) == 0) {
		struct json_object *p = cg_json_obj(data, "pids");
		cg_json_u64(p, "current", v, true);
		if (cg_read_u64(dir, "pids.max", &v) == 0)
			cg_json_u64(p, "limit", v == UINT64_MAX ? 0 : v, true);
	}
	if ((dir = cg->v1_dir[CG_BLKIO]) != NULL) {
		struct json_object *b = cg_json_obj(data, "blkio");
		const char *prefix = cg_file_exists(dir, "blkio.io_service_bytes_recursive") ? "blkio"
		                     : cg_file_exists(dir, "blkio.bfq.io_service_bytes_recursive")
		                         ? "blkio.bfq"
		                         : "blkio.throttle";
		char f1[96], f2[96];
		snprintf(f1, sizeof(f1), "%s.io_service_bytes_recursive", prefix);
		snprintf(f2, sizeof(f2), "%s.io_serviced_recursive", prefix);
		blkio_file(dir, f1, b, "ioServiceBytesRecursive");
		blkio_file(dir, f2, b, "ioServicedRecursive");
	}
	if ((dir = cg->v1_dir[CG_HUGETLB]) != NULL) {
		char **sizes = cg_hugepage_sizes();
		struct json_object *h = cg_json_obj(data, "hugetlb");
		for (size_t i = 0; sizes != NULL && sizes[i] != NULL; i++) {
			char file[128];
			struct json_object *e = cg_json_obj(h, sizes[i]);
			snprintf(file, sizeof(file), "hugetlb.%s.usage_in_bytes", sizes[i]);
			cg_json_u64(e, "usage", cg_read_u64(dir, file, &v) == 0 ? v : 0, true);
			snprintf(file, sizeof(file), "hugetlb.%s.max_usage_in_bytes", sizes[i]);
			cg_json_u64(e, "max", cg_read_u64(dir, file, &v) == 0 ? v : 0, true);
			snprintf(file, sizeof(file), "hugetlb.%s.failcnt", sizes[i]);
			cg_json_u64(e, "failcnt", cg_read_u64(dir, file, &v) == 0 ? v : 0, false);
		}
		strv_free(sizes);
	} else if (cg->v2_dir != NULL) {
		return cgroup_v2_hugetlb_stats(cg->v2_dir, data);
	}
	return 0;
}

/* ---- OOM ---- */

static int v1_oom_fd(struct cgroup *cg, berth_error_t *err)
{
	cleanup_close int efd = -1, cfd = -1;
	const char *dir = need(cg, CG_MEMORY, err);
	char path[PATH_MAX], buf[48];

	if (dir == NULL)
		return -1;
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return berth_error_sys(err, errno, "eventfd");
	snprintf(path, sizeof(path), "%s/memory.oom_control", dir);
	cfd = open(path, O_RDONLY | O_CLOEXEC);
	if (cfd < 0)
		return berth_error_sys(err, errno, "open `%s`", path);
	/* the kernel looks both fds up at registration and keeps what it needs */
	snprintf(buf, sizeof(buf), "%d %d", efd, cfd);
	if (cg_write(dir, "cgroup.event_control", buf, err) < 0)
		return -1;
	return steal_fd(&efd);
}

static bool v1_oom_check(struct cgroup *cg, int fd)
{
	uint64_t count = 0;

	if (read(fd, &count, sizeof(count)) != (ssize_t)sizeof(count) || count == 0)
		return false;
	/* removing the cgroup signals the eventfd too */
	return cg->v1_dir[CG_MEMORY] != NULL && cg_file_exists(cg->v1_dir[CG_MEMORY], "cgroup.event_control");
}

const struct cgroup_ops cgroup_v1_ops = {
    .name = "v1",
    .create = v1_create,
    .apply = v1_apply,
    .enter = v1_enter,
    .freeze = v1_freeze,
    .is_frozen = v1_is_frozen,
    .procs_dir = v1_procs_dir,
    .kill_fast = v1_kill_fast,
    .stats = v1_stats,
    .oom_fd = v1_oom_fd,
    .oom_check = v1_oom_check,
};

/* Hybrid: the same functions, which look at cg->mode and cg->v2_dir for
 * the parts the v2 hierarchy takes (processes, cgroup.kill, hugetlb,
 * unified). */
const struct cgroup_ops cgroup_hybrid_ops = {
    .name = "hybrid",
    .create = v1_create,
    .apply = v1_apply,
    .enter = v1_enter,
    .freeze = v1_freeze,
    .is_frozen = v1_is_frozen,
    .procs_dir = v1_procs_dir,
    .kill_fast = v1_kill_fast,
    .stats = v1_stats,
    .oom_fd = v1_oom_fd,
    .oom_check = v1_oom_check,
};
