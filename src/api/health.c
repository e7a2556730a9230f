/* /healthz and /metrics.
 *
 * /healthz is for load balancers and alerting: 200 while the store commits,
 * 503 while its circuit breaker is open (calls are being refused), with a JSON
 * body saying why. /metrics is the Prometheus text format; with a metrics
 * token configured it answers only `Authorization: Bearer <that token>`
 * (compared in constant time), 401 otherwise. */
#include "api/api_int.h"

#include "core/mem.h"
#include "log/log.h"

#include <sodium.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *health_name(fc_store_health_t h)
{
  return h == FC_STORE_OK ? "ok" : h == FC_STORE_DEGRADED ? "degraded" : "down";
}

/* A growable text buffer for response bodies. */
typedef struct sbuf {
  char *p;
  size_t len, cap;
} sbuf_t;

__attribute__((format(printf, 2, 3))) static void sb_printf(sbuf_t *b, const char *fmt, ...)
{
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if (b->p && b->len + (size_t)n < b->cap) {
      b->len += (size_t)n;
      return;
    }
    b->cap = (b->cap ? b->cap * 2 : 1024) + (size_t)n;
    b->p = fc_realloc(b->p, b->cap);
  }
}

void fc_api__healthz(fc_req_t *r)
{
  fc_api_t *a = r->a;
  fc_store_health_t h = fc_store_health(a->store);
  static const char *const disk[] = {"ok", "low", "critical"};
  fc_store_disk_t d = fc_store_disk(a->store, NULL);
  char body[256];
  int n = snprintf(body, sizeof(body),
                   "{\"status\":\"%s\",\"store\":\"%s\",\"disk\":\"%s\",\"chargers\":%zu}\n",
                   h == FC_STORE_DOWN ? "unavailable" : "ok", health_name(h), disk[d],
                   fc_ocpp_connections(a->ocpp));
  fc_api__respond(r, h == FC_STORE_DOWN ? 503 : 200, "application/json", body, (size_t)n);
}

static const char *const hist_bounds[] = {"0.0001", "0.00025", "0.0005", "0.001", "0.0025", "0.005",
                                          "0.01",   "0.025",   "0.05",   "0.1",   "0.25",   "+Inf"};

/* A histogram of the store's (store.h), microseconds, as seconds. */
static void histogram(sbuf_t *b, const char *name, const char *help, const uint64_t *hist,
                      uint64_t sum_us, uint64_t count)
{
  unsigned long long cum = 0;
  sb_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
  for (size_t i = 0; i < FC_ARRAY_SIZE(hist_bounds); i++) {
    cum += hist[i];
    sb_printf(b, "%s_bucket{le=\"%s\"} %llu\n", name, hist_bounds[i], cum);
  }
  sb_printf(b, "%s_sum %.6f\n%s_count %llu\n", name, (double)sum_us / 1e6, name,
            (unsigned long long)count);
}

/* Whether the request may read /metrics. */
static bool metrics_allowed(fc_req_t *r)
{
  fc_api_t *a = r->a;
  if (!a->metrics_token) return true;
  char hdr[1100];
  int n = r->wsi ? lws_hdr_copy(r->wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION) : -1;
  bool ok = n > 7 && !strncasecmp(hdr, "Bearer ", 7) && (size_t)n - 7 == a->metrics_token_len &&
            sodium_memcmp(hdr + 7, a->metrics_token, a->metrics_token_len) == 0;
  sodium_memzero(hdr, sizeof(hdr));
  if (ok) return true;
  char ip[64] = "";
  if (r->wsi) lws_get_peer_simple(r->wsi, ip, sizeof(ip));
  a->stats.metrics_unauthorized++;
  if (fc_api__log_once(a, "metrics", ip))
    fc_log(FC_LOG_WARN, NULL,
           "event=http_refused reason=metrics_unauthorized peer=%s "
           "msg=\"logged once per address and minute\"",
           ip);
  fc_api__error(r, 401, "unauthorized", "/metrics needs its bearer token");
  return false;
}

void fc_api_set_guard(fc_api_t *a, const fc_guard_t *g)
{
  a->guard = g;
}

/* The connection guard's counts (net/guard.h). */
static void guard_metrics(sbuf_t *b, const fc_guard_t *g)
{
  static const char *const ports[] = {"ocpp", "web"};
  static const char *const reasons[] = {NULL, "rate", "concurrent"};
  fc_guard_stats_t gs;
  if (!g) return;
  fc_guard_stats(g, &gs);
  sb_printf(b, "# HELP flashcharge_connections_refused_total Connections closed at accept: too "
               "many new ones from the address (rate) or too many of its connections in "
               "handshake (concurrent).\n"
               "# TYPE flashcharge_connections_refused_total counter\n");
  for (int p = 0; p < FC_GUARD_NPORTS; p++)
    for (int w = 1; w < FC_GUARD_NREASONS; w++)
      sb_printf(b, "flashcharge_connections_refused_total{port=\"%s\",reason=\"%s\"} %llu\n",
                ports[p], reasons[w], (unsigned long long)gs.refused[p][w]);
  sb_printf(b, "# HELP flashcharge_handshakes_in_progress Connections not yet a WebSocket "
               "(in their handshake, or plain HTTP).\n"
               "# TYPE flashcharge_handshakes_in_progress gauge\n");
  for (int p = 0; p < FC_GUARD_NPORTS; p++)
    sb_printf(b, "flashcharge_handshakes_in_progress{port=\"%s\"} %llu\n", ports[p],
              (unsigned long long)gs.in_handshake[p]);
  sb_printf(b, "# HELP flashcharge_guard_addresses Client addresses remembered for the "
               "connection limits.\n"
               "# TYPE flashcharge_guard_addresses gauge\n");
  for (int p = 0; p < FC_GUARD_NPORTS; p++)
    sb_printf(b, "flashcharge_guard_addresses{port=\"%s\"} %llu\n", ports[p],
              (unsigned long long)gs.addresses[p]);
}

void fc_api__metrics(fc_req_t *r)
{
  fc_api_t *a = r->a;
  if (!metrics_allowed(r)) return;
  fc_store_stats_t ss;
  fc_ocpp_stats_t os;
  sbuf_t b = {0};
  fc_store_stats(a->store, &ss);
  fc_ocpp_stats(a->ocpp, &os);

  sb_printf(&b,
            "# HELP flashcharge_connections Open connections by kind.\n"
            "# TYPE flashcharge_connections gauge\n"
            "flashcharge_connections{kind=\"charger\"} %zu\n",
            fc_ocpp_connections(a->ocpp));
  fc_push_stats_t ps;
  fc_push_stats(a->push, &ps);
  sb_printf(&b, "flashcharge_connections{kind=\"browser\"} %llu\n", (unsigned long long)ps.clients);
  sb_printf(&b,
            "# TYPE flashcharge_ocpp_frames_total counter\n"
            "flashcharge_ocpp_frames_total{direction=\"in\"} %llu\n"
            "flashcharge_ocpp_frames_total{direction=\"out\"} %llu\n",
            (unsigned long long)os.frames_in, (unsigned long long)os.frames_out);
  sb_printf(&b, "# TYPE flashcharge_ocpp_calls_total counter\nflashcharge_ocpp_calls_total %llu\n",
            (unsigned long long)os.calls);
  sb_printf(&b,
            "# TYPE flashcharge_ocpp_callerrors_total counter\n"
            "flashcharge_ocpp_callerrors_total %llu\n",
            (unsigned long long)os.callerrors_sent);
  sb_printf(&b,
            "# TYPE flashcharge_ocpp_answer_timeouts_total counter\n"
            "flashcharge_ocpp_answer_timeouts_total %llu\n",
            (unsigned long long)os.answer_timeouts);
  sb_printf(&b, "# HELP flashcharge_ocpp_handshakes_refused_total Charger handshakes answered "
                "with an HTTP error, by reason.\n"
                "# TYPE flashcharge_ocpp_handshakes_refused_total counter\n");
  for (int i = 0; i < FC_OCPP_REFUSED_N; i++)
    sb_printf(&b, "flashcharge_ocpp_handshakes_refused_total{reason=\"%s\"} %llu\n",
              fc_ocpp_refusal_name((fc_ocpp_refusal_t)i), (unsigned long long)os.refused[i]);
  sb_printf(&b,
            "# HELP flashcharge_ocpp_login_table_entries Charger ids, addresses and pairs of "
            "them remembered by the failed-login throttle.\n"
            "# TYPE flashcharge_ocpp_login_table_entries gauge\n"
            "flashcharge_ocpp_login_table_entries %llu\n",
            (unsigned long long)os.login_table_entries);
  guard_metrics(&b, a->guard);
  sb_printf(&b,
            "# HELP flashcharge_ocpp_throttled_total Pauses of a charger's reading: its "
            "rate-limit bucket (rate-burst) was empty, or max-inflight calls were committing.\n"
            "# TYPE flashcharge_ocpp_throttled_total counter\n"
            "flashcharge_ocpp_throttled_total %llu\n",
            (unsigned long long)os.throttled);
  sb_printf(&b,
            "# HELP flashcharge_ocpp_handshake_tokens Charger handshakes that may start now "
            "(charger-handshake-burst at most); beyond, 503 reason busy.\n"
            "# TYPE flashcharge_ocpp_handshake_tokens gauge\n"
            "flashcharge_ocpp_handshake_tokens %.0f\n",
            os.handshake_tokens);
  sb_printf(&b,
            "# HELP flashcharge_ocpp_connector_refused_total connectorIds refused: beyond "
            "--max-connectors, or negative.\n"
            "# TYPE flashcharge_ocpp_connector_refused_total counter\n"
            "flashcharge_ocpp_connector_refused_total %llu\n",
            (unsigned long long)os.connectors_refused);
  sb_printf(&b,
            "# HELP flashcharge_ocpp_clock_skew_total charger time stamps beyond --max-clock-skew "
            "ahead, ordered by arrival.\n"
            "# TYPE flashcharge_ocpp_clock_skew_total counter\n"
            "flashcharge_ocpp_clock_skew_total %llu\n",
            (unsigned long long)os.clock_skewed);
  sb_printf(&b,
            "# HELP flashcharge_ocpp_unknown_refused_total Connections of chargers not in the "
            "registry refused: too many connected (max), too many a minute (rate).\n"
            "# TYPE flashcharge_ocpp_unknown_refused_total counter\n"
            "flashcharge_ocpp_unknown_refused_total{reason=\"max\"} %llu\n"
            "flashcharge_ocpp_unknown_refused_total{reason=\"rate\"} %llu\n",
            (unsigned long long)os.unknown_refused_max,
            (unsigned long long)os.unknown_refused_rate);
  sb_printf(&b,
            "# HELP flashcharge_ocpp_limit_entries Charger ids whose rate limit and frame-log "
            "budget are remembered (bounded by --charger-state-max).\n"
            "# TYPE flashcharge_ocpp_limit_entries gauge\nflashcharge_ocpp_limit_entries %llu\n"
            "# TYPE flashcharge_ocpp_limit_evictions_total counter\n"
            "flashcharge_ocpp_limit_evictions_total %llu\n",
            (unsigned long long)os.limit_entries, (unsigned long long)os.limit_evictions);
  sb_printf(&b,
            "# HELP flashcharge_frame_log_frames_total Frames of the frame log: stored whole or "
            "as head and length (truncated: past the budget, or refused), or not stored.\n"
            "# TYPE flashcharge_frame_log_frames_total counter\n"
            "flashcharge_frame_log_frames_total{result=\"stored\"} %llu\n"
            "flashcharge_frame_log_frames_total{result=\"truncated\"} %llu\n"
            "flashcharge_frame_log_frames_total{result=\"dropped_budget\"} %llu\n"
            "flashcharge_frame_log_frames_total{result=\"dropped_disk\"} %llu\n",
            (unsigned long long)os.frames_logged, (unsigned long long)os.frames_truncated,
            (unsigned long long)os.frames_dropped_budget,
            (unsigned long long)os.frames_dropped_disk);
  sb_printf(&b,
            "# TYPE flashcharge_frame_log_bytes_total counter\n"
            "flashcharge_frame_log_bytes_total %llu\n"
            "# HELP flashcharge_frame_log_budget_bytes Frame-log bytes per charger per minute "
            "stored whole.\n"
            "# TYPE flashcharge_frame_log_budget_bytes gauge\n"
            "flashcharge_frame_log_budget_bytes %llu\n",
            (unsigned long long)os.frame_log_bytes, (unsigned long long)os.frame_log_budget);
  uint64_t free_bytes;
  fc_store_disk_t disk = fc_store_disk(a->store, &free_bytes);
  sb_printf(&b,
            "# HELP flashcharge_disk_free_bytes Free space on the database's filesystem at the "
            "last check.\n"
            "# TYPE flashcharge_disk_free_bytes gauge\nflashcharge_disk_free_bytes %llu\n"
            "# HELP flashcharge_disk_state 0 ok, 1 below the frame log's watermark (stopped), 2 "
            "below the store's (writes refused).\n"
            "# TYPE flashcharge_disk_state gauge\nflashcharge_disk_state %d\n"
            "# TYPE flashcharge_store_disk_refused_total counter\n"
            "flashcharge_store_disk_refused_total %llu\n",
            (unsigned long long)free_bytes, (int)disk, (unsigned long long)ss.disk_refused);
  sb_printf(&b,
            "# HELP flashcharge_store_up 1 when the store commits, 0 while its breaker is open.\n"
            "# TYPE flashcharge_store_up gauge\nflashcharge_store_up %d\n",
            fc_store_health(a->store) != FC_STORE_DOWN);
  sb_printf(&b,
            "# TYPE flashcharge_store_writes_total counter\n"
            "flashcharge_store_writes_total{result=\"ok\"} %llu\n"
            "flashcharge_store_writes_total{result=\"failed\"} %llu\n",
            (unsigned long long)ss.writes_ok, (unsigned long long)ss.writes_failed);
  sb_printf(&b, "# TYPE flashcharge_store_queue_depth gauge\nflashcharge_store_queue_depth %llu\n",
            (unsigned long long)ss.queue_depth);
  histogram(&b, "flashcharge_store_commit_seconds",
            "Latency of one group commit, from its start until it is on disk.", ss.commit_us_hist,
            ss.commit_us_sum, ss.commits);
  histogram(&b, "flashcharge_store_sync_seconds",
            "Latency of one fsync of the WAL; each covers every commit before it.", ss.sync_us_hist,
            ss.sync_us_sum, ss.syncs);
  sb_printf(&b, "# TYPE flashcharge_bus_events_total counter\nflashcharge_bus_events_total %llu\n",
            (unsigned long long)fc_bus_published(a->bus));
  sb_printf(&b, "# TYPE flashcharge_ui_frames_total counter\nflashcharge_ui_frames_total %llu\n",
            (unsigned long long)ps.frames_out);
  sb_printf(&b, "# TYPE flashcharge_ui_events_total counter\nflashcharge_ui_events_total %llu\n",
            (unsigned long long)ps.events_out);
  sb_printf(&b,
            "# HELP flashcharge_ui_coalesced_events Events replaced by a newer one in the queues "
            "of connected browsers.\n"
            "# TYPE flashcharge_ui_coalesced_events gauge\nflashcharge_ui_coalesced_events %llu\n",
            (unsigned long long)ps.coalesced);
  sb_printf(&b, "# TYPE flashcharge_ui_lagged_total counter\nflashcharge_ui_lagged_total %llu\n",
            (unsigned long long)ps.lagged);
  sb_printf(&b, "# TYPE flashcharge_ui_refused_total counter\nflashcharge_ui_refused_total %llu\n",
            (unsigned long long)ps.refused);
  sb_printf(&b, "# TYPE flashcharge_ui_queued_bytes gauge\nflashcharge_ui_queued_bytes %llu\n",
            (unsigned long long)ps.queued_bytes);
  sb_printf(&b,
            "# HELP flashcharge_ui_subscriptions Charger subscriptions of connected browsers.\n"
            "# TYPE flashcharge_ui_subscriptions gauge\nflashcharge_ui_subscriptions %llu\n",
            (unsigned long long)ps.subscriptions);
  sb_printf(&b,
            "# HELP flashcharge_ui_subscriptions_waiting Of those, to chargers not seen yet "
            "(held without a bus channel until the charger's first event).\n"
            "# TYPE flashcharge_ui_subscriptions_waiting gauge\n"
            "flashcharge_ui_subscriptions_waiting %llu\n",
            (unsigned long long)ps.subscriptions_waiting);
  sb_printf(&b,
            "# HELP flashcharge_ui_subscribe_refused_total Charger subscriptions refused to "
            "browsers past the limit per connection or per subject.\n"
            "# TYPE flashcharge_ui_subscribe_refused_total counter\n"
            "flashcharge_ui_subscribe_refused_total %llu\n",
            (unsigned long long)ps.sub_refused_limit);
  sb_printf(&b,
            "# HELP flashcharge_bus_channels Charger channels of the bus (chargers seen, and "
            "chargers subscribed to).\n"
            "# TYPE flashcharge_bus_channels gauge\nflashcharge_bus_channels %zu\n",
            fc_bus_channels(a->bus));
  sb_printf(&b,
            "# HELP flashcharge_ui_closed_total Browser connections closed 1008: token expired, "
            "or revoked (user removed, role changed).\n"
            "# TYPE flashcharge_ui_closed_total counter\n"
            "flashcharge_ui_closed_total{reason=\"expired\"} %llu\n"
            "flashcharge_ui_closed_total{reason=\"revoked\"} %llu\n",
            (unsigned long long)ps.closed_expired, (unsigned long long)ps.closed_revoked);
  fc_login_stats_t ls;
  fc_api__login_stats(a, &ls);
  sb_printf(&b,
            "# HELP flashcharge_login_total Sign-ins by answer: ok 200, refused 401, throttled "
            "429 (a failure limit), busy 503 (the queue is full).\n"
            "# TYPE flashcharge_login_total counter\n"
            "flashcharge_login_total{result=\"ok\"} %llu\n"
            "flashcharge_login_total{result=\"refused\"} %llu\n"
            "flashcharge_login_total{result=\"throttled\"} %llu\n"
            "flashcharge_login_total{result=\"busy\"} %llu\n",
            (unsigned long long)ls.ok, (unsigned long long)ls.refused,
            (unsigned long long)ls.throttled, (unsigned long long)ls.busy);
  sb_printf(&b,
            "# TYPE flashcharge_login_verifications_total counter\n"
            "flashcharge_login_verifications_total %llu\n"
            "# TYPE flashcharge_login_running gauge\nflashcharge_login_running %llu\n"
            "# TYPE flashcharge_login_queued gauge\nflashcharge_login_queued %llu\n",
            (unsigned long long)ls.verifications, (unsigned long long)ls.running,
            (unsigned long long)ls.queued);
  sb_printf(&b,
            "# HELP flashcharge_http_refused_total Web-port requests refused: "
            "ambiguous_length (Content-Length with Transfer-Encoding, 400), transfer_encoding "
            "(411), pipelined (behind an "
            "answer still pending: closed), metrics_unauthorized (401).\n"
            "# TYPE flashcharge_http_refused_total counter\n"
            "flashcharge_http_refused_total{reason=\"ambiguous_length\"} %llu\n"
            "flashcharge_http_refused_total{reason=\"transfer_encoding\"} %llu\n"
            "flashcharge_http_refused_total{reason=\"pipelined\"} %llu\n"
            "flashcharge_http_refused_total{reason=\"metrics_unauthorized\"} %llu\n",
            (unsigned long long)a->stats.ambiguous_length, (unsigned long long)a->stats.chunked,
            (unsigned long long)a->stats.pipelined_closed,
            (unsigned long long)a->stats.metrics_unauthorized);
  fc_api__respond_owned(r, 200, "text/plain; version=0.0.4", b.p, b.len);
}
