/*
 * The management network interface on lwIP (see mgmt.h for the contract).
 *
 * One lwIP netif ("tg") whose link layer is the firmware's port driver:
 * frames arrive through mgmt_input() and leave through the tx callback;
 * lwIP's etharp answers and asks ARP, DHCP (or a static address) gives the
 * interface its identity, DNS and SNTP run on top. Nothing here blocks.
 *
 * lwIP calls back from deep inside its input and timer code. Those
 * callbacks only record what happened (address changed, time set, a lookup
 * answered); mgmt_deliver() hands the records to the firmware at the end of
 * mgmt_input() and mgmt_poll(), outside lwIP, so the firmware's callbacks
 * may call back into lwIP freely.
 *
 * The time is never set on the system: SNTP's answer becomes an offset to
 * CLOCK_MONOTONIC, so nothing else on the box sees the clock jump and
 * lwIP's timers (sys_now(), also monotonic) are unaffected. Until the
 * first answer the clock SNTP sees runs from a random point, so the
 * transmit timestamp that a genuine answer must echo cannot be guessed from
 * the uptime.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lwip/apps/sntp.h"
#include "lwip/dhcp.h"
#include "lwip/dns.h"
#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#define LOG_MODULE "mgmt"
#include "core/common.h"
#include "core/log.h"
#include "mgmt.h"
#include "mgmt_ping.h"

#define MGMT_MTU 1500
/* Largest frame handed in: MTU, Ethernet header and one 802.1Q tag (lwIP drops tagged ones). */
#define MGMT_RX_FRAME_MAX (MGMT_MTU + SIZEOF_ETH_HDR + 4)
#define MGMT_TX_FRAME_MAX (MGMT_MTU + SIZEOF_ETH_HDR)
/*
 * mgmt_next_timeout_ms() never asks for more than this: lwIP's timer list
 * is exact, the cap only bounds the damage of a timer armed from outside
 * the loop's knowledge (a callback from the uplink).
 */
#define MGMT_POLL_MAX_MS 1000

_Static_assert(SNTP_MAX_SERVERS == ARRAY_SIZE(((struct mgmt_config *)0)->ntp),
	       "SNTP_MAX_SERVERS must match mgmt_config.ntp");
_Static_assert(DNS_MAX_SERVERS == ARRAY_SIZE(((struct mgmt_config *)0)->dns),
	       "DNS_MAX_SERVERS must match mgmt_config.dns");

enum mgmt_query_state {
	MGMT_QUERY_FREE = 0,
	MGMT_QUERY_LWIP,   /* lwIP's resolver holds it */
	MGMT_QUERY_READY,  /* answered, waiting for mgmt_deliver() */
};

/*
 * A lookup in progress. The slots are static, not in struct mgmt: lwIP
 * outlives an instance (it is never torn down), and a lookup it still
 * holds when mgmt_close() runs comes back later to an orphaned slot, which
 * is then simply freed.
 */
struct mgmt_query {
	enum mgmt_query_state state;
	bool orphan;
	bool ok;
	mgmt_resolve_fn done;
	void *ctx;
	char name[DNS_MAX_NAME_LENGTH];
	char addr[IP4ADDR_STRLEN_MAX];
};

struct mgmt {
	struct netif netif;
	struct mgmt_config cfg;          /* copy; cfg.hostname unused (see hostname) */
	char hostname[MGMT_HOSTNAME_MAX + 1];
	ip_addr_t dns[DNS_MAX_SERVERS];
	bool dns_configured;
	bool ntp_configured;

	mgmt_tx_fn tx;
	void *tx_ctx;
	struct mgmt_events ev;
	struct mgmt_stats st;

	/* Events recorded by lwIP's callbacks, delivered by mgmt_deliver(). */
	bool addr_dirty;
	char addr_reported[IP4ADDR_STRLEN_MAX]; /* "" = none reported */
	bool time_pending;
	uint32_t time_set_s;

	bool sntp_running;
	bool time_valid;
	int64_t clock_offset_us;         /* unix time - CLOCK_MONOTONIC */

	uint8_t txbuf[MGMT_TX_FRAME_MAX]; /* flattens a chained pbuf for tx */
};

/* lwIP has global state: one instance, one set of lookups, one init. */
static struct mgmt *mgmt_self;
static struct mgmt_query mgmt_queries[DNS_TABLE_SIZE];
static netif_ext_callback_t mgmt_ext_cb;
static bool mgmt_lwip_initialised;

static int64_t mgmt_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ---------------------------------------------------------------- SNTP's clock */

void mgmt_lwip_sntp_set(uint32_t sec, uint32_t us)
{
	struct mgmt *m = mgmt_self;
	int64_t now_us = (int64_t)sec * 1000000 + us;
	int64_t step_ms;
	char iso[32];
	struct tm tm;
	time_t t = (time_t)sec;

	if (!m)
		return;
	step_ms = (now_us - (mgmt_mono_us() + m->clock_offset_us)) / 1000;
	m->clock_offset_us = now_us - mgmt_mono_us();
	if (!gmtime_r(&t, &tm) || !strftime(iso, sizeof(iso), "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(iso, sizeof(iso), "?");
	if (!m->time_valid)
		log_info("time from SNTP: %s UTC (%" PRIu32 ")", iso, sec);
	else if (step_ms > 1000 || step_ms < -1000)
		log_warn("SNTP stepped the time by %" PRId64 " ms to %s UTC", step_ms, iso);
	else
		log_debug("SNTP: %s UTC, off by %" PRId64 " ms", iso, step_ms);
	m->time_valid = true;
	m->time_pending = true;
	m->time_set_s = sec;
}

void mgmt_lwip_sntp_get(uint32_t *sec, uint32_t *us)
{
	const struct mgmt *m = mgmt_self;
	int64_t t = mgmt_mono_us() + (m ? m->clock_offset_us : 0);

	*sec = (uint32_t)(t / 1000000);
	*us = (uint32_t)(t % 1000000);
}

/* ---------------------------------------------------------------- link layer */

static err_t mgmt_linkoutput(struct netif *netif, struct pbuf *p)
{
	struct mgmt *m = netif->state;
	const uint8_t *frame = p->payload;

	if (p->tot_len > sizeof(m->txbuf)) {
		m->st.tx_errors++;
		log_debug_rl("dropping a %u-byte frame (MTU %d)", p->tot_len, MGMT_MTU);
		return ERR_BUF;
	}
	if (p->next) {
		pbuf_copy_partial(p, m->txbuf, p->tot_len, 0);
		frame = m->txbuf;
	}
	if (m->tx(frame, p->tot_len, m->tx_ctx) < 0) {
		m->st.tx_errors++;
		return ERR_IF;
	}
	m->st.tx_frames++;
	return ERR_OK;
}

static err_t mgmt_netif_init(struct netif *netif)
{
	struct mgmt *m = netif->state;

	netif->name[0] = 't';
	netif->name[1] = 'g';
	netif->output = etharp_output;
	netif->linkoutput = mgmt_linkoutput;
	netif->mtu = MGMT_MTU;
	netif->hwaddr_len = ETH_HWADDR_LEN;
	memcpy(netif->hwaddr, m->cfg.mac, ETH_HWADDR_LEN);
	netif->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
	netif_set_hostname(netif, m->hostname[0] ? m->hostname : NULL);
	return ERR_OK;
}

/* ---------------------------------------------------------------- events */

static void mgmt_netif_event(struct netif *netif, netif_nsc_reason_t reason,
			     const netif_ext_callback_args_t *args)
{
	struct mgmt *m = mgmt_self;

	(void)reason;
	(void)args;
	if (m && netif == &m->netif)
		m->addr_dirty = true;
}

/* Configured DNS servers replace whatever a lease named. */
static void mgmt_apply_dns(const struct mgmt *m)
{
	if (!m->dns_configured)
		return;
	for (u8_t i = 0; i < DNS_MAX_SERVERS; i++)
		dns_setserver(i, ip_addr_isany_val(m->dns[i]) ? NULL : &m->dns[i]);
}

static bool mgmt_have_ntp_server(void)
{
	for (u8_t i = 0; i < SNTP_MAX_SERVERS; i++)
		if (sntp_getservername(i) || !ip_addr_isany(sntp_getserver(i)))
			return true;
	return false;
}

static void mgmt_got_address(struct mgmt *m)
{
	mgmt_apply_dns(m);
	if (m->sntp_running)
		return;
	/* SNTP starts with an address: a request sent before would only wait out a retry. */
	if (!mgmt_have_ntp_server()) {
		log_warn("no NTP server configured or named by the DHCP lease: the time stays "
			 "unknown and the uplink cannot start TLS");
		return;
	}
	sntp_init();
	m->sntp_running = true;
}

static void mgmt_report_address(struct mgmt *m)
{
	char addr[IP4ADDR_STRLEN_MAX] = "";
	char mask[IP4ADDR_STRLEN_MAX], gw[IP4ADDR_STRLEN_MAX];

	if (mgmt_is_up(m))
		ip4addr_ntoa_r(netif_ip4_addr(&m->netif), addr, sizeof(addr));
	if (strcmp(addr, m->addr_reported) == 0)
		return;
	snprintf(m->addr_reported, sizeof(m->addr_reported), "%s", addr);
	if (!addr[0]) {
		log_warn("address lost");
		if (m->ev.address)
			m->ev.address(NULL, m->ev.ctx);
		return;
	}
	ip4addr_ntoa_r(netif_ip4_netmask(&m->netif), mask, sizeof(mask));
	ip4addr_ntoa_r(netif_ip4_gw(&m->netif), gw, sizeof(gw));
	log_info("address %s netmask %s gateway %s (%s)", addr, mask, gw,
		 m->cfg.dhcp ? "DHCP" : "static");
	mgmt_got_address(m);
	if (m->ev.address)
		m->ev.address(addr, m->ev.ctx);
}

static bool mgmt_events_waiting(const struct mgmt *m)
{
	if (m->addr_dirty || m->time_pending || mgmt_ping_waiting())
		return true;
	for (size_t i = 0; i < ARRAY_SIZE(mgmt_queries); i++)
		if (mgmt_queries[i].state == MGMT_QUERY_READY)
			return true;
	return false;
}

static void mgmt_deliver(struct mgmt *m)
{
	if (m->addr_dirty) {
		m->addr_dirty = false;
		mgmt_report_address(m);
	}
	if (m->time_pending) {
		m->time_pending = false;
		if (m->ev.time_set)
			m->ev.time_set(m->time_set_s, m->ev.ctx);
	}
	mgmt_ping_deliver();
	for (size_t i = 0; i < ARRAY_SIZE(mgmt_queries); i++) {
		struct mgmt_query q;

		if (mgmt_queries[i].state != MGMT_QUERY_READY)
			continue;
		/* Free the slot first: done() may start the next lookup. */
		q = mgmt_queries[i];
		memset(&mgmt_queries[i], 0, sizeof(mgmt_queries[i]));
		q.done(q.name, q.ok ? q.addr : NULL, q.ctx);
	}
}

/* ---------------------------------------------------------------- resolver */

static void mgmt_dns_found(const char *name, const ip_addr_t *addr, void *arg)
{
	struct mgmt_query *q = arg;

	(void)name;
	if (q->orphan) {
		memset(q, 0, sizeof(*q));
		return;
	}
	q->ok = addr && IP_IS_V4(addr);
	if (q->ok)
		ip4addr_ntoa_r(ip_2_ip4(addr), q->addr, sizeof(q->addr));
	else
		log_info("resolve %s: no IPv4 address", q->name);
	q->state = MGMT_QUERY_READY;
}

int mgmt_resolve(struct mgmt *m, const char *name, mgmt_resolve_fn done, void *ctx)
{
	struct mgmt_query *q = NULL;
	ip_addr_t addr;
	err_t err;

	if (!name || !*name || strlen(name) >= DNS_MAX_NAME_LENGTH || !done) {
		log_err("resolve: bad name \"%s\"", name ? name : "(null)");
		return -EINVAL;
	}
	if (!mgmt_is_up(m))
		return -ENOTCONN;
	for (size_t i = 0; i < ARRAY_SIZE(mgmt_queries); i++) {
		if (mgmt_queries[i].state == MGMT_QUERY_FREE) {
			q = &mgmt_queries[i];
			break;
		}
	}
	if (!q) {
		log_warn("resolve %s: %zu lookups already outstanding (CONFIG_MGMT_DNS_TABLE_SIZE)",
			 name, ARRAY_SIZE(mgmt_queries));
		return -EBUSY;
	}
	q->state = MGMT_QUERY_LWIP;
	q->done = done;
	q->ctx = ctx;
	snprintf(q->name, sizeof(q->name), "%s", name);

	err = dns_gethostbyname(name, &addr, mgmt_dns_found, q);
	switch (err) {
	case ERR_OK: /* an address literal or cached: answered now, delivered later */
		mgmt_dns_found(name, &addr, q);
		return 0;
	case ERR_INPROGRESS:
		return 0;
	default:
		memset(q, 0, sizeof(*q));
		log_warn("resolve %s: lwIP refused the lookup (error %d)", name, err);
		return err == ERR_MEM ? -EBUSY : -EINVAL;
	}
}

/* ---------------------------------------------------------------- configuration */

/* A NUL-terminated dotted quad in a fixed array. Returns 0 or -EINVAL (logged). */
static int mgmt_parse_ip4(const char *what, const char *s, size_t size, ip4_addr_t *out)
{
	if (strnlen(s, size) == size) {
		log_err("%s is not terminated", what);
		return -EINVAL;
	}
	if (!ip4addr_aton(s, out)) {
		log_err("%s: not an IPv4 address: \"%s\"", what, s);
		return -EINVAL;
	}
	return 0;
}

static int mgmt_check_static(const struct mgmt_config *cfg, ip4_addr_t *ip, ip4_addr_t *mask,
			     ip4_addr_t *gw)
{
	u32_t host, hostmax;

	if (mgmt_parse_ip4("address", cfg->addr, sizeof(cfg->addr), ip) < 0 ||
	    mgmt_parse_ip4("netmask", cfg->netmask, sizeof(cfg->netmask), mask) < 0)
		return -EINVAL;
	if (!ip4_addr_netmask_valid(mask->addr) || ip4_addr_isany_val(*mask)) {
		log_err("netmask %s is not a valid netmask", cfg->netmask);
		return -EINVAL;
	}
	/* Host part all zeros or all ones is the network or its broadcast (except /31, /32). */
	hostmax = ~lwip_ntohl(mask->addr);
	host = lwip_ntohl(ip->addr) & hostmax;
	if (ip4_addr_isany_val(*ip) || ip4_addr_ismulticast(ip) || ip->addr == IPADDR_BROADCAST ||
	    (hostmax > 1 && (host == 0 || host == hostmax))) {
		log_err("address %s/%s cannot be a host's address", cfg->addr, cfg->netmask);
		return -EINVAL;
	}
	ip4_addr_set_zero(gw);
	if (cfg->gateway[0]) {
		if (mgmt_parse_ip4("gateway", cfg->gateway, sizeof(cfg->gateway), gw) < 0)
			return -EINVAL;
		if (!ip4_addr_netcmp(gw, ip, mask)) {
			log_err("gateway %s is not in %s/%s", cfg->gateway, cfg->addr, cfg->netmask);
			return -EINVAL;
		}
	}
	return 0;
}

static int mgmt_check_hostname(const char *name)
{
	size_t n = strlen(name);

	if (n == 0 || n > MGMT_HOSTNAME_MAX || name[0] == '-') {
		log_err("host name \"%s\": 1 to %d letters, digits and '-', not starting with '-'",
			name, MGMT_HOSTNAME_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < n; i++) {
		char c = name[i];

		if (!(c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
		      (c >= 'A' && c <= 'Z'))) {
			log_err("host name \"%s\": character '%c' is not allowed", name, c);
			return -EINVAL;
		}
	}
	return 0;
}

/* Check cfg and fill m's derived fields. Returns 0 or -EINVAL (each reason logged). */
static int mgmt_configure(struct mgmt *m, const struct mgmt_config *cfg, ip4_addr_t *ip,
			  ip4_addr_t *mask, ip4_addr_t *gw)
{
	static const uint8_t zero_mac[6];

	if ((cfg->mac[0] & 1) || memcmp(cfg->mac, zero_mac, sizeof(zero_mac)) == 0) {
		log_err("MAC %02x:%02x:%02x:%02x:%02x:%02x is not a unicast address", cfg->mac[0],
			cfg->mac[1], cfg->mac[2], cfg->mac[3], cfg->mac[4], cfg->mac[5]);
		return -EINVAL;
	}
	ip4_addr_set_zero(ip);
	ip4_addr_set_zero(mask);
	ip4_addr_set_zero(gw);
	if (!cfg->dhcp && mgmt_check_static(cfg, ip, mask, gw) < 0)
		return -EINVAL;
	if (cfg->hostname) {
		if (mgmt_check_hostname(cfg->hostname) < 0)
			return -EINVAL;
		snprintf(m->hostname, sizeof(m->hostname), "%s", cfg->hostname);
	}
	for (size_t i = 0; i < ARRAY_SIZE(cfg->dns); i++) {
		ip4_addr_t a;

		ip_addr_set_zero_ip4(&m->dns[i]);
		if (strnlen(cfg->dns[i], sizeof(cfg->dns[i])) == sizeof(cfg->dns[i])) {
			log_err("DNS server %zu is not terminated", i + 1);
			return -EINVAL;
		}
		if (!cfg->dns[i][0])
			continue;
		if (strchr(cfg->dns[i], ':')) {
			/* Not an error: the same configuration will serve an IPv6 stack. */
			log_warn("DNS server %s skipped: management is IPv4 only", cfg->dns[i]);
			continue;
		}
		if (mgmt_parse_ip4("DNS server", cfg->dns[i], sizeof(cfg->dns[i]), &a) < 0)
			return -EINVAL;
		ip_addr_copy_from_ip4(m->dns[i], a);
		m->dns_configured = true;
	}
	for (size_t i = 0; i < ARRAY_SIZE(cfg->ntp); i++) {
		size_t n = strnlen(cfg->ntp[i], sizeof(cfg->ntp[i]));

		if (n == sizeof(cfg->ntp[i])) {
			log_err("NTP server %zu is not terminated", i + 1);
			return -EINVAL;
		}
		if (n)
			m->ntp_configured = true;
	}
	m->cfg = *cfg;
	m->cfg.hostname = NULL;
	return 0;
}

static void mgmt_sntp_setup(struct mgmt *m)
{
	sntp_setoperatingmode(SNTP_OPMODE_POLL);
	for (u8_t i = 0; i < SNTP_MAX_SERVERS; i++) {
		sntp_setserver(i, NULL);
		/* lwIP keeps the pointer: the names live in m->cfg until mgmt_close(). */
		if (m->cfg.ntp[i][0])
			sntp_setservername(i, m->cfg.ntp[i]);
	}
	sntp_servermode_dhcp(m->cfg.dhcp && !m->ntp_configured);
}

static void mgmt_sntp_teardown(struct mgmt *m)
{
	if (m->sntp_running)
		sntp_stop();
	m->sntp_running = false;
	sntp_servermode_dhcp(0);
	for (u8_t i = 0; i < SNTP_MAX_SERVERS; i++)
		sntp_setserver(i, NULL);
}

/* ---------------------------------------------------------------- API */

int mgmt_open(struct mgmt **out, const struct mgmt_config *cfg, mgmt_tx_fn tx, void *tx_ctx,
	      const struct mgmt_events *ev)
{
	ip4_addr_t ip, mask, gw;
	struct mgmt *m;
	err_t err;
	int ret;

	if (mgmt_self) {
		log_err("the management interface is already open (lwIP allows one)");
		return -EBUSY;
	}
	if (!tx) {
		log_err("no transmit function");
		return -EINVAL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	ret = mgmt_configure(m, cfg, &ip, &mask, &gw);
	if (ret < 0)
		goto err_free;
	m->tx = tx;
	m->tx_ctx = tx_ctx;
	if (ev)
		m->ev = *ev;
	/* Before the first SNTP answer: a clock nobody can predict (see the top). */
	m->clock_offset_us = (int64_t)mgmt_lwip_rand32();

	if (!mgmt_lwip_initialised) {
		lwip_init();
		mgmt_lwip_initialised = true;
	}
	mgmt_self = m;
	netif_add_ext_callback(&mgmt_ext_cb, mgmt_netif_event);
	if (!netif_add(&m->netif, &ip, &mask, &gw, m, mgmt_netif_init, ethernet_input)) {
		log_err("lwIP refused the interface");
		ret = -ENOMEM;
		goto err_callback;
	}
	netif_set_default(&m->netif);
	for (u8_t i = 0; i < DNS_MAX_SERVERS; i++)
		dns_setserver(i, NULL);
	mgmt_apply_dns(m);
	mgmt_sntp_setup(m);
	netif_set_up(&m->netif);
	netif_set_link_up(&m->netif);
	if (m->cfg.dhcp) {
		err = dhcp_start(&m->netif);
		if (err != ERR_OK) {
			log_err("cannot start DHCP (lwIP error %d)", err);
			ret = -ENOMEM;
			goto err_netif;
		}
	}
	/* A static address is reported by the first mgmt_poll(), like any other event. */
	m->addr_dirty = true;
	log_info("up: MAC %02x:%02x:%02x:%02x:%02x:%02x, %s%s%s, lwIP heap %d KiB", m->cfg.mac[0],
		 m->cfg.mac[1], m->cfg.mac[2], m->cfg.mac[3], m->cfg.mac[4], m->cfg.mac[5],
		 m->cfg.dhcp ? "DHCP" : "static ", m->cfg.dhcp ? "" : m->cfg.addr,
		 m->hostname[0] ? ", host name set" : "", (int)(MEM_SIZE / 1024)); /* with the MQTT client */
	*out = m;
	return 0;

err_netif:
	mgmt_sntp_teardown(m);
	netif_remove(&m->netif);
err_callback:
	netif_remove_ext_callback(&mgmt_ext_cb);
	mgmt_self = NULL;
err_free:
	free(m);
	return ret;
}

void mgmt_input(struct mgmt *m, const uint8_t *frame, uint32_t len)
{
	struct pbuf *p;

	if (len < SIZEOF_ETH_HDR || len > MGMT_RX_FRAME_MAX) {
		m->st.rx_dropped++;
		return;
	}
	/* Unicast for someone else: the caller should not have passed it. */
	if (!(frame[0] & 1) && memcmp(frame, m->cfg.mac, ETH_HWADDR_LEN) != 0) {
		m->st.rx_dropped++;
		return;
	}
	p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
	if (!p) {
		m->st.rx_dropped++;
		log_debug_rl("no receive buffer free (pool of %d)", PBUF_POOL_SIZE);
		return;
	}
	pbuf_take(p, frame, (u16_t)len);
	m->st.rx_frames++;
	if (m->netif.input(p, &m->netif) != ERR_OK)
		pbuf_free(p);
	mgmt_deliver(m);
}

void mgmt_poll(struct mgmt *m)
{
	sys_check_timeouts();
	mgmt_deliver(m);
}

uint32_t mgmt_next_timeout_ms(struct mgmt *m)
{
	u32_t ms;

	if (mgmt_events_waiting(m))
		return 0;
	ms = sys_timeouts_sleeptime();
	return ms < MGMT_POLL_MAX_MS ? ms : MGMT_POLL_MAX_MS;
}

bool mgmt_is_up(const struct mgmt *m)
{
	return netif_is_up(&m->netif) && netif_is_link_up(&m->netif) &&
	       !ip4_addr_isany_val(*netif_ip4_addr(&m->netif));
}

int mgmt_address(const struct mgmt *m, char *buf, size_t len)
{
	if (!mgmt_is_up(m))
		return -ENOTCONN;
	if (len > INT32_MAX || !ip4addr_ntoa_r(netif_ip4_addr(&m->netif), buf, (int)len))
		return -ENOSPC;
	return 0;
}

bool mgmt_time_valid(const struct mgmt *m)
{
	return m->time_valid;
}

int mgmt_time_ms(const struct mgmt *m, uint64_t *unix_ms)
{
	if (!m->time_valid)
		return -EAGAIN;
	*unix_ms = (uint64_t)((mgmt_mono_us() + m->clock_offset_us) / 1000);
	return 0;
}

void mgmt_get_stats(const struct mgmt *m, struct mgmt_stats *st)
{
	*st = m->st;
}

void mgmt_close(struct mgmt *m)
{
	if (!m)
		return;
	mgmt_sntp_teardown(m);
	mgmt_ping_close();
	if (m->cfg.dhcp) {
		/* Hands the lease back (one DHCPRELEASE through tx) and frees DHCP's state. */
		dhcp_release_and_stop(&m->netif);
		dhcp_cleanup(&m->netif);
	}
	netif_set_link_down(&m->netif);
	netif_set_down(&m->netif);
	netif_remove(&m->netif);
	netif_remove_ext_callback(&mgmt_ext_cb);
	for (u8_t i = 0; i < DNS_MAX_SERVERS; i++)
		dns_setserver(i, NULL);
	for (size_t i = 0; i < ARRAY_SIZE(mgmt_queries); i++) {
		if (mgmt_queries[i].state == MGMT_QUERY_LWIP)
			mgmt_queries[i].orphan = true;
		else
			memset(&mgmt_queries[i], 0, sizeof(mgmt_queries[i]));
	}
	mgmt_self = NULL;
	free(m);
	log_info("down");
}
