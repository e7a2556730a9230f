/* Remote commands over REST:
 *
 *   POST /api/chargers/{id}/start          {connectorId, idTag, maxCurrentA?, targetSoc?}
 *   POST /api/chargers/{id}/stop           {transactionId?, connectorId?}
 *   POST /api/chargers/{id}/limit          {maxCurrentA | maxPowerW, connectorId?}
 *   POST /api/chargers/{id}/reset          {type: Soft|Hard}
 *   POST /api/chargers/{id}/unlock         {connectorId}
 *   POST /api/chargers/{id}/trigger        {requestedMessage, connectorId?}
 *   GET  /api/chargers/{id}/configuration  ?key=a,b
 *   PUT  /api/chargers/{id}/configuration  {key, value}
 *   POST /api/chargers/{id}/target-soc     {targetSoc, connectorId?}
 *
 * Role operator or admin, and the charger among the token's. Each builds the
 * OCPP request, checks it against the action's schema before anything is
 * sent (400 with the reason), and waits for the charger's answer, which it
 * returns faithfully: 200 {"status","result"} whatever the charger said
 * (Rejected included), 502 for a CALLERROR or an answer that violates the
 * schema (its code and description), 504 when no answer came in time, 409
 * when the charger is offline (or there is no transaction to act on).
 *
 * Charging profiles: the limits are sent as TxProfile, kind Relative (the
 * schedule runs from the transaction's start, so no clock of the charger's
 * matters), one period from 0, under a chargingProfileId fixed per connector
 * (100 + connector) at stack level 1: a new limit replaces the previous one
 * instead of stacking up beside it. */
#include "core/json.h"
#include "api/api_int.h"

#include "core/err.h"
#include "core/mem.h"
#include "log/log.h"

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
  /* why the request is refused: status and error (static strings) */
  unsigned status;
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
  if (connector < 1) return bad(b, "connectorId: required, 1 or more");
  if (!json_is_string(tag)) return bad(b, "idTag: required, a string");
  pass(b, "connectorId");
  pass(b, "idTag");
  if (amps > 0)
    json_object_set_new(b->payload, "chargingProfile", tx_profile((int)connector, 0, "A", amps));
  char masked[32];
  b->params = json_pack("{s:I, s:s}", "connectorId", (json_int_t)connector, "idTag",
                        fc_log_mask(json_string_value(tag), masked, sizeof(masked)));
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

typedef struct verb {
  const char *name;
  fc_method_t method;
  const char *action; /* NULL: no call (target-soc) */
  build_fn build;
} verb_t;

static const verb_t verbs[] = {
    {"start", FC_HTTP_POST, "RemoteStartTransaction", b_start},
    {"stop", FC_HTTP_POST, "RemoteStopTransaction", b_stop},
    {"limit", FC_HTTP_POST, "SetChargingProfile", b_limit},
    {"reset", FC_HTTP_POST, "Reset", b_reset},
    {"unlock", FC_HTTP_POST, "UnlockConnector", b_unlock},
    {"trigger", FC_HTTP_POST, "TriggerMessage", b_trigger},
    {"configuration", FC_HTTP_GET, "GetConfiguration", b_get_configuration},
    {"configuration", FC_HTTP_PUT, "ChangeConfiguration", b_change_configuration},
    {"target-soc", FC_HTTP_POST, NULL, NULL},
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
  case 0:
    respond_json(r, 200,
                 json_pack("{s:s, s:O}", "status", out->state, "result",
                           out->result ? out->result : json_null()));
    break;
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
  case FC_ERR_BUSY:
    fc_api__error(r, 503, "busy", "too many commands are queued for this charger");
    break;
  default:
    fc_api__error(r, 503, "unavailable", "the server is shutting down");
  }
  fc_api__req_unref(r);
  fc_free(p);
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
  if (r->who.role < FC_ROLE_OPERATOR) {
    fc_api__error(r, 403, "forbidden", "commands need the operator role");
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
  r->refs++;
  pe->command(pe->chargers, charger, verb, v->action, b.payload, b.params, r->who.sub, answered, p);
out:
  json_decref(b.payload);
  json_decref(b.params);
  json_decref(body);
}
