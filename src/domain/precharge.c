/* PreChargeData, vehicle models and range.
 *
 * A flashCharge charger reports, before charging, what it knows of the
 * vehicle: SoC (required), battery voltage and capacity, and sometimes the
 * model's name. The model is taken from that name when present, else from
 * the nearest capacity in the table; a battery the table does not know
 * stays unknown (null), never a guess presented as fact. */
#include "domain/domain.h"

#include "core/err.h"
#include "core/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const fc_model_t defaults[] = {
    {"Classic", 2000, 45},
    {"Pro", 3700, 42},
    {"Max", 5000, 40},
};

int fc_models_load(fc_models_t *m, const json_t *cfg_json)
{
  json_t *arr = json_object_get(cfg_json, "models");
  memset(m, 0, sizeof(*m));
  if (!arr) {
    m->n = sizeof(defaults) / sizeof(defaults[0]);
    m->v = fc_malloc(sizeof(defaults));
    memcpy(m->v, defaults, sizeof(defaults));
    return 0;
  }
  if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > 1000) {
    fprintf(stderr, "flashcharge: config \"models\": an array of 1 to 1000 models\n");
    return FC_ERR_CONFIG;
  }
  m->v = fc_calloc(json_array_size(arr), sizeof(*m->v));
  size_t i;
  json_t *e;
  json_array_foreach(arr, i, e)
  {
    const char *name = json_string_value(json_object_get(e, "name"));
    json_t *cap = json_object_get(e, "batteryCapacityWh");
    json_t *eff = json_object_get(e, "kmPerKwh");
    if (!name || !*name || strlen(name) > 32 || !json_is_number(cap) || !json_is_number(eff) ||
        json_number_value(cap) <= 0 || json_number_value(eff) <= 0) {
      fprintf(stderr,
              "flashcharge: config \"models\"[%zu]: needs \"name\" (1-32 characters), "
              "\"batteryCapacityWh\" > 0 and \"kmPerKwh\" > 0\n",
              i);
      fc_models_cleanup(m);
      return FC_ERR_CONFIG;
    }
    snprintf(m->v[i].name, sizeof(m->v[i].name), "%s", name);
    m->v[i].capacity_wh = json_number_value(cap);
    m->v[i].km_per_kwh = json_number_value(eff);
    m->n++;
  }
  return 0;
}

void fc_models_cleanup(fc_models_t *m)
{
  FC_FREE(m->v);
  m->n = 0;
}

const fc_model_t *fc_models_find(const fc_models_t *m, const char *name)
{
  for (size_t i = 0; name && i < m->n; i++)
    if (!strcasecmp(m->v[i].name, name)) return &m->v[i];
  return NULL;
}

const fc_model_t *fc_models_nearest(const fc_models_t *m, double capacity_wh)
{
  const fc_model_t *best = NULL;
  double best_d = 0;
  if (!(capacity_wh > 0)) return NULL;
  for (size_t i = 0; i < m->n; i++) {
    double d = fabs(m->v[i].capacity_wh - capacity_wh);
    if (!best || d < best_d) {
      best = &m->v[i];
      best_d = d;
    }
  }
  return best && best_d <= 0.15 * best->capacity_wh ? best : NULL;
}

static int number(json_t *o, const char *key, double min, double max, double *out, const char **why,
                  const char *bad)
{
  json_t *v = json_object_get(o, key);
  if (!v || json_is_null(v)) return 1; /* absent */
  if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < min ||
      json_number_value(v) > max) {
    *why = bad;
    return FC_ERR_INVAL;
  }
  *out = json_number_value(v);
  return 0;
}

int fc_precharge_parse(const char *data, fc_precharge_t *out, const char **why)
{
  int rc = FC_ERR_INVAL;
  memset(out, 0, sizeof(*out));
  out->battery_voltage = out->capacity_wh = -1;
  if (!data) {
    *why = "no data";
    return rc;
  }
  json_t *o = json_loads(data, JSON_REJECT_DUPLICATES, NULL);
  if (!json_is_object(o)) {
    *why = "data is not a JSON object";
    goto out;
  }
  int n = number(o, "soc", 0, 100, &out->soc, why, "soc must be a number from 0 to 100");
  if (n < 0) goto out;
  if (n == 1) {
    *why = "soc is required";
    goto out;
  }
  if (number(o, "batteryVoltage", 0, 2000, &out->battery_voltage, why,
             "batteryVoltage must be a number from 0 to 2000") < 0)
    goto out;
  if (number(o, "batteryCapacityWh", 1e-9, 1e7, &out->capacity_wh, why,
             "batteryCapacityWh must be a positive number") < 0)
    goto out;
  double conn = 0;
  if (number(o, "connectorId", 0, 1000, &conn, why, "connectorId must be 0 to 1000") < 0) goto out;
  if (conn != floor(conn)) {
    *why = "connectorId must be a whole number";
    goto out;
  }
  out->connector = (int)conn;
  json_t *model = json_object_get(o, "model");
  if (model && !json_is_null(model)) {
    const char *s = json_string_value(model);
    if (!s || strlen(s) > 32) {
      *why = "model must be a string of at most 32 characters";
      goto out;
    }
    snprintf(out->model, sizeof(out->model), "%s", s);
  }
  rc = 0;
out:
  json_decref(o);
  return rc;
}

double fc_range_km(double soc, double capacity_wh, double km_per_kwh)
{
  if (!(capacity_wh > 0) || !(km_per_kwh > 0) || soc < 0) return -1;
  return soc / 100.0 * capacity_wh / 1000.0 * km_per_kwh;
}

static json_t *num_or_null(double v)
{
  return v >= 0 ? json_real(round(v * 10.0) / 10.0) : json_null();
}

json_t *fc_precharge_event_data(double soc, double battery_voltage, double capacity_wh,
                                const fc_model_t *model, const char *source)
{
  double cap = capacity_wh > 0 ? capacity_wh : (model ? model->capacity_wh : -1);
  double range = model ? fc_range_km(soc, cap, model->km_per_kwh) : -1;
  return json_pack("{s:o, s:o, s:o, s:o, s:o, s:s}", "soc", num_or_null(soc), "batteryVoltage",
                   num_or_null(battery_voltage), "batteryCapacityWh", num_or_null(cap), "model",
                   model ? json_string(model->name) : json_null(), "rangeKm", num_or_null(range),
                   "source", source);
}
