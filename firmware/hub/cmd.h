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
 */
#ifndef TG_CMD_H
#define TG_CMD_H

#include <stddef.h>
#include <stdint.h>

#define CMD_PAYLOAD_MAX 4096
#define CMD_NONCE_MIN 16       /* hex characters */
#define CMD_NONCE_MAX 64
#define CMD_NONCES 64          /* nonces remembered */
#define CMD_REPLAY_WINDOW_S 3600

enum cmd_kind {
	CMD_REPORT = 1,  /* publish state now */
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

/* Nonces seen recently (per gateway process; a restart forgets them). */
struct cmd_guard {
	char nonce[CMD_NONCES][CMD_NONCE_MAX + 1];
	uint64_t seen_s[CMD_NONCES];
	unsigned int next;
};

struct cmd {
	enum cmd_kind kind;
	uint64_t issued;
	char nonce[CMD_NONCE_MAX + 1];
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
 * nonce in g; any refusal leaves g unchanged.
 */
enum cmd_err cmd_parse(const uint8_t *payload, size_t len, const struct cmd_check *chk,
		       struct cmd_guard *g, struct cmd *out);

/*
 * Build a signed payload (the hub side: tg-hub cmd, and tests). Returns its
 * length, or -errno; out must hold CMD_PAYLOAD_MAX bytes.
 */
int cmd_sign(const char *json, const uint8_t *privkey, size_t privkey_len, char *out);

#endif
