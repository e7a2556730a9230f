/* Target SoC: stop charging once the vehicle reaches the SoC its driver
 * asked for.
 *
 * The target belongs to one transaction. It is given with a remote start
 * (it then waits, per connector, for the next transaction to start there) or
 * set while one runs. Each SoC that the charger reports for the running
 * transaction (MeterValues measurand SoC, or PreChargeData) is compared with
 * it; the first that reaches it sends RemoteStopTransaction, once: a charger
 * that refuses is not asked again and again every minute (the outcome is in
 * the command log for an operator to see). The StopTransaction that follows
 * gets "stoppedBy":"targetSoc" in its transaction.stopped event.
 *
 * State lives in the connector's cpstate (cpstate.c), on the loop thread;
 * like the rest of it, it does not survive a restart. */
#include "ocpp/ocpp_int.h"

#include <string.h>

/* Seeds the connectors the charger model knows of (a transaction that started
 * before a restart is only there), so that the loop below sees them all. */
static fc_cpstate_t *state_of(fc_ocpp_t *o, const char *charger)
{
  const fc_charger_state_t *cs = fc_bus_state(o->bus, charger);
  for (size_t i = 0; cs && i < cs->n; i++)
    fc_ocpp__cpconn(o, charger, cs->conns[i].id);
  fc_cpstate_t *st = NULL;
  HASH_FIND_STR(o->cpstates, charger, st);
  return st;
}

int fc_ocpp_running_tx(fc_ocpp_t *o, const char *charger, int connector, int *connector_out,
                       int64_t *tx_out)
{
  if (connector > 0) {
    fc_cpconn_t *k = fc_ocpp__cpconn(o, charger, connector);
    if (!k->tx_active) return FC_ERR_NOTFOUND;
    *connector_out = k->id;
    *tx_out = k->tx_id;
    return 0;
  }
  fc_cpstate_t *st = state_of(o, charger);
  fc_cpconn_t *found = NULL;
  for (size_t i = 0; st && i < st->n; i++) {
    if (!st->conns[i].tx_active) continue;
    if (found) return FC_ERR_INVAL;
    found = &st->conns[i];
  }
  if (!found) return FC_ERR_NOTFOUND;
  *connector_out = found->id;
  *tx_out = found->tx_id;
  return 0;
}

int fc_ocpp_target_soc(fc_ocpp_t *o, const char *charger, int connector, double soc, bool next,
                       int *connector_out, int64_t *tx_out)
{
  int64_t tx = 0;
  if (connector <= 0) {
    int rc = fc_ocpp_running_tx(o, charger, 0, &connector, &tx);
    if (rc < 0) return rc;
  }
  fc_cpconn_t *k = fc_ocpp__cpconn(o, charger, connector);
  if (!next && k->tx_active) {
    k->target_soc = soc;
    k->target_tx = k->tx_id;
    k->target_sent = false;
    tx = k->tx_id;
  } else {
    k->target_next = soc;
    tx = 0;
  }
  *connector_out = connector;
  *tx_out = tx;
  fc_log(FC_LOG_INFO, &(fc_log_ctx_t){.cp = charger},
         "event=target_soc connector=%d tx=%lld target=%.1f", connector, (long long)tx, soc);
  return 0;
}

void fc_ocpp__target_soc_started(fc_cpconn_t *k, int64_t tx)
{
  k->target_soc = 0;
  k->target_sent = false;
  if (k->target_next > 0) {
    k->target_soc = k->target_next;
    k->target_tx = tx;
    k->target_next = 0;
  }
}

static void stop_answered(const fc_ocpp_outcome_t *out, void *arg)
{
  char *charger = arg;
  fc_log(out->status == 0 ? FC_LOG_INFO : FC_LOG_WARN, &(fc_log_ctx_t){.cp = charger},
         "event=target_soc_stop status=%s", out->state);
  fc_free(charger);
}

void fc_ocpp__target_soc_check(fc_ocpp_t *o, const char *charger, fc_cpconn_t *k, double soc)
{
  if (!k->tx_active || k->target_sent || !(k->target_soc > 0) || k->target_tx != k->tx_id ||
      soc < k->target_soc)
    return;
  k->target_sent = true;
  k->target_stopped_tx = k->tx_id;
  k->target_stopped_at = soc;
  json_t *payload = json_pack("{s:I}", "transactionId", (json_int_t)k->tx_id);
  json_t *params = json_pack("{s:I, s:i, s:f, s:f}", "transactionId", (json_int_t)k->tx_id,
                             "connectorId", k->id, "targetSoc", k->target_soc, "soc", soc);
  fc_log(FC_LOG_INFO, &(fc_log_ctx_t){.cp = charger},
         "event=target_soc_reached connector=%d tx=%lld soc=%.1f target=%.1f", k->id,
         (long long)k->tx_id, soc, k->target_soc);
  fc_ocpp_command(o, charger, "stop", "RemoteStopTransaction", payload, params, "system:targetSoc",
                  0, stop_answered, fc_strdup(charger));
  json_decref(payload);
  json_decref(params);
}

void fc_ocpp__target_soc_stopped(fc_cpconn_t *k, int64_t tx, fc_ev_tx_stopped_t *ev)
{
  if (!k->target_stopped_tx || k->target_stopped_tx != tx) return;
  ev->stopped_by = "targetSoc";
  ev->target_soc = k->target_soc;
  ev->soc_at_stop = k->target_stopped_at;
  k->target_stopped_tx = 0;
  k->target_soc = 0;
}
