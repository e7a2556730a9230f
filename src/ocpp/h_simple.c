/* The notifications whose whole handling is "store it, then confirm":
 * StatusNotification, MeterValues, DiagnosticsStatusNotification and
 * FirmwareStatusNotification. Their answers are empty objects, sent only once
 * the write has committed. */
#include "ocpp/ocpp_int.h"

#include <string.h>

static void store_then_confirm(fc_call_t *c, fc_op_kind_t kind, const char *text)
{
  fc_write_t *w = fc_write_new();
  fc_op_t *op = fc_write_add(w, kind, c->s->id, c->payload, text, text ? strlen(text) : 0);
  op->ts_ms = fc_ocpp__wall_ms();
  fc_ocpp__commit(c, w, json_object(), NULL);
}

void fc_ocpp__h_status_notification(fc_call_t *c)
{
  store_then_confirm(c, FC_OP_STATUS, NULL);
}

void fc_ocpp__h_meter_values(fc_call_t *c)
{
  store_then_confirm(c, FC_OP_METER, NULL);
}

void fc_ocpp__h_diagnostics_status(fc_call_t *c)
{
  store_then_confirm(c, FC_OP_DIAGNOSTICS_STATUS,
                     json_string_value(json_object_get(c->payload, "status")));
}

void fc_ocpp__h_firmware_status(fc_call_t *c)
{
  store_then_confirm(c, FC_OP_FIRMWARE_STATUS,
                     json_string_value(json_object_get(c->payload, "status")));
}
