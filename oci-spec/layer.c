/* What layer_apply.c and layer_diff.c share: media types and path cleaning. */
#include "config.h"
#include "layer.h"

#include <errno.h>
#include <string.h>

int layer_compression_from_media_type(const char *media_type)
{
	static const struct {
		const char *media_type;
		enum layer_compression compression;
	} table[] = {
	    {"application/vnd.oci.image.layer.v1.tar", LAYER_COMPRESSION_NONE},
	    {"application/vnd.oci.image.layer.v1.tar+gzip", LAYER_COMPRESSION_GZIP},
	    {"application/vnd.oci.image.layer.v1.tar+zstd", LAYER_COMPRESSION_ZSTD},
	    {"application/vnd.oci.image.layer.nondistributable.v1.tar", LAYER_COMPRESSION_NONE},
	    {"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LAYER_COMPRESSION_GZIP},
	    {"application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", LAYER_COMPRESSION_ZSTD},
	    {"application/vnd.docker.image.rootfs.diff.tar", LAYER_COMPRESSION_NONE},
	    {"application/vnd.docker.image.rootfs.diff.tar.gzip", LAYER_COMPRESSION_GZIP},
	    {"application/vnd.docker.image.rootfs.foreign.diff.tar.gzip", LAYER_COMPRESSION_GZIP},
	};

	if (media_type == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++)
		if (strcmp(media_type, table[i].media_type) == 0)
			return (int)table[i].compression;
	return -1;
}

int layer_clean_path(const char *name, char *out, size_t outlen)
{
	size_t len = 0;
	const char *p = name;

	if (outlen == 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	while (*p != '\0') {
		const char *start, *end;
		size_t n;

		while (*p == '/')
			p++;
		if (*p == '\0')
			break;
		start = p;
		end = strchr(p, '/');
		if (end == NULL)
			end = p + strlen(p);
		n = (size_t)(end - start);
		p = end;
		if (n == 1 && start[0] == '.')
			continue;
		if (n == 2 && start[0] == '.' && start[1] == '.') {
			if (len == 0) {
				errno = EXDEV;
				return -1;
			}
			/* Drop the last component written. */
			while (len > 0 && out[len - 1] != '/')
				len--;
			if (len > 0)
				len--;
			continue;
		}
		if (len + (len > 0) + n + 1 > outlen) {
			errno = ENAMETOOLONG;
			return -1;
		}
		if (len > 0)
			out[len++] = '/';
		memcpy(out + len, start, n);
		len += n;
	}
	out[len] = '\0';
	return len == 0 ? 1 : 0;
}
