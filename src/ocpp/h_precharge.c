/* flashCharge's PreChargeData (DataTransfer vendorId "flashCharge"): what
 * the charger knows of the vehicle before charging. Stored with the
 * DataTransfer, answered Accepted, raised as a "precharge" event (soc,
 * batteryVoltage, batteryCapacityWh, model, rangeKm). Malformed or
 * out-of-range data is answered Rejected with the reason logged.
 *
 * SoC arriving later in MeterValues (measurand SoC) updates soc and range:
 * the meter handler raises another precharge event (source "MeterValues"). */
#include "ocpp/ocpp_int.h"

#include <assert.h>
#include <math.h>
#include <string.h>

/* A figure as the event shows it: to 0.1, null (NAN) when unknown (< 0). */
static double tenth(double v)
{
  return v >= 0 ? round(v * 10.0) / 10.0 : NAN;
}

static fc_op_t *add_event(fc_write_t *w, const char *charger, fc_cpconn_t *k, double soc,
                          const char *source, long long ts_ms)
{
  const fc_model_t *m = k->pc_model.name[0] || k->pc_model.km_per_kwh > 0 ? &k->pc_model : NULL;
  double cap = k->pc_capacity_wh > 0 ? k->pc_capacity_wh : (m ? m->capacity_wh : -1);
  fc_ev_precharge_t ev = {
      .soc = tenth(soc),
      .battery_voltage = tenth(k->pc_voltage),
      .capacity_wh = tenth(cap),
      .range_km = tenth(m ? fc_range_km(soc, cap, m->km_per_kwh) : -1),
      .model = m && m->name[0] ? m->name : NULL,
      .source = source,
  };
  return fc_ev_precharge(w, charger, k->id, &ev, ts_ms);
}

static const char *precharge(const char *charger, const char *data, fc_write_t *w, char **data_out,
                             void *arg)
{
  fc_ocpp_t *o = arg;
  fc_precharge_t pc;
  const char *why;
  fc_log_ctx_t ctx = {.cp = charger};
  (void)data_out;
  if (fc_precharge_parse(data, &pc, &why) < 0) {
    fc_log(FC_LOG_WARN, &ctx, "event=precharge_rejected reason=\"%s\"", why);
    return "Rejected";
  }
  json_t *conn = json_integer(pc.connector);
  bool ok = fc_ocpp__connector_ok(o, charger, conn, &pc.connector);
  json_decref(conn);
  if (!ok) return "Rejected"; /* counted and logged there */
  /* the vehicle is known once the DataTransfer that reports it committed */
  fc_call_t *c = o->dt_call;
  assert(c && !strcmp(c->s->id, charger));
  fc_cpconn_t *k = fc_ocpp__stage(c, pc.connector);
  const fc_model_t *m = pc.model[0] ? fc_models_find(&o->models, pc.model)
                                    : fc_models_nearest(&o->models, pc.capacity_wh);
  memset(&k->pc_model, 0, sizeof(k->pc_model));
  if (m) {
    k->pc_model = *m;
  } else if (pc.model[0]) {
    /* A model the table does not know: its name, but no efficiency. */
    snprintf(k->pc_model.name, sizeof(k->pc_model.name), "%s", pc.model);
  }
  k->pc_known = true;
  k->pc_capacity_wh = pc.capacity_wh;
  k->pc_voltage = pc.battery_voltage;
  add_event(w, charger, k, pc.soc, "PreChargeData", fc_wall_ms());
  fc_ocpp__stage_soc(c, pc.connector, pc.soc);
  char model[FC_LOG_ESC_MAX];
  fc_log(FC_LOG_INFO, &ctx, "event=precharge connector=%d soc=%.1f model=\"%s\"", pc.connector,
         pc.soc,
         fc_log_esc(k->pc_model.name[0] ? k->pc_model.name : "unknown", model, sizeof(model)));
  return "Accepted";
}

void fc_ocpp__precharge_register(fc_ocpp_t *o)
{
  fc_ocpp_on_datatransfer(o, "flashCharge", "PreChargeData", precharge, o);
}

void fc_ocpp__precharge_soc(fc_ocpp_t *o, fc_write_t *w, const char *charger, fc_cpconn_t *k,
                            double soc, long long ts_ms)
{
  (void)o;
  if (!k->pc_known) return;
  add_event(w, charger, k, soc, "MeterValues", ts_ms)->event.skip_repeat = true;
}
