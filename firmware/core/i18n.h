/*
 * Messages a technician reads in their language (gettext).
 *
 * Every user-visible string of the console, the status words, the diag
 * causes and remedies and the help lines is written _("...") (translated
 * where it is printed) or N_("...") (marked for the catalogue in a table,
 * translated with _() where it is printed). English is the default and the
 * msgid; po/zh_TW.po carries Traditional Chinese.
 *
 * The language is chosen by [console] lang and the console's `lang`
 * command, never by the process environment: a board's image has no
 * generated locales (no locale-gen), and glibc's gettext ignores LANGUAGE
 * while LC_MESSAGES is "C". i18n_set_lang() therefore puts LC_MESSAGES in
 * C.UTF-8 (built into glibc, no locale files) and names the catalogue in
 * LANGUAGE, then tells gettext its cached translations are stale.
 */
#ifndef TG_I18N_H
#define TG_I18N_H

#include <libintl.h>

#define I18N_DOMAIN "townguard"

#define _(s) dgettext(I18N_DOMAIN, s)
#define N_(s) (s)
/* Plural forms: n picks the form from the catalogue's Plural-Forms. */
#define P_(s, p, n) dngettext(I18N_DOMAIN, s, p, n)

/* The languages there is a catalogue for (po/<lang>.po), in [console] lang's order. */
enum i18n_lang { I18N_EN = 0, I18N_ZH_TW, I18N_LANGS };

/* "en", "zh_TW"; NULL for a value out of range. */
const char *i18n_lang_name(int lang);
/* "en" -> I18N_EN ...; -EINVAL for a language without a catalogue. */
int i18n_lang_parse(const char *s);

/*
 * Where the catalogues are: dir/<lang>/LC_MESSAGES/townguard.mo. NULL =
 * $TOWNGUARD_LOCALEDIR if set (tests, a build tree), else CONFIG_LOCALE_DIR.
 */
void i18n_init(const char *dir);
/* Messages in lang from now on (the whole process). Returns 0 or -EINVAL. */
int i18n_set_lang(int lang);
int i18n_get_lang(void);

#endif
