/* Crash recovery of the chargers' state, at start-up.
 *
 * A process that ended without closing its charger connections (kill -9, a
 * power cut, the OOM killer) left their rows online, and raised no
 * charger.offline event: the dashboard would show them connected, forever.
 * Before anything listens, every charger the store still has online is
 * closed as offline, in one write: its connection's end in the connection
 * log (FC_OP_CHARGER_SEEN) and one charger.offline event, numbered and
 * stored like any, dated when its outage began as well as the store knows:
 * the last moment the killed process is known to have been alive
 * (fc_store_load_left_online). The read model is loaded after it, so it
 * starts from those events. A second start finds nothing left online and
 * writes nothing. The same read tells the largest connection id used so
 * far, after which this process numbers its own. */
#include "cli/cli_int.h"

#include "bus/bus.h"
#include "bus/events.h"
#include "core/err.h"
#include "log/log.h"
#include "core/time.h"
#include "store/store.h"

#include <string.h>

typedef struct {
  fc_write_t *w;
  long long now_ms;
  size_t n;
  bool done;
  int status;
} recovery_t;

static void left_cb(const char *charger, int64_t conn_id, long long since_ms, void *arg)
{
  recovery_t *r = arg;
  long long ts = since_ms > 0 && since_ms <= r->now_ms ? since_ms : r->now_ms;
  fc_write_seen(r->w, charger, &(fc_op_seen_t){.online = false, .conn_id = conn_id})->ts_ms = ts;
  fc_ev_online(r->w, charger, false, ts);
  fc_log_ctx_t ctx = {.cp = charger};
  fc_log(FC_LOG_INFO, &ctx, "event=recovered_offline conn=%lld since_ms=%lld", (long long)conn_id,
         ts);
  r->n++;
}

static void written_cb(fc_write_t *w, int status, void *arg)
{
  (void)w;
  recovery_t *r = arg;
  r->status = status;
  r->done = true;
}

int fc_cli__recover(uv_loop_t *loop, fc_store_t *store, int64_t *max_conn_id)
{
  recovery_t r = {.w = fc_write_new(), .now_ms = fc_wall_ms()};
  int rc = fc_store_load_left_online(store, left_cb, &r, max_conn_id);
  if (rc < 0 || r.n == 0) {
    fc_write_free(r.w);
    return rc;
  }
  if ((rc = fc_store_submit(store, r.w, written_cb, &r)) < 0) {
    fc_write_free(r.w);
    return rc;
  }
  while (!r.done)
    uv_run(loop, UV_RUN_ONCE);
  if (r.status < 0) return r.status;
  fc_log(FC_LOG_NOTICE, NULL,
         "event=recovered chargers_offline=%zu msg=\"chargers the previous process left online "
         "are offline since its last sign of them\"",
         r.n);
  return 0;
}
