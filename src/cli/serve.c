/* flashcharge serve: wiring only.
 *
 * Start-up: config → store (migrations, threads) → central system (registry)
 * → web endpoints → sockets → run. Shutdown on SIGINT/SIGTERM, in phases so
 * that nothing confirmed is lost and nothing committing is cut short:
 *   1. refuse new connections, stop reading chargers (no new calls);
 *   2. wait until every call in progress is answered (bounded);
 *   3. close every charger connection with 1001 (going away);
 *   4. drain the store (everything queued commits);
 *   5. destroy the lws context, close handles, exit 0.
 * SIGTERM and SIGINT drain so; a second one while draining is logged and
 * ignored (the shutdown timeout bounds the wait).
 *
 * SIGHUP reloads the configuration: loaded anew from the same sources (the
 * file, the environment, the command line as given), the options that take
 * effect at once are applied to the configuration the modules hold (loop
 * thread; they read them where they use them), the vehicle models and the
 * tariff are read again, and TLS files where there are; each change is
 * logged with whether it applied or needs a restart. A file that does not
 * load changes nothing. */
#include "cli/cli_int.h"

#include "api/api.h"
#include "auth/jwt.h"
#include "core/mem.h"
#include "push/push.h"
#include "bus/bus.h"
#include "auth/auth.h"
#include "config/config.h"
#include "core/err.h"
#include "log/log.h"
#include "ocpp/ocpp.h"
#include "store/store.h"

#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <uv.h>

typedef enum { RUNNING, QUIESCING, CLOSING, DRAINING, DONE } phase_t;

typedef struct server {
  uv_loop_t loop;
  fc_config_t cfg;
  fc_store_t *store;
  fc_store_health_t health;
  fc_bus_t *bus;
  fc_ocpp_t *ocpp;
  fc_push_t *push;
  fc_jwt_cfg_t jwt;
  bool have_jwt;
  unsigned char *jwt_key;
  fc_api_t *api;
  fc_wire_t *wire; /* the sockets (wire.c) */
  uv_signal_t sigint, sigterm, sighup;
  int argc; /* the command line, for SIGHUP's reload */
  char **argv;
  uv_timer_t shutdown_timer;
  phase_t phase;
  uint64_t phase_at;
} server_t;

static void finish(server_t *sv)
{
  sv->phase = DONE;
  fc_cli__wire_stop(sv->wire);
  fc_ocpp_free(sv->ocpp);
  sv->ocpp = NULL;
  fc_push_free(sv->push);
  sv->push = NULL;
  uv_close((uv_handle_t *)&sv->sigint, NULL);
  uv_close((uv_handle_t *)&sv->sigterm, NULL);
  uv_close((uv_handle_t *)&sv->sighup, NULL);
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
      fc_push_close_all(sv->push);
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

static void change_cb(const char *name, const char *was, const char *now, bool applied, void *arg)
{
  (void)arg;
  char a[256], b[256];
  fc_log(FC_LOG_NOTICE, NULL, "event=config_changed option=%s from=\"%s\" to=\"%s\" %s", name,
         fc_log_esc(was, a, sizeof(a)), fc_log_esc(now, b, sizeof(b)),
         applied ? "applied=yes" : "applied=no needs=restart");
}

static bool same_json(json_t *a, json_t *b)
{
  return a == b || (a && b && json_equal(a, b));
}

static void reload(server_t *sv)
{
  fc_config_t fresh;
  int argc = sv->argc;
  char **argv = fc_malloc(((size_t)argc + 1) * sizeof(*argv));
  memcpy(argv, sv->argv, ((size_t)argc + 1) * sizeof(*argv));
  fc_config_init(&fresh);
  char esc[512];
  fc_log(FC_LOG_NOTICE, NULL, "event=reload config=\"%s\"",
         fc_log_esc(sv->cfg.config_file ? sv->cfg.config_file : "(none)", esc, sizeof(esc)));
  if (fc_config_load(&fresh, FC_OPT_SERVE, &argc, argv) < 0) {
    fc_log_level = (fc_log_level_t)sv->cfg.log_level;
    fc_log(FC_LOG_ERROR, NULL,
           "event=reload_failed msg=\"the configuration does not load (see "
           "above): nothing changed\"");
    goto out;
  }
  /* no web root given: found as at start (beside the binary), the same one */
  if (!fresh.web_root && sv->cfg.web_root) fresh.web_root = fc_strdup(sv->cfg.web_root);
  json_t *old = sv->cfg.file_json, *new = fresh.file_json;
  bool domain = !same_json(json_object_get(old, "models"), json_object_get(new, "models")) ||
                !same_json(json_object_get(old, "tariff"), json_object_get(new, "tariff"));
  int restart = fc_config_reload(&sv->cfg, &fresh, FC_OPT_SERVE, change_cb, sv);
  if (domain) {
    if (fc_ocpp_reload_domain(sv->ocpp) < 0) {
      fc_log(FC_LOG_ERROR, NULL,
             "event=config_changed option=models,tariff applied=no "
             "msg=\"not valid (see above): the old ones stay\"");
    } else {
      fc_log(FC_LOG_NOTICE, NULL, "event=config_changed option=models,tariff applied=yes");
    }
  }
  int tls = fc_cli__wire_reload(sv->wire); /* the TLS certificate files (net.h) */
  fc_log(FC_LOG_NOTICE, NULL, "event=reloaded needs_restart=%d tls=%s", restart,
         tls > 0    ? "reloaded"
         : tls == 0 ? "none"
                    : "failed");
out:
  fc_config_cleanup(&fresh);
  fc_free(argv);
}

static void sighup_cb(uv_signal_t *h, int signum)
{
  (void)signum;
  server_t *sv = h->data;
  if (sv->phase == RUNNING) reload(sv);
}

static unsigned char *read_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  unsigned char *buf = NULL;
  size_t cap = 0, n = 0;
  for (;;) {
    if (n == cap) {
      cap = cap ? cap * 2 : 4096;
      if (cap > (1u << 20)) break; /* no key file is a megabyte */
      buf = fc_realloc(buf, cap + 1);
    }
    size_t r = fread(buf + n, 1, cap - n, f);
    if (r == 0) break;
    n += r;
  }
  fclose(f);
  if (!buf) return NULL;
  buf[n] = '\0';
  *len = n;
  return buf;
}

/* The JWT key, as configured: HS256 with a secret (FLASHCHARGE_JWT_SECRET
 * or --jwt-secret-file), RS256/ES256 with a PEM public key. HS256 without a
 * configured secret: a random one made now, in memory only, so that the
 * server's own sign-in (POST /api/login) works out of the box; its tokens
 * die with the process, and `flashcharge token` cannot mint for it (set a
 * secret for that). RS256/ES256 without a key: /ws and /api refuse every
 * request (logged once). */
static int load_jwt(server_t *sv)
{
  const fc_config_t *c = &sv->cfg;
  static const int algs[] = {FC_JWT_HS256, FC_JWT_RS256, FC_JWT_ES256};
  size_t len = 0;
  sv->jwt.alg = algs[c->jwt_alg];
  if (sv->jwt.alg == FC_JWT_HS256) {
    if (c->jwt_secret_file) {
      sv->jwt_key = read_file(c->jwt_secret_file, &len);
      if (!sv->jwt_key) {
        fc_log(FC_LOG_ERROR, NULL, "event=config_error option=jwt-secret-file msg=\"cannot read\"");
        return FC_ERR_CONFIG;
      }
      while (len && (sv->jwt_key[len - 1] == '\n' || sv->jwt_key[len - 1] == '\r'))
        len--;
    } else if (c->jwt_secret) {
      len = strlen(c->jwt_secret);
      sv->jwt_key = (unsigned char *)fc_strdup(c->jwt_secret);
    }
    if (!sv->jwt_key) {
      unsigned char raw[32];
      randombytes_buf(raw, sizeof(raw));
      len = 2 * sizeof(raw);
      sv->jwt_key = fc_malloc(len + 1);
      sodium_bin2hex((char *)sv->jwt_key, len + 1, raw, sizeof(raw));
      sodium_memzero(raw, sizeof(raw));
      fc_log(FC_LOG_NOTICE, NULL,
             "event=jwt_secret_generated msg=\"no JWT secret configured: signing with a random "
             "one made at start (tokens end with the process; set FLASHCHARGE_JWT_SECRET to keep "
             "them and to mint with flashcharge token)\"");
    }
    if (sv->jwt_key && len < FC_JWT_HS_KEY_MIN) {
      fc_log(FC_LOG_ERROR, NULL,
             "event=config_error option=jwt-secret msg=\"an HS256 secret needs %d bytes at least\"",
             FC_JWT_HS_KEY_MIN);
      return FC_ERR_CONFIG;
    }
  } else if (c->jwt_public_key) {
    sv->jwt_key = read_file(c->jwt_public_key, &len);
    if (!sv->jwt_key) {
      fc_log(FC_LOG_ERROR, NULL, "event=config_error option=jwt-public-key msg=\"cannot read\"");
      return FC_ERR_CONFIG;
    }
  }
  if (!sv->jwt_key) {
    fc_log(FC_LOG_WARN, NULL,
           "event=no_jwt_key msg=\"no JWT key configured: /ws and /api refuse every request\"");
    return 0;
  }
  sv->jwt.key = sv->jwt_key;
  sv->jwt.key_len = len;
  sv->jwt.iss = c->jwt_iss;
  sv->jwt.aud = c->jwt_aud;
  sv->jwt.leeway_s = (unsigned)c->jwt_leeway;
  sv->have_jwt = true;
  fc_log(FC_LOG_INFO, NULL, "event=jwt alg=%s", fc_jwt_alg_name(sv->jwt.alg));
  return 0;
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

/* The admin alert: system.degraded when the store's breaker opens,
 * system.recovered when it closes. Not persisted (seq 0): it is about the
 * store itself, which is failing. */
static void health_cb(fc_store_health_t state, void *arg)
{
  server_t *sv = arg;
  if (state == FC_STORE_DOWN) {
    fc_log(FC_LOG_ERROR, NULL,
           "event=alert store=down msg=\"charger calls refused until it recovers\"");
  } else {
    fc_log(FC_LOG_NOTICE, NULL, "event=store_state state=%s",
           state == FC_STORE_OK ? "ok" : "degraded");
  }
  fc_event_type_t type = FC_EV_NONE;
  if (state == FC_STORE_DOWN && sv->health != FC_STORE_DOWN) type = FC_EV_DEGRADED;
  if (state == FC_STORE_OK && sv->health == FC_STORE_DOWN) type = FC_EV_RECOVERED;
  sv->health = state;
  if (type == FC_EV_NONE) return;
  fc_event_t *e = fc_event_make(
      type, "", 0, json_pack("{s:s}", "store", state == FC_STORE_DOWN ? "down" : "ok"));
  fc_bus_publish(sv->bus, e);
  fc_event_unref(e);
}

/* The disk's alert: system.degraded (reason "disk") when the free space
 * falls below a watermark (LOW: the frame log stopped; CRITICAL: the store
 * refuses writes), again when it falls further, system.recovered when it is
 * back above both. Not persisted (seq 0). */
static void disk_cb(fc_store_disk_t state, uint64_t free_bytes, void *arg)
{
  server_t *sv = arg;
  static const char *const names[] = {"ok", "low", "critical"};
  json_t *data =
      json_pack("{s:s, s:s, s:I, s:s, s:s}", "reason", "disk", "disk", names[state], "freeBytes",
                (json_int_t)free_bytes, "frameLog", state == FC_DISK_OK ? "on" : "stopped", "store",
                state == FC_DISK_CRITICAL ? "refusing writes" : "ok");
  fc_event_t *e =
      fc_event_make(state == FC_DISK_OK ? FC_EV_RECOVERED : FC_EV_DEGRADED, "", 0, data);
  fc_bus_publish(sv->bus, e);
  fc_event_unref(e);
}

int fc_cli__serve(int argc, char **argv)
{
  server_t sv;
  int rc, status = 1;

  memset(&sv, 0, sizeof(sv));
  sv.argc = argc;
  sv.argv = fc_malloc(((size_t)argc + 1) * sizeof(*sv.argv));
  memcpy(sv.argv, argv, (size_t)argc * sizeof(*argv));
  sv.argv[argc] = NULL;
  fc_config_init(&sv.cfg);
  if (fc_config_load(&sv.cfg, FC_OPT_SERVE, &argc, argv) < 0) {
    fc_config_cleanup(&sv.cfg);
    fc_free(sv.argv);
    return 2;
  }
  if (fc_cli__wants_help(argc, argv)) {
    serve_usage(stdout);
    fc_config_cleanup(&sv.cfg);
    fc_free(sv.argv);
    return 0;
  }
  if (fc_config_check(&sv.cfg) < 0) {
    fc_config_cleanup(&sv.cfg);
    fc_free(sv.argv);
    return 2;
  }
  if (argc > 1) {
    fprintf(stderr, "flashcharge serve: unknown argument '%s'\n", argv[1]);
    serve_usage(stderr);
    fc_config_cleanup(&sv.cfg);
    fc_free(sv.argv);
    return 2;
  }
  fc_log_route_lws();
  fc_cli__web_root(&sv.cfg);
  signal(SIGPIPE, SIG_IGN);
  if (fc_auth_init() < 0 || fc_ocpp_global_init() < 0) {
    fc_log(FC_LOG_ERROR, NULL, "event=init_failed");
    fc_config_cleanup(&sv.cfg);
    fc_free(sv.argv);
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
      .frame_retention_days = (unsigned)sv.cfg.frame_log_days,
      .event_retention_days = (unsigned)sv.cfg.event_days,
      .disk_check_ms = (unsigned)sv.cfg.disk_check_ms,
      .frame_log_min_free = (uint64_t)sv.cfg.frame_log_min_free << 20,
      .store_min_free = (uint64_t)sv.cfg.store_min_free << 20,
  };
  if ((rc = fc_store_open(&sv.loop, &so, &sv.store)) < 0) {
    fc_log(FC_LOG_ERROR, NULL, "event=store_open_failed db=%s err=%s", sv.cfg.db, fc_strerror(rc));
    goto out_loop;
  }
  fc_store_on_health(sv.store, health_cb, &sv);
  fc_store_on_disk(sv.store, disk_cb, &sv);
  int64_t last_conn_id = 0;
  /* Not fatal: a store that refuses writes now (its disk full) must not
   * keep the server down; the chargers stay online in the database until a
   * start that can write. */
  if ((rc = fc_cli__recover(&sv.loop, sv.store, &last_conn_id)) < 0)
    fc_log(FC_LOG_ERROR, NULL,
           "event=recover_failed err=%s msg=\"chargers the previous process left online are "
           "not closed\"",
           fc_strerror(rc));
  sv.bus = fc_bus_new();
  if ((rc = fc_bus_load(sv.bus, sv.store)) < 0) {
    fc_log(FC_LOG_ERROR, NULL, "event=init_failed module=bus err=%s", fc_strerror(rc));
    goto out_store;
  }
  if ((rc = fc_ocpp_new(&sv.loop, &sv.cfg, sv.store, sv.bus, &sv.ocpp)) < 0) {
    fc_log(FC_LOG_ERROR, NULL, "event=init_failed module=ocpp err=%s", fc_strerror(rc));
    goto out_store;
  }
  fc_ocpp_conn_ids_after(sv.ocpp, (uint64_t)last_conn_id);
  /* Signals are ours before the listening lines are printed: whoever
   * waits for them may signal at once. */
  uv_signal_init(&sv.loop, &sv.sigint);
  uv_signal_init(&sv.loop, &sv.sigterm);
  uv_signal_init(&sv.loop, &sv.sighup);
  uv_timer_init(&sv.loop, &sv.shutdown_timer);
  sv.sigint.data = sv.sigterm.data = sv.sighup.data = sv.shutdown_timer.data = &sv;
  uv_signal_start(&sv.sigint, signal_cb, SIGINT);
  uv_signal_start(&sv.sigterm, signal_cb, SIGTERM);
  if (load_jwt(&sv) < 0) goto out_ocpp;
  sv.push = fc_push_new(&sv.loop, &sv.cfg, sv.have_jwt ? &sv.jwt : NULL, sv.bus, sv.store);
  fc_api_peers_t peers;
  fc_cli__api_peers(sv.ocpp, sv.push, &peers);
  sv.api = fc_api_new(sv.store, sv.bus, &peers, sv.have_jwt ? &sv.jwt : NULL);
  if ((rc = fc_api_init(sv.api, &sv.loop, &sv.cfg)) < 0) {
    fc_log(FC_LOG_ERROR, NULL, "event=init_failed module=api err=%s", fc_strerror(rc));
    goto out_ocpp;
  }
  if ((rc = fc_cli__wire_start(&sv.loop, &sv.cfg, sv.ocpp, sv.api, sv.push, &sv.wire)) < 0)
    goto out_ocpp;
  fc_api_set_guard(sv.api, fc_cli__wire_guard(sv.wire));
  fc_api_set_net(sv.api, fc_cli__wire_net(sv.wire));
  uv_signal_start(&sv.sighup, sighup_cb,
                  SIGHUP); /* once the sockets exist: it reloads their TLS files */
  fc_api_login_announce(sv.api, strcmp(sv.cfg.bind, "0.0.0.0") ? sv.cfg.bind : "localhost",
                        fc_cli__wire_http_port(sv.wire));

  fc_log(FC_LOG_NOTICE, NULL, "event=started db=%s", sv.cfg.db);

  uv_run(&sv.loop, UV_RUN_DEFAULT);
  status = sv.phase == DONE ? 0 : 1;
  fc_store_close(sv.store);
  uv_run(&sv.loop, UV_RUN_DEFAULT);
  fc_cli__wire_free(sv.wire);
  fc_api_free(sv.api);
  fc_bus_free(sv.bus);
  goto out_loop;

out_ocpp:
  uv_close((uv_handle_t *)&sv.sigint, NULL);
  uv_close((uv_handle_t *)&sv.sigterm, NULL);
  uv_close((uv_handle_t *)&sv.sighup, NULL);
  uv_close((uv_handle_t *)&sv.shutdown_timer, NULL);
  if (sv.push) fc_push_free(sv.push);
  fc_ocpp_free(sv.ocpp);
out_store:
  fc_store_drain(sv.store, nothing, NULL);
  uv_run(&sv.loop, UV_RUN_DEFAULT);
  fc_store_close(sv.store);
  uv_run(&sv.loop, UV_RUN_DEFAULT);
  /* lws may still call the protocols while its context finishes closing:
   * what they point to goes last. */
  fc_cli__wire_free(sv.wire);
  if (sv.api) fc_api_free(sv.api);
  fc_bus_free(sv.bus);
out_loop:
  if (uv_loop_close(&sv.loop) != 0)
    fc_log(FC_LOG_WARN, NULL, "event=loop_not_closed msg=\"handles left open\"");
  fc_ocpp_global_cleanup();
  fc_config_cleanup(&sv.cfg);
  if (sv.jwt_key) {
    memset(sv.jwt_key, 0, sv.jwt.key_len);
    free(sv.jwt_key);
  }
  fc_free(sv.argv);
  return status;
}
