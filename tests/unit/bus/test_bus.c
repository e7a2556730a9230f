/* Unit tests for src/bus/event.c and src/bus/bus.c: the event type table,
 * events made and parsed, fc_bus_add, fan-out to subscribers (per charger,
 * all chargers, the system channel ""), unsubscribing from inside a
 * callback, and the read model kept by fc_bus_publish_write.
 *
 * Writes are built as the store's writer leaves them: each FC_OP_EVENT op
 * gets its out.id (the seq) and out.text/out.len (the serialised event, from
 * malloc) by hand; fc_write_free frees out.text (src/store/op.c). */
#include "bus/bus.h"
#include "ocpp/rpc.h" /* fc_datetime_format */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define T0 1795687200000LL /* 2026-11-26T10:00:00.000Z */

/* ---- the type table ------------------------------------------------------- */

static void test_type_names_round_trip(void **state)
{
  (void)state;
  static const struct {
    fc_event_type_t t;
    const char *name;
    bool is_state;
  } want[] = {
      {FC_EV_HELLO, "hello", false},
      {FC_EV_SNAPSHOT, "snapshot", false},
      {FC_EV_STATUS, "status", true},
      {FC_EV_METER, "meter", true},
      {FC_EV_TX_STARTED, "transaction.started", false},
      {FC_EV_TX_STOPPED, "transaction.stopped", false},
      {FC_EV_ENERGY, "energy", true},
      {FC_EV_COST, "cost", true},
      {FC_EV_PRECHARGE, "precharge", true},
      {FC_EV_ONLINE, "charger.online", false},
      {FC_EV_OFFLINE, "charger.offline", false},
      {FC_EV_COMMAND, "command", false},
      {FC_EV_LAGGED, "lagged", false},
      {FC_EV_ERROR, "error", false},
      {FC_EV_PONG, "pong", false},
      {FC_EV_DEGRADED, "system.degraded", false},
      {FC_EV_RECOVERED, "system.recovered", false},
  };
  assert_int_equal(sizeof(want) / sizeof(want[0]), FC_EV__COUNT - 1);
  for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
    assert_string_equal(fc_event_type_name(want[i].t), want[i].name);
    assert_int_equal(fc_event_type_parse(want[i].name), want[i].t);
    assert_int_equal(fc_event_type_is_state(want[i].t), want[i].is_state);
  }
  for (int t = FC_EV_NONE + 1; t < FC_EV__COUNT; t++)
    assert_int_equal(fc_event_type_parse(fc_event_type_name((fc_event_type_t)t)), t);

  assert_string_equal(fc_event_type_name(FC_EV_NONE), "");
  assert_string_equal(fc_event_type_name(FC_EV__COUNT), "");
  assert_string_equal(fc_event_type_name((fc_event_type_t)(FC_EV__COUNT + 7)), "");
  assert_false(fc_event_type_is_state(FC_EV_NONE));
  assert_false(fc_event_type_is_state(FC_EV__COUNT));
  assert_false(fc_event_type_is_state((fc_event_type_t)(FC_EV__COUNT + 7)));

  static const char *const unknown[] = {"",        "Meter",  "meter ", "meterx", "transaction",
                                        "charger", "system", "*",      "none"};
  for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
    assert_int_equal(fc_event_type_parse(unknown[i]), FC_EV_NONE);
}

/* ---- events ------------------------------------------------------------------ */

static void test_event_new(void **state)
{
  (void)state;
  const char json[] = "{\"type\":\"meter\"}xyz";
  fc_event_t *e = fc_event_new(FC_EV_METER, "CP1", 2, 42, json, 16);
  assert_int_equal(e->refs, 1);
  assert_int_equal(e->type, FC_EV_METER);
  assert_int_equal(e->connector, 2);
  assert_int_equal(e->seq, 42);
  assert_string_equal(e->charger, "CP1");
  assert_int_equal(e->len, 16);
  assert_string_equal(e->json, "{\"type\":\"meter\"}"); /* copied, NUL-terminated */
  assert_ptr_equal(fc_event_ref(e), e);
  assert_int_equal(e->refs, 2);
  fc_event_unref(e);
  assert_int_equal(e->refs, 1);
  fc_event_unref(e);
  fc_event_unref(NULL);

  e = fc_event_new(FC_EV_DEGRADED, NULL, 0, 0, "{}", 2);
  assert_string_equal(e->charger, "");
  fc_event_unref(e);

  char longid[80];
  memset(longid, 'A', sizeof(longid) - 1);
  longid[sizeof(longid) - 1] = '\0';
  e = fc_event_new(FC_EV_STATUS, longid, 1, 1, "", 0);
  assert_int_equal(strlen(e->charger), 48); /* truncated to the field */
  assert_int_equal(e->len, 0);
  assert_string_equal(e->json, "");
  fc_event_unref(e);
}

/* The extension slot: empty on a new event, the bus never touches it, and
 * its destructor runs once, when the last reference goes. */
static int ext_freed;
static void ext_free_cb(void *ext)
{
  assert_ptr_equal(ext, &ext_freed);
  ext_freed++;
}

static void test_event_ext(void **state)
{
  (void)state;
  fc_event_t *e = fc_event_new(FC_EV_METER, "CP1", 1, 7, "{}", 2);
  assert_null(e->ext);
  assert_null(e->ext_free);
  fc_event_unref(e); /* no destructor: nothing to run */

  e = fc_event_new(FC_EV_METER, "CP1", 1, 7, "{}", 2);
  e->ext = &ext_freed;
  e->ext_free = ext_free_cb;
  fc_event_ref(e);
  fc_event_unref(e);
  assert_int_equal(ext_freed, 0);
  fc_event_unref(e);
  assert_int_equal(ext_freed, 1);
}

static void test_event_from_json(void **state)
{
  (void)state;
  const char *full = "{\"type\":\"meter\",\"charger\":\"CP1\",\"connector\":1,\"seq\":42,"
                     "\"ts\":\"2026-11-26T10:00:00.000Z\",\"data\":{\"power\":7000}}";
  fc_event_t *e = fc_event_from_json(full, strlen(full));
  assert_non_null(e);
  assert_int_equal(e->type, FC_EV_METER);
  assert_string_equal(e->charger, "CP1");
  assert_int_equal(e->connector, 1);
  assert_int_equal(e->seq, 42);
  assert_int_equal(e->len, strlen(full));
  assert_string_equal(e->json, full);
  assert_int_equal(e->refs, 1);
  fc_event_unref(e);

  /* connector and seq are optional (0) */
  const char *min = "{\"type\":\"transaction.stopped\",\"charger\":\"CP9\"}";
  e = fc_event_from_json(min, strlen(min));
  assert_non_null(e);
  assert_int_equal(e->type, FC_EV_TX_STOPPED);
  assert_int_equal(e->connector, 0);
  assert_int_equal(e->seq, 0);
  fc_event_unref(e);

  /* only len bytes are read */
  const char *twice = "{\"type\":\"status\",\"charger\":\"A\",\"seq\":5}GARBAGE";
  size_t n = strlen(twice) - strlen("GARBAGE");
  e = fc_event_from_json(twice, n);
  assert_non_null(e);
  assert_int_equal(e->seq, 5);
  assert_int_equal(e->len, n);
  assert_int_equal(strlen(e->json), n);
  fc_event_unref(e);

  /* a system event */
  const char *sys = "{\"type\":\"system.degraded\",\"charger\":\"\",\"seq\":0}";
  e = fc_event_from_json(sys, strlen(sys));
  assert_non_null(e);
  assert_int_equal(e->type, FC_EV_DEGRADED);
  assert_string_equal(e->charger, "");
  fc_event_unref(e);

  static const char *const bad[] = {
      "",
      "not json",
      "[]",
      "\"meter\"",
      "{}",
      "{\"charger\":\"CP1\",\"seq\":1}",                            /* no type */
      "{\"type\":\"meter\",\"seq\":1}",                             /* no charger */
      "{\"type\":\"bogus\",\"charger\":\"CP1\",\"seq\":1}",         /* unknown type */
      "{\"type\":\"\",\"charger\":\"CP1\"}",                        /* empty type */
      "{\"type\":7,\"charger\":\"CP1\"}",                           /* not a string */
      "{\"type\":\"meter\",\"charger\":null}",                      /* not a string */
      "{\"type\":\"meter\",\"charger\":\"CP1\",\"seq\":\"42\"}",    /* seq not an integer */
      "{\"type\":\"meter\",\"charger\":\"CP1\",\"connector\":1.5}", /* not an integer */
      "{\"type\":\"meter\",\"charger\":\"CP1\"",                    /* truncated */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    e = fc_event_from_json(bad[i], strlen(bad[i]));
    if (e) {
      print_error("accepted %s\n", bad[i]);
      fc_event_unref(e);
      fail();
    }
  }
}

static void test_bus_add(void **state)
{
  (void)state;
  fc_write_t *w = fc_write_new();
  json_t *data = json_pack("{s:i}", "power", 7000);
  fc_op_t *op = fc_bus_add(w, FC_EV_METER, "CP1", 2, data, T0, false);
  assert_int_equal(op->kind, FC_OP_EVENT);
  assert_string_equal(op->charger, "CP1");
  assert_string_equal(op->event.type, "meter");
  assert_int_equal(op->event.connector, 2);
  assert_int_equal(op->event.ts_ms, T0);
  assert_false(op->event.late);
  assert_false(op->event.skip_repeat);
  assert_false(op->event.take_tx_id);
  assert_ptr_equal(op->event.data, data);
  assert_int_equal(data->refcount, 1); /* stolen: the op's reference only */
  assert_null(json_object_get(data, "late"));

  op =
      fc_bus_add(w, FC_EV_STATUS, "CP1", 1, json_pack("{s:s}", "status", "Charging"), T0 - 5, true);
  assert_true(op->event.late);
  assert_true(json_is_true(json_object_get(op->event.data, "late")));
  assert_string_equal(json_string_value(json_object_get(op->event.data, "status")), "Charging");

  op = fc_bus_add(w, FC_EV_ONLINE, "CP2", 0, NULL, T0, false);
  assert_true(json_is_object(op->event.data));
  assert_int_equal(json_object_size(op->event.data), 0);
  assert_string_equal(op->event.type, "charger.online");

  /* "transactionId": null asks for the write's new transaction's id */
  op = fc_bus_add(w, FC_EV_TX_STARTED, "CP2", 1, json_pack("{s:n}", "transactionId"), T0, false);
  assert_true(op->event.take_tx_id);
  assert_int_equal(fc_write_count(w), 4);
  fc_write_free(w);
}

/* ---- fan-out ------------------------------------------------------------------ */

#define REC_MAX 64

typedef struct rec {
  const char *name;
  int n;
  int64_t seqs[REC_MAX];
  char chargers[REC_MAX][49];
  fc_event_type_t types[REC_MAX];
  /* an action to take in the callback */
  fc_bus_t *bus;
  fc_bus_sub_t *self;
  fc_bus_sub_t *other; /* to unsubscribe */
  bool unsub_self, unsub_other;
  bool twice;            /* unsubscribe the same one twice */
  fc_event_t *republish; /* publish this from inside (once) */
  struct rec *sub_new;   /* subscribe this one to "CP1" from inside (once) */
  fc_bus_sub_t *sub_new_handle;
} rec_t;

static void rec_cb(fc_event_t *e, void *arg)
{
  rec_t *r = arg;
  assert_true(r->n < REC_MAX);
  assert_true(e->refs >= 1);
  r->seqs[r->n] = e->seq;
  r->types[r->n] = e->type;
  snprintf(r->chargers[r->n], sizeof(r->chargers[0]), "%s", e->charger);
  r->n++;
  if (r->unsub_self) {
    fc_bus_unsubscribe(r->bus, r->self);
    if (r->twice) fc_bus_unsubscribe(r->bus, r->self);
    r->unsub_self = false;
    r->self = NULL;
  }
  if (r->unsub_other) {
    fc_bus_unsubscribe(r->bus, r->other);
    if (r->twice) fc_bus_unsubscribe(r->bus, r->other);
    r->unsub_other = false;
    r->other = NULL;
  }
  if (r->sub_new) {
    r->sub_new_handle = fc_bus_subscribe(r->bus, "CP1", rec_cb, r->sub_new);
    r->sub_new = NULL;
  }
  if (r->republish) {
    fc_event_t *x = r->republish;
    r->republish = NULL;
    fc_bus_publish(r->bus, x);
  }
}

static fc_event_t *mk(fc_event_type_t type, const char *charger, int64_t seq)
{
  char json[160];
  int n = snprintf(json, sizeof(json),
                   "{\"type\":\"%s\",\"charger\":\"%s\",\"connector\":0,\"seq\":%lld,\"data\":{}}",
                   fc_event_type_name(type), charger, (long long)seq);
  return fc_event_new(type, charger, 0, seq, json, (size_t)n);
}

static void pub(fc_bus_t *b, fc_event_type_t type, const char *charger, int64_t seq)
{
  fc_event_t *e = mk(type, charger, seq);
  fc_bus_publish(b, e);
  assert_int_equal(e->refs, 1); /* the bus keeps no reference */
  fc_event_unref(e);
}

static void test_publish_reaches_subscribers(void **state)
{
  (void)state;
  fc_bus_t *b = fc_bus_new();
  rec_t cp1 = {.name = "cp1"}, cp1b = {.name = "cp1b"}, cp2 = {.name = "cp2"},
        all = {.name = "all"}, all2 = {.name = "all2"}, sys = {.name = "sys"};
  fc_bus_sub_t *s_cp1 = fc_bus_subscribe(b, "CP1", rec_cb, &cp1);
  fc_bus_sub_t *s_cp1b = fc_bus_subscribe(b, "CP1", rec_cb, &cp1b);
  fc_bus_sub_t *s_cp2 = fc_bus_subscribe(b, "CP2", rec_cb, &cp2);
  fc_bus_sub_t *s_all = fc_bus_subscribe(b, NULL, rec_cb, &all);
  fc_bus_sub_t *s_all2 = fc_bus_subscribe(b, NULL, rec_cb, &all2);
  fc_bus_sub_t *s_sys = fc_bus_subscribe(b, "", rec_cb, &sys);
  assert_non_null(s_cp1);
  assert_non_null(s_cp1b);
  assert_non_null(s_cp2);
  assert_non_null(s_all);
  assert_non_null(s_all2);
  assert_non_null(s_sys);
  assert_int_equal(fc_bus_published(b), 0);

  pub(b, FC_EV_METER, "CP1", 1);
  assert_int_equal(cp1.n, 1);
  assert_int_equal(cp1b.n, 1);
  assert_int_equal(cp2.n, 0);
  assert_int_equal(all.n, 1);
  assert_int_equal(all2.n, 1);
  assert_int_equal(sys.n, 0);
  assert_int_equal(cp1.seqs[0], 1);
  assert_string_equal(all.chargers[0], "CP1");

  pub(b, FC_EV_STATUS, "CP2", 7);
  assert_int_equal(cp1.n, 1);
  assert_int_equal(cp2.n, 1);
  assert_int_equal(cp2.types[0], FC_EV_STATUS);
  assert_int_equal(all.n, 2);
  assert_int_equal(sys.n, 0);

  /* a charger no one subscribed to: the "all" ones only */
  pub(b, FC_EV_METER, "CP3", 1);
  assert_int_equal(cp1.n + cp1b.n + cp2.n + sys.n, 1 + 1 + 1 + 0);
  assert_int_equal(all.n, 3);
  assert_int_equal(all2.n, 3);
  /* a charger id that is a prefix / extension of a subscribed one */
  pub(b, FC_EV_METER, "CP", 1);
  pub(b, FC_EV_METER, "CP10", 1);
  assert_int_equal(cp1.n, 1);
  assert_int_equal(all.n, 5);

  /* the system channel "" */
  pub(b, FC_EV_DEGRADED, "", 0);
  assert_int_equal(sys.n, 1);
  assert_int_equal(sys.types[0], FC_EV_DEGRADED);
  assert_int_equal(all.n, 6);
  assert_int_equal(cp1.n, 1);
  assert_int_equal(cp2.n, 1);
  assert_int_equal(fc_bus_published(b), 6);

  /* unsubscribing: per charger, and for all */
  fc_bus_unsubscribe(b, s_cp1);
  fc_bus_unsubscribe(b, s_all);
  fc_bus_unsubscribe(b, NULL);
  pub(b, FC_EV_METER, "CP1", 2);
  assert_int_equal(cp1.n, 1);
  assert_int_equal(cp1b.n, 2);
  assert_int_equal(all.n, 6);
  assert_int_equal(all2.n, 7);
  fc_bus_unsubscribe(b, s_sys);
  pub(b, FC_EV_RECOVERED, "", 0);
  assert_int_equal(sys.n, 1);
  assert_int_equal(all2.n, 8);

  /* resubscribing works, and the bus frees the remaining subscriptions */
  fc_bus_sub_t *again = fc_bus_subscribe(b, "CP1", rec_cb, &cp1);
  assert_non_null(again);
  pub(b, FC_EV_METER, "CP1", 3);
  assert_int_equal(cp1.n, 2);
  assert_int_equal(cp1.seqs[1], 3);
  fc_bus_free(b);
  fc_bus_free(NULL);
}

static void test_unsubscribe_self_in_callback(void **state)
{
  (void)state;
  fc_bus_t *b = fc_bus_new();
  rec_t a = {.bus = b, .unsub_self = true}, c = {.bus = b, .unsub_self = true, .twice = true},
        keep = {.bus = b};
  fc_bus_subscribe(b, "CP1", rec_cb, &keep);
  a.self = fc_bus_subscribe(b, "CP1", rec_cb, &a);
  c.self = fc_bus_subscribe(b, NULL, rec_cb, &c);
  fc_bus_subscribe(b, "CP1", rec_cb, &keep);
  pub(b, FC_EV_METER, "CP1", 1);
  assert_int_equal(a.n, 1);
  assert_int_equal(c.n, 1);
  assert_int_equal(keep.n, 2);
  pub(b, FC_EV_METER, "CP1", 2);
  pub(b, FC_EV_METER, "CP2", 1);
  assert_int_equal(a.n, 1);
  assert_int_equal(c.n, 1);
  assert_int_equal(keep.n, 4);
  fc_bus_free(b);
}

static void test_unsubscribe_other_in_callback(void **state)
{
  (void)state;
  fc_bus_t *b = fc_bus_new();
  /* Every order of the two in their lists: the victim subscribed before and
   * after the one that removes it, on the same channel and on "all". */
  for (int variant = 0; variant < 4; variant++) {
    rec_t killer = {.bus = b, .unsub_other = true, .twice = variant == 3}, victim = {.bus = b};
    fc_bus_sub_t *ks = NULL, *vs = NULL;
    const char *vch = (variant & 1) ? NULL : "CP1";
    if (variant < 2) {
      vs = fc_bus_subscribe(b, vch, rec_cb, &victim);
      ks = fc_bus_subscribe(b, "CP1", rec_cb, &killer);
    } else {
      ks = fc_bus_subscribe(b, "CP1", rec_cb, &killer);
      vs = fc_bus_subscribe(b, vch, rec_cb, &victim);
    }
    killer.other = vs;
    pub(b, FC_EV_METER, "CP1", 1);
    assert_int_equal(killer.n, 1);
    assert_true(victim.n <= 1); /* may or may not have had this one */
    int before = victim.n;
    pub(b, FC_EV_METER, "CP1", 2);
    pub(b, FC_EV_STATUS, "CP1", 3);
    assert_int_equal(victim.n, before); /* nothing after */
    assert_int_equal(killer.n, 3);
    fc_bus_unsubscribe(b, ks);
  }
  fc_bus_free(b);
}

/* From a nested publish (a callback that publishes): removal waits for the
 * outermost publish; later events skip the removed one. */
static void test_unsubscribe_in_nested_publish(void **state)
{
  (void)state;
  fc_bus_t *b = fc_bus_new();
  rec_t outer = {.bus = b}, inner = {.bus = b, .unsub_self = false}, watcher = {.bus = b};
  fc_bus_subscribe(b, NULL, rec_cb, &watcher);
  inner.self = fc_bus_subscribe(b, "CP2", rec_cb, &inner);
  inner.unsub_self = true;
  fc_bus_subscribe(b, "CP1", rec_cb, &outer);
  outer.republish = mk(FC_EV_METER, "CP2", 1);
  fc_event_t *x = outer.republish;
  pub(b, FC_EV_METER, "CP1", 1);
  assert_int_equal(outer.n, 1);
  assert_int_equal(inner.n, 1);
  assert_int_equal(watcher.n, 2);
  fc_event_unref(x);
  pub(b, FC_EV_METER, "CP2", 2);
  assert_int_equal(inner.n, 1);
  assert_int_equal(watcher.n, 3);
  assert_int_equal(fc_bus_published(b), 3);
  fc_bus_free(b);
}

static void test_subscribe_in_callback(void **state)
{
  (void)state;
  fc_bus_t *b = fc_bus_new();
  rec_t first = {.bus = b}, late = {.bus = b};
  first.sub_new = &late;
  fc_bus_subscribe(b, "CP1", rec_cb, &first);
  pub(b, FC_EV_METER, "CP1", 1);
  assert_non_null(first.sub_new_handle);
  assert_true(late.n <= 1);
  int before = late.n;
  pub(b, FC_EV_METER, "CP1", 2);
  assert_int_equal(late.n, before + 1);
  assert_int_equal(late.seqs[late.n - 1], 2);
  fc_bus_free(b);
}

/* ---- the read model ------------------------------------------------------------ */

/* Adds an event to w as fc_bus_add does, then fills in what the store's
 * writer would: the seq and the serialised event (malloc'd). */
static fc_op_t *add_ev(fc_write_t *w, fc_event_type_t type, const char *charger, int connector,
                       json_t *data, long long ts_ms, bool late, int64_t seq)
{
  fc_op_t *op = fc_bus_add(w, type, charger, connector, data, ts_ms, late);
  char ts[32];
  fc_datetime_format(ts_ms, ts, sizeof(ts));
  json_t *ev = json_pack("{s:s, s:s, s:i, s:I, s:s, s:O}", "type", fc_event_type_name(type),
                         "charger", charger, "connector", connector, "seq", (json_int_t)seq, "ts",
                         ts, "data", op->event.data);
  assert_non_null(ev);
  op->out.id = seq;
  op->out.text = json_dumps(ev, JSON_COMPACT | JSON_PRESERVE_ORDER);
  op->out.len = strlen(op->out.text);
  json_decref(ev);
  return op;
}

/* One event in a write of its own, published. */
static void publish1(fc_bus_t *b, fc_event_type_t type, const char *charger, int connector,
                     json_t *data, long long ts_ms, bool late, int64_t seq)
{
  fc_write_t *w = fc_write_new();
  add_ev(w, type, charger, connector, data, ts_ms, late, seq);
  fc_bus_publish_write(b, w);
  fc_write_free(w); /* frees out.text too */
}

/* The charger's snapshot, parsed; checks the text against len and seq_out. */
static json_t *snap(fc_bus_t *b, const char *charger, int64_t *seq_out)
{
  size_t len = 0;
  int64_t seq = -1;
  const char *text = fc_bus_snapshot(b, charger, &len, &seq);
  assert_non_null(text);
  assert_int_equal(strlen(text), len);
  json_error_t err;
  json_t *v = json_loadb(text, len, 0, &err);
  assert_non_null(v);
  if (seq_out) *seq_out = seq;
  return v;
}

static json_t *conn_of(json_t *s, int connector)
{
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(s, "connectors"), i, c)
  {
    if (json_integer_value(json_object_get(c, "connectorId")) == connector) return c;
  }
  return NULL;
}

static void test_snapshot_shape(void **state)
{
  (void)state;
  fc_bus_t *b = fc_bus_new();
  assert_null(fc_bus_snapshot(b, "CP1", NULL, NULL));
  assert_int_equal(fc_bus_seq(b, "CP1"), 0);

  publish1(b, FC_EV_ONLINE, "CP1", 0, NULL, T0, false, 1);
  int64_t seq = 0;
  json_t *s = snap(b, "CP1", &seq);
  assert_int_equal(seq, 1);
  assert_int_equal(json_object_size(s), 5);
  assert_string_equal(json_string_value(json_object_get(s, "id")), "CP1");
  assert_true(json_is_true(json_object_get(s, "online")));
  assert_int_equal(json_integer_value(json_object_get(s, "seq")), 1);
  assert_string_equal(json_string_value(json_object_get(s, "lastSeen")),
                      "2026-11-26T10:00:00.000Z");
  assert_true(json_is_array(json_object_get(s, "connectors")));
  assert_int_equal(json_array_size(json_object_get(s, "connectors")), 0);
  json_decref(s);

  /* connectors come sorted by connectorId whatever the order they appear in */
  static const int order[] = {2, 1, 3, 0};
  for (int i = 0; i < 4; i++)
    publish1(b, FC_EV_STATUS, "CP1", order[i],
             json_pack("{s:s, s:s}", "status", "Available", "errorCode", "NoError"),
             T0 + 1000 * (i + 1), false, 2 + i);
  s = snap(b, "CP1", &seq);
  assert_int_equal(seq, 5);
  json_t *conns = json_object_get(s, "connectors");
  assert_int_equal(json_array_size(conns), 4);
  for (int i = 0; i < 4; i++) {
    json_t *c = json_array_get(conns, (size_t)i);
    assert_int_equal(json_integer_value(json_object_get(c, "connectorId")), i);
    assert_string_equal(json_string_value(json_object_get(c, "status")), "Available");
    assert_string_equal(json_string_value(json_object_get(c, "errorCode")), "NoError");
    assert_true(json_is_string(json_object_get(c, "statusAt")));
    assert_true(json_is_null(json_object_get(c, "meter")));
    assert_true(json_is_null(json_object_get(c, "transaction")));
  }
  assert_string_equal(json_string_value(json_object_get(conn_of(s, 2), "statusAt")),
                      "2026-11-26T10:00:01.000Z");
  json_decref(s);

  /* a status change, then meter readings merge into "meter" */
  publish1(b, FC_EV_STATUS, "CP1", 1,
           json_pack("{s:s, s:s}", "status", "Charging", "errorCode", "NoError"), T0 + 10000, false,
           6);
  publish1(b, FC_EV_METER, "CP1", 1, json_pack("{s:f, s:f}", "voltage", 230.0, "power", 7000.0),
           T0 + 11000, false, 7);
  publish1(b, FC_EV_METER, "CP1", 1, json_pack("{s:f, s:f}", "power", 7100.0, "energyWh", 5.0),
           T0 + 12000, false, 8);
  s = snap(b, "CP1", &seq);
  assert_int_equal(seq, 8);
  json_t *c1 = conn_of(s, 1);
  assert_string_equal(json_string_value(json_object_get(c1, "status")), "Charging");
  assert_string_equal(json_string_value(json_object_get(c1, "statusAt")),
                      "2026-11-26T10:00:10.000Z");
  json_t *m = json_object_get(c1, "meter");
  assert_true(json_is_object(m));
  assert_true(json_number_value(json_object_get(m, "voltage")) == 230.0);
  assert_true(json_number_value(json_object_get(m, "power")) == 7100.0);
  assert_true(json_number_value(json_object_get(m, "energyWh")) == 5.0);
  assert_string_equal(json_string_value(json_object_get(m, "ts")), "2026-11-26T10:00:12.000Z");
  assert_true(json_is_null(json_object_get(conn_of(s, 2), "meter")));
  json_decref(s);

  /* offline, then online */
  publish1(b, FC_EV_OFFLINE, "CP1", 0, NULL, T0 + 60000, false, 9);
  s = snap(b, "CP1", NULL);
  assert_true(json_is_false(json_object_get(s, "online")));
  assert_string_equal(json_string_value(json_object_get(s, "lastSeen")),
                      "2026-11-26T10:01:00.000Z");
  json_decref(s);
  publish1(b, FC_EV_ONLINE, "CP1", 0, NULL, T0 + 61000, false, 10);
  s = snap(b, "CP1", NULL);
  assert_true(json_is_true(json_object_get(s, "online")));
  assert_string_equal(json_string_value(json_object_get(s, "lastSeen")),
                      "2026-11-26T10:01:01.000Z");
  assert_int_equal(json_array_size(json_object_get(s, "connectors")), 4);
  json_decref(s);
  assert_int_equal(fc_bus_seq(b, "CP1"), 10);
  assert_null(fc_bus_snapshot(b, "CP2", NULL, NULL));
  fc_bus_free(b);
}

/* A late event (data "late": true) is delivered and moves the seq, but
 * changes no state — and the snapshot text reflects the new seq. */
static void test_late_events(void **state)
{
  (void)state;
  fc_bus_t *b = fc_bus_new();
  rec_t r = {.bus = b};
  fc_bus_subscribe(b, "CP1", rec_cb, &r);
  publish1(b, FC_EV_ONLINE, "CP1", 0, NULL, T0, false, 1);
  publish1(b, FC_EV_STATUS, "CP1", 1,
           json_pack("{s:s, s:s}", "status", "Charging", "errorCode", "NoError"), T0 + 1000, false,
           2);
  publish1(b, FC_EV_METER, "CP1", 1, json_pack("{s:f}", "power", 7000.0), T0 + 2000, false, 3);
  json_t *before = snap(b, "CP1", NULL);

  publish1(b, FC_EV_STATUS, "CP1", 1,
           json_pack("{s:s, s:s}", "status", "Faulted", "errorCode", "GroundFailure"), T0 - 5000,
           true, 4);
  publish1(b, FC_EV_METER, "CP1", 1, json_pack("{s:f}", "power", 1.0), T0 - 4000, true, 5);
  publish1(b, FC_EV_OFFLINE, "CP1", 0, NULL, T0 - 3000, true, 6);
  publish1(b, FC_EV_PRECHARGE, "CP1", 1, json_pack("{s:i}", "soc", 5), T0 - 3000, true, 7);
  assert_int_equal(r.n, 7); /* delivered all the same */
  assert_int_equal(fc_bus_seq(b, "CP1"), 7);

  int64_t seq = 0;
  json_t *after = snap(b, "CP1", &seq);
  assert_int_equal(seq, 7);
  json_int_t text_seq = json_integer_value(json_object_get(after, "seq"));
  /* everything but the seq as before */
  json_object_set_new(before, "seq", json_integer(7));
  json_object_set_new(after, "seq", json_integer(7));
  bool same = json_equal(before, after);
  json_decref(before);
  json_decref(after);
  fc_bus_free(b);
  assert_true(same);
  /* The snapshot text reflects the seq it is reported with (*seq_out). */
  assert_int_equal(text_seq, 7);
}

static void test_transactions(void **state)
{
  (void)state;
  fc_bus_t *b = fc_bus_new();
  publish1(b, FC_EV_TX_STARTED, "CP1", 1,
           json_pack("{s:i, s:s, s:i}", "transactionId", 7, "idTag", "ABC", "meterStart", 100), T0,
           false, 1);
  json_t *s = snap(b, "CP1", NULL);
  json_t *tx = json_object_get(conn_of(s, 1), "transaction");
  assert_true(json_is_object(tx));
  assert_int_equal(json_integer_value(json_object_get(tx, "transactionId")), 7);
  assert_string_equal(json_string_value(json_object_get(tx, "idTag")), "ABC");
  assert_int_equal(json_integer_value(json_object_get(tx, "meterStart")), 100);
  json_decref(s);

  /* energy and cost of that transaction go into it */
  publish1(b, FC_EV_ENERGY, "CP1", 1, json_pack("{s:i, s:i}", "transactionId", 7, "energyWh", 1200),
           T0 + 1000, false, 2);
  publish1(b, FC_EV_COST, "CP1", 1, json_pack("{s:i, s:f}", "transactionId", 7, "cost", 0.42),
           T0 + 1000, false, 3);
  /* another transaction's: ignored */
  publish1(b, FC_EV_ENERGY, "CP1", 1, json_pack("{s:i, s:i}", "transactionId", 8, "energyWh", 99),
           T0 + 2000, false, 4);
  /* on another connector (no transaction there): ignored */
  publish1(b, FC_EV_ENERGY, "CP1", 2, json_pack("{s:i, s:i}", "transactionId", 7, "energyWh", 98),
           T0 + 2000, false, 5);
  s = snap(b, "CP1", NULL);
  tx = json_object_get(conn_of(s, 1), "transaction");
  assert_int_equal(json_integer_value(json_object_get(tx, "transactionId")), 7);
  assert_true(json_number_value(json_object_get(tx, "energyWh")) == 1200); /* a double */
  assert_true(json_number_value(json_object_get(tx, "cost")) == 0.42);
  assert_string_equal(json_string_value(json_object_get(tx, "idTag")), "ABC");
  assert_true(json_is_null(json_object_get(conn_of(s, 2), "transaction")));
  json_decref(s);

  /* a stop of another transaction leaves this one */
  publish1(b, FC_EV_TX_STOPPED, "CP1", 1,
           json_pack("{s:i, s:i}", "transactionId", 8, "meterStop", 500), T0 + 3000, false, 6);
  s = snap(b, "CP1", NULL);
  tx = json_object_get(conn_of(s, 1), "transaction");
  assert_true(json_is_object(tx));
  assert_int_equal(json_integer_value(json_object_get(tx, "transactionId")), 7);
  json_decref(s);

  /* its own stop ends it */
  publish1(b, FC_EV_TX_STOPPED, "CP1", 1,
           json_pack("{s:i, s:i}", "transactionId", 7, "meterStop", 1300), T0 + 4000, false, 7);
  s = snap(b, "CP1", NULL);
  assert_true(json_is_null(json_object_get(conn_of(s, 1), "transaction")));
  json_decref(s);

  /* energy after the stop changes nothing */
  publish1(b, FC_EV_ENERGY, "CP1", 1, json_pack("{s:i, s:i}", "transactionId", 7, "energyWh", 5),
           T0 + 5000, false, 8);
  s = snap(b, "CP1", NULL);
  assert_true(json_is_null(json_object_get(conn_of(s, 1), "transaction")));
  json_decref(s);

  /* a late start changes nothing */
  publish1(b, FC_EV_TX_STARTED, "CP1", 1, json_pack("{s:i}", "transactionId", 6), T0 - 1000, true,
           9);
  s = snap(b, "CP1", NULL);
  assert_true(json_is_null(json_object_get(conn_of(s, 1), "transaction")));
  json_decref(s);
  assert_int_equal(fc_bus_seq(b, "CP1"), 9);
  fc_bus_free(b);
}

static void test_snapshot_cache(void **state)
{
  (void)state;
  fc_bus_t *b = fc_bus_new();
  publish1(b, FC_EV_STATUS, "CP1", 1,
           json_pack("{s:s, s:s}", "status", "Available", "errorCode", "NoError"), T0, false, 1);
  size_t len1 = 0, len2 = 0;
  const char *t1 = fc_bus_snapshot(b, "CP1", &len1, NULL);
  const char *t2 = fc_bus_snapshot(b, "CP1", &len2, NULL);
  assert_non_null(t1);
  assert_ptr_equal(t1, t2); /* cached */
  assert_int_equal(len1, len2);
  char *old = strdup(t1);

  /* an event that changes nothing in the model (a command) keeps it only if
   * the text is still right; a change makes a new text */
  publish1(b, FC_EV_STATUS, "CP1", 1,
           json_pack("{s:s, s:s}", "status", "Preparing", "errorCode", "NoError"), T0 + 1000, false,
           2);
  size_t len3 = 0;
  const char *t3 = fc_bus_snapshot(b, "CP1", &len3, NULL);
  /* Not asserting t3 != t1: the freed text's block may be reused. */
  assert_string_not_equal(t3, old);
  assert_non_null(strstr(t3, "Preparing"));
  assert_int_equal(strlen(t3), len3);
  assert_ptr_equal(fc_bus_snapshot(b, "CP1", NULL, NULL), t3);

  /* another charger's event leaves this text alone */
  publish1(b, FC_EV_ONLINE, "CP2", 0, NULL, T0, false, 1);
  assert_ptr_equal(fc_bus_snapshot(b, "CP1", NULL, NULL), t3);
  free(old);
  fc_bus_free(b);
}

/* Events that change no state but carry a newer seq (command, late ones):
 * the cached text must not keep the old seq. */
static void test_snapshot_cache_seq(void **state)
{
  (void)state;
  fc_bus_t *b = fc_bus_new();
  publish1(b, FC_EV_ONLINE, "CP1", 0, NULL, T0, false, 1);
  (void)fc_bus_snapshot(b, "CP1", NULL, NULL); /* cache it */
  publish1(b, FC_EV_COMMAND, "CP1", 0,
           json_pack("{s:s, s:s}", "action", "Reset", "status", "Accepted"), T0 + 1000, false, 2);
  int64_t seq = 0;
  json_t *s = snap(b, "CP1", &seq);
  json_int_t text_seq = json_integer_value(json_object_get(s, "seq"));
  json_decref(s);
  fc_bus_free(b);
  assert_int_equal(seq, 2);
  assert_int_equal(text_seq, 2);
}

static bool only_odd(const char *charger, void *arg)
{
  int *calls = arg;
  (*calls)++;
  size_t n = strlen(charger);
  return n > 0 && ((charger[n - 1] - '0') % 2) == 1;
}

static void test_snapshots_filter(void **state)
{
  (void)state;
  fc_bus_t *b = fc_bus_new();
  size_t len = 0;
  char *all = fc_bus_snapshots(b, NULL, NULL, &len);
  assert_string_equal(all, "[]");
  assert_int_equal(len, 2);
  free(all);

  publish1(b, FC_EV_ONLINE, "CP1", 0, NULL, T0, false, 1);
  publish1(b, FC_EV_ONLINE, "CP2", 0, NULL, T0, false, 1);
  publish1(b, FC_EV_ONLINE, "CP3", 0, NULL, T0, false, 4);

  all = fc_bus_snapshots(b, NULL, NULL, &len);
  assert_int_equal(strlen(all), len);
  json_t *arr = json_loads(all, 0, NULL);
  free(all);
  assert_int_equal(json_array_size(arr), 3);
  bool seen[4] = {false};
  size_t i;
  json_t *v;
  json_array_foreach(arr, i, v)
  {
    const char *id = json_string_value(json_object_get(v, "id"));
    assert_non_null(id);
    assert_int_equal(strncmp(id, "CP", 2), 0);
    seen[id[2] - '0'] = true;
    /* the same JSON as the charger's own snapshot */
    json_t *one = snap(b, id, NULL);
    assert_true(json_equal(one, v));
    json_decref(one);
  }
  assert_true(seen[1] && seen[2] && seen[3]);
  json_decref(arr);

  int calls = 0;
  char *some = fc_bus_snapshots(b, only_odd, &calls, &len);
  assert_int_equal(calls, 3);
  arr = json_loads(some, 0, NULL);
  free(some);
  assert_int_equal(json_array_size(arr), 2);
  json_array_foreach(arr, i, v)
  {
    const char *id = json_string_value(json_object_get(v, "id"));
    assert_true(!strcmp(id, "CP1") || !strcmp(id, "CP3"));
  }
  json_decref(arr);

  fc_bus_free(b);
}

/* fc_bus_seq: the highest seq seen; an older one does not lower it. */
static void test_seq(void **state)
{
  (void)state;
  fc_bus_t *b = fc_bus_new();
  assert_int_equal(fc_bus_seq(b, "CP1"), 0);
  publish1(b, FC_EV_METER, "CP1", 1, json_pack("{s:f}", "power", 1.0), T0, false, 5);
  assert_int_equal(fc_bus_seq(b, "CP1"), 5);
  publish1(b, FC_EV_METER, "CP1", 1, json_pack("{s:f}", "power", 2.0), T0, false, 3);
  assert_int_equal(fc_bus_seq(b, "CP1"), 5);
  publish1(b, FC_EV_METER, "CP2", 1, json_pack("{s:f}", "power", 2.0), T0, false, 9);
  assert_int_equal(fc_bus_seq(b, "CP1"), 5);
  assert_int_equal(fc_bus_seq(b, "CP2"), 9);
  assert_int_equal(fc_bus_seq(b, "CP3"), 0);
  fc_bus_free(b);
}

static void seen_snapshot_cb(fc_event_t *e, void *arg)
{
  fc_bus_t *b = arg;
  int64_t seq = 0;
  /* the read model is up to date when subscribers hear of the event */
  assert_non_null(fc_bus_snapshot(b, e->charger, NULL, &seq));
  assert_int_equal(seq, e->seq);
  assert_int_equal(fc_bus_seq(b, e->charger), e->seq);
}

/* A write with several ops: events are delivered in order, with the store's
 * text and seq; non-event ops and events without text (skipped repeats) are
 * not published. */
static void test_publish_write(void **state)
{
  (void)state;
  fc_bus_t *b = fc_bus_new();
  rec_t all = {.bus = b}, cp1 = {.bus = b};
  fc_bus_subscribe(b, NULL, rec_cb, &all);
  fc_bus_subscribe(b, "CP1", rec_cb, &cp1);
  fc_bus_subscribe(b, NULL, seen_snapshot_cb, b);

  fc_write_t *w = fc_write_new();
  fc_write_heartbeat(w, "CP1");
  add_ev(w, FC_EV_STATUS, "CP1", 1,
         json_pack("{s:s, s:s}", "status", "Preparing", "errorCode", "NoError"), T0, false, 11);
  fc_op_t *skipped =
      fc_bus_add(w, FC_EV_TX_STARTED, "CP1", 1, json_pack("{s:i}", "transactionId", 3), T0, false);
  skipped->event.skip_repeat = true; /* a repeat: the writer gave it no text, no seq */
  add_ev(w, FC_EV_METER, "CP2", 1, json_pack("{s:f}", "power", 3.0), T0, false, 4);
  fc_op_t *m = add_ev(w, FC_EV_METER, "CP1", 1, json_pack("{s:f}", "power", 7.0), T0, false, 12);

  assert_non_null(m->out.text);
  fc_bus_publish_write(b, w);
  fc_write_free(w);

  assert_int_equal(all.n, 3);
  assert_int_equal(all.seqs[0], 11);
  assert_int_equal(all.types[0], FC_EV_STATUS);
  assert_int_equal(all.seqs[1], 4);
  assert_string_equal(all.chargers[1], "CP2");
  assert_int_equal(all.seqs[2], 12);
  assert_int_equal(cp1.n, 2);
  assert_int_equal(fc_bus_published(b), 3);
  json_t *s = snap(b, "CP1", NULL);
  assert_true(json_is_null(json_object_get(conn_of(s, 1), "transaction")));
  json_decref(s);
  fc_bus_free(b);
}

/* The delivered event carries the store's serialised text byte for byte. */
static fc_event_t *captured;
static void capture_cb(fc_event_t *e, void *arg)
{
  (void)arg;
  fc_event_unref(captured);
  captured = fc_event_ref(e);
}

static void test_publish_write_event_bytes(void **state)
{
  (void)state;
  fc_bus_t *b = fc_bus_new();
  fc_bus_subscribe(b, "CP1", capture_cb, NULL);
  fc_write_t *w = fc_write_new();
  fc_op_t *op = add_ev(w, FC_EV_PRECHARGE, "CP1", 2,
                       json_pack("{s:i, s:s, s:f}", "soc", 42, "model", "Pro", "rangeKm", 99.5), T0,
                       false, 77);
  char *want = strdup(op->out.text);
  size_t want_len = op->out.len;
  fc_bus_publish_write(b, w);
  fc_write_free(w);
  assert_non_null(captured);
  assert_int_equal(captured->refs, 1); /* the bus let go of its own */
  assert_int_equal(captured->type, FC_EV_PRECHARGE);
  assert_int_equal(captured->connector, 2);
  assert_int_equal(captured->seq, 77);
  assert_string_equal(captured->charger, "CP1");
  assert_int_equal(captured->len, want_len);
  assert_memory_equal(captured->json, want, want_len);
  free(want);
  fc_event_unref(captured);
  captured = NULL;

  json_t *s = snap(b, "CP1", NULL);
  json_t *pc = json_object_get(conn_of(s, 2), "precharge");
  assert_true(json_number_value(json_object_get(pc, "soc")) == 42); /* a double */
  assert_string_equal(json_string_value(json_object_get(pc, "model")), "Pro");
  json_decref(s);
  fc_bus_free(b);
}

/* A charger that only a subscriber asked about has never been seen: no
 * snapshot (GET /api/chargers/{id} would answer 200 instead of 404), and it
 * is not in the list. Nor is the system channel "" a charger (push
 * subscribes admins to it). */
static void check_not_a_charger(const char *id)
{
  fc_bus_t *b = fc_bus_new();
  rec_t r = {.bus = b};
  fc_bus_subscribe(b, id, rec_cb, &r);
  publish1(b, FC_EV_ONLINE, "CP1", 0, NULL, T0, false, 1);
  const char *one = fc_bus_snapshot(b, id, NULL, NULL);
  /* fc_bus_seen (push/ asks it before subscribing a peer's id): the
   * subscriber's channel is not a charger seen; CP1, which had an event, is */
  assert_false(fc_bus_seen(b, id));
  assert_true(fc_bus_seen(b, "CP1"));
  assert_false(fc_bus_seen(b, "NEVER"));
  assert_int_equal(fc_bus_channels(b), 2); /* the subscriber's and CP1's */
  size_t len;
  char *all = fc_bus_snapshots(b, NULL, NULL, &len);
  json_t *arr = json_loads(all, 0, NULL);
  free(all);
  size_t n = json_array_size(arr);
  json_decref(arr);
  fc_bus_free(b);
  if (one) print_error("fc_bus_snapshot(\"%s\") is not NULL\n", id);
  if (n != 1) print_error("fc_bus_snapshots lists %zu chargers, want 1 (CP1)\n", n);
  assert_null(one);
  assert_int_equal(n, 1);
}

static void test_subscribe_does_not_make_a_charger(void **state)
{
  (void)state;
  check_not_a_charger("NOSUCH");
}

static void test_system_channel_is_not_a_charger(void **state)
{
  (void)state;
  check_not_a_charger("");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_type_names_round_trip),
      cmocka_unit_test(test_event_new),
      cmocka_unit_test(test_event_ext),
      cmocka_unit_test(test_event_from_json),
      cmocka_unit_test(test_bus_add),
      cmocka_unit_test(test_publish_reaches_subscribers),
      cmocka_unit_test(test_unsubscribe_self_in_callback),
      cmocka_unit_test(test_unsubscribe_other_in_callback),
      cmocka_unit_test(test_unsubscribe_in_nested_publish),
      cmocka_unit_test(test_subscribe_in_callback),
      cmocka_unit_test(test_snapshot_shape),
      cmocka_unit_test(test_late_events),
      cmocka_unit_test(test_transactions),
      cmocka_unit_test(test_snapshot_cache),
      cmocka_unit_test(test_snapshot_cache_seq),
      cmocka_unit_test(test_snapshots_filter),
      cmocka_unit_test(test_seq),
      cmocka_unit_test(test_publish_write),
      cmocka_unit_test(test_publish_write_event_bytes),
      cmocka_unit_test(test_subscribe_does_not_make_a_charger),
      cmocka_unit_test(test_system_channel_is_not_a_charger),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
