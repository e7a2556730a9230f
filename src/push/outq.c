/* The queue is a doubly linked list of nodes (utlist DL: the head's prev is
 * the tail), one per queued event. The
 * coalescing index (a hash of state events by key) is kept only while it can
 * be needed: it is built from the queue the first time a push finds the
 * queue coalescing or over its soft bound, kept up to date from then on, and
 * dropped when the queue drains. A client that keeps up — the common case —
 * never hashes anything. */
#include "push/outq.h"

#include "core/mem.h"

#include <string.h>
#include <uthash.h>
#include <utlist.h>

typedef struct key {
  char charger[49];
  int connector;
  int type;
} key_t_;

struct fc_outq_node {
  fc_event_t *e;
  void *owner;
  fc_outq_node_t *prev, *next;
  bool kept;  /* never coalesced away (a replayed event) */
  bool keyed; /* in q->keys: the newest queued state event of its key */
  key_t_ key; /* set while keyed */
  UT_hash_handle hh;
};

void fc_outq_init(fc_outq_t *q, size_t soft_bytes, size_t hard_bytes, size_t hard_count)
{
  memset(q, 0, sizeof(*q));
  q->soft_bytes = soft_bytes;
  q->hard_bytes = hard_bytes;
  q->hard_count = hard_count;
}

static void unlink_node(fc_outq_t *q, fc_outq_node_t *n)
{
  DL_DELETE(q->head, n);
  if (n->keyed) HASH_DEL(q->keys, n);
  q->bytes -= n->e->len;
  q->count--;
  if (!q->head) q->indexed = false; /* drained: the index is empty too */
}

void fc_outq_cleanup(fc_outq_t *q)
{
  while (q->head) {
    fc_outq_node_t *n = q->head;
    unlink_node(q, n);
    fc_event_unref(n->e);
    fc_free(n);
  }
}

static bool coalescible(const fc_outq_node_t *n)
{
  return !n->kept && fc_event_type_is_state(n->e->type);
}

/* Makes n the keyed node of its key; returns the node it displaced, if any. */
static fc_outq_node_t *index_node(fc_outq_t *q, fc_outq_node_t *n)
{
  memset(&n->key, 0, sizeof(n->key));
  size_t len = strnlen(n->e->charger, sizeof(n->key.charger) - 1);
  memcpy(n->key.charger, n->e->charger, len);
  n->key.connector = n->e->connector;
  n->key.type = (int)n->e->type;
  fc_outq_node_t *old = NULL;
  HASH_FIND(hh, q->keys, &n->key, sizeof(n->key), old);
  if (old) {
    HASH_DEL(q->keys, old);
    old->keyed = false;
  }
  n->keyed = true;
  HASH_ADD(hh, q->keys, key, sizeof(n->key), n);
  return old;
}

static void build_index(fc_outq_t *q)
{
  fc_outq_node_t *n;
  DL_FOREACH(q->head, n)
  {
    if (coalescible(n)) index_node(q, n);
  }
  q->indexed = true;
}

static fc_outq_status_t push(fc_outq_t *q, fc_event_t *e, void *owner, bool kept)
{
  fc_outq_node_t *n = fc_malloc(sizeof(*n));
  n->e = fc_event_ref(e);
  n->owner = owner;
  n->kept = kept;
  n->keyed = false;
  bool over_soft = q->coalescing || q->bytes + e->len > q->soft_bytes;
  if (coalescible(n) && (q->indexed || over_soft)) {
    if (!q->indexed) build_index(q);
    fc_outq_node_t *old = index_node(q, n);
    if (old && over_soft) {
      /* Over the soft bound the older one goes; under it both stay. */
      unlink_node(q, old);
      fc_event_unref(old->e);
      fc_free(old);
      q->coalesced++;
    }
  }
  DL_APPEND(q->head, n);
  q->bytes += e->len;
  q->count++;
  return (q->bytes > q->hard_bytes || q->count > q->hard_count) ? FC_OUTQ_OVER : FC_OUTQ_OK;
}

fc_outq_status_t fc_outq_push(fc_outq_t *q, fc_event_t *e, void *owner)
{
  return push(q, e, owner, false);
}

fc_outq_status_t fc_outq_push_kept(fc_outq_t *q, fc_event_t *e, void *owner)
{
  return push(q, e, owner, true);
}

void fc_outq_forget(fc_outq_t *q, const void *owner)
{
  fc_outq_node_t *n;
  DL_FOREACH(q->head, n)
  {
    if (n->owner == owner) n->owner = NULL;
  }
}

size_t fc_outq_take(fc_outq_t *q, fc_event_t **out, void **owners, size_t max, size_t max_bytes)
{
  size_t k = 0, bytes = 0;
  while (q->head && k < max) {
    fc_outq_node_t *n = q->head;
    if (k > 0 && bytes + n->e->len + 1 > max_bytes) break;
    bytes += n->e->len + 1;
    unlink_node(q, n);
    if (owners) owners[k] = n->owner;
    out[k++] = n->e;
    fc_free(n);
  }
  return k;
}
