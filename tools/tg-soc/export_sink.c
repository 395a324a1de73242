/*
 * tg-soc's export sinks (export.h): where the formatted lines go.
 *
 * A file (or stdout) gets whole lines, each with one write(), so a tailing
 * reader never sees half a record; before a line would take the file past
 * --rotate-mb, FILE.N-1 becomes FILE.N ... FILE becomes FILE.1 and a new FILE
 * is opened (rename rotation: Filebeat and the Wazuh agent follow the inode
 * they read to its end, then take the new file).
 *
 * The syslog sink sends RFC 6587 octet-counted frames over TCP. TCP alone
 * loses what was written into a connection the collector closes (a restart):
 * the kernel took it, the peer never read it. So every frame stays in a
 * queue until the collector's TCP has acknowledged its last byte
 * (tcpi_bytes_acked, Linux's count of the connection's data bytes acked),
 * and after any failure the sink reconnects (1 s, doubling to 30 s) and sends
 * again every frame not acknowledged: a frame may arrive twice (the SIEM
 * deduplicates on event.id, which MSG carries), none is lost while the queue
 * holds it. The queue is bounded (--buffer-kb): past it the oldest frames
 * go, counted and logged.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_acked (Linux 4.1) */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tg-soc/export.h"
#include "tg-soc/util.h"

/* Reconnection backoff to the collector. */
#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 30000
/* A connect() to a collector that does not answer gives up after this. */
#define CONNECT_TIMEOUT_S 3

struct frame {
	char *buf; /* "LEN SP MSG" */
	size_t len;
};

struct exporter {
	struct export_config cfg;
	struct export_stats st;
	/* file or stdout */
	int fd;
	uint64_t size;
	/* syslog */
	char host[256], port[16];
	int sock;
	struct frame *q; /* ring of frames waiting for the collector's ack */
	size_t qcap, qhead, qlen, qbytes;
	size_t sent;       /* frames of the queue written on this connection */
	size_t sent_off;   /* bytes written of frame `sent` */
	uint64_t conn_off; /* connection bytes before the queue's first frame */
	int64_t next_try_ms;
	int backoff_ms;
	bool warned_down;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------ files */

static int file_open(struct exporter *ex)
{
	struct stat sb;

	ex->fd = open(ex->cfg.out, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (ex->fd < 0) {
		soc_errf("export: %s: cannot open: %s", ex->cfg.out, strerror(errno));
		return -errno;
	}
	ex->size = fstat(ex->fd, &sb) == 0 ? (uint64_t)sb.st_size : 0;
	return 0;
}

/* FILE.keep-1 -> FILE.keep ... FILE -> FILE.1, then a new FILE. */
static int file_rotate(struct exporter *ex)
{
	char from[4096], to[4096];

	close(ex->fd);
	ex->fd = -1;
	for (unsigned int i = ex->cfg.keep; i >= 1; i--) {
		if (i == 1)
			snprintf(from, sizeof(from), "%s", ex->cfg.out);
		else
			snprintf(from, sizeof(from), "%s.%u", ex->cfg.out, i - 1);
		snprintf(to, sizeof(to), "%s.%u", ex->cfg.out, i);
		if (rename(from, to) < 0 && errno != ENOENT)
			soc_errf("export: rotate %s -> %s: %s", from, to,
				strerror(errno));
	}
	if (!ex->cfg.keep && unlink(ex->cfg.out) < 0 && errno != ENOENT)
		soc_errf("export: %s: %s", ex->cfg.out, strerror(errno));
	return file_open(ex);
}

static int write_all(int fd, const char *b, size_t len)
{
	while (len) {
		ssize_t n = write(fd, b, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -errno;
		b += n;
		len -= (size_t)n;
	}
	return 0;
}

static void file_line(struct exporter *ex, char *line)
{
	size_t len = strlen(line);

	line[len++] = '\n'; /* the caller's buffer has room: it held a NUL */
	if (ex->cfg.out && ex->cfg.rotate_bytes && ex->size && ex->size + len > ex->cfg.rotate_bytes &&
	    file_rotate(ex) < 0) {
		ex->st.lost++;
		return;
	}
	if (ex->fd < 0 || write_all(ex->fd, line, len) < 0) {
		soc_errf("export: %s: write: %s", ex->cfg.out ? ex->cfg.out : "stdout",
			strerror(errno));
		ex->st.lost++;
		return;
	}
	ex->size += len;
	ex->st.out++;
}

/* ------------------------------------------------------------ syslog over TCP */

static struct frame *qat(struct exporter *ex, size_t i)
{
	return &ex->q[(ex->qhead + i) % ex->qcap];
}

static void qpop(struct exporter *ex)
{
	struct frame *f = qat(ex, 0);

	ex->qbytes -= f->len;
	free(f->buf);
	f->buf = NULL;
	ex->qhead = (ex->qhead + 1) % ex->qcap;
	ex->qlen--;
}

static void sock_close(struct exporter *ex, const char *why)
{
	if (ex->sock >= 0) {
		soc_errf("export: syslog %s:%s: %s; %zu message%s not acknowledged are sent "
			"again after reconnecting",
			ex->host, ex->port, why, ex->qlen, ex->qlen == 1 ? "" : "s");
		close(ex->sock);
		ex->st.reconnects++;
	}
	ex->sock = -1;
	ex->sent = ex->sent_off = 0;
	ex->conn_off = 0;
	ex->next_try_ms = now_ms() + ex->backoff_ms;
	ex->backoff_ms = ex->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : ex->backoff_ms * 2;
}

static void sock_connect(struct exporter *ex)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res = NULL, *ai;
	struct timeval tv = { .tv_sec = CONNECT_TIMEOUT_S };
	int rc, fd = -1, err = 0;

	if (now_ms() < ex->next_try_ms)
		return;
	rc = getaddrinfo(ex->host, ex->port, &hints, &res);
	if (rc) {
		soc_errf("export: syslog %s:%s: %s", ex->host, ex->port,
			gai_strerror(rc));
		ex->next_try_ms = now_ms() + BACKOFF_MAX_MS;
		return;
	}
	for (ai = res; ai; ai = ai->ai_next) {
		fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			continue;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		err = errno;
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		if (!ex->warned_down)
			soc_errf("export: syslog %s:%s: cannot connect: %s (retrying)",
				ex->host, ex->port, strerror(err));
		ex->warned_down = true;
		ex->next_try_ms = now_ms() + ex->backoff_ms;
		ex->backoff_ms = ex->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS
								      : ex->backoff_ms * 2;
		return;
	}
	soc_errf("export: syslog: connected to %s:%s (%zu message%s waiting)",
		ex->host, ex->port, ex->qlen, ex->qlen == 1 ? "" : "s");
	ex->warned_down = false;
	ex->sock = fd;
	ex->sent = ex->sent_off = 0;
	ex->conn_off = 0;
	ex->backoff_ms = BACKOFF_MIN_MS;
}

/* Frames the collector's TCP acknowledged leave the queue. */
static void sock_reap(struct exporter *ex)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	uint64_t acked;

	if (ex->sock < 0 || getsockopt(ex->sock, IPPROTO_TCP, TCP_INFO, &ti, &len) < 0)
		return;
	/* bytes_acked counts the SYN too (1 right after connect): the data is one less */
	acked = ti.tcpi_bytes_acked ? ti.tcpi_bytes_acked - 1 : 0;
	while (ex->qlen && ex->sent && ex->conn_off + qat(ex, 0)->len <= acked) {
		ex->conn_off += qat(ex, 0)->len;
		qpop(ex);
		ex->sent--;
		ex->st.out++;
	}
}

/* The peer closed or reset: a read says so (a collector never sends anything). */
static bool sock_peer_gone(struct exporter *ex)
{
	struct pollfd p = { .fd = ex->sock, .events = POLLIN | POLLRDHUP };
	char b[256];

	if (poll(&p, 1, 0) <= 0)
		return false;
	if (p.revents & (POLLERR | POLLHUP | POLLRDHUP))
		return true;
	return p.revents & POLLIN ? recv(ex->sock, b, sizeof(b), MSG_DONTWAIT) <= 0 : false;
}

/* Connect if due, send what is unsent, reap what was acknowledged. */
static void sock_pump(struct exporter *ex)
{
	if (ex->sock < 0)
		sock_connect(ex);
	if (ex->sock < 0)
		return;
	if (sock_peer_gone(ex)) {
		sock_reap(ex);
		sock_close(ex, "the collector closed the connection");
		return;
	}
	while (ex->sent < ex->qlen) {
		struct frame *f = qat(ex, ex->sent);
		ssize_t n = send(ex->sock, f->buf + ex->sent_off, f->len - ex->sent_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n <= 0) {
			sock_reap(ex);
			sock_close(ex, strerror(errno));
			return;
		}
		ex->sent_off += (size_t)n;
		if (ex->sent_off == f->len) {
			ex->sent++;
			ex->sent_off = 0;
		}
	}
	sock_reap(ex);
}

static void syslog_msg(struct exporter *ex, const char *msg)
{
	size_t mlen = strlen(msg);
	struct frame f;
	int hl;

	f.buf = malloc(mlen + 24);
	if (!f.buf) {
		ex->st.lost++;
		return;
	}
	hl = snprintf(f.buf, 24, "%zu ", mlen);
	memcpy(f.buf + hl, msg, mlen);
	f.len = (size_t)hl + mlen;
	if (f.len > ex->cfg.buffer_bytes) {
		soc_errf("export: a syslog message of %zu bytes is larger than the "
				"buffer (%zu bytes): not sent",
			f.len, ex->cfg.buffer_bytes);
		free(f.buf);
		ex->st.lost++;
		return;
	}
	/*
	 * The bound: the oldest frames go first. One written whole on this
	 * connection leaves the resend queue (it may have arrived: counted lost
	 * all the same); one half written cannot go (the stream would break),
	 * and then the new one is dropped instead.
	 */
	while (ex->qlen && ex->qbytes + f.len > ex->cfg.buffer_bytes &&
	       !(ex->sent == 0 && ex->sent_off > 0)) {
		if (!ex->st.lost)
			soc_errf("export: syslog buffer full (%zu bytes): dropping the oldest messages "
				 "(counted at the end)",
				 ex->cfg.buffer_bytes);
		if (ex->sent) {
			ex->conn_off += qat(ex, 0)->len;
			ex->sent--;
		}
		qpop(ex);
		ex->st.lost++;
	}
	if (ex->qbytes + f.len > ex->cfg.buffer_bytes) {
		free(f.buf);
		ex->st.lost++;
		return;
	}
	if (ex->qlen == ex->qcap) {
		size_t ncap = ex->qcap ? ex->qcap * 2 : 64;
		struct frame *nq = calloc(ncap, sizeof(*nq));

		if (!nq) {
			free(f.buf);
			ex->st.lost++;
			return;
		}
		for (size_t i = 0; i < ex->qlen; i++)
			nq[i] = *qat(ex, i);
		free(ex->q);
		ex->q = nq;
		ex->qcap = ncap;
		ex->qhead = 0;
	}
	*qat(ex, ex->qlen) = f;
	ex->qlen++;
	ex->qbytes += f.len;
	sock_pump(ex);
}

/* ------------------------------------------------------------ the exporter */

int export_open(struct exporter **out, const struct export_config *cfg)
{
	struct exporter *ex = calloc(1, sizeof(*ex));
	const char *colon;

	if (!ex)
		return -ENOMEM;
	ex->cfg = *cfg;
	ex->fd = -1;
	ex->sock = -1;
	ex->backoff_ms = BACKOFF_MIN_MS;
	if (!ex->cfg.kinds)
		ex->cfg.kinds = cfg->format == EXPORT_ECS ? EXPORT_KIND_ALL : EXPORT_KIND_ALERT;
	if (cfg->format == EXPORT_EVE && (ex->cfg.kinds & ~EXPORT_KIND_ALERT)) {
		soc_errf("export: --format eve carries alerts only (--kind alert)");
		free(ex);
		return -EINVAL;
	}
	if (cfg->format == EXPORT_SYSLOG) {
		colon = cfg->syslog ? strrchr(cfg->syslog, ':') : NULL;
		if (!colon || colon == cfg->syslog || !colon[1] ||
		    (size_t)(colon - cfg->syslog) >= sizeof(ex->host) || strlen(colon + 1) >= sizeof(ex->port)) {
			soc_errf("export: --syslog \"%s\": not HOST:PORT",
				cfg->syslog ? cfg->syslog : "");
			free(ex);
			return -EINVAL;
		}
		snprintf(ex->host, sizeof(ex->host), "%.*s", (int)(colon - cfg->syslog), cfg->syslog);
		/* [::1]:514 */
		if (ex->host[0] == '[' && ex->host[strlen(ex->host) - 1] == ']') {
			memmove(ex->host, ex->host + 1, strlen(ex->host));
			ex->host[strlen(ex->host) - 1] = '\0';
		}
		snprintf(ex->port, sizeof(ex->port), "%s", colon + 1);
		if (!ex->cfg.buffer_bytes)
			ex->cfg.buffer_bytes = 4u << 20;
		sock_pump(ex);
	} else if (cfg->out) {
		if (file_open(ex) < 0) {
			free(ex);
			return -EIO;
		}
	} else {
		ex->fd = STDOUT_FILENO;
	}
	*out = ex;
	return 0;
}

void export_record(struct exporter *ex, const json_t *rec)
{
	const char *why = NULL;
	char *line = NULL;
	json_t *eve;

	if (!(export_record_kind(rec) & ex->cfg.kinds)) {
		ex->st.skipped++;
		return;
	}
	switch (ex->cfg.format) {
	case EXPORT_ECS:
		line = export_ecs_line(rec, &why);
		break;
	case EXPORT_EVE:
		eve = export_eve(rec, &why);
		if (eve)
			line = json_dumps(eve, JSON_COMPACT);
		json_decref(eve);
		break;
	case EXPORT_SYSLOG:
		line = export_syslog_msg(rec, ex->cfg.hostname, &why);
		break;
	}
	if (!line) {
		const char *id = NULL;
		json_t *ev = json_object_get(rec, "event");

		if (ev && json_is_string(json_object_get(ev, "id")))
			id = json_string_value(json_object_get(ev, "id"));
		soc_errf("export: record %s refused: %s", id ? id : "(no event.id)",
			why ? why : "out of memory");
		ex->st.refused++;
		return;
	}
	if (ex->cfg.format == EXPORT_SYSLOG) {
		syslog_msg(ex, line);
		free(line);
		return;
	}
	{
		/* room for the newline file_line() adds */
		size_t n = strlen(line);
		char *l2 = realloc(line, n + 2);

		if (!l2) {
			free(line);
			ex->st.lost++;
			return;
		}
		l2[n + 1] = '\0';
		file_line(ex, l2);
		free(l2);
	}
}

void export_pump(struct exporter *ex)
{
	if (ex->cfg.format == EXPORT_SYSLOG)
		sock_pump(ex);
}

int export_flush(struct exporter *ex, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;

	if (ex->cfg.format != EXPORT_SYSLOG)
		return 0;
	while (ex->qlen) {
		export_pump(ex);
		if (!ex->qlen)
			break;
		if (now_ms() >= end)
			return -ETIMEDOUT;
		poll(NULL, 0, 20);
	}
	return 0;
}

void export_get_stats(const struct exporter *ex, struct export_stats *st)
{
	*st = ex->st;
}

void export_close(struct exporter *ex, struct export_stats *st)
{
	if (!ex)
		return;
	if (ex->qlen)
		soc_errf("export: syslog %s:%s: %zu message%s never acknowledged by the "
				"collector: lost",
			ex->host, ex->port, ex->qlen, ex->qlen == 1 ? "" : "s");
	ex->st.lost += ex->qlen;
	while (ex->qlen)
		qpop(ex);
	if (st)
		*st = ex->st;
	free(ex->q);
	if (ex->sock >= 0)
		close(ex->sock);
	if (ex->fd > STDOUT_FILENO)
		close(ex->fd);
	free(ex);
}
