/* The reaper of a build (reaper.h).
 *
 * A RUN step's container is a child of berth-build, in cgroups of its own;
 * when berth-build dies by SIGKILL (or any signal it does not catch) the
 * container's processes run on and its cgroups stay.  The reaper, forked
 * once the build's directories exist, cleans that up:
 *
 * | signal to the reaper          | meaning                  | what it does                           |
 * |--------------------------------|--------------------------|----------------------------------------|
 * | SIGUSR1 (PR_SET_PDEATHSIG)     | the build died           | deletes every container of the build's |
 * |                                |                          | state root (kills its processes,       |
 * |                                |                          | removes its cgroups), unmounts what is |
 * |                                |                          | mounted under the build's directory,   |
 * |                                |                          | removes that directory, exits          |
 * | SIGUSR2 (reaper_stop)          | the build ended itself   | exits                                  |
 * | SIGINT, SIGTERM, SIGHUP, SIGQUIT | meant for the build    | ignored: they must not stop a cleanup  |
 *
 * It holds the fds it inherited, the cache lock among them, until it exits:
 * the next build on the cache waits for the cleanup instead of racing it.
 * It leaves the build's process group, so that a signal sent to the group
 * does not end it too.  Parallel stages are children of the build that die
 * with it (reaper_follow_parent); their containers share the state root.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "berth/berth.h"
#include "reaper.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* The build's pid, for its children's check that it still lives. */
static pid_t build_pid;

void reaper_delete_containers(const char *state_root)
{
	struct berth_context ctx = {.size = sizeof(ctx), .state_root = state_root};
	cleanup_dir DIR *d = opendir(state_root);
	struct dirent *de;

	while (d != NULL && (de = readdir(d)) != NULL) {
		berth_error_t e = NULL;
		if (de->d_name[0] == '.')
			continue;
		if (berth_container_delete(&ctx, de->d_name, true, &e) < 0) {
			fprintf(stderr, "berth-build: reaper: delete container `%s`: %s\n", de->d_name,
			        berth_error_message(e));
			berth_error_free(&e);
		}
	}
}

/* Unmounts every mount point under dir, the deepest (latest) first, so that
 * removing dir cannot reach through a mount into what it shows. */
static void umount_under(const char *dir)
{
	cleanup_fclose FILE *f = fopen("/proc/self/mountinfo", "re");
	char **points = NULL, *line = NULL;
	size_t n = 0, cap = 0, dlen = strlen(dir);

	while (f != NULL && getline(&line, &cap, f) > 0) {
		char *mp = NULL, **p;
		if (sscanf(line, "%*s %*s %*s %*s %ms", &mp) != 1)
			continue;
		fs_unescape_mountinfo(mp);
		if (strncmp(mp, dir, dlen) != 0 || (mp[dlen] != '/' && mp[dlen] != '\0') ||
		    (p = realloc(points, (n + 1) * sizeof(*p))) == NULL) {
			free(mp);
			continue;
		}
		points = p;
		points[n++] = mp;
	}
	free(line);
	while (n-- > 0) {
		umount2(points[n], MNT_DETACH);
		free(points[n]);
	}
	free(points);
}

static void __attribute__((noreturn)) reaper_main(const char *state_root, const char *dir)
{
	sigset_t set;
	int sig = 0;

	prctl(PR_SET_NAME, "berth:[reaper]");
	setpgid(0, 0);
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	/* blocked since before the fork: none is lost */
	if (prctl(PR_SET_PDEATHSIG, SIGUSR1) < 0 || getppid() != build_pid)
		sig = SIGUSR1;
	while (sig == 0 && sigwait(&set, &sig) != 0)
		;
	if (sig == SIGUSR2)
		_exit(0);
	reaper_delete_containers(state_root);
	umount_under(dir);
	berth_error_t e = NULL;
	if (fs_remove_tree_at(AT_FDCWD, dir, &e) < 0) {
		fprintf(stderr, "berth-build: reaper: remove `%s`: %s\n", dir, berth_error_message(e));
		berth_error_free(&e);
	}
	_exit(0);
}

int reaper_start(const char *state_root, const char *dir, pid_t *pid, berth_error_t *err)
{
	sigset_t set, old;

	build_pid = getpid();
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, &old);
	fflush(stdout);
	fflush(stderr);
	*pid = fork();
	if (*pid == 0)
		reaper_main(state_root, dir);
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (*pid < 0)
		return berth_error_sys(err, errno, "fork the reaper");
	return 0;
}

void reaper_stop(pid_t pid)
{
	if (pid <= 0 || kill(pid, SIGUSR2) < 0)
		return;
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

void reaper_follow_parent(void)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != build_pid)
		_exit(1);
}
