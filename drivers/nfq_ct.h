/*
 * Conntrack side of the NFQUEUE driver (nfq.c): the offload verdict the
 * chain keeps in a connection's mark (nfq_rules.h), taken back through
 * libnl's netfilter conntrack API (libnl-nf, ctnetlink) when a new
 * blocklist judges the connection differently. Clearing the mark's two
 * bits hands the connection's next packet to the queue again, where it is
 * judged and, if blocked, reset and dropped with a mark that sticks.
 */
#ifndef TG_NFQ_CT_H
#define TG_NFQ_CT_H

#include "core/inline.h"

struct nfq_ct;

/* A ctnetlink socket. Returns NULL (logged with libnl's words) if the kernel has none. */
struct nfq_ct *nfq_ct_open(void);
void nfq_ct_close(struct nfq_ct *ct);

/*
 * Clear bits NFQ_MARK_MASK of the mark of connection t, tried as its
 * original direction and then as its reply. Returns 0, -ENOENT when the
 * kernel tracks it in neither, or -errno.
 */
int nfq_ct_forget(struct nfq_ct *ct, const struct inline_tuple *t);
/*
 * Set bits NFQ_MARK_MASK of connection t's mark to NFQ_MARK_ACCEPT (the
 * accept offload, nfq_order.h), as nfq_ct_forget() clears them. Returns 0,
 * -ENOENT, or -errno.
 */
int nfq_ct_accept(struct nfq_ct *ct, const struct inline_tuple *t);

/*
 * Dump the kernel's connections; for each one offloaded as accepted (mark
 * bits NFQ_MARK_ACCEPT: UDP, and TCP in state ESTABLISHED) call fn with its
 * original tuple, and clear the
 * mark of those fn returns true for. Returns how many were cleared, or
 * -errno.
 */
int nfq_ct_sweep(struct nfq_ct *ct, bool (*fn)(const struct inline_tuple *t, void *ctx), void *ctx);

#endif
