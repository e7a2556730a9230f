/* What api/ gets of the chargers (ocpp/) and the browsers (push/), which it
 * may not name (they are on its level): the hooks of fc_api_peers_t, and the
 * lines of /metrics that show their counters. */
#include "cli/cli_int.h"

#include "core/mem.h"

static size_t connected(void *chargers)
{
  return fc_ocpp_connections(chargers);
}

/* A command's callback: the chargers' outcome handed on as api/'s. */
typedef struct relay {
  fc_api_outcome_cb cb;
  void *arg;
} relay_t;

static void relay_cb(const fc_ocpp_outcome_t *o, void *arg)
{
  relay_t r = *(relay_t *)arg;
  fc_free(arg);
  fc_api_outcome_t out = {.status = o->status,
                          .state = o->state,
                          .sent = o->sent,
                          .result = o->result,
                          .err_code = o->err_code,
                          .err_desc = o->err_desc,
                          .timeout_ms = o->timeout_ms};
  r.cb(&out, r.arg);
}

static relay_t *relay_new(fc_api_outcome_cb cb, void *arg)
{
  relay_t *r = fc_malloc(sizeof(*r));
  *r = (relay_t){.cb = cb, .arg = arg};
  return r;
}

static void command(void *chargers, const char *charger, const char *name, const char *action,
                    json_t *payload, json_t *params, const char *by, fc_api_outcome_cb cb,
                    void *arg)
{
  fc_ocpp_command(chargers, charger, name, action, payload, params, by, 0, relay_cb,
                  relay_new(cb, arg));
}

static void command_local(void *chargers, const char *charger, const char *name, json_t *params,
                          const char *by, const char *state, json_t *result, fc_api_outcome_cb cb,
                          void *arg)
{
  fc_ocpp_command_local(chargers, charger, name, params, by, state, result, relay_cb,
                        relay_new(cb, arg));
}

static void rate_units(void *chargers, const char *charger,
                       void (*cb)(const char *units, void *arg), void *arg)
{
  fc_ocpp_rate_units(chargers, charger, cb, arg);
}

static int running_tx(void *chargers, const char *charger, int connector, int *connector_out,
                      int64_t *tx_out)
{
  return fc_ocpp_running_tx(chargers, charger, connector, connector_out, tx_out);
}

static int target_soc(void *chargers, const char *charger, int connector, double soc, bool next,
                      int *connector_out, int64_t *tx_out)
{
  return fc_ocpp_target_soc(chargers, charger, connector, soc, next, connector_out, tx_out);
}

static void chargers_metrics(void *chargers, fc_api_text_t *out)
{
  fc_ocpp_stats_t os;
  fc_ocpp_stats(chargers, &os);
  fc_api_text_printf(out,
                     "# TYPE flashcharge_ocpp_frames_total counter\n"
                     "flashcharge_ocpp_frames_total{direction=\"in\"} %llu\n"
                     "flashcharge_ocpp_frames_total{direction=\"out\"} %llu\n",
                     (unsigned long long)os.frames_in, (unsigned long long)os.frames_out);
  fc_api_text_printf(
      out, "# TYPE flashcharge_ocpp_calls_total counter\nflashcharge_ocpp_calls_total %llu\n",
      (unsigned long long)os.calls);
  fc_api_text_printf(out,
                     "# TYPE flashcharge_ocpp_callerrors_total counter\n"
                     "flashcharge_ocpp_callerrors_total %llu\n",
                     (unsigned long long)os.callerrors_sent);
  fc_api_text_printf(out,
                     "# TYPE flashcharge_ocpp_answer_timeouts_total counter\n"
                     "flashcharge_ocpp_answer_timeouts_total %llu\n",
                     (unsigned long long)os.answer_timeouts);
  fc_api_text_printf(out,
                     "# HELP flashcharge_ocpp_handshakes_refused_total Charger handshakes answered "
                     "with an HTTP error, by reason.\n"
                     "# TYPE flashcharge_ocpp_handshakes_refused_total counter\n");
  for (int i = 0; i < FC_OCPP_REFUSED_N; i++)
    fc_api_text_printf(out, "flashcharge_ocpp_handshakes_refused_total{reason=\"%s\"} %llu\n",
                       fc_ocpp_refusal_name((fc_ocpp_refusal_t)i),
                       (unsigned long long)os.refused[i]);
  fc_api_text_printf(
      out,
      "# HELP flashcharge_ocpp_login_table_entries Charger ids, addresses and pairs of "
      "them remembered by the failed-login throttle.\n"
      "# TYPE flashcharge_ocpp_login_table_entries gauge\n"
      "flashcharge_ocpp_login_table_entries %llu\n",
      (unsigned long long)os.login_table_entries);
  fc_api_text_printf(out,
                     "# HELP flashcharge_ocpp_throttled_total Pauses of a charger's reading: its "
                     "rate-limit bucket (rate-burst) was empty, or max-inflight calls were "
                     "committing.\n"
                     "# TYPE flashcharge_ocpp_throttled_total counter\n"
                     "flashcharge_ocpp_throttled_total %llu\n",
                     (unsigned long long)os.throttled);
  fc_api_text_printf(out,
                     "# HELP flashcharge_ocpp_handshake_tokens Charger handshakes that may start "
                     "now (charger-handshake-burst at most); beyond, 503 reason busy.\n"
                     "# TYPE flashcharge_ocpp_handshake_tokens gauge\n"
                     "flashcharge_ocpp_handshake_tokens %.0f\n",
                     os.handshake_tokens);
  fc_api_text_printf(out,
                     "# HELP flashcharge_ocpp_connector_refused_total connectorIds refused: beyond "
                     "--max-connectors, or negative.\n"
                     "# TYPE flashcharge_ocpp_connector_refused_total counter\n"
                     "flashcharge_ocpp_connector_refused_total %llu\n",
                     (unsigned long long)os.connectors_refused);
  fc_api_text_printf(
      out,
      "# HELP flashcharge_ocpp_clock_skew_total charger time stamps beyond --max-clock-skew "
      "ahead, ordered by arrival.\n"
      "# TYPE flashcharge_ocpp_clock_skew_total counter\n"
      "flashcharge_ocpp_clock_skew_total %llu\n",
      (unsigned long long)os.clock_skewed);
  fc_api_text_printf(
      out,
      "# HELP flashcharge_ocpp_unknown_refused_total Connections of chargers not in the "
      "registry refused: too many connected (max), too many a minute (rate).\n"
      "# TYPE flashcharge_ocpp_unknown_refused_total counter\n"
      "flashcharge_ocpp_unknown_refused_total{reason=\"max\"} %llu\n"
      "flashcharge_ocpp_unknown_refused_total{reason=\"rate\"} %llu\n",
      (unsigned long long)os.unknown_refused_max, (unsigned long long)os.unknown_refused_rate);
  fc_api_text_printf(
      out,
      "# HELP flashcharge_ocpp_limit_entries Charger ids whose rate limit and frame-log "
      "budget are remembered (bounded by --charger-state-max).\n"
      "# TYPE flashcharge_ocpp_limit_entries gauge\nflashcharge_ocpp_limit_entries %llu\n"
      "# TYPE flashcharge_ocpp_limit_evictions_total counter\n"
      "flashcharge_ocpp_limit_evictions_total %llu\n",
      (unsigned long long)os.limit_entries, (unsigned long long)os.limit_evictions);
  fc_api_text_printf(
      out,
      "# HELP flashcharge_frame_log_frames_total Frames of the frame log: stored whole or "
      "as head and length (truncated: past the budget, or refused), or not stored.\n"
      "# TYPE flashcharge_frame_log_frames_total counter\n"
      "flashcharge_frame_log_frames_total{result=\"stored\"} %llu\n"
      "flashcharge_frame_log_frames_total{result=\"truncated\"} %llu\n"
      "flashcharge_frame_log_frames_total{result=\"dropped_budget\"} %llu\n"
      "flashcharge_frame_log_frames_total{result=\"dropped_disk\"} %llu\n",
      (unsigned long long)os.frames_logged, (unsigned long long)os.frames_truncated,
      (unsigned long long)os.frames_dropped_budget, (unsigned long long)os.frames_dropped_disk);
  fc_api_text_printf(
      out,
      "# TYPE flashcharge_frame_log_bytes_total counter\n"
      "flashcharge_frame_log_bytes_total %llu\n"
      "# HELP flashcharge_frame_log_budget_bytes Frame-log bytes per charger per minute "
      "stored whole.\n"
      "# TYPE flashcharge_frame_log_budget_bytes gauge\n"
      "flashcharge_frame_log_budget_bytes %llu\n",
      (unsigned long long)os.frame_log_bytes, (unsigned long long)os.frame_log_budget);
}

static size_t browsers_connected(void *browsers)
{
  fc_push_stats_t ps;
  fc_push_stats(browsers, &ps);
  return (size_t)ps.clients;
}

static void browsers_metrics(void *browsers, fc_api_text_t *out)
{
  fc_push_stats_t ps;
  fc_push_stats(browsers, &ps);
  fc_api_text_printf(
      out, "# TYPE flashcharge_ui_frames_total counter\nflashcharge_ui_frames_total %llu\n",
      (unsigned long long)ps.frames_out);
  fc_api_text_printf(
      out, "# TYPE flashcharge_ui_events_total counter\nflashcharge_ui_events_total %llu\n",
      (unsigned long long)ps.events_out);
  fc_api_text_printf(
      out,
      "# HELP flashcharge_ui_coalesced_events Events replaced by a newer one in the queues "
      "of connected browsers.\n"
      "# TYPE flashcharge_ui_coalesced_events gauge\nflashcharge_ui_coalesced_events %llu\n",
      (unsigned long long)ps.coalesced);
  fc_api_text_printf(
      out, "# TYPE flashcharge_ui_lagged_total counter\nflashcharge_ui_lagged_total %llu\n",
      (unsigned long long)ps.lagged);
  fc_api_text_printf(
      out, "# TYPE flashcharge_ui_refused_total counter\nflashcharge_ui_refused_total %llu\n",
      (unsigned long long)ps.refused);
  fc_api_text_printf(out,
                     "# TYPE flashcharge_ui_queued_bytes gauge\nflashcharge_ui_queued_bytes %llu\n",
                     (unsigned long long)ps.queued_bytes);
  fc_api_text_printf(
      out,
      "# HELP flashcharge_ui_subscriptions Charger subscriptions of connected browsers.\n"
      "# TYPE flashcharge_ui_subscriptions gauge\nflashcharge_ui_subscriptions %llu\n",
      (unsigned long long)ps.subscriptions);
  fc_api_text_printf(
      out,
      "# HELP flashcharge_ui_subscriptions_waiting Of those, to chargers not seen yet "
      "(held without a bus channel until the charger's first event).\n"
      "# TYPE flashcharge_ui_subscriptions_waiting gauge\n"
      "flashcharge_ui_subscriptions_waiting %llu\n",
      (unsigned long long)ps.subscriptions_waiting);
  fc_api_text_printf(
      out,
      "# HELP flashcharge_ui_subscribe_refused_total Charger subscriptions refused to "
      "browsers past the limit per connection or per subject.\n"
      "# TYPE flashcharge_ui_subscribe_refused_total counter\n"
      "flashcharge_ui_subscribe_refused_total %llu\n",
      (unsigned long long)ps.sub_refused_limit);
  fc_api_text_printf(
      out,
      "# HELP flashcharge_ui_closed_total Browser connections closed 1008: token expired, "
      "or revoked (user removed, role changed).\n"
      "# TYPE flashcharge_ui_closed_total counter\n"
      "flashcharge_ui_closed_total{reason=\"expired\"} %llu\n"
      "flashcharge_ui_closed_total{reason=\"revoked\"} %llu\n",
      (unsigned long long)ps.closed_expired, (unsigned long long)ps.closed_revoked);
}

void fc_cli__api_peers(fc_ocpp_t *ocpp, fc_push_t *push, fc_api_peers_t *out)
{
  *out = (fc_api_peers_t){.chargers = ocpp,
                          .connected = connected,
                          .command = command,
                          .command_local = command_local,
                          .rate_units = rate_units,
                          .running_tx = running_tx,
                          .target_soc = target_soc,
                          .check_request = fc_ocpp_check_request,
                          .chargers_metrics = chargers_metrics,
                          .browsers = push,
                          .browsers_connected = browsers_connected,
                          .browsers_metrics = browsers_metrics};
}
