/* BootNotification: the registration status comes from the registry (or the
 * policy for unknown chargers); the boot details are stored. MicroOcpp sends
 * it once per process start, not on reconnects, so nothing else depends on
 * having seen one: a known, accepted charger may send anything from its first
 * frame on. */
#include "ocpp/ocpp_int.h"

#include <string.h>

/* How soon a Pending or Rejected charger should try again, seconds. */
#define RETRY_INTERVAL 60

typedef struct boot_ctx {
  fc_reg_t reg;
} boot_ctx_t;

static void done(fc_call_t *c, fc_write_t *w, int status)
{
  boot_ctx_t *b = c->ctx;
  fc_session_t *s = c->s;
  if (status < 0) {
    fc_ocpp__answer_internal(c, FC_OCPP_WAIT_WRITE, status);
    return;
  }
  s->reg = b->reg;
  if (!fc_ocpp__registry_find(s->o, s->id)) fc_ocpp__registry_put(s->o, s->id, b->reg, NULL);
  char vendor[FC_LOG_ESC_MAX], model[FC_LOG_ESC_MAX];
  fc_log(FC_LOG_NOTICE, &s->log, "event=boot registration=%s vendor=\"%s\" model=\"%s\"",
         fc_ocpp__reg_name(b->reg),
         fc_log_esc(json_string_value(json_object_get(c->payload, "chargePointVendor")), vendor,
                    sizeof(vendor)),
         fc_log_esc(json_string_value(json_object_get(c->payload, "chargePointModel")), model,
                    sizeof(model)));
  json_t *r = c->result;
  c->result = NULL;
  fc_ocpp__answer(c, r);
}

void fc_ocpp__h_boot_notification(fc_call_t *c)
{
  fc_session_t *s = c->s;
  fc_ocpp_t *o = s->o;
  boot_ctx_t *b = fc_calloc(1, sizeof(*b));
  c->ctx = b;
  c->ctx_free = fc_free;

  b->reg = fc_ocpp__registry_admit(o, s->id, NULL);

  int interval = b->reg == FC_REG_ACCEPTED ? o->cfg->heartbeat_interval : RETRY_INTERVAL;
  const char *reg = fc_ocpp__reg_name(b->reg);
  fc_write_t *w = fc_write_new();
  fc_op_boot_t boot = fc_ocpp__boot_args(c->payload, reg);
  fc_write_boot(w, s->id, &boot)->ts_ms = fc_wall_ms();
  json_t *result = json_pack("{s:s, s:o, s:i}", "status", reg, "currentTime", fc_ocpp__json_now(),
                             "interval", interval);
  fc_ocpp__commit(c, w, result, done);
}
