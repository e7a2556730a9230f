/* Remote commands over REST:
 *
 *   POST /api/chargers/{id}/start          {connectorId?, idTag, maxCurrentA?, targetSoc?}
 *   POST /api/chargers/{id}/stop           {transactionId?, connectorId?}
 *   POST /api/chargers/{id}/limit          {maxCurrentA | maxPowerW, connectorId?}
 *   POST /api/chargers/{id}/reset          {type: Soft|Hard}
 *   POST /api/chargers/{id}/unlock         {connectorId}
 *   POST /api/chargers/{id}/trigger        {requestedMessage, connectorId?}
 *   GET  /api/chargers/{id}/configuration  ?key=a,b
 *   PUT  /api/chargers/{id}/configuration  {key, value}
 *   POST /api/chargers/{id}/target-soc     {targetSoc, connectorId?}
 *   POST /api/chargers/{id}/availability   {type: Operative|Inoperative, connectorId? (0)}
 *   POST /api/chargers/{id}/clear-cache    {}
 *   POST /api/chargers/{id}/data-transfer  {vendorId, messageId?, data?}   (admin)
 *
 * Role operator or admin (data-transfer: admin), and the charger among the
 * token's. Each builds the
 * OCPP request, checks it against the action's schema before anything is
 * sent (400 with the reason), and waits for the charger's answer, which it
 * returns faithfully: 200 {"status","result"} whatever the charger said
 * (Rejected included), 502 for a CALLERROR or an answer that violates the
 * schema (its code and description) and for a call that was sent when the
 * connection closed before the answer ("no_answer", "sent": true), 504 when
 * no answer came in time, 409 when the charger is offline or the call was
 * still queued when it went (never sent), or there is no transaction to act
 * on.
 *
 * Charging profiles: the limits are sent as TxProfile, kind Relative (the
 * schedule runs from the transaction's start, so no clock of the charger's
 * matters), one period from 0, under a chargingProfileId fixed per connector
 * (100 + connector) at stack level 1: a new limit replaces the previous one
 * instead of stacking up beside it. */
#include "core/json.h"
#include "api/api_int.h"
#include "bus/model.h"

#include "core/datetime.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/time.h"
#include "log/log.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROFILE_ID_BASE 100
#define PROFILE_STACK_LEVEL 1

/* A command being built: what to send, what to record. */
typedef struct build {
  fc_req_t *r;
  const char *charger;
  json_t *body;    /* the request's JSON object (borrowed) */
  json_t *payload; /* the OCPP request (owned) */
  json_t *params;  /* what the record shows (owned) */
  /* start with targetSoc: the target waits on this connector */
  int target_connector;
  double target_soc;
  /* why the request is refused: status and error (static strings, or why) */
  unsigned status;
  char why[192];
  const char *error, *detail;
} build_t;

typedef bool (*build_fn)(build_t *b);

static bool refuse(build_t *b, unsigned status, const char *error, const char *detail)
{
  b->status = status;
  b->error = error;
  b->detail = detail;
  return false;
}

static bool bad(build_t *b, const char *detail)
{
  return refuse(b, 400, "bad_request", detail);
}

/* An optional positive whole number member (connectorId, transactionId):
 * 0 when absent; false (after refusing) when it is not one. */
static bool opt_int(build_t *b, const char *key, long long *out, const char *detail)
{
  json_t *v = json_object_get(b->body, key);
  *out = 0;
  if (!v || json_is_null(v)) return true;
  if (!fc_json_int_value(v, out) || *out < 0) return bad(b, detail);
  return true;
}

/* An optional number member > 0 (and <= max): 0 when absent. */
static bool opt_num(build_t *b, const char *key, double max, double *out, const char *detail)
{
  json_t *v = json_object_get(b->body, key);
  *out = 0;
  if (!v || json_is_null(v)) return true;
  if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) <= 0 ||
      json_number_value(v) > max)
    return bad(b, detail);
  *out = json_number_value(v);
  return true;
}

/* Copies body[key] into the payload as it is, when present: the schema
 * check then judges it. */
static void pass(build_t *b, const char *key)
{
  json_t *v = json_object_get(b->body, key);
  if (v) json_object_set(b->payload, key, v);
}

static json_t *tx_profile(int connector, int64_t tx, const char *unit, double limit)
{
  json_t *p = json_pack("{s:i, s:i, s:s, s:s, s:{s:s, s:[{s:i, s:f}]}}", "chargingProfileId",
                        PROFILE_ID_BASE + connector, "stackLevel", PROFILE_STACK_LEVEL,
                        "chargingProfilePurpose", "TxProfile", "chargingProfileKind", "Relative",
                        "chargingSchedule", "chargingRateUnit", unit, "chargingSchedulePeriod",
                        "startPeriod", 0, "limit", round(limit * 10.0) / 10.0);
  if (tx) json_object_set_new(p, "transactionId", json_integer(tx));
  return p;
}

/* The running transaction (given, or the connector's, or the only one). */
static bool running(build_t *b, long long *connector, int64_t *tx)
{
  int c = 0;
  const fc_api_peers_t *pe = &b->r->a->peers;
  int rc = pe->running_tx(pe->chargers, b->charger, (int)*connector, &c, tx);
  if (rc == FC_ERR_INVAL) return bad(b, "several transactions are running: name the connectorId");
  if (rc < 0) return refuse(b, 409, "no_transaction", "no transaction is running there");
  *connector = c;
  return true;
}

static bool b_start(build_t *b)
{
  long long connector;
  double amps, soc;
  json_t *tag = json_object_get(b->body, "idTag");
  if (!opt_int(b, "connectorId", &connector, "connectorId: a connector number") ||
      !opt_num(b, "maxCurrentA", 10000, &amps, "maxCurrentA: a number of amperes > 0") ||
      !opt_num(b, "targetSoc", 100, &soc, "targetSoc: a number > 0 and <= 100"))
    return false;
  if (json_object_get(b->body, "connectorId") && connector < 1)
    return bad(b, "connectorId: 1 or more (leave it out to let the charger choose)");
  if (!json_is_string(tag)) return bad(b, "idTag: required, a string");
  if (soc > 0 && connector < 1)
    return bad(b, "connectorId: required with targetSoc (the target waits on that connector)");
  if (connector) json_object_set_new(b->payload, "connectorId", json_integer(connector));
  pass(b, "idTag");
  if (amps > 0)
    json_object_set_new(b->payload, "chargingProfile", tx_profile((int)connector, 0, "A", amps));
  char masked[32];
  b->params =
      json_pack("{s:s}", "idTag", fc_log_mask(json_string_value(tag), masked, sizeof(masked)));
  if (connector) json_object_set_new(b->params, "connectorId", json_integer(connector));
  if (amps > 0) json_object_set_new(b->params, "maxCurrentA", json_real(amps));
  if (soc > 0) {
    json_object_set_new(b->params, "targetSoc", json_real(soc));
    b->target_connector = (int)connector;
    b->target_soc = soc;
  }
  return true;
}

static bool b_stop(build_t *b)
{
  long long connector, tx;
  if (!opt_int(b, "transactionId", &tx, "transactionId: a transaction id") ||
      !opt_int(b, "connectorId", &connector, "connectorId: a connector number"))
    return false;
  if (!tx) {
    int64_t running_tx;
    if (!running(b, &connector, &running_tx)) return false;
    tx = running_tx;
  }
  json_object_set_new(b->payload, "transactionId", json_integer(tx));
  b->params = json_pack("{s:I}", "transactionId", (json_int_t)tx);
  if (connector) json_object_set_new(b->params, "connectorId", json_integer(connector));
  return true;
}

static bool b_limit(build_t *b)
{
  long long connector;
  double amps, watts;
  int64_t tx;
  if (!opt_int(b, "connectorId", &connector, "connectorId: a connector number") ||
      !opt_num(b, "maxCurrentA", 10000, &amps, "maxCurrentA: a number of amperes > 0") ||
      !opt_num(b, "maxPowerW", 1e7, &watts, "maxPowerW: a number of watts > 0"))
    return false;
  if ((amps > 0) == (watts > 0)) return bad(b, "give one of maxCurrentA and maxPowerW");
  if (!running(b, &connector, &tx)) return false;
  json_object_set_new(b->payload, "connectorId", json_integer(connector));
  json_object_set_new(
      b->payload, "csChargingProfiles",
      tx_profile((int)connector, tx, amps > 0 ? "A" : "W", amps > 0 ? amps : watts));
  b->params = json_pack("{s:I, s:I}", "connectorId", (json_int_t)connector, "transactionId",
                        (json_int_t)tx);
  json_object_set_new(b->params, amps > 0 ? "maxCurrentA" : "maxPowerW",
                      json_real(amps > 0 ? amps : watts));
  return true;
}

/* Commands whose request is the body's members as they are. */
static bool b_copy(build_t *b, const char *const *keys)
{
  for (size_t i = 0; keys[i]; i++)
    pass(b, keys[i]);
  b->params = json_deep_copy(b->payload);
  return true;
}

static bool b_reset(build_t *b)
{
  static const char *const keys[] = {"type", NULL};
  return b_copy(b, keys);
}

static bool b_unlock(build_t *b)
{
  static const char *const keys[] = {"connectorId", NULL};
  return b_copy(b, keys);
}

static bool b_trigger(build_t *b)
{
  static const char *const keys[] = {"requestedMessage", "connectorId", NULL};
  return b_copy(b, keys);
}

static bool b_get_configuration(build_t *b)
{
  /* A buffer that holds every query argument (lws gives up at one that
   * does not fit, and a token may come before key=). */
  int total = b->r->wsi ? lws_hdr_total_length(b->r->wsi, WSI_TOKEN_HTTP_URI_ARGS) : 0;
  char *buf = fc_malloc(total > 0 ? (size_t)total + 1 : 1);
  const char *v = total > 0 ? lws_get_urlarg_by_name(b->r->wsi, "key=", buf, total + 1) : NULL;
  if (v && *v) {
    json_t *keys = json_array();
    char *save = NULL, *copy = fc_strdup(v);
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
      if (*t) json_array_append_new(keys, json_string(t));
    fc_free(copy);
    json_object_set_new(b->payload, "key", keys);
  }
  b->params = json_deep_copy(b->payload);
  fc_free(buf);
  return true;
}

static bool b_change_configuration(build_t *b)
{
  static const char *const keys[] = {"key", "value", NULL};
  b_copy(b, keys);
  /* the charger's own credential is never stored or shown */
  const char *key = json_string_value(json_object_get(b->params, "key"));
  if (key && !strcasecmp(key, "AuthorizationKey") && json_object_get(b->params, "value"))
    json_object_set_new(b->params, "value", json_string("***"));
  return true;
}

/* ChangeAvailability: connector 0 (the whole charger) unless named. */
static bool b_availability(build_t *b)
{
  long long connector;
  if (!opt_int(b, "connectorId", &connector, "connectorId: 0 (the whole charger) or a connector"))
    return false;
  json_object_set_new(b->payload, "connectorId", json_integer(connector));
  pass(b, "type");
  b->params = json_deep_copy(b->payload);
  return true;
}

static bool b_clear_cache(build_t *b)
{
  static const char *const keys[] = {NULL};
  return b_copy(b, keys);
}

static bool b_data_transfer(build_t *b)
{
  static const char *const keys[] = {"vendorId", "messageId", "data", NULL};
  if (!json_is_string(json_object_get(b->body, "vendorId")))
    return bad(b, "vendorId: required, a string");
  return b_copy(b, keys);
}

/* ---- smart charging ---- */

/* Whether the charger has reported connector (its snapshot lists it);
 * connector 0 is the charger itself. */
static bool connector_known(build_t *b, long long connector)
{
  if (connector == 0) return true;
  if (connector > INT_MAX) return false;
  return fc_model_connector(fc_bus_state(b->r->a->bus, b->charger), (int)connector) != NULL;
}

/* A date-time member: absent (0) or RFC 3339 (its ms in *out). */
static bool opt_time(build_t *b, json_t *o, const char *key, long long *out, const char *detail)
{
  json_t *v = json_object_get(o, key);
  *out = 0;
  if (!v) return true;
  if (!json_is_string(v) || fc_datetime_parse(json_string_value(v), out) < 0) return bad(b, detail);
  return true;
}

/* What the schema cannot say about a profile for connector: the rules of
 * OCPP 1.6 §3.13 and §5.16, each refusal naming its field. */
static bool check_profile(build_t *b, json_t *prof, long long connector)
{
  const char *purpose = json_string_value(json_object_get(prof, "chargingProfilePurpose"));
  const char *kind = json_string_value(json_object_get(prof, "chargingProfileKind"));
  json_t *sched = json_object_get(prof, "chargingSchedule");
  json_t *periods = json_object_get(sched, "chargingSchedulePeriod");
  long long from, to, start;
  if (!purpose || !kind || !json_is_array(periods)) return true; /* the schema says it */
  if (json_integer_value(json_object_get(prof, "stackLevel")) < 0)
    return bad(b, "csChargingProfiles.stackLevel: 0 or more");
  if (!strcmp(purpose, "ChargePointMaxProfile") && connector != 0)
    return bad(b, "connectorId: a ChargePointMaxProfile is set on connector 0");
  if (!strcmp(purpose, "TxProfile") && connector == 0)
    return bad(b, "connectorId: a TxProfile is set on the connector of its transaction, not 0");
  if (json_object_get(prof, "transactionId") && strcmp(purpose, "TxProfile") != 0)
    return bad(b, "csChargingProfiles.transactionId: only a TxProfile names a transaction");
  bool recurring = !strcmp(kind, "Recurring");
  if (recurring != (json_object_get(prof, "recurrencyKind") != NULL))
    return bad(b, recurring ? "csChargingProfiles.recurrencyKind: required with kind Recurring"
                            : "csChargingProfiles.recurrencyKind: only with kind Recurring");
  if (!opt_time(b, prof, "validFrom", &from, "csChargingProfiles.validFrom: a date-time") ||
      !opt_time(b, prof, "validTo", &to, "csChargingProfiles.validTo: a date-time") ||
      !opt_time(b, sched, "startSchedule", &start,
                "csChargingProfiles.chargingSchedule.startSchedule: a date-time"))
    return false;
  if (from && to && to <= from) return bad(b, "csChargingProfiles.validTo: after validFrom");
  if (to && to <= fc_wall_ms()) return bad(b, "csChargingProfiles.validTo: in the future");
  bool relative = !strcmp(kind, "Relative");
  if (!relative && !start)
    return bad(b, "csChargingProfiles.chargingSchedule.startSchedule: required with kind "
                  "Absolute or Recurring");
  if (relative && start)
    return bad(b, "csChargingProfiles.chargingSchedule.startSchedule: not with kind Relative");
  size_t i;
  json_t *per;
  long long prev = -1;
  if (json_array_size(periods) == 0)
    return bad(b, "csChargingProfiles.chargingSchedule.chargingSchedulePeriod: at least one");
  json_array_foreach(periods, i, per)
  {
    long long sp = json_integer_value(json_object_get(per, "startPeriod"));
    json_t *lim = json_object_get(per, "limit");
    if (i == 0 && sp != 0)
      return bad(b, "csChargingProfiles.chargingSchedule.chargingSchedulePeriod[0].startPeriod: "
                    "0 (the schedule starts with its first period)");
    if (sp <= prev)
      return bad(b, "csChargingProfiles.chargingSchedule.chargingSchedulePeriod.startPeriod: "
                    "increasing");
    prev = sp;
    if (json_is_number(lim) && json_number_value(lim) < 0)
      return bad(b, "csChargingProfiles.chargingSchedule.chargingSchedulePeriod.limit: 0 or more");
    json_t *ph = json_object_get(per, "numberPhases");
    if (ph && (!json_is_integer(ph) || json_integer_value(ph) < 1 || json_integer_value(ph) > 3))
      return bad(b, "csChargingProfiles.chargingSchedule.chargingSchedulePeriod.numberPhases: "
                    "1, 2 or 3");
  }
  json_t *dur = json_object_get(sched, "duration");
  if (dur && json_is_integer(dur) && json_integer_value(dur) <= prev)
    return bad(b, "csChargingProfiles.chargingSchedule.duration: longer than the last "
                  "period's start");
  return true;
}

/* POST …/charging-profile {connectorId, csChargingProfiles}: SetChargingProfile. */
static bool b_charging_profile(build_t *b)
{
  json_t *conn = json_object_get(b->body, "connectorId");
  json_t *prof = json_object_get(b->body, "csChargingProfiles");
  long long connector;
  if (!json_is_integer(conn) || (connector = json_integer_value(conn)) < 0)
    return bad(b, "connectorId: required, 0 (the charger) or a connector");
  if (!json_is_object(prof)) return bad(b, "csChargingProfiles: required, a charging profile");
  json_object_set(b->payload, "connectorId", conn);
  json_object_set(b->payload, "csChargingProfiles", prof);
  /* the schema first: the rules below read members it vouched for */
  if (b->r->a->peers.check_request("SetChargingProfile", b->payload, b->why, sizeof(b->why)) < 0)
    return bad(b, b->why);
  if (!check_profile(b, prof, connector)) return false;
  if (!connector_known(b, connector))
    return bad(b, "connectorId: the charger has not reported this connector");
  const char *purpose = json_string_value(json_object_get(prof, "chargingProfilePurpose"));
  if (purpose && !strcmp(purpose, "TxProfile")) {
    int c = 0;
    int64_t tx;
    if (b->r->a->peers.running_tx(b->r->a->peers.chargers, b->charger, (int)connector, &c, &tx) < 0)
      return refuse(b, 409, "no_transaction",
                    "a TxProfile needs a transaction running on that connector");
  }
  b->params = json_deep_copy(b->payload);
  return true;
}

/* POST …/clear-charging-profile {id?, connectorId?, chargingProfilePurpose?, stackLevel?} */
static bool b_clear_charging_profile(build_t *b)
{
  static const char *const keys[] = {"id", "connectorId", "chargingProfilePurpose", "stackLevel",
                                     NULL};
  long long connector;
  if (!opt_int(b, "connectorId", &connector, "connectorId: 0 (the charger) or a connector"))
    return false;
  if (json_object_get(b->body, "connectorId") && !connector_known(b, connector))
    return bad(b, "connectorId: the charger has not reported this connector");
  return b_copy(b, keys);
}

/* POST …/composite-schedule {connectorId, duration, chargingRateUnit?} */
static bool b_composite_schedule(build_t *b)
{
  static const char *const keys[] = {"connectorId", "duration", "chargingRateUnit", NULL};
  long long connector;
  if (!opt_int(b, "connectorId", &connector, "connectorId: 0 (the charger) or a connector"))
    return false;
  if (!connector_known(b, connector))
    return bad(b, "connectorId: the charger has not reported this connector");
  return b_copy(b, keys);
}

typedef struct verb {
  const char *name;
  fc_method_t method;
  const char *action; /* NULL: no call (target-soc) */
  build_fn build;
  fc_role_t role; /* the least role allowed */
} verb_t;

static const verb_t verbs[] = {
    {"start", FC_HTTP_POST, "RemoteStartTransaction", b_start, FC_ROLE_OPERATOR},
    {"stop", FC_HTTP_POST, "RemoteStopTransaction", b_stop, FC_ROLE_OPERATOR},
    {"limit", FC_HTTP_POST, "SetChargingProfile", b_limit, FC_ROLE_OPERATOR},
    {"reset", FC_HTTP_POST, "Reset", b_reset, FC_ROLE_OPERATOR},
    {"unlock", FC_HTTP_POST, "UnlockConnector", b_unlock, FC_ROLE_OPERATOR},
    {"trigger", FC_HTTP_POST, "TriggerMessage", b_trigger, FC_ROLE_OPERATOR},
    {"configuration", FC_HTTP_GET, "GetConfiguration", b_get_configuration, FC_ROLE_OPERATOR},
    {"configuration", FC_HTTP_PUT, "ChangeConfiguration", b_change_configuration, FC_ROLE_OPERATOR},
    {"target-soc", FC_HTTP_POST, NULL, NULL, FC_ROLE_OPERATOR},
    {"availability", FC_HTTP_POST, "ChangeAvailability", b_availability, FC_ROLE_OPERATOR},
    {"clear-cache", FC_HTTP_POST, "ClearCache", b_clear_cache, FC_ROLE_OPERATOR},
    /* vendor-specific: what it does is the vendor's, so admins only */
    {"data-transfer", FC_HTTP_POST, "DataTransfer", b_data_transfer, FC_ROLE_ADMIN},
    {"charging-profile", FC_HTTP_POST, "SetChargingProfile", b_charging_profile, FC_ROLE_OPERATOR},
    {"clear-charging-profile", FC_HTTP_POST, "ClearChargingProfile", b_clear_charging_profile,
     FC_ROLE_OPERATOR},
    {"composite-schedule", FC_HTTP_POST, "GetCompositeSchedule", b_composite_schedule,
     FC_ROLE_OPERATOR},
};

bool fc_api__is_command(const char *verb)
{
  for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++)
    if (!strcmp(verbs[i].name, verb)) return true;
  return false;
}

/* ---- answers ---- */

typedef struct pending {
  fc_req_t *r;
  char charger[64];
  int target_connector;
  /* until sent: the command (verb and action static; payload, params owned) */
  const char *verb, *action;
  json_t *payload, *params;
  json_t *converted; /* owned, or NULL: how a profile's unit was converted */
} pending_t;

static void respond_json(fc_req_t *r, unsigned status, json_t *o)
{
  char *text = json_dumps(o, FC_JSON_DUMP);
  json_decref(o);
  fc_api__respond_owned(r, status, "application/json", text, strlen(text));
}

static void answered(const fc_api_outcome_t *out, void *arg)
{
  pending_t *p = arg;
  fc_req_t *r = p->r;
  /* a target that waited for this start: only an accepted start keeps it */
  if (p->target_connector && !(out->status == 0 && !strcmp(out->state, "Accepted"))) {
    int c;
    int64_t tx;
    r->a->peers.target_soc(r->a->peers.chargers, p->charger, p->target_connector, 0, true, &c, &tx);
  }
  char detail[256];
  switch (out->status) {
  case 0: {
    json_t *o = json_pack("{s:s, s:O}", "status", out->state, "result",
                          out->result ? out->result : json_null());
    if (p->converted) json_object_set(o, "converted", p->converted);
    respond_json(r, 200, o);
    break;
  }
  case FC_ERR_OFFLINE:
    fc_api__error(r, 409, "offline", "the charger is not connected");
    break;
  case FC_ERR_TIMEOUT:
    snprintf(detail, sizeof(detail), "the charger did not answer within %u ms", out->timeout_ms);
    fc_api__error(r, 504, "timeout", detail);
    break;
  case FC_ERR_PROTO:
    snprintf(detail, sizeof(detail), "%s: %s", out->err_code ? out->err_code : "?",
             out->err_desc ? out->err_desc : "");
    respond_json(r, 502,
                 json_pack("{s:s, s:s, s:s?, s:s?}", "error", "charger_error", "detail", detail,
                           "code", out->err_code, "description", out->err_desc));
    break;
  case FC_ERR_NOANSWER:
    respond_json(r, 502,
                 json_pack("{s:s, s:s, s:b}", "error", "no_answer", "detail",
                           "the call was sent, then the charger's connection closed before it "
                           "answered",
                           "sent", 1));
    break;
  case FC_ERR_BUSY:
    fc_api__error(r, 503, "busy", "too many commands are queued for this charger");
    break;
  default:
    fc_api__error(r, 503, "unavailable", "the server is shutting down");
  }
  fc_api__req_unref(r);
  json_decref(p->converted);
  fc_free(p);
}

/* ---- charging profiles in the unit the charger takes ----
 *
 * A charger that takes only W (MicroOcpp with
 * ChargingScheduleAllowedChargingRateUnit = Power) rejects a profile in A,
 * and the other way round: such a profile is converted before it is sent,
 * with the charger's voltage (the connector's latest meter value, else 230 V
 * per phase) and each period's numberPhases (else the phases its meter
 * values report, else 3, OCPP's default), and the command says so
 * ("converted" in its params and in the REST answer). */

#define DEFAULT_VOLTS 230.0

static json_t *profile_of(json_t *payload)
{
  json_t *p = json_object_get(payload, "csChargingProfiles");
  return p ? p : json_object_get(payload, "chargingProfile");
}

/* The connector's voltage per phase and its number of phases, from its
 * latest meter value in the snapshot (connector 0: the first that has one). */
static void electrical(fc_api_t *a, const char *charger, long long connector, double *volts,
                       int *phases)
{
  *volts = DEFAULT_VOLTS;
  *phases = 3;
  const fc_charger_state_t *st = fc_bus_state(a->bus, charger);
  for (size_t i = 0; st && i < st->n; i++) {
    const fc_connector_state_t *cs = &st->conns[i];
    if (connector && cs->id != connector) continue;
    const fc_meter_state_t *m = &cs->meter;
    double v = m->present ? m->total.v[FC_MQ_VOLTAGE] : NAN;
    if (!(v >= 100 && v <= 500)) continue; /* none, or not a per-phase AC voltage */
    *volts = v;
    int n = 0;
    for (int p = 0; m->has_phases && p < FC_PHASES; p++) {
      for (int q = 0; q < FC_MQ__COUNT; q++) {
        if (!isnan(m->phase[p].v[q])) {
          n++;
          break;
        }
      }
    }
    if (n >= 1) *phases = n;
    return;
  }
}

static double converted_value(double v, bool to_w, double volts, int phases)
{
  double x = to_w ? v * volts * phases : v / (volts * phases);
  return round(x * 10.0) / 10.0;
}

/* Converts prof's schedule to unit ("A" or "W"); returns what was done. */
static json_t *convert_profile(json_t *prof, const char *unit, double volts, int phases)
{
  json_t *sched = json_object_get(prof, "chargingSchedule");
  const char *from = json_string_value(json_object_get(sched, "chargingRateUnit"));
  bool to_w = !strcmp(unit, "W");
  json_t *per;
  size_t i;
  json_array_foreach(json_object_get(sched, "chargingSchedulePeriod"), i, per)
  {
    json_t *ph = json_object_get(per, "numberPhases");
    int n = json_is_integer(ph) ? (int)json_integer_value(ph) : phases;
    double lim = json_number_value(json_object_get(per, "limit"));
    json_object_set_new(per, "limit", json_real(converted_value(lim, to_w, volts, n)));
  }
  json_t *min = json_object_get(sched, "minChargingRate");
  if (json_is_number(min))
    json_object_set_new(sched, "minChargingRate",
                        json_real(converted_value(json_number_value(min), to_w, volts, phases)));
  json_t *done =
      json_pack("{s:s, s:s, s:f, s:i, s:s}", "from", from ? from : "", "to", unit, "voltage", volts,
                "phases", phases, "because",
                to_w ? "the charger takes W only (ChargingScheduleAllowedChargingRateUnit)"
                     : "the charger takes A only (ChargingScheduleAllowedChargingRateUnit)");
  json_object_set_new(sched, "chargingRateUnit", json_string(unit));
  return done;
}

static void send_pending(pending_t *p)
{
  fc_req_t *r = p->r;
  json_t *payload = p->payload, *params = p->params;
  p->payload = p->params = NULL;
  /* p may be freed before this returns (an offline charger is answered at once) */
  const fc_api_peers_t *pe = &r->a->peers;
  pe->command(pe->chargers, p->charger, p->verb, p->action, payload, params, r->who.sub, answered,
              p);
  json_decref(payload);
  json_decref(params);
}

static void units_known(const char *units, void *arg)
{
  pending_t *p = arg;
  json_t *prof = profile_of(p->payload);
  const char *unit = json_string_value(
      json_object_get(json_object_get(prof, "chargingSchedule"), "chargingRateUnit"));
  if (unit && units[0] && !strstr(units, unit)) {
    long long connector = json_integer_value(json_object_get(p->payload, "connectorId"));
    double volts;
    int phases;
    electrical(p->r->a, p->charger, connector, &volts, &phases);
    p->converted = convert_profile(prof, units, volts, phases);
    json_object_set(p->params, "converted", p->converted);
  }
  send_pending(p);
}

/* POST …/target-soc: no call, the rule is ours (ocpp/target_soc.c). */
static void target_soc(fc_req_t *r, const char *charger, json_t *body)
{
  build_t b = {.r = r, .charger = charger, .body = body};
  long long connector;
  double soc;
  if (!opt_int(&b, "connectorId", &connector, "connectorId: a connector number") ||
      !opt_num(&b, "targetSoc", 100, &soc, "targetSoc: a number > 0 and <= 100")) {
    fc_api__error(r, b.status, b.error, b.detail);
    return;
  }
  if (soc <= 0) {
    fc_api__error(r, 400, "bad_request", "targetSoc: required, a number > 0 and <= 100");
    return;
  }
  int c;
  int64_t tx;
  const fc_api_peers_t *pe = &r->a->peers;
  int rc = pe->target_soc(pe->chargers, charger, (int)connector, soc, false, &c, &tx);
  if (rc == FC_ERR_INVAL) {
    fc_api__error(r, 400, "bad_request", "several transactions are running: name the connectorId");
    return;
  }
  if (rc < 0) {
    fc_api__error(r, 409, "no_transaction", "no transaction is running: name the connectorId");
    return;
  }
  json_t *params = json_pack("{s:i, s:f}", "connectorId", c, "targetSoc", soc);
  json_t *result = json_pack("{s:i, s:o, s:f}", "connectorId", c, "transactionId",
                             tx ? json_integer(tx) : json_null(), "targetSoc", soc);
  pending_t *p = fc_calloc(1, sizeof(*p));
  p->r = r;
  r->refs++;
  pe->command_local(pe->chargers, charger, "target-soc", params, r->who.sub, "Accepted", result,
                    answered, p);
  json_decref(params);
  json_decref(result);
}

void fc_api__command(fc_req_t *r, const char *charger, const char *verb)
{
  const verb_t *v = NULL;
  bool other_method = false;
  for (size_t i = 0; i < sizeof(verbs) / sizeof(verbs[0]); i++) {
    if (strcmp(verbs[i].name, verb) != 0) continue;
    if (verbs[i].method == r->method)
      v = &verbs[i];
    else
      other_method = true;
  }
  if (!v) {
    fc_api__error(r, other_method ? 405 : 404, other_method ? "method_not_allowed" : "not_found",
                  other_method ? "this command takes another method" : "no such resource");
    return;
  }
  if (r->who.role < v->role) {
    fc_api__error(r, 403, "forbidden",
                  v->role == FC_ROLE_ADMIN ? "this command needs the admin role"
                                           : "commands need the operator role");
    return;
  }
  if (!fc_principal_may_see(&r->who, charger)) {
    fc_api__error(r, 403, "forbidden", "the token does not grant this charger");
    return;
  }
  if (strlen(charger) > 48) {
    fc_api__error(r, 404, "not_found", "no such charger");
    return;
  }
  json_error_t jerr;
  json_t *body =
      r->in_len ? json_loadb(r->in, r->in_len, JSON_REJECT_DUPLICATES, &jerr) : json_object();
  if (!json_is_object(body)) {
    json_decref(body);
    fc_api__error(r, 400, "bad_request", "the body must be a JSON object");
    return;
  }
  if (!v->action) {
    target_soc(r, charger, body);
    json_decref(body);
    return;
  }

  const fc_api_peers_t *pe = &r->a->peers;
  build_t b = {.r = r, .charger = charger, .body = body, .payload = json_object()};
  char why[192];
  if (!v->build(&b)) {
    fc_api__error(r, b.status, b.error, b.detail);
    goto out;
  }
  if (pe->check_request(v->action, b.payload, why, sizeof(why)) < 0) {
    fc_api__error(r, 400, "bad_request", why);
    goto out;
  }
  if (b.target_connector) {
    /* set before the start is sent: the charger's StartTransaction may
     * arrive before its answer to us */
    int c;
    int64_t tx;
    pe->target_soc(pe->chargers, charger, b.target_connector, b.target_soc, true, &c, &tx);
  }
  pending_t *p = fc_calloc(1, sizeof(*p));
  p->r = r;
  snprintf(p->charger, sizeof(p->charger), "%s", charger);
  p->target_connector = b.target_connector;
  p->verb = v->name;
  p->action = v->action;
  p->payload = json_incref(b.payload);
  p->params = json_incref(b.params);
  r->refs++;
  if (profile_of(b.payload))
    r->a->peers.rate_units(r->a->peers.chargers, charger, units_known, p);
  else
    send_pending(p);
out:
  json_decref(b.payload);
  json_decref(b.params);
  json_decref(body);
}
