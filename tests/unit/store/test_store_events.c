/* The store's events (FC_OP_EVENT): sequence numbers, the one serialisation,
 * the transaction rules, retries; fc_store_load_latest_events; migration 002
 * on a version-1 database; the JSON reads; event retention. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_test_util.h"

#include "core/mem.h"
#include "store/store_int.h"
#include "store/sqlite/sqlite_int.h"

#include <sqlite3.h>

#define T1 "2026-11-26T10:00:00.000Z"
#define T2 "2026-11-26T10:00:05.000Z"
#define T1_MS 1795687200000LL
#define FAULT_SETTLE_MS 80 /* the fault file is re-read at most every 50 ms */

/* Events never create chargers (store.h, FC_OP_EVENT): a test registers,
 * through the admin API as the registry does, the chargers it raises events
 * for. Call after env_open (the store creates the schema). NULL-terminated. */
static void register_chargers(env_t *e, ...)
{
  fc_store_admin_t *a;
  va_list ap;
  assert_int_equal(fc_store_admin_open(e->path, &a), 0);
  va_start(ap, e);
  for (const char *id; (id = va_arg(ap, const char *));)
    assert_int_equal(fc_store_admin_charger_put(a, id, NULL, "Accepted"), 0);
  va_end(ap);
  fc_store_admin_close(a);
}

/* ---- helpers ---- */

#define MAX_OPS 8

/* add_event's flags: the event's late and skip_repeat */
#define T_LATE 0x1
#define T_SKIP_REPEAT 0x2

/* What a write's callback saw, op by op (texts copied: the write is freed
 * after the callback). */
typedef struct eres {
  int done, status;
  int64_t id[MAX_OPS];
  fc_op_outcome_t outcome[MAX_OPS];
  char *text[MAX_OPS];
  size_t len[MAX_OPS];
  char data_after[MAX_OPS][256]; /* the op's json as the loop sees it after the write */
} eres_t;

static void eres_cb(fc_write_t *w, int status, void *arg)
{
  eres_t *r = arg;
  r->done++;
  r->status = status;
  for (size_t i = 0; i < fc_write_count(w) && i < MAX_OPS; i++) {
    fc_op_t *op = fc_write_op(w, i);
    r->id[i] = op->out.id;
    r->outcome[i] = op->out.outcome;
    r->text[i] = op->out.text ? strdup(op->out.text) : NULL;
    r->len[i] = op->out.len;
    if (op->out.text) assert_int_equal(op->out.len, strlen(op->out.text));
    if (op->kind == FC_OP_EVENT) {
      char *d = json_dumps(op->event.data, JSON_COMPACT);
      snprintf(r->data_after[i], sizeof(r->data_after[i]), "%s", d);
      free(d);
    }
  }
}

static void eres_free(eres_t *r)
{
  for (int i = 0; i < MAX_OPS; i++)
    free(r->text[i]);
  memset(r, 0, sizeof(*r));
}

/* Adds an event op; as fc_bus_add, one whose data has "transactionId": null
 * takes the write's new transaction's id. */
static fc_op_t *add_event(fc_write_t *w, const char *cp, const char *type, int connector,
                          const char *data, long long ts_ms, int flag)
{
  fc_op_t *op = add_op(w, FC_OP_EVENT, cp, data, type);
  op->event.connector = connector;
  op->event.ts_ms = ts_ms;
  op->event.late = flag & T_LATE;
  op->event.skip_repeat = flag & T_SKIP_REPEAT;
  op->event.take_tx_id = json_is_null(json_object_get(op->event.data, "transactionId"));
  return op;
}

static eres_t submit_e(env_t *e, fc_write_t *w)
{
  eres_t r = {0};
  assert_int_equal(fc_store_submit(e->s, w, eres_cb, &r), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.done, 1);
  return r;
}

/* One write of one event; returns its seq (0 if it failed or was skipped). */
static int64_t event1(env_t *e, const char *cp, const char *type, int connector, const char *data,
                      long long ts_ms, int flag)
{
  fc_write_t *w = fc_write_new();
  add_event(w, cp, type, connector, data, ts_ms, flag);
  eres_t r = submit_e(e, w);
  assert_int_equal(r.status, 0);
  int64_t seq = r.id[0];
  eres_free(&r);
  return seq;
}

/* ---- FC_OP_EVENT ---- */

static void test_event_json(void **state)
{
  env_t *e = *state;
  assert_int_equal(env_open(e, NULL), 0);
  register_chargers(e, "CP1", NULL);

  fc_write_t *w = fc_write_new();
  add_event(w, "CP1", "meter", 1, "{\"power\":7200,\"soc\":42.5,\"name\":\"x\\\"y\\u00e9\"}",
            T1_MS + 123, 0);
  eres_t r = submit_e(e, w);
  const char *want = "{\"type\":\"meter\",\"charger\":\"CP1\",\"connector\":1,\"seq\":1,"
                     "\"ts\":\"2026-11-26T10:00:00.123Z\","
                     "\"data\":{\"power\":7200,\"soc\":42.5,\"name\":\"x\\\"y\xc3\xa9\"}}";
  assert_int_equal(r.status, 0);
  assert_int_equal(r.id[0], 1);
  assert_non_null(r.text[0]);
  assert_string_equal(r.text[0], want);
  assert_int_equal(r.len[0], strlen(want));
  /* stored as sent, with its columns */
  assert_string_equal(q1(e, "SELECT json FROM events"), want);
  assert_string_equal(q1(e, "SELECT charger_id, seq, type, connector_id, ts, late FROM events"),
                      "CP1|1|meter|1|1795687200123|0");
  assert_string_equal(q1(e, "SELECT max(seq) FROM events WHERE charger_id = 'CP1'"), "1");
  eres_free(&r);

  /* connector 0, a late event, a time before 1970, and no data at all */
  w = fc_write_new();
  add_event(w, "CP1", "status", 0, "{\"status\":\"Available\"}", -1, T_LATE);
  add_event(w, "CP1", "charger.online", 0, NULL, 0, 0);
  r = submit_e(e, w);
  assert_int_equal(r.status, 0);
  assert_string_equal(r.text[0], "{\"type\":\"status\",\"charger\":\"CP1\",\"connector\":0,"
                                 "\"seq\":2,\"ts\":\"1969-12-31T23:59:59.999Z\","
                                 "\"data\":{\"status\":\"Available\"}}");
  assert_string_equal(r.text[1], "{\"type\":\"charger.online\",\"charger\":\"CP1\",\"connector\":0,"
                                 "\"seq\":3,\"ts\":\"1970-01-01T00:00:00.000Z\",\"data\":{}}");
  assert_string_equal(q1(e, "SELECT late FROM events WHERE seq = 2"), "1");
  eres_free(&r);

  /* an event without a type fails its write */
  w = fc_write_new();
  add_op(w, FC_OP_EVENT, "CP1", "{}", NULL);
  r = submit_e(e, w);
  assert_int_equal(r.status, FC_ERR_STORE);
  assert_null(r.text[0]);
  eres_free(&r);
}

static void test_event_seq(void **state)
{
  env_t *e = *state;
  assert_int_equal(env_open(e, NULL), 0);
  register_chargers(e, "CP1", "CP2", NULL);

  /* per charger, from 1 */
  assert_int_equal(event1(e, "CP1", "meter", 1, "{}", T1_MS, 0), 1);
  assert_int_equal(event1(e, "CP1", "meter", 1, "{}", T1_MS, 0), 2);
  assert_int_equal(event1(e, "CP2", "meter", 1, "{}", T1_MS, 0), 1);
  assert_int_equal(event1(e, "CP1", "status", 1, "{}", T1_MS, 0), 3);
  assert_string_equal(q1(e, "SELECT group_concat(charger_id || ':' || seq, ',') FROM"
                            " (SELECT charger_id, max(seq) AS seq FROM events GROUP BY charger_id"
                            " ORDER BY charger_id)"),
                      "CP1:3,CP2:1");

  /* A failing write's event is rolled back with it: no text, no seq taken.
   * Several events in one write get consecutive numbers. */
  fc_write_t *w = fc_write_new();
  add_event(w, "CP1", "meter", 1, "{}", T1_MS, 0);
  add_op(w, (fc_op_kind_t)999, "CP1", NULL, NULL); /* fails */
  eres_t r = submit_e(e, w);
  assert_int_equal(r.status, FC_ERR_STORE);
  assert_null(r.text[0]);
  assert_int_equal(r.id[0], 0);
  eres_free(&r);
  w = fc_write_new();
  add_event(w, "CP1", "meter", 1, "{}", T1_MS, 0);
  add_event(w, "CP1", "meter", 2, "{}", T1_MS, 0);
  r = submit_e(e, w);
  assert_int_equal(r.id[0], 4);
  assert_int_equal(r.id[1], 5);
  eres_free(&r);

  /* An event of a charger without a row is skipped: status 0, no seq, no
   * text, no row in events, and no charger created; the write's other
   * events go on as usual. */
  w = fc_write_new();
  add_event(w, "CP9", "charger.online", 0, NULL, T1_MS, 0);
  add_event(w, "CP1", "meter", 1, "{}", T1_MS, 0);
  add_event(w, "CP9", "charger.offline", 0, NULL, T1_MS, 0);
  r = submit_e(e, w);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.id[0], 0);
  assert_null(r.text[0]);
  assert_int_equal(r.len[0], 0);
  assert_int_equal(r.id[1], 6);
  assert_non_null(r.text[1]);
  assert_int_equal(r.id[2], 0);
  assert_null(r.text[2]);
  eres_free(&r);
  assert_int_equal(qint(e, "SELECT count(*) FROM events WHERE charger_id = 'CP9'"), 0);
  assert_int_equal(qint(e, "SELECT count(*) FROM chargers WHERE id = 'CP9'"), 0);
  assert_string_equal(q1(e, "SELECT group_concat(charger_id || ':' || seq, ',') FROM"
                            " (SELECT charger_id, max(seq) AS seq FROM events GROUP BY charger_id"
                            " ORDER BY charger_id)"),
                      "CP1:6,CP2:1");

  /* A data op earlier in the same write creates the charger (Pending): its
   * event is then stored, from seq 1. */
  w = fc_write_new();
  add_op(w, FC_OP_HEARTBEAT, "CP9", NULL, NULL);
  add_event(w, "CP9", "heartbeat", 0, NULL, T1_MS, 0);
  r = submit_e(e, w);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.id[1], 1);
  assert_non_null(strstr(r.text[1], "\"charger\":\"CP9\",\"connector\":0,\"seq\":1,"));
  eres_free(&r);
  assert_string_equal(q1(e, "SELECT registration, (SELECT max(seq) FROM events"
                            " WHERE charger_id = chargers.id) FROM chargers WHERE id = 'CP9'"),
                      "Pending|1");
  assert_int_equal(qint(e, "SELECT count(*) FROM events WHERE charger_id = 'CP9'"), 1);
}

/* Writes 1..3 in one batch, 2 failing after its event: 1 and 3 get
 * consecutive numbers. */
static void test_event_seq_gap_free_in_batch(void **state)
{
  env_t *e = *state;
  fc_store_opts_t o = {.fault_file = e->fault};
  eres_t r[4] = {{0}};
  fc_store_stats_t st;
  assert_int_equal(env_open(e, &o), 0);
  register_chargers(e, "CP1", NULL);

  /* The writer takes write 0 alone, then waits for the write lock that
   * another connection holds (as for the CLI) while 1..3 queue up: they are
   * the next batch, whatever the scheduler does. */
  sqlite3 *lock = NULL;
  assert_int_equal(sqlite3_open(e->path, &lock), SQLITE_OK);
  assert_int_equal(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  for (int i = 0; i < 4; i++) {
    fc_write_t *w = fc_write_new();
    add_event(w, "CP1", "meter", 1, "{}", T1_MS, 0);
    if (i == 2) add_op(w, (fc_op_kind_t)999, "CP1", NULL, NULL); /* fails */
    assert_int_equal(fc_store_submit(e->s, w, eres_cb, &r[i]), 0);
    while (i == 0) { /* until the writer has taken write 0 off the queue */
      fc_store_stats(e->s, &st);
      if (st.queue_depth == 0) break;
      uv_sleep(1);
    }
  }
  assert_int_equal(sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_close(lock), SQLITE_OK);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  fc_store_stats(e->s, &st);
  assert_int_equal(st.commits, 2); /* 1..3 were one batch */
  assert_int_equal(r[0].id[0], 1);
  assert_int_equal(r[1].id[0], 2);
  assert_int_equal(r[2].status, FC_ERR_STORE);
  assert_null(r[2].text[0]);
  assert_int_equal(r[3].status, 0);
  assert_int_equal(r[3].id[0], 3);
  assert_non_null(strstr(r[3].text[0], "\"seq\":3,"));
  assert_string_equal(q1(e, "SELECT group_concat(seq, ',') FROM (SELECT seq FROM events"
                            " ORDER BY seq)"),
                      "1,2,3");
  assert_string_equal(q1(e, "SELECT max(seq) FROM events"), "3");
  for (int i = 0; i < 4; i++)
    eres_free(&r[i]);
}

/* A batch whose commit fails and is retried runs its events again: the seq is
 * taken afresh (the failed attempt's was rolled back) and the text replaced
 * (ASan: the first attempt's text is not leaked). */
static void test_event_batch_retry(void **state)
{
  env_t *e = *state;
  fc_store_opts_t o = {.fault_file = e->fault, .retry_max = 4, .retry_base_ms = 100};
  assert_int_equal(env_open(e, &o), 0);
  register_chargers(e, "CP1", NULL);
  assert_int_equal(event1(e, "CP1", "meter", 1, "{}", T1_MS, 0), 1);

  write_file(e->fault, "fail");
  uv_sleep(FAULT_SETTLE_MS);
  eres_t r = {0};
  fc_write_t *w = fc_write_new();
  add_event(w, "CP1", "meter", 1, "{\"a\":1}", T1_MS, 0);
  add_event(w, "CP1", "meter", 2, "{\"a\":2}", T1_MS, 0);
  assert_int_equal(fc_store_submit(e->s, w, eres_cb, &r), 0);
  uv_sleep(50); /* the first attempt fails, the writer backs off 100 ms */
  unlink(e->fault);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.done, 1);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.id[0], 2);
  assert_int_equal(r.id[1], 3);
  assert_non_null(strstr(r.text[1], "\"seq\":3,"));
  assert_string_equal(q1(e, "SELECT count(*), max(seq) FROM events"), "3|3");
  eres_free(&r);
}

static const char *START =
    "{\"connectorId\":1,\"idTag\":\"TAG1\",\"timestamp\":\"" T1 "\",\"meterStart\":1000}";

/* A StartTransaction's write as ocpp/ makes it: the start, then its event
 * whose data does not know the id yet. */
static eres_t start_write(env_t *e, int flag)
{
  fc_write_t *w = fc_write_new();
  add_op(w, FC_OP_TX_START, "CP1", START, "Accepted");
  add_event(w, "CP1", "transaction.started", 1,
            "{\"transactionId\":null,\"idTag\":\"TAG1\",\"meterStart\":1000}", T1_MS, flag);
  return submit_e(e, w);
}

static eres_t stop_write(env_t *e, int64_t tx, int flag)
{
  char stop[256], data[128];
  snprintf(stop, sizeof(stop),
           "{\"transactionId\":%lld,\"timestamp\":\"" T2 "\",\"meterStop\":2500}", (long long)tx);
  snprintf(data, sizeof(data), "{\"transactionId\":%lld,\"meterStop\":2500}", (long long)tx);
  fc_write_t *w = fc_write_new();
  add_op(w, FC_OP_TX_STOP, "CP1", stop, NULL);
  add_event(w, "CP1", "transaction.stopped", 1, data, T1_MS + 5000, flag);
  return submit_e(e, w);
}

static void test_event_transaction_rules(void **state)
{
  env_t *e = *state;
  assert_int_equal(env_open(e, NULL), 0);
  register_chargers(e, "CP1", NULL);
  /* another transaction first, so that the id is not 1 by chance */
  fc_write_t *w = fc_write_new();
  add_op(w, FC_OP_TX_START, "CPX",
         "{\"connectorId\":1,\"idTag\":\"T\",\"timestamp\":\"" T1 "\",\"meterStart\":1}",
         "Accepted");
  eres_t r = submit_e(e, w);
  assert_int_equal(r.status, 0);
  eres_free(&r);
  /* the start made its unknown charger, Pending */
  assert_string_equal(q1(e, "SELECT registration FROM chargers WHERE id = 'CPX'"), "Pending");

  /* transactionId: null becomes the new transaction's id, in the text and
   * the stored row only: the op's json (read by the loop) is unchanged */
  r = start_write(e, T_SKIP_REPEAT);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.outcome[0], FC_OUT_NEW);
  int64_t tx = r.id[0];
  assert_int_equal(tx, 2);
  assert_int_equal(r.id[1], 1);
  assert_string_equal(r.text[1],
                      "{\"type\":\"transaction.started\",\"charger\":\"CP1\",\"connector\":1,"
                      "\"seq\":1,\"ts\":\"" T1 "\",\"data\":{\"transactionId\":2,"
                      "\"idTag\":\"TAG1\",\"meterStart\":1000}}");
  assert_string_equal(r.data_after[1],
                      "{\"transactionId\":null,\"idTag\":\"TAG1\",\"meterStart\":1000}");
  assert_string_equal(q1(e, "SELECT json FROM events WHERE charger_id = 'CP1'"), r.text[1]);
  eres_free(&r);

  /* the retried StartTransaction: same id, and with SKIP_REPEAT no event, no
   * seq taken */
  r = start_write(e, T_SKIP_REPEAT);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.outcome[0], FC_OUT_REPEAT);
  assert_int_equal(r.id[0], tx);
  assert_int_equal(r.id[1], 0);
  assert_null(r.text[1]);
  assert_int_equal(r.len[1], 0);
  assert_string_equal(q1(e, "SELECT count(*), max(seq) FROM events WHERE charger_id = 'CP1'"),
                      "1|1");
  eres_free(&r);
  /* without SKIP_REPEAT, a repeat still raises its event (with the id) */
  r = start_write(e, 0);
  assert_int_equal(r.id[1], 2);
  assert_non_null(strstr(r.text[1], "\"data\":{\"transactionId\":2,"));
  eres_free(&r);

  /* the stop, then its retry (FC_OUT_REPEAT) */
  r = stop_write(e, tx, T_SKIP_REPEAT);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.outcome[0], FC_OUT_NEW);
  assert_int_equal(r.id[1], 3);
  assert_non_null(r.text[1]);
  assert_non_null(strstr(r.text[1], "\"data\":{\"transactionId\":2,\"meterStop\":2500}"));
  eres_free(&r);
  r = stop_write(e, tx, T_SKIP_REPEAT);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.outcome[0], FC_OUT_REPEAT);
  assert_int_equal(r.id[1], 0);
  assert_null(r.text[1]);
  eres_free(&r);
  /* a stop for a transaction never seen (FC_OUT_UNKNOWN_TX) is not a repeat */
  r = stop_write(e, 77, T_SKIP_REPEAT);
  assert_int_equal(r.outcome[0], FC_OUT_UNKNOWN_TX);
  assert_int_equal(r.id[1], 4);
  eres_free(&r);
  assert_string_equal(q1(e, "SELECT count(*), max(seq) FROM events WHERE charger_id = 'CP1'"),
                      "4|4");

  /* "transactionId": null with no TX_START earlier in the write stays null */
  w = fc_write_new();
  add_event(w, "CP1", "meter", 1, "{\"transactionId\":null}", T1_MS, T_SKIP_REPEAT);
  r = submit_e(e, w);
  assert_non_null(strstr(r.text[0], "\"data\":{\"transactionId\":null}"));
  eres_free(&r);
}

/* An unsubmitted write, and a write whose events got text, are freed whole
 * (ASan/LSan would report the text otherwise). */
static void test_event_text_freed(void **state)
{
  env_t *e = *state;
  assert_int_equal(env_open(e, NULL), 0);
  register_chargers(e, "CP1", NULL);
  fc_write_t *w = fc_write_new();
  add_event(w, "CP1", "meter", 1, "{}", T1_MS, 0);
  fc_write_free(w);
  w = fc_write_new();
  for (int i = 0; i < 5; i++)
    add_event(w, "CP1", "meter", i, "{\"big\":\"................................\"}", T1_MS, 0);
  eres_t r = submit_e(e, w);
  for (int i = 0; i < 5; i++)
    assert_non_null(r.text[i]);
  eres_free(&r);
}

/* ---- fc_store_load_latest_events ---- */

typedef struct loaded {
  int n;
  char lines[32][320]; /* "charger|seq|json-or-NULL" */
} loaded_t;

static void load_cb(const char *charger, int64_t seq, const char *json, void *arg)
{
  loaded_t *l = arg;
  assert_true(l->n < 32);
  snprintf(l->lines[l->n++], sizeof(l->lines[0]), "%s|%lld|%s", charger, (long long)seq,
           json ? json : "NULL");
}

/* events_latest (007_events_latest.sql) holds exactly the latest non-late
 * event of each (charger, type, connector) among the stored events. */
static bool latest_consistent(env_t *e)
{
  static const char *const sql[] = {
      "SELECT count(*) FROM (SELECT charger_id, type, connector_id, seq FROM events_latest"
      " EXCEPT SELECT charger_id, type, connector_id, max(seq) FROM events WHERE late = 0"
      " GROUP BY charger_id, type, connector_id)",
      "SELECT count(*) FROM (SELECT charger_id, type, connector_id, max(seq) FROM events"
      " WHERE late = 0 GROUP BY charger_id, type, connector_id"
      " EXCEPT SELECT charger_id, type, connector_id, seq FROM events_latest)",
  };
  for (size_t i = 0; i < FC_ARRAY_SIZE(sql); i++)
    if (qint(e, sql[i]) != 0) return false;
  return true;
}

/* "seq:type:connector" of an event text, for short assertions. */
static const char *brief(const char *line, char *buf, size_t n)
{
  json_t *j = json_loads(strchr(strchr(line, '|') + 1, '|') + 1, 0, NULL);
  assert_non_null(j);
  snprintf(buf, n, "%lld:%s:%lld", (long long)json_integer_value(json_object_get(j, "seq")),
           json_string_value(json_object_get(j, "type")),
           (long long)json_integer_value(json_object_get(j, "connector")));
  json_decref(j);
  return buf;
}

static void test_load_latest_events(void **state)
{
  env_t *e = *state;
  char b[64];
  loaded_t l = {0};
  assert_int_equal(env_open(e, NULL), 0);
  /* no charger: no call */
  assert_int_equal(fc_store_load_latest_events(e->s, load_cb, &l), 0);
  assert_int_equal(l.n, 0);
  register_chargers(e, "CP0", "CP1", "CP3", NULL);

  /* CP1: status and meter on connectors 1 and 2, each several times, with
   * late events that are newer by seq but must not count */
  struct {
    const char *type;
    int conn, flag;
  } evs[] = {
      {"status", 1, 0},              /* 1 */
      {"meter", 1, 0},               /* 2 */
      {"status", 2, 0},              /* 3 */
      {"meter", 1, 0},               /* 4 */
      {"status", 1, 0},              /* 5 */
      {"meter", 1, T_LATE},          /* 6: late */
      {"status", 2, T_LATE},         /* 7: late */
      {"charger.online", 0, 0},      /* 8 */
      {"meter", 2, T_LATE},          /* 9: a key with only a late event */
      {"transaction.started", 1, 0}, /* 10 */
  };
  for (size_t i = 0; i < FC_ARRAY_SIZE(evs); i++)
    assert_int_equal(event1(e, "CP1", evs[i].type, evs[i].conn, "{}", T1_MS, evs[i].flag),
                     (int64_t)i + 1);
  /* CP2: registered, no event; CP3: only a late event; CP0: one event */
  fc_store_admin_t *a;
  assert_int_equal(fc_store_admin_open(e->path, &a), 0);
  assert_int_equal(fc_store_admin_charger_put(a, "CP2", NULL, NULL), 0);
  fc_store_admin_close(a);
  event1(e, "CP3", "meter", 1, "{}", T1_MS, T_LATE);
  event1(e, "CP0", "status", 0, "{}", T1_MS, 0);
  /* CP9: not registered, its event is skipped and it is not loaded */
  assert_int_equal(event1(e, "CP9", "status", 0, "{}", T1_MS, 0), 0);

  assert_int_equal(fc_store_load_latest_events(e->s, load_cb, &l), 0);
  assert_int_equal(l.n, 8);
  assert_true(strncmp(l.lines[0], "CP0|1|{", 7) == 0);
  assert_string_equal(brief(l.lines[0], b, sizeof(b)), "1:status:0");
  /* CP1, in seq order, one per (type, connector), late ones ignored */
  assert_true(strncmp(l.lines[1], "CP1|10|", 7) == 0);
  assert_string_equal(brief(l.lines[1], b, sizeof(b)), "3:status:2");
  assert_string_equal(brief(l.lines[2], b, sizeof(b)), "4:meter:1");
  assert_string_equal(brief(l.lines[3], b, sizeof(b)), "5:status:1");
  assert_string_equal(brief(l.lines[4], b, sizeof(b)), "8:charger.online:0");
  assert_string_equal(brief(l.lines[5], b, sizeof(b)), "10:transaction.started:1");
  assert_string_equal(l.lines[6], "CP2|0|NULL");
  assert_string_equal(l.lines[7], "CP3|1|NULL");

  /* the stored text is passed as is */
  assert_string_equal(strchr(strchr(l.lines[5], '|') + 1, '|') + 1,
                      q1(e, "SELECT json FROM events WHERE charger_id = 'CP1' AND seq = 10"));
  assert_true(latest_consistent(e));

  /* after a restart, start-up folds the same */
  env_close_store(e);
  assert_int_equal(env_open(e, NULL), 0);
  loaded_t again = {0};
  assert_int_equal(fc_store_load_latest_events(e->s, load_cb, &again), 0);
  assert_int_equal(again.n, l.n);
  for (int i = 0; i < l.n; i++)
    assert_string_equal(again.lines[i], l.lines[i]);
}

/* A charger removed from the registry and seen again continues its sequence
 * after its stored events (the UNIQUE (charger, seq) would fail otherwise). */
static void test_event_seq_after_charger_removed(void **state)
{
  env_t *e = *state;
  assert_int_equal(env_open(e, NULL), 0);
  register_chargers(e, "CP1", NULL);
  for (int i = 1; i <= 3; i++)
    assert_int_equal(event1(e, "CP1", "meter", 1, "{}", T1_MS, 0), i);
  fc_store_admin_t *a;
  assert_int_equal(fc_store_admin_open(e->path, &a), 0);
  assert_int_equal(fc_store_admin_charger_remove(a, "CP1"), 0);
  /* while it is removed, its events are skipped (and do not bring it back);
   * the stored ones stay */
  assert_int_equal(event1(e, "CP1", "charger.offline", 0, NULL, T1_MS, 0), 0);
  assert_int_equal(qint(e, "SELECT count(*) FROM chargers WHERE id = 'CP1'"), 0);
  assert_string_equal(q1(e, "SELECT count(*), max(seq) FROM events WHERE charger_id = 'CP1'"),
                      "3|3");
  assert_int_equal(fc_store_admin_charger_put(a, "CP1", NULL, NULL), 0);
  fc_store_admin_close(a);
  assert_int_equal(event1(e, "CP1", "meter", 1, "{}", T1_MS, 0), 4);
}

/* ---- migration 002 ---- */

static void test_migration_002_on_version_1(void **state)
{
  env_t *e = *state;
  sqlite3 *db;

  /* a database as version 1 left it, with some data */
  assert_int_equal(fc_store__migrations[0].version, 1);
  assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, fc_store__migrations[0].sql, NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(
      sqlite3_exec(db,
                   "PRAGMA user_version = 1; PRAGMA journal_mode = WAL;"
                   "INSERT INTO chargers (id, auth, registration, vendor, created_at, updated_at)"
                   " VALUES ('OLD1', 'h', 'Pending', 'ACME', 1, 2);"
                   "INSERT INTO transactions (charger_id, connector_id, id_tag, start_at,"
                   " meter_start, created_at) VALUES ('OLD1', 1, 'TAG', 5, 100, 5);"
                   "INSERT INTO meter_values (charger_id, connector_id, ts, value, received_at)"
                   " VALUES ('OLD1', 1, 5, '100', 5);",
                   NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(db);

  assert_int_equal(env_open(e, NULL), 0);
  assert_string_equal(q1(e, "PRAGMA user_version"), FC_TEST_SCHEMA_VERSION);
  assert_string_equal(q1(e, "SELECT id, auth, registration, vendor FROM chargers"),
                      "OLD1|h|Pending|ACME");
  assert_string_equal(q1(e, "SELECT count(*) FROM transactions"), "1");
  assert_string_equal(q1(e, "SELECT count(*) FROM meter_values"), "1");
  assert_string_equal(q1(e, "SELECT value FROM meta WHERE key = 'registry_version'"), "2");
  /* the old charger's first event is seq 1; the new transaction continues
   * the ids */
  assert_int_equal(event1(e, "OLD1", "meter", 1, "{}", T1_MS, 0), 1);
  loaded_t l = {0};
  assert_int_equal(fc_store_load_latest_events(e->s, load_cb, &l), 0);
  assert_int_equal(l.n, 1);
  assert_true(strncmp(l.lines[0], "OLD1|1|{\"type\":\"meter\",", 23) == 0);
  /* and nothing is applied twice */
  env_close_store(e);
  assert_int_equal(env_open(e, NULL), 0);
  assert_string_equal(q1(e, "PRAGMA user_version"), FC_TEST_SCHEMA_VERSION);
}

/* ---- the JSON reads ---- */

typedef struct jres {
  int done, status;
  char *text; /* out_text, taken over */
  size_t len;
  char **texts; /* out_texts, taken over */
  size_t count;
} jres_t;

static void jres_cb(fc_read_t *r, int status, void *arg)
{
  jres_t *x = arg;
  x->done++;
  x->status = status;
  if (r->out_text) assert_int_equal(r->out_len, strlen(r->out_text));
  /* take the results: the read frees what is left */
  x->text = r->out_text;
  x->len = r->out_len;
  r->out_text = NULL;
  x->texts = r->out_texts;
  x->count = r->out_texts ? r->out_count : 0;
  r->out_texts = NULL;
  r->out_count = 0;
}

static void jres_free(jres_t *x)
{
  fc_free(x->text);
  for (size_t i = 0; i < x->count; i++)
    fc_free(x->texts[i]);
  fc_free(x->texts);
  memset(x, 0, sizeof(*x));
}

static void jres_cb_drop(fc_read_t *r, int status, void *arg)
{
  assert_int_equal(status, 0);
  assert_true(r->out_count > 0);
}

static jres_t jread(env_t *e, fc_read_t *r)
{
  jres_t x = {0};
  assert_int_equal(fc_store_read(e->s, r, jres_cb, &x), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(x.done, 1);
  return x;
}

static jres_t read_events(env_t *e, const char *cp, int64_t since, unsigned limit)
{
  fc_read_t *r = fc_read_new(FC_READ_EVENTS, cp);
  r->arg_i64 = since;
  r->limit = limit;
  return jread(e, r);
}

static void test_read_events(void **state)
{
  env_t *e = *state;
  char data[32];
  assert_int_equal(env_open(e, NULL), 0);
  register_chargers(e, "CP1", "CP2", NULL);
  for (int i = 1; i <= 5; i++) {
    snprintf(data, sizeof(data), "{\"n\":%d}", i);
    assert_int_equal(event1(e, "CP1", "meter", 1, data, T1_MS + i, i == 3 ? T_LATE : 0), i);
  }
  event1(e, "CP2", "meter", 1, "{}", T1_MS, 0);

  jres_t x = read_events(e, "CP1", 0, 0);
  assert_int_equal(x.status, 0);
  assert_int_equal(x.count, 5); /* late ones too: a client replays everything */
  for (int i = 0; i < 5; i++) {
    char want[160];
    snprintf(want, sizeof(want),
             "{\"type\":\"meter\",\"charger\":\"CP1\",\"connector\":1,\"seq\":%d,"
             "\"ts\":\"2026-11-26T10:00:00.%03dZ\",\"data\":{\"n\":%d}}",
             i + 1, i + 1, i + 1);
    assert_string_equal(x.texts[i], want);
  }
  jres_free(&x);
  /* since is exclusive */
  x = read_events(e, "CP1", 3, 0);
  assert_int_equal(x.count, 2);
  assert_non_null(strstr(x.texts[0], "\"seq\":4,"));
  assert_non_null(strstr(x.texts[1], "\"seq\":5,"));
  jres_free(&x);
  /* limit: the oldest first */
  x = read_events(e, "CP1", 1, 2);
  assert_int_equal(x.count, 2);
  assert_non_null(strstr(x.texts[0], "\"seq\":2,"));
  assert_non_null(strstr(x.texts[1], "\"seq\":3,"));
  jres_free(&x);
  /* nothing newer, an unknown charger: no text, status 0 */
  x = read_events(e, "CP1", 5, 0);
  assert_int_equal(x.status, 0);
  assert_int_equal(x.count, 0);
  jres_free(&x);
  x = read_events(e, "NOPE", 0, 0);
  assert_int_equal(x.status, 0);
  assert_int_equal(x.count, 0);
  jres_free(&x);
  /* a read whose results nobody takes is freed with them (ASan) */
  assert_int_equal(fc_store_read(e->s, fc_read_new(FC_READ_EVENTS, "CP1"), jres_cb_drop, NULL), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
}

static fc_read_t *meter_read(const char *cp, long long from, long long to, int connector,
                             unsigned limit)
{
  fc_read_t *r = fc_read_new(FC_READ_METER_VALUES, cp);
  r->from_ms = from;
  r->to_ms = to;
  r->connector = connector;
  r->limit = limit;
  return r;
}

/* the array's length, and its elements' member key joined by ',' */
static int jarr(const char *text, const char *key, char *out, size_t n)
{
  json_t *a = json_loads(text, 0, NULL);
  size_t i, len = 0;
  json_t *v;
  assert_true(json_is_array(a));
  out[0] = '\0';
  json_array_foreach(a, i, v)
  {
    json_t *m = json_object_get(v, key);
    char *d = json_dumps(m, JSON_ENCODE_ANY);
    len += (size_t)snprintf(out + len, n - len, "%s%s", i ? "," : "", d);
    free(d);
  }
  int count = (int)json_array_size(a);
  json_decref(a);
  return count;
}

/* test_read_meter_values' data as FC_READ_METER_VALUES gives it for CP1 */
#define METER_READ_CP1                                                                             \
  "[{\"connectorId\":1,\"transactionId\":null,\"timestamp\":\"" T1 "\","                           \
  "\"measurand\":\"Energy.Active.Import.Register\",\"phase\":null,\"unit\":\"Wh\","                \
  "\"context\":\"Sample.Periodic\",\"location\":\"Outlet\",\"value\":\"11001.31\","                \
  "\"valueNum\":11001.31},"                                                                        \
  "{\"connectorId\":1,\"transactionId\":null,\"timestamp\":\"" T1 "\","                            \
  "\"measurand\":\"Power.Active.Import\",\"phase\":\"L1\",\"unit\":\"W\","                         \
  "\"context\":\"Sample.Periodic\",\"location\":\"Outlet\",\"value\":\"7200\","                    \
  "\"valueNum\":7200.0},"                                                                          \
  "{\"connectorId\":2,\"transactionId\":1,\"timestamp\":\"" T2 "\","                               \
  "\"measurand\":\"SoC\",\"phase\":null,\"unit\":null,"                                            \
  "\"context\":\"Transaction.Begin\",\"location\":\"EV\",\"value\":\"42\","                        \
  "\"valueNum\":42.0},"                                                                            \
  "{\"connectorId\":2,\"transactionId\":1,\"timestamp\":\"" T2 "\","                               \
  "\"measurand\":\"Voltage\",\"phase\":null,\"unit\":null,"                                        \
  "\"context\":\"Sample.Periodic\",\"location\":\"Outlet\",\"value\":\"n/a\","                     \
  "\"valueNum\":null}]"

static void test_read_meter_values(void **state)
{
  env_t *e = *state;
  char got[512];
  assert_int_equal(env_open(e, NULL), 0);

  one(e, FC_OP_METER, "CP1",
      "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"" T1 "\",\"sampledValue\":["
      "{\"value\":\"11001.31\"},"
      "{\"value\":\"7200\",\"measurand\":\"Power.Active.Import\",\"unit\":\"W\",\"phase\":\"L1\"}]}"
      "]}",
      NULL);
  fc_write_t *w = fc_write_new();
  add_op(w, FC_OP_TX_START, "CP1", START, "Accepted");
  submit_wait(e, w);
  one(e, FC_OP_METER, "CP1",
      "{\"connectorId\":2,\"transactionId\":1,\"meterValue\":[{\"timestamp\":\"" T2
      "\",\"sampledValue\":[{\"value\":\"42\",\"measurand\":\"SoC\",\"context\":"
      "\"Transaction.Begin\",\"location\":\"EV\"},{\"value\":\"n/"
      "a\",\"measurand\":\"Voltage\"}]}]}",
      NULL);
  one(e, FC_OP_METER, "CP2",
      "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"" T1 "\",\"sampledValue\":"
      "[{\"value\":\"5\"}]}]}",
      NULL);

  jres_t x = jread(e, meter_read("CP1", 0, 0, -1, 0));
  assert_int_equal(x.status, 0);
  /* the shape, oldest first, with 1.6's defaults filled in */
  assert_string_equal(x.text, METER_READ_CP1);
  jres_free(&x);

  /* from is inclusive, to exclusive */
  x = jread(e, meter_read("CP1", T1_MS + 5000, 0, -1, 0));
  assert_int_equal(jarr(x.text, "measurand", got, sizeof(got)), 2);
  assert_string_equal(got, "\"SoC\",\"Voltage\"");
  jres_free(&x);
  x = jread(e, meter_read("CP1", 0, T1_MS + 5000, -1, 0));
  assert_int_equal(jarr(x.text, "timestamp", got, sizeof(got)), 2);
  assert_string_equal(got, "\"" T1 "\",\"" T1 "\"");
  jres_free(&x);
  x = jread(e, meter_read("CP1", T1_MS, T1_MS + 1, -1, 0));
  assert_int_equal(jarr(x.text, "value", got, sizeof(got)), 2);
  jres_free(&x);
  /* one connector; connector 0 has none */
  x = jread(e, meter_read("CP1", 0, 0, 2, 0));
  assert_int_equal(jarr(x.text, "connectorId", got, sizeof(got)), 2);
  assert_string_equal(got, "2,2");
  jres_free(&x);
  x = jread(e, meter_read("CP1", 0, 0, 0, 0));
  assert_string_equal(x.text, "[]");
  jres_free(&x);
  /* limit */
  x = jread(e, meter_read("CP1", 0, 0, -1, 3));
  assert_int_equal(jarr(x.text, "value", got, sizeof(got)), 3);
  assert_string_equal(got, "\"11001.31\",\"7200\",\"42\"");
  jres_free(&x);
  /* fc_read_new's default is any connector */
  x = jread(e, fc_read_new(FC_READ_METER_VALUES, "CP2"));
  assert_int_equal(jarr(x.text, "value", got, sizeof(got)), 1);
  jres_free(&x);
  x = jread(e, meter_read("NOPE", 0, 0, -1, 0));
  assert_int_equal(x.status, 0);
  assert_string_equal(x.text, "[]");
  jres_free(&x);
}

static fc_read_t *tx_read(const char *cp, long long from, long long to, unsigned limit)
{
  fc_read_t *r = fc_read_new(FC_READ_TRANSACTIONS, cp);
  r->from_ms = from;
  r->to_ms = to;
  r->limit = limit;
  return r;
}

static void test_read_transactions(void **state)
{
  env_t *e = *state;
  char got[512];
  assert_int_equal(env_open(e, NULL), 0);

  /* 1: CP1 at T1, stopped; 2: CP2 at T2, running; 77: CP1, known only from
   * its stop (at T2 + 5 s) */
  wres_t r = one(e, FC_OP_TX_START, "CP1",
                 "{\"connectorId\":1,\"idTag\":\"TAG1\",\"timestamp\":\"" T1
                 "\",\"meterStart\":1000,\"reservationId\":3}",
                 "Accepted");
  assert_int_equal(r.out_id, 1);
  one(e, FC_OP_TX_STOP, "CP1",
      "{\"transactionId\":1,\"timestamp\":\"" T2
      "\",\"meterStop\":2500,\"reason\":\"EVDisconnected\"}",
      NULL);
  r = one(e, FC_OP_TX_START, "CP2",
          "{\"connectorId\":2,\"idTag\":\"TAG2\",\"timestamp\":\"" T2 "\",\"meterStart\":50}",
          "Blocked");
  assert_int_equal(r.out_id, 2);
  r = one(e, FC_OP_TX_STOP, "CP1",
          "{\"transactionId\":77,\"timestamp\":\"2026-11-26T10:00:10.000Z\",\"meterStop\":9}",
          NULL);
  assert_int_equal(r.out_id, 77);

  jres_t x = jread(e, fc_read_new(FC_READ_TRANSACTION, NULL));
  assert_int_equal(x.status, FC_ERR_NOTFOUND); /* arg_i64 0 */
  assert_null(x.text);
  jres_free(&x);
  fc_read_t *q = fc_read_new(FC_READ_TRANSACTION, NULL);
  q->arg_i64 = 1;
  x = jread(e, q);
  assert_int_equal(x.status, 0);
  assert_string_equal(x.text, "{\"id\":1,\"charger\":\"CP1\",\"connectorId\":1,\"idTag\":\"TAG1\","
                              "\"idTagStatus\":\"Accepted\",\"startedAt\":\"" T1 "\","
                              "\"meterStart\":1000,\"reservationId\":3,\"stoppedAt\":\"" T2 "\","
                              "\"meterStop\":2500,\"stopReason\":\"EVDisconnected\","
                              "\"energyWh\":1500,\"cost\":null,\"currency\":null}");
  jres_free(&x);
  q = fc_read_new(FC_READ_TRANSACTION, NULL);
  q->arg_i64 = 2;
  x = jread(e, q);
  assert_string_equal(x.text, "{\"id\":2,\"charger\":\"CP2\",\"connectorId\":2,\"idTag\":\"TAG2\","
                              "\"idTagStatus\":\"Blocked\",\"startedAt\":\"" T2 "\","
                              "\"meterStart\":50,\"reservationId\":null,\"stoppedAt\":null,"
                              "\"meterStop\":null,\"stopReason\":null,\"energyWh\":null,"
                              "\"cost\":null,\"currency\":null}");
  jres_free(&x);
  q = fc_read_new(FC_READ_TRANSACTION, NULL);
  q->arg_i64 = 77;
  x = jread(e, q);
  assert_string_equal(x.text, "{\"id\":77,\"charger\":\"CP1\",\"connectorId\":0,\"idTag\":null,"
                              "\"idTagStatus\":null,\"startedAt\":null,\"meterStart\":null,"
                              "\"reservationId\":null,\"stoppedAt\":\"2026-11-26T10:00:10.000Z\","
                              "\"meterStop\":9,\"stopReason\":null,\"energyWh\":null,"
                              "\"cost\":null,\"currency\":null}");
  jres_free(&x);

  /* every charger, newest first */
  x = jread(e, tx_read("", 0, 0, 0));
  assert_int_equal(x.status, 0);
  assert_int_equal(jarr(x.text, "id", got, sizeof(got)), 3);
  assert_string_equal(got, "77,2,1");
  jres_free(&x);
  /* one charger */
  x = jread(e, tx_read("CP1", 0, 0, 0));
  assert_int_equal(jarr(x.text, "id", got, sizeof(got)), 2);
  assert_string_equal(got, "77,1");
  jres_free(&x);
  /* on the start time: from inclusive, to exclusive; no start, no match */
  x = jread(e, tx_read("", T1_MS + 5000, 0, 0));
  assert_int_equal(jarr(x.text, "id", got, sizeof(got)), 1);
  assert_string_equal(got, "2");
  jres_free(&x);
  x = jread(e, tx_read("", 0, T1_MS + 5000, 0));
  assert_int_equal(jarr(x.text, "id", got, sizeof(got)), 1);
  assert_string_equal(got, "1");
  jres_free(&x);
  x = jread(e, tx_read("CP2", T1_MS, T1_MS + 1, 0));
  assert_string_equal(x.text, "[]");
  jres_free(&x);
  /* limit */
  x = jread(e, tx_read("", 0, 0, 2));
  assert_int_equal(jarr(x.text, "id", got, sizeof(got)), 2);
  assert_string_equal(got, "77,2");
  jres_free(&x);

  /* a scope is applied in the query, before the limit: CP2's newest does
   * not take CP1's place */
  static const char *const cp1[] = {"CP1"}, *const cp2[] = {"CP2", "CP9"};
  fc_read_t *s = tx_read("", 0, 0, 1);
  fc_read_set_scope(s, cp1, 1);
  x = jread(e, s);
  assert_int_equal(jarr(x.text, "id", got, sizeof(got)), 1);
  assert_string_equal(got, "77");
  jres_free(&x);
  s = tx_read("CP1", 0, 0, 0);
  fc_read_set_scope(s, cp2, 2);
  x = jread(e, s);
  assert_string_equal(x.text, "[]");
  jres_free(&x);
  s = tx_read("", 0, 0, 0);
  fc_read_set_scope(s, NULL, 0); /* nothing in scope */
  x = jread(e, s);
  assert_string_equal(x.text, "[]");
  jres_free(&x);
  /* one transaction: outside the scope is not found, like a missing one */
  q = fc_read_new(FC_READ_TRANSACTION, NULL);
  q->arg_i64 = 2;
  fc_read_set_scope(q, cp1, 1);
  x = jread(e, q);
  assert_int_equal(x.status, FC_ERR_NOTFOUND);
  jres_free(&x);
  q = fc_read_new(FC_READ_TRANSACTION, NULL);
  q->arg_i64 = 2;
  fc_read_set_scope(q, cp2, 2);
  x = jread(e, q);
  assert_int_equal(x.status, 0);
  assert_non_null(strstr(x.text, "\"id\":2,"));
  jres_free(&x);
}

static void test_read_charger_info(void **state)
{
  env_t *e = *state;
  assert_int_equal(env_open(e, NULL), 0);
  fc_write_t *w = fc_write_new();
  fc_op_t *op = add_op(w, FC_OP_BOOT, "CP1",
                       "{\"chargePointVendor\":\"ACME\",\"chargePointModel\":\"Pro\","
                       "\"chargePointSerialNumber\":\"S1\",\"firmwareVersion\":\"1.2\"}",
                       "Accepted");
  op->ts_ms = T1_MS;
  op = add_op(w, FC_OP_CHARGER_SEEN, "CP1", NULL, NULL);
  op->seen.online = true;
  op->seen.conn_id = 7;
  op->ts_ms = T1_MS + 1;
  op = add_op(w, FC_OP_HEARTBEAT, "CP1", NULL, NULL);
  op->ts_ms = T1_MS + 2;
  /* a connection of a charger without a row does not make one */
  op = add_op(w, FC_OP_CHARGER_SEEN, "CP9", NULL, NULL);
  op->seen.online = true;
  op->seen.conn_id = 8;
  /* data does, Pending */
  op = add_op(w, FC_OP_HEARTBEAT, "CP2", NULL, NULL);
  op->ts_ms = T1_MS + 3;
  assert_int_equal(submit_wait(e, w).status, 0);
  fc_store_admin_t *a;
  assert_int_equal(fc_store_admin_open(e->path, &a), 0);
  assert_int_equal(fc_store_admin_charger_put(a, "CP0", "secret-hash", "Pending"), 0);
  fc_store_admin_close(a);

  jres_t x = jread(e, fc_read_new(FC_READ_CHARGER_INFO, NULL));
  assert_int_equal(x.status, 0);
  /* no credential in it */
  assert_string_equal(x.text,
                      "[{\"id\":\"CP0\",\"registration\":\"Pending\",\"vendor\":null,"
                      "\"model\":null,\"serialNumber\":null,\"firmwareVersion\":null,"
                      "\"lastBootAt\":null,\"lastSeenAt\":null,\"lastHeartbeatAt\":null,"
                      "\"online\":false},"
                      "{\"id\":\"CP1\",\"registration\":\"Accepted\",\"vendor\":\"ACME\","
                      "\"model\":\"Pro\",\"serialNumber\":\"S1\",\"firmwareVersion\":\"1.2\","
                      "\"lastBootAt\":\"2026-11-26T10:00:00.000Z\","
                      "\"lastSeenAt\":\"2026-11-26T10:00:00.002Z\","
                      "\"lastHeartbeatAt\":\"2026-11-26T10:00:00.002Z\",\"online\":true},"
                      "{\"id\":\"CP2\",\"registration\":\"Pending\",\"vendor\":null,"
                      "\"model\":null,\"serialNumber\":null,\"firmwareVersion\":null,"
                      "\"lastBootAt\":null,\"lastSeenAt\":\"2026-11-26T10:00:00.003Z\","
                      "\"lastHeartbeatAt\":\"2026-11-26T10:00:00.003Z\",\"online\":false}]");
  jres_free(&x);
}

/* ---- retention ---- */

#define DAY_MS 86400000LL

static void snapshot_latest(env_t *e, loaded_t *l)
{
  memset(l, 0, sizeof(*l));
  assert_int_equal(fc_store_load_latest_events(e->s, load_cb, l), 0);
}

static void heartbeat(env_t *e)
{
  wres_t r = one(e, FC_OP_HEARTBEAT, "CPH", NULL, NULL);
  assert_int_equal(r.status, 0);
}

static const char *seqs(env_t *e, const char *cp)
{
  char sql[160];
  snprintf(sql, sizeof(sql),
           "SELECT ifnull(group_concat(seq, ','), '') FROM (SELECT seq FROM events"
           " WHERE charger_id = '%s' ORDER BY seq)",
           cp);
  return q1(e, sql);
}

static void test_retention(void **state)
{
  env_t *e = *state;
  long long old = fc_store__now_ms() - 10 * DAY_MS, now = fc_store__now_ms();
  loaded_t before, after;

  /* Session 1 prunes with its first batch, before anything is there; later
   * batches within the hour do not. */
  assert_int_equal(env_open(e, NULL), 0);
  register_chargers(e, "CP1", "CP2", NULL);
  heartbeat(e);
  struct {
    const char *cp, *type;
    int conn, flag;
    long long ts;
  } evs[] = {
      {"CP1", "meter", 1, 0, old},       /* 1: superseded */
      {"CP1", "meter", 1, 0, old},       /* 2: superseded */
      {"CP1", "meter", 1, 0, old},       /* 3: superseded */
      {"CP1", "status", 1, 0, old},      /* 4: old, but the latest of its key */
      {"CP1", "meter", 1, T_LATE, old},  /* 5: late, superseded by 9 */
      {"CP1", "meter", 2, 0, old},       /* 6: superseded */
      {"CP1", "meter", 2, 0, old},       /* 7: superseded */
      {"CP1", "meter", 2, 0, now},       /* 8: recent */
      {"CP1", "meter", 1, 0, now},       /* 9: recent */
      {"CP1", "status", 2, 0, now},      /* 10: recent */
      {"CP1", "status", 2, T_LATE, old}, /* 11: late, the newest of its key: kept */
      {"CP2", "meter", 1, 0, old},       /* CP2 1: old, the latest of its key */
  };
  for (size_t i = 0; i < FC_ARRAY_SIZE(evs); i++)
    event1(e, evs[i].cp, evs[i].type, evs[i].conn, "{}", evs[i].ts, evs[i].flag);
  assert_string_equal(seqs(e, "CP1"), "1,2,3,4,5,6,7,8,9,10,11");
  snapshot_latest(e, &before);
  env_close_store(e);

  /* session 2: its first batch prunes (and then not for an hour) */
  fc_store_opts_t hourly = {.prune_interval_ms = 3600 * 1000};
  assert_int_equal(env_open(e, &hourly), 0);
  heartbeat(e);
  assert_string_equal(seqs(e, "CP1"), "4,8,9,10,11");
  assert_string_equal(seqs(e, "CP2"), "1");
  assert_true(latest_consistent(e));
  /* what start-up folds is the same as before */
  snapshot_latest(e, &after);
  assert_int_equal(after.n, before.n);
  for (int i = 0; i < before.n; i++)
    assert_string_equal(after.lines[i], before.lines[i]);
  /* at most once per interval: a newer old event makes CP2's first
   * redundant, but the next batches leave it */
  event1(e, "CP2", "meter", 1, "{}", old, 0);
  heartbeat(e);
  assert_string_equal(seqs(e, "CP2"), "1,2");
  env_close_store(e);

  /* a longer retention keeps it */
  fc_store_opts_t o = {.event_retention_days = 20};
  assert_int_equal(env_open(e, &o), 0);
  heartbeat(e);
  assert_string_equal(seqs(e, "CP2"), "1,2");
  env_close_store(e);
  o.event_retention_days = 9;
  assert_int_equal(env_open(e, &o), 0);
  heartbeat(e);
  assert_string_equal(seqs(e, "CP2"), "2");
  assert_string_equal(seqs(e, "CP1"), "4,8,9,10,11");
  /* sequence numbers go on where they were */
  assert_int_equal(event1(e, "CP2", "meter", 1, "{}", now, 0), 3);
}

/* Pruning deletes in slices of prune_limit (500) per batch; while a slice is
 * full, the next batch goes on, whatever the interval. */
static void test_retention_in_slices(void **state)
{
  env_t *e = *state;
  long long old = fc_store__now_ms() - 10 * DAY_MS;
  enum { N = 2 * 500 + 120 };
  fc_store_opts_t hourly = {.prune_interval_ms = 3600 * 1000};

  assert_int_equal(env_open(e, NULL), 0);
  register_chargers(e, "CP1", NULL);
  heartbeat(e);
  fc_write_t *w = fc_write_new();
  for (int i = 0; i < N; i++) {
    fc_write_event(w, "CP1", &(fc_op_event_t){.type = "meter", .connector = 1, .ts_ms = old});
  }
  eres_t r = submit_e(e, w);
  assert_int_equal(r.status, 0);
  eres_free(&r);
  env_close_store(e);

  assert_int_equal(env_open(e, &hourly), 0);
  heartbeat(e);
  assert_int_equal(qint(e, "SELECT count(*) FROM events"), N - 500);
  heartbeat(e);
  assert_int_equal(qint(e, "SELECT count(*) FROM events"), N - 1000);
  heartbeat(e);
  assert_int_equal(qint(e, "SELECT count(*) FROM events"), 1);
  /* the backlog is gone: the next pass waits for the interval */
  event1(e, "CP1", "meter", 1, "{}", old, 0);
  heartbeat(e);
  assert_int_equal(qint(e, "SELECT count(*) FROM events"), 2);
  assert_int_equal(qint(e, "SELECT seq FROM events"), N);
}

/* The raw frame log is pruned in the same passes: frames older than
 * frame_retention_days go, oldest first, prune_limit a pass. */
static void test_frame_retention(void **state)
{
  env_t *e = *state;
  long long now = fc_store__now_ms();
  enum { OLD = 500 + 30 };

  assert_int_equal(env_open(e, NULL), 0);
  register_chargers(e, "CP1", NULL);
  heartbeat(e); /* the first pass, with nothing to prune */
  fc_write_t *w = fc_write_new();
  for (int i = 0; i < OLD + 2; i++) {
    /* OLD frames of 41 days ago and older, stored newest first (so that
     * the oldest in time are the last rows), then one of 20 days ago and
     * one of now */
    long long age = i < OLD ? 41 + i : i == OLD ? 20 : 0;
    fc_write_frame(w, "CP1",
                   &(fc_op_frame_t){.text = "[2,\"a\",\"Heartbeat\",{}]", .inbound = true})
        ->ts_ms = now - age * DAY_MS;
  }
  wres_t r = submit_wait(e, w);
  assert_int_equal(r.status, 0);
  env_close_store(e);

  /* 30 days by default: the first pass takes 500, the oldest by time (41 +
   * 30 days old and beyond); the next the other 30 old ones; the recent two
   * stay */
  fc_store_opts_t hourly = {.prune_interval_ms = 3600 * 1000};
  char sql[128];
  assert_int_equal(env_open(e, &hourly), 0);
  heartbeat(e);
  assert_int_equal(qint(e, "SELECT count(*) FROM frames"), OLD + 2 - 500);
  snprintf(sql, sizeof(sql), "SELECT count(*) FROM frames WHERE ts < %lld", now - 71 * DAY_MS);
  assert_int_equal(qint(e, sql), 0);
  heartbeat(e);
  assert_int_equal(qint(e, "SELECT count(*) FROM frames"), 2);
  env_close_store(e);

  /* a shorter retention takes the one of 20 days */
  fc_store_opts_t ten = {.frame_retention_days = 10};
  assert_int_equal(env_open(e, &ten), 0);
  heartbeat(e);
  assert_int_equal(qint(e, "SELECT count(*) FROM frames"), 1);
  assert_true(qint(e, "SELECT min(ts) FROM frames") >= now - DAY_MS);
}

/* Migrations 005 and 006 on a version-4 database: the sampled-value rows
 * become readings, the reads give the same JSON as before, the meter_values
 * view the same rows, and a reading the charger resends after the upgrade is
 * still a duplicate; a charger's events go on from its latest seq without
 * chargers.event_seq. */
static void test_migrations_005_006(void **state)
{
  env_t *e = *state;
  sqlite3 *db;

  /* version 4, with test_read_meter_values' data as 004 stored it: one row
   * per value, defaults filled in, in the order they came */
  assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL), SQLITE_OK);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(fc_store__migrations[i].version, i + 1);
    assert_int_equal(sqlite3_exec(db, fc_store__migrations[i].sql, NULL, NULL, NULL), SQLITE_OK);
  }
  assert_int_equal(
      sqlite3_exec(
          db,
          "PRAGMA user_version = 4;"
          "INSERT INTO meter_values (id, charger_id, connector_id, transaction_id, ts, measurand,"
          " phase, unit, context, location, format, value, value_num, received_at) VALUES"
          " (1, 'CP1', 1, NULL, 1795687200000, 'Energy.Active.Import.Register', NULL, 'Wh',"
          "  'Sample.Periodic', 'Outlet', 'Raw', '11001.31', 11001.31, 10),"
          " (2, 'CP1', 1, NULL, 1795687200000, 'Power.Active.Import', 'L1', 'W',"
          "  'Sample.Periodic', 'Outlet', 'Raw', '7200', 7200, 10),"
          " (3, 'CP1', 2, 1, 1795687205000, 'SoC', NULL, NULL, 'Transaction.Begin', 'EV', 'Raw',"
          "  '42', 42, 11),"
          " (4, 'CP1', 2, 1, 1795687205000, 'Voltage', NULL, NULL, 'Sample.Periodic', 'Outlet',"
          "  'Raw', 'n/a', NULL, 12),"
          " (5, 'CP2', 1, NULL, 1795687200000, 'Energy.Active.Import.Register', NULL, 'Wh',"
          "  'Sample.Periodic', 'Outlet', 'Raw', '5', 5, 13);"
          "INSERT INTO chargers (id, registration, event_seq, created_at, updated_at)"
          " VALUES ('CP1', 'Accepted', 7, 1, 1);"
          "INSERT INTO events (charger_id, seq, type, connector_id, ts, json)"
          " VALUES ('CP1', 6, 'meter', 1, 1, '{}'), ('CP1', 7, 'status', 1, 1, '{}');",
          NULL, NULL, NULL),
      SQLITE_OK);
  sqlite3_close(db);

  assert_int_equal(env_open(e, NULL), 0);
  assert_string_equal(q1(e, "PRAGMA user_version"), FC_TEST_SCHEMA_VERSION);
  /* one reading per charger, connector, time and transaction, in order */
  assert_int_equal(qint(e, "SELECT count(*) FROM meter_readings"), 3);
  assert_string_equal(q1(e, "SELECT group_concat(charger_id || ':' || connector_id || ':' ||"
                            " json_array_length(sampled) || ':' || received_at, ' ')"
                            " FROM (SELECT * FROM meter_readings ORDER BY id)"),
                      "CP1:1:2:10 CP1:2:2:11 CP2:1:1:13");
  jres_t x = jread(e, meter_read("CP1", 0, 0, -1, 0));
  assert_int_equal(x.status, 0);
  assert_string_equal(x.text, METER_READ_CP1);
  jres_free(&x);
  /* the view: the old rows */
  assert_string_equal(
      q1(e, "SELECT group_concat(concat, ' ') FROM (SELECT charger_id || ',' || connector_id"
            " || ',' || ifnull(transaction_id, '-') || ',' || ts || ',' || measurand || ','"
            " || ifnull(phase, '-') || ',' || ifnull(unit, '-') || ',' || context || ','"
            " || location || ',' || format || ',' || value || ',' || ifnull(value_num, '-') AS"
            " concat FROM meter_values ORDER BY ts, reading_id, sample)"),
      "CP1,1,-,1795687200000,Energy.Active.Import.Register,-,Wh,Sample.Periodic,Outlet,Raw,"
      "11001.31,11001.31 "
      "CP1,1,-,1795687200000,Power.Active.Import,L1,W,Sample.Periodic,Outlet,Raw,7200,7200.0 "
      "CP2,1,-,1795687200000,Energy.Active.Import.Register,-,Wh,Sample.Periodic,Outlet,Raw,5,"
      "5.0 "
      "CP1,2,1,1795687205000,SoC,-,-,Transaction.Begin,EV,Raw,42,42.0 "
      "CP1,2,1,1795687205000,Voltage,-,-,Sample.Periodic,Outlet,Raw,n/a,-");
  /* the first reading resent as the charger sends it: nothing new */
  one(e, FC_OP_METER, "CP1",
      "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"" T1 "\",\"sampledValue\":["
      "{\"value\":\"11001.31\"},"
      "{\"value\":\"7200\",\"measurand\":\"Power.Active.Import\",\"unit\":\"W\",\"phase\":\"L1\"}]}"
      "]}",
      NULL);
  assert_int_equal(qint(e, "SELECT count(*) FROM meter_readings"), 3);
  /* 006 */
  assert_int_equal(qint(e, "SELECT count(*) FROM pragma_table_info('chargers')"
                           " WHERE name = 'event_seq'"),
                   0);
  assert_int_equal(event1(e, "CP1", "meter", 1, "{}", T1_MS, 0), 8);
  loaded_t l = {0};
  assert_int_equal(fc_store_load_latest_events(e->s, load_cb, &l), 0);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.lines[0], "CP1|8|{}");
  assert_true(strncmp(l.lines[1], "CP1|8|{\"type\":\"meter\",", 22) == 0);
  env_close_store(e);
  assert_int_equal(env_open(e, NULL), 0);
  assert_string_equal(q1(e, "PRAGMA user_version"), FC_TEST_SCHEMA_VERSION);
  assert_int_equal(qint(e, "SELECT count(*) FROM meter_readings"), 3);
}

/* Migration 007 on a database as the previous version (6) left it: the
 * events_latest index becomes a table holding the same keys, start-up folds
 * the same events, retention keeps what it kept, and the writer keeps the
 * table as events come. (008 comes with it: the frame log keeps its rows.) */
static void test_migration_007_on_version_6(void **state)
{
  env_t *e = *state;
  long long old = fc_store__now_ms() - 10 * DAY_MS;
  char sql[2048], b[64];
  sqlite3 *db;

  assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
  assert_int_equal(fc_store__sqlite_functions(db), SQLITE_OK); /* 005 uses ours */
  assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL), SQLITE_OK);
  for (int i = 0; i < 6; i++) {
    assert_int_equal(fc_store__migrations[i].version, i + 1);
    assert_int_equal(sqlite3_exec(db, fc_store__migrations[i].sql, NULL, NULL, NULL), SQLITE_OK);
  }
  /* CP1: keys with several events, late ones after the latest non-late of
   * their key (kept: 11 is CP1's latest seq), a key with only a late event;
   * CP2: registered, no events; CP3: only a late event; all 10 days old */
  snprintf(sql, sizeof(sql),
           "PRAGMA user_version = 6;"
           "INSERT INTO chargers (id, registration, created_at, updated_at) VALUES"
           " ('CP1', 'Accepted', 1, 1), ('CP2', 'Accepted', 1, 1), ('CP3', 'Accepted', 1, 1),"
           " ('CPH', 'Accepted', 1, 1);"
           "WITH v (cp, seq, type, conn, late) AS (VALUES"
           " ('CP1', 1, 'meter', 1, 0), ('CP1', 2, 'status', 1, 0), ('CP1', 3, 'meter', 1, 0),"
           " ('CP1', 4, 'meter', 2, 0), ('CP1', 5, 'meter', 1, 1), ('CP1', 6, 'status', 1, 0),"
           " ('CP1', 7, 'meter', 1, 0), ('CP1', 8, 'charger.online', 0, 0),"
           " ('CP1', 9, 'status', 2, 1), ('CP1', 10, 'meter', 2, 0), ('CP1', 11, 'meter', 1, 1),"
           " ('CP3', 1, 'meter', 1, 1))"
           " INSERT INTO events (charger_id, seq, type, connector_id, ts, late, json)"
           " SELECT cp, seq, type, conn, %lld, late, json_object('type', type, 'charger', cp,"
           " 'connector', conn, 'seq', seq, 'data', json_object()) FROM v ORDER BY cp, seq;"
           "INSERT INTO frames (ts, charger_id, conn_id, direction, text)"
           " VALUES (5, 'CP1', 1, 'in', '[2,\"a\",\"Heartbeat\",{}]');",
           old);
  assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);

  assert_int_equal(env_open(e, NULL), 0);
  assert_string_equal(q1(e, "PRAGMA user_version"), FC_TEST_SCHEMA_VERSION);
  assert_string_equal(q1(e, "SELECT group_concat(type || '/' || name, ' ') FROM (SELECT type, name"
                            " FROM sqlite_master WHERE name LIKE 'events_latest%'"
                            " OR tbl_name = 'frames' ORDER BY name)"),
                      "table/events_latest table/frames index/frames_ts");
  assert_string_equal(q1(e, "SELECT group_concat(charger_id || ':' || type || ':' || connector_id"
                            " || ':' || seq, ' ') FROM (SELECT * FROM events_latest"
                            " ORDER BY charger_id, seq)"),
                      "CP1:status:1:6 CP1:meter:1:7 CP1:charger.online:0:8 CP1:meter:2:10");
  assert_true(latest_consistent(e));
  assert_string_equal(q1(e, "SELECT ts || ' ' || text FROM frames"),
                      "5 [2,\"a\",\"Heartbeat\",{}]");

  /* the fold: what the index gave before */
  loaded_t l = {0};
  assert_int_equal(fc_store_load_latest_events(e->s, load_cb, &l), 0);
  assert_int_equal(l.n, 7);
  assert_true(strncmp(l.lines[0], "CP1|11|", 7) == 0);
  assert_string_equal(brief(l.lines[0], b, sizeof(b)), "6:status:1");
  assert_string_equal(brief(l.lines[1], b, sizeof(b)), "7:meter:1");
  assert_string_equal(brief(l.lines[2], b, sizeof(b)), "8:charger.online:0");
  assert_string_equal(brief(l.lines[3], b, sizeof(b)), "10:meter:2");
  assert_string_equal(l.lines[4], "CP2|0|NULL");
  assert_string_equal(l.lines[5], "CP3|1|NULL");
  assert_string_equal(l.lines[6], "CPH|0|NULL"); /* heartbeat()'s */

  /* the first batch prunes: what a newer non-late event of its key
   * supersedes goes (5, late, included); the latest of each key, the late
   * events newer than it, and those of a key with no other stay */
  heartbeat(e);
  assert_string_equal(seqs(e, "CP1"), "6,7,8,9,10,11");
  assert_string_equal(seqs(e, "CP3"), "1");
  assert_true(latest_consistent(e));
  loaded_t after = {0};
  assert_int_equal(fc_store_load_latest_events(e->s, load_cb, &after), 0);
  assert_int_equal(after.n, l.n);
  for (int i = 0; i < l.n; i++)
    assert_string_equal(after.lines[i], l.lines[i]);

  /* the writer keeps it: a non-late event moves its key, a late one does
   * not, a new key gets a row */
  assert_int_equal(event1(e, "CP1", "meter", 1, "{}", T1_MS, 0), 12);
  assert_int_equal(event1(e, "CP1", "status", 1, "{}", T1_MS, T_LATE), 13);
  assert_int_equal(event1(e, "CP3", "status", 0, "{}", T1_MS, 0), 2);
  assert_string_equal(q1(e, "SELECT group_concat(charger_id || ':' || type || ':' || connector_id"
                            " || ':' || seq, ' ') FROM (SELECT * FROM events_latest"
                            " ORDER BY charger_id, seq)"),
                      "CP1:status:1:6 CP1:charger.online:0:8 CP1:meter:2:10 CP1:meter:1:12"
                      " CP3:status:0:2");
  assert_true(latest_consistent(e));
  env_close_store(e);
  assert_int_equal(env_open(e, NULL), 0);
  assert_string_equal(q1(e, "PRAGMA user_version"), FC_TEST_SCHEMA_VERSION);
  assert_true(latest_consistent(e));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_event_json, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_event_seq, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_event_seq_gap_free_in_batch, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_event_batch_retry, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_event_transaction_rules, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_event_text_freed, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_load_latest_events, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_event_seq_after_charger_removed, env_setup,
                                      env_teardown),
      cmocka_unit_test_setup_teardown(test_migration_002_on_version_1, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_read_events, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_read_meter_values, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_migrations_005_006, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_migration_007_on_version_6, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_read_transactions, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_read_charger_info, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_retention, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_retention_in_slices, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_frame_retention, env_setup, env_teardown),
  };
  fc_log_level = FC_LOG_ERROR; /* the failure tests log on purpose */
  /* FC_TEST_FILTER=name: one test, e.g. to run it in a loop */
  if (getenv("FC_TEST_FILTER")) cmocka_set_test_filter(getenv("FC_TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
