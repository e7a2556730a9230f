/* Remote commands: a server-initiated call plus its record.
 *
 * Whoever asks (an operator over REST, or a rule of ours such as the target
 * SoC stop) must later be able to see what was asked of a charger and what it
 * answered, so every outcome, including "it was offline" and "it did not
 * answer", is stored and raised as a "command" event. The caller hears of the
 * outcome only after the record is written, so that a REST client that got
 * its answer finds the command in the log.
 *
 * A charger's configuration can hold its AuthorizationKey in clear (MicroOcpp
 * returns it in GetConfiguration): it is masked here, before the answer goes
 * anywhere. */
#include "ocpp/ocpp_int.h"

#include <string.h>
#include <strings.h>

typedef struct cmd {
  fc_ocpp_t *o;
  char charger[FC_CP_ID_MAX + 1];
  char name[32];
  char action[40]; /* "" for a local command */
  char by[72];
  json_t *params;
  json_t *payload; /* what was sent (NULL for a local command) */
  long long requested_ms;
  unsigned timeout_ms;
  fc_ocpp_command_cb cb;
  void *arg;
  /* the outcome */
  fc_ocpp_outcome_t out;
  char state[32];
  json_t *result;
  char *err_code, *err_desc;
} cmd_t;

static void cmd_free(cmd_t *c)
{
  json_decref(c->params);
  json_decref(c->payload);
  json_decref(c->result);
  fc_free(c->err_code);
  fc_free(c->err_desc);
  fc_free(c);
}

/* AuthorizationKey entries of a GetConfiguration answer: value null. */
static void mask_configuration(json_t *result)
{
  size_t i;
  json_t *kv;
  json_array_foreach(json_object_get(result, "configurationKey"), i, kv)
  {
    const char *key = json_string_value(json_object_get(kv, "key"));
    if (key && !strcasecmp(key, "AuthorizationKey") && json_object_get(kv, "value")) {
      json_object_set_new(kv, "value", json_null());
      json_object_set_new(kv, "masked", json_true());
    }
  }
}

static const char *state_of(int status)
{
  switch (status) {
  case FC_ERR_OFFLINE:
    return "Offline";
  case FC_ERR_TIMEOUT:
    return "Timeout";
  case FC_ERR_PROTO:
    return "CallError";
  case FC_ERR_NOANSWER:
    return "NoAnswer";
  case FC_ERR_BUSY:
    return "Busy";
  case FC_ERR_SHUTDOWN:
    return "ShuttingDown";
  default:
    return "Failed";
  }
}

static void deliver(cmd_t *c)
{
  c->out.state = c->state;
  c->out.result = c->result;
  c->out.err_code = c->err_code;
  c->out.err_desc = c->err_desc;
  c->out.timeout_ms = c->timeout_ms;
  c->cb(&c->out, c->arg);
  cmd_free(c);
}

static void recorded(fc_write_t *w, int status, void *arg)
{
  cmd_t *c = arg;
  if (status == 0)
    c->o->io.publish(c->o->bus, w);
  else
    fc_log(FC_LOG_WARN, &(fc_log_ctx_t){.cp = c->charger},
           "event=command_record_failed command=%s err=%s", c->name, fc_err_name(status));
  deliver(c);
}

/* The charging profiles an accepted command changed, in the command's write
 * (FC_OP_PROFILE_SET / _CLEAR): what a charger was told is kept with the
 * record of telling it. */
static void add_profile_ops(cmd_t *c, fc_write_t *w, long long now)
{
  if (c->out.status != 0 || strcmp(c->state, "Accepted") != 0 || !c->payload) return;
  json_t *prof = NULL, *p = c->payload;
  long long n;
  if (!strcmp(c->action, "SetChargingProfile"))
    prof = json_object_get(p, "csChargingProfiles");
  else if (!strcmp(c->action, "RemoteStartTransaction"))
    prof = json_object_get(p, "chargingProfile");
  if (prof) {
    json_t *sched = json_object_get(prof, "chargingSchedule");
    fc_op_profile_set_t a = {
        .connector = fc_ocpp__int_value(json_object_get(p, "connectorId"), &n) ? (int)n : -1,
        .profile_id = fc_ocpp__int_of(prof, "chargingProfileId"),
        .stack_level = (int)fc_ocpp__int_of(prof, "stackLevel"),
        .purpose = fc_ocpp__str_of(prof, "chargingProfilePurpose"),
        .kind = fc_ocpp__str_of(prof, "chargingProfileKind"),
        .unit = fc_ocpp__str_of(sched, "chargingRateUnit"),
        .tx_id = fc_ocpp__int_of(prof, "transactionId"),
        .by = c->by,
    };
    fc_write_profile_set(w, c->charger, &a, prof)->ts_ms = now;
  } else if (!strcmp(c->action, "ClearChargingProfile")) {
    fc_op_profile_clear_t a = {.purpose = fc_ocpp__str_of(p, "chargingProfilePurpose")};
    if ((a.has_id = fc_ocpp__int_value(json_object_get(p, "id"), &n))) a.id = n;
    if ((a.has_connector = fc_ocpp__int_value(json_object_get(p, "connectorId"), &n)))
      a.connector = (int)n;
    if ((a.has_stack_level = fc_ocpp__int_value(json_object_get(p, "stackLevel"), &n)))
      a.stack_level = (int)n;
    fc_write_profile_clear(w, c->charger, &a)->ts_ms = now;
  }
}

/* Stores the outcome with its event, then tells the caller. */
static void record(cmd_t *c)
{
  json_t *error = json_null();
  if (c->err_code || c->err_desc)
    error = json_pack("{s:s?, s:s?}", "code", c->err_code, "description", c->err_desc);
  fc_ev_command_t ev = {
      .command = c->name,
      .action = c->action[0] ? c->action : NULL,
      .sent = c->out.sent,
      .params = c->params,
      .status = c->state,
      .by = c->by,
      .result = c->result,
      .error = json_is_null(error) ? NULL : error,
  };
  long long now = fc_wall_ms();
  json_t *conn = json_object_get(c->params, "connectorId");
  fc_write_t *w = fc_write_new();
  fc_write_command(w, c->charger,
                   &(fc_op_command_t){.command = c->name,
                                      .action = c->action[0] ? c->action : NULL,
                                      .status = c->state,
                                      .by = c->by,
                                      .requested_ms = c->requested_ms,
                                      .sent = c->action[0] ? c->out.sent : -1},
                   c->params, c->result, error)
      ->ts_ms = now;
  add_profile_ops(c, w, now);
  /* an operator's connectorId beyond the bound is the charger's (0) */
  long long connector = 0;
  if (!fc_ocpp__int_value(conn, &connector) || connector < 0 || connector > c->o->max_connector)
    connector = 0;
  fc_ev_command(w, c->charger, (int)connector, &ev, now);
  json_decref(error);
  char by[FC_LOG_ESC_MAX], state[FC_LOG_ESC_MAX];
  fc_log(FC_LOG_INFO, &(fc_log_ctx_t){.cp = c->charger},
         "event=command command=%s action=%s status=\"%s\" by=\"%s\"", c->name,
         c->action[0] ? c->action : "-", fc_log_esc(c->state, state, sizeof(state)),
         fc_log_esc(c->by, by, sizeof(by)));
  if (c->o->io.submit(c->o->store, w, recorded, c) < 0) {
    fc_write_free(w);
    fc_log(FC_LOG_WARN, &(fc_log_ctx_t){.cp = c->charger},
           "event=command_record_failed command=%s err=store_unavailable", c->name);
    deliver(c);
  }
}

static void answered(int status, json_t *result, const char *err_code, const char *err_desc,
                     void *arg)
{
  cmd_t *c = arg;
  c->out.status = status;
  c->out.sent = status == 0 || status == FC_ERR_PROTO || status == FC_ERR_TIMEOUT ||
                status == FC_ERR_NOANSWER;
  if (status == 0) {
    c->result = json_deep_copy(result);
    if (!strcmp(c->action, "GetConfiguration")) {
      mask_configuration(c->result);
      size_t i;
      json_t *kv;
      json_array_foreach(json_object_get(c->result, "configurationKey"), i, kv)
      {
        fc_ocpp__rateunit_note(c->o, c->charger, json_string_value(json_object_get(kv, "key")),
                               json_string_value(json_object_get(kv, "value")));
      }
    }
    const char *st = json_string_value(json_object_get(c->result, "status"));
    snprintf(c->state, sizeof(c->state), "%s", st ? st : "Accepted");
    if (!strcmp(c->action, "ChangeConfiguration") && !strcmp(c->state, "Accepted"))
      fc_ocpp__rateunit_note(c->o, c->charger,
                             json_string_value(json_object_get(c->payload, "key")),
                             json_string_value(json_object_get(c->payload, "value")));
    if (!strcmp(c->action, "ChangeAvailability") && !strcmp(c->state, "Scheduled")) {
      long long connector = 0;
      fc_ocpp__int_value(json_object_get(c->params, "connectorId"), &connector);
      const char *type = json_string_value(json_object_get(c->params, "type"));
      fc_ocpp__sched_add(c->o, c->charger, (int)connector, type ? type : "", c->by);
    }
  } else {
    snprintf(c->state, sizeof(c->state), "%s", state_of(status));
    if (err_code) c->err_code = fc_strdup(err_code);
    if (err_desc) c->err_desc = fc_strdup(err_desc);
  }
  record(c);
}

static cmd_t *cmd_new(fc_ocpp_t *o, const char *charger, const char *name, json_t *params,
                      const char *by, fc_ocpp_command_cb cb, void *arg)
{
  cmd_t *c = fc_calloc(1, sizeof(*c));
  c->o = o;
  snprintf(c->charger, sizeof(c->charger), "%s", charger);
  snprintf(c->name, sizeof(c->name), "%s", name);
  snprintf(c->by, sizeof(c->by), "%s", by ? by : "");
  c->params = params ? json_incref(params) : json_object();
  c->requested_ms = fc_wall_ms();
  c->cb = cb;
  c->arg = arg;
  return c;
}

void fc_ocpp_command(fc_ocpp_t *o, const char *charger, const char *name, const char *action,
                     json_t *payload, json_t *params, const char *by, unsigned timeout_ms,
                     fc_ocpp_command_cb cb, void *arg)
{
  cmd_t *c = cmd_new(o, charger, name, params, by, cb, arg);
  snprintf(c->action, sizeof(c->action), "%s", action);
  c->payload = json_incref(payload);
  c->timeout_ms = timeout_ms ? timeout_ms : (unsigned)o->cfg->command_timeout;
  int rc = fc_ocpp_call(o, charger, action, payload, c->timeout_ms, answered, c);
  if (rc < 0) answered(rc, NULL, NULL, NULL, c);
}

void fc_ocpp_command_local(fc_ocpp_t *o, const char *charger, const char *name, json_t *params,
                           const char *by, const char *state, json_t *result, fc_ocpp_command_cb cb,
                           void *arg)
{
  cmd_t *c = cmd_new(o, charger, name, params, by, cb, arg);
  snprintf(c->state, sizeof(c->state), "%s", state);
  c->result = result ? json_incref(result) : NULL;
  record(c);
}
