/* `berth features`: the runtime-spec features document.
 *
 * Every list comes from where the runtime or its libraries define what they
 * handle, never from a list kept here by hand: hook kinds and namespace
 * names from oci-spec's tables, mount options from mounts.c's table,
 * capabilities from libcap, seccomp architectures, actions and flags from
 * libseccomp (and the kernel, for the flags it supports), seccomp operators
 * from oci-spec's table.
 */
#include "config.h"

#include "berth/berth.h"
#include "mounts.h"
#include "runtime_spec.h"
#include "util/cleanup.h"

#include <ctype.h>
#include <errno.h>
#include <linux/seccomp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/syscall.h>
#include <unistd.h>

/* A growing NULL-terminated array of strings and its count. */
struct strv {
	char **v;
	size_t n;
	bool failed;
};

static void strv_add(struct strv *s, const char *str)
{
	char **more;

	if (s->failed)
		return;
	more = realloc(s->v, (s->n + 2) * sizeof(char *));
	if (more == NULL || (more[s->n] = strdup(str)) == NULL) {
		s->v = more != NULL ? more : s->v;
		if (s->v != NULL)
			s->v[s->n] = NULL;
		s->failed = true;
		return;
	}
	s->v = more;
	s->v[++s->n] = NULL;
}

/* Hands the array to a features member (and its count); false when out of memory. */
static bool strv_move(struct strv *s, char ***to, size_t *len)
{
	*to = s->v;
	*len = s->n;
	return !s->failed;
}

static bool add_capabilities(struct oci_features *f)
{
	struct strv s = {0};

	for (int i = 0; i < (int)cap_max_bits(); i++) {
		char *name = cap_to_name((cap_value_t)i);
		char upper[64];
		size_t j = 0;

		if (name == NULL)
			continue;
		/* libcap names unknown bits by number: only named ones count */
		if (strncmp(name, "cap_", 4) == 0) {
			for (; name[j] != '\0' && j < sizeof(upper) - 1; j++)
				upper[j] = (char)toupper((unsigned char)name[j]);
			upper[j] = '\0';
			strv_add(&s, upper);
		}
		cap_free(name);
	}
	return strv_move(&s, &f->capabilities, &f->capabilities_len);
}

/* ---- seccomp ---- */

/* From libseccomp's <seccomp.h>, which runtime/lib/seccomp.h (the seccomp
 * module, in progress) shadows on this directory's include path.  Once that
 * module exports its tables (seccomp_known_actions() and friends), the lists
 * below are to come from there. */
unsigned int seccomp_api_get(void);
uint32_t seccomp_arch_resolve_name(const char *arch_name);

/* The actions of the runtime-spec, with the libseccomp API level that
 * brings each (seccomp_api_get()). */
static const struct {
	const char *name;
	unsigned int api;
} seccomp_actions[] = {
    {"SCMP_ACT_ALLOW", 1},        {"SCMP_ACT_ERRNO", 1},       {"SCMP_ACT_KILL", 1},
    {"SCMP_ACT_KILL_PROCESS", 3}, {"SCMP_ACT_KILL_THREAD", 1}, {"SCMP_ACT_LOG", 3},
    {"SCMP_ACT_NOTIFY", 5},       {"SCMP_ACT_TRACE", 1},       {"SCMP_ACT_TRAP", 1},
};

/* The filter flags of the runtime-spec that libseccomp can set, with the
 * API level each needs and the kernel's flag to probe. */
static const struct {
	const char *name;
	unsigned int api;
	unsigned long flag;
} seccomp_flags[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", 2, SECCOMP_FILTER_FLAG_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", 3, SECCOMP_FILTER_FLAG_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", 4, SECCOMP_FILTER_FLAG_SPEC_ALLOW},
};

/* libseccomp's architecture names; the runtime-spec spells them
 * SCMP_ARCH_<NAME>.  Those this libseccomp does not resolve are left out. */
static const char *const seccomp_arch_names[] = {
    "x86",    "x86_64",  "x32",      "arm",       "aarch64",     "loongarch64", "m68k",     "mips",
    "mipsel", "mips64",  "mipsel64", "mips64n32", "mipsel64n32", "parisc",      "parisc64", "ppc",
    "ppc64",  "ppc64le", "riscv64",  "s390",      "s390x",       "sheb",        "sh",
};

/* The kernel knows a filter flag when seccomp(2) with it fails on the NULL
 * program (EFAULT) rather than on the flag (EINVAL). */
static bool kernel_has_flag(unsigned long flag)
{
	return syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flag, NULL) < 0 && errno == EFAULT;
}

static bool add_seccomp(struct oci_features *f)
{
	struct strv actions = {0}, ops = {0}, archs = {0}, known = {0}, supported = {0};
	unsigned int api = seccomp_api_get();
	bool ok;

	f->seccomp_enabled = (struct oci_opt_bool){true, true};
	for (size_t i = 0; i < sizeof(seccomp_actions) / sizeof(seccomp_actions[0]); i++)
		if (api >= seccomp_actions[i].api)
			strv_add(&actions, seccomp_actions[i].name);
	for (int op = 0; oci_seccomp_op_name((enum oci_seccomp_op)op) != NULL; op++)
		strv_add(&ops, oci_seccomp_op_name((enum oci_seccomp_op)op));
	for (size_t i = 0; i < sizeof(seccomp_arch_names) / sizeof(seccomp_arch_names[0]); i++) {
		char name[64];
		size_t j;
		if (seccomp_arch_resolve_name(seccomp_arch_names[i]) == 0)
			continue;
		snprintf(name, sizeof(name), "SCMP_ARCH_%s", seccomp_arch_names[i]);
		for (j = strlen("SCMP_ARCH_"); name[j] != '\0'; j++)
			name[j] = (char)toupper((unsigned char)name[j]);
		strv_add(&archs, name);
	}
	for (size_t i = 0; i < sizeof(seccomp_flags) / sizeof(seccomp_flags[0]); i++) {
		strv_add(&known, seccomp_flags[i].name);
		if (api >= seccomp_flags[i].api && kernel_has_flag(seccomp_flags[i].flag))
			strv_add(&supported, seccomp_flags[i].name);
	}
	ok = strv_move(&actions, &f->seccomp_actions, &f->seccomp_actions_len);
	ok &= strv_move(&ops, &f->seccomp_operators, &f->seccomp_operators_len);
	ok &= strv_move(&archs, &f->seccomp_archs, &f->seccomp_archs_len);
	ok &= strv_move(&known, &f->seccomp_known_flags, &f->seccomp_known_flags_len);
	ok &= strv_move(&supported, &f->seccomp_supported_flags, &f->seccomp_supported_flags_len);
	return ok;
}

/* ---- the document ---- */

static bool fill(struct oci_features *f)
{
	struct strv hooks = {0}, mount_opts = {0}, namespaces = {0};
	bool ok, idmap = false, supported;
	const char *name;

	f->oci_version_min = strdup("1.0.0");
	f->oci_version_max = strdup("1.2.0");
	ok = f->oci_version_min != NULL && f->oci_version_max != NULL;
	/* 1. hooks, mount options, namespaces: the tables of the code */
	for (size_t i = 0; (name = oci_hook_kind_name(i)) != NULL; i++)
		strv_add(&hooks, name);
	for (size_t i = 0; (name = mount_option_name(i, &supported)) != NULL; i++) {
		if (supported)
			strv_add(&mount_opts, name);
		if (strcmp(name, "idmap") == 0)
			idmap = supported;
	}
	for (int ns = 0; ns < OCI_NS_COUNT; ns++)
		strv_add(&namespaces, oci_namespace_type_name((enum oci_namespace_type)ns));
	ok &= strv_move(&hooks, &f->hooks, &f->hooks_len);
	ok &= strv_move(&mount_opts, &f->mount_options, &f->mount_options_len);
	ok &= strv_move(&namespaces, &f->namespaces, &f->namespaces_len);
	/* 2. capabilities and seccomp: what the libraries know */
	ok &= add_capabilities(f);
	ok &= add_seccomp(f);
	/* 3. cgroups: v1, v2 and hybrid back-ends, rdma limits; no systemd driver yet */
	f->cgroup_v1 = (struct oci_opt_bool){true, true};
	f->cgroup_v2 = (struct oci_opt_bool){true, true};
	f->cgroup_systemd = (struct oci_opt_bool){true, false};
	f->cgroup_systemd_user = (struct oci_opt_bool){true, false};
	f->cgroup_rdma = (struct oci_opt_bool){true, true};
	/* 4. LSMs: the build links libselinux (configure requires it), not libapparmor */
	f->apparmor_enabled = (struct oci_opt_bool){true, false};
	f->selinux_enabled = (struct oci_opt_bool){true, true};
	f->intel_rdt_enabled = (struct oci_opt_bool){true, false};
	f->mount_extensions_idmap_enabled = (struct oci_opt_bool){true, idmap};
	/* 5. annotations */
	f->annotations = calloc(1, sizeof(struct oci_kv));
	if (f->annotations != NULL) {
		f->annotations_len = 1;
		f->annotations[0].key = strdup("io.github.berth.version");
		f->annotations[0].value = strdup(PACKAGE_VERSION);
		ok &= f->annotations[0].key != NULL && f->annotations[0].value != NULL;
	}
	return ok && f->annotations != NULL;
}

int berth_features_json(char **json_out, berth_error_t *err)
{
	struct oci_features *f = calloc(1, sizeof(*f));

	*json_out = NULL;
	if (f == NULL || !fill(f)) {
		oci_features_free(f);
		return berth_error_sys(err, ENOMEM, "features");
	}
	*json_out = oci_features_to_json(f, true, err);
	oci_features_free(f);
	return *json_out == NULL ? -1 : 0;
}
