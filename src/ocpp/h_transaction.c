/* StartTransaction and StopTransaction.
 *
 * A charger that gets a CALLERROR on StartTransaction retries the identical
 * payload a few times and then silently drops the transaction, so refusing is
 * the last resort: the transaction is recorded whatever its idTag's status
 * (the charger may have started it offline), and the idTagInfo tells the
 * charger what we think of the tag. Retries of an identical start get the
 * same transactionId back (the store makes FC_OP_TX_START idempotent). */
#include "ocpp/ocpp_int.h"

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

static void started(fc_call_t *c, fc_write_t *w, int status)
{
  tx_ctx_t *t = c->ctx;
  if (status < 0) {
    fc_ocpp__answer_error(c, FC_OCPP_INTERNAL_ERROR, "storage write failed, retry later");
    return;
  }
  fc_op_t *op = fc_write_op(w, 0);
  fc_log_ctx_t ctx = c->s->log;
  ctx.msg_id = c->id;
  fc_log(FC_LOG_INFO, &ctx, "event=transaction_started tx=%lld connector=%lld retry=%d",
         (long long)op->out_id,
         (long long)json_integer_value(json_object_get(c->payload, "connectorId")), op->out_flag);
  json_t *r =
      json_pack("{s:I, s:O}", "transactionId", (json_int_t)op->out_id, "idTagInfo", t->info);
  fc_ocpp__answer(c, r);
}

static void start_tag(fc_call_t *c, fc_read_t *r, int status)
{
  if (status < 0 && status != FC_ERR_NOTFOUND) {
    fc_ocpp__answer_error(c, FC_OCPP_INTERNAL_ERROR, "tag lookup failed, retry later");
    return;
  }
  tx_ctx_t *t = ctx_of(c);
  t->info = fc_ocpp__id_tag_info(c->s->o, &r->out_tag, status);
  const char *st = json_string_value(json_object_get(t->info, "status"));
  fc_write_t *w = fc_write_new();
  fc_op_t *op = fc_write_add(w, FC_OP_TX_START, c->s->id, c->payload, st, strlen(st));
  op->ts_ms = fc_ocpp__wall_ms();
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
    fc_ocpp__answer_error(c, FC_OCPP_INTERNAL_ERROR, "storage write failed, retry later");
    return;
  }
  fc_op_t *op = fc_write_op(w, 0);
  fc_log_ctx_t ctx = c->s->log;
  ctx.msg_id = c->id;
  fc_log(FC_LOG_INFO, &ctx, "event=transaction_stopped tx=%lld unknown=%d repeat=%d",
         (long long)json_integer_value(json_object_get(c->payload, "transactionId")),
         op->out_flag == 1, op->out_flag == 2);
  json_t *res = json_object();
  if (t && t->info) json_object_set(res, "idTagInfo", t->info);
  fc_ocpp__answer(c, res);
}

static void stop_write(fc_call_t *c)
{
  fc_write_t *w = fc_write_new();
  fc_op_t *op = fc_write_add(w, FC_OP_TX_STOP, c->s->id, c->payload, NULL, 0);
  op->ts_ms = fc_ocpp__wall_ms();
  fc_ocpp__commit(c, w, NULL, stopped);
}

static void stop_tag(fc_call_t *c, fc_read_t *r, int status)
{
  if (status < 0 && status != FC_ERR_NOTFOUND) {
    fc_ocpp__answer_error(c, FC_OCPP_INTERNAL_ERROR, "tag lookup failed, retry later");
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
