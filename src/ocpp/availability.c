/* ChangeAvailability answered Scheduled: the charger changes the connector's
 * availability once the transaction running there ends (connector 0: once
 * every transaction of the charger has ended). The operator was told
 * "Scheduled"; this keeps such answers and, when the transaction they wait
 * for is over, records a second command outcome ("Applied", by the same
 * requester, with the transaction that ended) so that the command log and the
 * `command` events say when the change took effect.
 *
 * Transactions end in the handlers (StopTransaction), which are not ours to
 * change: the list is checked about once a second from the central system's
 * tick against what the handlers remember (fc_ocpp_running_tx). One entry per
 * charger and connector (a later Scheduled answer replaces the earlier one),
 * and at most SCHED_MAX in all (the oldest goes first, with a log line). */
#include "ocpp/ocpp_int.h"

#include <string.h>

#define SCHED_MAX 1024

struct fc_sched {
  fc_sched_t *next;
  char charger[FC_CP_ID_MAX + 1];
  int connector;
  char type[16];
  char by[72];
  int64_t tx; /* the transaction waited for (0: unknown) */
};

static void noop_cb(const fc_ocpp_outcome_t *out, void *arg)
{
  (void)out;
  (void)arg;
}

static fc_sched_t **find(fc_ocpp_t *o, const char *charger, int connector)
{
  fc_sched_t **p = &o->sched;
  while (*p && !(!strcmp((*p)->charger, charger) && (*p)->connector == connector))
    p = &(*p)->next;
  return p;
}

void fc_ocpp__sched_add(fc_ocpp_t *o, const char *charger, int connector, const char *type,
                        const char *by)
{
  fc_sched_t **p = find(o, charger, connector), *e = *p;
  if (e) {
    *p = e->next; /* replaced: goes to the end */
    o->nsched--;
  } else {
    e = fc_calloc(1, sizeof(*e));
  }
  if (o->nsched >= SCHED_MAX) {
    fc_sched_t *old = o->sched;
    o->sched = old->next;
    o->nsched--;
    fc_log(FC_LOG_WARN, &(fc_log_ctx_t){.cp = old->charger},
           "event=availability_schedule_dropped connector=%d reason=too_many", old->connector);
    fc_free(old);
  }
  e->next = NULL;
  snprintf(e->charger, sizeof(e->charger), "%s", charger);
  e->connector = connector;
  snprintf(e->type, sizeof(e->type), "%s", type);
  snprintf(e->by, sizeof(e->by), "%s", by ? by : "");
  int c;
  e->tx = 0;
  fc_ocpp_running_tx(o, charger, connector, &c, &e->tx);
  p = &o->sched;
  while (*p)
    p = &(*p)->next;
  *p = e;
  o->nsched++;
}

void fc_ocpp__sched_tick(fc_ocpp_t *o)
{
  fc_sched_t **p = &o->sched;
  while (*p) {
    fc_sched_t *e = *p;
    int c;
    int64_t tx;
    int rc = fc_ocpp_running_tx(o, e->charger, e->connector, &c, &tx);
    if (rc != FC_ERR_NOTFOUND) {
      p = &e->next;
      continue;
    }
    *p = e->next;
    o->nsched--;
    json_t *params = json_pack("{s:i, s:s}", "connectorId", e->connector, "type", e->type);
    json_t *result = json_pack("{s:s, s:o}", "after", "transactionEnded", "transactionId",
                               e->tx ? json_integer(e->tx) : json_null());
    fc_ocpp_command_local(o, e->charger, "availability", params, e->by, "Applied", result, noop_cb,
                          NULL);
    json_decref(params);
    json_decref(result);
    fc_free(e);
  }
}

void fc_ocpp__sched_free(fc_ocpp_t *o)
{
  while (o->sched) {
    fc_sched_t *e = o->sched;
    o->sched = e->next;
    fc_free(e);
  }
  o->nsched = 0;
}
