/* flashCharge's rules on top of OCPP: what a meter reading means to a
 * driver (voltage, current, power, energy, state of charge), PreChargeData,
 * vehicle models and range, tariffs and cost.
 *
 * Pure functions on jansson values; loop thread or any thread. */
#ifndef FC_DOMAIN_H
#define FC_DOMAIN_H

#include <jansson.h>
#include <stdbool.h>

/* Summarises one OCPP meterValue ({timestamp, sampledValue:[…]}, borrowed)
 * into a new object with what a dashboard shows, each member present only
 * when the reading has it:
 *   voltage (V; the mean over phases when only per-phase values come),
 *   current (A; likewise the mean over phases), power (W; the sum over phases
 *   when only per-phase values come), energyWh (the import register, Wh),
 *   soc (%), and phases: {"L1":{"voltage":…,"current":…,"power":…},…} when
 *   per-phase values come.
 * kW, kWh and kvar units are converted. Values that are not numbers are
 * skipped. Returns NULL when nothing in it is a known measurand. */
json_t *fc_domain_meter_summary(const json_t *meter_value);

/* Parses an OCPP sampled value string ("11001.31") into *out. */
bool fc_domain_parse_value(const char *s, double *out);

/* ---- vehicle models, PreChargeData, range ----------------------------------- */

typedef struct fc_model {
  char name[33];
  double capacity_wh;
  double km_per_kwh;
} fc_model_t;

/* The table of vehicle models: from the config file's "models" array
 * ([{"name":"Pro","batteryCapacityWh":3700,"kmPerKwh":42},…]) or the
 * defaults (Classic, Pro, Max). */
typedef struct fc_models {
  fc_model_t *v;
  size_t n;
} fc_models_t;

/* Fills *m from cfg_json (the config file, borrowed; may be NULL). Returns 0,
 * or FC_ERR_CONFIG with a message on stderr naming the bad entry. */
int fc_models_load(fc_models_t *m, const json_t *cfg_json);
void fc_models_cleanup(fc_models_t *m);
/* By name (case-insensitive), or NULL. */
const fc_model_t *fc_models_find(const fc_models_t *m, const char *name);
/* The model whose capacity is nearest to capacity_wh, if within 15 % of it;
 * else NULL (an unknown battery is not guessed). */
const fc_model_t *fc_models_nearest(const fc_models_t *m, double capacity_wh);

/* What a PreChargeData message says, parsed and checked. */
typedef struct fc_precharge {
  int connector;          /* 0 when absent */
  double soc;             /* 0..100 */
  double battery_voltage; /* < 0: absent */
  double capacity_wh;     /* < 0: absent */
  char model[33];         /* "": absent */
} fc_precharge_t;

/* Parses PreChargeData's data (a JSON object as text). Returns 0, or
 * FC_ERR_INVAL with *why a static reason ("soc out of range"…). */
int fc_precharge_parse(const char *data, fc_precharge_t *out, const char **why);

/* Range in km = soc/100 × capacity kWh × km/kWh; < 0 when unknown. */
double fc_range_km(double soc, double capacity_wh, double km_per_kwh);

/* The data of a "precharge" event: {soc, batteryVoltage, batteryCapacityWh,
 * model, rangeKm, source}, members null when unknown. model NULL: unknown. */
json_t *fc_precharge_event_data(double soc, double battery_voltage, double capacity_wh,
                                const fc_model_t *model, const char *source);

/* ---- tariffs and cost -------------------------------------------------------- */

/* What charging costs, from the config file's "tariff" object:
 * {"currency":"EUR","perKwh":0.30,"perMinute":0.02,"perSession":0.50}. */
typedef struct fc_tariff {
  char currency[4];                        /* three letters (ISO 4217), "EUR" by default */
  double per_kwh, per_minute, per_session; /* >= 0; 0 by default */
} fc_tariff_t;

/* Fills *t from cfg_json (the config file, borrowed; may be NULL; no
 * "tariff" key: the defaults, so every cost is 0). Returns 0, or
 * FC_ERR_CONFIG with a message on stderr naming the bad member. */
int fc_tariff_load(fc_tariff_t *t, const json_t *cfg_json);

/* cost = perSession + perKwh x energy kWh + perMinute x minutes, rounded to
 * the cent. Negative energy or minutes count as 0. */
double fc_tariff_cost(const fc_tariff_t *t, double energy_wh, double minutes);

/* The data of a "cost" event: {transactionId, energyWh, minutes, cost,
 * currency} (minutes rounded to 0.01). A new object. */
json_t *fc_cost_event_data(const fc_tariff_t *t, long long transaction_id, double energy_wh,
                           double minutes);

#endif
