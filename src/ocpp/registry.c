/* The in-memory charger registry.
 *
 * The handshake must decide in microseconds, without a database read, so the
 * chargers table lives in memory too. It is loaded at start-up and refreshed
 * when the store's registry version moves (the CLI adding, removing or
 * re-keying a charger while the server runs): a cheap version read every
 * registry_refresh ms, and a full reload only when it changed. */
#include "ocpp/ocpp_int.h"

#include <string.h>

fc_regent_t *fc_ocpp__registry_find(fc_ocpp_t *o, const char *id)
{
  fc_regent_t *e = NULL;
  HASH_FIND_STR(o->registry, id, e);
  return e;
}

void fc_ocpp__registry_put(fc_ocpp_t *o, const char *id, fc_reg_t reg, const char *auth)
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
    fc_ocpp__registry_put(o, recs[i].id, reg, recs[i].auth);
  }
  /* Connected chargers follow the registry: a removed one is disconnected
   * when unknown chargers are refused; a changed registration applies at once. */
  fc_session_t *s, *tmp;
  HASH_ITER(hh, o->sessions, s, tmp)
  {
    fc_regent_t *e = fc_ocpp__registry_find(o, s->id);
    if (e) {
      s->reg = e->reg;
    } else if (o->cfg->unknown_chargers == FC_UNKNOWN_REJECT) {
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
  if (fc_store_read(o->store, all, chargers_loaded, o) < 0) o->registry_loading = false;
}

void fc_ocpp__registry_tick(fc_ocpp_t *o)
{
  uint64_t now = fc_ocpp__now(o);
  if (o->registry_loading || now - o->last_registry_check < (uint64_t)o->cfg->registry_refresh)
    return;
  o->last_registry_check = now;
  o->registry_loading = true;
  if (fc_store_read(o->store, fc_read_new(FC_READ_REGISTRY_VERSION, NULL), version_read, o) < 0)
    o->registry_loading = false;
}
