/* `--output type=oci,dest=FILE.tar`: the output layout as one tar file, as
 * BuildKit's oci exporter writes it (oci-layout, index.json, blobs/), for
 * `skopeo copy oci-archive:FILE.tar`, `podman load` or `ctr import`.
 *
 * The tar is made of a layout directory the build wrote (so the two forms
 * hold the same index and blobs): entries in a fixed order, owned by 0:0,
 * modes 0644 and 0755, mtimes `mtime` (SOURCE_DATE_EPOCH or 0), so two
 * builds of the same image give the same bytes.  It is written beside dest
 * and renamed over it: dest never holds a partial tar. */
#ifndef BERTH_BUILDER_OUTPUT_H
#define BERTH_BUILDER_OUTPUT_H

#include <stdint.h>

#include "util/error.h"

int output_layout_tar(const char *layout_dir, const char *dest, int64_t mtime, berth_error_t *err);

#endif
