/* What the handlers judge arriving messages by, per connector:
 *
 *  - the newest status and meter time stamps, so that a message flushed late
 *    from a charger's offline queue is reported as late and does not
 *    overwrite newer state;
 *  - the running transaction and its energy so far. Energy is the sum of the
 *    register's increases, not register - meterStart: a charger's register
 *    can restart at 0 after a reboot, and a repeated message adds nothing;
 *  - the vehicle (PreChargeData).
 *
 * Those facts are the charger model's (bus/model.h, the committed state):
 * fc_ocpp__cpconn reads them from it each time (refresh), and nothing here
 * keeps a second copy. A handler changes a staged copy (fc_ocpp__stage) and
 * raises the events that say so; the events change the model once the write
 * has committed (a write that fails leaves it as it was, so that the
 * charger's retry is judged, and its energy and cost computed, as the first
 * try was).
 *
 * What only the handlers know (the target SoC of target_soc.c; the log
 * budgets of bounds.c) is kept here, per charger id (it survives
 * reconnects), and a staged change to it is applied on commit. */
#include "ocpp/ocpp_int.h"

#include <math.h>
#include <string.h>

/* A time stamp too far ahead, stored before its clock skew was bounded,
 * would make every later message late: it orders nothing. */
static void seed_ts(long long *dst, long long ms, long long ahead)
{
  if (ms <= ahead) *dst = ms;
}

/* k's facts from the model (none when no event named the connector). */
static void refresh(fc_ocpp_t *o, const char *charger, fc_cpconn_t *k)
{
  k->status_ts = k->meter_ts = 0;
  k->tx_id = 0;
  k->tx_active = false;
  k->tx_prev_reg = k->tx_energy = 0;
  k->tx_start_ms = 0;
  k->pc_known = false;
  memset(&k->pc_model, 0, sizeof(k->pc_model));
  k->pc_capacity_wh = k->pc_voltage = 0;
  const fc_connector_state_t *c = fc_model_connector(fc_bus_state(o->bus, charger), k->id);
  if (!c) return;
  long long ahead = fc_wall_ms() + o->max_skew_ms;
  if (c->has_status_at) seed_ts(&k->status_ts, c->status_at_ms, ahead);
  /* the newest reading: the live one, else the last session's */
  const fc_meter_state_t *m = c->meter.present ? &c->meter : &c->last.meter;
  if (m->present) seed_ts(&k->meter_ts, m->ts_ms, ahead);
  const fc_precharge_state_t *pc = &c->precharge;
  if (pc->present) {
    const fc_model_t *known = pc->model[0] ? fc_models_find(&o->models, pc->model) : NULL;
    k->pc_known = true;
    if (known)
      k->pc_model = *known;
    else
      snprintf(k->pc_model.name, sizeof(k->pc_model.name), "%.*s",
               (int)sizeof(k->pc_model.name) - 1, pc->model);
    k->pc_capacity_wh = isnan(pc->capacity_wh) ? -1 : pc->capacity_wh;
    k->pc_voltage = isnan(pc->battery_voltage) ? -1 : pc->battery_voltage;
  }
  const fc_tx_state_t *tx = &c->tx;
  if (tx->present) {
    long long ms;
    k->tx_id = tx->id;
    k->tx_active = k->tx_id > 0;
    if (fc_datetime_parse(tx->started_at, &ms) == 0) k->tx_start_ms = ms;
    k->tx_energy = tx->energy_wh;
    k->tx_prev_reg = tx->meter_wh;
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
  fc_cpconn_t *k = NULL;
  for (size_t i = 0; i < st->n && !k; i++)
    if (st->conns[i].id == connector) k = &st->conns[i];
  if (!k) {
    st->conns = fc_realloc(st->conns, (st->n + 1) * sizeof(*st->conns));
    k = &st->conns[st->n++];
    memset(k, 0, sizeof(*k));
    k->id = connector;
  }
  refresh(o, charger, k);
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
    /* the model's facts change by the write's events (published next) */
    APPLY(target_soc);
    APPLY(target_next);
    APPLY(target_tx);
    APPLY(target_stopped_tx);
    APPLY(target_stopped_at);
    APPLY(target_sent);
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

fc_ev_cost_t fc_ocpp__cost(const fc_ocpp_t *o, const fc_cpconn_t *k, double energy_wh,
                           long long ts_ms)
{
  double minutes = fc_ocpp__tx_minutes(k, ts_ms);
  return (fc_ev_cost_t){.tx_id = k->tx_id,
                        .energy_wh = energy_wh,
                        .minutes = round(minutes * 100.0) / 100.0,
                        .cost = fc_tariff_cost(&o->tariff, energy_wh, minutes),
                        .currency = o->tariff.currency};
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
