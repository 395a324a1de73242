/*
 * Signed hub commands (docs/protocol.md, "cmd"): the payload of
 * tg/v1/<region>/gw/<id>/cmd is the command's JSON, a newline, and the
 * base64 of the hub key's ECDSA P-256 signature (DER) over the SHA-256 of the
 * JSON bytes:
 *
 *   {"cmd":"report","gateway":"gw-7","region":"north","issued":1795491234,"nonce":"8c1e..."}
 *   MEUCIQ...==
 *
 * A command is carried out only if the signature checks with the hub key
 * (a broker that is taken over cannot command gateways), it names this
 * gateway and region, it was issued within the clock skew of now, and its
 * nonce was not seen in the last CMD_REPLAY_WINDOW_S seconds. Checks run in
 * that order, so an unsigned message is refused before anything in it is
 * believed. Parsing never reads outside the payload.
 *
 * The nonces carried out are kept in <data_dir>/cmd-nonces too
 * (cmd_store.c), so a command captured off the wire cannot be replayed
 * after a restart while it is still within the clock skew.
 */
#ifndef TG_CMD_H
#define TG_CMD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CMD_PAYLOAD_MAX 4096
#define CMD_NONCE_MIN 16       /* hex characters */
#define CMD_NONCE_MAX 64
#define CMD_NONCES 64          /* nonces remembered */
#define CMD_REPLAY_WINDOW_S 3600

enum cmd_kind {
	CMD_REPORT = 1,  /* publish state now, and the reports (a summary of the interval so far) */
	CMD_RESYNC,      /* forget a pending delta gap, take the retained full bundle again */
};

enum cmd_err {
	CMD_OK = 0,
	CMD_ERR_FORMAT,     /* no newline, bad base64, not JSON, a field missing or of the wrong type */
	CMD_ERR_SIGNATURE,  /* does not verify with the hub key */
	CMD_ERR_GATEWAY,    /* names another gateway */
	CMD_ERR_REGION,     /* names another region */
	CMD_ERR_STALE,      /* issued too long ago or too far in the future */
	CMD_ERR_REPLAY,     /* nonce seen recently */
	CMD_ERR_UNKNOWN,    /* a command this firmware does not know */
	CMD_ERR_MAX
};

const char *cmd_err_name(enum cmd_err e);  /* "signature", "replay", ... */

/*
 * Nonces carried out recently, the oldest overwritten first; kept across
 * restarts by cmd_guard_load() / cmd_guard_save().
 */
struct cmd_guard {
	char nonce[CMD_NONCES][CMD_NONCE_MAX + 1];
	uint64_t seen_s[CMD_NONCES];   /* when it was carried out */
	uint64_t issued_s[CMD_NONCES]; /* the command's own time */
	unsigned int next;
};

struct cmd {
	enum cmd_kind kind;
	uint64_t issued;
	char nonce[CMD_NONCE_MAX + 1];
	uint64_t seen_s; /* CMD_ERR_REPLAY: when the nonce was carried out before */
};

struct cmd_check {
	const uint8_t *pubkey;   /* the hub key (PEM with its NUL, or DER) */
	size_t pubkey_len;
	const char *gateway;     /* this gateway's id */
	const char *region;
	uint64_t clock_skew_s;
	uint64_t now_s;
};

/*
 * Check and parse one command payload. On CMD_OK fills *out and records the
 * nonce in g; any refusal leaves g unchanged. A refusal after the signature
 * checked (gateway, region, stale, replay, unknown) still fills out->issued
 * and out->nonce, and for CMD_ERR_REPLAY out->seen_s, for the log line.
 */
enum cmd_err cmd_parse(const uint8_t *payload, size_t len, const struct cmd_check *chk,
		       struct cmd_guard *g, struct cmd *out);

/* 16 to 64 lower-case hex digits: what a nonce may be. */
bool cmd_nonce_valid(const char *s);

/*
 * The guard on flash (cmd_store.c): one line per nonce, "NONCE ISSUED SEEN"
 * (Unix seconds), written atomically (core/file.c: a power cut leaves the
 * old or the new file). Load: a missing file is an empty guard; a line that
 * does not read is logged (file:line, the text, what was expected) and
 * skipped; at most CMD_NONCES are kept, the last ones. Returns the number
 * loaded or -errno. Save: the nonces whose command was issued at most
 * keep_s before now_s (the clock skew: older ones are refused as stale
 * anyway, so they are pruned). Returns 0 or -errno (logged).
 */
int cmd_guard_load(struct cmd_guard *g, const char *path);
int cmd_guard_save(const struct cmd_guard *g, const char *path, uint64_t now_s, uint64_t keep_s);

/*
 * Build a signed payload (the hub side: tg-hub cmd, and tests). Returns its
 * length, or -errno; out must hold CMD_PAYLOAD_MAX bytes.
 */
int cmd_sign(const char *json, const uint8_t *privkey, size_t privkey_len, char *out);

#endif
