/* The write operations (fc_op_kind_t) on sqlite, run by the writer thread
 * inside the batch transaction and the write's savepoint.
 *
 * Payloads were validated against the OCPP schema before they got here; a
 * payload that still lacks what an op needs fails that write alone
 * (FC_ERR_STORE). Every op but FRAME_LOG first makes sure the charger has a
 * row, so that nothing trips over a foreign key for a charger the registry has
 * not seen yet (a BOOT or CHARGER_SEEN op gives the registration).
 *
 * Time stamps: the payload's own when it has one that parses, else op->ts_ms
 * (arrival), else now. Strings are bound SQLITE_STATIC: they belong to the
 * op or its json, which outlive the statement's step (it is reset after). */
#include "core/json.h"
#include "store/sqlite/sqlite_int.h"

#include "core/err.h"
#include "core/mem.h"
#include "log/log.h"

#include <limits.h>
#include <stdbool.h>
#include <uthash.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *jstr(json_t *o, const char *key)
{
  json_t *v = json_object_get(o, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

static int jint(json_t *o, const char *key, long long *out)
{
  json_t *v = json_object_get(o, key);
  if (json_is_integer(v)) {
    *out = json_integer_value(v);
    return 0;
  }
  /* 12.0 from a lenient encoder */
  if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)) &&
      fabs(json_real_value(v)) < 9e15) {
    *out = (long long)json_real_value(v);
    return 0;
  }
  return -1;
}

static long long arrival(const fc_op_t *op)
{
  return op->ts_ms > 0 ? op->ts_ms : fc_store__now_ms();
}

static long long when(const fc_op_t *op, json_t *o, const char *key)
{
  long long ms;
  const char *s = jstr(o, key);
  if (s && fc_store__parse_time(s, &ms) == 0) return ms;
  return arrival(op);
}

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
  if (s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

/* Steps a statement that returns no row, then resets it. */
static int run(fc_store_conn_t *c, sqlite3_stmt *st, const char *what)
{
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : fc_store__sqlite_err(c, rc, what);
}

#define STMT(c, st, id)                                                                            \
  do {                                                                                             \
    if (!((st) = fc_store__stmt((c), (id)))) return UV_EIO;                                        \
  } while (0)

/* ---- chargers known to have a row ---------------------------------------
 *
 * Every data op makes sure its charger has a row, and every event needs it
 * to. The writer remembers the chargers it has seen with a row, so that a
 * charger's messages cost one look-up in the chargers table, not one or two
 * each. Only the CLI removes chargers, and removing one bumps
 * meta.registry_version (001_init.sql's triggers): each transaction starts
 * by comparing it with the one the set was built at. Rollbacks clear the
 * set too.
 *
 * A known charger also carries its latest event seq once an event of it
 * needed it: events are written only here, so the next is seq + 1, with
 * no look-up in events. A rollback (of a batch or of one write's savepoint)
 * forgets it with the rest, and retention never deletes a charger's latest
 * event. */
typedef struct fc_store_known {
  UT_hash_handle hh;
  bool has_seq;
  int64_t seq;
  char id[];
} known_t;

void fc_store__known_forget(fc_store_conn_t *c)
{
  known_t *k, *tmp;
  HASH_ITER(hh, c->known, k, tmp)
  {
    HASH_DEL(c->known, k);
    fc_free(k);
  }
}

int fc_store__known_check(fc_store_conn_t *c)
{
  sqlite3_stmt *st;
  int64_t version = 0;
  STMT(c, st, FC_SQL_READ_REGISTRY_VERSION);
  int src = sqlite3_step(st);
  if (src == SQLITE_ROW) version = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (src != SQLITE_ROW && src != SQLITE_DONE) return fc_store__sqlite_err(c, src, "registry");
  if (version != c->known_version) {
    fc_store__known_forget(c);
    c->known_version = version;
  }
  return 0;
}

static known_t *known(fc_store_conn_t *c, const char *id)
{
  known_t *k = NULL;
  HASH_FIND_STR(c->known, id, k);
  return k;
}

static known_t *learn(fc_store_conn_t *c, const char *id)
{
  size_t n = strlen(id) + 1;
  known_t *k = fc_malloc(sizeof(*k) + n);
  k->has_seq = false;
  k->seq = 0;
  memcpy(k->id, id, n);
  HASH_ADD(hh, c->known, id[0], n - 1, k);
  return k;
}

static int ensure_charger(fc_store_conn_t *c, const char *id, const char *registration,
                          long long now)
{
  sqlite3_stmt *st;
  if (known(c, id)) return 0;
  /* Nearly always there: a look-up in the primary key is much cheaper than
   * an insert that turns out to conflict. */
  STMT(c, st, FC_SQL_CHARGER_EXISTS);
  bind_str(st, 1, id);
  int src = sqlite3_step(st);
  sqlite3_reset(st);
  if (src == SQLITE_ROW) {
    learn(c, id);
    return 0;
  }
  if (src != SQLITE_DONE) return fc_store__sqlite_err(c, src, "charger exists");
  STMT(c, st, FC_SQL_ENSURE_CHARGER);
  bind_str(st, 1, id);
  /* A row that data alone creates (a charger removed while its messages
   * were in flight) is kept, but not approved: Pending until an operator
   * says otherwise. */
  bind_str(st, 2, registration ? registration : "Pending");
  sqlite3_bind_int64(st, 3, now);
  return run(c, st, "ensure charger");
}

static int op_frame(fc_store_conn_t *c, fc_op_t *op)
{
  sqlite3_stmt *st;
  if (!op->text || op->text_len > INT_MAX) return FC_ERR_STORE;
  STMT(c, st, FC_SQL_FRAME_INS);
  sqlite3_bind_int64(st, 1, arrival(op));
  bind_str(st, 2, op->str);
  sqlite3_bind_int64(st, 3, op->i64);
  bind_str(st, 4, op->flag ? "in" : "out");
  sqlite3_bind_text(st, 5, op->text, (int)op->text_len, SQLITE_STATIC);
  return run(c, st, "frame");
}

static int op_boot(fc_store_conn_t *c, fc_op_t *op)
{
  static const char *const keys[] = {"chargePointVendor",
                                     "chargePointModel",
                                     "chargePointSerialNumber",
                                     "chargeBoxSerialNumber",
                                     "firmwareVersion",
                                     "iccid",
                                     "imsi",
                                     "meterType",
                                     "meterSerialNumber"};
  sqlite3_stmt *st;
  if (!json_is_object(op->json)) return FC_ERR_STORE;
  STMT(c, st, FC_SQL_BOOT_UPSERT);
  bind_str(st, 1, op->str);
  bind_str(st, 2, op->text ? op->text : "Accepted");
  for (int i = 0; i < (int)FC_ARRAY_SIZE(keys); i++)
    bind_str(st, 3 + i, jstr(op->json, keys[i]));
  sqlite3_bind_int64(st, 12, arrival(op));
  return run(c, st, "boot");
}

static int op_seen(fc_store_conn_t *c, fc_op_t *op)
{
  sqlite3_stmt *st;
  long long now = arrival(op);
  int rc = op->text ? ensure_charger(c, op->str, op->text, now) : 0;
  if (rc) return rc;
  STMT(c, st, op->flag ? FC_SQL_SEEN_ONLINE : FC_SQL_SEEN_OFFLINE);
  bind_str(st, 1, op->str);
  sqlite3_bind_int64(st, 2, op->i64);
  sqlite3_bind_int64(st, 3, now);
  if ((rc = run(c, st, "charger seen"))) return rc;
  STMT(c, st, FC_SQL_CONNECTION_INS);
  bind_str(st, 1, op->str);
  sqlite3_bind_int64(st, 2, op->i64);
  sqlite3_bind_int(st, 3, op->flag ? 1 : 0);
  sqlite3_bind_int64(st, 4, now);
  return run(c, st, "connection log");
}

static int op_heartbeat(fc_store_conn_t *c, fc_op_t *op)
{
  sqlite3_stmt *st;
  long long now = arrival(op);
  int rc = ensure_charger(c, op->str, NULL, now);
  if (rc) return rc;
  STMT(c, st, FC_SQL_HEARTBEAT);
  bind_str(st, 1, op->str);
  sqlite3_bind_int64(st, 2, now);
  return run(c, st, "heartbeat");
}

/* Parameters 1-8 of the three status statements (find, upsert, history):
 * charger, connector, the notification's fields, its time. */
static void bind_status(sqlite3_stmt *st, const char *charger, long long connector, json_t *p,
                        long long at)
{
  bind_str(st, 1, charger);
  sqlite3_bind_int64(st, 2, connector);
  bind_str(st, 3, jstr(p, "status"));
  bind_str(st, 4, jstr(p, "errorCode"));
  bind_str(st, 5, jstr(p, "info"));
  bind_str(st, 6, jstr(p, "vendorId"));
  bind_str(st, 7, jstr(p, "vendorErrorCode"));
  sqlite3_bind_int64(st, 8, at);
}

static int op_status(fc_store_conn_t *c, fc_op_t *op)
{
  sqlite3_stmt *st;
  long long connector, now = arrival(op);
  json_t *p = op->json;
  int rc, stale;

  if (!json_is_object(p) || jint(p, "connectorId", &connector) || !jstr(p, "status"))
    return FC_ERR_STORE;
  long long at = when(op, p, "timestamp");
  if ((rc = ensure_charger(c, op->str, NULL, now))) return rc;

  /* A charger's retry of a notification we have (its own time stamp and
   * every field the same) stores nothing new. One without a time stamp
   * cannot be told from a new one, and is stored again. */
  if (jstr(p, "timestamp")) {
    STMT(c, st, FC_SQL_STATUS_HIST_FIND);
    bind_status(st, op->str, connector, p, at);
    int src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src == SQLITE_ROW) {
      op->out_flag = 2;
      return 0;
    }
    if (src != SQLITE_DONE) return fc_store__sqlite_err(c, src, "status find");
  }

  /* The upsert's WHERE keeps a newer status: no row changed = stale. */
  STMT(c, st, FC_SQL_STATUS_UPSERT);
  bind_status(st, op->str, connector, p, at);
  sqlite3_bind_int64(st, 9, now);
  if ((rc = run(c, st, "status"))) return rc;
  stale = sqlite3_changes(c->db) == 0;

  STMT(c, st, FC_SQL_STATUS_HIST_INS);
  bind_status(st, op->str, connector, p, at);
  sqlite3_bind_int64(st, 9, now);
  sqlite3_bind_int(st, 10, stale);
  if ((rc = run(c, st, "status history"))) return rc;
  op->out_flag = stale;
  return 0;
}

/* Stores one MeterValue ({timestamp, sampledValue:[…]}) as a reading: its
 * sampled values as JSON text, as the charger sent them (the reads apply
 * the defaults), and their digest; a reading stored before (same charger,
 * connector, time stamp and digest) is not stored again. tx < 0: no
 * transaction. */
static int meter_value(fc_store_conn_t *c, fc_op_t *op, long long connector, long long tx,
                       json_t *mv, int *stored)
{
  json_t *svs = json_object_get(mv, "sampledValue");
  long long ts = when(op, mv, "timestamp");
  sqlite3_stmt *st;
  int64_t digest;
  int rc;

  if (fc_store__sampled_digest(svs, &digest)) return FC_ERR_STORE;
  if (json_array_size(svs) == 0) return 0; /* nothing sampled, nothing to store */
  STMT(c, st, FC_SQL_METER_INS);
  size_t len;
  char *text = fc_store__json_text(svs, 0, &len);
  if (!text || len > INT_MAX) {
    fc_free(text);
    return FC_ERR_STORE;
  }
  bind_str(st, 1, op->str);
  sqlite3_bind_int64(st, 2, connector);
  if (tx >= 0)
    sqlite3_bind_int64(st, 3, tx);
  else
    sqlite3_bind_null(st, 3);
  sqlite3_bind_int64(st, 4, ts);
  sqlite3_bind_int64(st, 5, digest);
  sqlite3_bind_text(st, 6, text, (int)len, SQLITE_STATIC);
  sqlite3_bind_int64(st, 7, arrival(op));
  rc = run(c, st, "meter value");
  fc_free(text);
  if (rc == 0) *stored += sqlite3_changes(c->db) > 0;
  return rc;
}

/* *stored: how many readings were new. */
static int meter_values(fc_store_conn_t *c, fc_op_t *op, long long connector, long long tx,
                        json_t *arr, int *stored)
{
  json_t *mv;
  size_t i;
  int rc;
  json_array_foreach(arr, i, mv)
  {
    if ((rc = meter_value(c, op, connector, tx, mv, stored))) return rc;
  }
  return 0;
}

static int op_meter(fc_store_conn_t *c, fc_op_t *op)
{
  json_t *p = op->json, *arr;
  long long connector, tx = -1;
  int rc;

  if (!json_is_object(p) || jint(p, "connectorId", &connector)) return FC_ERR_STORE;
  if (!json_is_array(arr = json_object_get(p, "meterValue"))) return FC_ERR_STORE;
  if (json_object_get(p, "transactionId") && jint(p, "transactionId", &tx)) return FC_ERR_STORE;
  if ((rc = ensure_charger(c, op->str, NULL, arrival(op)))) return rc;
  int stored = 0;
  if ((rc = meter_values(c, op, connector, tx, arr, &stored))) return rc;
  op->out_flag = stored == 0; /* nothing new: a retry of readings we have */
  return 0;
}

static int op_tx_start(fc_store_conn_t *c, fc_op_t *op)
{
  sqlite3_stmt *st;
  json_t *p = op->json;
  long long connector, meter_start, reservation;
  const char *tag = jstr(p, "idTag");
  int rc, src;

  if (!json_is_object(p) || jint(p, "connectorId", &connector) ||
      jint(p, "meterStart", &meter_start) || !tag)
    return FC_ERR_STORE;
  long long at = when(op, p, "timestamp");
  if ((rc = ensure_charger(c, op->str, NULL, arrival(op)))) return rc;

  STMT(c, st, FC_SQL_TX_INS);
  bind_str(st, 1, op->str);
  sqlite3_bind_int64(st, 2, connector);
  bind_str(st, 3, tag);
  sqlite3_bind_int64(st, 4, at);
  sqlite3_bind_int64(st, 5, meter_start);
  if (jint(p, "reservationId", &reservation) == 0)
    sqlite3_bind_int64(st, 6, reservation);
  else
    sqlite3_bind_null(st, 6);
  bind_str(st, 7, op->text);
  sqlite3_bind_int64(st, 8, arrival(op));
  if ((rc = run(c, st, "tx start"))) return rc;
  if (sqlite3_changes(c->db) == 1) {
    op->out_id = sqlite3_last_insert_rowid(c->db);
    op->out_flag = 0;
    return 0;
  }

  /* A retry of a start we have: answer with the id it got. */
  STMT(c, st, FC_SQL_TX_FIND_START);
  bind_str(st, 1, op->str);
  sqlite3_bind_int64(st, 2, connector);
  bind_str(st, 3, tag);
  sqlite3_bind_int64(st, 4, at);
  sqlite3_bind_int64(st, 5, meter_start);
  src = sqlite3_step(st);
  if (src == SQLITE_ROW) op->out_id = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (src != SQLITE_ROW)
    return src == SQLITE_DONE ? FC_ERR_STORE : fc_store__sqlite_err(c, src, "tx find");
  op->out_flag = 1;
  return 0;
}

static int op_tx_stop(fc_store_conn_t *c, fc_op_t *op)
{
  sqlite3_stmt *st;
  json_t *p = op->json, *data;
  long long id, meter_stop, connector = 0, now = arrival(op);
  int rc, src, stopped = 0, found;

  if (!json_is_object(p) || jint(p, "transactionId", &id) || jint(p, "meterStop", &meter_stop))
    return FC_ERR_STORE;
  long long at = when(op, p, "timestamp");
  if ((rc = ensure_charger(c, op->str, NULL, now))) return rc;

  STMT(c, st, FC_SQL_TX_FIND);
  sqlite3_bind_int64(st, 1, id);
  bind_str(st, 2, op->str);
  src = sqlite3_step(st);
  if ((found = src == SQLITE_ROW)) {
    connector = sqlite3_column_int64(st, 0);
    stopped = sqlite3_column_int(st, 1);
  }
  sqlite3_reset(st);
  if (src != SQLITE_ROW && src != SQLITE_DONE) return fc_store__sqlite_err(c, src, "tx find");

  if (found && stopped) {
    /* a retried stop: the first one stays */
    op->out_id = id;
    op->out_flag = 2;
    return 0;
  }
  if (found) {
    STMT(c, st, FC_SQL_TX_STOP);
    /* the final cost, when the loop thread knew the transaction */
    json_t *cost = op->text ? json_loadb(op->text, op->text_len, 0, NULL) : NULL;
    if (op->text && !json_is_number(json_object_get(cost, "cost"))) {
      json_decref(cost);
      return FC_ERR_STORE;
    }
    sqlite3_bind_int64(st, 1, id);
    sqlite3_bind_int64(st, 2, at);
    sqlite3_bind_int64(st, 3, meter_stop);
    bind_str(st, 4, jstr(p, "reason"));
    bind_str(st, 5, jstr(p, "idTag"));
    sqlite3_bind_int64(st, 6, now);
    if (cost) {
      sqlite3_bind_double(st, 7, json_number_value(json_object_get(cost, "cost")));
      bind_str(st, 8, jstr(cost, "currency"));
    }
    rc = run(c, st, "tx stop");
    json_decref(cost);
    if (rc) return rc;
    op->out_id = id;
    op->out_flag = 0;
  } else {
    /* Never saw its start (or it is another charger's id): keep the stop,
     * under the charger's id when that is free. */
    STMT(c, st, FC_SQL_TX_ID_TAKEN);
    sqlite3_bind_int64(st, 1, id);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE) return fc_store__sqlite_err(c, src, "tx id");
    STMT(c, st, FC_SQL_TX_INS_STOPPED);
    if (src == SQLITE_DONE)
      sqlite3_bind_int64(st, 1, id);
    else
      sqlite3_bind_null(st, 1);
    bind_str(st, 2, op->str);
    sqlite3_bind_int64(st, 3, at);
    sqlite3_bind_int64(st, 4, meter_stop);
    bind_str(st, 5, jstr(p, "reason"));
    bind_str(st, 6, jstr(p, "idTag"));
    sqlite3_bind_int64(st, 7, now);
    if ((rc = run(c, st, "tx stop unknown"))) return rc;
    op->out_id = sqlite3_last_insert_rowid(c->db);
    op->out_flag = 1;
  }
  data = json_object_get(p, "transactionData");
  int stored = 0;
  if (json_is_array(data)) return meter_values(c, op, connector, op->out_id, data, &stored);
  return 0;
}

static int op_data_transfer(fc_store_conn_t *c, fc_op_t *op)
{
  sqlite3_stmt *st;
  json_t *p = op->json, *data;
  char *dumped = NULL;
  int rc;

  if (!json_is_object(p)) return FC_ERR_STORE;
  if ((rc = ensure_charger(c, op->str, NULL, arrival(op)))) return rc;
  STMT(c, st, FC_SQL_DT_INS);
  bind_str(st, 1, op->str);
  bind_str(st, 2, jstr(p, "vendorId"));
  bind_str(st, 3, jstr(p, "messageId"));
  data = json_object_get(p, "data");
  if (json_is_string(data)) {
    bind_str(st, 4, json_string_value(data));
  } else if (data) {
    /* a bare object (accepted too): keep it as JSON text */
    dumped = json_dumps(data, FC_JSON_DUMP | JSON_ENCODE_ANY);
    bind_str(st, 4, dumped);
  }
  bind_str(st, 5, op->text);
  sqlite3_bind_int64(st, 6, arrival(op));
  rc = run(c, st, "data transfer");
  free(dumped); /* jansson's allocator */
  return rc;
}

/* A JSON member as text to store (NULL for absent or null); caller frees. */
static char *jdump(json_t *o, const char *key)
{
  json_t *v = json_object_get(o, key);
  return v && !json_is_null(v) ? json_dumps(v, FC_JSON_DUMP | JSON_ENCODE_ANY) : NULL;
}

static int op_command(fc_store_conn_t *c, fc_op_t *op)
{
  sqlite3_stmt *st;
  json_t *p = op->json;
  long long requested;
  int rc;
  if (!json_is_object(p) || !jstr(p, "command") || !jstr(p, "status")) return FC_ERR_STORE;
  if (jint(p, "requestedAt", &requested)) requested = arrival(op);
  char *params = jdump(p, "params"), *result = jdump(p, "result"), *error = jdump(p, "error");
  STMT(c, st, FC_SQL_COMMAND_INS);
  bind_str(st, 1, op->str);
  bind_str(st, 2, jstr(p, "command"));
  bind_str(st, 3, jstr(p, "action"));
  bind_str(st, 4, params);
  bind_str(st, 5, jstr(p, "status"));
  bind_str(st, 6, result);
  bind_str(st, 7, error);
  bind_str(st, 8, jstr(p, "by"));
  sqlite3_bind_int64(st, 9, requested);
  sqlite3_bind_int64(st, 10, arrival(op));
  json_t *sent = json_object_get(p, "sent"); /* absent: a local command */
  if (json_is_boolean(sent))
    sqlite3_bind_int(st, 11, json_is_true(sent));
  else
    sqlite3_bind_null(st, 11);
  rc = run(c, st, "command");
  free(params); /* jansson's allocator */
  free(result);
  free(error);
  return rc;
}

/* An optional integer member bound at i, or NULL when absent. */
static void bind_opt_int(sqlite3_stmt *st, int i, json_t *o, const char *key)
{
  long long v;
  if (jint(o, key, &v) == 0)
    sqlite3_bind_int64(st, i, v);
  else
    sqlite3_bind_null(st, i);
}

/* The members that identify a profile in both statements of a set:
 * charger, id, connector, stack level, purpose (?1 to ?5). */
static void bind_profile_key(sqlite3_stmt *st, const fc_op_t *op, long long id, long long level,
                             const char *purpose)
{
  bind_str(st, 1, op->str);
  sqlite3_bind_int64(st, 2, id);
  bind_opt_int(st, 3, op->json, "connectorId");
  sqlite3_bind_int64(st, 4, level);
  bind_str(st, 5, purpose);
}

static int op_profile_set(fc_store_conn_t *c, fc_op_t *op)
{
  sqlite3_stmt *st;
  json_t *p = op->json, *prof = json_object_get(p, "csChargingProfiles");
  json_t *sched = json_object_get(prof, "chargingSchedule");
  long long id, level;
  const char *purpose = jstr(prof, "chargingProfilePurpose");
  const char *kind = jstr(prof, "chargingProfileKind");
  const char *unit = jstr(sched, "chargingRateUnit");
  if (jint(prof, "chargingProfileId", &id) || jint(prof, "stackLevel", &level) || !purpose ||
      !kind || !unit)
    return FC_ERR_STORE;
  STMT(c, st, FC_SQL_PROFILE_REPLACE);
  bind_profile_key(st, op, id, level, purpose);
  int rc = run(c, st, "profile replace");
  if (rc < 0) return rc;
  STMT(c, st, FC_SQL_PROFILE_INS);
  char *text = json_dumps(prof, FC_JSON_DUMP);
  bind_profile_key(st, op, id, level, purpose);
  bind_str(st, 6, kind);
  bind_str(st, 7, unit);
  bind_opt_int(st, 8, prof, "transactionId");
  bind_str(st, 9, text);
  bind_str(st, 10, jstr(p, "by"));
  sqlite3_bind_int64(st, 11, arrival(op));
  rc = run(c, st, "profile insert");
  free(text); /* jansson's allocator */
  return rc;
}

static int op_profile_clear(fc_store_conn_t *c, fc_op_t *op)
{
  sqlite3_stmt *st;
  json_t *p = op->json;
  if (!json_is_object(p)) return FC_ERR_STORE;
  STMT(c, st, FC_SQL_PROFILE_CLEAR);
  bind_str(st, 1, op->str);
  bind_opt_int(st, 2, p, "id");
  bind_opt_int(st, 3, p, "connectorId");
  bind_str(st, 4, jstr(p, "chargingProfilePurpose"));
  bind_opt_int(st, 5, p, "stackLevel");
  return run(c, st, "profile clear");
}

static int op_status_text(fc_store_conn_t *c, fc_op_t *op, fc_sql_id_t id)
{
  sqlite3_stmt *st;
  int rc;
  if (!op->text) return FC_ERR_STORE;
  if ((rc = ensure_charger(c, op->str, NULL, arrival(op)))) return rc;
  STMT(c, st, id);
  bind_str(st, 1, op->str);
  bind_str(st, 2, op->text);
  sqlite3_bind_int64(st, 3, arrival(op));
  return run(c, st, "firmware/diagnostics status");
}

/* A bus event: the charger's next seq, the one serialisation, the row. On
 * a batch retry the op runs again: its old text goes, a new seq is taken. */
static int op_event(fc_store_conn_t *c, fc_op_t *op, int64_t tx_id)
{
  sqlite3_stmt *st;
  int64_t seq = 0;
  int rc, src;

  FC_FREE(op->out_text);
  op->out_len = 0;
  if (!op->text) return FC_ERR_STORE;

  /* The charger row exists when the write's data op made it; an event
   * alone (charger.online/offline) of a charger that is no longer
   * registered is not stored and gets no seq. */
  known_t *k = known(c, op->str);
  if (k && k->has_seq) {
    seq = k->seq + 1;
  } else {
    STMT(c, st, k ? FC_SQL_EVENT_SEQ_KNOWN : FC_SQL_EVENT_SEQ);
    bind_str(st, 1, op->str);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) seq = sqlite3_column_int64(st, 0) + 1;
    sqlite3_reset(st);
    if (src == SQLITE_DONE) return 0;
    if (src != SQLITE_ROW) return fc_store__sqlite_err(c, src, "event seq");
    if (!k) k = learn(c, op->str);
  }

  size_t len;
  char *text = fc_store__event_json(op, seq, tx_id, &len);
  if (!text || len > INT_MAX) {
    fc_free(text);
    return FC_ERR_STORE;
  }
  STMT(c, st, FC_SQL_EVENT_INS);
  bind_str(st, 1, op->str);
  sqlite3_bind_int64(st, 2, seq);
  bind_str(st, 3, op->text);
  sqlite3_bind_int64(st, 4, op->i64);
  sqlite3_bind_int64(st, 5, op->ts_ms);
  sqlite3_bind_int(st, 6, (op->flag & FC_EVENT_LATE) ? 1 : 0);
  sqlite3_bind_text(st, 7, text, (int)len, SQLITE_STATIC);
  if ((rc = run(c, st, "event"))) {
    fc_free(text);
    return rc;
  }
  if (!(op->flag & FC_EVENT_LATE)) {
    /* the latest non-late event of its key now (007_events_latest.sql) */
    if (!(st = fc_store__stmt(c, FC_SQL_EVENT_LATEST))) {
      fc_free(text);
      return UV_EIO;
    }
    bind_str(st, 1, op->str);
    bind_str(st, 2, op->text);
    sqlite3_bind_int64(st, 3, op->i64);
    sqlite3_bind_int64(st, 4, seq);
    if ((rc = run(c, st, "event latest"))) {
      fc_free(text);
      return rc;
    }
  }
  k->seq = seq;
  k->has_seq = true;
  op->out_id = seq;
  op->out_text = text;
  op->out_len = len;
  return 0;
}

/* Retention: one of the PRUNE statements (?1 before, ?2 limit). */
static int prune(fc_store_conn_t *c, fc_sql_id_t id, const char *what, long long before_ms,
                 unsigned limit, unsigned *deleted)
{
  sqlite3_stmt *st;
  int rc;
  *deleted = 0;
  STMT(c, st, id);
  sqlite3_bind_int64(st, 1, before_ms);
  sqlite3_bind_int64(st, 2, limit);
  if ((rc = run(c, st, what))) return rc;
  *deleted = (unsigned)sqlite3_changes(c->db);
  return 0;
}

int fc_store__sqlite_prune_events(fc_store_conn_t *c, long long before_ms, unsigned limit,
                                  unsigned *deleted)
{
  return prune(c, FC_SQL_EVENT_PRUNE, "prune events", before_ms, limit, deleted);
}

int fc_store__sqlite_prune_frames(fc_store_conn_t *c, long long before_ms, unsigned limit,
                                  unsigned *deleted)
{
  return prune(c, FC_SQL_FRAME_PRUNE, "prune frames", before_ms, limit, deleted);
}

int fc_store__sqlite_exec_op(fc_store_conn_t *c, fc_op_t *op, int64_t tx_id)
{
  int rc;
  if (!op->str) return FC_ERR_STORE;
  switch (op->kind) {
  case FC_OP_FRAME_LOG:
    rc = op_frame(c, op);
    break;
  case FC_OP_BOOT:
    rc = op_boot(c, op);
    break;
  case FC_OP_CHARGER_SEEN:
    rc = op_seen(c, op);
    break;
  case FC_OP_HEARTBEAT:
    rc = op_heartbeat(c, op);
    break;
  case FC_OP_STATUS:
    rc = op_status(c, op);
    break;
  case FC_OP_METER:
    rc = op_meter(c, op);
    break;
  case FC_OP_TX_START:
    rc = op_tx_start(c, op);
    break;
  case FC_OP_TX_STOP:
    rc = op_tx_stop(c, op);
    break;
  case FC_OP_DATA_TRANSFER:
    rc = op_data_transfer(c, op);
    break;
  case FC_OP_FIRMWARE_STATUS:
    rc = op_status_text(c, op, FC_SQL_FIRMWARE);
    break;
  case FC_OP_DIAGNOSTICS_STATUS:
    rc = op_status_text(c, op, FC_SQL_DIAGNOSTICS);
    break;
  case FC_OP_EVENT:
    rc = op_event(c, op, tx_id);
    break;
  case FC_OP_COMMAND:
    rc = op_command(c, op);
    break;
  case FC_OP_PROFILE_SET:
    rc = op_profile_set(c, op);
    break;
  case FC_OP_PROFILE_CLEAR:
    rc = op_profile_clear(c, op);
    break;
  default:
    rc = FC_ERR_STORE;
  }
  if (rc == FC_ERR_STORE)
    fc_log(FC_LOG_WARN, &(fc_log_ctx_t){.cp = op->str}, "event=store_op_failed kind=%d",
           (int)op->kind);
  return rc;
}
