/* The units a charger takes in charging schedules.
 *
 * A MicroOcpp charger advertises ChargingScheduleAllowedChargingRateUnit
 * (e.g. "Power") and rejects every profile in the other unit. Before a
 * profile is sent, the key is asked for once (GetConfiguration, outside the
 * command log: it is our question, not an operator's) and cached per
 * charger; the answer to any GetConfiguration or ChangeConfiguration command
 * that names the key refreshes it (fc_ocpp__rateunit_note). The cache is
 * asked again after RATEUNIT_TTL_MS, so a charger whose firmware changed is
 * seen. */
#include "ocpp/ocpp_int.h"

#include <string.h>
#include <strings.h>

#define RATEUNIT_KEY "ChargingScheduleAllowedChargingRateUnit"
#define RATEUNIT_TTL_MS (3600ull * 1000)
#define RATEUNIT_ASK_MS 5000

struct fc_rateunit {
  char id[FC_CP_ID_MAX + 1];
  char units[8]; /* "A", "W", "A,W"; "" when the charger does not say */
  uint64_t at_ms;
  UT_hash_handle hh;
};

typedef struct ask {
  fc_ocpp_t *o;
  char charger[FC_CP_ID_MAX + 1];
  fc_ocpp_units_cb cb;
  void *arg;
} ask_t;

/* "Current,Power", "Power", "A", "W"… → "A", "W", "A,W" or "". */
static void normalise(const char *value, char *out, size_t outsz)
{
  bool a = false, w = false;
  char buf[64];
  snprintf(buf, sizeof(buf), "%s", value ? value : "");
  char *save = NULL;
  for (char *t = strtok_r(buf, ", ", &save); t; t = strtok_r(NULL, ", ", &save)) {
    if (!strcasecmp(t, "Current") || !strcasecmp(t, "A")) a = true;
    if (!strcasecmp(t, "Power") || !strcasecmp(t, "W")) w = true;
  }
  snprintf(out, outsz, "%s", a && w ? "A,W" : a ? "A" : w ? "W" : "");
}

static void put(fc_ocpp_t *o, const char *charger, const char *units)
{
  fc_rateunit_t *e = NULL;
  HASH_FIND_STR(o->rateunits, charger, e);
  if (!e) {
    e = fc_calloc(1, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "%s", charger);
    HASH_ADD_STR(o->rateunits, id, e);
  }
  snprintf(e->units, sizeof(e->units), "%s", units);
  e->at_ms = fc_ocpp__now(o);
}

void fc_ocpp__rateunit_note(fc_ocpp_t *o, const char *charger, const char *key, const char *value)
{
  if (!key || strcasecmp(key, RATEUNIT_KEY) != 0) return;
  char units[8];
  normalise(value, units, sizeof(units));
  put(o, charger, units);
}

static void asked(int status, json_t *result, const char *err_code, const char *err_desc, void *arg)
{
  ask_t *a = arg;
  (void)err_code;
  (void)err_desc;
  char units[8] = "";
  if (status == FC_ERR_PROTO) put(a->o, a->charger, units); /* it will not say */
  if (status == 0) {
    size_t i;
    json_t *kv;
    json_array_foreach(json_object_get(result, "configurationKey"), i, kv)
    {
      const char *key = json_string_value(json_object_get(kv, "key"));
      if (key && !strcasecmp(key, RATEUNIT_KEY))
        normalise(json_string_value(json_object_get(kv, "value")), units, sizeof(units));
    }
    put(a->o, a->charger, units); /* an unknown key is an answer too: "" */
  }
  fc_log(FC_LOG_INFO, &(fc_log_ctx_t){.cp = a->charger}, "event=rate_units units=%s err=%s",
         units[0] ? units : "-", status ? fc_err_name(status) : "-");
  a->cb(units, a->arg);
  fc_free(a);
}

void fc_ocpp_rate_units(fc_ocpp_t *o, const char *charger, fc_ocpp_units_cb cb, void *arg)
{
  fc_rateunit_t *e = NULL;
  HASH_FIND_STR(o->rateunits, charger, e);
  if (e && fc_ocpp__now(o) - e->at_ms < RATEUNIT_TTL_MS) {
    cb(e->units, arg);
    return;
  }
  ask_t *a = fc_calloc(1, sizeof(*a));
  a->o = o;
  snprintf(a->charger, sizeof(a->charger), "%s", charger);
  a->cb = cb;
  a->arg = arg;
  json_t *payload = json_pack("{s:[s]}", "key", RATEUNIT_KEY);
  int rc = fc_ocpp_call(o, charger, "GetConfiguration", payload, RATEUNIT_ASK_MS, asked, a);
  json_decref(payload);
  if (rc < 0) {
    cb(e ? e->units : "", arg);
    fc_free(a);
  }
}

void fc_ocpp__rateunit_free(fc_ocpp_t *o)
{
  fc_rateunit_t *e, *tmp;
  HASH_ITER(hh, o->rateunits, e, tmp)
  {
    HASH_DEL(o->rateunits, e);
    fc_free(e);
  }
}
