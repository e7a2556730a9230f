/* The charger model: the fold of events into one typed state per charger
 * (model.h), and its serialisation as the snapshot.
 *
 * The fold, event by event (the browser's web/js/fold.js does the same; the
 * vectors in tests/vectors/fold/ hold the two to it):
 *  - every event raises seq; a late one changes nothing else;
 *  - charger.online / charger.offline: online, and lastSeen = its ts;
 *  - status: the connector's status and errorCode, statusAt = its ts;
 *  - meter: its quantities merged into the connector's meter (one that a
 *    reading lacks keeps its last value), ts = its ts; clockSkew is the
 *    reading's own flag, not carried to the next;
 *  - transaction.started: the connector's transaction;
 *  - energy, cost: into the running transaction, if it is theirs;
 *  - precharge: the connector's vehicle;
 *  - transaction.stopped: lastTransaction; when it ends the running one (or
 *    none runs), the live figures (meter, vehicle) end with it and stay in
 *    lastTransaction as they were. */
#include "bus/bus.h"
#include "bus/bus_int.h"

#include "core/datetime.h"
#include "core/mem.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static void str_set(fc_model_str_t dst, const char *src)
{
  snprintf(dst, FC_MODEL_STR_MAX, "%s", src ? src : "");
}

static void vals_clear(fc_meter_vals_t *v)
{
  for (int q = 0; q < FC_MQ__COUNT; q++)
    v->v[q] = NAN;
}

void fc_model_init(fc_charger_state_t *s, const char *id)
{
  memset(s, 0, sizeof(*s));
  snprintf(s->id, sizeof(s->id), "%s", id);
}

void fc_model_cleanup(fc_charger_state_t *s)
{
  FC_FREE(s->conns);
  s->n = 0;
}

const fc_connector_state_t *fc_model_connector(const fc_charger_state_t *s, int connector)
{
  for (size_t i = 0; s && i < s->n; i++)
    if (s->conns[i].id == connector) return &s->conns[i];
  return NULL;
}

static void meter_clear(fc_meter_state_t *m)
{
  memset(m, 0, sizeof(*m));
  vals_clear(&m->total);
  for (int p = 0; p < FC_PHASES; p++)
    vals_clear(&m->phase[p]);
}

static void precharge_clear(fc_precharge_state_t *pc)
{
  memset(pc, 0, sizeof(*pc));
  pc->soc = pc->battery_voltage = pc->capacity_wh = pc->range_km = NAN;
}

/* The connector's state, made (in id order) when no event named it yet. */
static fc_connector_state_t *conn_get(fc_charger_state_t *s, int connector)
{
  size_t at = s->n;
  for (size_t i = 0; i < s->n; i++) {
    if (s->conns[i].id == connector) return &s->conns[i];
    if (s->conns[i].id > connector && at == s->n) at = i;
  }
  s->conns = fc_realloc(s->conns, (s->n + 1) * sizeof(*s->conns));
  memmove(&s->conns[at + 1], &s->conns[at], (s->n - at) * sizeof(*s->conns));
  s->n++;
  fc_connector_state_t *c = &s->conns[at];
  memset(c, 0, sizeof(*c));
  c->id = connector;
  meter_clear(&c->meter);
  precharge_clear(&c->precharge);
  return c;
}

static void fold_meter(fc_meter_state_t *m, const fc_ev_meter_t *e, long long ts_ms)
{
  if (!m->present) meter_clear(m);
  m->present = true;
  for (int q = 0; q < FC_MQ__COUNT; q++)
    if (!isnan(e->total.v[q])) m->total.v[q] = e->total.v[q];
  if (e->has_phases) { /* the reading's phases replace the last ones */
    m->has_phases = true;
    for (int p = 0; p < FC_PHASES; p++)
      m->phase[p] = e->phase[p];
  }
  if (e->tx_id) m->tx_id = e->tx_id;
  if (e->timestamp) str_set(m->timestamp, e->timestamp);
  m->clock_skew = e->clock_skew;
  m->ts_ms = ts_ms;
}

static void fold_started(fc_tx_state_t *t, const fc_ev_tx_started_t *e)
{
  memset(t, 0, sizeof(*t));
  t->present = true;
  t->id = e->tx_id;
  str_set(t->id_tag, e->id_tag);
  str_set(t->id_tag_status, e->id_tag_status);
  str_set(t->started_at, e->started_at);
  t->meter_start = e->meter_start;
  t->energy_wh = e->energy_wh;
  t->meter_wh = e->meter_wh;
  t->target_soc = e->target_soc;
  t->minutes = t->cost = NAN;
}

static void fold_stopped(fc_connector_state_t *c, const fc_ev_tx_stopped_t *e)
{
  fc_last_tx_state_t *l = &c->last;
  memset(l, 0, sizeof(*l));
  l->present = true;
  l->id = e->tx_id;
  l->meter_stop = e->meter_stop;
  str_set(l->stopped_at, e->stopped_at);
  str_set(l->reason, e->reason);
  l->energy_wh = e->energy_wh;
  l->minutes = e->minutes;
  l->cost = e->cost;
  str_set(l->currency, e->currency);
  str_set(l->stopped_by, e->stopped_by);
  l->target_soc = e->target_soc;
  l->soc_at_stop = e->soc_at_stop;
  meter_clear(&l->meter);
  precharge_clear(&l->precharge);
  if (!c->tx.present || c->tx.id == e->tx_id) {
    /* The connector's live figures (power, SoC, the vehicle) end with its
     * transaction (a charger reports them only while one runs); the last
     * ones stay, as the last session's. */
    l->has_meter = true;
    l->meter = c->meter;
    l->precharge = c->precharge;
    meter_clear(&c->meter);
    precharge_clear(&c->precharge);
    memset(&c->tx, 0, sizeof(c->tx));
  }
}

static bool tx_is(const fc_tx_state_t *t, int64_t id)
{
  return t->present && t->id == id;
}

static void fold_precharge(fc_precharge_state_t *pc, const fc_ev_precharge_t *e)
{
  pc->present = true;
  pc->soc = e->soc;
  pc->battery_voltage = e->battery_voltage;
  pc->capacity_wh = e->capacity_wh;
  pc->range_km = e->range_km;
  str_set(pc->model, e->model);
  str_set(pc->source, e->source);
}

bool fc_model_apply(fc_charger_state_t *s, fc_event_type_t type, int connector, int64_t seq,
                    long long ts_ms, const fc_ev_t *ev)
{
  if (seq > s->seq) s->seq = seq;
  if (!ev || ev->late) return false; /* reported, not state */
  fc_connector_state_t *c;
  switch (type) {
  case FC_EV_ONLINE:
  case FC_EV_OFFLINE:
    s->online = type == FC_EV_ONLINE;
    s->has_last_seen = true;
    s->last_seen_ms = ts_ms;
    return true;
  case FC_EV_STATUS:
    c = conn_get(s, connector);
    if (ev->u.status.status) str_set(c->status, ev->u.status.status);
    if (ev->u.status.error_code) str_set(c->error_code, ev->u.status.error_code);
    c->has_status_at = true;
    c->status_at_ms = ts_ms;
    return true;
  case FC_EV_METER:
    fold_meter(&conn_get(s, connector)->meter, &ev->u.meter, ts_ms);
    return true;
  case FC_EV_TX_STARTED:
    fold_started(&conn_get(s, connector)->tx, &ev->u.started);
    return true;
  case FC_EV_TX_STOPPED:
    fold_stopped(conn_get(s, connector), &ev->u.stopped);
    return true;
  case FC_EV_ENERGY:
    c = conn_get(s, connector);
    if (tx_is(&c->tx, ev->u.energy.tx_id)) {
      if (!isnan(ev->u.energy.energy_wh)) c->tx.energy_wh = ev->u.energy.energy_wh;
      if (!isnan(ev->u.energy.meter_wh)) c->tx.meter_wh = ev->u.energy.meter_wh;
    }
    return true;
  case FC_EV_COST:
    c = conn_get(s, connector);
    if (tx_is(&c->tx, ev->u.cost.tx_id)) {
      if (!isnan(ev->u.cost.energy_wh)) c->tx.energy_wh = ev->u.cost.energy_wh;
      if (!isnan(ev->u.cost.minutes)) c->tx.minutes = ev->u.cost.minutes;
      if (!isnan(ev->u.cost.cost)) c->tx.cost = ev->u.cost.cost;
      if (ev->u.cost.currency) str_set(c->tx.currency, ev->u.cost.currency);
    }
    return true;
  case FC_EV_PRECHARGE:
    fold_precharge(&conn_get(s, connector)->precharge, &ev->u.precharge);
    return true;
  default:
    return false;
  }
}

/* ---- the snapshot ---- */

static json_t *str_or_null(const char *v)
{
  return v[0] ? json_string(v) : json_null();
}

/* A string of the state as the events' structs have it: "" is absent. */
static const char *opt(const char *v)
{
  return v[0] ? v : NULL;
}

static json_t *time_json(long long ms)
{
  char ts[32];
  fc_datetime_format(ms, ts, sizeof(ts));
  return json_string(ts);
}

static json_t *meter_json(const fc_meter_state_t *m)
{
  if (!m->present) return json_null();
  json_t *o = json_object();
  fc_bus__meter_json(o, &m->total, m->has_phases, m->phase);
  if (m->tx_id) json_object_set_new(o, F_TRANSACTION_ID, json_integer(m->tx_id));
  fc_bus__set_str(o, F_TIMESTAMP, opt(m->timestamp));
  if (m->clock_skew) json_object_set_new(o, F_CLOCK_SKEW, json_true());
  json_object_set_new(o, F_TS, time_json(m->ts_ms));
  return o;
}

static json_t *precharge_json(const fc_precharge_state_t *pc)
{
  return fc_bus__precharge_json(&(fc_ev_precharge_t){.soc = pc->soc,
                                                     .battery_voltage = pc->battery_voltage,
                                                     .capacity_wh = pc->capacity_wh,
                                                     .range_km = pc->range_km,
                                                     .model = opt(pc->model),
                                                     .source = pc->source});
}

/* The transaction.started data, with the energy and cost so far. */
static json_t *tx_json(const fc_tx_state_t *t)
{
  if (!t->present) return json_null();
  json_t *o = fc_bus__started_json(&(fc_ev_tx_started_t){.tx_id = t->id,
                                                         .id_tag = opt(t->id_tag),
                                                         .id_tag_status = opt(t->id_tag_status),
                                                         .started_at = opt(t->started_at),
                                                         .meter_start = t->meter_start,
                                                         .energy_wh = t->energy_wh,
                                                         .meter_wh = t->meter_wh,
                                                         .target_soc = t->target_soc});
  fc_bus__set_num(o, F_MINUTES, t->minutes);
  fc_bus__set_num(o, F_COST, t->cost);
  fc_bus__set_str(o, F_CURRENCY, opt(t->currency));
  return o;
}

/* The transaction.stopped data, with the live figures it ended. */
static json_t *last_json(const fc_last_tx_state_t *l)
{
  json_t *o = fc_bus__stopped_json(&(fc_ev_tx_stopped_t){.tx_id = l->id,
                                                         .meter_stop = l->meter_stop,
                                                         .stopped_at = opt(l->stopped_at),
                                                         .reason = opt(l->reason),
                                                         .energy_wh = l->energy_wh,
                                                         .minutes = l->minutes,
                                                         .cost = l->cost,
                                                         .currency = opt(l->currency),
                                                         .stopped_by = opt(l->stopped_by),
                                                         .target_soc = l->target_soc,
                                                         .soc_at_stop = l->soc_at_stop});
  if (l->has_meter) json_object_set_new(o, F_METER, meter_json(&l->meter));
  if (l->precharge.present) json_object_set_new(o, F_PRECHARGE, precharge_json(&l->precharge));
  return o;
}

static json_t *connector_json(const fc_connector_state_t *c)
{
  json_t *o = json_object();
  json_object_set_new(o, F_CONNECTOR_ID, json_integer(c->id));
  json_object_set_new(o, F_STATUS, str_or_null(c->status));
  json_object_set_new(o, F_ERROR_CODE, str_or_null(c->error_code));
  json_object_set_new(o, F_STATUS_AT, c->has_status_at ? time_json(c->status_at_ms) : json_null());
  json_object_set_new(o, F_METER, meter_json(&c->meter));
  json_object_set_new(o, F_TRANSACTION, tx_json(&c->tx));
  if (c->last.present) json_object_set_new(o, F_LAST_TRANSACTION, last_json(&c->last));
  if (c->precharge.present) json_object_set_new(o, F_PRECHARGE, precharge_json(&c->precharge));
  return o;
}

json_t *fc_model_json(const fc_charger_state_t *s)
{
  json_t *conns = json_array();
  for (size_t i = 0; i < s->n; i++)
    json_array_append_new(conns, connector_json(&s->conns[i]));
  return json_pack("{s:s, s:b, s:I, s:o, s:o}", F_ID, s->id, F_ONLINE, s->online, F_SEQ,
                   (json_int_t)s->seq, F_LAST_SEEN,
                   s->has_last_seen ? time_json(s->last_seen_ms) : json_null(), F_CONNECTORS,
                   conns);
}
