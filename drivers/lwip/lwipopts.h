/*
 * lwIP options for townguard's management stack (drivers/lwip/mgmt.c).
 *
 * lwIP is built from its released source (docs/building.md) and never
 * edited: this header, found by lwIP's own "lwipopts.h" include, is the one
 * place that configures it, in the style of U-Boot's lib/lwip/u-boot/
 * lwipopts.h. Sizes come from Kconfig (drivers/Kconfig, menu "Management
 * stack (lwIP)"); everything else is fixed here with the reason beside it.
 *
 * The stack runs without an OS layer (NO_SYS=1): no threads, no sockets or
 * netconn API, only the raw/callback API, driven by mgmt_input() and
 * mgmt_poll() from the firmware's single event loop. IPv4 only for now.
 *
 * Only drivers/lwip and firmware/uplink may include lwIP headers (and so
 * this one); the rest of the firmware talks to drivers/lwip/mgmt.h.
 */
#ifndef TG_LWIPOPTS_H
#define TG_LWIPOPTS_H

#include <stdint.h>

#include "generated/autoconf.h"

/* ---------------------------------------------------------------- system */
#define NO_SYS 1
#define LWIP_TIMERS 1
/* One thread calls lwIP: no critical sections needed. */
#define SYS_LIGHTWEIGHT_PROT 0
#define LWIP_SOCKET 0
#define LWIP_NETCONN 0
#define LWIP_NETIF_API 0
/*
 * lwIP's debug output stays off (LWIP_DEBUG is tested with #ifdef: it is
 * left undefined); its assertions stay on and end in the firmware's log.
 */
#define LWIP_STATS 0

/* ---------------------------------------------------------------- memory */
/* 64-bit hosts and ARM boards: keep heap and pool elements naturally aligned. */
#define MEM_ALIGNMENT 8
/* The MQTT client (its output buffer inside, MGMT_MQTT_OUTBUF) comes from this heap too. */
#define MEM_SIZE (CONFIG_MGMT_LWIP_MEM_KB * 1024 + CONFIG_MGMT_MQTT_OUTBUF + 256)
/*
 * The uplink's MQTT/TLS connection, one being opened while an old one is
 * closing (TIME_WAIT), one spare.
 */
#define MEMP_NUM_TCP_PCB 3
/* The gateway listens on nothing (ARCHITECTURE.md): one listen PCB is lwIP's minimum. */
#define MEMP_NUM_TCP_PCB_LISTEN 1
/*
 * DHCP, SNTP, and one per outstanding DNS query (each has its own random
 * source port, LWIP_DNS_SECURE), plus two spare.
 */
#define MEMP_NUM_UDP_PCB (2 + CONFIG_MGMT_DNS_TABLE_SIZE + 2)
/* lwIP's own timers, plus SNTP (request, next server) and MQTT's cyclic timer. */
#define MEMP_NUM_SYS_TIMEOUT (LWIP_NUM_SYS_TIMEOUT_INTERNAL + 4)

/* ---------------------------------------------------------------- netif */
#define LWIP_IPV4 1
/* IPv6 management is for later: the data path handles IPv6, the hub is reached over IPv4. */
#define LWIP_IPV6 0
#define LWIP_ARP 1
#define LWIP_ETHERNET 1
#define LWIP_NETIF_HOSTNAME 1
#define LWIP_NETIF_EXT_STATUS_CALLBACK 1
#define LWIP_HAVE_LOOPIF 0
/* One raw ICMP pcb: the console's ping (drivers/lwip/mgmt_ping.c). */
#define LWIP_RAW 1
#define LWIP_ICMP 1
#define LWIP_AUTOIP 0
#define LWIP_IGMP 0
#define IP_REASSEMBLY 1
#define IP_FRAG 1

/* ---------------------------------------------------------------- DHCP, DNS */
#define LWIP_DHCP 1
/* Probe the offered address with ARP before using it (a shared office LAN). */
#define DHCP_DOES_ARP_CHECK 1
/* Take the NTP servers from the lease (option 42) unless configured. */
#define LWIP_DHCP_GET_NTP_SRV 1
#define LWIP_DHCP_MAX_NTP_SERVERS 2
#define LWIP_DNS 1
#define DNS_TABLE_SIZE CONFIG_MGMT_DNS_TABLE_SIZE
#define DNS_MAX_SERVERS 2
#define DNS_MAX_NAME_LENGTH 256
/* lwIP's default LWIP_DNS_SECURE (random ID and source port, one query per name) stays. */

/* ---------------------------------------------------------------- TCP */
#define LWIP_UDP 1
#define LWIP_TCP 1
#define TCP_MSS 1460
#define TCP_WND CONFIG_MGMT_TCP_WND
/* Eight full segments in flight: an 11 KiB TLS record; a larger MQTT message goes as several. */
#define TCP_SND_BUF (8 * TCP_MSS)
#define TCP_SND_QUEUELEN ((4 * TCP_SND_BUF + (TCP_MSS - 1)) / TCP_MSS)
#define MEMP_NUM_TCP_SEG TCP_SND_QUEUELEN
/*
 * Receive buffers: one full window of segments, plus frames that arrive
 * meanwhile for ARP, DHCP, DNS and SNTP. A buffer holds a whole frame.
 */
#define PBUF_POOL_SIZE ((TCP_WND + TCP_MSS - 1) / TCP_MSS + 8)
#define TCP_QUEUE_OOSEQ 1
/* Unpredictable initial sequence numbers (lwIP's default is a counter). */
#define LWIP_HOOK_TCP_ISN(local_ip, local_port, remote_ip, remote_port) mgmt_lwip_rand32()

/* ---------------------------------------------------------------- TLS, MQTT */
#define LWIP_ALTCP 1
#define LWIP_ALTCP_TLS 1
#define LWIP_ALTCP_TLS_MBEDTLS 1
#define MQTT_OUTPUT_RINGBUF_SIZE CONFIG_MGMT_MQTT_OUTBUF
#define MQTT_VAR_HEADER_BUFFER_LEN CONFIG_MGMT_MQTT_RXBUF

/* ---------------------------------------------------------------- SNTP */
#define SNTP_MAX_SERVERS 2
#define SNTP_SERVER_DNS 1
#define SNTP_UPDATE_DELAY (CONFIG_MGMT_SNTP_INTERVAL * 1000u)
/* Answers must come from the server asked and echo our transmit timestamp. */
#define SNTP_CHECK_RESPONSE 2
#define SNTP_COMP_ROUNDTRIP 1
/*
 * Spread the first request over two seconds: after a regional power cut
 * every gateway boots at once (RFC 4330 asks clients to randomise).
 */
#define SNTP_STARTUP_DELAY 1
#define SNTP_STARTUP_DELAY_FUNC (mgmt_lwip_rand32() % 2000u)
/*
 * The time is never set on the system: mgmt.c keeps it as an offset to the
 * monotonic clock and reports it (struct mgmt_events.time_set).
 */
#define SNTP_SET_SYSTEM_TIME_US(sec, us) mgmt_lwip_sntp_set((sec), (us))
#define SNTP_GET_SYSTEM_TIME(sec, us) mgmt_lwip_sntp_get(&(sec), &(us))

/* ---------------------------------------------------------------- glue */
#define LWIP_RAND() mgmt_lwip_rand32()

/* sys_arch.c: random numbers from getrandom(2). */
uint32_t mgmt_lwip_rand32(void);
/* mgmt.c: SNTP's clock. */
void mgmt_lwip_sntp_set(uint32_t sec, uint32_t us);
void mgmt_lwip_sntp_get(uint32_t *sec, uint32_t *us);

#endif
