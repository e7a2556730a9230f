/* The central system object: registry, sessions, timers. */
#include "ocpp/ocpp_int.h"

#include <string.h>

#define TICK_MS 50

static void tick_cb(uv_timer_t *t)
{
  fc_ocpp_t *o = t->data;
  uint64_t now = fc_ocpp__now(o);

  fc_ocpp__throttle_tick(o);
  fc_ocpp__outcall_tick(o);
  fc_auth_throttle_tick(o->throttle, now);
  if (o->shutting_down) return;
  fc_ocpp__registry_tick(o);

  /* A charger silent for twice its heartbeat interval is gone, whatever its
   * TCP connection says: close it, which marks it offline. */
  if (now - o->last_silence_check >= 1000) {
    o->last_silence_check = now;
    fc_ocpp__limits_tick(o);
    fc_ocpp__sched_tick(o);
    uint64_t limit = 2000ull * (uint64_t)o->cfg->heartbeat_interval;
    fc_session_t *s, *tmp;
    HASH_ITER(hh, o->sessions, s, tmp)
    {
      if (now - s->last_rx_ms > limit) {
        fc_log(FC_LOG_NOTICE, &s->log, "event=silent seconds=%llu",
               (unsigned long long)((now - s->last_rx_ms) / 1000));
        fc_ocpp__session_close(s, LWS_CLOSE_STATUS_GOINGAWAY,
                               "no message for two heartbeat intervals");
      }
    }
  }
}

static void register_known_vendors(fc_ocpp_t *o)
{
  /* flashCharge's own vendor id is known even before any of its messages
   * has a handler, so that its unknown messages get UnknownMessageId. */
  fc_ocpp_on_datatransfer(o, "flashCharge", NULL, NULL, NULL);
}

int fc_ocpp_new(uv_loop_t *loop, const fc_config_t *cfg, fc_store_t *store, fc_bus_t *bus,
                fc_ocpp_t **out)
{
  fc_charger_rec_t *recs = NULL;
  size_t n = 0;
  int rc;

  fc_ocpp_t *o = fc_calloc(1, sizeof(*o));
  o->loop = loop;
  o->cfg = cfg;
  o->store = store;
  o->bus = bus;
  o->io = (fc_ocpp_io_t){fc_store_submit, fc_store_read, fc_bus_publish_write};
  fc_ocpp__bounds_init(o);
  if ((rc = fc_store_load_chargers(store, &recs, &n)) < 0) {
    fc_free(o);
    return rc;
  }
  fc_ocpp__registry_replace(o, recs, n);
  fc_charger_recs_free(recs, n);
  o->registry_version = -1; /* the first check reloads once more, harmlessly */
  o->last_registry_check = uv_now(loop);
  o->unknown_tokens = (double)cfg->unknown_rate;
  o->unknown_tokens_at_ms = uv_now(loop);
  fc_bucket_init(&o->hs_bucket, (double)cfg->charger_hs_burst, uv_now(loop));
  register_known_vendors(o);
  if ((rc = fc_models_load(&o->models, cfg->file_json)) < 0) {
    fc_ocpp__registry_free(o);
    fc_free(o);
    return rc;
  }
  if ((rc = fc_tariff_load(&o->tariff, cfg->file_json)) < 0) {
    fc_models_cleanup(&o->models);
    fc_ocpp__registry_free(o);
    fc_free(o);
    return rc;
  }
  fc_ocpp__precharge_register(o);
  fc_auth_throttle_opts_t to = {
      .max_pair = (unsigned)cfg->auth_fail_max,
      .max_addr = (unsigned)cfg->auth_fail_max_ip,
      .max_id = (unsigned)cfg->auth_fail_max_id,
      .window_ms = 1000u * (unsigned)cfg->auth_fail_window,
      .table_size = (unsigned)cfg->handshake_table_size,
      .log_interval_ms = 1000u * (unsigned)cfg->handshake_log_interval,
  };
  o->throttle = fc_auth_throttle_new(&to);

  uv_timer_init(loop, &o->deadline_timer);
  o->deadline_timer.data = o;
  uv_timer_init(loop, &o->tick_timer);
  o->tick_timer.data = o;
  uv_timer_start(&o->tick_timer, tick_cb, TICK_MS, TICK_MS);
  fc_soon_init(&o->soon, loop, fc_wsconn_flush_cb, o);
  fc_log(FC_LOG_INFO, NULL, "event=registry_loaded chargers=%zu", n);
  *out = o;
  return 0;
}

int fc_ocpp_global_init(void)
{
  return fc_ocpp__validate_init();
}

void fc_ocpp_global_cleanup(void)
{
  fc_ocpp__validate_cleanup();
}

void fc_ocpp_begin_shutdown(fc_ocpp_t *o)
{
  o->shutting_down = true;
  fc_session_t *s, *tmp;
  HASH_ITER(hh, o->sessions, s, tmp)
  {
    if (s->conn.wsi) lws_rx_flow_control(s->conn.wsi, 0);
  }
}

bool fc_ocpp_idle(const fc_ocpp_t *o)
{
  return o->dl_head == NULL;
}

void fc_ocpp_close_all(fc_ocpp_t *o)
{
  o->shutting_down = true;
  fc_session_t *s, *tmp;
  HASH_ITER(hh, o->sessions, s, tmp)
  {
    fc_ocpp__session_close(s, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
  }
}

static void handle_closed(uv_handle_t *h)
{
  fc_ocpp_t *o = h->data;
  if (++o->closed_handles == 4) {
    fc_ocpp__registry_free(o);
    fc_ocpp__limits_free(o);
    fc_ocpp__sched_free(o);
    fc_ocpp__rateunit_free(o);
    fc_ocpp__cpstates_free(o);
    fc_models_cleanup(&o->models);
    fc_auth_throttle_free(o->throttle);
    fc_dt_handler_t *d = o->dt_handlers;
    while (d) {
      fc_dt_handler_t *next = d->next;
      fc_free(d);
      d = next;
    }
    fc_free(o);
  }
}

void fc_ocpp_free(fc_ocpp_t *o)
{
  /* Calls still waiting for the store hold their sessions; they are
   * answered (into closed sockets) and freed as the store drains, which
   * happens before this is called. */
  while (o->dl_head)
    fc_ocpp__answer_internal(o->dl_head, FC_OCPP_WAIT_WRITE, FC_ERR_SHUTDOWN);
  fc_ocpp__throttle_tick(o);
  uv_timer_stop(&o->tick_timer);
  uv_timer_stop(&o->deadline_timer);
  uv_close((uv_handle_t *)&o->tick_timer, handle_closed);
  uv_close((uv_handle_t *)&o->deadline_timer, handle_closed);
  fc_soon_close(&o->soon, handle_closed, o);
}

size_t fc_ocpp_connections(const fc_ocpp_t *o)
{
  return o->nsessions;
}

int fc_ocpp_reload_domain(fc_ocpp_t *o)
{
  fc_models_t m;
  fc_tariff_t t;
  int rc = fc_models_load(&m, o->cfg->file_json);
  if (rc < 0) return rc;
  if ((rc = fc_tariff_load(&t, o->cfg->file_json)) < 0) {
    fc_models_cleanup(&m);
    return rc;
  }
  fc_models_cleanup(&o->models); /* charger states hold copies of models, not pointers */
  o->models = m;
  o->tariff = t;
  return 0;
}

void fc_ocpp_conn_ids_after(fc_ocpp_t *o, uint64_t last)
{
  if (last > o->next_conn_id) o->next_conn_id = last;
}

void fc_ocpp_stats(const fc_ocpp_t *o, fc_ocpp_stats_t *out)
{
  fc_auth_throttle_stats_t ts;
  *out = o->stats;
  fc_auth_throttle_stats(o->throttle, &ts);
  out->login_table_entries = ts.entries;
  out->limit_entries = HASH_COUNT(o->limits);
  out->frame_log_budget = (uint64_t)o->cfg->frame_log_budget;
  uint64_t now = fc_ocpp__now(o);
  fc_bucket_t hs = o->hs_bucket; /* what it would hold now, without changing it */
  out->handshake_tokens =
      fc_bucket_refill(&hs, now, o->cfg->charger_hs_rate, o->cfg->charger_hs_burst);
}

const char *fc_ocpp_refusal_name(fc_ocpp_refusal_t why)
{
  static const char *const names[] = {
      "bad_request",   "shutting_down", "unknown_charger",  "bad_credentials",   "throttled",
      "unknown_limit", "busy",          "security_profile", "client_certificate"};
  return (unsigned)why < FC_OCPP_REFUSED_N ? names[why] : "unknown";
}

int fc_ocpp_check_request(const char *action, const json_t *payload, char *why, size_t whysz)
{
  fc_ocpp_verr_t err;
  int rc = fc_ocpp__validate(action, false, payload, 0, &err);
  if (rc < 0 && why && whysz) snprintf(why, whysz, "%s", err.desc);
  return rc;
}

bool fc_ocpp_int_value(const json_t *v, long long *out)
{
  return fc_ocpp__int_value(v, out);
}
