/*
 * A region's name: the one rule the gateway's configuration ([gateway]
 * region), the bundle header and tg-hub all apply, so a region a gateway
 * accepts is always one the hub can build a bundle for.
 */
#ifndef TG_REGION_H
#define TG_REGION_H

#include <stdbool.h>
#include <string.h>

#define TG_REGION_MAX 31 /* bytes; the bundle header holds 32 with the NUL */
#define TG_REGION_CHARS "abcdefghijklmnopqrstuvwxyz0123456789-"

/* 1..TG_REGION_MAX characters of a-z, 0-9 and '-'. */
static inline bool region_valid(const char *r)
{
	size_t n = strlen(r);

	return n && n <= TG_REGION_MAX && strspn(r, TG_REGION_CHARS) == n;
}

#endif
