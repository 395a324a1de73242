/*
 * libFuzzer target for dhcp_parse() (firmware/packet/dhcp.c).
 *
 * The input is one UDP payload, copied to a buffer of exactly its size so
 * ASan sees any read past the end. On DHCP_OK the parser's promises are
 * checked: a known message type, the text fields NUL-terminated within their
 * bounds and printable ASCII only, the lengths within their arrays, a field
 * the message has is one it did not warn about, a warning names a field
 * error; on a refusal, the problem is the one returned and nothing of the
 * message is left. Every problem has a text that fits its buffer.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "packet/dhcp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t max)
{
	size_t n = strnlen(s, max + 1);

	if (n > max)
		abort();
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = malloc(size ? size : 1);
	struct dhcp_problem why;
	struct dhcp_msg m;
	char text[256], prl[DHCP_PRL_MAX * 4];
	enum dhcp_err e;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	e = dhcp_parse(copy, size, &m, &why);
	if (why.err != e || (e != DHCP_OK && e >= DHCP_ERR_HOST_NAME) || e >= DHCP_ERR_MAX)
		abort();
	dhcp_problem_text(&why, text, sizeof(text));
	if (strnlen(text, sizeof(text)) >= sizeof(text))
		abort();
	if (e != DHCP_OK) {
		if (m.has || m.type || m.op || m.n_warn)
			abort();
		free(copy);
		return 0;
	}
	if (m.type < DHCP_DISCOVER || m.type > DHCP_INFORM || (m.op != 1 && m.op != 2))
		abort();
	check_text(m.host_name, DHCP_HOST_NAME_MAX);
	check_text(m.vendor_class, DHCP_VENDOR_CLASS_MAX);
	if (!(m.has & DHCP_HAS_HOST_NAME) != !m.host_name[0])
		abort();
	if (m.prl_len > DHCP_PRL_MAX || m.client_id_len > DHCP_CLIENT_ID_MAX ||
	    (m.has & DHCP_HAS_PRL && !m.prl_len))
		abort();
	if (m.n_warn) {
		if (m.warn.err < DHCP_ERR_HOST_NAME || m.warn.err >= DHCP_ERR_MAX)
			abort();
		dhcp_problem_text(&m.warn, text, sizeof(text));
	} else if (m.warn.err != DHCP_OK) {
		abort();
	}
	dhcp_prl_text(m.prl, m.prl_len, prl, sizeof(prl));
	free(copy);
	return 0;
}
