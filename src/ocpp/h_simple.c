/* The notifications whose handling is "store it (with its events), then
 * confirm": StatusNotification, MeterValues, DiagnosticsStatusNotification,
 * FirmwareStatusNotification. Their answers are empty objects, sent only once
 * the write has committed.
 *
 * Chargers flush their offline queues in bursts with the original time
 * stamps, so what arrives may be older than what we already know: such a
 * message is stored and reported (its event says "late"), but it changes no
 * state shown to users. A time stamp too far ahead of our clock orders by
 * arrival instead, and its event says "clockSkew" (bounds.c).
 *
 * What a message changes in the connector's state (cpstate.c) is staged, and
 * applied once its write has committed; and its events are raised only if
 * the store found something new (a retry of a notification or of a reading
 * it has raises none). */
#include "ocpp/ocpp_int.h"

#include <math.h>
#include <string.h>

/* A write of a Diagnostics/FirmwareStatusNotification. */
static fc_write_t *notice_write(fc_call_t *c, fc_op_kind_t kind)
{
  fc_write_t *w = fc_write_new();
  fc_write_notice(w, kind, c->s->id, fc_ocpp__str_of(c->payload, "status"))->ts_ms = fc_wall_ms();
  return w;
}

/* The message's own time stamp, or now when it has none, or when it is too
 * far ahead of ours (*skewed: bounds.c). */
static long long stamp(fc_call_t *c, json_t *obj, bool *skewed)
{
  return fc_ocpp__stamp(c->s->o, c->s->id, json_string_value(json_object_get(obj, "timestamp")),
                        skewed);
}

void fc_ocpp__h_status_notification(fc_call_t *c)
{
  json_t *p = c->payload;
  int connector = (int)json_integer_value(json_object_get(p, "connectorId"));
  fc_cpconn_t *k = fc_ocpp__stage(c, connector);
  bool skewed;
  long long ts = stamp(c, p, &skewed);
  bool late = ts < k->status_ts;
  if (!late) k->status_ts = ts;

  fc_write_t *w = fc_write_new();
  long long now = fc_wall_ms();
  fc_op_status_t status = fc_ocpp__status_args(p, now);
  fc_write_status(w, c->s->id, &status)->ts_ms = now;
  fc_ev_status_t ev = {
      .status = json_string_value(json_object_get(p, "status")),
      .error_code = json_string_value(json_object_get(p, "errorCode")),
      .info = json_string_value(json_object_get(p, "info")),
      .vendor_id = json_string_value(json_object_get(p, "vendorId")),
      .vendor_error_code = json_string_value(json_object_get(p, "vendorErrorCode")),
      .timestamp = json_string_value(json_object_get(p, "timestamp")),
      .clock_skew = skewed,
  };
  fc_ev_status(w, c->s->id, connector, &ev, ts, late)->event.skip_repeat = true;
  fc_ocpp__commit(c, w, json_object(), NULL);
}

/* Each reading (MeterValue) is a store op of its own, followed by its
 * events: a reading that the store has already (a retry of a message whose
 * first try committed) raises none. */
void fc_ocpp__h_meter_values(fc_call_t *c)
{
  fc_ocpp_t *o = c->s->o;
  json_t *p = c->payload;
  int connector = (int)json_integer_value(json_object_get(p, "connectorId"));
  json_t *txv = json_object_get(p, "transactionId");
  fc_cpconn_t *k = fc_ocpp__stage(c, connector);
  /* Meter values name their transaction; when they do not, the connector's
   * running transaction is theirs, and they are stored as its too (the
   * frame log keeps the message as it came). */
  int64_t tx = txv ? json_integer_value(txv) : (k->tx_active ? k->tx_id : 0);
  bool other_tx = tx && (!k->tx_active || tx != k->tx_id);

  fc_write_t *w = fc_write_new();
  size_t i;
  json_t *mv;
  json_array_foreach(json_object_get(p, "meterValue"), i, mv)
  {
    long long now = fc_wall_ms();
    fc_op_readings_t rs = fc_ocpp__readings(json_object_get(p, "meterValue"), i, 1, now);
    fc_write_meter(w, c->s->id,
                   &(fc_op_meter_t){.connector = (int)fc_ocpp__int_of(p, "connectorId"),
                                    .tx_id = tx,
                                    .readings = rs})
        ->ts_ms = now;
    fc_ocpp__readings_free(&rs);
    json_t *sum = fc_domain_meter_summary(mv);
    if (!sum) continue;
    fc_ev_meter_t ev;
    fc_ev_meter_read(sum, &ev);
    json_decref(sum);
    bool skewed;
    long long ts = stamp(c, mv, &skewed);
    /* Late: older than the newest reading, or of a transaction that is no
     * longer running (a flush after the session ended). */
    bool late = ts < k->meter_ts || other_tx;
    if (!late) k->meter_ts = ts;
    ev.tx_id = tx;
    ev.timestamp = json_string_value(json_object_get(mv, "timestamp"));
    ev.clock_skew = skewed;
    double reg_v = ev.total.v[FC_MQ_ENERGY];
    bool reg = !isnan(reg_v);
    double soc_v = isnan(ev.total.v[FC_MQ_SOC]) ? -1 : ev.total.v[FC_MQ_SOC];
    fc_ev_meter(w, c->s->id, connector, &ev, ts, late)->event.skip_repeat = true;
    if (!late && soc_v >= 0 && soc_v <= 100) {
      fc_ocpp__precharge_soc(o, w, c->s->id, k, soc_v, ts);
      if (tx && tx == k->tx_id) fc_ocpp__stage_soc(c, connector, soc_v);
    }
    if (!late && reg && tx && k->tx_active && tx == k->tx_id) {
      double e = fc_ocpp__energy_add(k, reg_v);
      fc_ev_energy(w, c->s->id, connector,
                   &(fc_ev_energy_t){.tx_id = tx, .energy_wh = e, .meter_wh = reg_v}, ts)
          ->event.skip_repeat = true;
      /* The running cost follows each reading of the register (energy and
       * time both advance it). */
      fc_ev_cost_t cost = fc_ocpp__cost(o, k, e, ts);
      fc_ev_cost(w, c->s->id, connector, &cost, ts)->event.skip_repeat = true;
    }
  }
  fc_ocpp__commit(c, w, json_object(), NULL);
}

void fc_ocpp__h_diagnostics_status(fc_call_t *c)
{
  fc_ocpp__commit(c, notice_write(c, FC_OP_DIAGNOSTICS_STATUS), json_object(), NULL);
}

void fc_ocpp__h_firmware_status(fc_call_t *c)
{
  fc_ocpp__commit(c, notice_write(c, FC_OP_FIRMWARE_STATUS), json_object(), NULL);
}
