/*
 * The table of runtime configuration keys (core/config_keys.c), for the two
 * files of the config module: config_keys.c holds the table and validates one
 * value, config.c reads and writes the INI file. Nothing outside
 * firmware/core/config*.c includes this; the rest of the firmware sees only
 * core/config.h.
 */
#ifndef TG_CONFIG_KEYS_H
#define TG_CONFIG_KEYS_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/config.h"

enum cfg_type {
	CT_UINT,
	CT_BOOL,
	CT_ENUM,
	CT_STRING,
	CT_PATH,
};

/* What characters a string or path may hold. */
enum cfg_charset {
	CS_NAME,   /* a-z 0-9 - : gateway id and region */
	CS_IFNAME, /* printable ASCII but space, '/' and ':' (Linux dev_valid_name) */
	CS_TEXT,   /* anything printable but ';', which would start a comment */
	CS_IPV4,   /* an IPv4 address in dotted quads (checked with inet_pton) */
	CS_IPV6,   /* an IPv6 address (checked with inet_pton) */
	CS_MAC,    /* 02:00:5e:10:00:01 */
};

struct cfg_key {
	const char *section;
	const char *key;
	size_t offset;
	size_t size;
	const char *unit;		/* uint */
	const char *const *names;	/* enum: names[value] */
	size_t nnames;			/* enum */
	const char *def_str;		/* string, path */
	const char *help;
	enum cfg_type type;
	/* uint: value range; string, path: length range */
	uint32_t min, max;
	enum cfg_charset charset;	/* string, path */
	uint32_t def_num;		/* uint, bool, enum */
	bool readable;			/* path: non-empty must be a readable file */
};

/* Every key, in the order of messages and of config_write(). */
extern const struct cfg_key cfg_keys[];
extern const size_t cfg_nkeys;

/* At least cfg_nkeys (checked at build time): the loader's per-key array. */
#define CFG_KEYS_MAX 128

/* Find section/key, or explain in err what is known. */
const struct cfg_key *cfg_find(const char *section, const char *key, char *err, size_t errlen);
bool cfg_section_known(const char *section);
/* "[name]: unknown section (known: log, gateway, ...)" into err. */
void cfg_unknown_section(const char *section, char *err, size_t errlen);
/* What a key accepts, e.g. "1..86400 seconds"; used in errors and in help comments. */
void cfg_describe(const struct cfg_key *k, char *buf, size_t size);
/* Validate value for k and store it in c; c is untouched on error. */
int cfg_set_key(struct tg_config *c, const struct cfg_key *k, const char *value, char *err,
		size_t errlen);
/* Append to a NUL-terminated buffer, truncating quietly. */
__attribute__((format(printf, 3, 0))) void cfg_vappendf(char *buf, size_t size, const char *fmt,
							va_list ap);

#endif
