/*
 * Small helpers every module uses: container_of, ARRAY_SIZE, IS_ENABLED
 * (U-Boot/Linux kconfig.h style, so `if (IS_ENABLED(CONFIG_X))` compiles both
 * branches and the optimiser removes the dead one), and the generated
 * Kconfig header.
 */
#ifndef TG_COMMON_H
#define TG_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "generated/autoconf.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) \
	((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* IS_ENABLED(CONFIG_X): 1 when CONFIG_X is defined to 1, else 0. */
#define TG_ARG_PLACEHOLDER_1 0,
#define TG_TAKE_SECOND(ignored, val, ...) val
#define TG_IS_ENABLED3(arg1_or_junk) TG_TAKE_SECOND(arg1_or_junk 1, 0, 0)
#define TG_IS_ENABLED2(val) TG_IS_ENABLED3(TG_ARG_PLACEHOLDER_##val)
#define IS_ENABLED(option) TG_IS_ENABLED2(option)

/* 1 in sanitizer builds (make SAN=1), where some paths trade speed for checks. */
#ifdef TG_SANITIZE
#define TG_SAN 1
#else
#define TG_SAN 0
#endif

/* Lower-case hex of n bytes into out (2n + 1 bytes, NUL-terminated). */
static inline void hex_encode(const uint8_t *in, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 15];
	}
	out[2 * n] = '\0';
}

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#endif
