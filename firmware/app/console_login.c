/*
 * The technician's password and the lockout, both files in the data
 * directory, both replaced atomically (core/file.c):
 *
 *   <data>/console.passwd   one line: the yescrypt hash ("$y$..."), mode 0600
 *   <data>/console.lockout  one line: "failures N", wrong passwords in a row
 *
 * The hash is libcrypt's yescrypt at its default cost (crypt_gensalt with
 * count 0), so a stolen data partition costs an attacker what it costs for
 * /etc/shadow. Checking one password costs the loop that much time too
 * (docs/console.md gives the figure); the lockout bounds how often.
 *
 * The lockout counts wrong passwords in a row on flash, so a reboot (or a
 * power cut) does not reset it: after CON_LOCK_AFTER of them a login waits
 * CON_LOCK_FIRST_S seconds, doubling with each further one up to
 * CON_LOCK_MAX_S. At start the wait of the count on record begins again.
 */
#include <crypt.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "app/console_priv.h"
#include "core/file.h"

#define CON_PASSWD "console.passwd"
#define CON_LOCKOUT "console.lockout"

static int con_path(char *buf, size_t size, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, size, "%s/%s", dir, name) >= size)
		return -ENAMETOOLONG;
	return 0;
}

static int con_read_hash(const char *dir, char *hash, size_t size)
{
	char path[CONFIG_PATH_MAX + 32];
	uint8_t *data;
	size_t len;
	int err;

	if (con_path(path, sizeof(path), dir, CON_PASSWD) < 0)
		return -ENAMETOOLONG;
	err = file_read(path, 4096, &data, &len);
	if (err < 0)
		return err;
	data[strcspn((char *)data, "\r\n")] = '\0';
	if (strncmp((char *)data, "$y$", 3) != 0 || strlen((char *)data) >= size) {
		free(data);
		return -EINVAL;
	}
	snprintf(hash, size, "%s", (char *)data);
	free(data);
	return 0;
}

bool con_pass_is_set(const char *dir)
{
	char hash[CRYPT_OUTPUT_SIZE];

	return con_read_hash(dir, hash, sizeof(hash)) == 0;
}

int con_pass_check(const char *dir, const char *password)
{
	char hash[CRYPT_OUTPUT_SIZE];
	struct crypt_data *cd;
	const char *out;
	unsigned char diff = 0;
	size_t n;
	int err = con_read_hash(dir, hash, sizeof(hash));

	if (err < 0)
		return err;
	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return -ENOMEM;
	out = crypt_rn(password, hash, cd, (int)sizeof(*cd));
	if (!out || out[0] == '*') {
		free(cd);
		return -EINVAL;
	}
	/* Same length (the setting is the hash's prefix), compared in constant time. */
	n = strlen(hash);
	if (strlen(out) != n)
		diff = 1;
	for (size_t i = 0; i < n && !diff; i++)
		diff |= (unsigned char)(out[i] ^ hash[i]);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	return diff ? 0 : 1;
}

int con_pass_set(const char *dir, const char *password, char *err, size_t errlen)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE], path[CONFIG_PATH_MAX + 32], line[CRYPT_OUTPUT_SIZE + 1];
	struct crypt_data *cd;
	const char *out;
	int ret;

	if (!crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt))) {
		ret = -errno;
		snprintf(err, errlen, "cannot make a yescrypt salt: %s", strerror(errno));
		return ret;
	}
	cd = calloc(1, sizeof(*cd));
	if (!cd)
		return -ENOMEM;
	out = crypt_rn(password, salt, cd, (int)sizeof(*cd));
	if (!out || out[0] == '*') {
		free(cd);
		snprintf(err, errlen, "cannot hash the password (yescrypt)");
		return -EINVAL;
	}
	snprintf(line, sizeof(line), "%s\n", out);
	explicit_bzero(cd, sizeof(*cd));
	free(cd);
	if (con_path(path, sizeof(path), dir, CON_PASSWD) < 0) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -ENAMETOOLONG;
	}
	ret = file_write_atomic(path, line, strlen(line), 0600);
	if (ret < 0)
		snprintf(err, errlen, "%s: cannot write: %s", path, strerror(-ret));
	return ret;
}

unsigned int con_lock_failures(const char *dir)
{
	char path[CONFIG_PATH_MAX + 32];
	uint8_t *data;
	size_t len;
	unsigned int n = 0;

	if (con_path(path, sizeof(path), dir, CON_LOCKOUT) < 0 || file_read(path, 256, &data, &len) < 0)
		return 0;
	if (sscanf((char *)data, "failures %u", &n) != 1)
		n = 0;
	free(data);
	return n;
}

int con_lock_record(const char *dir, unsigned int n)
{
	char path[CONFIG_PATH_MAX + 32], line[32];

	if (con_path(path, sizeof(path), dir, CON_LOCKOUT) < 0)
		return -ENAMETOOLONG;
	snprintf(line, sizeof(line), "failures %u\n", n);
	return file_write_atomic(path, line, strlen(line), 0600);
}

unsigned int con_lock_delay_s(unsigned int n)
{
	unsigned int d = CON_LOCK_FIRST_S;

	if (n < CON_LOCK_AFTER)
		return 0;
	for (unsigned int i = CON_LOCK_AFTER; i < n && d < CON_LOCK_MAX_S; i++)
		d *= 2;
	return d < CON_LOCK_MAX_S ? d : CON_LOCK_MAX_S;
}
