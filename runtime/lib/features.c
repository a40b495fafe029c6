/* `berth features`: the runtime-spec features document.
 *
 * Every list comes from where the runtime or its libraries define what they
 * handle, never from a list kept here by hand: hook kinds and namespace
 * names from oci-spec's tables, mount options from mounts.c's table,
 * capabilities from libcap, and the seccomp lists from the tables the
 * seccomp module builds filters with (supported flags: probed on the kernel).
 */
#include "config.h"

#include "berth/berth.h"
#include "mounts.h"
#include "runtime_spec.h"
#include "seccomp.h"
#include "util/cleanup.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
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

/* ---- seccomp: the tables of the seccomp module ---- */

static bool add_list(const char *const *names, char ***to, size_t *len)
{
	struct strv s = {0};

	for (size_t i = 0; names != NULL && names[i] != NULL; i++)
		strv_add(&s, names[i]);
	return strv_move(&s, to, len);
}

static bool add_seccomp(struct oci_features *f)
{
	bool ok;

	f->seccomp_enabled = (struct oci_opt_bool){true, true};
	ok = add_list(seccomp_known_actions(), &f->seccomp_actions, &f->seccomp_actions_len);
	ok &= add_list(seccomp_known_operators(), &f->seccomp_operators, &f->seccomp_operators_len);
	ok &= add_list(seccomp_known_archs(), &f->seccomp_archs, &f->seccomp_archs_len);
	ok &= add_list(seccomp_known_flags(), &f->seccomp_known_flags, &f->seccomp_known_flags_len);
	ok &=
	    add_list(seccomp_supported_flags(), &f->seccomp_supported_flags, &f->seccomp_supported_flags_len);
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
