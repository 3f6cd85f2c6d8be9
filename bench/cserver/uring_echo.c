/*
 * uring_echo: the benchmark's io_uring floor, a one-thread echo server in C
 * on raw io_uring (no liburing, so the bench needs nothing but gcc and the
 * kernel headers). It is what issue 14 measures evsel's io_uring driver
 * against: multishot accept, multishot recv into a provided-buffer ring,
 * one send in flight per connection, and one io_uring_enter (submit and
 * wait for at least one completion) per loop iteration.
 *
 * A reply is sent straight from the provided buffer it arrived in, which
 * goes back to the ring when the send completes. Whatever arrives while a
 * send is in flight is copied to the connection's pending buffer and sent
 * as one when the send completes. When the pending buffer passes PEND_HIGH
 * the connection's recv is cancelled and not re-armed until the pending
 * bytes have gone, so a peer that does not read cannot make the server
 * buffer without bound (as epoll_echo.c stops reading).
 *
 * Command line and protocol as epoll_echo.c: -addr host:port (-cores and
 * -reuseport ignored: one thread), "listening ADDR" on stdout once it
 * accepts, "gc" on stdin answered by "gc-done". -probe only checks that
 * the kernel has what the server needs, exiting 0 or 1 with the reason,
 * so the bench can leave the server out where io_uring is missing.
 *
 * Built by the bench with: gcc -O2 -o echo-c-uring uring_echo.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/io_uring.h>
#include <malloc.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SQ_ENTRIES 4096
#define CQ_ENTRIES 65536 /* room for a completion per connection and more */
#define NBUF 4096        /* provided buffers (a power of two) */
#define BUF_SIZE 8192    /* bytes each: smaller than a 16 KiB message */
#define BGID 0
/* At most this many buffers wait for their send; past it replies are
 * copied, so connections stuck behind slow peers cannot drain the ring. */
#define HOLD_MAX (NBUF / 2)
#define PEND_HIGH (256 * 1024) /* stop receiving past this many pending bytes */

/* user_data: a connection pointer with the operation in its low bits
 * (calloc aligns to 16); ACCEPT and STDIN carry no pointer; IGNORE marks
 * completions nothing waits for (cancels). */
enum { OP_IGNORE, OP_ACCEPT, OP_STDIN, OP_RECV, OP_SEND, OP_MASK = 7 };

struct conn {
	int fd;
	unsigned recv_on : 1;    /* a multishot recv is armed */
	unsigned cancelling : 1; /* its cancel is on the way */
	unsigned sending : 1;    /* a send is in flight */
	unsigned dead : 1;       /* waiting for its operations to end */
	int held;                /* provided buffer being sent, or -1 */
	const char *sp;          /* the send in flight: sp[soff:slen] */
	unsigned slen, soff;
	char *out;               /* owned buffer being sent (when held < 0) */
	size_t out_cap;
	char *pend;              /* arrived while a send was in flight */
	size_t pend_len, pend_cap;
};

static int ring_fd, listen_fd;
/* Submission queue: the kernel reads [head, tail) of the index array. */
static unsigned *sq_head, *sq_tail, sq_mask, to_submit;
static struct io_uring_sqe *sqes;
/* Completion queue: the kernel writes [head, tail). */
static unsigned *cq_head, *cq_tail, cq_mask;
static struct io_uring_cqe *cqes;
/* Provided buffers: the ring the kernel picks from, and their memory. */
static struct io_uring_buf_ring *br;
static unsigned short br_tail;
static char *bufs;
static int held_count;
static char cmd_line[256];
static size_t cmd_have;

static void die(const char *what, int err) {
	fprintf(stderr, "uring_echo: %s: %s\n", what, strerror(err));
	exit(1);
}

static int enter(unsigned submit, unsigned wait, unsigned flags) {
	return (int)syscall(__NR_io_uring_enter, ring_fd, submit, wait, flags, NULL, 0);
}

/* submit hands the queued entries to the kernel, waiting for wait
 * completions; with DEFER_TASKRUN this is also when completions run. */
static void submit(unsigned wait) {
	for (;;) {
		int n = enter(to_submit, wait, wait ? IORING_ENTER_GETEVENTS : 0);
		if (n >= 0) {
			to_submit -= (unsigned)n;
			return;
		}
		if (errno == EINTR)
			continue;
		/* A full completion queue: let the loop drain it first. */
		if (errno == EBUSY || errno == EAGAIN)
			return;
		die("io_uring_enter", errno);
	}
}

static struct io_uring_sqe *get_sqe(void) {
	unsigned tail = *sq_tail;
	while (tail - __atomic_load_n(sq_head, __ATOMIC_ACQUIRE) > sq_mask) {
		submit(0); /* queue full: hand over what there is now */
		if (tail - __atomic_load_n(sq_head, __ATOMIC_ACQUIRE) > sq_mask)
			die("submission queue stuck", EBUSY);
	}
	struct io_uring_sqe *e = &sqes[tail & sq_mask];
	memset(e, 0, sizeof *e);
	__atomic_store_n(sq_tail, tail + 1, __ATOMIC_RELEASE);
	to_submit++;
	return e;
}

static uint64_t tag(struct conn *c, int op) { return (uint64_t)(uintptr_t)c | (uint64_t)op; }

/* recycle gives a provided buffer back; the kernel sees it once br->tail
 * is published, before the next enter. */
static void recycle(int bid) {
	struct io_uring_buf *b = &br->bufs[br_tail & (NBUF - 1)];
	b->addr = (uint64_t)(uintptr_t)(bufs + (size_t)bid * BUF_SIZE);
	b->len = BUF_SIZE;
	b->bid = (unsigned short)bid;
	br_tail++;
}

static void arm_accept(void) {
	struct io_uring_sqe *e = get_sqe();
	e->opcode = IORING_OP_ACCEPT;
	e->fd = listen_fd;
	e->ioprio = IORING_ACCEPT_MULTISHOT;
	e->accept_flags = SOCK_CLOEXEC;
	e->user_data = OP_ACCEPT;
}

static void arm_recv(struct conn *c) {
	struct io_uring_sqe *e = get_sqe();
	e->opcode = IORING_OP_RECV;
	e->fd = c->fd;
	e->ioprio = IORING_RECV_MULTISHOT;
	e->flags = IOSQE_BUFFER_SELECT;
	e->buf_group = BGID;
	e->user_data = tag(c, OP_RECV);
	c->recv_on = 1;
}

static void arm_stdin(void) {
	struct io_uring_sqe *e = get_sqe();
	e->opcode = IORING_OP_READ;
	e->fd = 0;
	e->addr = (uint64_t)(uintptr_t)(cmd_line + cmd_have);
	e->len = (unsigned)(sizeof cmd_line - 1 - cmd_have);
	e->off = (uint64_t)-1; /* the current position: stdin may be a pipe */
	e->user_data = OP_STDIN;
}

static void send_rest(struct conn *c) {
	struct io_uring_sqe *e = get_sqe();
	e->opcode = IORING_OP_SEND;
	e->fd = c->fd;
	e->addr = (uint64_t)(uintptr_t)(c->sp + c->soff);
	e->len = c->slen - c->soff;
	e->msg_flags = MSG_NOSIGNAL;
	e->user_data = tag(c, OP_SEND);
	c->sending = 1;
}

static void start_send(struct conn *c, const char *p, unsigned n) {
	c->sp = p;
	c->slen = n;
	c->soff = 0;
	send_rest(c);
}

/* kill ends a connection: shutdown makes its pending recv and send
 * complete, and it is freed once both have. */
static void maybe_free(struct conn *c) {
	if (!c->dead || c->recv_on || c->sending)
		return;
	close(c->fd);
	free(c->out);
	free(c->pend);
	free(c);
}

static void kill_conn(struct conn *c) {
	if (!c->dead) {
		c->dead = 1;
		shutdown(c->fd, SHUT_RDWR);
	}
	maybe_free(c);
}

static void grow(char **p, size_t *cap, size_t need) {
	if (need <= *cap)
		return;
	size_t n = *cap ? *cap : 4096;
	while (n < need)
		n *= 2;
	if ((*p = realloc(*p, n)) == NULL)
		die("realloc", ENOMEM);
	*cap = n;
}

static void on_recv(struct conn *c, struct io_uring_cqe *cqe) {
	int more = cqe->flags & IORING_CQE_F_MORE;
	if (!more)
		c->recv_on = c->cancelling = 0;
	if (cqe->flags & IORING_CQE_F_BUFFER) {
		int bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		const char *data = bufs + (size_t)bid * BUF_SIZE;
		unsigned n = cqe->res > 0 ? (unsigned)cqe->res : 0;
		if (c->dead || n == 0) {
			recycle(bid);
		} else if (!c->sending && held_count < HOLD_MAX) {
			c->held = bid; /* reply from where it arrived */
			held_count++;
			start_send(c, data, n);
		} else if (!c->sending) {
			grow(&c->out, &c->out_cap, n);
			memcpy(c->out, data, n);
			recycle(bid);
			start_send(c, c->out, n);
		} else {
			grow(&c->pend, &c->pend_cap, c->pend_len + n);
			memcpy(c->pend + c->pend_len, data, n);
			c->pend_len += n;
			recycle(bid);
		}
	}
	if (c->dead) {
		maybe_free(c);
		return;
	}
	if (cqe->res == 0 || (cqe->res < 0 && cqe->res != -ENOBUFS && cqe->res != -ECANCELED)) {
		kill_conn(c); /* the peer closed, or the connection failed */
		return;
	}
	if (c->pend_len >= PEND_HIGH && c->recv_on && !c->cancelling) {
		struct io_uring_sqe *e = get_sqe();
		e->opcode = IORING_OP_ASYNC_CANCEL;
		e->addr = tag(c, OP_RECV);
		e->user_data = OP_IGNORE;
		c->cancelling = 1;
	}
	/* Out of buffers, cancelled or ended for another reason: receive
	 * again unless the pending bytes are what stopped it. */
	if (!c->recv_on && c->pend_len < PEND_HIGH)
		arm_recv(c);
}

static void on_send(struct conn *c, int res) {
	c->sending = 0;
	if (res > 0)
		c->soff += (unsigned)res;
	if (res > 0 && c->soff < c->slen && !c->dead) {
		send_rest(c); /* a short send: the rest, in order */
		return;
	}
	if (c->held >= 0) {
		recycle(c->held);
		c->held = -1;
		held_count--;
	}
	if (res <= 0 || c->dead) {
		kill_conn(c);
		return;
	}
	if (c->pend_len > 0) {
		/* What arrived meanwhile goes as one send; the buffers swap
		 * so the next arrivals have somewhere to go. */
		char *p = c->out;
		size_t cap = c->out_cap, n = c->pend_len;
		c->out = c->pend;
		c->out_cap = c->pend_cap;
		c->pend = p;
		c->pend_cap = cap;
		c->pend_len = 0;
		start_send(c, c->out, (unsigned)n);
	} else {
		/* Quiet again: hold no memory, as epoll_echo.c frees pend. */
		free(c->out);
		free(c->pend);
		c->out = c->pend = NULL;
		c->out_cap = c->pend_cap = 0;
	}
	if (!c->recv_on && !c->cancelling)
		arm_recv(c);
}

static void on_accept(struct io_uring_cqe *cqe) {
	if (!(cqe->flags & IORING_CQE_F_MORE))
		arm_accept(); /* multishot ended (e.g. out of descriptors) */
	if (cqe->res < 0)
		return;
	int one = 1;
	setsockopt(cqe->res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct conn *c = calloc(1, sizeof *c);
	if (c == NULL)
		die("calloc", ENOMEM);
	c->fd = cqe->res;
	c->held = -1;
	arm_recv(c);
}

/* on_command serves the orchestrator's "gc" lines; EOF stops reading. */
static void on_command(int res) {
	if (res <= 0)
		return;
	cmd_have += (size_t)res;
	char *nl;
	while ((nl = memchr(cmd_line, '\n', cmd_have)) != NULL) {
		*nl = 0;
		if (strcmp(cmd_line, "gc") == 0) {
			malloc_trim(0);
			printf("gc-done\n");
			fflush(stdout);
		}
		cmd_have -= (size_t)(nl + 1 - cmd_line);
		memmove(cmd_line, nl + 1, cmd_have);
	}
	if (cmd_have == sizeof cmd_line - 1)
		cmd_have = 0; /* an overlong line is not a command */
	arm_stdin();
}

/* setup creates the ring with the best flags the kernel takes: one
 * submitter and completions run only inside enter, as the issue's
 * reference; older kernels get fewer. Returns 0 or an errno. */
static int setup(void) {
	static const unsigned tries[] = {
		IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
		IORING_SETUP_COOP_TASKRUN,
		0,
	};
	struct io_uring_params p;
	int err = 0;
	ring_fd = -1;
	for (size_t i = 0; i < sizeof tries / sizeof tries[0] && ring_fd < 0; i++) {
		memset(&p, 0, sizeof p);
		p.flags = tries[i] | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
		p.cq_entries = CQ_ENTRIES;
		ring_fd = (int)syscall(__NR_io_uring_setup, SQ_ENTRIES, &p);
		err = errno;
		if (ring_fd < 0 && err != EINVAL)
			break; /* ENOSYS, EPERM: no io_uring at all */
	}
	if (ring_fd < 0)
		return err;
	if (p.flags != (tries[0] | IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL))
		fprintf(stderr, "uring_echo: the kernel refused SINGLE_ISSUER|DEFER_TASKRUN; flags %#x\n", p.flags);
	if (!(p.features & IORING_FEAT_SINGLE_MMAP) || !(p.features & IORING_FEAT_NODROP))
		return EOPNOTSUPP; /* older than 5.5: no multishot either */
	size_t sq_sz = p.sq_off.array + p.sq_entries * sizeof(unsigned);
	size_t cq_sz = p.cq_off.cqes + p.cq_entries * sizeof(struct io_uring_cqe);
	size_t ring_sz = sq_sz > cq_sz ? sq_sz : cq_sz;
	char *ring = mmap(NULL, ring_sz, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_SQ_RING);
	sqes = mmap(NULL, p.sq_entries * sizeof(struct io_uring_sqe), PROT_READ | PROT_WRITE,
	            MAP_SHARED | MAP_POPULATE, ring_fd, IORING_OFF_SQES);
	if (ring == MAP_FAILED || sqes == MAP_FAILED)
		return errno;
	sq_head = (unsigned *)(ring + p.sq_off.head);
	sq_tail = (unsigned *)(ring + p.sq_off.tail);
	sq_mask = *(unsigned *)(ring + p.sq_off.ring_mask);
	unsigned *array = (unsigned *)(ring + p.sq_off.array);
	for (unsigned i = 0; i < p.sq_entries; i++)
		array[i] = i; /* entries are used in order: the index array is fixed */
	cq_head = (unsigned *)(ring + p.cq_off.head);
	cq_tail = (unsigned *)(ring + p.cq_off.tail);
	cq_mask = *(unsigned *)(ring + p.cq_off.ring_mask);
	cqes = (struct io_uring_cqe *)(ring + p.cq_off.cqes);

	/* The buffer ring is ours (page-aligned anonymous memory), registered
	 * with the kernel; the buffers' pages are touched only when used. */
	br = mmap(NULL, NBUF * sizeof(struct io_uring_buf), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bufs = mmap(NULL, (size_t)NBUF * BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (br == MAP_FAILED || bufs == MAP_FAILED)
		return errno;
	struct io_uring_buf_reg reg = {.ring_addr = (uint64_t)(uintptr_t)br, .ring_entries = NBUF, .bgid = BGID};
	if (syscall(__NR_io_uring_register, ring_fd, IORING_REGISTER_PBUF_RING, &reg, 1) < 0)
		return errno;
	for (int i = 0; i < NBUF; i++)
		recycle(i);
	__atomic_store_n(&br->tail, br_tail, __ATOMIC_RELEASE);
	return 0;
}

static int listen_on(const char *addr) {
	char host[64];
	const char *colon = strrchr(addr, ':');
	if (colon == NULL || (size_t)(colon - addr) >= sizeof host) {
		fprintf(stderr, "uring_echo: bad -addr %s\n", addr);
		return -1;
	}
	memcpy(host, addr, (size_t)(colon - addr));
	host[colon - addr] = 0;
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(colon + 1))};
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
		fprintf(stderr, "uring_echo: not an IPv4 address: %s\n", host);
		return -1;
	}
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
		die("socket", errno);
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(fd, 4096) < 0)
		die("bind/listen", errno);
	return fd;
}

int main(int argc, char **argv) {
	const char *addr = "127.0.0.1:9000";
	int probe = 0;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-addr") == 0 && i + 1 < argc)
			addr = argv[++i];
		else if (strncmp(argv[i], "-addr=", 6) == 0)
			addr = argv[i] + 6;
		else if (strcmp(argv[i], "-probe") == 0)
			probe = 1;
	}
	int err = setup();
	if (probe) {
		if (err != 0) {
			printf("io_uring unusable: %s\n", strerror(err));
			return 1;
		}
		printf("ok\n");
		return 0;
	}
	if (err != 0)
		die("io_uring setup", err);
	signal(SIGPIPE, SIG_IGN);
	if ((listen_fd = listen_on(addr)) < 0)
		return 1;
	arm_accept();
	arm_stdin();
	printf("listening %s\n", addr);
	fflush(stdout);

	for (;;) {
		__atomic_store_n(&br->tail, br_tail, __ATOMIC_RELEASE);
		submit(1);
		unsigned head = *cq_head, tail = __atomic_load_n(cq_tail, __ATOMIC_ACQUIRE);
		for (; head != tail; head++) {
			struct io_uring_cqe *cqe = &cqes[head & cq_mask];
			uint64_t ud = cqe->user_data;
			struct conn *c = (struct conn *)(uintptr_t)(ud & ~(uint64_t)OP_MASK);
			switch (ud & OP_MASK) {
			case OP_ACCEPT:
				on_accept(cqe);
				break;
			case OP_STDIN:
				on_command(cqe->res);
				break;
			case OP_RECV:
				on_recv(c, cqe);
				break;
			case OP_SEND:
				on_send(c, cqe->res);
				break;
			}
		}
		__atomic_store_n(cq_head, head, __ATOMIC_RELEASE);
	}
}
