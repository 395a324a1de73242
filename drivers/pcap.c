/*
 * libpcap port drivers: "pcap" for live interfaces and "pcap-file" for
 * capture files (pcap and pcapng; libpcap reads both).
 *
 * A live port is opened the way DPDK's pcap PMD and libpcap's selpolltest do
 * it: create, set every option, activate (a positive return is a warning and
 * the port works; a negative one is an error), check the link type is one the
 * decoder knows, switch to nonblocking, install the BPF filter, and hand the
 * selectable descriptor to the event loop. Immediate mode is on by default so
 * an inline gateway does not wait for the kernel to fill a buffer block.
 *
 * Receive needs no system call per frame: libpcap reads its own memory-mapped
 * ring (PACKET_MMAP), and pcap_dispatch() hands out what a readiness event
 * found. Send batches: tx_queue copies a frame into the port's queue and
 * tx_flush hands the whole queue to the kernel with one sendmmsg() on
 * libpcap's own packet socket (what pcap_inject() does with send() for one
 * frame, so the kernel treats the frames alike, and the socket still does
 * not see its own sends). The data path queues the frames of a burst and
 * flushes at its end; tx sends at once, after what is queued.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <sys/socket.h>
#include <sys/uio.h>

#include <pcap/pcap.h>

#define LOG_MODULE "pcap"
#include "core/common.h"
#include "core/log.h"
#include "core/port.h"

/*
 * The send queue: up to PCAP_TX_BATCH frames copied into one arena. A burst
 * (CONFIG_PCAP_RX_BURST frames in, as many out) usually fits; a full queue
 * is flushed before the next frame is taken.
 */
#define PCAP_TX_BATCH 64
#define PCAP_TX_ARENA (PCAP_TX_BATCH * 2048)

struct pcap_tx {
	struct mmsghdr msg[PCAP_TX_BATCH];
	struct iovec iov[PCAP_TX_BATCH];
	uint32_t n;
	uint32_t used; /* bytes of arena */
	uint8_t arena[PCAP_TX_ARENA];
};

struct pcap_port {
	pcap_t *pcap;
	bool live;
	struct pcap_tx *tx; /* allocated at the first queued frame */
	uint64_t tx_batches, tx_batched; /* sendmmsg calls, and the frames they sent */
};

struct pcap_rx_ctx {
	struct port *port;
	port_rx_fn fn;
	void *ctx;
};

/* The link types the decoder understands; anything else is refused at open. */
static int pcap_link_type(int dlt, enum link_type *out)
{
	switch (dlt) {
	case DLT_EN10MB:
		*out = LINK_ETHERNET;
		return 0;
	case DLT_LINUX_SLL:
		*out = LINK_LINUX_SLL;
		return 0;
	case DLT_NULL:
	case DLT_LOOP:
		*out = LINK_NULL;
		return 0;
	case DLT_RAW:
#ifdef DLT_IPV4
	case DLT_IPV4:
	case DLT_IPV6:
#endif
		*out = LINK_RAW;
		return 0;
	default:
		return -EPROTONOSUPPORT;
	}
}

static int pcap_setup(struct port *port, struct pcap_port *pp, const struct port_config *cfg)
{
	struct bpf_program prog;
	int dlt = pcap_datalink(pp->pcap);

	if (pcap_link_type(dlt, &port->link) < 0) {
		log_err("%s: link type %s (%d) is not supported (Ethernet, Linux SLL, "
			"BSD loopback and raw IP are)",
			cfg->name, pcap_datalink_val_to_name(dlt) ? pcap_datalink_val_to_name(dlt) : "?",
			dlt);
		return -EPROTONOSUPPORT;
	}
	if (cfg->filter && *cfg->filter) {
		if (pcap_compile(pp->pcap, &prog, cfg->filter, 1, PCAP_NETMASK_UNKNOWN) < 0) {
			log_err("%s: bad capture filter \"%s\": %s", cfg->name, cfg->filter,
				pcap_geterr(pp->pcap));
			return -EINVAL;
		}
		if (pcap_setfilter(pp->pcap, &prog) < 0) {
			log_err("%s: cannot install filter \"%s\": %s", cfg->name, cfg->filter,
				pcap_geterr(pp->pcap));
			pcap_freecode(&prog);
			return -EINVAL;
		}
		pcap_freecode(&prog);
	}
	return 0;
}

static int pcap_live_open(struct port *port, const struct port_config *cfg)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct pcap_port *pp;
	int ret;

	pp = calloc(1, sizeof(*pp));
	if (!pp)
		return -ENOMEM;
	pp->live = true;
	pp->pcap = pcap_create(cfg->name, errbuf);
	if (!pp->pcap) {
		log_err("%s: cannot open interface: %s", cfg->name, errbuf);
		ret = -ENODEV;
		goto err_free;
	}
	pcap_set_snaplen(pp->pcap, cfg->snaplen ? (int)cfg->snaplen : CONFIG_PCAP_SNAPLEN);
	pcap_set_promisc(pp->pcap, cfg->promiscuous);
	pcap_set_immediate_mode(pp->pcap, cfg->immediate);
	pcap_set_buffer_size(pp->pcap,
			     (int)(cfg->buffer_kb ? cfg->buffer_kb : CONFIG_PCAP_BUFFER_KB) * 1024);
	/* Only matters without immediate mode: bound the batching delay. */
	pcap_set_timeout(pp->pcap, 10);

	ret = pcap_activate(pp->pcap);
	if (ret < 0) {
		/* pcap_geterr() adds detail for some errors and repeats the status for others */
		const char *detail = pcap_geterr(pp->pcap);

		if (!*detail || strcmp(detail, pcap_statustostr(ret)) == 0)
			detail = "no further detail";
		log_err("%s: cannot activate capture: %s (%s)", cfg->name, pcap_statustostr(ret),
			detail);
		ret = ret == PCAP_ERROR_PERM_DENIED ? -EPERM : -ENODEV;
		goto err_close;
	}
	if (ret > 0)
		log_warn("%s: capture activated with a warning: %s (%s)", cfg->name,
			 pcap_statustostr(ret), pcap_geterr(pp->pcap));

	ret = pcap_setup(port, pp, cfg);
	if (ret < 0)
		goto err_close;
	/* An inline port must not see its own sends again (they would loop). */
	if (cfg->inbound_only && pcap_setdirection(pp->pcap, PCAP_D_IN) < 0) {
		log_err("%s: cannot capture inbound frames only: %s", cfg->name,
			pcap_geterr(pp->pcap));
		ret = -EOPNOTSUPP;
		goto err_close;
	}
	if (pcap_setnonblock(pp->pcap, 1, errbuf) < 0) {
		log_err("%s: cannot make capture nonblocking: %s", cfg->name, errbuf);
		ret = -EIO;
		goto err_close;
	}
	if (pcap_get_selectable_fd(pp->pcap) < 0) {
		log_err("%s: capture has no selectable descriptor", cfg->name);
		ret = -EOPNOTSUPP;
		goto err_close;
	}
	port->priv = pp;
	log_info("%s: capturing (%s, snaplen %d, buffer %u KiB%s%s%s)", cfg->name,
		 pcap_datalink_val_to_name(pcap_datalink(pp->pcap)), pcap_snapshot(pp->pcap),
		 cfg->buffer_kb ? cfg->buffer_kb : CONFIG_PCAP_BUFFER_KB,
		 cfg->promiscuous ? ", promiscuous" : "", cfg->immediate ? ", immediate" : "",
		 cfg->inbound_only ? ", inbound" : "");
	return 0;

err_close:
	pcap_close(pp->pcap);
err_free:
	free(pp);
	return ret;
}

static int pcap_file_open(struct port *port, const struct port_config *cfg)
{
	char errbuf[PCAP_ERRBUF_SIZE] = "";
	struct pcap_port *pp;
	int ret;

	pp = calloc(1, sizeof(*pp));
	if (!pp)
		return -ENOMEM;
	pp->pcap = pcap_open_offline_with_tstamp_precision(cfg->name, PCAP_TSTAMP_PRECISION_MICRO,
							   errbuf);
	if (!pp->pcap) {
		log_err("%s: cannot read capture: %s", cfg->name, errbuf);
		free(pp);
		return -EINVAL;
	}
	ret = pcap_setup(port, pp, cfg);
	if (ret < 0) {
		pcap_close(pp->pcap);
		free(pp);
		return ret;
	}
	port->priv = pp;
	return 0;
}

static int pcap_port_fd(struct port *port)
{
	struct pcap_port *pp = port->priv;

	return pp->live ? pcap_get_selectable_fd(pp->pcap) : -1;
}

static void pcap_rx_one(u_char *user, const struct pcap_pkthdr *h, const u_char *bytes)
{
	struct pcap_rx_ctx *rx = (struct pcap_rx_ctx *)(void *)user;
	struct port_frame fr = {
		.data = bytes,
		.caplen = h->caplen,
		.wirelen = h->len,
		.ts_us = (uint64_t)h->ts.tv_sec * 1000000u + (uint64_t)h->ts.tv_usec,
	};
	uint8_t *copy = NULL;

	rx->port->st.rx_frames++;
	rx->port->st.rx_bytes += h->len;
	/*
	 * libpcap hands out frames inside one reused buffer, so a read past
	 * caplen lands on the next frame and no sanitizer sees it. Sanitizer
	 * builds give every frame an allocation of exactly its size.
	 */
	if (TG_SAN) {
		copy = malloc(h->caplen ? h->caplen : 1);
		if (!copy)
			return;
		memcpy(copy, bytes, h->caplen);
		fr.data = copy;
	}
	rx->fn(rx->port, &fr, rx->ctx);
	free(copy);
}

static int pcap_port_rx_burst(struct port *port, port_rx_fn fn, void *ctx, int max)
{
	struct pcap_port *pp = port->priv;
	struct pcap_rx_ctx rx = { .port = port, .fn = fn, .ctx = ctx };
	int n;

	n = pcap_dispatch(pp->pcap, max, pcap_rx_one, (u_char *)&rx);
	if (n == PCAP_ERROR) {
		log_err("%s: capture failed: %s", port->name, pcap_geterr(pp->pcap));
		return -EIO;
	}
	if (n == PCAP_ERROR_BREAK)
		return 0;
	if (n == 0 && !pp->live)
		return -ENODATA;
	return n;
}

/* Send the queue; returns how many frames failed (each counted and logged). */
static int pcap_port_tx_flush(struct port *port)
{
	struct pcap_port *pp = port->priv;
	struct pcap_tx *tx = pp->tx;
	int fd, failed = 0;
	uint32_t i = 0;

	if (!tx || !tx->n)
		return 0;
	fd = pcap_fileno(pp->pcap);
	while (i < tx->n) {
		int r = sendmmsg(fd, &tx->msg[i], tx->n - i, 0);

		if (r > 0) {
			i += (uint32_t)r;
			port->st.tx_frames += (uint64_t)r;
			pp->tx_batches++;
			pp->tx_batched += (uint64_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		/* The frame at i cannot leave (too big, link down, ...): count it, send the rest. */
		port->st.tx_errors++;
		failed++;
		log_debug_rl("%s: send of a %zu-byte frame failed: %s", port->name,
			     tx->iov[i].iov_len, r < 0 ? strerror(errno) : "nothing sent");
		i++;
	}
	tx->n = 0;
	tx->used = 0;
	return failed;
}

static int pcap_port_tx_queue(struct port *port, const uint8_t *data, uint32_t len)
{
	struct pcap_port *pp = port->priv;
	struct pcap_tx *tx = pp->tx;
	int failed = 0;

	if (!pp->live)
		return -EOPNOTSUPP;
	if (len > PCAP_TX_ARENA) {
		/* Larger than the whole arena: only a send of its own can take it. */
		failed = pcap_port_tx_flush(port);
		if (pcap_inject(pp->pcap, data, len) < 0) {
			port->st.tx_errors++;
			log_debug_rl("%s: send failed: %s", port->name, pcap_geterr(pp->pcap));
			return -EIO;
		}
		port->st.tx_frames++;
		return failed;
	}
	if (!tx) {
		tx = calloc(1, sizeof(*tx));
		if (!tx) {
			port->st.tx_errors++;
			return -ENOMEM;
		}
		pp->tx = tx;
	}
	if (tx->n == PCAP_TX_BATCH || len > PCAP_TX_ARENA - tx->used)
		failed = pcap_port_tx_flush(port);
	memcpy(tx->arena + tx->used, data, len);
	tx->iov[tx->n] = (struct iovec){ .iov_base = tx->arena + tx->used, .iov_len = len };
	tx->msg[tx->n] = (struct mmsghdr){
		.msg_hdr = { .msg_iov = &tx->iov[tx->n], .msg_iovlen = 1 },
	};
	tx->n++;
	/* Keep every frame's start aligned for the copy of the next one. */
	tx->used += (len + 63u) & ~63u;
	if (tx->used > PCAP_TX_ARENA)
		tx->used = PCAP_TX_ARENA;
	return failed;
}

static int pcap_port_tx(struct port *port, const uint8_t *data, uint32_t len)
{
	struct pcap_port *pp = port->priv;

	if (!pp->live)
		return -EOPNOTSUPP;
	/* What was queued before this frame leaves before it. */
	pcap_port_tx_flush(port);
	if (pcap_inject(pp->pcap, data, len) < 0) {
		port->st.tx_errors++;
		log_debug_rl("%s: send failed: %s", port->name, pcap_geterr(pp->pcap));
		return -EIO;
	}
	port->st.tx_frames++;
	return 0;
}

static int pcap_port_stats(struct port *port, struct port_stats *st)
{
	struct pcap_port *pp = port->priv;
	struct pcap_stat ps;

	*st = port->st;
	if (pp->live && pcap_stats(pp->pcap, &ps) == 0) {
		st->kernel_drops = ps.ps_drop;
		st->iface_drops = ps.ps_ifdrop;
	}
	return 0;
}

static void pcap_port_close(struct port *port)
{
	struct pcap_port *pp = port->priv;

	if (!pp)
		return;
	pcap_port_tx_flush(port);
	if (pp->tx_batches)
		log_info("%s: sent %llu queued frames in %llu system calls", port->name,
			 (unsigned long long)pp->tx_batched, (unsigned long long)pp->tx_batches);
	pcap_close(pp->pcap);
	free(pp->tx);
	free(pp);
	port->priv = NULL;
}

static const struct port_ops pcap_live_ops = {
	.name = "pcap",
	.open = pcap_live_open,
	.fd = pcap_port_fd,
	.rx_burst = pcap_port_rx_burst,
	.tx = pcap_port_tx,
	.tx_queue = pcap_port_tx_queue,
	.tx_flush = pcap_port_tx_flush,
	.stats = pcap_port_stats,
	.close = pcap_port_close,
};
PORT_DRIVER_REGISTER(pcap_live_ops);

static const struct port_ops pcap_file_ops = {
	.name = "pcap-file",
	.open = pcap_file_open,
	.fd = pcap_port_fd,
	.rx_burst = pcap_port_rx_burst,
	.tx = pcap_port_tx,
	.stats = pcap_port_stats,
	.close = pcap_port_close,
};
PORT_DRIVER_REGISTER(pcap_file_ops);
