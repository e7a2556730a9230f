/* StartTransaction and StopTransaction.
 *
 * A charger that gets a CALLERROR on StartTransaction retries the identical
 * payload a few times and then silently drops the transaction, so refusing is
 * the last resort: the transaction is recorded whatever its idTag's status
 * (the charger may have started it offline), and the idTagInfo tells the
 * charger what we think of the tag. Retries of an identical start get the
 * same transactionId back (the store makes FC_OP_TX_START idempotent). */
#include "ocpp/ocpp_int.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct tx_ctx {
  json_t *info; /* idTagInfo, or NULL */
} tx_ctx_t;

static void tx_ctx_free(void *p)
{
  tx_ctx_t *t = p;
  json_decref(t->info);
  fc_free(t);
}

static tx_ctx_t *ctx_of(fc_call_t *c)
{
  if (!c->ctx) {
    c->ctx = fc_calloc(1, sizeof(tx_ctx_t));
    c->ctx_free = tx_ctx_free;
  }
  return c->ctx;
}

/* ---- StartTransaction ---- */

/* Committed (whether or not the charger still waits), before its event is
 * published: a transaction new to the connector takes the target SoC that
 * waits for it. Its id is the store's, known only now. */
static void start_apply(fc_call_t *c, fc_write_t *w, int status)
{
  (void)status;
  fc_op_t *op = fc_write_op(w, 0);
  int connector = (int)json_integer_value(json_object_get(c->payload, "connectorId"));
  fc_cpconn_t *k = fc_ocpp__cpconn(c->s->o, c->s->id, connector);
  if (!k->tx_active || k->tx_id != op->out.id) fc_ocpp__target_soc_started(k, op->out.id);
}

static void started(fc_call_t *c, fc_write_t *w, int status)
{
  tx_ctx_t *t = c->ctx;
  if (status < 0) {
    fc_ocpp__answer_internal(c, FC_OCPP_WAIT_WRITE, status);
    return;
  }
  fc_op_t *op = fc_write_op(w, 0);
  fc_log_ctx_t ctx = c->s->log;
  ctx.msg_id = c->id;
  fc_log(FC_LOG_INFO, &ctx, "event=transaction_started tx=%lld connector=%lld retry=%d",
         (long long)op->out.id,
         (long long)json_integer_value(json_object_get(c->payload, "connectorId")),
         op->out.outcome == FC_OUT_REPEAT);
  json_t *r =
      json_pack("{s:I, s:O}", "transactionId", (json_int_t)op->out.id, "idTagInfo", t->info);
  fc_ocpp__answer(c, r);
}

static void start_tag(fc_call_t *c, fc_read_t *r, int status)
{
  if (status < 0 && status != FC_ERR_NOTFOUND) {
    fc_ocpp__answer_internal(c, FC_OCPP_WAIT_TAG_LOOKUP, status);
    return;
  }
  tx_ctx_t *t = ctx_of(c);
  t->info = fc_ocpp__id_tag_info(c->s->o, &r->out_tag, status);
  const char *st = json_string_value(json_object_get(t->info, "status"));
  json_t *p = c->payload;
  fc_write_t *w = fc_write_new();
  long long now = fc_wall_ms();
  fc_op_tx_start_t start = fc_ocpp__tx_start_args(p, st, now);
  fc_op_t *op = fc_write_tx_start(w, c->s->id, &start);
  op->ts_ms = now;

  char masked[32];
  long long ts = op->ts_ms;
  fc_datetime_parse(json_string_value(json_object_get(p, "timestamp")), &ts);
  json_int_t meter_start = json_integer_value(json_object_get(p, "meterStart"));
  int connector = (int)json_integer_value(json_object_get(p, "connectorId"));
  /* a target SoC given with the remote start that led here */
  fc_cpconn_t *k = fc_ocpp__cpconn(c->s->o, c->s->id, connector);
  fc_ev_tx_started_t ev = {
      .tx_id = 0, /* the store's, once committed */
      .id_tag = fc_log_mask(json_string_value(json_object_get(p, "idTag")), masked, sizeof(masked)),
      .id_tag_status = st,
      .started_at = json_string_value(json_object_get(p, "timestamp")),
      .meter_start = meter_start,
      .energy_wh = 0,
      .meter_wh = (double)meter_start,
      .target_soc = k->target_next > 0 ? k->target_next : NAN,
  };
  fc_ev_tx_started(w, c->s->id, connector, &ev, ts)->event.skip_repeat = true;
  c->apply_fn = start_apply;
  fc_ocpp__commit(c, w, NULL, started);
}

void fc_ocpp__h_start_transaction(fc_call_t *c)
{
  const char *tag = json_string_value(json_object_get(c->payload, "idTag"));
  fc_ocpp__read(c, fc_read_new(FC_READ_TAG, tag), start_tag);
}

/* ---- StopTransaction ---- */

static void stopped(fc_call_t *c, fc_write_t *w, int status)
{
  tx_ctx_t *t = c->ctx;
  if (status < 0) {
    fc_ocpp__answer_internal(c, FC_OCPP_WAIT_WRITE, status);
    return;
  }
  fc_op_t *op = fc_write_op(w, 0);
  fc_log_ctx_t ctx = c->s->log;
  ctx.msg_id = c->id;
  fc_log(FC_LOG_INFO, &ctx, "event=transaction_stopped tx=%lld unknown=%d repeat=%d",
         (long long)json_integer_value(json_object_get(c->payload, "transactionId")),
         op->out.outcome == FC_OUT_UNKNOWN_TX, op->out.outcome == FC_OUT_REPEAT);
  json_t *res = json_object();
  if (t && t->info) json_object_set(res, "idTagInfo", t->info);
  fc_ocpp__answer(c, res);
}

/* The connector of a transaction: from what the handlers know, else from the
 * charger model; 0 when neither knows it (a stop for a transaction we never saw
 * start). */
static fc_cpconn_t *conn_of_tx(fc_ocpp_t *o, const char *charger, int64_t tx)
{
  const fc_charger_state_t *cs = fc_bus_state(o->bus, charger);
  int found = -1;
  for (size_t j = 0; cs && j < cs->n; j++)
    if (cs->conns[j].tx.present && cs->conns[j].tx.id == tx) found = cs->conns[j].id;
  return found >= 0 ? fc_ocpp__cpconn(o, charger, found) : NULL;
}

static void stop_write(fc_call_t *c)
{
  fc_ocpp_t *o = c->s->o;
  json_t *p = c->payload;
  int64_t tx = json_integer_value(json_object_get(p, "transactionId"));
  long long now = fc_wall_ms(), ts = now;
  fc_datetime_parse(json_string_value(json_object_get(p, "timestamp")), &ts);
  json_int_t meter_stop = json_integer_value(json_object_get(p, "meterStop"));
  /* the connector as this stop leaves it, once committed: a stop that
   * fails leaves the transaction running, and its retry finds it so */
  fc_cpconn_t *k = conn_of_tx(o, c->s->id, tx);
  if (k) k = fc_ocpp__stage(c, k->id);
  const char *reason = json_string_value(json_object_get(p, "reason"));
  fc_ev_tx_stopped_t ev = {
      .tx_id = tx,
      .meter_stop = meter_stop,
      .stopped_at = json_string_value(json_object_get(p, "timestamp")),
      .reason = reason ? reason : "Local",
      .energy_wh = NAN,
      .minutes = NAN,
      .cost = NAN,
      .target_soc = NAN,
      .soc_at_stop = NAN,
  };
  fc_op_tx_stop_t stop = fc_ocpp__tx_stop_args(p, now);
  if (k && k->tx_active && k->tx_id == tx) {
    double e = fc_ocpp__energy_add(k, (double)meter_stop);
    /* The final cost goes into the transaction's row (the op's cost) and
     * into the event; a stop of a transaction we never saw start has none. */
    fc_ev_cost_t cost = fc_ocpp__cost(o, k, e, ts);
    ev.energy_wh = e;
    ev.minutes = cost.minutes;
    ev.cost = cost.cost;
    ev.currency = cost.currency;
    stop.has_cost = !isnan(cost.cost);
    stop.cost = cost.cost;
    snprintf(stop.currency, sizeof(stop.currency), "%s", cost.currency ? cost.currency : "");
    k->tx_active = false;
  }
  /* the vehicle leaves with its transaction (as in the charger model) */
  if (k && (!k->tx_active || k->tx_id == tx)) k->pc_known = false;
  if (k) fc_ocpp__target_soc_stopped(k, tx, &ev);
  fc_write_t *w = fc_write_new();
  fc_write_tx_stop(w, c->s->id, &stop)->ts_ms = now;
  fc_ocpp__readings_free(&stop.transaction_data);
  fc_ev_tx_stopped(w, c->s->id, k ? k->id : 0, &ev, ts)->event.skip_repeat = true;
  fc_ocpp__commit(c, w, NULL, stopped);
}

static void stop_tag(fc_call_t *c, fc_read_t *r, int status)
{
  if (status < 0 && status != FC_ERR_NOTFOUND) {
    fc_ocpp__answer_internal(c, FC_OCPP_WAIT_TAG_LOOKUP, status);
    return;
  }
  ctx_of(c)->info = fc_ocpp__id_tag_info(c->s->o, &r->out_tag, status);
  stop_write(c);
}

void fc_ocpp__h_stop_transaction(fc_call_t *c)
{
  const char *tag = json_string_value(json_object_get(c->payload, "idTag"));
  if (tag)
    fc_ocpp__read(c, fc_read_new(FC_READ_TAG, tag), stop_tag);
  else
    stop_write(c);
}
