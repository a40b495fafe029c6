/* A RUN step: config.json on berth's default spec, then berth_container_run
 * (see run_step.h).
 *
 *   1. berth_spec_generate -> json-c
 *   2. process: args, env, cwd, user, no terminal, Docker's capabilities,
 *      no rlimits (the builder's own), noNewPrivileges off (as docker)
 *   3. root: the merged overlay, writable; hostname; cgroupsPath
 *   4. namespaces: the network namespace dropped for --network=host;
 *      the RUN --mount mounts appended to the spec's
 *   5. config.json into the bundle directory; berth_container_run */
#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "berth/berth.h"
#include "run_step.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* Docker's default capability set (moby/oci/caps/defaults.go). */
static const char *const docker_caps[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_FSETID",
    "CAP_FOWNER",
    "CAP_MKNOD",
    "CAP_NET_RAW",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETFCAP",
    "CAP_SETPCAP",
    "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT",
    "CAP_KILL",
    "CAP_AUDIT_WRITE",
    NULL,
};

static json_object *strv_json(const char *const *v)
{
	json_object *a = json_object_new_array();
	for (size_t i = 0; a != NULL && v != NULL && v[i] != NULL; i++)
		json_object_array_add(a, json_object_new_string(v[i]));
	return a;
}

static void log_to_stderr(void *data, enum berth_log_level level, const char *msg)
{
	(void)data;
	if (level <= BERTH_LOG_WARNING)
		fprintf(stderr, "berth-build: %s\n", msg);
}

static int write_config(const struct run_step *rs, berth_error_t *err)
{
	char *text = NULL;
	if (berth_spec_generate(false, &text, (berth_error_t *)err) < 0)
		return berth_error_prefix(err, "RUN: default spec");
	json_object *cfg = json_tokener_parse(text);
	free(text);
	if (cfg == NULL)
		return berth_error_invalid(err, "RUN: default spec: not JSON");

	/* 2. process */
	json_object *proc = NULL, *root = NULL, *lnx = NULL;
	json_object_object_get_ex(cfg, "process", &proc);
	json_object_object_get_ex(cfg, "linux", &lnx);
	if (proc == NULL || lnx == NULL) {
		json_object_put(cfg);
		return berth_error_invalid(err, "RUN: default spec without process or lnx");
	}
	json_object_object_add(proc, "terminal", json_object_new_boolean(0));
	json_object_object_add(proc, "args", strv_json((const char *const *)rs->argv));
	json_object_object_add(proc, "env", strv_json((const char *const *)rs->env));
	json_object_object_add(proc, "cwd", json_object_new_string(rs->cwd));
	json_object *user = json_object_new_object();
	json_object_object_add(user, "uid", json_object_new_int64(rs->uid));
	json_object_object_add(user, "gid", json_object_new_int64(rs->gid));
	json_object_object_add(proc, "user", user);
	json_object *caps = json_object_new_object();
	json_object_object_add(caps, "bounding", strv_json(docker_caps));
	json_object_object_add(caps, "effective", strv_json(docker_caps));
	json_object_object_add(caps, "permitted", strv_json(docker_caps));
	json_object_object_add(proc, "capabilities", caps);
	json_object_object_del(proc, "rlimits");
	json_object_object_add(proc, "noNewPrivileges", json_object_new_boolean(0));

	/* 3. root, hostname, cgroup */
	root = json_object_new_object();
	json_object_object_add(root, "path", json_object_new_string(rs->rootfs));
	json_object_object_add(root, "readonly", json_object_new_boolean(0));
	json_object_object_add(cfg, "root", root);
	json_object_object_add(cfg, "hostname", json_object_new_string("buildkitsandbox"));
	if (rs->cgroups_path != NULL)
		json_object_object_add(lnx, "cgroupsPath", json_object_new_string(rs->cgroups_path));

	/* 4. namespaces */
	json_object *ns = NULL;
	if (rs->host_network && json_object_object_get_ex(lnx, "namespaces", &ns)) {
		for (size_t i = json_object_array_length(ns); i-- > 0;) {
			json_object *t = NULL;
			json_object_object_get_ex(json_object_array_get_idx(ns, i), "type", &t);
			if (t != NULL && strcmp(json_object_get_string(t), "network") == 0)
				json_object_array_del_idx(ns, i, 1);
		}
	}

	json_object *mounts = NULL;
	if (rs->n_mounts > 0 && json_object_object_get_ex(cfg, "mounts", &mounts)) {
		for (size_t i = 0; i < rs->n_mounts; i++) {
			const struct run_step_mount *m = &rs->mounts[i];
			json_object *jm = json_object_new_object(), *opts = json_object_new_array();
			cleanup_free char *o = strdup(m->options ? m->options : "");
			char *save = NULL;
			for (char *t = o ? strtok_r(o, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
				json_object_array_add(opts, json_object_new_string(t));
			json_object_object_add(jm, "destination", json_object_new_string(m->destination));
			json_object_object_add(jm, "type", json_object_new_string(m->type));
			json_object_object_add(jm, "source", json_object_new_string(m->source));
			json_object_object_add(jm, "options", opts);
			json_object_array_add(mounts, jm);
		}
	}

	/* 5. config.json */
	const char *out = json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PLAIN);
	cleanup_close int dfd = open(rs->bundle, O_PATH | O_DIRECTORY | O_CLOEXEC);
	int r = dfd < 0 ? berth_error_sys(err, errno, "RUN: bundle `%s`", rs->bundle)
	                : fs_write_file_atomic_at(dfd, "config.json", out, strlen(out), 0600, err);
	json_object_put(cfg);
	return r;
}

int run_step_exec(const struct run_step *rs, int *status, berth_error_t *err)
{
	if (write_config(rs, err) < 0)
		return -1;
	cleanup_close int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null_fd < 0)
		return berth_error_sys(err, errno, "open /dev/null");
	fflush(stdout);
	fflush(stderr);
	struct berth_context ctx = {
	    .size = sizeof(ctx),
	    .state_root = rs->state_root,
	    .log = log_to_stderr,
	};
	struct berth_create_options co = {
	    .size = sizeof(co),
	    .id = rs->id,
	    .bundle = rs->bundle,
	    .use_stdio_fds = true,
	    .stdio_fds = {null_fd, rs->output_fd, rs->output_fd},
	    /* ^C cancels the step, even when its shell ignores SIGINT */
	    .kill_on_interrupt = true,
	};
	berth_error_t e = NULL;
	if (berth_container_run(&ctx, &co, status, &e) < 0) {
		berth_error_set(err, berth_error_code(e) ? berth_error_code(e) : BERTH_ERR_SYSTEM, 0, "%s",
		                berth_error_message(e));
		berth_error_free(&e);
		return -1;
	}
	return 0;
}
