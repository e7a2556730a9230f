#include "push/outq.h"

#include "core/mem.h"

#include <string.h>
#include <uthash.h>

typedef struct key {
  char charger[49];
  int connector;
  int type;
} key_t_;

struct fc_outq_node {
  fc_event_t *e;
  fc_outq_node_t *prev, *next;
  key_t_ key;
  bool keyed;
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
  if (n->prev)
    n->prev->next = n->next;
  else
    q->head = n->next;
  if (n->next)
    n->next->prev = n->prev;
  else
    q->tail = n->prev;
  if (n->keyed) HASH_DEL(q->keys, n);
  q->bytes -= n->e->len;
  q->count--;
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

static fc_outq_status_t push(fc_outq_t *q, fc_event_t *e, bool kept)
{
  fc_outq_node_t *n = fc_calloc(1, sizeof(*n));
  n->e = fc_event_ref(e);
  if (!kept && fc_event_type_is_state(e->type)) {
    snprintf(n->key.charger, sizeof(n->key.charger), "%s", e->charger);
    n->key.connector = e->connector;
    n->key.type = (int)e->type;
    fc_outq_node_t *old = NULL;
    HASH_FIND(hh, q->keys, &n->key, sizeof(n->key), old);
    if (old && (q->coalescing || q->bytes + e->len > q->soft_bytes)) {
      unlink_node(q, old);
      fc_event_unref(old->e);
      fc_free(old);
      q->coalesced++;
    } else if (old) {
      /* Under the soft bound both stay; the key moves to the newest. */
      HASH_DEL(q->keys, old);
      old->keyed = false;
    }
    n->keyed = true;
    HASH_ADD(hh, q->keys, key, sizeof(n->key), n);
  }
  n->prev = q->tail;
  if (q->tail)
    q->tail->next = n;
  else
    q->head = n;
  q->tail = n;
  q->bytes += e->len;
  q->count++;
  return (q->bytes > q->hard_bytes || q->count > q->hard_count) ? FC_OUTQ_OVER : FC_OUTQ_OK;
}

fc_outq_status_t fc_outq_push(fc_outq_t *q, fc_event_t *e)
{
  return push(q, e, false);
}

fc_outq_status_t fc_outq_push_kept(fc_outq_t *q, fc_event_t *e)
{
  return push(q, e, true);
}

size_t fc_outq_take(fc_outq_t *q, fc_event_t **out, size_t max, size_t max_bytes)
{
  size_t k = 0, bytes = 0;
  while (q->head && k < max) {
    fc_outq_node_t *n = q->head;
    if (k > 0 && bytes + n->e->len + 1 > max_bytes) break;
    bytes += n->e->len + 1;
    unlink_node(q, n);
    out[k++] = n->e;
    fc_free(n);
  }
  return k;
}
