/* berth unpack: an image into a bundle */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "os/arch[/variant]" */
static int parse_platform(char *spec, struct berth_unpack_options *o)
{
	char *arch = strchr(spec, '/'), *variant;

	if (arch == NULL)
		return -1;
	*arch++ = '\0';
	variant = strchr(arch, '/');
	if (variant != NULL)
		*variant++ = '\0';
	o->os = spec;
	o->architecture = arch;
	o->variant = variant;
	return spec[0] != '\0' && arch[0] != '\0' ? 0 : -1;
}

int cmd_unpack(struct cli_global *g, int argc, char **argv)
{
	struct berth_unpack_options o = {.size = sizeof(o)};
	const char *image = NULL, *platform = NULL, *entrypoint = NULL;
	char *image_copy = NULL, *platform_copy = NULL;
	char *entrypoint_argv[1];
	const struct cli_flag flags[] = {
	    {"image", 0, CLI_STRING, &image},
	    {"archive", 0, CLI_STRING, &o.archive},
	    {"ref", 0, CLI_STRING, &o.ref},
	    {"platform", 0, CLI_STRING, &platform},
	    {"entrypoint", 0, CLI_STRING, &entrypoint},
	    {"tty", 't', CLI_BOOL, &o.terminal},
	    {NULL, 0, CLI_BOOL, NULL},
	};
	berth_error_t err = NULL;
	int first = cli_parse(argc, argv, flags, "unpack"), ret = 1;

	if (first < 0)
		return 1;
	if (first >= argc)
		return cli_usage_error(
		    g, "unpack: expected a bundle directory; usage: berth unpack "
		       "(--image LAYOUT[:REF] | --archive FILE [--ref TAG]) [--platform OS/ARCH] "
		       "[--entrypoint CMD] [--tty] BUNDLE [ARGS...]");
	o.bundle = argv[first];
	o.args = argv + first + 1;
	o.args_len = (size_t)(argc - first - 1);
	if (image != NULL) {
		/* LAYOUT[:REF], as umoci spells it */
		char *colon;
		image_copy = strdup(image);
		if (image_copy == NULL)
			return cli_usage_error(g, "out of memory");
		/* The reference starts at the first colon of the last path
		 * component: tags with colons (berth-build's `app:1`) and
		 * digests (`sha256:HEX`) stay whole. */
		colon = strrchr(image_copy, '/');
		colon = strchr(colon != NULL ? colon : image_copy, ':');
		if (colon != NULL && strchr(colon, '/') == NULL) {
			*colon = '\0';
			if (o.ref == NULL)
				o.ref = colon + 1;
		}
		o.layout = image_copy;
	}
	if (platform != NULL) {
		platform_copy = strdup(platform);
		if (platform_copy == NULL || parse_platform(platform_copy, &o) < 0) {
			cli_usage_error(g, "unpack: invalid --platform `%s`: expected OS/ARCH[/VARIANT]",
			                platform);
			goto out;
		}
	}
	if (entrypoint != NULL) {
		entrypoint_argv[0] = (char *)entrypoint;
		o.entrypoint = entrypoint_argv;
		o.entrypoint_len = entrypoint[0] != '\0' ? 1 : 0;
		o.entrypoint_set = true;
	}
	if (berth_image_unpack(&o, &err) < 0) {
		cli_fail(g, &err);
		goto out;
	}
	ret = 0;
out:
	free(image_copy);
	free(platform_copy);
	return ret;
}
