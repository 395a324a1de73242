/* What main.c gives the rest of tg-pcapgen: its name and its error line. */
#ifndef TG_PCAPGEN_MAIN_H
#define TG_PCAPGEN_MAIN_H

#define PROG "tg-pcapgen"

/* "tg-pcapgen: " and the message, on stderr. */
void pg_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
