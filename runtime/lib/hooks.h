/* OCI hooks: run one list of hooks, in order, with the container state on
 * stdin.  A hook that exits non-zero, is killed, or outlives its timeout
 * fails the list; the error names the kind, path and exit status. */
#ifndef BERTH_HOOKS_H
#define BERTH_HOOKS_H

#include "runtime_spec.h"

int hooks_run(const struct oci_hook *hooks, size_t n, const char *kind, const char *state_json,
              berth_error_t *err);

#endif
