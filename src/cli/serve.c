/* flashcharge serve: wiring only.
 *
 * Start-up: config → store (migrations, threads) → central system (registry)
 * → web endpoints → sockets → run. Shutdown on SIGINT/SIGTERM, in phases so
 * that nothing confirmed is lost and nothing committing is cut short:
 *   1. refuse new connections, stop reading chargers (no new calls);
 *   2. wait until every call in progress is answered (bounded);
 *   3. close every charger connection with 1001 (going away);
 *   4. drain the store (everything queued commits);
 *   5. destroy the lws context, close handles, exit 0. */
#include "cli/cli_int.h"

#include "api/api.h"
#include "auth/auth.h"
#include "config/config.h"
#include "core/err.h"
#include "log/log.h"
#include "net/net.h"
#include "ocpp/ocpp.h"
#include "store/store.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

typedef enum { RUNNING, QUIESCING, CLOSING, DRAINING, DONE } phase_t;

typedef struct server {
  uv_loop_t loop;
  fc_config_t cfg;
  fc_store_t *store;
  fc_ocpp_t *ocpp;
  fc_api_t *api;
  fc_net_t *net;
  uv_signal_t sigint, sigterm;
  uv_timer_t shutdown_timer;
  phase_t phase;
  uint64_t phase_at;
} server_t;

static void finish(server_t *sv)
{
  sv->phase = DONE;
  fc_net_stop(sv->net);
  fc_ocpp_free(sv->ocpp);
  sv->ocpp = NULL;
  uv_close((uv_handle_t *)&sv->sigint, NULL);
  uv_close((uv_handle_t *)&sv->sigterm, NULL);
  uv_close((uv_handle_t *)&sv->shutdown_timer, NULL);
  fc_log(FC_LOG_NOTICE, NULL, "event=stopped");
}

static void nothing(void *arg)
{
  (void)arg;
}

static void drained_cb(void *arg)
{
  finish(arg);
}

static void shutdown_tick(uv_timer_t *t)
{
  server_t *sv = t->data;
  uint64_t now = uv_now(&sv->loop), in_phase = now - sv->phase_at;
  uint64_t budget = (uint64_t)sv->cfg.shutdown_timeout;

  switch (sv->phase) {
  case QUIESCING:
    if (fc_ocpp_idle(sv->ocpp) || in_phase >= budget) {
      fc_ocpp_close_all(sv->ocpp);
      sv->phase = CLOSING;
      sv->phase_at = now;
    }
    break;
  case CLOSING:
    if (fc_ocpp_connections(sv->ocpp) == 0 || in_phase >= 2000) {
      sv->phase = DRAINING;
      sv->phase_at = now;
      uv_timer_stop(&sv->shutdown_timer);
      fc_store_drain(sv->store, drained_cb, sv);
    }
    break;
  default:
    break;
  }
}

static void signal_cb(uv_signal_t *h, int signum)
{
  server_t *sv = h->data;
  if (sv->phase != RUNNING) {
    fc_log(FC_LOG_WARN, NULL, "event=signal signal=%d msg=\"already shutting down\"", signum);
    return;
  }
  fc_log(FC_LOG_NOTICE, NULL, "event=shutdown signal=%d", signum);
  sv->phase = QUIESCING;
  sv->phase_at = uv_now(&sv->loop);
  fc_ocpp_begin_shutdown(sv->ocpp);
  uv_timer_start(&sv->shutdown_timer, shutdown_tick, 0, 20);
}

static void serve_usage(FILE *f)
{
  fprintf(f, "usage: flashcharge serve [options]\n\n"
             "Runs the OCPP 1.6J central system (chargers connect to\n"
             "ws://HOST:OCPP_PORT/ocpp/<chargeBoxId>) and the web endpoints.\n"
             "Options (each also FLASHCHARGE_<NAME> in the environment, or a key of the\n"
             "--config JSON file with '-' written '_'):\n\n");
  fc_config_usage(f, FC_OPT_SERVE);
}

static void health_cb(fc_store_health_t state, void *arg)
{
  (void)arg;
  if (state == FC_STORE_DOWN)
    fc_log(FC_LOG_ERROR, NULL,
           "event=alert store=down msg=\"charger calls refused until it recovers\"");
  else
    fc_log(FC_LOG_NOTICE, NULL, "event=store_state state=%s",
           state == FC_STORE_OK ? "ok" : "degraded");
}

int fc_cli__serve(int argc, char **argv)
{
  server_t sv;
  int rc, status = 1;

  memset(&sv, 0, sizeof(sv));
  fc_config_init(&sv.cfg);
  if (fc_config_load(&sv.cfg, FC_OPT_SERVE, &argc, argv) < 0) {
    fc_config_cleanup(&sv.cfg);
    return 2;
  }
  if (fc_cli__wants_help(argc, argv)) {
    serve_usage(stdout);
    fc_config_cleanup(&sv.cfg);
    return 0;
  }
  if (argc > 1) {
    fprintf(stderr, "flashcharge serve: unknown argument '%s'\n", argv[1]);
    serve_usage(stderr);
    fc_config_cleanup(&sv.cfg);
    return 2;
  }
  fc_log_route_lws();
  signal(SIGPIPE, SIG_IGN);
  if (fc_auth_init() < 0 || fc_ocpp_global_init() < 0) {
    fc_log(FC_LOG_ERROR, NULL, "event=init_failed");
    fc_config_cleanup(&sv.cfg);
    return 1;
  }
  uv_loop_init(&sv.loop);

  fc_store_opts_t so = {
      .path = sv.cfg.db,
      .batch_max = (unsigned)sv.cfg.store_batch_max,
      .retry_max = (unsigned)sv.cfg.store_retry_max,
      .retry_base_ms = 25,
      .breaker_threshold = (unsigned)sv.cfg.store_breaker_threshold,
      .probe_interval_ms = (unsigned)sv.cfg.store_probe_interval,
      .readers = 2,
      .fault_file = sv.cfg.fault_file,
  };
  if ((rc = fc_store_open(&sv.loop, &so, &sv.store)) < 0) {
    fc_log(FC_LOG_ERROR, NULL, "event=store_open_failed db=%s err=%s", sv.cfg.db, fc_strerror(rc));
    goto out_loop;
  }
  fc_store_on_health(sv.store, health_cb, &sv);
  if ((rc = fc_ocpp_new(&sv.loop, &sv.cfg, sv.store, &sv.ocpp)) < 0) {
    fc_log(FC_LOG_ERROR, NULL, "event=init_failed module=ocpp err=%s", fc_strerror(rc));
    goto out_store;
  }
  sv.api = fc_api_new(sv.store, sv.ocpp);
  if ((rc = fc_net_start(&sv.loop, &sv.cfg, sv.ocpp, sv.api, &sv.net)) < 0) goto out_ocpp;

  uv_signal_init(&sv.loop, &sv.sigint);
  uv_signal_init(&sv.loop, &sv.sigterm);
  uv_timer_init(&sv.loop, &sv.shutdown_timer);
  sv.sigint.data = sv.sigterm.data = sv.shutdown_timer.data = &sv;
  uv_signal_start(&sv.sigint, signal_cb, SIGINT);
  uv_signal_start(&sv.sigterm, signal_cb, SIGTERM);
  fc_log(FC_LOG_NOTICE, NULL, "event=started db=%s", sv.cfg.db);

  uv_run(&sv.loop, UV_RUN_DEFAULT);
  status = sv.phase == DONE ? 0 : 1;
  fc_store_close(sv.store);
  uv_run(&sv.loop, UV_RUN_DEFAULT);
  fc_net_free(sv.net);
  fc_api_free(sv.api);
  goto out_loop;

out_ocpp:
  fc_api_free(sv.api);
  fc_ocpp_free(sv.ocpp);
out_store:
  fc_store_drain(sv.store, nothing, NULL);
  uv_run(&sv.loop, UV_RUN_DEFAULT);
  fc_store_close(sv.store);
  uv_run(&sv.loop, UV_RUN_DEFAULT);
out_loop:
  if (uv_loop_close(&sv.loop) != 0)
    fc_log(FC_LOG_WARN, NULL, "event=loop_not_closed msg=\"handles left open\"");
  fc_ocpp_global_cleanup();
  fc_config_cleanup(&sv.cfg);
  return status;
}
