/* berth-build: a daemonless Dockerfile builder that writes OCI image layouts.
 *
 *   berth-build [-f Dockerfile] [-t name:tag]... [--target stage]
 *               [--build-arg K=V]... [--output type=oci,dest=DIR|FILE.tar[,compression=C]]
 *               [--build-context name=oci-layout:///path:tag|oci-archive:///path|
 *                                     docker-archive:///path]...
 *               [--secret id=ID,src=FILE|env=VAR]... [--ssh ID[=SOCKET]]...
 *               [--compression gzip|zstd|uncompressed]
 *               [--cache-dir DIR] [--no-cache] [--source-date-epoch N]
 *               [--progress auto|plain|tty|quiet] [-q] CONTEXT
 *
 *   berth-build prune [--cache-dir DIR] [--keep-storage SIZE] [--all]
 *
 * Prints the manifest digest on stdout; progress and the RUN steps' output
 * go to stderr. */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <unistd.h>

#include "berth/berth.h"
#include "build.h"
#include "prune.h"
#include "util/cleanup.h"

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: berth-build [-f DOCKERFILE] [-t NAME:TAG]... [--target STAGE] [--build-arg K=V]...\n"
	        "                   [--output type=oci,dest=DIR|FILE.tar[,tar=true|false]"
	        "[,compression=gzip|zstd|uncompressed]]\n"
	        "                   [--build-context "
	        "NAME=oci-layout:///PATH:TAG|oci-archive:///PATH|docker-archive:///PATH]...\n"
	        "                   [--secret id=ID,src=FILE|env=VAR]... [--ssh ID[=SOCKET]]...\n"
	        "                   [--compression gzip|zstd|uncompressed]\n"
	        "                   [--cache-dir DIR] [--no-cache] [--source-date-epoch N]\n"
	        "                   [--progress auto|plain|tty|quiet] [-q] CONTEXT\n"
	        "       berth-build prune [--cache-dir DIR] [--keep-storage SIZE] [--all]\n"
	        "\n"
	        "--progress: plain prints a line per step with its duration or `(cached)`; tty redraws\n"
	        "a status of the running steps; auto (the default) is tty when stderr is a terminal.\n");
}

/* berth-build prune: what the cache keeps that no cached step needs
 * (prune.h); with --keep-storage, the steps used longest ago too. */
static int prune_main(int argc, char **argv)
{
	enum { O_CACHE_DIR = 256, O_KEEP, O_ALL };
	static const struct option longopts[] = {
	    {"cache-dir", required_argument, NULL, O_CACHE_DIR},
	    {"keep-storage", required_argument, NULL, O_KEEP},
	    {"all", no_argument, NULL, O_ALL},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static const char use[] =
	    "usage: berth-build prune [--cache-dir DIR] [--keep-storage SIZE] [--all]\n";
	struct prune_options o = {.size = sizeof(o)};
	cleanup_free char *def = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case O_CACHE_DIR:
			o.cache = optarg;
			break;
		case O_KEEP:
			if (prune_parse_size(optarg, &o.keep_storage) < 0) {
				fprintf(
				    stderr,
				    "berth-build prune: --keep-storage `%s`: expected a size (512M, 10GiB, "
				    "bytes)\n",
				    optarg);
				return 2;
			}
			o.has_keep_storage = true;
			break;
		case O_ALL:
			o.all = true;
			break;
		case 'h':
			fputs(use, stdout);
			return 0;
		default:
			fputs(use, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fputs(use, stderr);
		return 2;
	}
	if (o.cache == NULL && (o.cache = def = build_default_cache_dir()) == NULL) {
		fprintf(stderr, "berth-build prune: no cache directory (HOME is not set)\n");
		return 1;
	}
	struct prune_result res;
	berth_error_t err = NULL;
	if (prune_run(&o, &res, &err) < 0) {
		fprintf(stderr, "berth-build prune: %s\n", berth_error_message(err));
		berth_error_free(&err);
		return 1;
	}
	printf("removed %u steps, %u bases, %u blobs, %u gzip members: %.1f MiB -> %.1f MiB\n", res.steps,
	       res.bases, res.blobs, res.members, (double)res.before / 1048576, (double)res.after / 1048576);
	return 0;
}

static int push(const char ***v, size_t *n, const char *s)
{
	const char **nv = realloc(*v, (*n + 2) * sizeof(*nv));
	if (nv == NULL)
		return -1;
	nv[(*n)++] = s;
	nv[*n] = NULL;
	*v = nv;
	return 0;
}

static int parse_compression(const char *v, struct build_options *o)
{
	if (strcmp(v, "gzip") == 0)
		o->compression = LAYER_COMPRESSION_GZIP;
	else if (strcmp(v, "zstd") == 0)
		o->compression = LAYER_COMPRESSION_ZSTD;
	else if (strcmp(v, "uncompressed") == 0)
		o->compression = LAYER_COMPRESSION_NONE;
	else
		return -1;
	return 0;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t l = strlen(s), n = strlen(suffix);
	return l >= n && strcmp(s + l - n, suffix) == 0;
}

/* --output type=oci,dest=PATH[,tar=true|false][,compression=gzip|zstd|uncompressed]
 * (or a plain DIR); a dest ending in .tar is a tar unless tar=false */
static int parse_output(char *spec, struct build_options *o)
{
	if (strchr(spec, '=') == NULL) {
		o->output = spec;
		return 0;
	}
	const char *dest = NULL, *tar = NULL;
	char *save = NULL;
	for (char *t = strtok_r(spec, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strncmp(t, "type=", 5) == 0) {
			if (strcmp(t + 5, "oci") != 0 && strcmp(t + 5, "local-oci") != 0) {
				fprintf(stderr, "berth-build: --output %s: only type=oci is supported\n", t);
				return -1;
			}
		} else if (strncmp(t, "dest=", 5) == 0) {
			dest = t + 5;
		} else if (strncmp(t, "tar=", 4) == 0 &&
		           (!strcmp(t + 4, "true") || !strcmp(t + 4, "false"))) {
			tar = t + 4;
		} else if (strncmp(t, "compression=", 12) == 0) {
			if (parse_compression(t + 12, o) < 0) {
				fprintf(stderr,
				        "berth-build: --output %s: expected gzip, zstd or uncompressed\n", t);
				return -1;
			}
		} else {
			fprintf(stderr, "berth-build: --output: unknown option `%s`\n", t);
			return -1;
		}
	}
	if (dest == NULL || *dest == '\0') {
		fprintf(stderr, "berth-build: --output: dest=PATH is missing\n");
		return -1;
	}
	o->output = dest;
	o->output_tar = tar != NULL ? strcmp(tar, "true") == 0 : ends_with(dest, ".tar");
	return 0;
}

int main(int argc, char **argv)
{
	enum {
		O_TARGET = 256,
		O_BUILD_ARG,
		O_OUTPUT,
		O_CONTEXT,
		O_CACHE_DIR,
		O_NO_CACHE,
		O_SDE,
		O_SECRET,
		O_COMPRESSION,
		O_SSH,
		O_PROGRESS
	};
	static const struct option longopts[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"tag", required_argument, NULL, 't'},
	    {"target", required_argument, NULL, O_TARGET},
	    {"build-arg", required_argument, NULL, O_BUILD_ARG},
	    {"output", required_argument, NULL, O_OUTPUT},
	    {"build-context", required_argument, NULL, O_CONTEXT},
	    {"cache-dir", required_argument, NULL, O_CACHE_DIR},
	    {"secret", required_argument, NULL, O_SECRET},
	    {"compression", required_argument, NULL, O_COMPRESSION},
	    {"ssh", required_argument, NULL, O_SSH},
	    {"no-cache", no_argument, NULL, O_NO_CACHE},
	    {"source-date-epoch", required_argument, NULL, O_SDE},
	    {"progress", required_argument, NULL, O_PROGRESS},
	    {"quiet", no_argument, NULL, 'q'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct build_options o = {.size = sizeof(o), .output = "berth-build-out"};
	const char **tags = NULL, **bargs = NULL, **ctxs = NULL, **secrets = NULL, **ssh = NULL;
	size_t n_tags = 0, n_bargs = 0, n_ctxs = 0, n_secrets = 0, n_ssh = 0;
	const char *sde = getenv("SOURCE_DATE_EPOCH");
	berth_error_t err = NULL;
	int c;

	/* first: parsing changes argv's strings */
	if (berth_reexec_sealed(argv, &err) < 0) {
		fprintf(stderr, "berth-build: %s\n", berth_error_message(err));
		return 1;
	}
	if (argc > 1 && strcmp(argv[1], "prune") == 0)
		return prune_main(argc - 1, argv + 1);
	while ((c = getopt_long(argc, argv, "f:t:qh", longopts, NULL)) != -1) {
		switch (c) {
		case 'f':
			o.dockerfile = optarg;
			break;
		case 't':
			if (push(&tags, &n_tags, optarg) < 0)
				abort();
			break;
		case O_TARGET:
			o.target = optarg;
			break;
		case O_BUILD_ARG:
			/* --build-arg NAME takes the value from the environment */
			if (strchr(optarg, '=') == NULL) {
				const char *v = getenv(optarg);
				char *kv = NULL;
				if (v == NULL)
					break;
				if (asprintf(&kv, "%s=%s", optarg, v) < 0)
					abort();
				optarg = kv;
			}
			if (push(&bargs, &n_bargs, optarg) < 0)
				abort();
			break;
		case O_OUTPUT:
			if (parse_output(optarg, &o) < 0)
				return 2;
			break;
		case O_COMPRESSION:
			if (parse_compression(optarg, &o) < 0) {
				fprintf(
				    stderr,
				    "berth-build: --compression `%s`: expected gzip, zstd or uncompressed\n",
				    optarg);
				return 2;
			}
			break;
		case O_CONTEXT:
			if (push(&ctxs, &n_ctxs, optarg) < 0)
				abort();
			break;
		case O_SECRET:
			if (strncmp(optarg, "id=", 3) != 0 && strstr(optarg, ",id=") == NULL) {
				fprintf(stderr, "berth-build: --secret `%s`: expected id=ID,src=FILE\n",
				        optarg);
				return 2;
			}
			if (push(&secrets, &n_secrets, optarg) < 0)
				abort();
			break;
		case O_SSH:
			/* ID=SOCKET, or ID alone: $SSH_AUTH_SOCK */
			if (strchr(optarg, '=') == NULL) {
				const char *sock = getenv("SSH_AUTH_SOCK");
				char *kv = NULL;
				if (sock == NULL || *sock == '\0') {
					fprintf(stderr, "berth-build: --ssh %s: SSH_AUTH_SOCK is not set\n",
					        optarg);
					return 2;
				}
				if (asprintf(&kv, "%s=%s", optarg, sock) < 0)
					abort();
				optarg = kv;
			}
			if (push(&ssh, &n_ssh, optarg) < 0)
				abort();
			break;
		case O_CACHE_DIR:
			/* absolute: RUN steps hand paths in it to the runtime,
			 * which reads them relative to the bundle */
			if (*optarg != '/') {
				char cwd[4096];
				char *abs = NULL;
				if (getcwd(cwd, sizeof(cwd)) == NULL ||
				    asprintf(&abs, "%s/%s", cwd, optarg) < 0) {
					fprintf(stderr, "berth-build: --cache-dir `%s`: %s\n", optarg,
					        strerror(errno));
					return 2;
				}
				optarg = abs;
			}
			o.cache_dir = optarg;
			break;
		case O_NO_CACHE:
			o.no_cache = true;
			break;
		case O_SDE:
			sde = optarg;
			break;
		case O_PROGRESS: {
			int m = progress_mode_parse(optarg);
			if (m < 0) {
				fprintf(stderr,
				        "berth-build: --progress `%s`: expected auto, plain, tty or quiet\n",
				        optarg);
				return 2;
			}
			o.progress = (enum progress_mode)m;
			break;
		}
		case 'q':
			o.quiet = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc - 1) {
		usage(stderr);
		return 2;
	}
	o.context = argv[optind];
	o.tags = tags;
	o.build_args = bargs;
	o.contexts = ctxs;
	o.secrets = secrets;
	o.ssh = ssh;
	if (sde != NULL && *sde != '\0') {
		char *end;
		errno = 0;
		long long v = strtoll(sde, &end, 10);
		if (errno != 0 || *end != '\0' || v < 0) {
			fprintf(stderr,
			        "berth-build: SOURCE_DATE_EPOCH `%s`: expected seconds since the epoch\n",
			        sde);
			return 2;
		}
		o.has_source_date_epoch = true;
		o.source_date_epoch = v;
	}

	/* RUN steps execute container processes: run from a sealed copy of
	 * this binary (CVE-2019-5736), then in a mount namespace of our own so
	 * that the overlay mounts of the build vanish with it */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fprintf(stderr, "berth-build: a private mount namespace: %s (berth-build runs as root)\n",
		        strerror(errno));
		return 1;
	}

	struct build_result res;
	if (build_run(&o, &res, &err) < 0) {
		fprintf(stderr, "berth-build: %s\n", berth_error_message(err));
		berth_error_free(&err);
		return 1;
	}
	printf("%s\n", res.manifest_digest);
	free(tags);
	free(bargs);
	free(ctxs);
	free(secrets);
	free(ssh);
	return 0;
}
