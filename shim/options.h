/* Runtime options containerd hands to the shim, parsed once into one model.
 *
 * | Any type_url                 | from                                   | read                        |
 * |------------------------------|----------------------------------------|-----------------------------|
 * | containerd.runc.v1.Options   | ctr --runc-*, CRI for runc runtimes,   | the fields below            |
 * |                              | clients of the task API                |                             |
 * | runtimeoptions.v1.Options    | ctr --runtime-config-path, CRI for     | config_path: a TOML file;   |
 * |                              | other runtime_types (ConfigPath)       | config_body (1.7+): TOML    |
 * | anything else, or none       |                                        | ignored: the defaults       |
 *
 * The TOML form has the keys of CRI's options table for runc (matched
 * without regard to case): Root, SystemdCgroup, ShimCgroup, IoUid, IoGid,
 * NoPivotRoot, NoNewKeyring; BinaryName, CriuPath, CriuImagePath,
 * CriuWorkPath, TypeUrl and ConfigPath are accepted and ignored (the shim
 * links its runtime and has no CRIU support).  Only top-level `key = value`
 * lines with strings, booleans and integers; anything else is an error that
 * names the file and line.
 */
#ifndef BERTH_SHIM_OPTIONS_H
#define BERTH_SHIM_OPTIONS_H

#include "berth/berth.h"
#include "wellknown.pb-c.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct shim_options {
	char *root;        /* berth's state root (the namespace goes below); NULL: the default */
	char *shim_cgroup; /* the cgroup the server moves into; NULL: none */
	bool systemd_cgroup;
	bool no_pivot_root;      /* MS_MOVE + chroot instead of pivot_root */
	bool no_new_keyring;     /* keep the session keyring of the shim */
	uint32_t io_uid, io_gid; /* owner of the stdio pipes the shim makes */
};

/* Fills o from an options Any (NULL or unknown types: the defaults).  On
 * failure o is left empty. */
int options_parse(const Google__Protobuf__Any *any, struct shim_options *o, berth_error_t *err);
/* The same from a marshalled Any (len 0: the defaults). */
int options_parse_bytes(const uint8_t *data, size_t len, struct shim_options *o, berth_error_t *err);
/* The TOML form; origin names the text in errors (a path, or "config_body"). */
int options_parse_toml(const char *origin, const char *text, size_t len, struct shim_options *o,
                       berth_error_t *err);
void options_free(struct shim_options *o);

#endif
