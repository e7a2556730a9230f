/* Failed charger logins (throttle.h). Three tables of the same entry, each
 * a uthash kept in least-recently-seen order (a touch deletes and adds
 * again, so the oldest are at the head, evicted first). */
#include "auth/throttle.h"

#include "core/mem.h"
#include "log/log.h"

#include <string.h>
#include <uthash.h>

#define KEY_LEN (16 + FC_AUTH_THROTTLE_ID_MAX)

typedef struct ent {
  unsigned char key[KEY_LEN]; /* the address (16 bytes), then the id, zero-padded */
  unsigned count;             /* failures in the window */
  uint64_t window_at_ms;      /* its start */
  bool announced;             /* the throttled line was written this window */
  unsigned interval_failures; /* for the summary */
  fc_log_every_t log;         /* fc_auth_throttle_may_log */
  UT_hash_handle hh;
} ent_t;

enum { PAIRS, ADDRS, IDS, NTABLES };

struct fc_auth_throttle {
  fc_auth_throttle_opts_t o;
  ent_t *tbl[NTABLES];
  fc_auth_throttle_stats_t st;
  uint64_t interval_at_ms;
  uint64_t interval_failures, interval_throttled;
};

fc_auth_throttle_t *fc_auth_throttle_new(const fc_auth_throttle_opts_t *opts)
{
  fc_auth_throttle_t *t = fc_calloc(1, sizeof(*t));
  t->o = *opts;
  if (t->o.table_size < 1) t->o.table_size = 1;
  return t;
}

void fc_auth_throttle_free(fc_auth_throttle_t *t)
{
  if (!t) return;
  for (int i = 0; i < NTABLES; i++) {
    ent_t *e, *tmp;
    HASH_ITER(hh, t->tbl[i], e, tmp)
    {
      HASH_DEL(t->tbl[i], e);
      fc_free(e);
    }
  }
  fc_free(t);
}

static void make_key(unsigned char key[KEY_LEN], const fc_addr_t *a, const char *id)
{
  memset(key, 0, KEY_LEN);
  if (a) memcpy(key, a->b, 16);
  if (id) {
    size_t n = strlen(id);
    memcpy(key + 16, id, n < FC_AUTH_THROTTLE_ID_MAX ? n : FC_AUTH_THROTTLE_ID_MAX);
  }
}

/* The entry of key in table i, made the most recently seen; created when
 * create (else NULL when absent). Its window restarts when it has passed. */
static ent_t *touch(fc_auth_throttle_t *t, int i, const fc_addr_t *a, const char *id,
                    uint64_t now_ms, bool create)
{
  unsigned char key[KEY_LEN];
  ent_t *e = NULL;
  make_key(key, a, id);
  HASH_FIND(hh, t->tbl[i], key, KEY_LEN, e);
  if (e) {
    HASH_DEL(t->tbl[i], e);
  } else {
    if (!create) return NULL;
    e = fc_calloc(1, sizeof(*e));
    memcpy(e->key, key, KEY_LEN);
    e->window_at_ms = now_ms;
    while (HASH_COUNT(t->tbl[i]) >= t->o.table_size) {
      ent_t *old = t->tbl[i];
      HASH_DEL(t->tbl[i], old);
      fc_free(old);
    }
  }
  HASH_ADD(hh, t->tbl[i], key, KEY_LEN, e);
  if (now_ms - e->window_at_ms >= t->o.window_ms) {
    e->count = 0;
    e->window_at_ms = now_ms;
    e->announced = false;
  }
  return e;
}

static unsigned retry_after(const fc_auth_throttle_t *t, const ent_t *e, uint64_t now_ms)
{
  uint64_t left = e->window_at_ms + t->o.window_ms - now_ms;
  return (unsigned)((left + 999) / 1000);
}

/* A charger id of an entry's key (NUL-terminated copy), for the log. */
static const char *id_of(const unsigned char *key, char buf[FC_AUTH_THROTTLE_ID_MAX + 1])
{
  memcpy(buf, key + 16, FC_AUTH_THROTTLE_ID_MAX);
  buf[FC_AUTH_THROTTLE_ID_MAX] = '\0';
  return buf;
}

static const char *const scope_names[] = {"none", "pair", "address", "id"};

fc_throttle_t fc_auth_throttle_check(fc_auth_throttle_t *t, const char *id, const fc_addr_t *a,
                                     uint64_t now_ms, unsigned *retry_after_s)
{
  fc_throttle_t why = FC_THROTTLE_NONE;
  ent_t *by = NULL;
  ent_t *ea = touch(t, ADDRS, a, NULL, now_ms, false);
  ent_t *ep = id ? touch(t, PAIRS, a, id, now_ms, false) : NULL;
  ent_t *ei = id ? touch(t, IDS, NULL, id, now_ms, false) : NULL;
  if (ea && ea->count >= t->o.max_addr) {
    why = FC_THROTTLE_ADDRESS;
    by = ea;
  } else if (ep && ep->count >= t->o.max_pair) {
    why = FC_THROTTLE_PAIR;
    by = ep;
  } else if (ei && ep && ep->count > 0 && ei->count >= t->o.max_id) {
    why = FC_THROTTLE_ID;
    by = ei;
  }
  if (why == FC_THROTTLE_NONE) return why;
  t->st.throttled++;
  t->interval_throttled++;
  *retry_after_s = retry_after(t, by, now_ms);
  if (!by->announced) {
    char peer[FC_ADDR_STRLEN], qid[FC_LOG_ESC_MAX];
    by->announced = true;
    fc_log(FC_LOG_NOTICE, NULL,
           "event=auth_throttled scope=%s peer=%s charger=\"%s\" failures=%u retry_after_s=%u",
           scope_names[why], fc_addr_str(a, peer, sizeof(peer)), fc_log_esc(id, qid, sizeof(qid)),
           by->count, *retry_after_s);
  }
  return why;
}

void fc_auth_throttle_failed(fc_auth_throttle_t *t, const char *id, const fc_addr_t *a,
                             uint64_t now_ms)
{
  t->st.failures++;
  t->interval_failures++;
  ent_t *ea = touch(t, ADDRS, a, NULL, now_ms, true);
  ea->count++;
  ea->interval_failures++;
  if (!id) return;
  touch(t, PAIRS, a, id, now_ms, true)->count++;
  ent_t *ei = touch(t, IDS, NULL, id, now_ms, true);
  ei->count++;
  ei->interval_failures++;
}

void fc_auth_throttle_succeeded(fc_auth_throttle_t *t, const char *id, const fc_addr_t *a)
{
  unsigned char key[KEY_LEN];
  ent_t *e = NULL;
  make_key(key, a, id);
  HASH_FIND(hh, t->tbl[PAIRS], key, KEY_LEN, e);
  if (e) {
    HASH_DEL(t->tbl[PAIRS], e);
    fc_free(e);
  }
}

bool fc_auth_throttle_may_log(fc_auth_throttle_t *t, const fc_addr_t *a, uint64_t now_ms)
{
  ent_t *e = touch(t, ADDRS, a, NULL, now_ms, true);
  return fc_log_every(&e->log, now_ms, t->o.log_interval_ms, NULL) != 0;
}

/* The entry of table i with the most failures this interval (NULL: none),
 * how many entries had any; the interval's counts are reset. */
static ent_t *top_of(fc_auth_throttle_t *t, int i, unsigned *n, unsigned *most)
{
  ent_t *e, *tmp, *top = NULL;
  *n = 0;
  *most = 0;
  HASH_ITER(hh, t->tbl[i], e, tmp)
  {
    if (!e->interval_failures) continue;
    (*n)++;
    if (e->interval_failures > *most) {
      *most = e->interval_failures;
      top = e;
    }
  }
  return top;
}

static void reset_interval(fc_auth_throttle_t *t)
{
  for (int i = ADDRS; i <= IDS; i++) {
    ent_t *e, *tmp;
    HASH_ITER(hh, t->tbl[i], e, tmp)
    {
      e->interval_failures = 0;
    }
  }
  t->interval_failures = t->interval_throttled = 0;
}

void fc_auth_throttle_tick(fc_auth_throttle_t *t, uint64_t now_ms)
{
  if (now_ms - t->interval_at_ms < t->o.log_interval_ms) return;
  if (t->interval_failures || t->interval_throttled) {
    unsigned naddr, nid, top_a, top_i;
    ent_t *ea = top_of(t, ADDRS, &naddr, &top_a);
    ent_t *ei = top_of(t, IDS, &nid, &top_i);
    char peer[FC_ADDR_STRLEN] = "-", qid[FC_LOG_ESC_MAX], idbuf[FC_AUTH_THROTTLE_ID_MAX + 1];
    if (ea) {
      fc_addr_t a;
      memcpy(a.b, ea->key, 16);
      fc_addr_str(&a, peer, sizeof(peer));
    }
    fc_log_esc(ei ? id_of(ei->key, idbuf) : NULL, qid, sizeof(qid));
    fc_log(FC_LOG_WARN, NULL,
           "event=auth_failures interval_s=%u failures=%llu throttled=%llu addresses=%u ids=%u "
           "top_peer=%s top_peer_failures=%u top_id=\"%s\" top_id_failures=%u",
           (unsigned)((now_ms - t->interval_at_ms) / 1000),
           (unsigned long long)t->interval_failures, (unsigned long long)t->interval_throttled,
           naddr, nid, peer, top_a, qid, top_i);
    reset_interval(t);
  }
  t->interval_at_ms = now_ms;
}

void fc_auth_throttle_stats(const fc_auth_throttle_t *t, fc_auth_throttle_stats_t *out)
{
  *out = t->st;
  out->entries = HASH_COUNT(t->tbl[PAIRS]) + HASH_COUNT(t->tbl[ADDRS]) + HASH_COUNT(t->tbl[IDS]);
}
