/*
 * epoll_echo: the benchmark's floor, a one-thread echo server on epoll in C.
 * It does only what any echo server must: accept, read into one buffer,
 * write straight back. A reply the kernel does not take whole is kept in
 * the connection's pending buffer, and the connection stops being read
 * (EPOLLOUT instead of EPOLLIN) until that is written, so a peer that does
 * not read cannot make the server buffer without bound.
 *
 * It speaks the bench servers' command line (-addr host:port; -cores and
 * -reuseport are accepted and ignored: it is one thread) and protocol:
 * "listening ADDR" on stdout once it accepts, and "gc" on stdin answered
 * by "gc-done" (malloc_trim stands in for the collector).
 *
 * Built by the bench with: gcc -O2 -o echo-c epoll_echo.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn {
	int fd;
	char *pend;          /* unwritten reply, or NULL */
	size_t len, off;     /* pend[off:len] is still to be written */
};

/* Markers for the two descriptors that are not connections. */
static struct conn listener_mark, stdin_mark;
static char buf[64 * 1024];
static int ep;

static void die(const char *what) {
	perror(what);
	exit(1);
}

static void drop(struct conn *c) {
	close(c->fd); /* also leaves the epoll set */
	free(c->pend);
	free(c);
}

static void watch(struct conn *c, unsigned events) {
	struct epoll_event ev = {.events = events, .data.ptr = c};
	if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		die("epoll_ctl mod");
}

/* flush writes what is pending; 0 when it all went, 1 when some is left,
 * -1 when the connection failed. */
static int flush(struct conn *c) {
	while (c->off < c->len) {
		ssize_t n = send(c->fd, c->pend + c->off, c->len - c->off, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return errno == EAGAIN ? 1 : -1;
		}
		c->off += (size_t)n;
	}
	free(c->pend);
	c->pend = NULL;
	c->len = c->off = 0;
	return 0;
}

static void on_readable(struct conn *c) {
	ssize_t n = read(c->fd, buf, sizeof buf);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
		drop(c);
		return;
	}
	if (n < 0)
		return;
	ssize_t w = 0;
	while (w < n) {
		ssize_t k = send(c->fd, buf + w, (size_t)(n - w), MSG_NOSIGNAL);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN) {
				drop(c);
				return;
			}
			break;
		}
		w += k;
	}
	if (w < n) { /* backpressure: keep the rest, stop reading */
		c->len = (size_t)(n - w);
		c->off = 0;
		if ((c->pend = malloc(c->len)) == NULL)
			die("malloc");
		memcpy(c->pend, buf + w, c->len);
		watch(c, EPOLLOUT);
	}
}

static void on_writable(struct conn *c) {
	int r = flush(c);
	if (r < 0)
		drop(c);
	else if (r == 0)
		watch(c, EPOLLIN);
}

static void accept_all(int lfd) {
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return; /* EAGAIN, or out of descriptors: try on the next event */
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		struct conn *c = calloc(1, sizeof *c);
		if (c == NULL)
			die("calloc");
		c->fd = fd;
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
		if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
			die("epoll_ctl add");
	}
}

/* on_command serves the orchestrator's "gc" lines; EOF stops watching. */
static void on_command(void) {
	static char line[256];
	static size_t have;
	ssize_t n = read(0, line + have, sizeof line - 1 - have);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		epoll_ctl(ep, EPOLL_CTL_DEL, 0, NULL);
		return;
	}
	have += (size_t)n;
	char *nl;
	while ((nl = memchr(line, '\n', have)) != NULL) {
		*nl = 0;
		if (strcmp(line, "gc") == 0) {
			malloc_trim(0);
			printf("gc-done\n");
			fflush(stdout);
		}
		have -= (size_t)(nl + 1 - line);
		memmove(line, nl + 1, have);
	}
	if (have == sizeof line - 1)
		have = 0; /* an overlong line is not a command */
}

int main(int argc, char **argv) {
	const char *addr = "127.0.0.1:9000";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-addr") == 0 && i + 1 < argc)
			addr = argv[++i];
		else if (strncmp(argv[i], "-addr=", 6) == 0)
			addr = argv[i] + 6;
	}
	char host[64];
	const char *colon = strrchr(addr, ':');
	if (colon == NULL || (size_t)(colon - addr) >= sizeof host) {
		fprintf(stderr, "epoll_echo: bad -addr %s\n", addr);
		return 1;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "epoll_echo: not an IPv4 address: %s\n", host);
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);

	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1;
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		die("socket");
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 4096) < 0)
		die("bind/listen");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) < 0)
		die("epoll_create1");
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &listener_mark};
	if (epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0)
		die("epoll_ctl listener");
	/* stdin is a pipe when the orchestrator sends commands; anything
	 * epoll cannot watch (/dev/null) is simply left alone. */
	ev.data.ptr = &stdin_mark;
	epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);

	printf("listening %s\n", addr);
	fflush(stdout);

	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			die("epoll_wait");
		}
		for (int i = 0; i < n; i++) {
			struct conn *c = evs[i].data.ptr;
			if (c == &listener_mark)
				accept_all(lfd);
			else if (c == &stdin_mark)
				on_command();
			else if (c->pend != NULL)
				on_writable(c);
			else
				on_readable(c);
		}
	}
}
