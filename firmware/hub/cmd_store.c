/*
 * The command nonces on flash; see cmd.h (cmd_guard_load, cmd_guard_save).
 *
 * Why a file: a signed command is good for the clock skew around the time
 * it was issued (300 s by default), and the nonces that refuse a second
 * delivery were kept only in RAM, so a command captured on the wire could
 * be sent again right after a reboot. The guard is small (CMD_NONCES lines
 * of at most 64 + 2 x 20 characters), written only when a command is
 * carried out (rare), and replaced atomically, so a power cut leaves the
 * old list or the new one; a line that does not read is skipped with the
 * reason, never taken on trust.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "cmd"
#include "core/file.h"
#include "core/log.h"
#include "hub/cmd.h"

/* A line: nonce, space, issued, space, seen, newline (a comment line starts with '#'). */
#define CMD_STORE_LINE (CMD_NONCE_MAX + 2 * 21 + 2)
#define CMD_STORE_MAX ((size_t)(CMD_NONCES + 2) * CMD_STORE_LINE)

static int cmd_store_line(struct cmd_guard *g, const char *path, unsigned lineno, char *line)
{
	char *sp1 = strchr(line, ' '), *sp2, *end;
	unsigned long long issued, seen;

	if (!sp1)
		goto bad;
	*sp1 = '\0';
	sp2 = strchr(sp1 + 1, ' ');
	if (!sp2 || !cmd_nonce_valid(line))
		goto bad_restore;
	errno = 0;
	issued = strtoull(sp1 + 1, &end, 10);
	if (errno || end != sp2 || sp1[1] < '0' || sp1[1] > '9')
		goto bad_restore;
	seen = strtoull(sp2 + 1, &end, 10);
	if (errno || *end || sp2[1] < '0' || sp2[1] > '9')
		goto bad_restore;
	snprintf(g->nonce[g->next], sizeof(g->nonce[0]), "%s", line);
	g->issued_s[g->next] = issued;
	g->seen_s[g->next] = seen;
	g->next = (g->next + 1) % CMD_NONCES;
	return 1;
bad_restore:
	*sp1 = ' ';
bad:
	log_warn("%s:%u: \"%.80s\" skipped: expected NONCE ISSUED SEEN (%d-%d hex digits, two Unix times)",
		 path, lineno, line, CMD_NONCE_MIN, CMD_NONCE_MAX);
	return 0;
}

int cmd_guard_load(struct cmd_guard *g, const char *path)
{
	unsigned lineno = 0;
	char *text, *line, *nl;
	uint8_t *data;
	size_t len;
	int ret, n = 0;

	memset(g, 0, sizeof(*g));
	ret = file_read(path, CMD_STORE_MAX, &data, &len);
	if (ret == -ENOENT)
		return 0;
	if (ret < 0) {
		log_err("cannot read %s: %s; commands carried out before this start are forgotten", path,
			ret == -EFBIG ? "larger than it can be" : strerror(-ret));
		return ret;
	}
	text = (char *)data;
	for (line = text; line < text + len; line = nl + 1) {
		nl = memchr(line, '\n', (size_t)(text + len - line));
		lineno++;
		if (!nl) {
			/* the writer ends every line: a last line without one is not ours */
			log_warn("%s:%u: \"%.80s\" skipped: no end of line", path, lineno, line);
			break;
		}
		*nl = '\0';
		if (line[0] == '#' || !line[0])
			continue;
		n += cmd_store_line(g, path, lineno, line);
	}
	free(data);
	return n > CMD_NONCES ? CMD_NONCES : n;
}

int cmd_guard_save(const struct cmd_guard *g, const char *path, uint64_t now_s, uint64_t keep_s)
{
	char buf[CMD_STORE_MAX];
	size_t len = 0;
	unsigned i, k;
	int ret;

	len += (size_t)snprintf(buf, sizeof(buf), "# townguard command nonces: NONCE ISSUED SEEN\n");
	/* oldest first, so a load that keeps the last CMD_NONCES keeps the newest */
	for (k = 0; k < CMD_NONCES; k++) {
		uint64_t age_issued;

		i = (g->next + k) % CMD_NONCES;
		if (!g->nonce[i][0])
			continue;
		/* beyond the skew its command is refused as stale: the nonce can go */
		age_issued = now_s > g->issued_s[i] ? now_s - g->issued_s[i] : 0;
		if (age_issued > keep_s)
			continue;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s %" PRIu64 " %" PRIu64 "\n",
					g->nonce[i], g->issued_s[i], g->seen_s[i]);
	}
	ret = file_write_atomic(path, buf, len, 0600);
	if (ret < 0)
		log_err("cannot write %s: %s; a restart would forget the last command's nonce", path,
			strerror(-ret));
	return ret;
}
