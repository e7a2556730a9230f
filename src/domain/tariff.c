/* Tariffs and cost.
 *
 * One tariff for the whole site, from the config file: a price per session,
 * per kWh and per minute of charging. The cost of a transaction is recomputed
 * from its energy and its duration each time a meter value arrives, so the
 * driver sees it grow; the final one is stored with the transaction.
 *
 * Costs are rounded to the cent once, at the end: rounding each part first
 * would let the parts disagree with their sum. */
#include "domain/domain.h"

#include "core/err.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

static int price(const json_t *obj, const char *key, double *out)
{
  json_t *v = json_object_get(obj, key);
  if (!v) return 0; /* absent: stays 0 */
  if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < 0) {
    fprintf(stderr, "flashcharge: config \"tariff\".\"%s\": a number >= 0\n", key);
    return FC_ERR_CONFIG;
  }
  *out = json_number_value(v);
  return 0;
}

int fc_tariff_load(fc_tariff_t *t, const json_t *cfg_json)
{
  memset(t, 0, sizeof(*t));
  memcpy(t->currency, "EUR", 4);
  json_t *o = json_object_get(cfg_json, "tariff");
  if (!o) return 0;
  if (!json_is_object(o)) {
    fprintf(stderr, "flashcharge: config \"tariff\": an object such as "
                    "{\"currency\":\"EUR\",\"perKwh\":0.30,\"perMinute\":0.02,"
                    "\"perSession\":0.50}\n");
    return FC_ERR_CONFIG;
  }
  json_t *cur = json_object_get(o, "currency");
  if (cur) {
    const char *s = json_string_value(cur);
    if (!s || strlen(s) != 3 || !isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1]) ||
        !isalpha((unsigned char)s[2])) {
      fprintf(stderr, "flashcharge: config \"tariff\".\"currency\": three letters (\"EUR\")\n");
      return FC_ERR_CONFIG;
    }
    for (int i = 0; i < 3; i++)
      t->currency[i] = (char)toupper((unsigned char)s[i]);
  }
  if (price(o, "perKwh", &t->per_kwh) < 0 || price(o, "perMinute", &t->per_minute) < 0 ||
      price(o, "perSession", &t->per_session) < 0)
    return FC_ERR_CONFIG;
  return 0;
}

double fc_tariff_cost(const fc_tariff_t *t, double energy_wh, double minutes)
{
  double kwh = energy_wh > 0 ? energy_wh / 1000.0 : 0;
  double min = minutes > 0 ? minutes : 0;
  double cost = t->per_session + t->per_kwh * kwh + t->per_minute * min;
  return round(cost * 100.0) / 100.0;
}

json_t *fc_cost_event_data(const fc_tariff_t *t, long long transaction_id, double energy_wh,
                           double minutes)
{
  return json_pack("{s:I, s:f, s:f, s:f, s:s}", "transactionId", (json_int_t)transaction_id,
                   "energyWh", energy_wh, "minutes",
                   round((minutes > 0 ? minutes : 0) * 100.0) / 100.0, "cost",
                   fc_tariff_cost(t, energy_wh, minutes), "currency", t->currency);
}
