/*
 * Memory for lwIP's altcp_tls_mbedtls, in place of lwIP's example
 * altcp_tls_mbedtls_mem.c (which is not built): that file hands every mbedTLS
 * allocation to lwIP's own heap, sized for packets (CONFIG_MGMT_LWIP_MEM_KB),
 * where a TLS session's 16 KiB record buffers and parsed certificates do not
 * fit. Here mbedTLS keeps its default allocator (the C library's), and the
 * per-connection and per-configuration state comes from it too. One TLS
 * session to the hub at a time: about 50 KiB while connected.
 */
#include <stdlib.h>

#include "lwip/opt.h"

#include "altcp_tls_mbedtls_mem.h"
#include "altcp_tls_mbedtls_structs.h"
#include "lwip/apps/altcp_tls_mbedtls_opts.h"

void altcp_mbedtls_mem_init(void)
{
}

altcp_mbedtls_state_t *altcp_mbedtls_alloc(void *conf)
{
	altcp_mbedtls_state_t *st = calloc(1, sizeof(*st));

	if (st)
		st->conf = conf;
	return st;
}

void altcp_mbedtls_free(void *conf, altcp_mbedtls_state_t *state)
{
	(void)conf;
	free(state);
}

void *altcp_mbedtls_alloc_config(size_t size)
{
	return calloc(1, size);
}

void altcp_mbedtls_free_config(void *item)
{
	free(item);
}
