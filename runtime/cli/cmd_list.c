/* berth list / berth spec */
#include "cli.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void print_json(const struct berth_container_info *infos, size_t n)
{
	json_object *list = json_object_new_array();

	for (size_t i = 0; i < n; i++) {
		json_object *o = json_object_new_object();
		json_object_object_add(o, "ociVersion", json_object_new_string("1.2.0"));
		json_object_object_add(o, "id", json_object_new_string(infos[i].id));
		json_object_object_add(o, "pid", json_object_new_int(infos[i].pid));
		json_object_object_add(o, "status", json_object_new_string(infos[i].status));
		json_object_object_add(o, "bundle",
		                       json_object_new_string(infos[i].bundle ? infos[i].bundle : ""));
		json_object_object_add(o, "rootfs",
		                       json_object_new_string(infos[i].rootfs ? infos[i].rootfs : ""));
		json_object_object_add(o, "created",
		                       json_object_new_string(infos[i].created ? infos[i].created : ""));
		json_object_object_add(o, "owner",
		                       json_object_new_string(infos[i].owner ? infos[i].owner : ""));
		json_object_array_add(list, o);
	}
	printf("%s\n",
	       json_object_to_json_string_ext(list, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
	json_object_put(list);
}

static void print_table(const struct berth_container_info *infos, size_t n)
{
	int w_id = 2, w_status = 6;

	for (size_t i = 0; i < n; i++) {
		if ((int)strlen(infos[i].id) > w_id)
			w_id = (int)strlen(infos[i].id);
		if ((int)strlen(infos[i].status) > w_status)
			w_status = (int)strlen(infos[i].status);
	}
	printf("%-*s   %-10s %-*s   %-40s %-30s %s\n", w_id, "ID", "PID", w_status, "STATUS", "BUNDLE",
	       "CREATED", "OWNER");
	for (size_t i = 0; i < n; i++)
		printf("%-*s   %-10d %-*s   %-40s %-30s %s\n", w_id, infos[i].id, (int)infos[i].pid, w_status,
		       infos[i].status, infos[i].bundle ? infos[i].bundle : "",
		       infos[i].created ? infos[i].created : "", infos[i].owner ? infos[i].owner : "");
}

int cmd_list(struct cli_global *g, int argc, char **argv)
{
	bool quiet = false;
	const char *format = "table";
	const struct cli_flag flags[] = {
	    {"quiet", 'q', CLI_BOOL, &quiet},
	    {"format", 'f', CLI_STRING, &format},
	    {NULL, 0, CLI_BOOL, NULL},
	};
	struct berth_container_info *infos = NULL;
	size_t n = 0;
	berth_error_t err = NULL;
	int first = cli_parse(argc, argv, flags, "list");

	if (cli_expect_args(g, argc, first, 0, "list", "[--quiet] [--format table|json]") < 0)
		return 1;
	if (strcmp(format, "table") != 0 && strcmp(format, "json") != 0)
		return cli_usage_error(g, "invalid format option `%s`", format);
	if (berth_container_list(&g->ctx, &infos, &n, &err) < 0)
		return cli_fail(g, &err);
	if (quiet) {
		for (size_t i = 0; i < n; i++)
			printf("%s\n", infos[i].id);
	} else if (strcmp(format, "json") == 0) {
		print_json(infos, n);
	} else {
		print_table(infos, n);
	}
	berth_container_info_free(infos, n);
	return 0;
}

int cmd_spec(struct cli_global *g, int argc, char **argv)
{
	bool rootless = false;
	const char *bundle = ".";
	const struct cli_flag flags[] = {
	    {"rootless", 0, CLI_BOOL, &rootless},
	    {"bundle", 'b', CLI_STRING, &bundle},
	    {NULL, 0, CLI_BOOL, NULL},
	};
	char *json = NULL;
	berth_error_t err = NULL;
	int first = cli_parse(argc, argv, flags, "spec");
	int dirfd, fd;

	if (cli_expect_args(g, argc, first, 0, "spec", "[--rootless] [--bundle DIR]") < 0)
		return 1;
	if (berth_spec_generate(rootless, &json, &err) < 0)
		return cli_fail(g, &err);
	dirfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		free(json);
		return cli_usage_error(g, "bundle `%s`: %s", bundle, strerror(errno));
	}
	/* As runc: never overwrite an existing config.json. */
	fd = openat(dirfd, "config.json", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	close(dirfd);
	if (fd < 0) {
		int saved = errno;
		free(json);
		if (saved == EEXIST)
			return cli_usage_error(g, "File %s/config.json exists. Remove it first", bundle);
		return cli_usage_error(g, "create %s/config.json: %s", bundle, strerror(saved));
	}
	if (dprintf(fd, "%s\n", json) < 0) {
		int saved = errno;
		close(fd);
		free(json);
		return cli_usage_error(g, "write %s/config.json: %s", bundle, strerror(saved));
	}
	close(fd);
	free(json);
	return 0;
}
