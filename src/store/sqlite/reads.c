/* Reads (fc_read_kind_t) on sqlite, run by reader threads on their own
 * query_only connections. Each statement is reset as soon as it is done, so
 * that no reader keeps an old WAL snapshot open (which would also hold back
 * checkpoints). */
#include "store/sqlite/sqlite_int.h"

#include "core/err.h"
#include "core/mem.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *col(sqlite3_stmt *st, int i)
{
  const unsigned char *v = sqlite3_column_text(st, i);
  return v ? (const char *)v : "";
}

int fc_store__sqlite_chargers(fc_store_conn_t *c, fc_charger_rec_t **out, size_t *count)
{
  sqlite3_stmt *st = fc_store__stmt(c, FC_SQL_READ_CHARGERS);
  fc_charger_rec_t *recs = NULL;
  size_t n = 0, cap = 0;
  int rc;

  if (!st) return UV_EIO;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      recs = fc_realloc(recs, cap * sizeof(*recs));
    }
    fc_charger_rec_t *r = &recs[n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", col(st, 0));
    snprintf(r->registration, sizeof(r->registration), "%s", col(st, 1));
    r->auth = sqlite3_column_type(st, 2) == SQLITE_NULL ? NULL : fc_strdup(col(st, 2));
    r->profile = sqlite3_column_int(st, 3);
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    fc_charger_recs_free(recs, n);
    return fc_store__sqlite_err(c, rc, "read chargers");
  }
  *out = recs;
  *count = n;
  return 0;
}

static int read_tag(fc_store_conn_t *c, fc_read_t *r)
{
  sqlite3_stmt *st = fc_store__stmt(c, FC_SQL_READ_TAG);
  int rc;
  if (!st) return UV_EIO;
  sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    fc_tag_rec_t *t = &r->out_tag;
    snprintf(t->id_tag, sizeof(t->id_tag), "%s", col(st, 0));
    snprintf(t->status, sizeof(t->status), "%s", col(st, 1));
    t->expiry_ms = sqlite3_column_int64(st, 2); /* NULL reads as 0 = none */
    snprintf(t->parent, sizeof(t->parent), "%s", col(st, 3));
  }
  sqlite3_reset(st);
  if (rc == SQLITE_ROW) return 0;
  return rc == SQLITE_DONE ? FC_ERR_NOTFOUND : fc_store__sqlite_err(c, rc, "read tag");
}

static int read_registry_version(fc_store_conn_t *c, fc_read_t *r)
{
  sqlite3_stmt *st = fc_store__stmt(c, FC_SQL_READ_REGISTRY_VERSION);
  int rc;
  if (!st) return UV_EIO;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) r->out_i64 = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW) return 0;
  return rc == SQLITE_DONE ? FC_ERR_NOTFOUND : fc_store__sqlite_err(c, rc, "registry version");
}

/* ---- the JSON reads ---------------------------------------------------------
 *
 * Results are built with jansson here, on the reader thread, and dumped once
 * into r->out_text (fc_malloc'd, freed with the read). Time stamps are
 * ISO-8601 UTC strings with milliseconds; SQL NULL is JSON null. */

#define LIMIT_DEFAULT 1000
#define LIMIT_MAX 10000

static unsigned limit_of(const fc_read_t *r)
{
  return !r->limit ? LIMIT_DEFAULT : r->limit > LIMIT_MAX ? LIMIT_MAX : r->limit;
}

static bool is_null(sqlite3_stmt *st, int i)
{
  return sqlite3_column_type(st, i) == SQLITE_NULL;
}

/* s as a JSON string; null when s is NULL or (never from us) not UTF-8. */
static json_t *j_str_or_null(const char *s)
{
  json_t *v = s ? json_string(s) : NULL;
  return v ? v : json_null();
}

static json_t *j_text(sqlite3_stmt *st, int i)
{
  return j_str_or_null(is_null(st, i) ? NULL : col(st, i));
}

static json_t *j_int(sqlite3_stmt *st, int i)
{
  return is_null(st, i) ? json_null() : json_integer(sqlite3_column_int64(st, i));
}

static json_t *j_time(sqlite3_stmt *st, int i)
{
  char buf[FC_STORE__TIME_LEN];
  if (is_null(st, i)) return json_null();
  fc_store__format_time(sqlite3_column_int64(st, i), buf);
  return json_string(buf);
}

/* Steps st to its end, one JSON value per row from row(), into r->out_text as
 * an array. */
static int json_rows(fc_store_conn_t *c, sqlite3_stmt *st, json_t *(*row)(sqlite3_stmt *st),
                     fc_read_t *r, const char *what)
{
  json_t *arr = json_array();
  int src;
  while ((src = sqlite3_step(st)) == SQLITE_ROW)
    json_array_append_new(arr, row(st));
  sqlite3_reset(st);
  if (src != SQLITE_DONE) {
    json_decref(arr);
    return fc_store__sqlite_err(c, src, what);
  }
  r->out_text = fc_store__json_dump(arr, &r->out_len);
  json_decref(arr);
  return r->out_text ? 0 : FC_ERR_STORE;
}

static int read_events(fc_store_conn_t *c, fc_read_t *r)
{
  sqlite3_stmt *st = fc_store__stmt(c, FC_SQL_READ_EVENTS);
  char **v = NULL;
  size_t n = 0, cap = 0;
  int rc;
  if (!st) return UV_EIO;
  sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, r->arg_i64);
  sqlite3_bind_int64(st, 3, limit_of(r));
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      v = fc_realloc(v, cap * sizeof(*v));
    }
    v[n++] = fc_strdup(col(st, 0));
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    for (size_t i = 0; i < n; i++)
      fc_free(v[i]);
    fc_free(v);
    return fc_store__sqlite_err(c, rc, "read events");
  }
  r->out_texts = v;
  r->out_count = n;
  return 0;
}

static const char *col_or_null(sqlite3_stmt *st, int i)
{
  return (const char *)sqlite3_column_text(st, i);
}

/* One sampled value of a reading (FC_SQL_METER_COLS), with OCPP 1.6's
 * defaults for what it left out; valueNum when the whole value is a finite
 * number. */
static json_t *meter_row(sqlite3_stmt *st)
{
  fc_sampled_t s = {
      .value = col_or_null(st, 3),
      .measurand = col_or_null(st, 4),
      .phase = col_or_null(st, 5),
      .unit = col_or_null(st, 6),
      .context = col_or_null(st, 7),
      .location = col_or_null(st, 8),
  };
  fc_op_sampled_defaults(&s);
  json_t *num = json_null();
  if (s.value) {
    char *end;
    double d = strtod(s.value, &end);
    if (end != s.value && *end == '\0' && isfinite(d)) num = json_real(d);
  }
  json_t *o = json_object();
  json_object_set_new(o, "connectorId", j_int(st, 0));
  json_object_set_new(o, "transactionId", j_int(st, 1));
  json_object_set_new(o, "timestamp", j_time(st, 2));
  json_object_set_new(o, "measurand", j_str_or_null(s.measurand));
  json_object_set_new(o, "phase", j_str_or_null(s.phase));
  json_object_set_new(o, "unit", j_str_or_null(s.unit));
  json_object_set_new(o, "context", j_str_or_null(s.context));
  json_object_set_new(o, "location", j_str_or_null(s.location));
  json_object_set_new(o, "value", j_str_or_null(s.value));
  json_object_set_new(o, "valueNum", num);
  return o;
}

static int read_meter_values(fc_store_conn_t *c, fc_read_t *r)
{
  sqlite3_stmt *st =
      fc_store__stmt(c, r->connector >= 0 ? FC_SQL_READ_METER_CONN : FC_SQL_READ_METER_ANY);
  if (!st) return UV_EIO;
  sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, r->from_ms ? r->from_ms : INT64_MIN);
  sqlite3_bind_int64(st, 3, r->to_ms ? r->to_ms : INT64_MAX);
  sqlite3_bind_int64(st, 4, limit_of(r));
  if (r->connector >= 0) sqlite3_bind_int(st, 5, r->connector);
  return json_rows(c, st, meter_row, r, "read meter values");
}

static json_t *tx_row(sqlite3_stmt *st)
{
  json_t *o = json_object();
  json_object_set_new(o, "id", j_int(st, 0));
  json_object_set_new(o, "charger", j_text(st, 1));
  json_object_set_new(o, "connectorId", j_int(st, 2));
  json_object_set_new(o, "idTag", j_text(st, 3));
  json_object_set_new(o, "idTagStatus", j_text(st, 4));
  json_object_set_new(o, "startedAt", j_time(st, 5));
  json_object_set_new(o, "meterStart", j_int(st, 6));
  json_object_set_new(o, "reservationId", j_int(st, 7));
  json_object_set_new(o, "stoppedAt", j_time(st, 8));
  json_object_set_new(o, "meterStop", j_int(st, 9));
  json_object_set_new(o, "stopReason", j_text(st, 10));
  /* known only once stopped, and only if its start was seen */
  if (!is_null(st, 8) && !is_null(st, 9) && !is_null(st, 6))
    json_object_set_new(o, "energyWh",
                        json_integer(sqlite3_column_int64(st, 9) - sqlite3_column_int64(st, 6)));
  else
    json_object_set_new(o, "energyWh", json_null());
  json_object_set_new(o, "cost",
                      is_null(st, 11) ? json_null() : json_real(sqlite3_column_double(st, 11)));
  json_object_set_new(o, "currency", j_text(st, 12));
  return o;
}

static void bind_ms_or_null(sqlite3_stmt *st, int i, long long ms)
{
  if (ms)
    sqlite3_bind_int64(st, i, ms);
  else
    sqlite3_bind_null(st, i);
}

/* The read's scope as a JSON array of charger ids for FC_SQL_TX_SCOPE, or
 * NULL when it has none (fc_malloc'd). */
static char *scope_json(const fc_read_t *r)
{
  if (!r->scoped) return NULL;
  json_t *arr = json_array();
  for (size_t i = 0; i < r->scope_count; i++)
    json_array_append_new(arr, json_string(r->scope[i]));
  size_t len;
  char *text = fc_store__json_dump(arr, &len);
  json_decref(arr);
  return text ? text : fc_strdup("[]");
}

static void bind_scope(sqlite3_stmt *st, int i, char *scope)
{
  if (scope)
    sqlite3_bind_text(st, i, scope, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

static int read_transactions(fc_store_conn_t *c, fc_read_t *r)
{
  sqlite3_stmt *st = fc_store__stmt(c, r->key[0] ? FC_SQL_READ_TX_CP : FC_SQL_READ_TX_ANY);
  if (!st) return UV_EIO;
  char *scope = scope_json(r);
  if (r->key[0]) sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC);
  bind_ms_or_null(st, 2, r->from_ms);
  bind_ms_or_null(st, 3, r->to_ms);
  sqlite3_bind_int64(st, 4, limit_of(r));
  bind_scope(st, 5, scope);
  int rc = json_rows(c, st, tx_row, r, "read transactions");
  sqlite3_clear_bindings(st); /* scope is freed now */
  fc_free(scope);
  return rc;
}

static int read_transaction(fc_store_conn_t *c, fc_read_t *r)
{
  sqlite3_stmt *st = fc_store__stmt(c, FC_SQL_READ_TX_ONE);
  json_t *o = NULL;
  int rc;
  if (!st) return UV_EIO;
  char *scope = scope_json(r);
  sqlite3_bind_int64(st, 1, r->arg_i64);
  bind_scope(st, 2, scope);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) o = tx_row(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  fc_free(scope);
  if (rc != SQLITE_ROW)
    return rc == SQLITE_DONE ? FC_ERR_NOTFOUND : fc_store__sqlite_err(c, rc, "read transaction");
  r->out_text = fc_store__json_dump(o, &r->out_len);
  json_decref(o);
  return r->out_text ? 0 : FC_ERR_STORE;
}

static json_t *charger_info_row(sqlite3_stmt *st)
{
  json_t *o = json_object();
  json_object_set_new(o, "id", j_text(st, 0));
  json_object_set_new(o, "registration", j_text(st, 1));
  json_object_set_new(o, "vendor", j_text(st, 2));
  json_object_set_new(o, "model", j_text(st, 3));
  json_object_set_new(o, "serialNumber", j_text(st, 4));
  json_object_set_new(o, "firmwareVersion", j_text(st, 5));
  json_object_set_new(o, "lastBootAt", j_time(st, 6));
  json_object_set_new(o, "lastSeenAt", j_time(st, 7));
  json_object_set_new(o, "lastHeartbeatAt", j_time(st, 8));
  json_object_set_new(o, "online", json_boolean(sqlite3_column_int(st, 9) != 0));
  return o;
}

static int read_charger_info(fc_store_conn_t *c, fc_read_t *r)
{
  sqlite3_stmt *st = fc_store__stmt(c, FC_SQL_READ_CHARGER_INFO);
  if (!st) return UV_EIO;
  return json_rows(c, st, charger_info_row, r, "read charger info");
}

static json_t *profile_row(sqlite3_stmt *st)
{
  json_t *o = json_object();
  json_object_set_new(o, "chargingProfileId", j_int(st, 0));
  json_object_set_new(o, "connectorId", j_int(st, 1));
  json_object_set_new(o, "stackLevel", j_int(st, 2));
  json_object_set_new(o, "chargingProfilePurpose", j_text(st, 3));
  json_object_set_new(o, "chargingProfileKind", j_text(st, 4));
  json_object_set_new(o, "chargingRateUnit", j_text(st, 5));
  json_object_set_new(o, "transactionId", j_int(st, 6));
  json_t *prof = json_loads(col(st, 7), 0, NULL);
  json_object_set_new(o, "profile", prof ? prof : json_null());
  json_object_set_new(o, "setBy", j_text(st, 8));
  json_object_set_new(o, "setAt", j_time(st, 9));
  return o;
}

static int read_profiles(fc_store_conn_t *c, fc_read_t *r)
{
  sqlite3_stmt *st = fc_store__stmt(c, FC_SQL_READ_PROFILES);
  if (!st) return UV_EIO;
  sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC);
  return json_rows(c, st, profile_row, r, "read charging profiles");
}

int fc_store__sqlite_exec_read(fc_store_conn_t *c, fc_read_t *r)
{
  switch (r->kind) {
  case FC_READ_CHARGERS:
    return fc_store__sqlite_chargers(c, &r->out_chargers, &r->out_count);
  case FC_READ_TAG:
    return read_tag(c, r);
  case FC_READ_REGISTRY_VERSION:
    return read_registry_version(c, r);
  case FC_READ_EVENTS:
    return read_events(c, r);
  case FC_READ_METER_VALUES:
    return read_meter_values(c, r);
  case FC_READ_TRANSACTIONS:
    return read_transactions(c, r);
  case FC_READ_TRANSACTION:
    return read_transaction(c, r);
  case FC_READ_CHARGER_INFO:
    return read_charger_info(c, r);
  case FC_READ_PROFILES:
    return read_profiles(c, r);
  }
  return FC_ERR_INVAL;
}

/* ---- start-up: the latest events ------------------------------------------ */

/* One charger's latest non-late event of each (type, connector), in seq
 * order, from events_latest (007_events_latest.sql): one seek per key into
 * events. A charger with none is reported once with json NULL. */
static int latest_of_charger(fc_store_conn_t *c, const char *charger, int64_t seq,
                             void (*cb)(const char *charger, int64_t seq, const char *json,
                                        void *arg),
                             void *arg)
{
  sqlite3_stmt *st = fc_store__stmt(c, FC_SQL_LATEST_OF_CHARGER);
  int src;
  size_t n = 0;
  if (!st) return UV_EIO;
  sqlite3_bind_text(st, 1, charger, -1, SQLITE_STATIC);
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    cb(charger, seq, col(st, 1), arg);
    n++;
  }
  sqlite3_reset(st);
  if (src != SQLITE_DONE) return fc_store__sqlite_err(c, src, "latest events");
  if (n == 0) cb(charger, seq, NULL, arg);
  return 0;
}

int fc_store__sqlite_load_latest_events(fc_store_conn_t *c,
                                        void (*cb)(const char *charger, int64_t seq,
                                                   const char *json, void *arg),
                                        void *arg)
{
  sqlite3_stmt *st;
  int rc = 0, src;

  /* one snapshot for the whole load */
  if ((src = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
    return fc_store__sqlite_err(c, src, "BEGIN");
  if (!(st = fc_store__stmt(c, FC_SQL_LATEST_CHARGERS))) {
    rc = UV_EIO;
    goto done;
  }
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    const char *charger = col(st, 0);
    int64_t seq = sqlite3_column_int64(st, 1);
    if ((rc = latest_of_charger(c, charger, seq, cb, arg))) break;
  }
  sqlite3_reset(st);
  if (rc == 0 && src != SQLITE_DONE) rc = fc_store__sqlite_err(c, src, "latest events: chargers");

done:
  sqlite3_exec(c->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
  return rc;
}
