/*
 * The language of the messages (i18n.h): glibc's gettext bound to the
 * project's catalogue directory, the language picked without locale files.
 */
#include <errno.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#define LOG_MODULE "i18n"
#include "core/common.h"
#include "core/i18n.h"
#include "core/log.h"

static const char *const i18n_names[I18N_LANGS] = { "en", "zh_TW" };
static int i18n_lang = I18N_EN;

/* gettext's catalogue generation counter: bumped, cached translations are looked up again. */
extern int _nl_msg_cat_cntr;

const char *i18n_lang_name(int lang)
{
	return lang >= 0 && lang < I18N_LANGS ? i18n_names[lang] : NULL;
}

int i18n_lang_parse(const char *s)
{
	for (int i = 0; i < I18N_LANGS; i++)
		if (!strcmp(s, i18n_names[i]))
			return i;
	return -EINVAL;
}

void i18n_init(const char *dir)
{
	if (!dir)
		dir = getenv("TOWNGUARD_LOCALEDIR");
	if (!dir || !dir[0])
		dir = CONFIG_LOCALE_DIR;
	bindtextdomain(I18N_DOMAIN, dir);
	bind_textdomain_codeset(I18N_DOMAIN, "UTF-8");
}

int i18n_set_lang(int lang)
{
	const char *name = i18n_lang_name(lang);

	if (!name)
		return -EINVAL;
	/*
	 * "C" would make gettext ignore LANGUAGE; C.UTF-8 is built into glibc
	 * (2.35+), so it needs no generated locale on the image.
	 */
	if (lang != I18N_EN && !setlocale(LC_MESSAGES, "C.UTF-8"))
		log_warn("no C.UTF-8 locale: messages stay in English (lang %s)", name);
	setenv("LANGUAGE", name, 1);
	++_nl_msg_cat_cntr;
	i18n_lang = lang;
	return 0;
}

int i18n_get_lang(void)
{
	return i18n_lang;
}
