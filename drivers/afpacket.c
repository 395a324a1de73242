/*
 * AF_PACKET port driver "afpacket": a live Ethernet port whose receive side
 * may hand out coalesced TCP frames (the kernel's GRO) and whose send side
 * has them cut again by the kernel (GSO), for the userspace bridge.
 *
 * Why not libpcap: with every offload off, each 1514-byte segment costs the
 * bridge one trip through a packet socket in each direction plus the
 * firmware's per-frame work, and that is most of what bridge mode spends
 * beyond the kernel bridge (docs/benchmarks.md, issue 10 item 6). With GRO
 * on the port, a burst of segments of one TCP flow arrives as one frame of
 * up to 64 KiB; PACKET_VNET_HDR tells us the segment size, and handing the
 * same header back on send makes the kernel segment the frame again on the
 * way out (in software: the ports keep TSO/GSO off, so every frame on the
 * wire is still at most one MTU, with a full checksum). libpcap cannot set
 * PACKET_VNET_HDR on its socket, hence a socket of our own.
 *
 * Receive: recvmmsg() of up to AFP_RX_BATCH frames into buffers of
 * AFP_FRAME_MAX bytes (touched only as far as frames fill them, so the
 * resident cost follows the traffic), each behind its virtio_net_hdr. A
 * frame with a partial checksum and no segmentation (a local sender's
 * offload) gets its checksum completed here, so the firmware always sees
 * a whole frame. Send: as the pcap driver, a queue copied into an arena and
 * one sendmmsg() per flush, each frame behind the header its seg_size asks
 * for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <linux/ethtool.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <linux/sockios.h>
#include <linux/virtio_net.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/uio.h>

#define LOG_MODULE "afpacket"
#include "core/common.h"
#include "core/csum.h"
#include "core/log.h"
#include "core/port.h"

/*
 * 64 KiB is the largest frame GRO builds on a port without BIG TCP (the
 * kernel's default gro_max_size); a larger one arrives truncated (caplen <
 * wirelen) and the firmware refuses it. 32 receive buffers are 2 MiB of
 * address space, resident only where frames were written.
 */
#define AFP_FRAME_MAX 65536u
#define AFP_RX_BATCH 32
/* The send queue: 64 frames or 256 KiB (four coalesced frames), whichever fills first. */
#define AFP_TX_BATCH 64
#define AFP_TX_ARENA (256u * 1024u)

struct afp_rx {
	struct mmsghdr msg[AFP_RX_BATCH];
	struct iovec iov[AFP_RX_BATCH][2];
	struct virtio_net_hdr vh[AFP_RX_BATCH];
	uint8_t *buf; /* AFP_RX_BATCH * AFP_FRAME_MAX */
};

struct afp_tx {
	struct mmsghdr msg[AFP_TX_BATCH];
	struct iovec iov[AFP_TX_BATCH][2];
	struct virtio_net_hdr vh[AFP_TX_BATCH];
	uint32_t n;
	uint32_t used;
	uint8_t arena[AFP_TX_ARENA];
};

struct afp_port {
	int fd;
	struct afp_rx rx;
	struct afp_tx *tx; /* allocated at the first queued frame */
	uint64_t kernel_drops;
	uint64_t coalesced, segments;   /* frames received coalesced, the segments in them */
	uint64_t refused;               /* received frames the driver could not hand on */
	uint64_t tx_batches, tx_batched;
};

static uint16_t afp_get16(const uint8_t *p) { return (uint16_t)(p[0] << 8 | p[1]); }
static void afp_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* Set or clear one ethtool feature (the legacy per-feature commands). */
static int afp_ethtool(const char *name, uint32_t cmd, uint32_t on)
{
	struct ethtool_value ev = { .cmd = cmd, .data = on };
	struct ifreq ifr;
	int fd, ret = 0;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

static int afp_setopt(int fd, int level, int opt, int val)
{
	return setsockopt(fd, level, opt, &val, sizeof(val)) < 0 ? -errno : 0;
}

static int afp_open(struct port *port, const struct port_config *cfg)
{
	struct afp_port *ap;
	struct sockaddr_ll sll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct ifreq ifr;
	int rcvbuf = (int)(cfg->buffer_kb ? cfg->buffer_kb : CONFIG_PCAP_BUFFER_KB) * 1024;
	int ret;

	if (cfg->filter && *cfg->filter) {
		log_err("%s: capture filter \"%s\" refused: this driver forwards every frame "
			"(the pcap driver filters)", cfg->name, cfg->filter);
		return -EINVAL;
	}
	if (strlen(cfg->name) >= IFNAMSIZ) {
		log_err("%s: interface name longer than %d characters", cfg->name, IFNAMSIZ - 1);
		return -EINVAL;
	}
	ap = calloc(1, sizeof(*ap));
	if (!ap)
		return -ENOMEM;
	ap->rx.buf = malloc((size_t)AFP_RX_BATCH * AFP_FRAME_MAX);
	if (!ap->rx.buf) {
		ret = -ENOMEM;
		goto err_free;
	}
	/* Protocol 0: nothing is queued before bind() names the interface. */
	ap->fd = socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (ap->fd < 0) {
		ret = -errno;
		log_err("%s: cannot open a packet socket: %s", cfg->name, strerror(errno));
		goto err_free;
	}
	memset(&ifr, 0, sizeof(ifr));
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", cfg->name);
	if (ioctl(ap->fd, SIOCGIFINDEX, &ifr) < 0) {
		ret = errno == EPERM ? -EPERM : -ENODEV;
		log_err("%s: cannot open interface: %s", cfg->name, strerror(errno));
		goto err_close;
	}
	sll.sll_ifindex = ifr.ifr_ifindex;
	if (ioctl(ap->fd, SIOCGIFHWADDR, &ifr) < 0 || ifr.ifr_hwaddr.sa_family != ARPHRD_ETHER) {
		log_err("%s: not an Ethernet interface (hardware type %d; this driver takes Ethernet only)",
			cfg->name, (int)ifr.ifr_hwaddr.sa_family);
		ret = -EPROTONOSUPPORT;
		goto err_close;
	}
	port->link = LINK_ETHERNET;
	ret = afp_setopt(ap->fd, SOL_PACKET, PACKET_VNET_HDR, 1);
	if (ret == 0 && cfg->inbound_only)
		ret = afp_setopt(ap->fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);
	if (ret < 0) {
		log_err("%s: cannot set up the packet socket (virtio header, inbound only): %s",
			cfg->name, strerror(-ret));
		goto err_close;
	}
	/* The buffer behind the socket; root may pass the system's limit. */
	if (afp_setopt(ap->fd, SOL_SOCKET, SO_RCVBUFFORCE, rcvbuf) < 0)
		afp_setopt(ap->fd, SOL_SOCKET, SO_RCVBUF, rcvbuf);
	if (bind(ap->fd, (struct sockaddr *)&sll, sizeof(sll)) < 0) {
		ret = -errno;
		log_err("%s: cannot bind the packet socket: %s", cfg->name, strerror(errno));
		goto err_close;
	}
	if (cfg->promiscuous) {
		struct packet_mreq mr = { .mr_ifindex = sll.sll_ifindex, .mr_type = PACKET_MR_PROMISC };

		if (setsockopt(ap->fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mr, sizeof(mr)) < 0) {
			ret = -errno;
			log_err("%s: cannot enter promiscuous mode: %s", cfg->name, strerror(errno));
			goto err_close;
		}
	}
	/* Coalesced frames on receive: only now that we can cut them again on send. */
	if (cfg->coalesce && (ret = afp_ethtool(cfg->name, ETHTOOL_SGRO, 1)) < 0)
		log_warn("%s: cannot turn GRO on (%s): frames arrive one by one", cfg->name,
			 strerror(-ret));
	for (int i = 0; i < AFP_RX_BATCH; i++) {
		ap->rx.iov[i][0] = (struct iovec){ &ap->rx.vh[i], sizeof(ap->rx.vh[i]) };
		ap->rx.iov[i][1] = (struct iovec){ ap->rx.buf + (size_t)i * AFP_FRAME_MAX, AFP_FRAME_MAX };
	}
	port->priv = ap;
	log_info("%s: capturing (AF_PACKET, buffer %d KiB%s%s%s)", cfg->name, rcvbuf / 1024,
		 cfg->promiscuous ? ", promiscuous" : "", cfg->inbound_only ? ", inbound" : "",
		 cfg->coalesce ? ", coalesced TCP" : "");
	return 0;

err_close:
	close(ap->fd);
err_free:
	free(ap->rx.buf);
	free(ap);
	return ret;
}

static int afp_fd(struct port *port)
{
	return ((struct afp_port *)port->priv)->fd;
}

/* Complete a partial checksum (a local sender's offload): the frame leaves whole. */
static bool afp_csum_complete(uint8_t *d, uint32_t len, const struct virtio_net_hdr *vh)
{
	uint32_t start = vh->csum_start, at = start + vh->csum_offset;

	if (start >= len || at + 2 > len)
		return false;
	afp_put16(d + at, csum_fold(csum_add(0, d + start, len - start)));
	return true;
}

/* Hand frame i of the batch on; false when it had to be refused. */
static bool afp_deliver(struct port *port, struct afp_port *ap, int i, port_rx_fn fn, void *ctx)
{
	const struct virtio_net_hdr *vh = &ap->rx.vh[i];
	uint32_t got = ap->rx.msg[i].msg_len;
	uint8_t *data = ap->rx.iov[i][1].iov_base, *copy = NULL;
	struct port_frame fr = { .data = data, .ts_us = 0 };
	uint8_t gso = vh->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (got < sizeof(*vh))
		return false;
	fr.wirelen = got - (uint32_t)sizeof(*vh);
	fr.caplen = fr.wirelen < AFP_FRAME_MAX ? fr.wirelen : AFP_FRAME_MAX;
	if (gso == VIRTIO_NET_HDR_GSO_TCPV4 || gso == VIRTIO_NET_HDR_GSO_TCPV6) {
		fr.seg_size = vh->gso_size;
		ap->coalesced++;
		if (vh->gso_size)
			ap->segments += (fr.caplen + vh->gso_size - 1u) / vh->gso_size;
	} else if (gso != VIRTIO_NET_HDR_GSO_NONE) {
		log_debug_rl("%s: coalesced frame of %u bytes with GSO type %u refused (TCP only)",
			     port->name, fr.caplen, gso);
		return false;
	} else if ((vh->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) && fr.caplen == fr.wirelen &&
		   !afp_csum_complete(data, fr.caplen, vh)) {
		log_debug_rl("%s: %u-byte frame with its checksum at %u+%u refused", port->name,
			     fr.caplen, vh->csum_start, vh->csum_offset);
		return false;
	}
	port->st.rx_frames++;
	port->st.rx_bytes += fr.wirelen;
	/* As in the pcap driver: sanitizer builds give each frame an allocation of its size. */
	if (TG_SAN) {
		copy = malloc(fr.caplen ? fr.caplen : 1);
		if (!copy)
			return false;
		memcpy(copy, data, fr.caplen);
		fr.data = copy;
	}
	fn(port, &fr, ctx);
	free(copy);
	return true;
}

static int afp_rx_burst(struct port *port, port_rx_fn fn, void *ctx, int max)
{
	struct afp_port *ap = port->priv;
	int done = 0;

	while (done < max) {
		int want = max - done < AFP_RX_BATCH ? max - done : AFP_RX_BATCH;
		int n;

		for (int i = 0; i < want; i++)
			ap->rx.msg[i] = (struct mmsghdr){
				.msg_hdr = { .msg_iov = ap->rx.iov[i], .msg_iovlen = 2 },
			};
		n = recvmmsg(ap->fd, ap->rx.msg, (unsigned int)want, MSG_DONTWAIT | MSG_TRUNC, NULL);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			log_err("%s: receive failed: %s", port->name, strerror(errno));
			return -EIO;
		}
		for (int i = 0; i < n; i++)
			if (!afp_deliver(port, ap, i, fn, ctx))
				ap->refused++;
		done += n;
		if (n < want)
			break;
	}
	return done;
}

/*
 * The header a frame leaves with: none for a plain frame; for a coalesced
 * TCP frame, segmentation at seg_size and the checksum left to the kernel
 * (csum_start at the TCP header, the pseudo-header sum in its checksum
 * field, as the kernel's own CHECKSUM_PARTIAL frames have it).
 */
static int afp_gso_header(uint8_t *d, uint32_t len, uint16_t seg_size, struct virtio_net_hdr *vh)
{
	uint32_t l3 = 14, l4, thl;
	uint16_t type = afp_get16(d + 12);
	uint32_t sum;

	for (int tags = 0; (type == 0x8100 || type == 0x88a8) && tags < 2; tags++) {
		if (len < l3 + 4)
			return -EINVAL;
		type = afp_get16(d + l3 + 2);
		l3 += 4;
	}
	if (type == 0x0800 && len >= l3 + 20 && (d[l3] >> 4) == 4 && d[l3 + 9] == IPPROTO_TCP) {
		l4 = l3 + (d[l3] & 15u) * 4u;
		vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
		sum = csum_add(0, d + l3 + 12, 8);
	} else if (type == 0x86dd && len >= l3 + 40 && d[l3 + 6] == IPPROTO_TCP) {
		l4 = l3 + 40;
		vh->gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
		sum = csum_add(0, d + l3 + 8, 32);
	} else {
		return -EPROTONOSUPPORT;
	}
	if (len < l4 + 20)
		return -EINVAL;
	thl = (d[l4 + 12] >> 4) * 4u;
	if (thl < 20 || len < l4 + thl)
		return -EINVAL;
	if (d[l4 + 13] & 0x80) /* CWR: only the first segment keeps it */
		vh->gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	sum += IPPROTO_TCP + (len - l4);
	/* csum_fold() inverts: the field holds the folded sum itself. */
	afp_put16(d + l4 + 16, (uint16_t)~csum_fold(sum));
	vh->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	vh->hdr_len = (uint16_t)(l4 + thl);
	vh->gso_size = seg_size;
	vh->csum_start = (uint16_t)l4;
	vh->csum_offset = 16;
	return 0;
}

static int afp_tx_flush(struct port *port)
{
	struct afp_port *ap = port->priv;
	struct afp_tx *tx = ap->tx;
	int failed = 0;
	uint32_t i = 0;

	if (!tx || !tx->n)
		return 0;
	while (i < tx->n) {
		int r = sendmmsg(ap->fd, &tx->msg[i], tx->n - i, 0);

		if (r > 0) {
			i += (uint32_t)r;
			port->st.tx_frames += (uint64_t)r;
			ap->tx_batches++;
			ap->tx_batched += (uint64_t)r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		port->st.tx_errors++;
		failed++;
		log_debug_rl("%s: send of a %zu-byte frame (segments of %u) failed: %s", port->name,
			     tx->iov[i][1].iov_len, tx->vh[i].gso_size,
			     r < 0 ? strerror(errno) : "nothing sent");
		i++;
	}
	tx->n = 0;
	tx->used = 0;
	return failed;
}

static int afp_tx_queue_seg(struct port *port, const uint8_t *data, uint32_t len, uint16_t seg_size)
{
	struct afp_port *ap = port->priv;
	struct afp_tx *tx = ap->tx;
	uint8_t *copy;
	int failed = 0, ret;

	if (len < 14 || len > AFP_TX_ARENA) {
		port->st.tx_errors++;
		log_debug_rl("%s: %u-byte frame not sent (14 to %u bytes are)", port->name, len,
			     AFP_TX_ARENA);
		return -EMSGSIZE;
	}
	if (!tx) {
		tx = calloc(1, sizeof(*tx));
		if (!tx) {
			port->st.tx_errors++;
			return -ENOMEM;
		}
		ap->tx = tx;
	}
	if (tx->n == AFP_TX_BATCH || len > AFP_TX_ARENA - tx->used)
		failed = afp_tx_flush(port);
	copy = tx->arena + tx->used;
	memcpy(copy, data, len);
	tx->vh[tx->n] = (struct virtio_net_hdr){ 0 };
	if (seg_size && len > seg_size && (ret = afp_gso_header(copy, len, seg_size, &tx->vh[tx->n])) < 0) {
		port->st.tx_errors++;
		log_debug_rl("%s: coalesced %u-byte frame not sent: %s", port->name, len,
			     ret == -EINVAL ? "its headers are cut short" : "not TCP over IPv4 or IPv6");
		return ret;
	}
	tx->iov[tx->n][0] = (struct iovec){ &tx->vh[tx->n], sizeof(tx->vh[tx->n]) };
	tx->iov[tx->n][1] = (struct iovec){ copy, len };
	tx->msg[tx->n] = (struct mmsghdr){
		.msg_hdr = { .msg_iov = tx->iov[tx->n], .msg_iovlen = 2 },
	};
	tx->n++;
	tx->used += (len + 63u) & ~63u;
	if (tx->used > AFP_TX_ARENA)
		tx->used = AFP_TX_ARENA;
	return failed;
}

static int afp_tx_queue(struct port *port, const uint8_t *data, uint32_t len)
{
	return afp_tx_queue_seg(port, data, len, 0);
}

static int afp_tx(struct port *port, const uint8_t *data, uint32_t len)
{
	int r = afp_tx_queue_seg(port, data, len, 0);

	if (r < 0)
		return r;
	return afp_tx_flush(port) ? -EIO : 0;
}

static int afp_stats(struct port *port, struct port_stats *st)
{
	struct afp_port *ap = port->priv;
	struct tpacket_stats ts;
	socklen_t sl = sizeof(ts);

	/* The kernel's counters reset at each read: keep the running total. */
	if (getsockopt(ap->fd, SOL_PACKET, PACKET_STATISTICS, &ts, &sl) == 0)
		ap->kernel_drops += ts.tp_drops;
	*st = port->st;
	st->kernel_drops = ap->kernel_drops;
	return 0;
}

static void afp_close(struct port *port)
{
	struct afp_port *ap = port->priv;

	if (!ap)
		return;
	afp_tx_flush(port);
	log_info("%s: received %llu frames, %llu of them coalesced (%llu segments); %llu refused",
		 port->name, (unsigned long long)port->st.rx_frames, (unsigned long long)ap->coalesced,
		 (unsigned long long)ap->segments, (unsigned long long)ap->refused);
	if (ap->tx_batches)
		log_info("%s: sent %llu queued frames in %llu system calls", port->name,
			 (unsigned long long)ap->tx_batched, (unsigned long long)ap->tx_batches);
	close(ap->fd);
	free(ap->rx.buf);
	free(ap->tx);
	free(ap);
	port->priv = NULL;
}

static const struct port_ops afp_ops = {
	.name = "afpacket",
	.open = afp_open,
	.fd = afp_fd,
	.rx_burst = afp_rx_burst,
	.tx = afp_tx,
	.tx_queue = afp_tx_queue,
	.tx_queue_seg = afp_tx_queue_seg,
	.tx_flush = afp_tx_flush,
	.stats = afp_stats,
	.close = afp_close,
};
PORT_DRIVER_REGISTER(afp_ops);
