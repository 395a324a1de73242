/*
 * lwIP's compiler and platform header for townguard (found as "arch/cc.h"
 * by lwIP's arch.h): byte order and errno from the C library, and lwIP's
 * diagnostics and failed assertions sent to the firmware's log
 * (drivers/lwip/sys_arch.c) instead of printf.
 */
#ifndef TG_LWIP_ARCH_CC_H
#define TG_LWIP_ARCH_CC_H

#include <endian.h>

/* glibc always defines the __-prefixed names; the plain ones depend on feature macros. */
#ifndef LITTLE_ENDIAN
#define LITTLE_ENDIAN __LITTLE_ENDIAN
#endif
#ifndef BIG_ENDIAN
#define BIG_ENDIAN __BIG_ENDIAN
#endif
#ifndef BYTE_ORDER
#define BYTE_ORDER __BYTE_ORDER
#endif

#define LWIP_ERRNO_STDINCLUDE 1

/* x is a parenthesised printf argument list: LWIP_PLATFORM_DIAG(("%d", n)). */
#define LWIP_PLATFORM_DIAG(x) do { mgmt_lwip_diag x; } while (0)
#define LWIP_PLATFORM_ASSERT(x) mgmt_lwip_assert((x), __FILE__, __LINE__)

void mgmt_lwip_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void mgmt_lwip_assert(const char *what, const char *file, int line) __attribute__((noreturn));

#endif
