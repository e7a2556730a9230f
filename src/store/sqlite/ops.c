/* The write operations (fc_op_kind_t) on sqlite, run by the writer thread
 * inside the batch transaction and the write's savepoint.
 *
 * Each op arrives typed (store.h): its handler parsed and validated the
 * payload, so this file only binds fields; an op that still lacks what it
 * needs fails that write alone (FC_ERR_STORE). Every op but FRAME_LOG first makes sure the charger
 * has a row, so that nothing trips over a foreign key for a charger the registry has not seen yet
 * (a BOOT or CHARGER_SEEN op gives the registration).
 *
 * Time stamps come resolved in the op (the payload's, or the arrival time);
 * op->ts_ms is the arrival time (now when unset). Strings are bound
 * SQLITE_STATIC: they belong to the op, which outlives the statement's step
 * (it is reset after). */
#include "store/sqlite/sqlite_int.h"

#include "core/err.h"
#include "core/mem.h"
#include "log/log.h"

#include <limits.h>
#include <stdbool.h>
#include <uthash.h>
#include <string.h>

static long long arrival(const fc_op_t *op)
{
  return op->ts_ms > 0 ? op->ts_ms : fc_store__now_ms();
}

static void bind_str(sqlite3_stmt *st, int i, const char *s)
{
  if (s)
    sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, i);
}

/* v at i when the op has it, else NULL. */
static void bind_opt_int(sqlite3_stmt *st, int i, bool has, int64_t v)
{
  if (has)
    sqlite3_bind_int64(st, i, v);
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
  const fc_op_frame_t *f = &op->frame;
  sqlite3_stmt *st;
  if (!f->text || f->len > INT_MAX) return FC_ERR_STORE;
  STMT(c, st, FC_SQL_FRAME_INS);
  sqlite3_bind_int64(st, 1, arrival(op));
  bind_str(st, 2, op->charger);
  sqlite3_bind_int64(st, 3, f->conn_id);
  bind_str(st, 4, f->inbound ? "in" : "out");
  sqlite3_bind_text(st, 5, f->text, (int)f->len, SQLITE_STATIC);
  return run(c, st, "frame");
}

static int op_boot(fc_store_conn_t *c, fc_op_t *op)
{
  const fc_op_boot_t *b = &op->boot;
  sqlite3_stmt *st;
  STMT(c, st, FC_SQL_BOOT_UPSERT);
  bind_str(st, 1, op->charger);
  bind_str(st, 2, b->registration ? b->registration : "Accepted");
  bind_str(st, 3, b->vendor);
  bind_str(st, 4, b->model);
  bind_str(st, 5, b->serial_number);
  bind_str(st, 6, b->charge_box_serial);
  bind_str(st, 7, b->firmware_version);
  bind_str(st, 8, b->iccid);
  bind_str(st, 9, b->imsi);
  bind_str(st, 10, b->meter_type);
  bind_str(st, 11, b->meter_serial);
  sqlite3_bind_int64(st, 12, arrival(op));
  return run(c, st, "boot");
}

static int op_seen(fc_store_conn_t *c, fc_op_t *op)
{
  const fc_op_seen_t *a = &op->seen;
  sqlite3_stmt *st;
  long long now = arrival(op);
  int rc = a->registration ? ensure_charger(c, op->charger, a->registration, now) : 0;
  if (rc) return rc;
  STMT(c, st, a->online ? FC_SQL_SEEN_ONLINE : FC_SQL_SEEN_OFFLINE);
  bind_str(st, 1, op->charger);
  sqlite3_bind_int64(st, 2, a->conn_id);
  sqlite3_bind_int64(st, 3, now);
  if ((rc = run(c, st, "charger seen"))) return rc;
  STMT(c, st, FC_SQL_CONNECTION_INS);
  bind_str(st, 1, op->charger);
  sqlite3_bind_int64(st, 2, a->conn_id);
  sqlite3_bind_int(st, 3, a->online ? 1 : 0);
  sqlite3_bind_int64(st, 4, now);
  return run(c, st, "connection log");
}

static int op_heartbeat(fc_store_conn_t *c, fc_op_t *op)
{
  sqlite3_stmt *st;
  long long now = arrival(op);
  int rc = ensure_charger(c, op->charger, NULL, now);
  if (rc) return rc;
  STMT(c, st, FC_SQL_HEARTBEAT);
  bind_str(st, 1, op->charger);
  sqlite3_bind_int64(st, 2, now);
  return run(c, st, "heartbeat");
}

/* Parameters 1-8 of the three status statements (find, upsert, history):
 * charger, connector, the notification's fields, its time. */
static void bind_status(sqlite3_stmt *st, const char *charger, const fc_op_status_t *a)
{
  bind_str(st, 1, charger);
  sqlite3_bind_int64(st, 2, a->connector);
  bind_str(st, 3, a->status);
  bind_str(st, 4, a->error_code);
  bind_str(st, 5, a->info);
  bind_str(st, 6, a->vendor_id);
  bind_str(st, 7, a->vendor_error_code);
  sqlite3_bind_int64(st, 8, a->at_ms);
}

static int op_status(fc_store_conn_t *c, fc_op_t *op)
{
  const fc_op_status_t *a = &op->status;
  sqlite3_stmt *st;
  long long now = arrival(op);
  int rc, stale;

  if (!a->status) return FC_ERR_STORE;
  if ((rc = ensure_charger(c, op->charger, NULL, now))) return rc;

  /* A charger's retry of a notification we have (its own time stamp and
   * every field the same) stores nothing new. One without a time stamp
   * cannot be told from a new one, and is stored again. */
  if (a->has_ts) {
    STMT(c, st, FC_SQL_STATUS_HIST_FIND);
    bind_status(st, op->charger, a);
    int src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src == SQLITE_ROW) {
      op->out.outcome = FC_OUT_REPEAT;
      return 0;
    }
    if (src != SQLITE_DONE) return fc_store__sqlite_err(c, src, "status find");
  }

  /* The upsert's WHERE keeps a newer status: no row changed = stale. */
  STMT(c, st, FC_SQL_STATUS_UPSERT);
  bind_status(st, op->charger, a);
  sqlite3_bind_int64(st, 9, now);
  if ((rc = run(c, st, "status"))) return rc;
  stale = sqlite3_changes(c->db) == 0;

  STMT(c, st, FC_SQL_STATUS_HIST_INS);
  bind_status(st, op->charger, a);
  sqlite3_bind_int64(st, 9, now);
  sqlite3_bind_int(st, 10, stale);
  if ((rc = run(c, st, "status history"))) return rc;
  op->out.outcome = stale ? FC_OUT_STALE : FC_OUT_NEW;
  return 0;
}

/* Stores one reading: its sampled values as JSON text (the reads apply
 * the defaults) and their digest; a reading stored before (same charger,
 * connector, time stamp and digest) is not stored again. tx < 0: no
 * transaction. */
static int meter_value(fc_store_conn_t *c, fc_op_t *op, long long connector, long long tx,
                       const fc_op_reading_t *r, int *stored)
{
  sqlite3_stmt *st;
  int64_t digest;
  int rc;

  if (fc_store__reading_digest(r, &digest)) return FC_ERR_STORE;
  if (r->n == 0) return 0; /* nothing sampled, nothing to store */
  STMT(c, st, FC_SQL_METER_INS);
  size_t len;
  char *text = fc_store__sampled_json(r, &len);
  if (!text || len > INT_MAX) {
    fc_free(text);
    return FC_ERR_STORE;
  }
  bind_str(st, 1, op->charger);
  sqlite3_bind_int64(st, 2, connector);
  bind_opt_int(st, 3, tx >= 0, tx);
  sqlite3_bind_int64(st, 4, r->ts_ms);
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
                        const fc_op_readings_t *rs, int *stored)
{
  int rc;
  for (size_t i = 0; i < rs->n; i++)
    if ((rc = meter_value(c, op, connector, tx, &rs->v[i], stored))) return rc;
  return 0;
}

static int op_meter(fc_store_conn_t *c, fc_op_t *op)
{
  const fc_op_meter_t *a = &op->meter;
  int rc;

  if ((rc = ensure_charger(c, op->charger, NULL, arrival(op)))) return rc;
  int stored = 0;
  rc = meter_values(c, op, a->connector, a->tx_id ? a->tx_id : -1, &a->readings, &stored);
  if (rc) return rc;
  /* nothing new: a retry of readings we have */
  op->out.outcome = stored == 0 ? FC_OUT_REPEAT : FC_OUT_NEW;
  return 0;
}

static int op_tx_start(fc_store_conn_t *c, fc_op_t *op)
{
  const fc_op_tx_start_t *a = &op->tx_start;
  sqlite3_stmt *st;
  int rc, src;

  if (!a->id_tag) return FC_ERR_STORE;
  if ((rc = ensure_charger(c, op->charger, NULL, arrival(op)))) return rc;

  STMT(c, st, FC_SQL_TX_INS);
  bind_str(st, 1, op->charger);
  sqlite3_bind_int64(st, 2, a->connector);
  bind_str(st, 3, a->id_tag);
  sqlite3_bind_int64(st, 4, a->at_ms);
  sqlite3_bind_int64(st, 5, a->meter_start);
  bind_opt_int(st, 6, a->has_reservation, a->reservation_id);
  bind_str(st, 7, a->id_tag_status);
  sqlite3_bind_int64(st, 8, arrival(op));
  if ((rc = run(c, st, "tx start"))) return rc;
  if (sqlite3_changes(c->db) == 1) {
    op->out.id = sqlite3_last_insert_rowid(c->db);
    op->out.outcome = FC_OUT_NEW;
    return 0;
  }

  /* A retry of a start we have: answer with the id it got. */
  STMT(c, st, FC_SQL_TX_FIND_START);
  bind_str(st, 1, op->charger);
  sqlite3_bind_int64(st, 2, a->connector);
  bind_str(st, 3, a->id_tag);
  sqlite3_bind_int64(st, 4, a->at_ms);
  sqlite3_bind_int64(st, 5, a->meter_start);
  src = sqlite3_step(st);
  if (src == SQLITE_ROW) op->out.id = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (src != SQLITE_ROW)
    return src == SQLITE_DONE ? FC_ERR_STORE : fc_store__sqlite_err(c, src, "tx find");
  op->out.outcome = FC_OUT_REPEAT;
  return 0;
}

static int op_tx_stop(fc_store_conn_t *c, fc_op_t *op)
{
  const fc_op_tx_stop_t *a = &op->tx_stop;
  sqlite3_stmt *st;
  long long connector = 0, now = arrival(op);
  int rc, src, stopped = 0, found;

  if ((rc = ensure_charger(c, op->charger, NULL, now))) return rc;

  STMT(c, st, FC_SQL_TX_FIND);
  sqlite3_bind_int64(st, 1, a->tx_id);
  bind_str(st, 2, op->charger);
  src = sqlite3_step(st);
  if ((found = src == SQLITE_ROW)) {
    connector = sqlite3_column_int64(st, 0);
    stopped = sqlite3_column_int(st, 1);
  }
  sqlite3_reset(st);
  if (src != SQLITE_ROW && src != SQLITE_DONE) return fc_store__sqlite_err(c, src, "tx find");

  if (found && stopped) {
    /* a retried stop: the first one stays */
    op->out.id = a->tx_id;
    op->out.outcome = FC_OUT_REPEAT;
    return 0;
  }
  if (found) {
    STMT(c, st, FC_SQL_TX_STOP);
    sqlite3_bind_int64(st, 1, a->tx_id);
    sqlite3_bind_int64(st, 2, a->at_ms);
    sqlite3_bind_int64(st, 3, a->meter_stop);
    bind_str(st, 4, a->reason);
    bind_str(st, 5, a->id_tag);
    sqlite3_bind_int64(st, 6, now);
    if (a->has_cost) {
      /* the final cost, when the loop thread knew the transaction */
      sqlite3_bind_double(st, 7, a->cost);
      bind_str(st, 8, a->currency[0] ? a->currency : NULL);
    }
    if ((rc = run(c, st, "tx stop"))) return rc;
    op->out.id = a->tx_id;
    op->out.outcome = FC_OUT_NEW;
  } else {
    /* Never saw its start (or it is another charger's id): keep the stop,
     * under the charger's id when that is free. */
    STMT(c, st, FC_SQL_TX_ID_TAKEN);
    sqlite3_bind_int64(st, 1, a->tx_id);
    src = sqlite3_step(st);
    sqlite3_reset(st);
    if (src != SQLITE_ROW && src != SQLITE_DONE) return fc_store__sqlite_err(c, src, "tx id");
    STMT(c, st, FC_SQL_TX_INS_STOPPED);
    if (src == SQLITE_DONE)
      sqlite3_bind_int64(st, 1, a->tx_id);
    else
      sqlite3_bind_null(st, 1);
    bind_str(st, 2, op->charger);
    sqlite3_bind_int64(st, 3, a->at_ms);
    sqlite3_bind_int64(st, 4, a->meter_stop);
    bind_str(st, 5, a->reason);
    bind_str(st, 6, a->id_tag);
    sqlite3_bind_int64(st, 7, now);
    if ((rc = run(c, st, "tx stop unknown"))) return rc;
    op->out.id = sqlite3_last_insert_rowid(c->db);
    op->out.outcome = FC_OUT_UNKNOWN_TX;
  }
  int stored = 0;
  return meter_values(c, op, connector, op->out.id, &a->transaction_data, &stored);
}

static int op_data_transfer(fc_store_conn_t *c, fc_op_t *op)
{
  const fc_op_data_transfer_t *a = &op->data_transfer;
  sqlite3_stmt *st;
  int rc;

  if ((rc = ensure_charger(c, op->charger, NULL, arrival(op)))) return rc;
  STMT(c, st, FC_SQL_DT_INS);
  bind_str(st, 1, op->charger);
  bind_str(st, 2, a->vendor_id);
  bind_str(st, 3, a->message_id);
  bind_str(st, 4, a->data);
  bind_str(st, 5, a->status);
  sqlite3_bind_int64(st, 6, arrival(op));
  return run(c, st, "data transfer");
}

static int op_command(fc_store_conn_t *c, fc_op_t *op)
{
  const fc_op_command_t *a = &op->command;
  sqlite3_stmt *st;
  if (!a->command || !a->status) return FC_ERR_STORE;
  STMT(c, st, FC_SQL_COMMAND_INS);
  bind_str(st, 1, op->charger);
  bind_str(st, 2, a->command);
  bind_str(st, 3, a->action);
  bind_str(st, 4, a->params);
  bind_str(st, 5, a->status);
  bind_str(st, 6, a->result);
  bind_str(st, 7, a->error);
  bind_str(st, 8, a->by);
  sqlite3_bind_int64(st, 9, a->requested_ms ? a->requested_ms : arrival(op));
  sqlite3_bind_int64(st, 10, arrival(op));
  bind_opt_int(st, 11, a->sent >= 0, a->sent > 0);
  return run(c, st, "command");
}

/* The members that identify a profile in both statements of a set:
 * charger, id, connector, stack level, purpose (?1 to ?5). */
static void bind_profile_key(sqlite3_stmt *st, const fc_op_t *op)
{
  const fc_op_profile_set_t *a = &op->profile_set;
  bind_str(st, 1, op->charger);
  sqlite3_bind_int64(st, 2, a->profile_id);
  bind_opt_int(st, 3, a->connector >= 0, a->connector);
  sqlite3_bind_int(st, 4, a->stack_level);
  bind_str(st, 5, a->purpose);
}

static int op_profile_set(fc_store_conn_t *c, fc_op_t *op)
{
  const fc_op_profile_set_t *a = &op->profile_set;
  sqlite3_stmt *st;
  if (!a->purpose || !a->kind || !a->unit || !a->profile) return FC_ERR_STORE;
  STMT(c, st, FC_SQL_PROFILE_REPLACE);
  bind_profile_key(st, op);
  int rc = run(c, st, "profile replace");
  if (rc < 0) return rc;
  STMT(c, st, FC_SQL_PROFILE_INS);
  bind_profile_key(st, op);
  bind_str(st, 6, a->kind);
  bind_str(st, 7, a->unit);
  bind_opt_int(st, 8, a->tx_id != 0, a->tx_id);
  bind_str(st, 9, a->profile);
  bind_str(st, 10, a->by);
  sqlite3_bind_int64(st, 11, arrival(op));
  return run(c, st, "profile insert");
}

static int op_profile_clear(fc_store_conn_t *c, fc_op_t *op)
{
  const fc_op_profile_clear_t *a = &op->profile_clear;
  sqlite3_stmt *st;
  STMT(c, st, FC_SQL_PROFILE_CLEAR);
  bind_str(st, 1, op->charger);
  bind_opt_int(st, 2, a->has_id, a->id);
  bind_opt_int(st, 3, a->has_connector, a->connector);
  bind_str(st, 4, a->purpose);
  bind_opt_int(st, 5, a->has_stack_level, a->stack_level);
  return run(c, st, "profile clear");
}

static int op_notice(fc_store_conn_t *c, fc_op_t *op, fc_sql_id_t id)
{
  sqlite3_stmt *st;
  int rc;
  if (!op->notice.status) return FC_ERR_STORE;
  if ((rc = ensure_charger(c, op->charger, NULL, arrival(op)))) return rc;
  STMT(c, st, id);
  bind_str(st, 1, op->charger);
  bind_str(st, 2, op->notice.status);
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

  const fc_op_event_t *ev = &op->event;
  FC_FREE(op->out.text);
  op->out.len = 0;
  if (!ev->type || !ev->type[0]) return FC_ERR_STORE;

  /* The charger row exists when the write's data op made it; an event
   * alone (charger.online/offline) of a charger that is no longer
   * registered is not stored and gets no seq. */
  known_t *k = known(c, op->charger);
  if (k && k->has_seq) {
    seq = k->seq + 1;
  } else {
    STMT(c, st, k ? FC_SQL_EVENT_SEQ_KNOWN : FC_SQL_EVENT_SEQ);
    bind_str(st, 1, op->charger);
    src = sqlite3_step(st);
    if (src == SQLITE_ROW) seq = sqlite3_column_int64(st, 0) + 1;
    sqlite3_reset(st);
    if (src == SQLITE_DONE) return 0;
    if (src != SQLITE_ROW) return fc_store__sqlite_err(c, src, "event seq");
    if (!k) k = learn(c, op->charger);
  }

  size_t len;
  char *text = fc_store__event_json(op, seq, tx_id, &len);
  if (!text || len > INT_MAX) {
    fc_free(text);
    return FC_ERR_STORE;
  }
  STMT(c, st, FC_SQL_EVENT_INS);
  bind_str(st, 1, op->charger);
  sqlite3_bind_int64(st, 2, seq);
  bind_str(st, 3, ev->type);
  sqlite3_bind_int64(st, 4, ev->connector);
  sqlite3_bind_int64(st, 5, ev->ts_ms);
  sqlite3_bind_int(st, 6, ev->late ? 1 : 0);
  sqlite3_bind_text(st, 7, text, (int)len, SQLITE_STATIC);
  if ((rc = run(c, st, "event"))) {
    fc_free(text);
    return rc;
  }
  if (!ev->late) {
    /* the latest non-late event of its key now (007_events_latest.sql) */
    if (!(st = fc_store__stmt(c, FC_SQL_EVENT_LATEST))) {
      fc_free(text);
      return UV_EIO;
    }
    bind_str(st, 1, op->charger);
    bind_str(st, 2, ev->type);
    sqlite3_bind_int64(st, 3, ev->connector);
    sqlite3_bind_int64(st, 4, seq);
    if ((rc = run(c, st, "event latest"))) {
      fc_free(text);
      return rc;
    }
  }
  k->seq = seq;
  k->has_seq = true;
  op->out.id = seq;
  op->out.text = text;
  op->out.len = len;
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
  if (!op->charger) return FC_ERR_STORE;
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
    rc = op_notice(c, op, FC_SQL_FIRMWARE);
    break;
  case FC_OP_DIAGNOSTICS_STATUS:
    rc = op_notice(c, op, FC_SQL_DIAGNOSTICS);
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
    fc_log(FC_LOG_WARN, &(fc_log_ctx_t){.cp = op->charger}, "event=store_op_failed kind=%d",
           (int)op->kind);
  return rc;
}
