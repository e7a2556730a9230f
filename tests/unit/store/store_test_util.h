/* Helpers shared by the store's unit tests: a temporary database, a loop,
 * submitting a write and waiting for it, reading the database back through
 * fc_store_admin_query. Include after cmocka.h. */
#ifndef FC_STORE_TEST_UTIL_H
#define FC_STORE_TEST_UTIL_H

#include "core/datetime.h"
#include "core/err.h"
#include "core/time.h"
#include "log/log.h"
#include "ocpp/store_args.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* PRAGMA user_version of a database the store has migrated: the number of
 * the last migration (src/store/migrations/). */
#define FC_TEST_SCHEMA_VERSION "13"

typedef struct env {
  char path[64];
  char fault[64];
  uv_loop_t loop;
  fc_store_t *s;
} env_t;

static inline void env_init(env_t *e)
{
  memset(e, 0, sizeof(*e));
  snprintf(e->path, sizeof(e->path), "/tmp/fc-store-XXXXXX");
  int fd = mkstemp(e->path);
  assert_true(fd >= 0);
  close(fd);
  /* a name for the fault file; the file itself exists only while a test
   * wants a fault */
  snprintf(e->fault, sizeof(e->fault), "/tmp/fc-fault-XXXXXX");
  fd = mkstemp(e->fault);
  assert_true(fd >= 0);
  close(fd);
  unlink(e->fault);
  assert_int_equal(uv_loop_init(&e->loop), 0);
}

static inline int env_open(env_t *e, const fc_store_opts_t *opts)
{
  fc_store_opts_t o = {0};
  if (opts) o = *opts;
  o.path = e->path;
  return fc_store_open(&e->loop, &o, &e->s);
}

static inline void set_flag_cb(void *arg)
{
  *(int *)arg = 1;
}

static inline void env_close_store(env_t *e)
{
  int drained = 0;
  fc_store_drain(e->s, set_flag_cb, &drained);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(drained, 1);
  fc_store_close(e->s);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  e->s = NULL;
}

static inline void env_cleanup(env_t *e)
{
  char p[80];
  if (e->s) env_close_store(e);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  unlink(e->path);
  snprintf(p, sizeof(p), "%s-wal", e->path);
  unlink(p);
  snprintf(p, sizeof(p), "%s-shm", e->path);
  unlink(p);
  unlink(e->fault);
}

static inline void write_file(const char *path, const char *text)
{
  FILE *f = fopen(path, "w");
  assert_non_null(f);
  fputs(text, f);
  fclose(f);
}

static inline void noop_timer_cb(uv_timer_t *t) {}

/* Runs the loop until cond(arg) or timeout. A timer keeps the loop alive
 * meanwhile: the store's own handle is referenced only while callbacks are
 * outstanding, and health changes may come with none. */
static inline bool run_until(env_t *e, bool (*cond)(void *arg), void *arg, unsigned timeout_ms)
{
  uv_timer_t t;
  uint64_t deadline = uv_hrtime() + (uint64_t)timeout_ms * 1000000ULL;
  bool ok = true;
  uv_timer_init(&e->loop, &t);
  uv_timer_start(&t, noop_timer_cb, 5, 5);
  while (!cond(arg)) {
    if (uv_hrtime() > deadline) {
      ok = false;
      break;
    }
    uv_run(&e->loop, UV_RUN_ONCE);
  }
  uv_close((uv_handle_t *)&t, NULL);
  uv_run(&e->loop, UV_RUN_NOWAIT);
  return ok;
}

/* ---- writes ---- */

typedef struct wres {
  int done;
  int seq; /* order in which the callbacks ran */
  int status;
  int64_t out_id;
  fc_op_outcome_t outcome;
} wres_t;

static inline void wres_cb(fc_write_t *w, int status, void *arg)
{
  static int seq;
  wres_t *r = arg;
  r->done++;
  r->seq = ++seq;
  r->status = status;
  if (fc_write_count(w)) {
    fc_op_t *op = fc_write_op(w, fc_write_count(w) - 1);
    r->out_id = op->out.id;
    r->outcome = op->out.outcome;
  }
}

/* ---- typed ops from OCPP payloads, filled as the handlers fill them
 * (ocpp/store_args.h) ---- */

/* Adds the op of kind made from a payload given as JSON text (or NULL) and
 * text (the status we answer, a registration, a frame, an event's type…;
 * for TX_STOP, the final cost as {"cost":1.5,"currency":"EUR"}). */
static fc_op_t *add_op(fc_write_t *w, fc_op_kind_t kind, const char *cp, const char *json,
                       const char *text)
{
  json_t *p = NULL;
  if (json) {
    json_error_t err;
    p = json_loads(json, 0, &err);
    if (!p) fail_msg("bad test json: %s: %s", json, err.text);
  }
  long long now = fc_wall_ms();
  fc_op_t *op = NULL;
  switch (kind) {
  case FC_OP_FRAME_LOG:
    op = fc_write_frame(w, cp, &(fc_op_frame_t){.text = text, .len = text ? strlen(text) : 0});
    break;
  case FC_OP_BOOT: {
    fc_op_boot_t a = fc_ocpp__boot_args(p, text);
    op = fc_write_boot(w, cp, &a);
    break;
  }
  case FC_OP_CHARGER_SEEN:
    op = fc_write_seen(w, cp, &(fc_op_seen_t){.registration = text});
    break;
  case FC_OP_HEARTBEAT:
    op = fc_write_heartbeat(w, cp);
    break;
  case FC_OP_STATUS: {
    fc_op_status_t a = fc_ocpp__status_args(p, now);
    op = fc_write_status(w, cp, &a);
    break;
  }
  case FC_OP_METER: {
    fc_op_meter_t a = {.connector = (int)fc_ocpp__int_of(p, "connectorId"),
                       .tx_id = fc_ocpp__int_of(p, "transactionId"),
                       .readings =
                           fc_ocpp__readings(json_object_get(p, "meterValue"), 0, SIZE_MAX, now)};
    op = fc_write_meter(w, cp, &a);
    fc_ocpp__readings_free(&a.readings);
    break;
  }
  case FC_OP_TX_START: {
    fc_op_tx_start_t a = fc_ocpp__tx_start_args(p, text, now);
    op = fc_write_tx_start(w, cp, &a);
    break;
  }
  case FC_OP_TX_STOP: {
    fc_op_tx_stop_t a = fc_ocpp__tx_stop_args(p, now);
    if (text) {
      json_t *cost = json_loads(text, 0, NULL);
      assert_non_null(cost);
      a.has_cost = true;
      a.cost = json_number_value(json_object_get(cost, "cost"));
      snprintf(a.currency, sizeof(a.currency), "%s",
               fc_ocpp__str_of(cost, "currency") ? fc_ocpp__str_of(cost, "currency") : "");
      json_decref(cost);
    }
    op = fc_write_tx_stop(w, cp, &a);
    fc_ocpp__readings_free(&a.transaction_data);
    break;
  }
  case FC_OP_DATA_TRANSFER: {
    char *dumped;
    fc_op_data_transfer_t a = fc_ocpp__data_transfer_args(p, text, &dumped);
    op = fc_write_data_transfer(w, cp, &a);
    free(dumped);
    break;
  }
  case FC_OP_FIRMWARE_STATUS:
  case FC_OP_DIAGNOSTICS_STATUS:
    op = fc_write_notice(w, kind, cp, text);
    break;
  case FC_OP_EVENT:
    op = fc_write_event(w, cp, &(fc_op_event_t){.type = text, .ts_ms = now, .data = p});
    break;
  case FC_OP_COMMAND:
    op = fc_write_command(w, cp,
                          &(fc_op_command_t){.command = fc_ocpp__str_of(p, "command"),
                                             .action = fc_ocpp__str_of(p, "action"),
                                             .status = fc_ocpp__str_of(p, "status"),
                                             .by = fc_ocpp__str_of(p, "by"),
                                             .requested_ms = fc_ocpp__int_of(p, "requestedAt")},
                          json_object_get(p, "params"), json_object_get(p, "result"),
                          json_object_get(p, "error"));
    break;
  default: /* a kind no backend knows: its write fails */
    op = fc_write_notice(w, kind, cp, text);
  }
  assert_non_null(op);
  json_decref(p);
  return op;
}

/* Submits w and runs the loop until its callback ran. */
static inline wres_t submit_wait(env_t *e, fc_write_t *w)
{
  wres_t r = {0};
  int rc = fc_store_submit(e->s, w, wres_cb, &r);
  if (rc) {
    fc_write_free(w);
    r.done = 1;
    r.status = rc;
    return r;
  }
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.done, 1);
  return r;
}

/* One write of one op. */
static inline wres_t one(env_t *e, fc_op_kind_t kind, const char *cp, const char *json,
                         const char *text)
{
  fc_write_t *w = fc_write_new();
  add_op(w, kind, cp, json, text);
  return submit_wait(e, w);
}

/* ---- reading back ---- */

typedef struct qres {
  int rows;
  char first[1024]; /* the first row, values joined by '|', NULL as "NULL" */
} qres_t;

static inline void q_cb(int ncol, char **names, char **values, void *arg)
{
  qres_t *q = arg;
  if (q->rows++ == 0) {
    size_t n = 0;
    for (int i = 0; i < ncol; i++)
      n += (size_t)snprintf(q->first + n, sizeof(q->first) - n, "%s%s", i ? "|" : "",
                            values[i] ? values[i] : "NULL");
  }
}

static inline qres_t query(env_t *e, const char *sql)
{
  fc_store_admin_t *a;
  qres_t q = {0};
  assert_int_equal(fc_store_admin_open(e->path, &a), 0);
  int rc = fc_store_admin_query(a, sql, q_cb, &q);
  if (rc) fail_msg("query failed (%s): %s", fc_err_name(rc), sql);
  fc_store_admin_close(a);
  return q;
}

/* The first column of the first row. */
static const char *q1(env_t *e, const char *sql)
{
  static char buf[1024];
  qres_t q = query(e, sql);
  snprintf(buf, sizeof(buf), "%s", q.rows ? q.first : "(no row)");
  return buf;
}

static inline long long qint(env_t *e, const char *sql)
{
  return atoll(q1(e, sql));
}

/* cmocka setup and teardown of a test with an env_t of its own as *state. */
static inline int env_setup(void **state)
{
  env_t *e = malloc(sizeof(*e));
  env_init(e);
  *state = e;
  return 0;
}

static inline int env_teardown(void **state)
{
  env_t *e = *state;
  env_cleanup(e);
  free(e);
  return 0;
}

#endif
