/* What the handlers must remember of each charger between messages, to
 * judge what arrives (the read model in bus/ only holds what has committed):
 *
 *  - per connector, the newest status and meter time stamps seen, so that a
 *    message flushed late from a charger's offline queue is reported as late
 *    and does not overwrite newer state;
 *  - the running transaction and its energy so far. Energy is the sum of the
 *    register's increases, not register - meterStart: a charger's register
 *    can restart at 0 after a reboot, and a repeated message adds nothing.
 *
 * Kept per charger id, not per connection (it survives reconnects), seeded
 * from the read model the first time a connector is touched after start.
 *
 * Handlers change a staged copy (fc_ocpp__stage), applied once their write
 * has committed: a write that fails leaves the state as it was, so that the
 * charger's retry is judged, and its energy and cost computed, as the first
 * try was. */
#include "ocpp/ocpp_int.h"

#include <string.h>

static void seed(fc_ocpp_t *o, const char *charger, fc_cpconn_t *k)
{
  json_t *root = fc_bus_snapshot_json(o->bus, charger);
  if (!root) return;
  size_t i;
  json_t *c;
  json_array_foreach(json_object_get(root, "connectors"), i, c)
  {
    if (json_integer_value(json_object_get(c, "connectorId")) != k->id) continue;
    long long ms;
    /* A time stamp too far ahead, stored before its clock skew was bounded,
     * would make every later message late: it orders nothing. */
    long long ahead = fc_wall_ms() + o->max_skew_ms;
    const char *at = json_string_value(json_object_get(c, "statusAt"));
    if (at && fc_datetime_parse(at, &ms) == 0 && ms <= ahead) k->status_ts = ms;
    /* the newest reading: the live one, else the last session's */
    json_t *m = json_object_get(c, "meter");
    if (!json_is_object(m)) m = json_object_get(json_object_get(c, "lastTransaction"), "meter");
    at = json_string_value(json_object_get(m, "ts"));
    if (at && fc_datetime_parse(at, &ms) == 0 && ms <= ahead) k->meter_ts = ms;
    json_t *pc = json_object_get(c, "precharge");
    if (json_is_object(pc)) {
      const char *name = json_string_value(json_object_get(pc, "model"));
      const fc_model_t *known = fc_models_find(&o->models, name);
      k->pc_known = true;
      if (known)
        k->pc_model = *known;
      else if (name)
        snprintf(k->pc_model.name, sizeof(k->pc_model.name), "%s", name);
      json_t *cap = json_object_get(pc, "batteryCapacityWh");
      json_t *v = json_object_get(pc, "batteryVoltage");
      k->pc_capacity_wh = json_is_number(cap) ? json_number_value(cap) : -1;
      k->pc_voltage = json_is_number(v) ? json_number_value(v) : -1;
    }
    json_t *tx = json_object_get(c, "transaction");
    if (json_is_object(tx)) {
      k->tx_id = json_integer_value(json_object_get(tx, "transactionId"));
      k->tx_active = k->tx_id > 0;
      at = json_string_value(json_object_get(tx, "startedAt"));
      if (at && fc_datetime_parse(at, &ms) == 0) k->tx_start_ms = ms;
      k->tx_energy = json_number_value(json_object_get(tx, "energyWh"));
      json_t *last = json_object_get(tx, "meterWh");
      k->tx_prev_reg =
          last ? json_number_value(last) : json_number_value(json_object_get(tx, "meterStart"));
    }
  }
}

fc_cpstate_t *fc_ocpp__cpstate(fc_ocpp_t *o, const char *charger)
{
  fc_cpstate_t *st = NULL;
  HASH_FIND_STR(o->cpstates, charger, st);
  if (!st) {
    st = fc_calloc(1, sizeof(*st));
    snprintf(st->id, sizeof(st->id), "%s", charger);
    HASH_ADD_STR(o->cpstates, id, st);
  }
  return st;
}

fc_cpconn_t *fc_ocpp__cpconn(fc_ocpp_t *o, const char *charger, int connector)
{
  fc_cpstate_t *st = fc_ocpp__cpstate(o, charger);
  for (size_t i = 0; i < st->n; i++)
    if (st->conns[i].id == connector) return &st->conns[i];
  st->conns = fc_realloc(st->conns, (st->n + 1) * sizeof(*st->conns));
  fc_cpconn_t *k = &st->conns[st->n++];
  memset(k, 0, sizeof(*k));
  k->id = connector;
  seed(o, charger, k);
  return k;
}

static fc_staged_t *staged_of(fc_call_t *c, int connector)
{
  for (fc_staged_t *st = c->staged; st; st = st->next_staged)
    if (st->next.id == connector) return st;
  fc_cpconn_t *k = fc_ocpp__cpconn(c->s->o, c->s->id, connector);
  fc_staged_t *st = fc_calloc(1, sizeof(*st));
  st->was = *k;
  st->next = *k;
  st->soc = -1;
  st->next_staged = c->staged;
  c->staged = st;
  return st;
}

fc_cpconn_t *fc_ocpp__stage(fc_call_t *c, int connector)
{
  return &staged_of(c, connector)->next;
}

void fc_ocpp__stage_soc(fc_call_t *c, int connector, double soc)
{
  staged_of(c, connector)->soc = soc;
}

void fc_ocpp__staged_apply(fc_call_t *c, fc_write_t *w)
{
  fc_ocpp_t *o = c->s->o;
  for (fc_staged_t *st = c->staged; st; st = st->next_staged) {
    fc_cpconn_t *k = fc_ocpp__cpconn(o, c->s->id, st->next.id);
#define APPLY(f)                                                                                   \
  if (memcmp(&st->next.f, &st->was.f, sizeof(st->next.f)) != 0) k->f = st->next.f
    APPLY(status_ts);
    APPLY(meter_ts);
    APPLY(tx_id);
    APPLY(tx_active);
    APPLY(tx_prev_reg);
    APPLY(tx_energy);
    APPLY(tx_start_ms);
    APPLY(target_soc);
    APPLY(target_next);
    APPLY(target_tx);
    APPLY(target_stopped_tx);
    APPLY(target_stopped_at);
    APPLY(target_sent);
    APPLY(pc_known);
    APPLY(pc_model);
    APPLY(pc_capacity_wh);
    APPLY(pc_voltage);
#undef APPLY
    if (st->soc >= 0) fc_ocpp__target_soc_check(o, c->s->id, k, st->soc);
  }
  if (c->apply_fn) c->apply_fn(c, w, 0);
}

void fc_ocpp__staged_free(fc_call_t *c)
{
  while (c->staged) {
    fc_staged_t *st = c->staged;
    c->staged = st->next_staged;
    fc_free(st);
  }
}

double fc_ocpp__tx_minutes(const fc_cpconn_t *k, long long ts_ms)
{
  if (!k->tx_start_ms || ts_ms <= k->tx_start_ms) return 0;
  return (double)(ts_ms - k->tx_start_ms) / 60000.0;
}

double fc_ocpp__energy_add(fc_cpconn_t *k, double reg)
{
  if (reg >= k->tx_prev_reg)
    k->tx_energy += reg - k->tx_prev_reg;
  else
    k->tx_energy += reg; /* the register restarted from 0 */
  k->tx_prev_reg = reg;
  return k->tx_energy;
}

void fc_ocpp__cpstates_free(fc_ocpp_t *o)
{
  fc_cpstate_t *st, *tmp;
  HASH_ITER(hh, o->cpstates, st, tmp)
  {
    HASH_DEL(o->cpstates, st);
    fc_free(st->conns);
    fc_free(st);
  }
}
