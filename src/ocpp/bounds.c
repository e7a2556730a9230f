/* What a charger may make us keep, beyond what the OCPP schemas bound.
 *
 * Connector ids. The schemas say "integer" and nothing more, yet each id a
 * charger names becomes a connector of its own in the read model, in every
 * snapshot and in the handlers' state: 24,000 ids made one charger's
 * snapshot 3.2 MB, larger than a browser's queue, so that every new
 * subscriber was dropped at once. So an id must be 0..max_connector, read
 * 64-bit (2147483648 must not become -2147483648 on the way to an int), or
 * the call gets PropertyConstraintViolation. The bound is --max-connectors,
 * lowered at start to what a browser's queue (--ui-queue-hard) can take in
 * one snapshot, FC_SNAPSHOT_CONNECTOR_MAX bytes a connector at most.
 *
 * Clock skew. State follows the messages' own time stamps (offline queues
 * are flushed late), so one time stamp in the far future would make every
 * later message look older and freeze the connector. A time stamp more than
 * --max-clock-skew ahead of our clock is kept (in the store and in the
 * event's data, flagged "clockSkew":true) but orders by arrival time.
 *
 * Both are counted in /metrics and logged once per charger per interval. */
#include "ocpp/ocpp_int.h"

/* The most a connector adds to a snapshot: status, meter (every phase),
 * transaction, lastTransaction, precharge, at their longest (time stamps
 * are at most 35 characters, strings are bounded by the schemas, numbers
 * at most 24 characters): 1.5 KB at the most measured (the 64-connector
 * case of tests/integration/hardening-ocpp.test.mjs), doubled. */
#define FC_SNAPSHOT_CONNECTOR_MAX 3072
/* The snapshot without its connectors, and the hello before it. */
#define FC_SNAPSHOT_BASE_MAX 4096
/* One log line per charger and kind in this many ms. */
#define WARN_INTERVAL_MS 60000

void fc_ocpp__bounds_init(fc_ocpp_t *o)
{
  long long fit =
      ((long long)o->cfg->ui_queue_hard - FC_SNAPSHOT_BASE_MAX) / FC_SNAPSHOT_CONNECTOR_MAX -
      1; /* connector 0 is one more */
  if (fit < 1) fit = 1;
  o->max_connector = o->cfg->max_connectors;
  if (o->max_connector > fit) {
    o->max_connector = (int)fit;
    fc_log(FC_LOG_WARN, NULL,
           "event=max_connectors_lowered configured=%d max=%d ui_queue_hard=%d msg=\"a snapshot "
           "of more connectors might not fit a browser's queue: raise --ui-queue-hard\"",
           o->cfg->max_connectors, o->max_connector, o->cfg->ui_queue_hard);
  }
  o->max_skew_ms = (long long)o->cfg->max_clock_skew * 1000;
}

bool fc_ocpp__connector_ok(fc_ocpp_t *o, const char *charger, const json_t *v, int *out)
{
  long long id = 0;
  *out = 0;
  if (!v) return true;
  if (fc_ocpp__int_value(v, &id) && id >= 0 && id <= o->max_connector) {
    *out = (int)id;
    return true;
  }
  o->stats.connectors_refused++;
  fc_cpstate_t *st = fc_ocpp__cpstate(o, charger);
  uint64_t suppressed = 0;
  if (fc_log_every(&st->warn_connector, fc_ocpp__now(o), WARN_INTERVAL_MS, &suppressed)) {
    char num[48];
    if (json_is_integer(v) || json_is_real(v))
      snprintf(num, sizeof(num), "%.17g", json_number_value(v));
    else
      snprintf(num, sizeof(num), "?");
    fc_log(FC_LOG_WARN, &(fc_log_ctx_t){.cp = charger},
           "event=connector_refused connector=%s max=%d suppressed=%llu", num, o->max_connector,
           (unsigned long long)suppressed);
  }
  return false;
}

long long fc_ocpp__stamp(fc_ocpp_t *o, const char *charger, const char *ts, bool *skewed)
{
  long long now = fc_wall_ms(), ms;
  *skewed = false;
  if (!ts || fc_datetime_parse(ts, &ms) != 0) return now;
  if (ms - now <= o->max_skew_ms) return ms;
  *skewed = true;
  o->stats.clock_skewed++;
  fc_cpstate_t *st = fc_ocpp__cpstate(o, charger);
  uint64_t suppressed = 0;
  if (fc_log_every(&st->warn_skew, fc_ocpp__now(o), WARN_INTERVAL_MS, &suppressed)) {
    char t[FC_LOG_ESC_MAX];
    fc_log(FC_LOG_WARN, &(fc_log_ctx_t){.cp = charger},
           "event=clock_skew timestamp=\"%s\" ahead_s=%lld max_s=%lld suppressed=%llu",
           fc_log_esc(ts, t, sizeof(t)), (ms - now) / 1000, o->max_skew_ms / 1000,
           (unsigned long long)suppressed);
  }
  return now;
}
