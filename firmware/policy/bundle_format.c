/*
 * Blocklist bundles, the format itself: what the bytes and the names mean,
 * shared by the validator (bundle_open.c), the lookups (bundle_lookup.c), the
 * builder and the encoder (bundle_build.c, bundle_encode.c). bundle.h is the
 * contract, bundle_priv.h the layout they share, docs/bundle-format.md the
 * byte layout in prose.
 *
 * Why here, and only here:
 *
 * - The section layout is a function of (kind, list, count) alone, so the
 *   encoder writes it and the validator demands it from one definition: a
 *   bundle that opens is exactly one the encoder could have written.
 * - Domains are SipHash-2-4 of the normalised name under a fixed, published
 *   key (the file must mean the same thing on every gateway). Allow lists
 *   also carry a second, independent 64-bit hash (bundle_check_key), so an
 *   override cannot be hit by a name that only collides on the first.
 * - A name is normalised by one function for the hub's builder and its feed
 *   parsers: a feed line that is reported good is one the builder takes.
 */
#include <errno.h>
#include <string.h>

#include "core/siphash.h"
#include "policy/bundle_priv.h"

const uint8_t bundle_magic[8] = { 'T', 'G', 'B', 'U', 'N', 'D', 'L', 'E' };
const uint8_t bundle_trailer_magic[6] = { 'T', 'G', 'S', 'I', 'G', 0 };

/*
 * SipHash-2-4 keys of domain entries, fixed and published so that every
 * gateway computes the same hash: ASCII "townguard-domain" and, for the
 * second hash allow lists carry, "townguard-check!".
 */
const uint8_t bundle_domain_key[16] = { 0x74, 0x6f, 0x77, 0x6e, 0x67, 0x75, 0x61, 0x72,
					0x64, 0x2d, 0x64, 0x6f, 0x6d, 0x61, 0x69, 0x6e };
const uint8_t bundle_check_key[16] = { 0x74, 0x6f, 0x77, 0x6e, 0x67, 0x75, 0x61, 0x72,
				       0x64, 0x2d, 0x63, 0x68, 0x65, 0x63, 0x6b, 0x21 };

/* ---------------------------------------------------------------- layout */

void bundle_layout(unsigned tab, unsigned list, uint64_t n, struct layout *l)
{
	bool del = list & LIST_DEL;

	memset(l, 0, sizeof(*l));
	switch (tab) {
	case TAB_V4:
	case TAB_V6S:
	case TAB_V6L:
		if (del) {
			l->esize = (uint32_t)align8(ip_key_bytes[tab] + 1u);
			l->len = n * l->esize;
			return;
		}
		l->esize = ip_key_bytes[tab] + 8u;
		l->pad = n * l->esize;
		l->idx = align8(l->pad);
		l->pad_end = l->idx;
		break;
	case TAB_DOM:
		if (del) {
			l->esize = 8;
			l->len = 8 * n;
			return;
		}
		l->bits = idx_bits(n);
		l->kw = dom_key_bytes(l->bits);
		l->esize = l->kw + 4;
		l->pad = l->kw * n;
		if (list & LIST_ALLOW) {
			l->esize += 8;
			l->chk = align8(l->pad);
			l->pad_end = l->chk;
			l->meta = l->chk + 8 * n;
		} else {
			l->meta = align8(l->pad);
			l->pad_end = l->meta;
		}
		l->idx = align8(l->meta + 4 * n);
		/* the meta array is followed by at most 4 zero bytes, checked with the rest */
		break;
	case TAB_JA3:
		l->esize = del ? 16 : 20;
		l->meta = 16 * n;
		l->len = l->esize * n;
		return;
	default: /* protocol and category names */
		l->esize = del ? 32 : 36;
		l->meta = 32 * n;
		l->len = l->esize * n;
		return;
	}
	l->bits = idx_bits(n);
	l->len = l->idx + 4 * ((1ull << l->bits) + 1);
}

/* ---------------------------------------------------------------- names */

/* Protocol and category names: 1 to 31 printable ASCII bytes, NUL padded to 32. */
bool bundle_name_ok(const uint8_t *p)
{
	size_t n = strnlen((const char *)p, 32), i;

	if (n == 0 || n > BUNDLE_PROTO_NAME_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] > 0x7e)
			return false;
	return all_zero(p + n, 32 - n);
}

bool bundle_region_ok(const char *r, size_t max)
{
	size_t n = strnlen(r, max), i;

	if (n == 0 || n > BUNDLE_REGION_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') || r[i] == '-'))
			return false;
	return true;
}

bool bundle_info_ok(const struct bundle_info *info, bool delta)
{
	if (!bundle_region_ok(info->region, sizeof(info->region)) || info->serial == 0 ||
	    info->expires <= info->created)
		return false;
	if (delta)
		return info->base_serial != 0 && info->base_serial < info->serial;
	return info->base_serial == 0;
}


/* Letters, digits, '-' and '_', in either case: the bytes a label may hold. */
static bool label_char(char c)
{
	c = bundle_lower(c);
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/*
 * Left to right, as a reader would find the faults: each label is checked at
 * the dot that ends it (the end of the name counts as one), the total length
 * last, so the first fault in the name is the one reported.
 */
int bundle_domain_normalise(const char *name, size_t len, char out[BUNDLE_NAME_MAX + 1],
			    size_t *out_len, struct bundle_name_fault *fault)
{
	struct bundle_name_fault f = { 0 };
	size_t i, label = 0;
	char c;

	if (len && name[len - 1] == '.')
		len--;
	if (!len) {
		f.kind = BUNDLE_NAME_EMPTY;
		goto bad;
	}
	for (i = 0; i <= len; i++) {
		c = i < len ? name[i] : '.';
		if (c != '.') {
			if (!label_char(c)) {
				f.kind = BUNDLE_NAME_BAD_CHAR;
				f.at = i;
				goto bad;
			}
			label++;
			continue;
		}
		if (!label) {
			f.kind = BUNDLE_NAME_EMPTY_LABEL;
			f.at = i;
			goto bad;
		}
		if (label > BUNDLE_LABEL_MAX) {
			f.kind = BUNDLE_NAME_LONG_LABEL;
			f.at = i - label;
			f.len = label;
			goto bad;
		}
		label = 0;
	}
	if (len > BUNDLE_NAME_MAX) {
		f.kind = BUNDLE_NAME_TOO_LONG;
		f.len = len;
		goto bad;
	}
	for (i = 0; i < len; i++)
		out[i] = bundle_lower(name[i]);
	out[len] = '\0';
	if (out_len)
		*out_len = len;
	return 0;
bad:
	if (fault)
		*fault = f;
	return -EINVAL;
}

/* Lenient, like a lookup: case and one trailing dot folded, any other byte hashed as it is. */
uint64_t bundle_domain_hash(const char *name, size_t len)
{
	char buf[BUNDLE_NAME_MAX];
	size_t i;

	if (!name)
		return 0;
	if (len && name[len - 1] == '.')
		len--;
	if (len > BUNDLE_NAME_MAX)
		return 0;
	for (i = 0; i < len; i++)
		buf[i] = bundle_lower(name[i]);
	return siphash24(bundle_domain_key, buf, len);
}

/* ---------------------------------------------------------------- errors */

static const struct {
	const char *name, *text;
} bundle_errs[BUNDLE_ERR_MAX] = {
	[BUNDLE_OK] = { "ok", "bundle accepted" },
	[BUNDLE_ERR_IO] = { "io", "cannot read the bundle file" },
	[BUNDLE_ERR_TRUNCATED] = { "truncated", "bundle is shorter than its header says (truncated)" },
	[BUNDLE_ERR_MAGIC] = { "magic", "not a townguard bundle (bad magic)" },
	[BUNDLE_ERR_VERSION] = { "version", "bundle format version not supported by this firmware" },
	[BUNDLE_ERR_MALFORMED] = { "malformed", "bundle structure is inconsistent (header, sections, ordering or sizes)" },
	[BUNDLE_ERR_HASH] = { "hash", "bundle body hash does not match (corrupted or altered)" },
	[BUNDLE_ERR_SIGNATURE] = { "signature", "bundle signature does not verify with the hub key" },
	[BUNDLE_ERR_REGION] = { "region", "bundle is for another region" },
	[BUNDLE_ERR_STALE] = { "stale", "bundle serial is not newer than the one in force" },
	[BUNDLE_ERR_EXPIRED] = { "expired", "bundle is past its expiry time" },
	[BUNDLE_ERR_NOT_YET] = { "not_yet", "bundle was created in the future (clock or forgery)" },
	[BUNDLE_ERR_BASE] = { "base", "delta does not apply to the serial in force" },
	[BUNDLE_ERR_KIND] = { "kind", "delta bundle where a full bundle was expected, or the reverse" },
	[BUNDLE_ERR_NOMEM] = { "nomem", "out of memory while handling the bundle" },
};

const char *bundle_err_name(enum bundle_err e)
{
	return (unsigned)e < BUNDLE_ERR_MAX ? bundle_errs[e].name : "unknown";
}

const char *bundle_err_text(enum bundle_err e)
{
	return (unsigned)e < BUNDLE_ERR_MAX ? bundle_errs[e].text : "unknown bundle error";
}

const char *bundle_kind_name(enum bundle_kind k)
{
	static const char *const names[BUNDLE_KIND_MAX] = {
		[BUNDLE_IPV4] = "ipv4",	    [BUNDLE_IPV6] = "ipv6",	    [BUNDLE_DOMAIN] = "domain",
		[BUNDLE_PROTO] = "protocol", [BUNDLE_CATEGORY] = "category", [BUNDLE_JA3] = "ja3",
	};

	return (unsigned int)k < BUNDLE_KIND_MAX ? names[k] : "?";
}

const char *bundle_action_name(uint8_t action)
{
	switch (action) {
	case BUNDLE_ACT_BLOCK:
		return "block";
	case BUNDLE_ACT_ALERT:
		return "alert";
	case BUNDLE_ACT_ALLOW:
		return "allow";
	default:
		return "?";
	}
}
