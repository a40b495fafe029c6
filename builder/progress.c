/* berth-build's progress display: plain lines, or a live view on a terminal
 * drawn by a renderer process (see progress.h).
 *
 * The builder (and its stage processes) talk to the renderer over a
 * SOCK_SEQPACKET socket pair, one message per event; the builder's own
 * stderr goes to the renderer through a pipe (printed as lines of its own):
 *
 *   message              direction          payload                       fds
 *   L TEXT               builder->renderer  a line of its own             -
 *   B ID LABEL           builder->renderer  step ID starts                -
 *   O ID                 builder->renderer  step ID's output              the read end of a pipe
 *   C ID                 builder->renderer  step ID was a cache hit       -
 *   E ID OK MS           builder->renderer  step ID ended (OK 1 or 0)     -
 *   F OK MS STEPS CACHED builder->renderer  the build is over: summary    -
 *
 * No reply.  The renderer reads until F (then drains what is left and
 * exits) or until the socket's end of file (the builder died: it says the
 * build was interrupted).  It ignores SIGINT, SIGQUIT and SIGTERM so that
 * a ^C on the terminal still gets a clean last screen, and SIGHUP. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "progress.h"
#include "util/cleanup.h"
#include "util/fs.h"

#define MSG_MAX    4096
#define KEEP_LINES 10  /* of a step's output: shown when it fails */
#define LIVE_LINES 3   /* of a running step's output in the live view */
#define MAX_STEPS  256 /* running at once, in the renderer */

/* shared by the build's processes (MAP_SHARED) */
struct counters {
	unsigned next_id;
	unsigned steps;
	unsigned cached;
};

struct progress {
	enum progress_mode mode;
	struct counters *c;
	struct timespec t0;
	int sock;       /* tty: to the renderer */
	int saved_err;  /* tty: the terminal, given back to fd 2 at the end */
	pid_t renderer; /* tty */
};

int progress_mode_parse(const char *s)
{
	static const char *const names[] = {"auto", "plain", "tty", "quiet"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (int)i;
	return -1;
}

static double since(const struct timespec *t0)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void send_msg(const struct progress *p, int fd, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void send_msg(const struct progress *p, int fd, const char *fmt, ...)
{
	char buf[MSG_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	struct iovec iov = {.iov_base = buf, .iov_len = (size_t)n};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cm;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	if (fd >= 0) {
		memset(&cm, 0, sizeof(cm));
		mh.msg_control = cm.buf;
		mh.msg_controllen = sizeof(cm.buf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	/* a renderer that is gone costs its display, not the build */
	while (sendmsg(p->sock, &mh, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

/* ---- the builder's side ---- */

static void renderer_main(int sock, int err_in, int term) __attribute__((noreturn));

void progress_log(struct progress *p, const char *fmt, ...)
{
	if (p == NULL || p->mode == PROGRESS_QUIET)
		return;
	cleanup_free char *text = NULL;
	va_list ap;
	va_start(ap, fmt);
	int n = vasprintf(&text, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (p->mode == PROGRESS_TTY)
		send_msg(p, -1, "L %s", text);
	else
		fprintf(stderr, "%s\n", text);
}

void progress_step_begin(struct progress *p, struct progress_step *s, const char *fmt, ...)
{
	va_list ap;
	memset(s, 0, sizeof(*s));
	clock_gettime(CLOCK_MONOTONIC, &s->t0);
	if (p == NULL)
		return;
	va_start(ap, fmt);
	if (vasprintf(&s->label, fmt, ap) < 0)
		s->label = NULL;
	va_end(ap);
	if (s->label != NULL) {
		/* "Dockerfile:3: RUN ...": the prefix up to the second ':' */
		const char *c = strchr(s->label, ':');
		c = c != NULL ? strchr(c + 1, ':') : NULL;
		s->line_len = c != NULL ? (int)(c - s->label) : (int)strlen(s->label);
	}
	s->id = __atomic_add_fetch(&p->c->next_id, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&p->c->steps, 1, __ATOMIC_RELAXED);
	if (p->mode == PROGRESS_TTY)
		send_msg(p, -1, "B %u %s", s->id, s->label ? s->label : "?");
}

void progress_step_cached(struct progress *p, struct progress_step *s)
{
	if (p == NULL || s->ended)
		return;
	s->ended = true;
	__atomic_add_fetch(&p->c->cached, 1, __ATOMIC_RELAXED);
	if (p->mode == PROGRESS_PLAIN)
		fprintf(stderr, "%s (cached)\n", s->label ? s->label : "?");
	else if (p->mode == PROGRESS_TTY)
		send_msg(p, -1, "C %u", s->id);
	free(s->label);
	s->label = NULL;
}

void progress_step_run(struct progress *p, struct progress_step *s)
{
	if (p == NULL || s->shown)
		return;
	s->shown = true;
	if (p->mode == PROGRESS_PLAIN)
		fprintf(stderr, "%s\n", s->label ? s->label : "?");
}

int progress_step_output(struct progress *p, struct progress_step *s, berth_error_t *err)
{
	if (p == NULL || p->mode != PROGRESS_TTY) {
		int fd = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		return fd >= 0 ? fd : berth_error_sys(err, errno, "dup stderr");
	}
	int fds[2];
	if (pipe2(fds, O_CLOEXEC) < 0)
		return berth_error_sys(err, errno, "a pipe for the step's output");
	send_msg(p, fds[0], "O %u", s->id);
	close(fds[0]);
	return fds[1];
}

void progress_step_end(struct progress *p, struct progress_step *s, bool ok)
{
	if (p == NULL || s->ended || s->id == 0) {
		free(s->label);
		s->label = NULL;
		return;
	}
	s->ended = true;
	double t = since(&s->t0);
	if (p->mode == PROGRESS_PLAIN) {
		if (!s->shown && s->label != NULL)
			fprintf(stderr, "%s\n", s->label);
		fprintf(stderr, "%.*s: %s %.1fs\n", s->line_len, s->label ? s->label : "?",
		        ok ? "DONE" : "ERROR", t);
	} else if (p->mode == PROGRESS_TTY) {
		send_msg(p, -1, "E %u %d %ld", s->id, ok, (long)(t * 1000));
	}
	free(s->label);
	s->label = NULL;
}

int progress_open(enum progress_mode mode, struct progress **pp, berth_error_t *err)
{
	cleanup_free struct progress *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return berth_error_set(err, BERTH_ERR_NOMEM, ENOMEM, "progress");
	if (mode == PROGRESS_AUTO) {
		const char *term = getenv("TERM");
		mode = isatty(STDERR_FILENO) && (term == NULL || strcmp(term, "dumb") != 0) ? PROGRESS_TTY
		                                                                            : PROGRESS_PLAIN;
	}
	p->mode = mode;
	p->sock = p->saved_err = -1;
	clock_gettime(CLOCK_MONOTONIC, &p->t0);
	p->c = mmap(NULL, sizeof(*p->c), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (p->c == MAP_FAILED)
		return berth_error_sys(err, errno, "progress: mmap");
	if (mode == PROGRESS_TTY) {
		int sv[2], ep[2];
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
			munmap(p->c, sizeof(*p->c));
			return berth_error_sys(err, errno, "progress: socketpair");
		}
		if (pipe2(ep, O_CLOEXEC) < 0) {
			int e = errno;
			close(sv[0]);
			close(sv[1]);
			munmap(p->c, sizeof(*p->c));
			return berth_error_sys(err, e, "progress: pipe");
		}
		fflush(stderr);
		p->saved_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
		pid_t pid = p->saved_err < 0 ? -1 : fork();
		if (pid == 0) {
			close(sv[0]);
			close(ep[1]);
			renderer_main(sv[1], ep[0], p->saved_err);
		}
		close(sv[1]);
		close(ep[0]);
		if (pid < 0 || dup2(ep[1], STDERR_FILENO) < 0) {
			int e = errno;
			close(sv[0]);
			close(ep[1]);
			if (p->saved_err >= 0)
				close(p->saved_err);
			if (pid > 0)
				waitpid(pid, NULL, 0);
			munmap(p->c, sizeof(*p->c));
			return berth_error_sys(err, e, "progress: the renderer");
		}
		close(ep[1]);
		p->sock = sv[0];
		p->renderer = pid;
	}
	*pp = steal_ptr(&p);
	return 0;
}

void progress_close(struct progress *p, bool ok)
{
	if (p == NULL)
		return;
	double t = since(&p->t0);
	if (p->mode == PROGRESS_PLAIN) {
		if (ok)
			fprintf(stderr, "built in %.1fs: %u steps, %u cached\n", t, p->c->steps,
			        p->c->cached);
		else
			fprintf(stderr, "failed after %.1fs\n", t);
	} else if (p->mode == PROGRESS_TTY) {
		/* stderr back to the terminal first: the renderer's pipe ends */
		fflush(stderr);
		dup2(p->saved_err, STDERR_FILENO);
		close(p->saved_err);
		send_msg(p, -1, "F %d %ld %u %u", ok, (long)(t * 1000), p->c->steps, p->c->cached);
		close(p->sock);
		while (waitpid(p->renderer, NULL, 0) < 0 && errno == EINTR)
			;
	}
	munmap(p->c, sizeof(*p->c));
	free(p);
}

/* ---- the renderer ---- */

struct rstep {
	unsigned id;
	char *label;
	struct timespec t0;
	int fd;                  /* its output, or -1 */
	char *lines[KEEP_LINES]; /* the last complete lines, a ring */
	size_t n_lines;          /* ever seen */
	char part[512];          /* the line being read */
	size_t part_len;
};

struct screen {
	int term;
	int live; /* lines of the live view on the screen */
	struct rstep *steps[MAX_STEPS];
	size_t n;
	char *out; /* what goes to the terminal next */
	size_t out_len, out_cap;
	unsigned done;     /* steps over */
	char errpart[512]; /* a partial line from stderr */
	size_t errpart_len;
	struct timespec t0;
};

static void put(struct screen *sc, const char *s, size_t len)
{
	if (sc->out_len + len > sc->out_cap) {
		size_t cap = (sc->out_len + len) * 2 + 256;
		char *n = realloc(sc->out, cap);
		if (n == NULL)
			return;
		sc->out = n;
		sc->out_cap = cap;
	}
	memcpy(sc->out + sc->out_len, s, len);
	sc->out_len += len;
}

static void putf(struct screen *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct screen *sc, const char *fmt, ...)
{
	char buf[MSG_MAX + 64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(sc, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* A text cut to `cols` columns (a UTF-8 sequence is one column), without
 * the control characters that would move the cursor; the columns used. */
static int put_cut(struct screen *sc, const char *s, int cols)
{
	int col = 0;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c < 0x20 || c == 0x7f)
			continue;
		if ((c & 0xc0) != 0x80 && col++ == cols) {
			col--;
			break;
		}
		put(sc, s, 1);
	}
	return col;
}

/* A line of the live view: the text cut to the terminal's width, the
 * elapsed time (if any) at its right end. */
static void put_line(struct screen *sc, const char *s, double secs, int cols)
{
	char t[32] = "";
	if (secs >= 0)
		snprintf(t, sizeof(t), " %6.1fs", secs);
	int room = cols - 1 - (int)strlen(t);
	int used = put_cut(sc, s, room > 8 ? room : 8);
	for (; secs >= 0 && used < room; used++)
		put(sc, " ", 1);
	put(sc, t, strlen(t));
	put(sc, "\n", 1);
	sc->live++;
}

static void flush_out(struct screen *sc)
{
	if (sc->out_len > 0 && fs_write_all(sc->term, sc->out, sc->out_len) < 0) {
		/* the terminal is gone: keep reading so the build is not blocked */
	}
	sc->out_len = 0;
}

static struct rstep *find_step(struct screen *sc, unsigned id, size_t *at)
{
	for (size_t i = 0; i < sc->n; i++)
		if (sc->steps[i]->id == id) {
			if (at != NULL)
				*at = i;
			return sc->steps[i];
		}
	return NULL;
}

static void add_line(struct rstep *st, const char *s, size_t len)
{
	char **slot = &st->lines[st->n_lines++ % KEEP_LINES];
	free(*slot);
	*slot = strndup(s, len);
}

/* Reads what is there of a step's output into its lines; false at its end. */
static bool read_output(struct rstep *st)
{
	char buf[4096];
	ssize_t n = read(st->fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n <= 0) {
		if (st->part_len > 0)
			add_line(st, st->part, st->part_len);
		st->part_len = 0;
		close(st->fd);
		st->fd = -1;
		return false;
	}
	for (ssize_t i = 0; i < n; i++) {
		if (buf[i] == '\n' || buf[i] == '\r' || st->part_len == sizeof(st->part)) {
			if (st->part_len > 0)
				add_line(st, st->part, st->part_len);
			st->part_len = 0;
			if (buf[i] == '\n' || buf[i] == '\r')
				continue;
		}
		st->part[st->part_len++] = buf[i];
	}
	return true;
}

static void clear_live(struct screen *sc)
{
	if (sc->live > 0)
		putf(sc, "\r\033[%dA\033[J", sc->live);
	sc->live = 0;
}

static void free_step(struct screen *sc, size_t at)
{
	struct rstep *st = sc->steps[at];
	if (st->fd >= 0)
		close(st->fd);
	for (size_t k = 0; k < KEEP_LINES; k++)
		free(st->lines[k]);
	free(st->label);
	free(st);
	sc->steps[at] = sc->steps[--sc->n];
}

/* A step's last line, above the live view; a failed one with its output. */
static void step_over(struct screen *sc, size_t at, const char *how, long ms)
{
	struct rstep *st = sc->steps[at];
	while (st->fd >= 0 && read_output(st))
		;
	clear_live(sc);
	if (ms >= 0)
		putf(sc, " => %s%s  %.1fs\n", how, st->label, (double)ms / 1000);
	else
		putf(sc, " => %s%s\n", how, st->label);
	sc->done++;
	if (strcmp(how, "ERROR ") == 0) {
		size_t first = st->n_lines > KEEP_LINES ? st->n_lines - KEEP_LINES : 0;
		for (size_t k = first; k < st->n_lines; k++)
			putf(sc, "    > %s\n", st->lines[k % KEEP_LINES]);
	}
	free_step(sc, at);
}

static void handle_msg(struct screen *sc, char *m, int fd, bool *done, int *ok, long *ms, unsigned *steps,
                       unsigned *cached)
{
	unsigned id = 0;
	int n = 0, good = 0;
	long t = 0;
	size_t at;
	struct rstep *st;
	switch (m[0]) {
	case 'L':
		clear_live(sc);
		putf(sc, "%s\n", m + 2);
		break;
	case 'B':
		if (sscanf(m, "B %u %n", &id, &n) != 1 || n == 0 || sc->n == MAX_STEPS ||
		    (st = calloc(1, sizeof(*st))) == NULL)
			break;
		st->id = id;
		st->fd = -1;
		st->label = strdup(m + n);
		clock_gettime(CLOCK_MONOTONIC, &st->t0);
		if (st->label == NULL) {
			free(st);
			break;
		}
		sc->steps[sc->n++] = st;
		break;
	case 'O':
		if (sscanf(m, "O %u", &id) == 1 && fd >= 0 && (st = find_step(sc, id, NULL)) != NULL &&
		    st->fd < 0) {
			fcntl(fd, F_SETFL, O_NONBLOCK);
			st->fd = fd;
			return;
		}
		break;
	case 'C':
		if (sscanf(m, "C %u", &id) == 1 && find_step(sc, id, &at) != NULL)
			step_over(sc, at, "CACHED ", -1);
		break;
	case 'E':
		if (sscanf(m, "E %u %d %ld", &id, &good, &t) == 3 && find_step(sc, id, &at) != NULL)
			step_over(sc, at, good ? "" : "ERROR ", t);
		break;
	case 'F':
		if (sscanf(m, "F %d %ld %u %u", ok, ms, steps, cached) == 4)
			*done = true;
		break;
	}
	if (fd >= 0)
		close(fd);
}

static void draw_live(struct screen *sc)
{
	struct winsize ws = {0};
	int cols = ioctl(sc->term, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0 ? ws.ws_col : 80;
	clear_live(sc);
	char head[128];
	snprintf(head, sizeof(head), "[+] Building (%u done, %zu running)", sc->done, sc->n);
	put_line(sc, head, since(&sc->t0), cols);
	for (size_t i = 0; i < sc->n; i++) {
		struct rstep *st = sc->steps[i];
		cleanup_free char *line = NULL;
		if (asprintf(&line, " => %s", st->label) < 0)
			continue;
		put_line(sc, line, since(&st->t0), cols);
		size_t first = st->n_lines > LIVE_LINES ? st->n_lines - LIVE_LINES : 0;
		for (size_t k = first; k < st->n_lines; k++) {
			cleanup_free char *o = NULL;
			if (asprintf(&o, "    | %s", st->lines[k % KEEP_LINES]) < 0)
				continue;
			put_line(sc, o, -1, cols);
		}
	}
}

static void read_stderr(struct screen *sc, int *fd)
{
	char buf[4096];
	ssize_t n = read(*fd, buf, sizeof(buf));
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		close(*fd);
		*fd = -1;
		n = 0;
	}
	for (ssize_t i = 0; i <= n; i++) {
		bool end = i == n ? *fd < 0 && sc->errpart_len > 0 : buf[i] == '\n';
		if (end || sc->errpart_len == sizeof(sc->errpart)) {
			clear_live(sc);
			put(sc, sc->errpart, sc->errpart_len);
			put(sc, "\n", 1);
			sc->errpart_len = 0;
		}
		if (i < n && buf[i] != '\n')
			sc->errpart[sc->errpart_len++] = buf[i];
	}
}

static void renderer_main(int sock, int err_in, int term)
{
	struct screen sc = {.term = term};
	bool done = false;
	int ok = 0;
	long ms = 0;
	unsigned steps = 0, cached = 0;
	prctl(PR_SET_NAME, "berth:[progress]");
	signal(SIGINT, SIG_IGN);
	signal(SIGQUIT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	/* a hung-up terminal: writes fail, the build's output is still read
	 * (or its writes to stderr would kill it) */
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	clock_gettime(CLOCK_MONOTONIC, &sc.t0);
	fcntl(err_in, F_SETFL, O_NONBLOCK);
	for (;;) {
		struct pollfd pf[MAX_STEPS + 2];
		size_t np = 0;
		pf[np++] = (struct pollfd){.fd = sock, .events = POLLIN};
		pf[np++] = (struct pollfd){.fd = err_in, .events = POLLIN};
		for (size_t i = 0; i < sc.n; i++)
			pf[np++] = (struct pollfd){.fd = sc.steps[i]->fd, .events = POLLIN};
		if (poll(pf, np, 100) < 0 && errno != EINTR)
			break;
		if (err_in >= 0 && (pf[1].revents & (POLLIN | POLLHUP)))
			read_stderr(&sc, &err_in);
		for (size_t i = 0; i < sc.n && i + 2 < np; i++)
			if (sc.steps[i]->fd >= 0 && sc.steps[i]->fd == pf[i + 2].fd &&
			    (pf[i + 2].revents & (POLLIN | POLLHUP)))
				read_output(sc.steps[i]);
		bool eof = false;
		if (pf[0].revents & (POLLIN | POLLHUP)) {
			/* the messages that are there */
			for (;;) {
				char buf[MSG_MAX + 1];
				union {
					char b[CMSG_SPACE(sizeof(int))];
					struct cmsghdr align;
				} cm;
				struct iovec iov = {.iov_base = buf, .iov_len = MSG_MAX};
				struct msghdr mh = {.msg_iov = &iov,
				                    .msg_iovlen = 1,
				                    .msg_control = cm.b,
				                    .msg_controllen = sizeof(cm.b)};
				ssize_t n = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
				if (n < 0 && errno == EINTR)
					continue;
				if (n < 0)
					break;
				if (n == 0) {
					eof = true;
					break;
				}
				buf[n] = '\0';
				int fd = -1;
				struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
				if (c != NULL && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
					memcpy(&fd, CMSG_DATA(c), sizeof(int));
				handle_msg(&sc, buf, fd, &done, &ok, &ms, &steps, &cached);
			}
		}
		if (done || eof)
			break;
		draw_live(&sc);
		flush_out(&sc);
	}
	/* what is left to read, then the summary in place of the live view */
	while (err_in >= 0) {
		read_stderr(&sc, &err_in);
		if (err_in >= 0 && sc.errpart_len == 0) {
			struct pollfd pf = {.fd = err_in, .events = POLLIN};
			if (poll(&pf, 1, 0) <= 0)
				break;
		}
	}
	if (sc.errpart_len > 0) {
		put(&sc, sc.errpart, sc.errpart_len);
		put(&sc, "\n", 1);
	}
	clear_live(&sc);
	while (sc.n > 0)
		step_over(&sc, sc.n - 1, done ? "CANCELED " : "INTERRUPTED ", -1);
	if (!done)
		putf(&sc, "[+] Build interrupted after %.1fs\n", since(&sc.t0));
	else if (ok)
		putf(&sc, "[+] Built in %.1fs: %u steps, %u cached\n", (double)ms / 1000, steps, cached);
	else
		putf(&sc, "[+] Build failed after %.1fs\n", (double)ms / 1000);
	flush_out(&sc);
	_exit(0);
}
