/* /dev inside the container: the default device nodes, linux.devices and
 * the usual symlinks, all created through safe_path inside the rootfs. */
#ifndef BERTH_DEVICES_H
#define BERTH_DEVICES_H

#include <stdbool.h>

#include "runtime_spec.h"

/* Creates /dev/{null,zero,full,random,urandom,tty} and linux.devices
 * (mknod, or in a user namespace a bind mount of the host's node onto an
 * empty file), then /dev/{fd,stdin,stdout,stderr} and, when /dev/pts is a
 * devpts mount of config.json, /dev/ptmx -> pts/ptmx.  Existing entries
 * are left alone. */
int devices_setup(int root_fd, const struct oci_spec *spec, bool in_user_namespace, berth_error_t *err);

#endif
