/* The in-memory charger registry.
 *
 * The handshake must decide in microseconds, without a database read, so the
 * chargers table lives in memory too. It is loaded at start-up and refreshed
 * when the store's registry version moves (the CLI adding, removing or
 * re-keying a charger while the server runs): a cheap version read every
 * registry_refresh ms, and a full reload only when it changed.
 *
 * What a charger's id gets is decided in one place, fc_ocpp__registry_admit
 * (the handshake, the session and BootNotification ask it): a registered
 * charger its registration, one that is not what --unknown-chargers says.
 * Chargers that are not in it are let in under pending or accept,
 * unauthenticated: anyone can be one, under any id. So they are
 * limited in number (unknown-max connected at once) and in rate (a bucket
 * of unknown-rate connections a minute, as many at once), whatever their
 * ids; registered chargers are not counted. Refusals are answered before the
 * upgrade (503 / 429, Retry-After) and logged once a minute. */
#include "ocpp/ocpp_int.h"

#include <string.h>

fc_regent_t *fc_ocpp__registry_find(fc_ocpp_t *o, const char *id)
{
  fc_regent_t *e = NULL;
  HASH_FIND_STR(o->registry, id, e);
  return e;
}

static fc_reg_t unknown_reg(const fc_ocpp_t *o)
{
  switch (o->cfg->unknown_chargers) {
  case FC_UNKNOWN_ACCEPT:
    return FC_REG_ACCEPTED;
  case FC_UNKNOWN_PENDING:
    return FC_REG_PENDING;
  default:
    return FC_REG_REJECTED;
  }
}

fc_reg_t fc_ocpp__registry_admit(fc_ocpp_t *o, const char *id, fc_regent_t **entry)
{
  fc_regent_t *e = fc_ocpp__registry_find(o, id);
  if (entry) *entry = e;
  return e ? e->reg : unknown_reg(o);
}

fc_regent_t *fc_ocpp__registry_put(fc_ocpp_t *o, const char *id, fc_reg_t reg, const char *auth)
{
  fc_regent_t *e = fc_ocpp__registry_find(o, id);
  if (!e) {
    e = fc_calloc(1, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "%s", id);
    HASH_ADD_STR(o->registry, id, e);
  }
  e->reg = reg;
  fc_free(e->auth);
  e->auth = fc_strdup(auth);
  return e;
}

void fc_ocpp__registry_free(fc_ocpp_t *o)
{
  fc_regent_t *e, *tmp;
  HASH_ITER(hh, o->registry, e, tmp)
  {
    HASH_DEL(o->registry, e);
    fc_free(e->auth);
    fc_free(e);
  }
}

void fc_ocpp__registry_replace(fc_ocpp_t *o, fc_charger_rec_t *recs, size_t n)
{
  fc_ocpp__registry_free(o);
  for (size_t i = 0; i < n; i++) {
    fc_reg_t reg = FC_REG_ACCEPTED;
    if (fc_ocpp__reg_parse(recs[i].registration, &reg) < 0) reg = FC_REG_ACCEPTED;
    fc_ocpp__registry_put(o, recs[i].id, reg, recs[i].auth)->profile = recs[i].profile;
  }
  /* Connected chargers follow the registry: a removed one is disconnected
   * when unknown chargers are refused; a changed registration applies at once. */
  fc_session_t *s, *tmp;
  HASH_ITER(hh, o->sessions, s, tmp)
  {
    fc_regent_t *e;
    fc_reg_t reg = fc_ocpp__registry_admit(o, s->id, &e);
    if (e) {
      s->reg = reg;
    } else if (reg == FC_REG_REJECTED) {
      fc_ocpp__session_close(s, LWS_CLOSE_STATUS_POLICY_VIOLATION, "charger removed");
    }
  }
}

static void chargers_loaded(fc_read_t *r, int status, void *arg)
{
  fc_ocpp_t *o = arg;
  o->registry_loading = false;
  if (status < 0) return;
  fc_ocpp__registry_replace(o, r->out_chargers, r->out_count);
  o->registry_version = o->registry_version_next;
  fc_log(FC_LOG_NOTICE, NULL, "event=registry_reloaded chargers=%zu", r->out_count);
}

static void version_read(fc_read_t *r, int status, void *arg)
{
  fc_ocpp_t *o = arg;
  if (status < 0 || r->out_i64 == o->registry_version || o->shutting_down) {
    o->registry_loading = false;
    return;
  }
  fc_read_t *all = fc_read_new(FC_READ_CHARGERS, NULL);
  o->registry_version_next = r->out_i64;
  if (o->io.read(o->store, all, chargers_loaded, o) < 0) o->registry_loading = false;
}

void fc_ocpp__registry_tick(fc_ocpp_t *o)
{
  uint64_t now = fc_ocpp__now(o);
  if (o->registry_loading || now - o->last_registry_check < (uint64_t)o->cfg->registry_refresh)
    return;
  o->last_registry_check = now;
  o->registry_loading = true;
  if (o->io.read(o->store, fc_read_new(FC_READ_REGISTRY_VERSION, NULL), version_read, o) < 0)
    o->registry_loading = false;
}

#define UNKNOWN_LOG_MS 60000u

unsigned fc_ocpp__unknown_admit(fc_ocpp_t *o, const char *id)
{
  const fc_config_t *cfg = o->cfg;
  uint64_t now = fc_ocpp__now(o);
  double burst = (double)cfg->unknown_rate;
  if (now > o->unknown_tokens_at_ms) {
    o->unknown_tokens += (double)(now - o->unknown_tokens_at_ms) * cfg->unknown_rate / 60000.0;
    o->unknown_tokens_at_ms = now;
  }
  if (o->unknown_tokens > burst) o->unknown_tokens = burst;

  unsigned status;
  if (o->nunknown >= (size_t)cfg->unknown_max) {
    status = 503;
    o->stats.unknown_refused_max++;
  } else if (o->unknown_tokens < 1.0) {
    status = 429;
    o->stats.unknown_refused_rate++;
  } else {
    o->unknown_tokens -= 1.0;
    return 0;
  }
  o->unknown_refused++;
  if (!o->unknown_logged || now - o->unknown_log_ms >= UNKNOWN_LOG_MS) {
    fc_log_ctx_t ctx = {.cp = id};
    fc_log(FC_LOG_WARN, &ctx,
           "event=unknown_refused status=%u connected=%zu max=%d rate_per_min=%d "
           "refused_in_interval=%llu interval_s=%u",
           status, o->nunknown, cfg->unknown_max, cfg->unknown_rate,
           (unsigned long long)o->unknown_refused, UNKNOWN_LOG_MS / 1000);
    o->unknown_logged = true;
    o->unknown_log_ms = now;
    o->unknown_refused = 0;
  }
  return status;
}
