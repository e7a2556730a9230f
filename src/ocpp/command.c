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

/* Stores the outcome with its event, then tells the caller. */
static void record(cmd_t *c)
{
  json_t *error = json_null();
  if (c->err_code || c->err_desc)
    error = json_pack("{s:s?, s:s?}", "code", c->err_code, "description", c->err_desc);
  json_t *data = json_pack("{s:s, s:O, s:s, s:s}", "command", c->name, "params", c->params,
                           "status", c->state, "by", c->by);
  if (c->action[0]) json_object_set_new(data, "action", json_string(c->action));
  if (c->result)
    json_object_set(data, "result", c->result);
  else if (!json_is_null(error))
    json_object_set(data, "error", error);
  long long now = fc_wall_ms();
  json_t *conn = json_object_get(c->params, "connectorId");
  fc_write_t *w = fc_write_new();
  fc_write_command(w, c->charger,
                   &(fc_op_command_t){.command = c->name,
                                      .action = c->action[0] ? c->action : NULL,
                                      .status = c->state,
                                      .by = c->by,
                                      .requested_ms = c->requested_ms},
                   c->params, c->result, error)
      ->ts_ms = now;
  json_decref(error);
  /* an operator's connectorId beyond the bound is the charger's (0) */
  long long connector = 0;
  if (!fc_ocpp__int_value(conn, &connector) || connector < 0 || connector > c->o->max_connector)
    connector = 0;
  fc_bus_add(w, FC_EV_COMMAND, c->charger, (int)connector, data, now, false);
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
  if (status == 0) {
    c->result = json_deep_copy(result);
    if (!strcmp(c->action, "GetConfiguration")) mask_configuration(c->result);
    const char *st = json_string_value(json_object_get(c->result, "status"));
    snprintf(c->state, sizeof(c->state), "%s", st ? st : "Accepted");
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
