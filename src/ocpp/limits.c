/* What one charger id may spend, kept across its connections.
 *
 * A charger that hangs up and reconnects must not start over: the rate
 * limit's token bucket and the frame log's byte budget belong to the
 * chargeBoxId, not to the connection. The bucket fills at rate-limit
 * messages a second up to rate-burst: a charger's steady traffic is far
 * below the rate, and what it queued while offline (MicroOcpp flushes it on
 * reconnect, one call at a time) goes through at once; only a charger that
 * keeps sending faster than the rate is slowed down, by not being read. They live in one table
 * keyed by id (o->limits), which a session holds a reference to while it exists.
 *
 * The table is bounded (charger-state-max): it is kept in least-recently-
 * used order (uthash keeps insertion order; an entry used again is moved to
 * the end), and past the bound the least recently used entry that no session
 * holds is forgotten. So an attacker cycling ids cannot grow it, and
 * forgetting costs little: an entry idle for longer than its bucket takes to
 * refill and its budget window to end is the same as a new one, and such
 * entries are dropped anyway by the tick. Connected chargers' entries are
 * never forgotten (connections are bounded elsewhere).
 *
 * The frame log's budget: frame_log_budget bytes per charger per minute are
 * stored whole; past it a frame is stored as its head and its length, and
 * past twice the budget (heads counted) not at all; a frame that was refused
 * (one that does not parse, or a CALL of an unknown action, with a payload
 * its schema refuses, or of a charger not accepted: fc_ocpp__dispatch) is
 * always stored as its head. Secrets are masked first (fc_ocpp__frame_mask), so that no
 * head holds one. Below the disk watermark (store.h) nothing is stored. What
 * was truncated or dropped is counted in /metrics and logged once per
 * charger per minute. */
#include "ocpp/ocpp_int.h"

#include <stdlib.h>
#include <string.h>

#define WINDOW_MS 60000u /* the frame-log budget's interval, and the log lines' */
#define HEAD_MAX 160     /* bytes of a frame kept when it is truncated */

static void entry_free(fc_ocpp_t *o, fc_cplimit_t *l)
{
  HASH_DEL(o->limits, l);
  fc_free(l);
}

/* An entry nobody holds whose state is the same as a fresh one's: its
 * bucket has refilled (burst / rate seconds) and its budget window is over. */
static bool forgettable(const fc_ocpp_t *o, const fc_cplimit_t *l, uint64_t now)
{
  uint64_t refill = 1000u * (uint64_t)o->cfg->rate_burst / (uint64_t)o->cfg->rate_limit;
  return l->refs == 0 && now - l->seen_ms >= WINDOW_MS && now - l->seen_ms >= refill &&
         now - l->fl_window_ms >= WINDOW_MS;
}

bool fc_ocpp__limit_ready(fc_ocpp_t *o, fc_cplimit_t *l, uint64_t now)
{
  return fc_bucket_refill(&l->bucket, now, o->cfg->rate_limit, o->cfg->rate_burst) >= 1.0;
}

/* ---- every charger's handshakes ---------------------------------------------------
 *
 * After a restart every charger reconnects at once. Each handshake costs a
 * request parse, a credential check and a write (the connection's), and
 * each connection then flushes its queue: admitted all together, they would
 * share the loop and the store so thinly that handshakes time out and start
 * over, and the storm feeds itself. So handshakes are admitted at a rate,
 * and those beyond it are answered 503 with a Retry-After that grows with
 * the crowd already turned away this second, which spreads their returns. */

unsigned fc_ocpp__handshake_admit(fc_ocpp_t *o)
{
  const fc_config_t *cfg = o->cfg;
  uint64_t now = fc_ocpp__now(o);
  if (fc_bucket_take(&o->hs_bucket, now, cfg->charger_hs_rate, cfg->charger_hs_burst)) return 0;
  if (now - o->hs_window_ms >= 1000) {
    o->hs_window_ms = now;
    o->hs_refused_window = 0;
  }
  o->hs_refused_window++;
  return 1 + (unsigned)(o->hs_refused_window / (uint64_t)cfg->charger_hs_rate);
}

fc_cplimit_t *fc_ocpp__limit_acquire(fc_ocpp_t *o, const char *id)
{
  uint64_t now = fc_ocpp__now(o);
  fc_cplimit_t *l = NULL;
  HASH_FIND_STR(o->limits, id, l);
  if (l) {
    HASH_DEL(o->limits, l); /* to the end: most recently used */
    HASH_ADD_STR(o->limits, id, l);
  } else {
    fc_cplimit_t *e, *tmp;
    if (HASH_COUNT(o->limits) >= (unsigned)o->cfg->charger_state_max) {
      HASH_ITER(hh, o->limits, e, tmp)
      {
        if (e->refs) continue;
        entry_free(o, e);
        o->stats.limit_evictions++;
        break;
      }
    }
    l = fc_calloc(1, sizeof(*l));
    snprintf(l->id, sizeof(l->id), "%s", id);
    fc_bucket_init(&l->bucket, o->cfg->rate_burst, now);
    l->fl_window_ms = now;
    HASH_ADD_STR(o->limits, id, l);
  }
  l->refs++;
  l->seen_ms = now;
  return l;
}

void fc_ocpp__limit_release(fc_ocpp_t *o, fc_cplimit_t *l)
{
  if (!l) return;
  if (l->refs) l->refs--;
  l->seen_ms = fc_ocpp__now(o);
}

void fc_ocpp__limits_tick(fc_ocpp_t *o)
{
  uint64_t now = fc_ocpp__now(o);
  fc_cplimit_t *e, *tmp;
  /* From the least recently used end, past the connected ones, up to the
   * first that is still fresh: a tick costs little however large the
   * table. */
  HASH_ITER(hh, o->limits, e, tmp)
  {
    if (e->refs) continue;
    if (!forgettable(o, e, now)) break;
    entry_free(o, e);
  }
}

void fc_ocpp__limits_free(fc_ocpp_t *o)
{
  fc_cplimit_t *e, *tmp;
  HASH_ITER(hh, o->limits, e, tmp)
  {
    entry_free(o, e);
  }
}

void fc_ocpp__limit_throttled(fc_session_t *s)
{
  fc_cplimit_t *l = s->lim;
  uint64_t now = fc_ocpp__now(s->o);
  s->o->stats.throttled++;
  l->throttled++;
  if (l->throttle_logged && now - l->throttle_log_ms < WINDOW_MS) return;
  fc_log(FC_LOG_NOTICE, &s->log, "event=rate_limited limit_per_s=%d pauses=%llu interval_s=%u",
         s->o->cfg->rate_limit, (unsigned long long)l->throttled, WINDOW_MS / 1000);
  l->throttled = 0;
  l->throttle_logged = true;
  l->throttle_log_ms = now;
}

/* ---- the frame log ------------------------------------------------------------ */

/* The head of a frame and its length, as stored past the budget: at most
 * HEAD_MAX bytes, cut before a UTF-8 continuation byte. */
static size_t compact(const char *text, size_t len, char *out, size_t outsz)
{
  size_t head = len < HEAD_MAX ? len : HEAD_MAX;
  if (head < len) {
    while (head > 0 && ((unsigned char)text[head] & 0xC0) == 0x80)
      head--;
  }
  int n = snprintf(out, outsz, "%.*s... [truncated, %zu bytes]", (int)head, text, len);
  return n < 0 ? 0 : (size_t)n < outsz ? (size_t)n : outsz - 1;
}

static void budget_log(fc_session_t *s, fc_cplimit_t *l)
{
  if (l->fl_logged) return;
  l->fl_logged = true;
  fc_log(FC_LOG_WARN, &s->log,
         "event=frame_log_budget budget=%d interval_s=%u action=truncate "
         "previous_truncated=%llu previous_dropped=%llu",
         s->o->cfg->frame_log_budget, WINDOW_MS / 1000, (unsigned long long)l->fl_prev_truncated,
         (unsigned long long)l->fl_prev_dropped);
}

void fc_ocpp__frame_log(fc_session_t *s, bool inbound, bool refused, const char *text, size_t len)
{
  fc_ocpp_t *o = s->o;
  if (!o->cfg->frame_log) return;
  if (!fc_store_frame_log_ok(o->store)) {
    o->stats.frames_dropped_disk++;
    return;
  }
  size_t mlen;
  char *masked = fc_ocpp__frame_mask(text, len, &mlen); /* no secret is ever written */
  if (masked) {
    text = masked;
    len = mlen;
  }
  fc_cplimit_t *l = s->lim;
  uint64_t now = fc_ocpp__now(o);
  if (now - l->fl_window_ms >= WINDOW_MS) {
    l->fl_window_ms = now;
    l->fl_prev_truncated = l->fl_truncated;
    l->fl_prev_dropped = l->fl_dropped;
    l->fl_used = l->fl_truncated = l->fl_dropped = 0;
    l->fl_logged = false;
  }
  size_t budget = (size_t)o->cfg->frame_log_budget;
  char head[HEAD_MAX + 64];
  const char *t = text;
  size_t n = len;
  if (refused || l->fl_used + len > budget) {
    if (!refused) budget_log(s, l);
    n = compact(text, len, head, sizeof(head));
    t = head;
    if (l->fl_used + n > 2 * budget) {
      l->fl_dropped++;
      o->stats.frames_dropped_budget++;
      free(masked);
      return;
    }
    if (n < len) {
      l->fl_truncated++;
      o->stats.frames_truncated++;
    } else {
      t = text; /* short enough as it is */
      n = len;
    }
  }
  l->fl_used += n;
  o->stats.frame_log_bytes += n;
  o->stats.frames_logged++;

  fc_write_t *w = fc_write_new();
  fc_write_frame(
      w, s->id,
      &(fc_op_frame_t){.text = t, .len = n, .conn_id = (int64_t)s->conn_id, .inbound = inbound})
      ->ts_ms = fc_wall_ms();
  free(masked);
  /* nobody waits for it: it goes with the next commit (a call's frame with
   * its handler's write, an answer's with whatever commits next, instead of
   * a commit of its own) */
  fc_write_set_lazy(w);
  if (o->io.submit(o->store, w, fc_ocpp__write_ignored, NULL) < 0) fc_write_free(w);
}
