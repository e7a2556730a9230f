/* A bounded, coalescing queue of events for one browser connection.
 *
 * Events are kept in order (of arrival, which is seq order per charger).
 * While the queue is over its soft bound — the client is not keeping up — a
 * new state event (meter, status, energy, cost, precharge) replaces the
 * queued one of the same charger, connector and type: the older one is
 * dropped and the newer appended, so the order stays that of the seqs and
 * the client still ends up with the latest state. Transaction and command
 * events are never dropped. Past the hard bound (bytes or events) the client
 * is too far behind: push reports it lagged and closes it; it can resume
 * with `since`.
 *
 * Each event may carry an owner (push: the subscription it was queued for),
 * handed back with it by fc_outq_take.
 *
 * Memory: one node per queued event (the event's bytes are shared with every
 * other receiver). CPU: a queue that keeps under its soft bound, and is not
 * forced to coalesce, never hashes; the coalescing index is built when it is
 * first needed and dropped when the queue drains. */
#ifndef FC_PUSH_OUTQ_H
#define FC_PUSH_OUTQ_H

#include "bus/bus.h"

#include <stdbool.h>
#include <stddef.h>

typedef struct fc_outq_node fc_outq_node_t;

typedef struct fc_outq {
  fc_outq_node_t *head; /* utlist DL, oldest first (head->prev: the newest) */
  fc_outq_node_t *keys; /* uthash of queued state events by (charger, connector, type) */
  size_t bytes, count;
  size_t soft_bytes, hard_bytes, hard_count;
  bool coalescing;    /* forced on (frame-rate limit) even under the soft bound */
  bool indexed;       /* keys is kept up to date (until the queue drains) */
  uint64_t coalesced; /* events dropped for a newer one */
} fc_outq_t;

typedef enum { FC_OUTQ_OK = 0, FC_OUTQ_OVER = 1 } fc_outq_status_t;

void fc_outq_init(fc_outq_t *q, size_t soft_bytes, size_t hard_bytes, size_t hard_count);
/* Drops every queued event. */
void fc_outq_cleanup(fc_outq_t *q);

/* Appends e (takes a reference of its own). Returns FC_OUTQ_OVER when the
 * queue is past its hard bound afterwards. */
fc_outq_status_t fc_outq_push(fc_outq_t *q, fc_event_t *e, void *owner);

/* Like fc_outq_push, but e is never coalesced away, nor replaces another
 * (events replayed for `since`: exactly what the client missed). */
fc_outq_status_t fc_outq_push_kept(fc_outq_t *q, fc_event_t *e, void *owner);

/* Clears the owner of every queued event that has it (the owner is going). */
void fc_outq_forget(fc_outq_t *q, const void *owner);

/* Moves up to max events, at most max_bytes of JSON in all (at least one
 * event), from the front into out[] (and their owners into owners[], unless
 * NULL); the caller owns their references. Returns how many. */
size_t fc_outq_take(fc_outq_t *q, fc_event_t **out, void **owners, size_t max, size_t max_bytes);

static inline bool fc_outq_empty(const fc_outq_t *q)
{
  return q->head == NULL;
}

#endif
