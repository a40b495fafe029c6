/* The cgroup v2 device controller: an eBPF program of type
 * BPF_PROG_TYPE_CGROUP_DEVICE, attached to the container's cgroup with
 * BPF_CGROUP_DEVICE and BPF_F_ALLOW_MULTI.
 *
 * The rules are first reduced the way the v1 kernel would apply them in
 * order (cgroup_device_emulate): a default (allow or deny) and a list of
 * exceptions.  The program then reads the request and checks the
 * exceptions in turn:
 *
 *   r2 = ctx->access_type & 0xffff      device type (BPF_DEVCG_DEV_*)
 *   r3 = ctx->access_type >> 16         access (BPF_DEVCG_ACC_*)
 *   r4 = ctx->major, r5 = ctx->minor
 *   for each exception:                 (a test is left out for a wildcard)
 *       if r2 != type: next
 *       deny-by-default:  if r3 & ~access: next   (all asked must be allowed)
 *       allow-by-default: if !(r3 & access): next (any asked is denied)
 *       if r4 != major: next
 *       if r5 != minor: next
 *       return !default
 *   return default
 */
#include "cgroup_internal.h"
#include "util/cleanup.h"

#include <errno.h>
#include <linux/bpf.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- the v1 semantics ---- */

static bool same_dev(const struct cg_dev_rule *a, const struct cg_dev_rule *b)
{
	return a->type == b->type && a->major == b->major && a->minor == b->minor;
}

int cgroup_device_emulate(const struct cg_dev_rule *rules, size_t n, struct cg_dev_state *st,
                          berth_error_t *err)
{
	st->default_allow = false;
	st->ex = calloc(n + 1, sizeof(*st->ex));
	st->n = 0;
	if (st->ex == NULL)
		return berth_error_sys(err, ENOMEM, "device rules");
	for (size_t i = 0; i < n; i++) {
		const struct cg_dev_rule *r = &rules[i];
		size_t k;
		if (r->type == 'a') { /* "a": a new default, exceptions dropped */
			st->default_allow = r->allow;
			st->n = 0;
			continue;
		}
		for (k = 0; k < st->n && !same_dev(&st->ex[k], r); k++)
			;
		if (r->allow == st->default_allow) {
			/* agrees with the default: takes access away from an
			 * exception for exactly this device */
			if (k < st->n) {
				st->ex[k].access &= ~r->access;
				if (st->ex[k].access == 0) {
					memmove(&st->ex[k], &st->ex[k + 1],
					        (st->n - k - 1) * sizeof(*st->ex));
					st->n--;
				}
			}
		} else if (k < st->n) {
			st->ex[k].access |= r->access;
		} else {
			st->ex[st->n] = *r;
			st->ex[st->n].allow = !st->default_allow;
			st->n++;
		}
	}
	return 0;
}

void cgroup_device_state_free(struct cg_dev_state *st)
{
	free(st->ex);
	st->ex = NULL;
	st->n = 0;
}

/* ---- the program ---- */

#define INSN(c, d, s, o, i)                                                                                  \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

static unsigned bpf_access(unsigned access)
{
	unsigned a = 0;
	if (access & CG_DEV_MKNOD)
		a |= BPF_DEVCG_ACC_MKNOD;
	if (access & CG_DEV_READ)
		a |= BPF_DEVCG_ACC_READ;
	if (access & CG_DEV_WRITE)
		a |= BPF_DEVCG_ACC_WRITE;
	return a;
}

static size_t block_len(const struct cg_dev_rule *r)
{
	size_t len = 2; /* mov r0, exit */
	if (r->type != 'a')
		len++;
	if ((r->access & 7) != 7)
		len += 3;
	if (r->major >= 0)
		len++;
	if (r->minor >= 0)
		len++;
	return len;
}

/* Writes the program into out (when not NULL); returns its length. */
static size_t build(const struct cg_dev_state *st, struct bpf_insn *out)
{
	size_t n = 0;
#define EMIT(x)                                                                                              \
	do {                                                                                                 \
		if (out != NULL)                                                                             \
			out[n] = (x);                                                                        \
		n++;                                                                                         \
	} while (0)

	EMIT(INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_2, BPF_REG_1, 0, 0));
	EMIT(INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_3, BPF_REG_2, 0, 0));
	EMIT(INSN(BPF_ALU64 | BPF_RSH | BPF_K, BPF_REG_3, 0, 0, 16));
	EMIT(INSN(BPF_ALU64 | BPF_AND | BPF_K, BPF_REG_2, 0, 0, 0xffff));
	EMIT(INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_4, BPF_REG_1, 4, 0));
	EMIT(INSN(BPF_LDX | BPF_W | BPF_MEM, BPF_REG_5, BPF_REG_1, 8, 0));
	for (size_t i = 0; i < st->n; i++) {
		const struct cg_dev_rule *r = &st->ex[i];
		size_t next = n + block_len(r);
#define OFF() ((short)(next - n - 1))
		if (r->type != 'a')
			EMIT(INSN(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_2, 0, OFF(),
			          r->type == 'b' ? BPF_DEVCG_DEV_BLOCK : BPF_DEVCG_DEV_CHAR));
		if ((r->access & 7) != 7) {
			unsigned a = bpf_access(r->access);
			EMIT(INSN(BPF_ALU | BPF_MOV | BPF_X, BPF_REG_0, BPF_REG_3, 0, 0));
			if (!st->default_allow) {
				EMIT(INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_0, 0, 0, (int)(~a & 7)));
				EMIT(INSN(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_0, 0, OFF(), 0));
			} else {
				EMIT(INSN(BPF_ALU | BPF_AND | BPF_K, BPF_REG_0, 0, 0, (int)a));
				EMIT(INSN(BPF_JMP32 | BPF_JEQ | BPF_K, BPF_REG_0, 0, OFF(), 0));
			}
		}
		if (r->major >= 0)
			EMIT(INSN(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_4, 0, OFF(), (int)(uint32_t)r->major));
		if (r->minor >= 0)
			EMIT(INSN(BPF_JMP32 | BPF_JNE | BPF_K, BPF_REG_5, 0, OFF(), (int)(uint32_t)r->minor));
#undef OFF
		EMIT(INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, st->default_allow ? 0 : 1));
		EMIT(INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
	}
	EMIT(INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, st->default_allow ? 1 : 0));
	EMIT(INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0));
#undef EMIT
	return n;
}

size_t cgroup_bpf_program_len(const struct cg_dev_rule *rules, size_t n)
{
	struct cg_dev_state st;
	size_t len;
	if (cgroup_device_emulate(rules, n, &st, NULL) < 0)
		return 0;
	len = build(&st, NULL);
	cgroup_device_state_free(&st);
	return len;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
	return (int)syscall(SYS_bpf, cmd, attr, sizeof(*attr));
}

/* The ids of the device programs attached to the cgroup now. */
static int query(int dirfd, uint32_t *ids, uint32_t *count)
{
	union bpf_attr attr;
	memset(&attr, 0, sizeof(attr));
	attr.query.target_fd = (uint32_t)dirfd;
	attr.query.attach_type = BPF_CGROUP_DEVICE;
	attr.query.prog_ids = (uint64_t)(uintptr_t)ids;
	attr.query.prog_cnt = *count;
	if (sys_bpf(BPF_PROG_QUERY, &attr) < 0)
		return -1;
	*count = attr.query.prog_cnt;
	return 0;
}

int cgroup_bpf_devices_attach(int dirfd, const struct cg_dev_rule *rules, size_t n, berth_error_t *err)
{
	struct cg_dev_state st;
	cleanup_free struct bpf_insn *insns = NULL;
	cleanup_close int prog = -1;
	uint32_t old[64], nold = 64;
	union bpf_attr attr;
	size_t len;
	char log[4096] = "";

	if (cgroup_device_emulate(rules, n, &st, err) < 0)
		return -1;
	len = build(&st, NULL);
	insns = calloc(len, sizeof(*insns));
	if (insns == NULL) {
		cgroup_device_state_free(&st);
		return berth_error_sys(err, ENOMEM, "device program");
	}
	build(&st, insns);
	cgroup_device_state_free(&st);

	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
	attr.insns = (uint64_t)(uintptr_t)insns;
	attr.insn_cnt = (uint32_t)len;
	attr.license = (uint64_t)(uintptr_t) "Apache";
	prog = sys_bpf(BPF_PROG_LOAD, &attr);
	if (prog < 0) {
		int saved = errno;
		/* again, with the verifier's log for the message */
		attr.log_buf = (uint64_t)(uintptr_t)log;
		attr.log_size = sizeof(log);
		attr.log_level = 1;
		(void)sys_bpf(BPF_PROG_LOAD, &attr);
		log[sizeof(log) - 1] = '\0';
		return berth_error_sys(err, saved,
		                       "load the device cgroup program (%zu instructions)%s%.200s", len,
		                       log[0] != '\0' ? ": " : "", log);
	}
	/* programs attached before (an existing cgroup) go once ours is in */
	if (query(dirfd, old, &nold) < 0)
		nold = 0;
	memset(&attr, 0, sizeof(attr));
	attr.target_fd = (uint32_t)dirfd;
	attr.attach_bpf_fd = (uint32_t)prog;
	attr.attach_type = BPF_CGROUP_DEVICE;
	attr.attach_flags = BPF_F_ALLOW_MULTI;
	if (sys_bpf(BPF_PROG_ATTACH, &attr) < 0)
		return berth_error_sys(err, errno, "attach the device cgroup program");
	for (uint32_t i = 0; i < nold && i < 64; i++) {
		cleanup_close int ofd = -1;
		memset(&attr, 0, sizeof(attr));
		attr.prog_id = old[i];
		ofd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
		if (ofd < 0)
			continue;
		memset(&attr, 0, sizeof(attr));
		attr.target_fd = (uint32_t)dirfd;
		attr.attach_bpf_fd = (uint32_t)ofd;
		attr.attach_type = BPF_CGROUP_DEVICE;
		if (sys_bpf(BPF_PROG_DETACH, &attr) < 0)
			return berth_error_sys(err, errno, "detach an old device cgroup program");
	}
	return 0;
}
