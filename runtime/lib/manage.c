/* The commands that work on a container's cgroup once it exists: pause,
 * resume, ps (pids), update, events (stats and OOM kills), and the size and
 * duration parsers of their flags.
 *
 * Each entry point is the same short list of steps: open the container's
 * state (with its lock when it changes something), check its status, reopen
 * its cgroup from the path create recorded, and call the cgroup module.
 */
#include "berth/berth.h"
#include "cgroup.h"
#include "state.h"
#include "util/cleanup.h"
#include "util/fs.h"

#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static void cgroup_freep(struct cgroup **cg)
{
	cgroup_free(*cg);
}
#define cleanup_cgroup __attribute__((cleanup(cgroup_freep)))

static void resources_freep(struct oci_resources **r)
{
	oci_resources_free(*r);
}
#define cleanup_resources __attribute__((cleanup(resources_freep)))

static int not_running(const char *id, berth_error_t *err)
{
	return berth_error_set(err, BERTH_ERR_STATE, 0, "container `%s` is not running", id);
}

/* The container's cgroup; an error when it recorded none. */
static int open_cgroup(const struct container *c, struct cgroup **out, berth_error_t *err)
{
	*out = NULL;
	if (c->cgroup == NULL || c->cgroup[0] == '\0')
		return berth_error_set(err, BERTH_ERR_UNSUPPORTED, 0, "container `%s` has no cgroup", c->id);
	if (cgroup_open_path(c->cgroup, out, err) < 0)
		return berth_error_prefix(err, "container `%s`", c->id);
	return 0;
}

/* ---- pause, resume ---- */

static int set_frozen(const struct berth_context *ctx, const char *id, bool frozen, berth_error_t *err)
{
	cleanup_container struct container *c = NULL;
	cleanup_cgroup struct cgroup *cg = NULL;
	enum container_status status;

	/* 1. the container, locked: a concurrent start or delete waits */
	if (state_open(ctx, id, true, false, &c, err) < 0)
		return -1;
	/* 2. pause needs a running container, resume a paused one */
	status = state_status(c);
	if (frozen && status != STATUS_RUNNING)
		return not_running(id, err);
	if (!frozen && status != STATUS_PAUSED)
		return berth_error_set(err, BERTH_ERR_STATE, 0, "container `%s` is not paused", id);
	/* 3. the freezer, which waits until every process is (un)frozen */
	if (open_cgroup(c, &cg, err) < 0 || cgroup_freeze(cg, frozen, err) < 0)
		return berth_error_prefix(err, "%s container `%s`", frozen ? "pause" : "resume", id);
	return 0;
}

int berth_container_pause(const struct berth_context *ctx, const char *id, berth_error_t *err)
{
	return set_frozen(ctx, id, true, err);
}

int berth_container_resume(const struct berth_context *ctx, const char *id, berth_error_t *err)
{
	return set_frozen(ctx, id, false, err);
}

/* ---- ps ---- */

static int compare_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

int berth_container_pids(const struct berth_context *ctx, const char *id, pid_t **pids_out, size_t *n_out,
                         berth_error_t *err)
{
	cleanup_container struct container *c = NULL;
	cleanup_cgroup struct cgroup *cg = NULL;
	berth_error_t local = NULL;

	*pids_out = NULL;
	*n_out = 0;
	if (state_open(ctx, id, false, false, &c, err) < 0 || open_cgroup(c, &cg, err) < 0)
		return -1;
	if (cgroup_pids(cg, pids_out, n_out, &local) < 0) {
		/* a stopped container's cgroup may be gone: no processes */
		if (local->errnum == ENOENT) {
			berth_error_free(&local);
			return 0;
		}
		berth_error_move(err, &local);
		return berth_error_prefix(err, "processes of container `%s`", id);
	}
	qsort(*pids_out, *n_out, sizeof(pid_t), compare_pid);
	return 0;
}

/* ---- update ---- */

#define SWAP(a, b)                                                                                           \
	do {                                                                                                 \
		__typeof__(a) tmp_ = (a);                                                                    \
		(a) = (b);                                                                                   \
		(b) = tmp_;                                                                                  \
	} while (0)
#define TAKE_OPT(dst, src, m)                                                                                \
	do {                                                                                                 \
		if ((src)->m.set)                                                                            \
			(dst)->m = (src)->m;                                                                 \
	} while (0)
#define TAKE_STR(dst, src, m)                                                                                \
	do {                                                                                                 \
		if ((src)->m != NULL)                                                                        \
			SWAP((dst)->m, (src)->m);                                                            \
	} while (0)
#define TAKE_ARRAY(dst, src, m)                                                                              \
	do {                                                                                                 \
		if ((src)->m##_len > 0) {                                                                    \
			SWAP((dst)->m, (src)->m);                                                            \
			SWAP((dst)->m##_len, (src)->m##_len);                                                \
		}                                                                                            \
	} while (0)

static void merge_memory(struct oci_memory *d, struct oci_memory *s)
{
	TAKE_OPT(d, s, limit);
	TAKE_OPT(d, s, reservation);
	TAKE_OPT(d, s, swap);
	TAKE_OPT(d, s, kernel);
	TAKE_OPT(d, s, kernel_tcp);
	TAKE_OPT(d, s, swappiness);
	TAKE_OPT(d, s, disable_oom_killer);
	TAKE_OPT(d, s, use_hierarchy);
	TAKE_OPT(d, s, check_before_update);
}

static void merge_cpu(struct oci_cpu *d, struct oci_cpu *s)
{
	TAKE_OPT(d, s, shares);
	TAKE_OPT(d, s, quota);
	TAKE_OPT(d, s, burst);
	TAKE_OPT(d, s, period);
	TAKE_OPT(d, s, realtime_runtime);
	TAKE_OPT(d, s, realtime_period);
	TAKE_STR(d, s, cpus);
	TAKE_STR(d, s, mems);
	TAKE_OPT(d, s, idle);
}

static void merge_block_io(struct oci_block_io *d, struct oci_block_io *s)
{
	TAKE_OPT(d, s, weight);
	TAKE_OPT(d, s, leaf_weight);
	TAKE_ARRAY(d, s, weight_device);
	TAKE_ARRAY(d, s, throttle_read_bps_device);
	TAKE_ARRAY(d, s, throttle_write_bps_device);
	TAKE_ARRAY(d, s, throttle_read_iops_device);
	TAKE_ARRAY(d, s, throttle_write_iops_device);
}

/* unified: keys of s replace or join those of d. */
static int merge_unified(struct oci_resources *d, struct oci_resources *s, berth_error_t *err)
{
	for (size_t i = 0; i < s->unified_len; i++) {
		size_t j = 0;
		while (j < d->unified_len && strcmp(d->unified[j].key, s->unified[i].key) != 0)
			j++;
		if (j == d->unified_len) {
			struct oci_kv *more = realloc(d->unified, (d->unified_len + 1) * sizeof(*more));
			if (more == NULL)
				return berth_error_sys(err, ENOMEM, "update");
			d->unified = more;
			d->unified[j] = (struct oci_kv){NULL, NULL};
			d->unified_len++;
			SWAP(d->unified[j].key, s->unified[i].key);
		}
		SWAP(d->unified[j].value, s->unified[i].value);
	}
	return 0;
}

/* Moves what s sets into d; what d loses goes to s, which the caller frees. */
static int merge_resources(struct oci_resources *d, struct oci_resources *s, berth_error_t *err)
{
	if (s->memory != NULL && d->memory == NULL)
		SWAP(d->memory, s->memory);
	else if (s->memory != NULL)
		merge_memory(d->memory, s->memory);
	if (s->cpu != NULL && d->cpu == NULL)
		SWAP(d->cpu, s->cpu);
	else if (s->cpu != NULL)
		merge_cpu(d->cpu, s->cpu);
	if (s->has_pids && s->pids_limit.set) {
		d->has_pids = true;
		d->pids_limit = s->pids_limit;
	}
	if (s->block_io != NULL && d->block_io == NULL)
		SWAP(d->block_io, s->block_io);
	else if (s->block_io != NULL)
		merge_block_io(d->block_io, s->block_io);
	TAKE_ARRAY(d, s, hugepage_limits);
	if (s->network != NULL)
		SWAP(d->network, s->network);
	TAKE_ARRAY(d, s, rdma);
	return merge_unified(d, s, err);
}

static int save_config(struct container *c, berth_error_t *err)
{
	cleanup_free char *config = oci_spec_to_json(c->spec, false, err);

	if (config == NULL)
		return -1;
	return fs_write_file_atomic_at(c->dir_fd, CONFIG_FILE, config, strlen(config), 0600, err);
}

int berth_container_update(const struct berth_context *ctx, const struct berth_update_options *opts,
                           berth_error_t *err)
{
	cleanup_container struct container *c = NULL;
	cleanup_cgroup struct cgroup *cg = NULL;
	cleanup_resources struct oci_resources *update = NULL;
	struct oci_resources applied;
	enum container_status status;
	const char *id;

	if (opts == NULL || opts->size < sizeof(struct berth_update_options))
		return berth_error_invalid(err, "update: options too small (size %zu)",
		                           opts ? opts->size : 0);
	id = opts->id;
	/* 1. what the caller asks for, validated before anything changes */
	if (opts->l3_cache_schema != NULL || opts->mem_bw_schema != NULL)
		return berth_error_set(
		    err, BERTH_ERR_UNSUPPORTED, 0, "update container `%s`: %s: Intel RDT is not supported",
		    id, opts->l3_cache_schema != NULL ? "l3 cache schema" : "memory bandwidth schema");
	if (opts->resources_json != NULL &&
	    oci_resources_parse(opts->resources_json, strlen(opts->resources_json),
	                        opts->resources_origin != NULL ? opts->resources_origin : "resources",
	                        &update, err) < 0)
		return -1;
	if (update == NULL)
		return 0;
	/* Unlimited memory with a swap limit left from before cannot be
	 * written (memory+swap < memory): unlimited swap too, as runc does. */
	if (update->memory != NULL && update->memory->limit.set && update->memory->limit.value == -1 &&
	    !update->memory->swap.set)
		update->memory->swap = (struct oci_opt_i64){true, -1};
	/* 2. the container, locked, with its stored config */
	if (state_open(ctx, id, true, true, &c, err) < 0)
		return -1;
	status = state_status(c);
	if (status == STATUS_STOPPED || status == STATUS_CREATING || c->spec == NULL)
		return not_running(id, err);
	if (open_cgroup(c, &cg, err) < 0)
		return -1;
	/* 3. merged into the stored resources */
	if (c->spec->linux_ == NULL && (c->spec->linux_ = calloc(1, sizeof(struct oci_linux))) == NULL)
		return berth_error_sys(err, ENOMEM, "update container `%s`", id);
	if (c->spec->linux_->resources == NULL &&
	    (c->spec->linux_->resources = calloc(1, sizeof(struct oci_resources))) == NULL)
		return berth_error_sys(err, ENOMEM, "update container `%s`", id);
	if (merge_resources(c->spec->linux_->resources, update, err) < 0)
		return -1;
	/* 4. all of them applied, as runc does (so that memory and swap are
	 * written together), except devices, which update never changes */
	applied = *c->spec->linux_->resources;
	applied.devices = NULL;
	applied.devices_len = 0;
	if (cgroup_update(cg, &applied, err) < 0)
		return berth_error_prefix(err, "update container `%s`", id);
	/* 5. recorded, so that later reads see them */
	if (save_config(c, err) < 0)
		return berth_error_prefix(err, "update container `%s`: record resources", id);
	return 0;
}

/* ---- stats and events ---- */

int berth_container_stats(const struct berth_context *ctx, const char *id, char **json_out,
                          berth_error_t *err)
{
	cleanup_container struct container *c = NULL;
	cleanup_cgroup struct cgroup *cg = NULL;
	enum container_status status;

	*json_out = NULL;
	if (state_open(ctx, id, false, false, &c, err) < 0)
		return -1;
	status = state_status(c);
	if (status == STATUS_STOPPED || status == STATUS_CREATING)
		return not_running(id, err);
	if (open_cgroup(c, &cg, err) < 0)
		return -1;
	*json_out = cgroup_stats_json(cg, err);
	if (*json_out == NULL)
		return berth_error_prefix(err, "stats of container `%s`", id);
	return 0;
}

struct berth_events {
	struct container *c;
	struct cgroup *cg;
	int pidfd;  /* of init; -1 without pidfd_open (then polled) */
	int oom_fd; /* -1 without a memory controller */
};

void berth_events_close(struct berth_events *ev)
{
	if (ev == NULL)
		return;
	if (ev->pidfd >= 0)
		close(ev->pidfd);
	if (ev->oom_fd >= 0)
		close(ev->oom_fd);
	cgroup_free(ev->cg);
	container_free(ev->c);
	free(ev);
}

int berth_events_oom_fd(const struct berth_events *ev)
{
	return ev != NULL ? ev->oom_fd : -1;
}

static void events_closep(struct berth_events **ev)
{
	berth_events_close(*ev);
}

int berth_events_open(const struct berth_context *ctx, const char *id, struct berth_events **out,
                      berth_error_t *err)
{
	__attribute__((cleanup(events_closep))) struct berth_events *ev = calloc(1, sizeof(*ev));
	enum container_status status;
	berth_error_t local = NULL;

	*out = NULL;
	if (ev == NULL)
		return berth_error_sys(err, ENOMEM, "events of `%s`", id);
	ev->pidfd = ev->oom_fd = -1;
	/* 1. a live container and its cgroup */
	if (state_open(ctx, id, false, false, &ev->c, err) < 0)
		return -1;
	status = state_status(ev->c);
	if (status == STATUS_STOPPED || status == STATUS_CREATING)
		return not_running(id, err);
	if (open_cgroup(ev->c, &ev->cg, err) < 0)
		return -1;
	/* 2. init's exit: a pidfd, checked against the recorded start time
	 * in case the pid was reused before it was opened */
	ev->pidfd = (int)syscall(SYS_pidfd_open, ev->c->pid, 0);
	if (state_pid_start_time(ev->c->pid) != ev->c->start_time)
		return not_running(id, err);
	/* 3. OOM kills; none to report without a memory controller */
	ev->oom_fd = cgroup_oom_fd(ev->cg, &local);
	if (ev->oom_fd < 0) {
		if (ctx != NULL && ctx->log != NULL)
			ctx->log(ctx->log_data, BERTH_LOG_WARNING, berth_error_message(local));
		berth_error_free(&local);
	}
	*out = steal_ptr(&ev);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int berth_events_wait(struct berth_events *ev, int timeout_ms, enum berth_event_type *type_out,
                      berth_error_t *err)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;

	for (;;) {
		struct pollfd pfd[2] = {{.fd = ev->oom_fd, .events = POLLIN},
		                        {.fd = ev->pidfd, .events = POLLIN}};
		long long left = deadline < 0 ? -1 : deadline - now_ms();
		int slice, r;

		if (deadline >= 0 && left < 0)
			left = 0;
		slice = (int)left;
		/* without a pidfd, init is looked at every second */
		if (ev->pidfd < 0 && (slice < 0 || slice > 1000))
			slice = 1000;
		r = poll(pfd, 2, slice);
		if (r < 0 && errno != EINTR)
			return berth_error_sys(err, errno, "events of `%s`", ev->c->id);
		/* an OOM kill first: it may be what ended init */
		if (r > 0 && (pfd[0].revents & POLLIN) && cgroup_oom_check(ev->cg, ev->oom_fd)) {
			*type_out = BERTH_EVENT_OOM;
			return 0;
		}
		if ((r > 0 && (pfd[1].revents & POLLIN)) ||
		    state_pid_start_time(ev->c->pid) != ev->c->start_time) {
			*type_out = BERTH_EVENT_EXIT;
			return 0;
		}
		if (r > 0 && (pfd[0].revents & (POLLERR | POLLHUP | POLLNVAL))) {
			close(ev->oom_fd); /* the cgroup went away: no more OOM events */
			ev->oom_fd = -1;
		}
		if (deadline >= 0 && now_ms() >= deadline) {
			*type_out = BERTH_EVENT_TIMEOUT;
			return 0;
		}
	}
}

int berth_events_stats(struct berth_events *ev, char **json_out, berth_error_t *err)
{
	*json_out = cgroup_stats_json(ev->cg, err);
	if (*json_out == NULL)
		return berth_error_prefix(err, "stats of container `%s`", ev->c->id);
	return 0;
}

/* ---- flag values ---- */

int berth_size_parse(const char *text, long long *bytes_out, berth_error_t *err)
{
	static const char units[] = "kmgtp";
	const char *p = text, *u;
	double value, mult = 1;
	char *end;

	if (text == NULL || *text == '\0')
		return berth_error_invalid(err, "invalid size: ''");
	if (strcmp(text, "-1") == 0) {
		*bytes_out = -1;
		return 0;
	}
	/* ^[0-9]+(\.[0-9]+)* ?([kKmMgGtTpP])?[iI]?[bB]?$ as docker's RAMInBytes */
	if (!isdigit((unsigned char)*p))
		return berth_error_invalid(err, "invalid size: '%s'", text);
	value = strtod(p, &end);
	if (end != p + strspn(p, "0123456789."))
		return berth_error_invalid(err, "invalid size: '%s'", text);
	p = end;
	if (*p == ' ')
		p++;
	if (*p != '\0' && (u = strchr(units, tolower((unsigned char)*p))) != NULL) {
		for (const char *q = units; q <= u; q++)
			mult *= 1024;
		p++;
	}
	if (*p == 'i' || *p == 'I')
		p++;
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p != '\0' || value * mult >= 9.2e18)
		return berth_error_invalid(err, "invalid size: '%s'", text);
	*bytes_out = (long long)(value * mult);
	return 0;
}

int berth_duration_parse(const char *text, long long *ns_out, berth_error_t *err)
{
	static const struct {
		const char *name;
		double ns;
	} units[] = {{"ns", 1},  {"us", 1e3}, {"\u00b5s", 1e3}, {"ms", 1e6},
	             {"s", 1e9}, {"m", 60e9}, {"h", 3600e9}};
	const char *p = text;
	double total = 0;

	if (text == NULL || *text == '\0')
		return berth_error_invalid(err, "invalid duration \"\"");
	if (strcmp(text, "0") == 0) {
		*ns_out = 0;
		return 0;
	}
	while (*p != '\0') {
		char *end;
		double v;
		size_t best = 0, best_len = 0;

		if (!isdigit((unsigned char)*p) && *p != '.')
			return berth_error_invalid(err, "invalid duration \"%s\"", text);
		v = strtod(p, &end);
		if (end == p || end != p + strspn(p, "0123456789."))
			return berth_error_invalid(err, "invalid duration \"%s\"", text);
		p = end;
		/* the longest unit that matches ("ms" before "m") */
		for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			size_t len = strlen(units[i].name);
			if (strncmp(p, units[i].name, len) == 0 && len > best_len) {
				best = i;
				best_len = len;
			}
		}
		if (best_len == 0)
			return berth_error_invalid(err, "%s \"%s\"",
			                           isalpha((unsigned char)*p) ? "unknown unit in duration"
			                                                      : "missing unit in duration",
			                           text);
		total += v * units[best].ns;
		p += best_len;
	}
	if (total >= 9.2e18)
		return berth_error_invalid(err, "invalid duration \"%s\"", text);
	*ns_out = (long long)total;
	return 0;
}
