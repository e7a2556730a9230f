/* The connection guard (guard.h): a table per port of client addresses, each
 * with its connections in handshake and its token bucket. uthash keeps the
 * entries in insertion order, which a touch (delete, add again) turns into
 * least-recently-seen order: the oldest are at the head. */
#include "net/guard.h"

#include "core/mem.h"
#include "log/log.h"

#include <string.h>
#include <uthash.h>

/* Entries looked at, oldest first, to make room for one: those with
 * connections open are skipped. */
#define EVICT_SCAN 16

struct fc_guard_conn {
  fc_addr_t addr;
  fc_guard_port_t port;
  unsigned live; /* connections admitted and not released */
  double tokens;
  uint64_t tokens_at_ms;
  fc_log_every_t log; /* one line per log interval */
  UT_hash_handle hh;
};

struct fc_guard {
  fc_guard_opts_t o;
  fc_guard_conn_t *tbl[FC_GUARD_NPORTS];
  fc_guard_stats_t st;
};

static const char *const port_names[] = {"ocpp", "web"};
static const char *const reason_names[] = {"ok", "rate", "concurrent"};

fc_guard_t *fc_guard_new(const fc_guard_opts_t *opts)
{
  fc_guard_t *g = fc_calloc(1, sizeof(*g));
  g->o = *opts;
  if (g->o.burst < 1) g->o.burst = 1;
  if (g->o.table_size < 1) g->o.table_size = 1;
  return g;
}

void fc_guard_free(fc_guard_t *g)
{
  if (!g) return;
  for (int p = 0; p < FC_GUARD_NPORTS; p++) {
    fc_guard_conn_t *e, *tmp;
    HASH_ITER(hh, g->tbl[p], e, tmp)
    {
      HASH_DEL(g->tbl[p], e);
      fc_free(e);
    }
  }
  fc_free(g);
}

/* Forgets the least recently seen addresses without open connections until
 * the table is within its size (or EVICT_SCAN of them were looked at). */
static void evict(fc_guard_t *g, fc_guard_port_t port, const fc_guard_conn_t *keep)
{
  fc_guard_conn_t *e = g->tbl[port], *next;
  for (int i = 0; e && i < EVICT_SCAN && HASH_COUNT(g->tbl[port]) > g->o.table_size; i++) {
    next = e->hh.next;
    if (e->live == 0 && e != keep) {
      HASH_DEL(g->tbl[port], e);
      fc_free(e);
    }
    e = next;
  }
}

/* The entry of a on port, made most recently seen; created (with a full
 * bucket) when new. */
static fc_guard_conn_t *touch(fc_guard_t *g, fc_guard_port_t port, const fc_addr_t *a,
                              uint64_t now_ms)
{
  fc_guard_conn_t *e = NULL;
  HASH_FIND(hh, g->tbl[port], a, sizeof(*a), e);
  if (e) {
    HASH_DEL(g->tbl[port], e);
  } else {
    e = fc_calloc(1, sizeof(*e));
    e->addr = *a;
    e->port = port;
    e->tokens = g->o.burst;
    e->tokens_at_ms = now_ms;
  }
  HASH_ADD(hh, g->tbl[port], addr, sizeof(e->addr), e);
  evict(g, port, e);
  return e;
}

static void refused(fc_guard_t *g, fc_guard_conn_t *e, fc_guard_verdict_t why, uint64_t now_ms)
{
  uint64_t before = 0;
  g->st.refused[e->port][why]++;
  if (!fc_log_every(&e->log, now_ms, g->o.log_interval_ms, &before)) return;
  char peer[FC_ADDR_STRLEN];
  fc_log(FC_LOG_WARN, NULL,
         "event=connections_refused port=%s peer=%s reason=%s refused=%llu in_handshake=%u "
         "next_line_after_s=%u",
         port_names[e->port], fc_addr_str(&e->addr, peer, sizeof(peer)), reason_names[why],
         (unsigned long long)before + 1, e->live, g->o.log_interval_ms / 1000);
}

fc_guard_verdict_t fc_guard_check(fc_guard_t *g, fc_guard_port_t port, const fc_addr_t *a,
                                  uint64_t now_ms)
{
  fc_guard_conn_t *e = touch(g, port, a, now_ms);
  if (now_ms > e->tokens_at_ms) {
    e->tokens += (double)(now_ms - e->tokens_at_ms) * g->o.rate_per_min / 60000.0;
    if (e->tokens > g->o.burst) e->tokens = g->o.burst;
    e->tokens_at_ms = now_ms;
  }
  fc_guard_verdict_t v = FC_GUARD_OK;
  if (e->live >= g->o.max_per_addr)
    v = FC_GUARD_CONCURRENT;
  else if (e->tokens < 1.0)
    v = FC_GUARD_RATE;
  if (v != FC_GUARD_OK) {
    refused(g, e, v, now_ms);
    return v;
  }
  e->tokens -= 1.0;
  return FC_GUARD_OK;
}

fc_guard_conn_t *fc_guard_enter(fc_guard_t *g, fc_guard_port_t port, const fc_addr_t *a)
{
  fc_guard_conn_t *e = NULL;
  HASH_FIND(hh, g->tbl[port], a, sizeof(*a), e);
  if (!e) e = touch(g, port, a, 0); /* only if fc_guard_check was skipped */
  e->live++;
  g->st.in_handshake[port]++;
  return e;
}

void fc_guard_release(fc_guard_t *g, fc_guard_conn_t *c)
{
  if (!c) return;
  c->live--;
  g->st.in_handshake[c->port]--;
}

void fc_guard_stats(const fc_guard_t *g, fc_guard_stats_t *out)
{
  *out = g->st;
  for (int p = 0; p < FC_GUARD_NPORTS; p++)
    out->addresses[p] = HASH_COUNT(g->tbl[p]);
}
