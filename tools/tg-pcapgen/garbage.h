/* Malformed frames for the fuzz and robustness tests (garbage.c). */
#ifndef TG_PCAPGEN_GARBAGE_H
#define TG_PCAPGEN_GARBAGE_H

#include "out.h"
#include "rng.h"

/* Writes one malformed frame of a class drawn from r (garbage.c lists them). */
void garbage_frame(struct pg_out *out, struct pg_rng *r);

#endif
