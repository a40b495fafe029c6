/* tmpcopyup: mount a tmpfs over a directory, pre-filled with its content. */
#ifndef BERTH_COPYUP_H
#define BERTH_COPYUP_H

#include "util/error.h"

/* `target` is an O_PATH fd of the directory (resolved inside the rootfs);
 * `source` the name mountinfo shows, `data` the tmpfs options ("mode=755,size=64m"), `ms_flags` the MS_*
 * flags of the mount. */
int copyup_mount_tmpfs(int target, const char *source, const char *data, unsigned long ms_flags,
                       berth_error_t *err);

#endif
