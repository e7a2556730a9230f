/* One constructor per event type, and the reader of each type's data: the
 * only code that spells the events' members (their names are in bus_int.h,
 * shared with the snapshot's writer, model.c). The JSON they make is what
 * schemas/api/ws.schema.json publishes; every integration test validates
 * every frame against it. */
#include "bus/bus.h"
#include "bus/bus_int.h"

#include <math.h>
#include <string.h>

const char *const fc_bus__meter_q_names[FC_MQ__COUNT] = {[FC_MQ_VOLTAGE] = "voltage",
                                                         [FC_MQ_CURRENT] = "current",
                                                         [FC_MQ_POWER] = "power",
                                                         [FC_MQ_ENERGY] = "energyWh",
                                                         [FC_MQ_SOC] = "soc"};
const char *const fc_bus__phase_names[FC_PHASES] = {"L1", "L2", "L3"};

/* ---- writing ---- */

void fc_bus__set_str(json_t *o, const char *k, const char *v)
{
  if (v) json_object_set_new(o, k, json_string(v));
}

void fc_bus__set_num(json_t *o, const char *k, double v)
{
  if (!isnan(v)) json_object_set_new(o, k, json_real(v));
}

static json_t *num_or_null(double v)
{
  return isnan(v) ? json_null() : json_real(v);
}

static void set_true(json_t *o, const char *k, bool v)
{
  if (v) json_object_set_new(o, k, json_true());
}

/* The quantities of vals that are there; NULL when none is. */
static json_t *meter_vals_json(json_t *o, const fc_meter_vals_t *vals)
{
  for (int q = 0; q < FC_MQ__COUNT; q++)
    fc_bus__set_num(o, fc_bus__meter_q_names[q], vals->v[q]);
  return o;
}

void fc_bus__meter_json(json_t *o, const fc_meter_vals_t *total, bool has_phases,
                        const fc_meter_vals_t *phase)
{
  meter_vals_json(o, total);
  if (!has_phases) return;
  json_t *ph = json_object();
  for (int p = 0; p < FC_PHASES; p++) {
    json_t *po = meter_vals_json(json_object(), &phase[p]);
    if (json_object_size(po))
      json_object_set_new(ph, fc_bus__phase_names[p], po);
    else
      json_decref(po);
  }
  json_object_set_new(o, F_PHASES, ph);
}

fc_op_t *fc_ev_status(fc_write_t *w, const char *charger, int connector, const fc_ev_status_t *ev,
                      long long ts_ms, bool late)
{
  json_t *d = json_object();
  fc_bus__set_str(d, F_STATUS, ev->status);
  fc_bus__set_str(d, F_ERROR_CODE, ev->error_code);
  fc_bus__set_str(d, F_INFO, ev->info);
  fc_bus__set_str(d, F_VENDOR_ID, ev->vendor_id);
  fc_bus__set_str(d, F_VENDOR_ERROR_CODE, ev->vendor_error_code);
  fc_bus__set_str(d, F_TIMESTAMP, ev->timestamp);
  set_true(d, F_CLOCK_SKEW, ev->clock_skew);
  return fc_bus_add(w, FC_EV_STATUS, charger, connector, d, ts_ms, late);
}

fc_op_t *fc_ev_meter(fc_write_t *w, const char *charger, int connector, const fc_ev_meter_t *ev,
                     long long ts_ms, bool late)
{
  json_t *d = json_object();
  fc_bus__meter_json(d, &ev->total, ev->has_phases, ev->phase);
  if (ev->tx_id) json_object_set_new(d, F_TRANSACTION_ID, json_integer(ev->tx_id));
  fc_bus__set_str(d, F_TIMESTAMP, ev->timestamp);
  set_true(d, F_CLOCK_SKEW, ev->clock_skew);
  return fc_bus_add(w, FC_EV_METER, charger, connector, d, ts_ms, late);
}

json_t *fc_bus__started_json(const fc_ev_tx_started_t *ev)
{
  json_t *d = json_object();
  json_object_set_new(d, F_TRANSACTION_ID, ev->tx_id ? json_integer(ev->tx_id) : json_null());
  fc_bus__set_str(d, F_ID_TAG, ev->id_tag);
  fc_bus__set_str(d, F_ID_TAG_STATUS, ev->id_tag_status);
  fc_bus__set_str(d, F_STARTED_AT, ev->started_at);
  json_object_set_new(d, F_METER_START, json_integer(ev->meter_start));
  json_object_set_new(d, F_ENERGY_WH, json_real(ev->energy_wh));
  json_object_set_new(d, F_METER_WH, json_real(ev->meter_wh));
  fc_bus__set_num(d, F_TARGET_SOC, ev->target_soc);
  return d;
}

fc_op_t *fc_ev_tx_started(fc_write_t *w, const char *charger, int connector,
                          const fc_ev_tx_started_t *ev, long long ts_ms)
{
  return fc_bus_add(w, FC_EV_TX_STARTED, charger, connector, fc_bus__started_json(ev), ts_ms,
                    false);
}

json_t *fc_bus__stopped_json(const fc_ev_tx_stopped_t *ev)
{
  json_t *d = json_object();
  json_object_set_new(d, F_TRANSACTION_ID, json_integer(ev->tx_id));
  json_object_set_new(d, F_METER_STOP, json_integer(ev->meter_stop));
  fc_bus__set_str(d, F_STOPPED_AT, ev->stopped_at);
  fc_bus__set_str(d, F_REASON, ev->reason);
  fc_bus__set_num(d, F_ENERGY_WH, ev->energy_wh);
  fc_bus__set_num(d, F_MINUTES, ev->minutes);
  fc_bus__set_num(d, F_COST, ev->cost);
  fc_bus__set_str(d, F_CURRENCY, ev->currency);
  fc_bus__set_str(d, F_STOPPED_BY, ev->stopped_by);
  fc_bus__set_num(d, F_TARGET_SOC, ev->target_soc);
  fc_bus__set_num(d, F_SOC_AT_STOP, ev->soc_at_stop);
  return d;
}

fc_op_t *fc_ev_tx_stopped(fc_write_t *w, const char *charger, int connector,
                          const fc_ev_tx_stopped_t *ev, long long ts_ms)
{
  return fc_bus_add(w, FC_EV_TX_STOPPED, charger, connector, fc_bus__stopped_json(ev), ts_ms,
                    false);
}

fc_op_t *fc_ev_energy(fc_write_t *w, const char *charger, int connector, const fc_ev_energy_t *ev,
                      long long ts_ms)
{
  json_t *d = json_object();
  json_object_set_new(d, F_TRANSACTION_ID, json_integer(ev->tx_id));
  json_object_set_new(d, F_ENERGY_WH, json_real(ev->energy_wh));
  json_object_set_new(d, F_METER_WH, json_real(ev->meter_wh));
  return fc_bus_add(w, FC_EV_ENERGY, charger, connector, d, ts_ms, false);
}

fc_op_t *fc_ev_cost(fc_write_t *w, const char *charger, int connector, const fc_ev_cost_t *ev,
                    long long ts_ms)
{
  json_t *d = json_object();
  json_object_set_new(d, F_TRANSACTION_ID, json_integer(ev->tx_id));
  json_object_set_new(d, F_ENERGY_WH, json_real(ev->energy_wh));
  json_object_set_new(d, F_MINUTES, json_real(ev->minutes));
  json_object_set_new(d, F_COST, json_real(ev->cost));
  json_object_set_new(d, F_CURRENCY, json_string(ev->currency ? ev->currency : ""));
  return fc_bus_add(w, FC_EV_COST, charger, connector, d, ts_ms, false);
}

json_t *fc_bus__precharge_json(const fc_ev_precharge_t *ev)
{
  json_t *d = json_object();
  json_object_set_new(d, F_SOC, num_or_null(ev->soc));
  json_object_set_new(d, F_BATTERY_VOLTAGE, num_or_null(ev->battery_voltage));
  json_object_set_new(d, F_BATTERY_CAPACITY_WH, num_or_null(ev->capacity_wh));
  json_object_set_new(d, F_MODEL, ev->model ? json_string(ev->model) : json_null());
  json_object_set_new(d, F_RANGE_KM, num_or_null(ev->range_km));
  json_object_set_new(d, F_SOURCE, json_string(ev->source ? ev->source : ""));
  return d;
}

fc_op_t *fc_ev_precharge(fc_write_t *w, const char *charger, int connector,
                         const fc_ev_precharge_t *ev, long long ts_ms)
{
  return fc_bus_add(w, FC_EV_PRECHARGE, charger, connector, fc_bus__precharge_json(ev), ts_ms,
                    false);
}

fc_op_t *fc_ev_online(fc_write_t *w, const char *charger, bool online, long long ts_ms)
{
  return fc_bus_add(w, online ? FC_EV_ONLINE : FC_EV_OFFLINE, charger, 0, NULL, ts_ms, false);
}

fc_op_t *fc_ev_command(fc_write_t *w, const char *charger, int connector, const fc_ev_command_t *ev,
                       long long ts_ms)
{
  json_t *d = json_object();
  fc_bus__set_str(d, F_COMMAND, ev->command);
  json_object_set_new(d, F_PARAMS, ev->params ? json_incref(ev->params) : json_object());
  fc_bus__set_str(d, F_STATUS, ev->status);
  fc_bus__set_str(d, F_BY, ev->by);
  if (ev->action) {
    fc_bus__set_str(d, F_ACTION, ev->action);
    json_object_set_new(d, F_SENT, json_boolean(ev->sent));
  }
  if (ev->result)
    json_object_set(d, F_RESULT, ev->result);
  else if (ev->error)
    json_object_set(d, F_ERROR, ev->error);
  return fc_bus_add(w, FC_EV_COMMAND, charger, connector, d, ts_ms, false);
}

/* ---- reading ---- */

static const char *get_str(const json_t *o, const char *k)
{
  return json_string_value(json_object_get(o, k));
}

static double get_num(const json_t *o, const char *k)
{
  json_t *v = json_object_get(o, k);
  return json_is_number(v) ? json_number_value(v) : NAN;
}

static double get_num_or(const json_t *o, const char *k, double dflt)
{
  double v = get_num(o, k);
  return isnan(v) ? dflt : v;
}

static void meter_vals_read(const json_t *o, fc_meter_vals_t *vals)
{
  for (int q = 0; q < FC_MQ__COUNT; q++)
    vals->v[q] = get_num(o, fc_bus__meter_q_names[q]);
}

void fc_ev_meter_read(const json_t *data, fc_ev_meter_t *out)
{
  memset(out, 0, sizeof(*out));
  meter_vals_read(data, &out->total);
  json_t *ph = json_object_get(data, F_PHASES);
  out->has_phases = json_is_object(ph);
  for (int p = 0; p < FC_PHASES; p++)
    meter_vals_read(json_object_get(ph, fc_bus__phase_names[p]), &out->phase[p]);
  out->tx_id = json_integer_value(json_object_get(data, F_TRANSACTION_ID));
  out->timestamp = get_str(data, F_TIMESTAMP);
  out->clock_skew = json_is_true(json_object_get(data, F_CLOCK_SKEW));
}

bool fc_ev_read(fc_event_type_t type, const json_t *d, fc_ev_t *out)
{
  memset(out, 0, sizeof(*out));
  out->late = json_is_true(json_object_get(d, F_LATE));
  switch (type) {
  case FC_EV_STATUS: {
    fc_ev_status_t *e = &out->u.status;
    e->status = get_str(d, F_STATUS);
    e->error_code = get_str(d, F_ERROR_CODE);
    e->info = get_str(d, F_INFO);
    e->vendor_id = get_str(d, F_VENDOR_ID);
    e->vendor_error_code = get_str(d, F_VENDOR_ERROR_CODE);
    e->timestamp = get_str(d, F_TIMESTAMP);
    e->clock_skew = json_is_true(json_object_get(d, F_CLOCK_SKEW));
    return true;
  }
  case FC_EV_METER:
    fc_ev_meter_read(d, &out->u.meter);
    return true;
  case FC_EV_TX_STARTED: {
    fc_ev_tx_started_t *e = &out->u.started;
    e->tx_id = json_integer_value(json_object_get(d, F_TRANSACTION_ID));
    e->id_tag = get_str(d, F_ID_TAG);
    e->id_tag_status = get_str(d, F_ID_TAG_STATUS);
    e->started_at = get_str(d, F_STARTED_AT);
    e->meter_start = json_integer_value(json_object_get(d, F_METER_START));
    e->energy_wh = get_num_or(d, F_ENERGY_WH, 0);
    e->meter_wh = get_num_or(d, F_METER_WH, (double)e->meter_start);
    e->target_soc = get_num(d, F_TARGET_SOC);
    return true;
  }
  case FC_EV_TX_STOPPED: {
    fc_ev_tx_stopped_t *e = &out->u.stopped;
    e->tx_id = json_integer_value(json_object_get(d, F_TRANSACTION_ID));
    e->meter_stop = json_integer_value(json_object_get(d, F_METER_STOP));
    e->stopped_at = get_str(d, F_STOPPED_AT);
    e->reason = get_str(d, F_REASON);
    e->energy_wh = get_num(d, F_ENERGY_WH);
    e->minutes = get_num(d, F_MINUTES);
    e->cost = get_num(d, F_COST);
    e->currency = get_str(d, F_CURRENCY);
    e->stopped_by = get_str(d, F_STOPPED_BY);
    e->target_soc = get_num(d, F_TARGET_SOC);
    e->soc_at_stop = get_num(d, F_SOC_AT_STOP);
    return true;
  }
  case FC_EV_ENERGY:
    out->u.energy.tx_id = json_integer_value(json_object_get(d, F_TRANSACTION_ID));
    out->u.energy.energy_wh = get_num(d, F_ENERGY_WH);
    out->u.energy.meter_wh = get_num(d, F_METER_WH);
    return true;
  case FC_EV_COST:
    out->u.cost.tx_id = json_integer_value(json_object_get(d, F_TRANSACTION_ID));
    out->u.cost.energy_wh = get_num(d, F_ENERGY_WH);
    out->u.cost.minutes = get_num(d, F_MINUTES);
    out->u.cost.cost = get_num(d, F_COST);
    out->u.cost.currency = get_str(d, F_CURRENCY);
    return true;
  case FC_EV_PRECHARGE: {
    fc_ev_precharge_t *e = &out->u.precharge;
    e->soc = get_num(d, F_SOC);
    e->battery_voltage = get_num(d, F_BATTERY_VOLTAGE);
    e->capacity_wh = get_num(d, F_BATTERY_CAPACITY_WH);
    e->model = get_str(d, F_MODEL);
    e->range_km = get_num(d, F_RANGE_KM);
    e->source = get_str(d, F_SOURCE);
    return true;
  }
  case FC_EV_ONLINE:
  case FC_EV_OFFLINE:
    return true;
  default:
    return false;
  }
}
