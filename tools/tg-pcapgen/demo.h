/* The demo capture: a fixed small-office mix (demo.c). */
#ifndef TG_PCAPGEN_DEMO_H
#define TG_PCAPGEN_DEMO_H

/* Writes it to path; 0 or a negative errno (already reported). */
int demo_write(const char *path);

#endif
