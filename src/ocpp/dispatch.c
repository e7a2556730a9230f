/* From a whole text frame to a handler: decode the OCPP-J envelope, route
 * CALLRESULT/CALLERROR to the outgoing-call table, validate a CALL's payload
 * against its action's schema, and call the action's handler.
 *
 * Bad input always gets a specified answer: a CALL-shaped frame that cannot
 * be decoded gets a CALLERROR under its id ("-1" when none could be read);
 * an unknown action NotImplemented; an action of the Central System's own
 * (one a charger should receive, not send) NotSupported; an invalid payload
 * the code its violation names; a connectorId beyond the bound
 * PropertyConstraintViolation (bounds.c). Broken CALLRESULT/CALLERROR frames cannot be
 * answered (OCPP-J has no answer to an answer): they are logged and dropped. */
#include "ocpp/ocpp_int.h"

#include <string.h>

typedef struct action {
  const char *name;
  fc_handler_fn fn;
} action_t;

/* Sorted by name for bsearch. */
static const action_t actions[] = {
    {"Authorize", fc_ocpp__h_authorize},
    {"BootNotification", fc_ocpp__h_boot_notification},
    {"DataTransfer", fc_ocpp__h_data_transfer},
    {"DiagnosticsStatusNotification", fc_ocpp__h_diagnostics_status},
    {"FirmwareStatusNotification", fc_ocpp__h_firmware_status},
    {"Heartbeat", fc_ocpp__h_heartbeat},
    {"MeterValues", fc_ocpp__h_meter_values},
    {"StartTransaction", fc_ocpp__h_start_transaction},
    {"StatusNotification", fc_ocpp__h_status_notification},
    {"StopTransaction", fc_ocpp__h_stop_transaction},
};

static int cmp_action(const void *key, const void *elem)
{
  return strcmp(key, ((const action_t *)elem)->name);
}

static void answer_unparsed(fc_session_t *s, const char *id, const fc_ocpp_verr_t *err)
{
  size_t len;
  char desc[FC_LOG_ESC_MAX * 2];
  fc_log(FC_LOG_WARN, &s->log, "event=bad_frame code=%s desc=\"%s\"", fc_ocpp__code_name(err->code),
         fc_log_esc(err->desc, desc, sizeof(desc)));
  char *text = fc_ocpp__encode_error(id ? id : "-1", err->code, err->desc, NULL, &len);
  fc_ocpp__send(s, text, len);
  free(text);
  s->o->stats.callerrors_sent++;
}

/* True when the frame was an array starting with 3 or 4: an answer. */
static bool is_answer(const fc_frame_t *f)
{
  json_t *t = json_is_array(f->root) ? json_array_get(f->root, 0) : NULL;
  return t && json_is_integer(t) && (json_integer_value(t) == 3 || json_integer_value(t) == 4);
}

/* DESIGN: PreChargeData's data may arrive as a bare JSON object, though the
 * schema says string. Such a value is re-encoded as the string it stands for
 * before validation, so that handlers see one form. */
static void normalise_data_transfer(json_t *payload)
{
  json_t *data = json_object_get(payload, "data");
  if (data && (json_is_object(data) || json_is_array(data))) {
    char *text = json_dumps(data, JSON_COMPACT);
    if (text) {
      json_object_set_new(payload, "data", json_string(text));
      free(text);
    }
  }
}

/* The validator accepts 5.0 where the schema says integer (some JSON
 * encoders write every number as a real). Every number in a charger-initiated
 * OCPP 1.6 request is an integer (sampled values are strings), so once a
 * payload has validated its integral reals become integers, and handlers and
 * the store can read them with json_integer_value(). */
static void integerise(json_t *v)
{
  size_t i;
  const char *k;
  json_t *e;
  void *tmp;
  if (json_is_object(v)) {
    json_object_foreach_safe(v, tmp, k, e)
    {
      if (json_is_real(e)) {
        long long n;
        if (fc_ocpp__int_value(e, &n)) json_object_set_new(v, k, json_integer(n));
      } else {
        integerise(e);
      }
    }
  } else if (json_is_array(v)) {
    json_array_foreach(v, i, e)
    {
      long long n;
      if (json_is_real(e) && fc_ocpp__int_value(e, &n))
        json_array_set_new(v, i, json_integer(n));
      else
        integerise(e);
    }
  }
}

void fc_ocpp__dispatch(fc_session_t *s, const char *text, size_t len)
{
  fc_ocpp_t *o = s->o;
  fc_frame_t f;
  fc_ocpp_verr_t err;
  const char *id = NULL;

  /* Every inbound frame is logged here, once, whatever becomes of it; one
   * that is refused as its head only (limits.c). */
  if (fc_ocpp__frame_parse(text, len, &f, &id, &err) < 0) {
    fc_ocpp__frame_log(s, true, true, text, len);
    if (is_answer(&f)) {
      char desc[FC_LOG_ESC_MAX * 2];
      fc_log(FC_LOG_WARN, &s->log, "event=bad_answer_frame desc=\"%s\"",
             fc_log_esc(err.desc, desc, sizeof(desc)));
    } else {
      answer_unparsed(s, id, &err);
    }
    fc_ocpp__frame_cleanup(&f);
    return;
  }

  if (f.type != FC_MSG_CALL) {
    fc_ocpp__frame_log(s, true, false, text, len);
    fc_ocpp__outcall_result(s, &f);
    fc_ocpp__frame_cleanup(&f);
    return;
  }

  if (!strcmp(f.action, "DataTransfer")) normalise_data_transfer(f.payload);
  fc_call_t *c = fc_ocpp__call_new(s, &f);
  fc_ocpp__frame_cleanup(&f);

  const action_t *a =
      bsearch(c->action, actions, FC_ARRAY_SIZE(actions), sizeof(actions[0]), cmp_action);
  unsigned flags = o->cfg->strict_fields ? 0 : FC_VALIDATE_ALLOW_EXTRA;
  int rc = fc_ocpp__validate(c->action, false, c->payload, flags, &err);
  bool accepted = s->reg == FC_REG_ACCEPTED || (a && a->fn == fc_ocpp__h_boot_notification);
  fc_ocpp__frame_log(s, true, !a || o->shutting_down || rc < 0 || !accepted, text, len);

  if (!a || o->shutting_down) {
    if (o->shutting_down)
      fc_ocpp__answer_internal(c, FC_OCPP_WAIT_WRITE, FC_ERR_SHUTDOWN);
    else if (rc == FC_ERR_NOTIMPL)
      fc_ocpp__answer_error(c, FC_OCPP_NOT_IMPLEMENTED, "unknown action");
    else
      fc_ocpp__answer_error(c, FC_OCPP_NOT_SUPPORTED, "action not supported by a central system");
    return;
  }
  if (rc < 0) {
    fc_ocpp__answer_error(c, err.code, err.desc);
    return;
  }
  integerise(c->payload);
  if (!accepted) {
    fc_ocpp__answer_error(c, FC_OCPP_SECURITY_ERROR,
                          "charger not accepted: BootNotification first");
    return;
  }
  /* The schemas leave connectorId unbounded (bounds.c): refused here, once
   * for every action, so that handlers may read it as an int. */
  int connector;
  if (!fc_ocpp__connector_ok(o, s->id, json_object_get(c->payload, "connectorId"), &connector)) {
    char desc[64];
    snprintf(desc, sizeof(desc), "connectorId: not in 0..%d", o->max_connector);
    fc_ocpp__answer_error_quiet(c, FC_OCPP_PROPERTY_CONSTRAINT_VIOLATION, desc);
    return;
  }
  a->fn(c);
}
