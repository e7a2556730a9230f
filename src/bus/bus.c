/* Fan-out and the read model.
 *
 * A channel per charger holds its subscribers and its state (the charger
 * model, model.c) with the snapshot text serialised from it, cached until
 * the next event. Publishing
 * is synchronous on the loop thread: the event updates the state, then
 * each subscriber's callback takes its own reference to the shared bytes (a
 * push queue, typically). Subscribers may unsubscribe (themselves or others)
 * from inside a callback: removal is deferred until the outermost publish
 * returns, so the lists being walked never change under the walker. */
#include "core/json.h"
#include "bus/bus.h"

#include "core/mem.h"
#include "log/log.h"
#include "core/datetime.h"

#include <string.h>
#include <uthash.h>

typedef struct chan chan_t;

struct fc_bus_sub {
  chan_t *chan; /* NULL: every charger */
  fc_bus_cb cb;
  void *arg;
  bool dead;
  fc_bus_sub_t *prev, *next, *dead_next;
};

struct chan {
  char id[49];
  bool seen; /* the charger has had an event: it has a snapshot */
  fc_bus_sub_t *subs;
  fc_charger_state_t state;
  char *snap_text; /* the state serialised; NULL until asked for */
  size_t snap_len;
  UT_hash_handle hh;
};

struct fc_bus {
  chan_t *chans;
  fc_bus_sub_t *all;
  int depth;
  fc_bus_sub_t *dead;
  uint64_t published;
};

fc_bus_t *fc_bus_new(void)
{
  return fc_calloc(1, sizeof(fc_bus_t));
}

static void chan_free(fc_bus_t *b, chan_t *c)
{
  HASH_DEL(b->chans, c);
  fc_model_cleanup(&c->state);
  free(c->snap_text);
  fc_free(c);
}

static void unlink_sub(fc_bus_t *b, fc_bus_sub_t *s)
{
  chan_t *c = s->chan;
  fc_bus_sub_t **head = c ? &c->subs : &b->all;
  if (s->prev)
    s->prev->next = s->next;
  else
    *head = s->next;
  if (s->next) s->next->prev = s->prev;
  fc_free(s);
  /* A channel made only by subscribers (a charger never seen, or the
   * system channel) goes with its last subscriber. */
  if (c && !c->subs && !c->seen) chan_free(b, c);
}

void fc_bus_free(fc_bus_t *b)
{
  if (!b) return;
  while (b->all)
    unlink_sub(b, b->all);
  chan_t *c, *tmp;
  HASH_ITER(hh, b->chans, c, tmp)
  {
    c->seen = true; /* freed here, not by unlink_sub */
    while (c->subs)
      unlink_sub(b, c->subs);
    chan_free(b, c);
  }
  fc_free(b);
}

static chan_t *chan_get(fc_bus_t *b, const char *charger, bool create)
{
  chan_t *c = NULL;
  HASH_FIND_STR(b->chans, charger, c);
  if (!c && create) {
    c = fc_calloc(1, sizeof(*c));
    snprintf(c->id, sizeof(c->id), "%s", charger);
    fc_model_init(&c->state, charger);
    HASH_ADD_STR(b->chans, id, c);
  }
  return c;
}

fc_bus_sub_t *fc_bus_subscribe(fc_bus_t *b, const char *charger, fc_bus_cb cb, void *arg)
{
  fc_bus_sub_t *s = fc_calloc(1, sizeof(*s));
  s->cb = cb;
  s->arg = arg;
  s->chan = charger ? chan_get(b, charger, true) : NULL;
  fc_bus_sub_t **head = s->chan ? &s->chan->subs : &b->all;
  s->next = *head;
  if (*head) (*head)->prev = s;
  *head = s;
  return s;
}

void fc_bus_unsubscribe(fc_bus_t *b, fc_bus_sub_t *s)
{
  if (!s || s->dead) return;
  s->dead = true;
  if (b->depth == 0) {
    unlink_sub(b, s);
  } else {
    s->dead_next = b->dead;
    b->dead = s;
  }
}

/* ---- the charger model ---- */

/* Folds one event (its data borrowed) into the charger's state. */
static void apply(chan_t *c, fc_event_type_t type, int connector, int64_t seq, long long ts_ms,
                  const json_t *data, int64_t new_tx)
{
  c->seen = true;
  fc_ev_t ev;
  bool typed = fc_ev_read(type, data, &ev);
  /* A new transaction's id is the writer's (see FC_OP_EVENT): the state
   * takes it as the serialised event has it. */
  if (typed && type == FC_EV_TX_STARTED && !ev.u.started.tx_id) ev.u.started.tx_id = new_tx;
  int64_t was = c->state.seq;
  bool changed = fc_model_apply(&c->state, type, connector, seq, ts_ms, typed ? &ev : NULL);
  if (changed || c->state.seq != was) {
    free(c->snap_text);
    c->snap_text = NULL;
  }
}

static void deliver(fc_bus_t *b, chan_t *c, fc_event_t *e)
{
  b->depth++;
  if (c) {
    for (fc_bus_sub_t *s = c->subs; s; s = s->next)
      if (!s->dead) s->cb(e, s->arg);
  }
  for (fc_bus_sub_t *s = b->all; s; s = s->next)
    if (!s->dead) s->cb(e, s->arg);
  if (--b->depth == 0) {
    while (b->dead) {
      fc_bus_sub_t *s = b->dead;
      b->dead = s->dead_next;
      unlink_sub(b, s);
    }
  }
  b->published++;
}

void fc_bus_publish(fc_bus_t *b, fc_event_t *e)
{
  chan_t *c = chan_get(b, e->charger, false); /* "": the system channel */
  deliver(b, c, e);
}

void fc_bus_publish_write(fc_bus_t *b, fc_write_t *w)
{
  size_t n = fc_write_count(w);
  int64_t tx_id = 0;
  for (size_t i = 0; i < n; i++) {
    fc_op_t *op = fc_write_op(w, i);
    if (op->kind == FC_OP_TX_START) tx_id = op->out.id;
    if (op->kind != FC_OP_EVENT || !op->out.text) continue;
    const fc_op_event_t *ev = &op->event;
    fc_event_type_t type = fc_event_type_parse(ev->type);
    chan_t *c = chan_get(b, op->charger, true);
    apply(c, type, ev->connector, op->out.id, ev->ts_ms, ev->data, tx_id);
    fc_event_t *e =
        fc_event_new(type, op->charger, ev->connector, op->out.id, op->out.text, op->out.len);
    deliver(b, c, e);
    fc_event_unref(e);
  }
}

/* ---- start-up ---- */

static void load_cb(const char *charger, int64_t seq, const char *json, void *arg)
{
  fc_bus_t *b = arg;
  chan_t *c = chan_get(b, charger, true);
  c->seen = true;
  if (json) {
    json_t *root = json_loads(json, 0, NULL);
    const char *type = NULL, *ts = NULL;
    json_int_t connector = 0, eseq = 0;
    json_t *data = NULL;
    long long ts_ms = 0;
    if (root &&
        json_unpack(root, "{s:s, s?:I, s?:I, s:s, s:o}", "type", &type, "connector", &connector,
                    "seq", &eseq, "ts", &ts, "data", &data) == 0 &&
        fc_datetime_parse(ts, &ts_ms) == 0)
      apply(c, fc_event_type_parse(type), (int)connector, eseq, ts_ms, data, 0);
    json_decref(root);
  }
  if (seq > c->state.seq) c->state.seq = seq;
  /* A process that just started has no charger connected. */
  c->state.online = false;
  free(c->snap_text);
  c->snap_text = NULL;
}

int fc_bus_load(fc_bus_t *b, fc_store_t *store)
{
  int rc = fc_store_load_latest_events(store, load_cb, b);
  if (rc == 0)
    fc_log(FC_LOG_INFO, NULL, "event=read_model_loaded chargers=%u", HASH_COUNT(b->chans));
  return rc;
}

const char *fc_bus_snapshot(fc_bus_t *b, const char *charger, size_t *len, int64_t *seq_out)
{
  chan_t *c = chan_get(b, charger, false);
  if (!c || !c->seen) return NULL;
  if (!c->snap_text) {
    json_t *snap = fc_model_json(&c->state);
    c->snap_text = json_dumps(snap, FC_JSON_DUMP);
    json_decref(snap);
    c->snap_len = strlen(c->snap_text);
  }
  if (len) *len = c->snap_len;
  if (seq_out) *seq_out = c->state.seq;
  return c->snap_text;
}

const fc_charger_state_t *fc_bus_state(fc_bus_t *b, const char *charger)
{
  chan_t *c = chan_get(b, charger, false);
  return c && c->seen ? &c->state : NULL;
}

void fc_bus_foreach(fc_bus_t *b, void (*cb)(const char *charger, void *arg), void *arg)
{
  chan_t *c, *tmp;
  HASH_ITER(hh, b->chans, c, tmp)
  {
    if (c->seen) cb(c->id, arg);
  }
}

char *fc_bus_snapshots(fc_bus_t *b, bool (*filter)(const char *charger, void *arg), void *arg,
                       size_t *len)
{
  json_t *arr = json_array();
  chan_t *c, *tmp;
  HASH_ITER(hh, b->chans, c, tmp)
  {
    if (c->seen && (!filter || filter(c->id, arg)))
      json_array_append_new(arr, fc_model_json(&c->state));
  }
  char *text = json_dumps(arr, FC_JSON_DUMP);
  json_decref(arr);
  *len = strlen(text);
  return text;
}

bool fc_bus_seen(fc_bus_t *b, const char *charger)
{
  chan_t *c = chan_get(b, charger, false);
  return c && c->seen;
}

size_t fc_bus_channels(const fc_bus_t *b)
{
  return HASH_COUNT(b->chans);
}

int64_t fc_bus_seq(fc_bus_t *b, const char *charger)
{
  chan_t *c = chan_get(b, charger, false);
  return c ? c->state.seq : 0;
}

uint64_t fc_bus_published(const fc_bus_t *b)
{
  return b->published;
}
