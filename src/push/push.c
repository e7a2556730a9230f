/* Browser connections on /ws.
 *
 * A connection holds its principal (from the JWT), its subscriptions and one
 * bounded queue (outq.c). Events reach it synchronously from the bus; it only
 * queues them, so a slow or stalled browser costs its own queue and nothing
 * else. The socket, references, reassembly and the close are the connection
 * base's (net/wsconn.h); the base calls client_write at the end of the loop
 * iteration (net/soon.h), and from SERVER_WRITEABLE for what the socket could
 * not take then: the queued events go out as one JSON object, or as one JSON
 * array when several are waiting, at most ui_max_rate frames per second
 * (while throttled, state events coalesce).
 *
 * Subscribing: the bus subscription starts first, then either a snapshot is
 * queued (its seq is the charger's current one, and live events after it
 * follow), or, with `since`, the missed events are read from the store while
 * live ones wait in a side buffer; once the replay has caught up, buffered
 * events with a higher seq follow. Each subscription remembers the last seq
 * it delivered, so nothing is sent twice and nothing is skipped. A replay
 * that finds a gap (events pruned by retention) falls back to a snapshot.
 *
 * Every browser is hostile (DESIGN.md). A token for "*" may name any id, so:
 * a connection's subscriptions are a hash by charger id (subscribing,
 * unsubscribing and replay lookups cost the same with 10 or 20,000 of them);
 * they are capped per connection and per token subject, and the ids over
 * the cap in one message are answered with one error event; and an id the
 * bus has not seen (no event yet: unregistered, mistyped, or a charger that
 * has not connected yet) makes no bus channel: its subscription waits on
 * p->waits, and one bus subscription to every charger (p->watch, held while
 * any wait) moves it onto the charger's channel at its first event. A socket closes (1008) when its
 * token expires (an lws timer per connection, at exp + leeway), and when its user is removed or
 * their role changes: the users table is read every ui_user_check ms on a libuv worker thread (the
 * CLI changes it in the same database while we run), and the handshakes of those tokens are refused
 * from then on. */
#include "core/json.h"
#include "push/push.h"
#include "push/deflate.h"
#include "push/outq.h"
#include "push/push_lws.h"

#include "auth/request.h"
#include "net/soon.h"
#include "net/ws.h"
#include "net/wsconn.h"

#include "core/err.h"
#include "core/mem.h"
#include "log/log.h"

#include <sys/time.h>

#include <assert.h>
#include <libwebsockets.h>
#include <stddef.h>
#include <string.h>
#include <uthash.h>
#include <utlist.h>

#define RX_MAX 65536      /* largest message a browser may send */
#define FRAME_EVENTS 256  /* events batched into one frame at most */
#define FRAME_BYTES 65536 /* bytes of events batched into one frame at most */
#define REPLAY_PAGE                                                                                \
  100                         /* events per store read while replaying; the next page is read      \
                                 only once the queue has drained below half its soft bound */
#define PENDING_MAX 10000     /* live events buffered during a replay */
#define REFUSED_LIST 100      /* ids named in one refusal event at most (the count is exact) */
#define OFFENDER_LOG_MS 60000 /* one log line per offender and kind per minute */
#define OFFENDERS_PRUNE 1024  /* offenders remembered before the stale ones go */
#define EXP_FAR (1LL << 40)   /* a token's exp taken as "never" (the timer's arithmetic fits) */

typedef struct client client_t;

typedef struct csub {
  client_t *c;
  char charger[49]; /* "" for the system channel, "*" for all chargers */
  fc_bus_sub_t *bsub;
  int64_t last_seq; /* the last seq queued */
  int64_t sent_seq; /* the last seq written to the socket */
  bool replaying;
  bool replay_more;    /* another page to read once the queue drains (on c->waiting) */
  bool replay_reading; /* a page is being read */
  fc_event_t **pending;
  size_t npending;
  UT_hash_handle hh;          /* in c->subs (a charger's subscriptions only) */
  struct csub *wprev, *wnext; /* on c->waiting while replay_more, or while todo */
  struct wait *wait;          /* the charger has not been seen: waiting there, no bsub */
  struct csub *pprev, *pnext; /* on wait->subs */
  char (*todo)[49];           /* "*": the chargers whose snapshot is still to be queued */
  size_t ntodo, itodo, captodo;
} csub_t;

/* The subscriptions to a charger not seen yet (p->waits, by id). */
typedef struct wait {
  char id[49];
  csub_t *subs; /* utlist, by pprev/pnext */
  UT_hash_handle hh;
} wait_t;

typedef struct counter {
  char key[64];
  unsigned n;
  unsigned subs; /* per_sub: the subject's charger subscriptions */
  UT_hash_handle hh;
} counter_t;

/* Who was logged about lately, and what was not logged since. */
typedef struct offender {
  char key[96]; /* "kind:subject" or "kind:address" */
  fc_log_every_t every;
  UT_hash_handle hh;
} offender_t;

/* A user of the users table (or, in p->removed, one that was removed). */
typedef struct user {
  char name[64];
  fc_role_t role;
  UT_hash_handle hh;
} user_t;

/* One read of the users table, on a libuv worker thread. */
typedef struct user_check {
  uv_work_t work;
  fc_push_t *p;
  user_t *users; /* the result: filled by the worker, taken by the loop */
  int status;
} user_check_t;

struct client {
  fc_wsconn_t conn; /* the socket, references, reassembly, the close (net/wsconn.h) */
  fc_push_t *p;
  uint64_t id;
  fc_principal_t who;
  char ip[64];
  fc_log_ctx_t log;
  fc_outq_t q;
  csub_t *subs;       /* charger subscriptions, hashed by id */
  unsigned nsubs;     /* how many */
  csub_t *all_sub;    /* "*" */
  csub_t *sys_sub;    /* the system channel (admins) */
  csub_t *waiting;    /* replays waiting for the queue to drain (utlist) */
  counter_t *subject; /* p->per_sub's entry of who.sub (NULL if not counted) */
  fc_bucket_t bucket; /* frames a second (ui_max_rate) */
  bool throttled;
  fc_deflate_mode_t deflate; /* permessage-deflate negotiated (deflate.c) */
  client_t *prev, *next;     /* all clients (utlist DL) */
  client_t *throttle_next;   /* p->throttled (utlist LL) */
};

struct fc_push {
  uv_loop_t *loop;
  const fc_config_t *cfg;
  const fc_jwt_cfg_t *jwt;
  fc_bus_t *bus;
  fc_store_t *store;
  client_t *clients; /* utlist DL */
  size_t nclients;
  uint64_t next_id;
  counter_t *per_ip, *per_sub;
  uint64_t nsubs; /* charger subscriptions of every client */
  wait_t *waits;  /* of which to chargers not seen yet, by charger */
  uint64_t nwaiting;
  fc_bus_sub_t *watch; /* every charger's events, while waits is not empty */
  offender_t *offenders;
  /* The users table as last read, the names removed from it since start, and
   * its reader (a worker thread's; one read at a time). */
  user_t *users, *removed;
  bool users_read, user_checking;
  bool stopping;         /* fc_push_free was called */
  fc_store_admin_t *udb; /* used only by the worker of the read in flight */
  uv_timer_t user_timer;
  client_t *throttled; /* waiting for the frame-rate limit (utlist LL) */
  fc_soon_t soon; /* clients to write to at the end of this loop iteration (fc_wsconn_flush_cb) */
  uv_timer_t timer;
  int handles;          /* open libuv handles; the last one closed frees this */
  size_t max_clients;   /* ui_max_clients, or less (fc_push_cap_clients) */
  unsigned char *frame; /* the frame being written (LWS_PRE, then the text) */
  size_t frame_cap;
  fc_push_stats_t stats;
};

/* ---- helpers ---- */

static client_t *client_of(fc_wsconn_t *conn)
{
  return FC_WSCONN_OWNER(conn, client_t, conn);
}

static void client_ref(client_t *c)
{
  fc_wsconn_ref(&c->conn);
}

static void client_unref(client_t *c)
{
  fc_wsconn_unref(&c->conn);
}

/* The last reference went (the base has freed its buffers). */
static void client_free(fc_wsconn_t *conn)
{
  client_t *c = client_of(conn);
  fc_principal_cleanup(&c->who);
  fc_outq_cleanup(&c->q);
  fc_free(c);
}

static counter_t *counter_of(counter_t **map, const char *key, bool create)
{
  counter_t *e = NULL;
  HASH_FIND_STR(*map, key, e);
  if (!e && create) {
    e = fc_calloc(1, sizeof(*e));
    snprintf(e->key, sizeof(e->key), "%s", key);
    HASH_ADD_STR(*map, key, e);
  }
  return e;
}

static unsigned *count_of(counter_t **map, const char *key, bool create)
{
  counter_t *e = counter_of(map, key, create);
  return e ? &e->n : NULL;
}

static void count_drop(counter_t **map, const char *key)
{
  counter_t *e = NULL;
  HASH_FIND_STR(*map, key, e);
  if (e && --e->n == 0) {
    HASH_DEL(*map, e);
    fc_free(e);
  }
}

/* Whether a line about this offender (kind, who) may be logged now: once per
 * OFFENDER_LOG_MS; the others are counted, and *suppressed says how many
 * were not logged since the last line. */
static bool log_due(fc_push_t *p, const char *kind, const char *who, uint64_t *suppressed)
{
  char key[sizeof(((offender_t *)0)->key)];
  snprintf(key, sizeof(key), "%s:%s", kind, who);
  uint64_t now = uv_now(p->loop);
  offender_t *o = NULL;
  HASH_FIND_STR(p->offenders, key, o);
  if (!o) {
    if (HASH_COUNT(p->offenders) >= OFFENDERS_PRUNE) {
      offender_t *e, *tmp;
      HASH_ITER(hh, p->offenders, e, tmp)
      {
        if (now - e->every.last_ms >= OFFENDER_LOG_MS) {
          HASH_DEL(p->offenders, e);
          fc_free(e);
        }
      }
    }
    o = fc_calloc(1, sizeof(*o));
    snprintf(o->key, sizeof(o->key), "%s", key);
    HASH_ADD_STR(p->offenders, key, o);
  }
  return fc_log_every(&o->every, now, OFFENDER_LOG_MS, suppressed) != 0;
}

static void close_client(client_t *c, int code, const char *reason)
{
  fc_wsconn_close(&c->conn, code, reason);
}

static void lagged(client_t *c)
{
  fc_push_t *p = c->p;
  p->stats.lagged++;
  fc_log(FC_LOG_WARN, &c->log, "event=ui_lagged queued_bytes=%zu action=close code=1013",
         c->q.bytes);
  fc_outq_cleanup(&c->q);
  json_t *data = json_pack("{s:s}", "detail", "too far behind; reconnect with since to resume");
  json_t *seqs = json_object();
  csub_t *s, *tmp;
  HASH_ITER(hh, c->subs, s, tmp)
  {
    json_object_set_new(seqs, s->charger, json_integer(s->sent_seq));
  }
  json_object_set_new(data, "since", seqs);
  fc_event_t *e = fc_event_make(FC_EV_LAGGED, "", 0, data);
  fc_outq_push(&c->q, e, NULL);
  fc_event_unref(e);
  close_client(c, 1013 /* try again later */, "lagged");
}

/* Queued events are written at the end of the loop iteration (flush, and
 * net/soon.h): everything the iteration queued for a client goes out as one
 * frame. */
static void mark_dirty(client_t *c)
{
  if (!c->throttled) fc_wsconn_write_soon(&c->conn, &c->p->soon);
}

/* owner: the charger's subscription (its sent_seq follows what is written),
 * or NULL. Replayed events are exactly what the client missed: kept, never
 * coalesced. */
static void enqueue_as(client_t *c, fc_event_t *e, csub_t *owner, bool kept)
{
  if (!c->conn.wsi || c->conn.closing) return;
  /* only a charger's own subscription tracks what was sent ("*" and the
   * system channel enqueue without an owner) */
  assert(!owner || (owner->charger[0] && strcmp(owner->charger, "*") != 0));
  fc_outq_status_t st = kept ? fc_outq_push_kept(&c->q, e, owner) : fc_outq_push(&c->q, e, owner);
  if (st == FC_OUTQ_OVER) {
    lagged(c);
    return;
  }
  mark_dirty(c);
}

static void enqueue(client_t *c, fc_event_t *e)
{
  enqueue_as(c, e, NULL, false);
}

static void send_error(client_t *c, const char *charger, const char *code, const char *detail)
{
  fc_event_t *e = fc_event_make(FC_EV_ERROR, charger, 0,
                                json_pack("{s:s, s:s}", "code", code, "detail", detail));
  enqueue(c, e);
  fc_event_unref(e);
}

/* ---- subscriptions ---- */

static void deliver(csub_t *s, fc_event_t *e)
{
  if (!e->charger[0]) {
    /* System events reach admins, through their system-channel
     * subscription only (a "*" subscription sees them too: skip there). */
    if (!s->charger[0] && s->c->who.role == FC_ROLE_ADMIN) enqueue(s->c, e);
    return;
  }
  if (e->seq == 0) {
    enqueue(s->c, e);
    return;
  }
  if (s->charger[0] == '*') {
    if (!fc_principal_may_see(&s->c->who, e->charger)) return;
    enqueue(s->c, e);
    return;
  }
  if (e->seq <= s->last_seq) return;
  s->last_seq = e->seq;
  enqueue_as(s->c, e, s, false);
}

static void on_event(fc_event_t *e, void *arg)
{
  csub_t *s = arg;
  if (s->replaying) {
    if (s->npending >= PENDING_MAX) {
      lagged(s->c);
      return;
    }
    if (!s->pending) s->pending = fc_malloc(PENDING_MAX * sizeof(*s->pending));
    s->pending[s->npending++] = fc_event_ref(e);
    return;
  }
  deliver(s, e);
}

static void drop_pending(csub_t *s)
{
  for (size_t i = 0; i < s->npending; i++)
    fc_event_unref(s->pending[i]);
  FC_FREE(s->pending);
  s->npending = 0;
}

/* The snapshot event wraps the read model's cached snapshot text as it is:
 * the envelope is written with "data":null and the text put in its place, so
 * a subscribe costs no parse and no second serialisation of the snapshot. */
static void send_snapshot(client_t *c, csub_t *s, const char *charger)
{
  size_t len;
  int64_t seq = 0;
  const char *snap = fc_bus_snapshot(c->p->bus, charger, &len, &seq);
  fc_event_t *e;
  if (snap) {
    fc_event_t *env = fc_event_make(FC_EV_SNAPSHOT, charger, seq, json_null());
    static const char tail[] = "null}";
    size_t keep = env->len - (sizeof(tail) - 1);
    assert(env->len >= sizeof(tail) - 1 && !memcmp(env->json + keep, tail, sizeof(tail) - 1));
    char *text = fc_malloc(keep + len + 1);
    memcpy(text, env->json, keep);
    memcpy(text + keep, snap, len);
    text[keep + len] = '}';
    e = fc_event_new(FC_EV_SNAPSHOT, charger, 0, seq, text, keep + len + 1);
    fc_free(text);
    fc_event_unref(env);
  } else {
    e = fc_event_make(FC_EV_SNAPSHOT, charger, seq,
                      json_pack("{s:s, s:b, s:I, s:n, s:[]}", "id", charger, "online", 0, "seq",
                                (json_int_t)0, "lastSeen", "connectors"));
  }
  enqueue_as(c, e, s, false);
  fc_event_unref(e);
  if (s && seq > s->last_seq) s->last_seq = seq;
}

/* "*" queues the snapshots of every charger as the queue drains, as a replay
 * reads its pages: a fleet's worth at once would pass the hard bound. */
static void todo_add(const char *charger, void *arg)
{
  csub_t *s = arg;
  if (s->ntodo == s->captodo) {
    s->captodo = s->captodo ? s->captodo * 2 : 64;
    s->todo = fc_realloc(s->todo, s->captodo * sizeof(*s->todo));
  }
  snprintf(s->todo[s->ntodo++], sizeof(*s->todo), "%s", charger);
}

static void snapshots_more(csub_t *s)
{
  client_t *c = s->c;
  while (s->itodo < s->ntodo && c->conn.wsi && !c->conn.closing &&
         c->q.bytes <= c->q.soft_bytes / 2)
    send_snapshot(c, NULL, s->todo[s->itodo++]);
  if (s->itodo == s->ntodo) {
    FC_FREE(s->todo);
    s->ntodo = s->itodo = s->captodo = 0;
  }
}

/* A charger's subscription (not "*" nor the system channel's). */
static csub_t *find_sub(client_t *c, const char *charger)
{
  csub_t *s = NULL;
  HASH_FIND_STR(c->subs, charger, s);
  return s;
}

static void replay_read(csub_t *s);

static void continue_replays(client_t *c)
{
  if (!c->waiting || !c->conn.wsi || c->conn.closing || c->q.bytes > c->q.soft_bytes / 2) return;
  /* Only the waiting ones: this runs after every frame. */
  csub_t *s, *tmp;
  DL_FOREACH_SAFE2(c->waiting, s, tmp, wnext)
  {
    if (s->todo) {
      snapshots_more(s);
      if (!s->todo) DL_DELETE2(c->waiting, s, wprev, wnext);
      continue;
    }
    DL_DELETE2(c->waiting, s, wprev, wnext);
    s->replay_more = false;
    replay_read(s);
  }
}

static void start_replay(csub_t *s)
{
  s->replaying = true;
  replay_read(s);
}

static void finish_replay(csub_t *s)
{
  s->replaying = false;
  size_t n = s->npending;
  fc_event_t **pend = s->pending;
  s->pending = NULL;
  s->npending = 0;
  for (size_t i = 0; i < n; i++) {
    deliver(s, pend[i]);
    fc_event_unref(pend[i]);
  }
  fc_free(pend);
}

typedef struct replay_ctx {
  client_t *c;
  char charger[49];
  uint64_t gen;
} replay_ctx_t;

static void replayed(fc_read_t *r, int status, void *arg)
{
  replay_ctx_t *rc = arg;
  client_t *c = rc->c;
  csub_t *s = c->conn.wsi ? find_sub(c, rc->charger) : NULL;
  if (!s || !s->replaying) goto out;
  s->replay_reading = false;
  if (status < 0) {
    /* The store cannot say what was missed: a snapshot is the next best. */
    send_snapshot(c, s, s->charger);
    finish_replay(s);
    goto out;
  }
  for (size_t i = 0; i < r->out_count; i++) {
    fc_event_t *e = fc_event_from_json(r->out_texts[i], strlen(r->out_texts[i]));
    if (!e) continue;
    if (i == 0 && e->seq > s->last_seq + 1) {
      /* Events since then were pruned: start again from a snapshot. */
      fc_event_unref(e);
      send_snapshot(c, s, s->charger);
      finish_replay(s);
      goto out;
    }
    if (e->seq > s->last_seq) {
      s->last_seq = e->seq;
      enqueue_as(c, e, s, true);
    }
    fc_event_unref(e);
  }
  if (r->out_count >= REPLAY_PAGE) {
    /* Paced by the client: the next page once this one has mostly gone. */
    s->replay_more = true;
    DL_APPEND2(c->waiting, s, wprev, wnext);
    continue_replays(c);
  } else {
    finish_replay(s);
  }
out:
  client_unref(c);
  fc_free(rc);
}

static void replay_read(csub_t *s)
{
  client_t *c = s->c;
  fc_read_t *r = fc_read_new(FC_READ_EVENTS, s->charger);
  r->arg_i64 = s->last_seq;
  r->limit = REPLAY_PAGE;
  replay_ctx_t *rc = fc_calloc(1, sizeof(*rc));
  rc->c = c;
  snprintf(rc->charger, sizeof(rc->charger), "%s", s->charger);
  s->replay_reading = true;
  client_ref(c);
  if (fc_store_read(c->p->store, r, replayed, rc) < 0) {
    client_unref(c); /* the socket holds another */
    fc_free(rc);
    send_snapshot(c, s, s->charger);
    finish_replay(s);
  }
}

/* The subscriptions refused in one subscribe message (op or URL), past the
 * caps: answered with one error event naming the first REFUSED_LIST ids and
 * counting them all, so a batch of thousands costs one event. */
typedef struct refusals {
  json_t *limit; /* the ids named, or NULL */
  size_t n_limit;
} refusals_t;

typedef enum { SUB_DONE, SUB_LIMIT } sub_result_t;

static void refused(json_t **list, size_t *n, const char *charger)
{
  if (!*list) *list = json_array();
  if (json_array_size(*list) < REFUSED_LIST) json_array_append_new(*list, json_string(charger));
  (*n)++;
}

static void refusal_event(client_t *c, const char *code, const char *detail, json_t *list, size_t n)
{
  fc_event_t *e = fc_event_make(FC_EV_ERROR, "", 0,
                                json_pack("{s:s, s:s, s:o, s:I}", "code", code, "detail", detail,
                                          "chargers", list, "count", (json_int_t)n));
  enqueue(c, e);
  fc_event_unref(e);
}

static void send_refusals(client_t *c, refusals_t *r)
{
  fc_push_t *p = c->p;
  uint64_t suppressed;
  char sub[FC_LOG_ESC_MAX], ip[FC_LOG_ESC_MAX];
  if (r->limit) {
    p->stats.sub_refused_limit += r->n_limit;
    if (log_due(p, "subs", c->who.sub, &suppressed))
      fc_log(FC_LOG_WARN, &c->log,
             "event=ui_subscribe_refused reason=limit sub=\"%s\" peer=\"%s\" refused=%zu "
             "conn_subs=%u subject_subs=%u suppressed=%llu",
             fc_log_esc(c->who.sub, sub, sizeof(sub)), fc_log_esc(c->ip, ip, sizeof(ip)),
             r->n_limit, c->nsubs, c->subject ? c->subject->subs : 0,
             (unsigned long long)suppressed);
    refusal_event(c, "too_many_subscriptions",
                  "subscription limit reached (per connection or per subject): unsubscribe "
                  "first, or subscribe \"*\"",
                  r->limit, r->n_limit);
  }
  r->limit = NULL;
}

/* ---- chargers not seen yet ---- */

static void watch_cb(fc_event_t *e, void *arg);

static void wait_for(fc_push_t *p, csub_t *s)
{
  wait_t *w = NULL;
  HASH_FIND_STR(p->waits, s->charger, w);
  if (!w) {
    w = fc_calloc(1, sizeof(*w));
    snprintf(w->id, sizeof(w->id), "%s", s->charger);
    HASH_ADD_STR(p->waits, id, w);
  }
  DL_APPEND2(w->subs, s, pprev, pnext);
  s->wait = w;
  p->nwaiting++;
  if (!p->watch) p->watch = fc_bus_subscribe(p->bus, NULL, watch_cb, p);
}

static void wait_drop(fc_push_t *p, wait_t *w)
{
  HASH_DEL(p->waits, w);
  fc_free(w);
  if (!p->waits && p->watch) {
    fc_bus_unsubscribe(p->bus, p->watch);
    p->watch = NULL;
  }
}

static void wait_cancel(fc_push_t *p, csub_t *s)
{
  wait_t *w = s->wait;
  DL_DELETE2(w->subs, s, pprev, pnext);
  s->wait = NULL;
  p->nwaiting--;
  if (!w->subs) wait_drop(p, w);
}

/* An event of a charger some subscriptions wait for (its first, as they
 * wait only while the bus has seen none): they join its channel and get
 * this event directly, since the bus served the channel before p->watch. */
static void watch_cb(fc_event_t *e, void *arg)
{
  fc_push_t *p = arg;
  wait_t *w = NULL;
  if (!e->charger[0]) return;
  HASH_FIND_STR(p->waits, e->charger, w);
  if (!w) return;
  csub_t *s, *tmp;
  DL_FOREACH_SAFE2(w->subs, s, tmp, pnext)
  {
    DL_DELETE2(w->subs, s, pprev, pnext);
    s->wait = NULL;
    p->nwaiting--;
    s->bsub = fc_bus_subscribe(p->bus, s->charger, on_event, s);
    on_event(e, s);
  }
  wait_drop(p, w);
}

static void sub_free(client_t *c, csub_t *s)
{
  if (s->wait) wait_cancel(c->p, s);
  fc_bus_unsubscribe(c->p->bus, s->bsub);
  fc_outq_forget(&c->q, s);
  if (s->replay_more) DL_DELETE2(c->waiting, s, wprev, wnext);
  if (s->todo) {
    DL_DELETE2(c->waiting, s, wprev, wnext);
    fc_free(s->todo);
  }
  drop_pending(s);
  fc_free(s);
}

/* The system channel's or "*"'s subscription: charger "" or "*". */
static csub_t *special_sub(client_t *c, const char *charger)
{
  csub_t *s = fc_calloc(1, sizeof(*s));
  s->c = c;
  snprintf(s->charger, sizeof(s->charger), "%s", charger);
  s->bsub = fc_bus_subscribe(c->p->bus, charger[0] ? NULL : "", on_event, s);
  return s;
}

static sub_result_t subscribe(client_t *c, const char *charger, bool has_since, int64_t since)
{
  fc_push_t *p = c->p;
  if (!strcmp(charger, "*")) {
    if (!c->who.all_chargers) {
      send_error(c, "*", "forbidden", "the token does not grant every charger");
      return SUB_DONE;
    }
    if (c->all_sub) return SUB_DONE;
    csub_t *s = c->all_sub = special_sub(c, "*");
    fc_bus_foreach(p->bus, todo_add, s);
    if (s->todo) {
      snapshots_more(s);
      if (s->todo) DL_APPEND2(c->waiting, s, wprev, wnext);
    }
    return SUB_DONE;
  }
  if (strlen(charger) == 0 || strlen(charger) > 48) {
    send_error(c, charger, "bad_request", "not a charger id");
    return SUB_DONE;
  }
  if (!fc_principal_may_see(&c->who, charger)) {
    send_error(c, charger, "forbidden", "the token does not grant this charger");
    return SUB_DONE;
  }
  csub_t *s = find_sub(c, charger);
  if (s) {
    if (!has_since) send_snapshot(c, s, charger); /* a fresh start, on request */
    return SUB_DONE;
  }
  if (c->nsubs >= (unsigned)p->cfg->ui_max_subscriptions || !c->subject ||
      c->subject->subs >= (unsigned)p->cfg->ui_max_subscriptions_per_subject)
    return SUB_LIMIT;
  s = fc_calloc(1, sizeof(*s));
  s->c = c;
  snprintf(s->charger, sizeof(s->charger), "%s", charger);
  HASH_ADD_STR(c->subs, charger, s);
  c->nsubs++;
  c->subject->subs++;
  p->nsubs++;
  /* A charger the bus has not seen gets no channel (any id may be named). */
  if (fc_bus_seen(p->bus, charger))
    s->bsub = fc_bus_subscribe(p->bus, charger, on_event, s);
  else
    wait_for(p, s);

  int64_t now_seq = fc_bus_seq(p->bus, charger);
  if (!has_since || since < 0 || since > now_seq) {
    send_snapshot(c, s, charger);
  } else if (since == now_seq) {
    s->last_seq = s->sent_seq = since; /* nothing missed */
  } else {
    s->last_seq = s->sent_seq = since;
    start_replay(s);
  }
  return SUB_DONE;
}

/* Subscribes one id of a message, noting a refusal in r. */
static void subscribe_one(client_t *c, const char *charger, bool has_since, int64_t since,
                          refusals_t *r)
{
  switch (subscribe(c, charger, has_since, since)) {
  case SUB_LIMIT:
    refused(&r->limit, &r->n_limit, charger);
    break;
  case SUB_DONE:
    break;
  }
}

static void unsubscribe(client_t *c, const char *charger)
{
  csub_t **special = !strcmp(charger, "*") ? &c->all_sub : !charger[0] ? &c->sys_sub : NULL;
  if (special) {
    if (*special) sub_free(c, *special);
    *special = NULL;
    return;
  }
  csub_t *s = find_sub(c, charger);
  if (!s) return;
  HASH_DEL(c->subs, s);
  c->nsubs--;
  c->subject->subs--;
  c->p->nsubs--;
  sub_free(c, s);
}

static void unsubscribe_all(client_t *c)
{
  csub_t *s, *tmp;
  HASH_ITER(hh, c->subs, s, tmp)
  {
    unsubscribe(c, s->charger);
  }
  unsubscribe(c, "*");
  unsubscribe(c, "");
}

/* ---- messages from the browser ---- */

static void handle_message(client_t *c, const char *text, size_t len)
{
  if (c->conn.closing) return; /* nothing more for it: it is being closed */
  json_error_t jerr;
  json_t *m = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
  const char *op = json_string_value(json_object_get(m, "op"));
  if (!m || !json_is_object(m) || !op) {
    send_error(c, "", "bad_request", "expected a JSON object with an \"op\"");
    json_decref(m);
    return;
  }
  if (!strcmp(op, "ping")) {
    fc_event_t *e = fc_event_make(FC_EV_PONG, "", 0, NULL);
    enqueue(c, e);
    fc_event_unref(e);
  } else if (!strcmp(op, "subscribe") || !strcmp(op, "unsubscribe")) {
    bool sub = op[0] == 's';
    json_t *list = json_object_get(m, "chargers");
    json_t *since = json_object_get(m, "since");
    if (json_is_string(list))
      list = json_pack("[O]", list);
    else
      json_incref(list);
    if (!json_is_array(list) || (since && !json_is_object(since))) {
      send_error(c, "", "bad_request", "\"chargers\" must be an array of ids, \"since\" an object");
    } else {
      size_t i;
      json_t *v;
      refusals_t r = {0};
      json_array_foreach(list, i, v)
      {
        const char *id = json_string_value(v);
        if (!id) continue;
        if (!sub) {
          unsubscribe(c, id);
          continue;
        }
        json_t *sv = json_object_get(since, id);
        subscribe_one(c, id, json_is_integer(sv), json_is_integer(sv) ? json_integer_value(sv) : 0,
                      &r);
      }
      send_refusals(c, &r);
    }
    json_decref(list);
  } else {
    send_error(c, "", "bad_request", "unknown op");
  }
  json_decref(m);
}

/* ---- tokens and users ---- */

static void users_free(user_t **map)
{
  user_t *e, *tmp;
  HASH_ITER(hh, *map, e, tmp)
  {
    HASH_DEL(*map, e);
    fc_free(e);
  }
}

/* Why a verified token may no longer open or keep a socket: its subject is a
 * user whose role is not the token's any more, or a user removed since the
 * server started; else NULL. A subject that never was a user (a token minted
 * with `flashcharge token` for a service) is not affected. */
static const char *revoked_why(fc_push_t *p, const fc_principal_t *who)
{
  user_t *u = NULL;
  HASH_FIND_STR(p->users, who->sub, u);
  if (u) return u->role == who->role ? NULL : "role changed";
  HASH_FIND_STR(p->removed, who->sub, u);
  return u ? "user removed" : NULL;
}

/* The token's end, exp + leeway, when REST starts refusing it too: an lws
 * timer on the connection (LWS_CALLBACK_TIMER), which costs no handle. */
static void arm_expiry(client_t *c)
{
  struct timeval tv;
  gettimeofday(&tv, NULL);
  long long now_ms = (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000;
  long long exp = c->who.exp < EXP_FAR ? c->who.exp : EXP_FAR;
  long long end_ms = (exp + (long long)c->p->jwt->leeway_s) * 1000;
  lws_set_timer_usecs(c->conn.wsi, end_ms > now_ms ? (lws_usec_t)(end_ms - now_ms) * 1000 : 1);
}

/* Closes c with 1008 now: what was queued is dropped, nothing more is sent. */
static void close_revoked(client_t *c, const char *why)
{
  fc_log(FC_LOG_NOTICE, &c->log, "event=ui_token_revoked reason=\"%s\" action=close code=1008",
         why);
  fc_outq_cleanup(&c->q);
  close_client(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, why);
}

static void token_expired(client_t *c)
{
  if (!c->conn.wsi || c->conn.closing) return;
  c->p->stats.closed_expired++;
  close_revoked(c, "token expired");
}

static void release(fc_push_t *p);

static void add_user(const fc_user_rec_t *rec, void *arg)
{
  user_check_t *j = arg;
  fc_role_t role;
  if (fc_jwt_parse_role(rec->role, &role) != 0) return;
  user_t *u = fc_calloc(1, sizeof(*u));
  snprintf(u->name, sizeof(u->name), "%s", rec->name);
  u->role = role;
  HASH_ADD_STR(j->users, name, u);
}

/* A worker thread: reads the users table on the push's own administration
 * connection (opened by the first read; one read at a time). */
static void user_check_work(uv_work_t *w)
{
  user_check_t *j = w->data;
  fc_push_t *p = j->p;
  if (!p->udb && (j->status = fc_store_admin_open(p->cfg->db, &p->udb)) < 0) return;
  j->status = fc_store_admin_user_list(p->udb, add_user, j);
}

/* Takes the users table as just read: the names gone since the last read
 * join p->removed (and leave it when added again); then, when anything
 * changed, every socket whose token that revokes is closed. */
static void users_update(fc_push_t *p, user_t *fresh)
{
  bool changed = !p->users_read || HASH_COUNT(fresh) != HASH_COUNT(p->users);
  user_t *u, *tmp, *f;
  HASH_ITER(hh, p->users, u, tmp)
  {
    HASH_FIND_STR(fresh, u->name, f);
    if (f && f->role == u->role) continue;
    changed = true;
    if (!f) {
      HASH_DEL(p->users, u);
      HASH_FIND_STR(p->removed, u->name, f);
      if (!f)
        HASH_ADD_STR(p->removed, name, u);
      else
        fc_free(u);
    }
  }
  HASH_ITER(hh, fresh, u, tmp)
  {
    HASH_FIND_STR(p->removed, u->name, f);
    if (f) {
      HASH_DEL(p->removed, f);
      fc_free(f);
    }
  }
  users_free(&p->users);
  p->users = fresh;
  p->users_read = true;
  if (!changed) return;
  client_t *c;
  DL_FOREACH(p->clients, c)
  {
    if (!c->conn.wsi || c->conn.closing || !c->subject) continue;
    const char *why = revoked_why(p, &c->who);
    if (!why) continue;
    p->stats.closed_revoked++;
    close_revoked(c, why);
  }
}

static void user_check_done(uv_work_t *w, int status)
{
  user_check_t *j = w->data;
  fc_push_t *p = j->p;
  p->user_checking = false;
  if (status == 0 && j->status == 0 && !p->stopping) {
    users_update(p, j->users);
  } else {
    users_free(&j->users);
    uint64_t suppressed;
    if (status == 0 && j->status < 0 && log_due(p, "users", "read", &suppressed))
      fc_log(FC_LOG_WARN, NULL, "event=ui_user_check_failed err=%s suppressed=%llu",
             fc_strerror(j->status), (unsigned long long)suppressed);
  }
  fc_free(j);
  release(p);
}

static void user_timer_cb(uv_timer_t *t)
{
  fc_push_t *p = t->data;
  if (p->user_checking || p->stopping) return;
  user_check_t *j = fc_calloc(1, sizeof(*j));
  j->p = p;
  j->work.data = j;
  if (uv_queue_work(p->loop, &j->work, user_check_work, user_check_done) < 0) {
    fc_free(j);
    return;
  }
  p->user_checking = true;
  p->handles++; /* p outlives the read */
}

/* ---- authentication and admission ---- */

static int refuse(struct lws *wsi, unsigned status, const char *error, const char *detail)
{
  char body[512];
  int blen = snprintf(body, sizeof(body), "{\"error\":\"%s\",\"detail\":\"%s\"}\n", error, detail);
  if (fc_http_write(wsi, status, "application/json", body, (size_t)blen,
                    status == 401 ? "Bearer" : NULL, 0) < 0)
    return -1;
  return 1;
}

/* True when every subprotocol the client offers (Sec-WebSocket-Protocol) is
 * the browser's, "fc-ui", or it offers none. lws binds an upgrade to the
 * first offered name of any protocol of the vhost, and "fc-web-http" (the
 * REST callback) is one: a connection bound to it would bypass this
 * module's caps and counts altogether. */
static bool browser_subprotocols(struct lws *wsi)
{
  int total = lws_hdr_total_length(wsi, WSI_TOKEN_PROTOCOL);
  if (total <= 0) return true;
  char list[256];
  if (total >= (int)sizeof(list) || lws_hdr_copy(wsi, list, sizeof(list), WSI_TOKEN_PROTOCOL) < 0)
    return false;
  char *save = NULL;
  for (char *name = strtok_r(list, ", \t", &save); name; name = strtok_r(NULL, ", \t", &save))
    if (strcmp(name, "fc-ui") != 0) return false;
  return true;
}

int fc_push_confirm_upgrade(void *push, struct lws *wsi)
{
  fc_push_t *p = push;
  char uri[256], ip[64] = "", eip[FC_LOG_ESC_MAX];
  const char *why = NULL;
  uint64_t suppressed;
  fc_principal_t who;

  if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0)
    return refuse(wsi, 404, "not_found", "the UI WebSocket is at /ws");
  lws_get_peer_simple(wsi, ip, sizeof(ip));
  if (!browser_subprotocols(wsi)) {
    p->stats.refused++;
    if (log_due(p, "subprotocol", ip, &suppressed))
      fc_log(FC_LOG_WARN, NULL,
             "event=ui_refused status=400 reason=subprotocol peer=\"%s\" suppressed=%llu",
             fc_log_esc(ip, eip, sizeof(eip)), (unsigned long long)suppressed);
    return refuse(wsi, 400, "bad_request",
                  "unsupported subprotocol: offer none, or fc-ui (Sec-WebSocket-Protocol)");
  }
  if (fc_auth_request(p->jwt, wsi, &who, &why) < 0 || (why = revoked_why(p, &who))) {
    p->stats.refused++;
    fc_log(FC_LOG_WARN, NULL, "event=ui_refused status=401 reason=\"%s\" peer=%s", why, ip);
    fc_principal_cleanup(&who);
    return refuse(wsi, 401, "unauthorized", why);
  }
  int rc = 0;
  unsigned *n;
  if (p->nclients >= p->max_clients) {
    rc = refuse(wsi, 503, "unavailable", "too many connections");
  } else if ((n = count_of(&p->per_ip, ip, false)) && *n >= (unsigned)p->cfg->ui_max_per_ip) {
    rc = refuse(wsi, 429, "too_many_connections", "too many connections from this address");
  } else if ((n = count_of(&p->per_sub, who.sub, false)) &&
             *n >= (unsigned)p->cfg->ui_max_per_subject) {
    rc = refuse(wsi, 429, "too_many_connections", "too many connections for this subject");
  }
  if (rc) {
    p->stats.refused++;
    fc_log(FC_LOG_WARN, NULL, "event=ui_refused reason=limit peer=%s sub=%s", ip, who.sub);
  }
  fc_principal_cleanup(&who);
  return rc;
}

/* ---- connection life ---- */

/* The browser side of the connection base (net/wsconn.h), defined below.
 * Its frames are not the base's queue: client_write builds one from the
 * coalescing queue (outq.c) when the socket has room. */
static const fc_wsconn_ops_t client_ops;

static void start(client_t *c, struct lws *wsi);

static fc_wsconn_t *established(struct lws *wsi)
{
  fc_push_t *p = (fc_push_t *)lws_get_protocol(wsi)->user;
  client_t *c = fc_calloc(1, sizeof(*c));
  fc_wsconn_init(&c->conn, &client_ops, wsi, RX_MAX, 0);
  c->p = p;
  start(c, wsi);
  return &c->conn;
}

static void start(client_t *c, struct lws *wsi)
{
  fc_push_t *p = c->p;
  const char *why;
  c->id = ++p->next_id;
  c->log.conn = c->id;
  fc_outq_init(&c->q, (size_t)p->cfg->ui_queue_soft, (size_t)p->cfg->ui_queue_hard, 65536);
  fc_bucket_init(&c->bucket, p->cfg->ui_max_rate, uv_now(p->loop));
  c->deflate = fc_deflate_mode(wsi);
  lws_get_peer_simple(wsi, c->ip, sizeof(c->ip));
  DL_PREPEND(p->clients, c);
  p->nclients++;
  p->stats.clients++;

  if (fc_auth_request(p->jwt, wsi, &c->who, &why) < 0) {
    /* The token expired between the handshake's check and now. */
    close_client(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "unauthorized");
    return;
  }
  (*count_of(&p->per_ip, c->ip, true))++;
  c->subject = counter_of(&p->per_sub, c->who.sub, true);
  c->subject->n++;
  fc_log(FC_LOG_INFO, &c->log, "event=ui_connected peer=%s sub=%s role=%d", c->ip, c->who.sub,
         (int)c->who.role);
  const char *revoked = revoked_why(p, &c->who);
  if (revoked) {
    close_client(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, revoked);
    return;
  }
  arm_expiry(c);

  json_t *chargers = json_array();
  if (c->who.all_chargers) {
    json_decref(chargers);
    chargers = json_string("*");
  } else {
    for (size_t i = 0; i < c->who.n_chargers; i++)
      json_array_append_new(chargers, json_string(c->who.chargers[i]));
  }
  static const char *const roles[] = {"", "viewer", "operator", "admin"};
  fc_event_t *hello =
      fc_event_make(FC_EV_HELLO, "", 0,
                    json_pack("{s:s, s:s, s:o, s:i}", "sub", c->who.sub, "role", roles[c->who.role],
                              "chargers", chargers, "heartbeat", p->cfg->ui_ping_interval));
  enqueue(c, hello);
  fc_event_unref(hello);

  /* Admins receive the system alerts (system.degraded / system.recovered). */
  if (c->who.role == FC_ROLE_ADMIN) c->sys_sub = special_sub(c, "");

  /* /ws?charger=A&charger=B,C&since=41 subscribes at once. */
  /* The arguments can be as long as lws let the request line be; each is
   * read into a buffer that holds them all (lws gives up on an argument
   * longer than the buffer, and then on the ones after it). */
  int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
  if (total <= 0) return;
  char *arg = fc_malloc((size_t)total + 1);
  refusals_t r = {0};
  int64_t since = -1;
  const char *sv = lws_get_urlarg_by_name(wsi, "since=", arg, total + 1);
  bool has_since = sv != NULL;
  if (has_since) since = strtoll(sv, NULL, 10);
  for (int i = 0;; i++) {
    /* -1: no more arguments (the buffer holds any one of them) */
    if (lws_hdr_copy_fragment(wsi, arg, total + 1, WSI_TOKEN_HTTP_URI_ARGS, i) <= 0) break;
    if (strncmp(arg, "charger=", 8) != 0) continue;
    char *save = NULL;
    for (char *id = strtok_r(arg + 8, ",", &save); id; id = strtok_r(NULL, ",", &save))
      subscribe_one(c, id, has_since, since, &r);
  }
  fc_free(arg);
  send_refusals(c, &r);
}

static void closed(fc_wsconn_t *conn)
{
  client_t *c = client_of(conn);
  fc_push_t *p = c->p;
  unsubscribe_all(c);
  if (c->who.sub[0]) {
    count_drop(&p->per_ip, c->ip);
    count_drop(&p->per_sub, c->who.sub);
  }
  DL_DELETE(p->clients, c);
  p->nclients--;
  fc_log(FC_LOG_INFO, &c->log, "event=ui_disconnected");
  fc_outq_cleanup(&c->q);
}

static bool take_token(client_t *c)
{
  fc_push_t *p = c->p;
  double rate = p->cfg->ui_max_rate;
  return fc_bucket_take(&c->bucket, uv_now(p->loop), rate, rate);
}

static void throttle_cb(uv_timer_t *t)
{
  fc_push_t *p = t->data;
  client_t *list = p->throttled, *c, *tmp;
  p->throttled = NULL;
  LL_FOREACH_SAFE2(list, c, tmp, throttle_next)
  {
    c->throttled = false;
    c->q.coalescing = false;
    if (c->conn.wsi && !c->conn.closing && !fc_outq_empty(&c->q)) mark_dirty(c);
    client_unref(c);
  }
}

static void throttle(client_t *c)
{
  fc_push_t *p = c->p;
  c->throttled = true;
  c->q.coalescing = true;
  client_ref(c);
  LL_PREPEND2(p->throttled, c, throttle_next);
  if (!uv_is_active((uv_handle_t *)&p->timer)) {
    uint64_t wait = (uint64_t)(1000.0 / p->cfg->ui_max_rate);
    uv_timer_start(&p->timer, throttle_cb, wait ? wait : 1, 0);
  }
}

/* Writes the queued events as one frame (a JSON object, or an array of
 * them), if the client may have a frame now: the socket has room (POLLOUT;
 * what a slow client has not taken stays here, where it can coalesce, and
 * does not fill the kernel's buffers), and the frame-rate limit allows
 * (closing clients are not limited). Returns -1 when the connection is
 * broken. */
static int write_queued(client_t *c)
{
  fc_push_t *p = c->p;
  struct lws *wsi = c->conn.wsi;
  if (fc_outq_empty(&c->q) || lws_send_pipe_choked(wsi)) return 0;
  if (!c->conn.closing && !take_token(c)) {
    if (!c->throttled) throttle(c);
    return 0;
  }
  fc_event_t *evs[FRAME_EVENTS];
  void *owners[FRAME_EVENTS];
  size_t n = fc_outq_take(&c->q, evs, owners, FRAME_EVENTS, FRAME_BYTES);
  for (size_t i = 0; i < n; i++) {
    csub_t *s = owners[i];
    if (s && evs[i]->seq > s->sent_seq) s->sent_seq = evs[i]->seq;
  }
  int rc;
  if (c->deflate) {
    /* The same frame from the events' cached compressed forms. */
    rc = fc_deflate_write(wsi, c->deflate, evs, n);
  } else {
    size_t len = n > 1 ? n + 1 : 0; /* brackets and commas */
    for (size_t i = 0; i < n; i++)
      len += evs[i]->len;
    if (p->frame_cap < LWS_PRE + len) {
      /* lws copies what the socket does not take: one buffer serves all */
      p->frame_cap = LWS_PRE + len;
      p->frame = fc_realloc(p->frame, p->frame_cap);
    }
    unsigned char *buf = p->frame;
    unsigned char *w = buf + LWS_PRE;
    if (n > 1) *w++ = '[';
    for (size_t i = 0; i < n; i++) {
      if (i) *w++ = ',';
      memcpy(w, evs[i]->json, evs[i]->len);
      w += evs[i]->len;
    }
    if (n > 1) *w++ = ']';
    rc = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT) < (int)len ? -1 : 0;
  }
  for (size_t i = 0; i < n; i++)
    fc_event_unref(evs[i]);
  if (rc < 0) return -1;
  p->stats.frames_out++;
  p->stats.events_out += n;
  return 0;
}

/* The base's write hook: from SERVER_WRITEABLE (lws has drained what it
 * buffered, the throttle let go, or a frame did not take everything that
 * was queued) and at the end of the loop iteration, where everything the
 * iteration queued for a client goes out as one frame. */
static int client_write(fc_wsconn_t *conn)
{
  client_t *c = client_of(conn);
  if (write_queued(c) < 0) return -1;
  continue_replays(c);
  if (fc_outq_empty(&c->q)) return FC_WSCONN_DONE;
  return c->throttled ? FC_WSCONN_HELD : FC_WSCONN_MORE;
}

static int client_rx_check(fc_wsconn_t *conn)
{
  client_t *c = client_of(conn);
  /* deflate.c set the reason */
  return c->deflate && fc_deflate_rx_failed(conn->wsi) ? -1 : 0;
}

static void client_message(fc_wsconn_t *conn, const char *text, size_t len)
{
  handle_message(client_of(conn), text, len);
}

static const fc_wsconn_ops_t client_ops = {.established = established,
                                           .message = client_message,
                                           .rx_check = client_rx_check,
                                           .write = client_write,
                                           .closed = closed,
                                           .free = client_free};

/* The browser's WebSocket: the handshake, its headers and the token's timer
 * here; the connection the base's. */
int fc_push_lws_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
  fc_wsconn_t **slot = user;
  switch (reason) {
  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    /* lws asks the protocol the connection is bound to, which for a new
     * connection on this vhost is this one (the default). */
    return fc_push_confirm_upgrade(lws_get_protocol(wsi)->user, wsi);
  case LWS_CALLBACK_ADD_HEADERS: /* the handshake response */
    return fc_deflate_add_headers(wsi, in);
  case LWS_CALLBACK_TIMER: /* arm_expiry's */
    if (slot && *slot) token_expired(client_of(*slot));
    return 0;
  case LWS_CALLBACK_HTTP_FILE_COMPLETION:
    /* This is the web vhost's default protocol, so the "/" mount's static
     * files are served on it: a finished file must end the HTTP transaction,
     * or the next request on the keep-alive connection gets the previous
     * file's headers and no body. */
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  default: /* ESTABLISHED, RECEIVE, SERVER_WRITEABLE, CLOSED */
    return fc_wsconn_callback(&client_ops, wsi, reason, user, in, len);
  }
}

/* ---- lifecycle ---- */

fc_push_t *fc_push_new(uv_loop_t *loop, const fc_config_t *cfg, const fc_jwt_cfg_t *jwt,
                       fc_bus_t *bus, fc_store_t *store)
{
  fc_push_t *p = fc_calloc(1, sizeof(*p));
  p->loop = loop;
  p->cfg = cfg;
  p->jwt = jwt;
  p->bus = bus;
  p->store = store;
  p->max_clients = (size_t)cfg->ui_max_clients;
  uv_timer_init(loop, &p->timer);
  p->timer.data = p;
  uv_timer_init(loop, &p->user_timer);
  p->user_timer.data = p;
  uint64_t every = (uint64_t)cfg->ui_user_check;
  uv_timer_start(&p->user_timer, user_timer_cb, every, every);
  uv_unref((uv_handle_t *)&p->user_timer); /* keeps no loop alive by itself */
  fc_soon_init(&p->soon, loop, fc_wsconn_flush_cb, p);
  p->handles = 4;
  return p;
}

void fc_push_cap_clients(fc_push_t *p, size_t cap)
{
  if (cap < p->max_clients) p->max_clients = cap;
}

void fc_push_close_all(fc_push_t *p)
{
  client_t *c;
  DL_FOREACH(p->clients, c)
  close_client(c, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
}

/* One of p's handles (or a users read) is done; the last one frees p. */
static void release(fc_push_t *p)
{
  if (--p->handles > 0) return;
  users_free(&p->users);
  users_free(&p->removed);
  offender_t *o, *otmp;
  HASH_ITER(hh, p->offenders, o, otmp)
  {
    HASH_DEL(p->offenders, o);
    fc_free(o);
  }
  if (p->udb) fc_store_admin_close(p->udb);
  counter_t *e, *tmp;
  HASH_ITER(hh, p->per_ip, e, tmp)
  {
    HASH_DEL(p->per_ip, e);
    fc_free(e);
  }
  HASH_ITER(hh, p->per_sub, e, tmp)
  {
    HASH_DEL(p->per_sub, e);
    fc_free(e);
  }
  fc_free(p->frame);
  fc_free(p);
}

static void handle_closed(uv_handle_t *h)
{
  release(h->data);
}

void fc_push_free(fc_push_t *p)
{
  p->stopping = true;
  uv_close((uv_handle_t *)&p->user_timer, handle_closed);
  uv_timer_stop(&p->timer);
  throttle_cb(&p->timer);
  fc_soon_close(&p->soon, handle_closed, p); /* writes nothing: all are closed */
  fc_deflate_cleanup();
  uv_close((uv_handle_t *)&p->timer, handle_closed);
}

void fc_push_stats(const fc_push_t *p, fc_push_stats_t *out)
{
  *out = p->stats;
  out->clients = p->nclients;
  out->subscriptions = p->nsubs;
  out->subscriptions_waiting = p->nwaiting;
  out->queued_bytes = 0;
  out->coalesced = 0;
  client_t *c;
  DL_FOREACH(p->clients, c)
  {
    out->queued_bytes += c->q.bytes;
    out->coalesced += c->q.coalesced;
  }
}
