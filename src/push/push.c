/* Browser connections on /ws.
 *
 * A connection holds its principal (from the JWT), its subscriptions and one
 * bounded queue (outq.c). Events reach it synchronously from the bus; it only
 * queues them and asks lws for writability, so a slow or stalled browser
 * costs its own queue and nothing else. Frames are written from
 * SERVER_WRITEABLE only: the queued events go out as one JSON object, or as
 * one JSON array when several are waiting, at most ui_max_rate frames per
 * second (while throttled, state events coalesce).
 *
 * Subscribing: the bus subscription starts first, then either a snapshot is
 * queued (its seq is the charger's current one, and live events after it
 * follow), or, with `since`, the missed events are read from the store while
 * live ones wait in a side buffer; once the replay has caught up, buffered
 * events with a higher seq follow. Each subscription remembers the last seq
 * it delivered, so nothing is sent twice and nothing is skipped. A replay
 * that finds a gap (events pruned by retention) falls back to a snapshot. */
#include "core/json.h"
#include "push/push.h"
#include "push/deflate.h"
#include "push/outq.h"
#include "push/push_lws.h"

#include "auth/request.h"
#include "net/soon.h"
#include "net/ws.h"

#include "core/err.h"
#include "core/mem.h"
#include "log/log.h"

#include <assert.h>
#include <libwebsockets.h>
#include <stddef.h>
#include <string.h>
#include <uthash.h>

#define RX_MAX 65536      /* largest message a browser may send */
#define FRAME_EVENTS 256  /* events batched into one frame at most */
#define FRAME_BYTES 65536 /* bytes of events batched into one frame at most */
#define REPLAY_PAGE                                                                                \
  100                     /* events per store read while replaying; the next page is read          \
                             only once the queue has drained below half its soft bound */
#define PENDING_MAX 10000 /* live events buffered during a replay */

typedef struct client client_t;

typedef struct csub {
  client_t *c;
  char charger[49]; /* "" for the system channel, "*" for all chargers */
  fc_bus_sub_t *bsub;
  int64_t last_seq; /* the last seq queued */
  int64_t sent_seq; /* the last seq written to the socket */
  bool replaying;
  bool replay_more;    /* another page to read once the queue drains */
  bool replay_reading; /* a page is being read */
  fc_event_t **pending;
  size_t npending;
  char (*todo)[49]; /* "*": the chargers whose snapshot is still to be queued */
  size_t ntodo, itodo, captodo;
  struct csub *next;
} csub_t;

typedef struct counter {
  char key[64];
  unsigned n;
  UT_hash_handle hh;
} counter_t;

struct client {
  fc_push_t *p;
  struct lws *wsi; /* NULL once closed */
  int refs;
  uint64_t id;
  fc_principal_t who;
  char ip[64];
  fc_log_ctx_t log;
  fc_outq_t q;
  csub_t *subs;
  char *rx;
  size_t rx_len;
  bool closing;
  int close_code;
  const char *close_reason;
  double tokens;
  uint64_t tokens_at;
  bool throttled;
  fc_deflate_mode_t deflate; /* permessage-deflate negotiated (deflate.c) */
  unsigned replays;          /* subscriptions replaying, or with snapshots to queue */
  fc_soon_link_t soon;       /* on p->soon: queued events to write */
  client_t *prev, *next;     /* all clients */
  client_t *throttle_next;
};

struct fc_push {
  uv_loop_t *loop;
  const fc_config_t *cfg;
  const fc_jwt_cfg_t *jwt;
  fc_bus_t *bus;
  fc_store_t *store;
  client_t *clients;
  size_t nclients;
  uint64_t next_id;
  counter_t *per_ip, *per_sub;
  client_t *throttled;
  fc_soon_t soon; /* clients to write to at the end of this loop iteration */
  uv_timer_t timer;
  int handles;          /* open libuv handles; the last one closed frees this */
  size_t max_clients;   /* ui_max_clients, or less (fc_push_cap_clients) */
  unsigned char *frame; /* the frame being written (LWS_PRE, then the text) */
  size_t frame_cap;
  fc_push_stats_t stats;
};

/* ---- helpers ---- */

static void client_unref(client_t *c)
{
  if (--c->refs > 0) return;
  fc_principal_cleanup(&c->who);
  fc_outq_cleanup(&c->q);
  fc_free(c->rx);
  fc_free(c);
}

static unsigned *count_of(counter_t **map, const char *key, bool create)
{
  counter_t *e = NULL;
  HASH_FIND_STR(*map, key, e);
  if (!e && create) {
    e = fc_calloc(1, sizeof(*e));
    snprintf(e->key, sizeof(e->key), "%s", key);
    HASH_ADD_STR(*map, key, e);
  }
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

static void close_client(client_t *c, int code, const char *reason)
{
  if (!c->wsi || c->closing) return;
  c->closing = true;
  c->close_code = code;
  c->close_reason = reason;
  lws_callback_on_writable(c->wsi);
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
  for (csub_t *s = c->subs; s; s = s->next)
    if (s->charger[0] && strcmp(s->charger, "*"))
      json_object_set_new(seqs, s->charger, json_integer(s->sent_seq));
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
  if (!c->throttled && fc_soon_add(&c->p->soon, &c->soon)) c->refs++;
}

/* owner: the charger's subscription (its sent_seq follows what is written),
 * or NULL. Replayed events are exactly what the client missed: kept, never
 * coalesced. */
static void enqueue_as(client_t *c, fc_event_t *e, csub_t *owner, bool kept)
{
  if (!c->wsi || c->closing) return;
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
  while (s->itodo < s->ntodo && c->wsi && !c->closing && c->q.bytes <= c->q.soft_bytes / 2)
    send_snapshot(c, NULL, s->todo[s->itodo++]);
  if (s->itodo == s->ntodo) {
    FC_FREE(s->todo);
    s->ntodo = s->itodo = s->captodo = 0;
    c->replays--;
  }
}

static csub_t *find_sub(client_t *c, const char *charger)
{
  for (csub_t *s = c->subs; s; s = s->next)
    if (!strcmp(s->charger, charger)) return s;
  return NULL;
}

static void replay_read(csub_t *s);

static void continue_replays(client_t *c)
{
  if (!c->replays || !c->wsi || c->closing || c->q.bytes > c->q.soft_bytes / 2) return;
  for (csub_t *s = c->subs; s; s = s->next) {
    if (s->todo) snapshots_more(s);
    if (s->replaying && s->replay_more && !s->replay_reading) {
      s->replay_more = false;
      replay_read(s);
    }
  }
}

static void start_replay(csub_t *s)
{
  s->replaying = true;
  s->c->replays++;
  replay_read(s);
}

static void finish_replay(csub_t *s)
{
  s->replaying = false;
  s->c->replays--;
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
  csub_t *s = c->wsi ? find_sub(c, rc->charger) : NULL;
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
  c->refs++;
  if (fc_store_read(c->p->store, r, replayed, rc) < 0) {
    c->refs--;
    fc_free(rc);
    send_snapshot(c, s, s->charger);
    finish_replay(s);
  }
}

static void subscribe(client_t *c, const char *charger, bool has_since, int64_t since)
{
  fc_push_t *p = c->p;
  if (!strcmp(charger, "*")) {
    if (!c->who.all_chargers) {
      send_error(c, "*", "forbidden", "the token does not grant every charger");
      return;
    }
    if (find_sub(c, "*")) return;
    csub_t *s = fc_calloc(1, sizeof(*s));
    s->c = c;
    snprintf(s->charger, sizeof(s->charger), "*");
    s->next = c->subs;
    c->subs = s;
    s->bsub = fc_bus_subscribe(p->bus, NULL, on_event, s);
    fc_bus_foreach(p->bus, todo_add, s);
    if (s->todo) {
      c->replays++;
      snapshots_more(s);
    }
    return;
  }
  if (strlen(charger) == 0 || strlen(charger) > 48) {
    send_error(c, charger, "bad_request", "not a charger id");
    return;
  }
  if (!fc_principal_may_see(&c->who, charger)) {
    send_error(c, charger, "forbidden", "the token does not grant this charger");
    return;
  }
  csub_t *s = find_sub(c, charger);
  if (s) {
    if (!has_since) send_snapshot(c, s, charger); /* a fresh start, on request */
    return;
  }
  s = fc_calloc(1, sizeof(*s));
  s->c = c;
  snprintf(s->charger, sizeof(s->charger), "%s", charger);
  s->next = c->subs;
  c->subs = s;
  s->bsub = fc_bus_subscribe(p->bus, charger, on_event, s);

  int64_t now_seq = fc_bus_seq(p->bus, charger);
  if (!has_since || since < 0 || since > now_seq) {
    send_snapshot(c, s, charger);
  } else if (since == now_seq) {
    s->last_seq = s->sent_seq = since; /* nothing missed */
  } else {
    s->last_seq = s->sent_seq = since;
    start_replay(s);
  }
}

static void unsubscribe(client_t *c, const char *charger)
{
  csub_t **pp = &c->subs;
  while (*pp) {
    csub_t *s = *pp;
    if (!strcmp(s->charger, charger)) {
      *pp = s->next;
      fc_bus_unsubscribe(c->p->bus, s->bsub);
      fc_outq_forget(&c->q, s);
      if (s->replaying) c->replays--;
      if (s->todo) c->replays--;
      fc_free(s->todo);
      drop_pending(s);
      fc_free(s);
      return;
    }
    pp = &s->next;
  }
}

static void unsubscribe_all(client_t *c)
{
  while (c->subs)
    unsubscribe(c, c->subs->charger);
}

/* ---- messages from the browser ---- */

static void handle_message(client_t *c, const char *text, size_t len)
{
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
      json_array_foreach(list, i, v)
      {
        const char *id = json_string_value(v);
        if (!id) continue;
        if (!sub) {
          unsubscribe(c, id);
          continue;
        }
        json_t *sv = json_object_get(since, id);
        subscribe(c, id, json_is_integer(sv), json_is_integer(sv) ? json_integer_value(sv) : 0);
      }
    }
    json_decref(list);
  } else {
    send_error(c, "", "bad_request", "unknown op");
  }
  json_decref(m);
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

int fc_push_confirm_upgrade(void *push, struct lws *wsi)
{
  fc_push_t *p = push;
  char uri[256], ip[64] = "";
  const char *why = NULL;
  fc_principal_t who;

  if (lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI) <= 0 || strcmp(uri, "/ws") != 0)
    return refuse(wsi, 404, "not_found", "the UI WebSocket is at /ws");
  lws_get_peer_simple(wsi, ip, sizeof(ip));
  if (fc_auth_request(p->jwt, wsi, &who, &why) < 0) {
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

static void established(fc_push_t *p, struct lws *wsi, client_t **slot)
{
  const char *why;
  client_t *c = fc_calloc(1, sizeof(*c));
  c->p = p;
  c->wsi = wsi;
  c->refs = 1;
  c->id = ++p->next_id;
  c->log.conn = c->id;
  fc_outq_init(&c->q, (size_t)p->cfg->ui_queue_soft, (size_t)p->cfg->ui_queue_hard, 65536);
  c->tokens = p->cfg->ui_max_rate;
  c->tokens_at = uv_now(p->loop);
  c->deflate = fc_deflate_mode(wsi);
  lws_get_peer_simple(wsi, c->ip, sizeof(c->ip));
  *slot = c;
  c->next = p->clients;
  if (p->clients) p->clients->prev = c;
  p->clients = c;
  p->nclients++;
  p->stats.clients++;

  if (fc_auth_request(p->jwt, wsi, &c->who, &why) < 0) {
    /* The token expired between the handshake's check and now. */
    close_client(c, LWS_CLOSE_STATUS_POLICY_VIOLATION, "unauthorized");
    return;
  }
  (*count_of(&p->per_ip, c->ip, true))++;
  (*count_of(&p->per_sub, c->who.sub, true))++;
  fc_log(FC_LOG_INFO, &c->log, "event=ui_connected peer=%s sub=%s role=%d", c->ip, c->who.sub,
         (int)c->who.role);

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
  if (c->who.role == FC_ROLE_ADMIN) {
    csub_t *s = fc_calloc(1, sizeof(*s));
    s->c = c;
    s->next = c->subs;
    c->subs = s;
    s->bsub = fc_bus_subscribe(p->bus, "", on_event, s);
  }

  /* /ws?charger=A&charger=B,C&since=41 subscribes at once. */
  /* The arguments can be as long as lws let the request line be; each is
   * read into a buffer that holds them all (lws gives up on an argument
   * longer than the buffer, and then on the ones after it). */
  int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
  if (total <= 0) return;
  char *arg = fc_malloc((size_t)total + 1);
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
      subscribe(c, id, has_since, since);
  }
  fc_free(arg);
}

static void closed(client_t *c)
{
  fc_push_t *p = c->p;
  unsubscribe_all(c);
  if (c->who.sub[0]) {
    count_drop(&p->per_ip, c->ip);
    count_drop(&p->per_sub, c->who.sub);
  }
  if (c->prev)
    c->prev->next = c->next;
  else
    p->clients = c->next;
  if (c->next) c->next->prev = c->prev;
  p->nclients--;
  c->wsi = NULL;
  fc_log(FC_LOG_INFO, &c->log, "event=ui_disconnected");
  fc_outq_cleanup(&c->q);
  client_unref(c);
}

static bool take_token(client_t *c)
{
  fc_push_t *p = c->p;
  uint64_t now = uv_now(p->loop);
  double rate = p->cfg->ui_max_rate;
  c->tokens += (double)(now - c->tokens_at) * rate / 1000.0;
  if (c->tokens > rate) c->tokens = rate;
  c->tokens_at = now;
  if (c->tokens < 1.0) return false;
  c->tokens -= 1.0;
  return true;
}

static void throttle_cb(uv_timer_t *t)
{
  fc_push_t *p = t->data;
  client_t *list = p->throttled;
  p->throttled = NULL;
  while (list) {
    client_t *c = list;
    list = c->throttle_next;
    c->throttled = false;
    c->q.coalescing = false;
    if (c->wsi && !c->closing && !fc_outq_empty(&c->q)) mark_dirty(c);
    client_unref(c);
  }
}

static void throttle(client_t *c)
{
  fc_push_t *p = c->p;
  c->throttled = true;
  c->q.coalescing = true;
  c->refs++;
  c->throttle_next = p->throttled;
  p->throttled = c;
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
  struct lws *wsi = c->wsi;
  if (fc_outq_empty(&c->q) || lws_send_pipe_choked(wsi)) return 0;
  if (!c->closing && !take_token(c)) {
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

/* SERVER_WRITEABLE: lws has drained what it buffered, the throttle let go,
 * or a frame did not take everything that was queued. */
static int writeable(client_t *c)
{
  if (write_queued(c) < 0) return -1;
  continue_replays(c);
  if (!fc_outq_empty(&c->q)) {
    if (!c->throttled) lws_callback_on_writable(c->wsi);
    return 0;
  }
  if (c->closing) return fc_ws_send_close(c->wsi, c->close_code, c->close_reason);
  return 0;
}

/* The end of a loop iteration: one frame to each client that had events
 * queued during it. */
static void flush(fc_soon_link_t *link, void *arg)
{
  client_t *c = (client_t *)((char *)link - offsetof(client_t, soon));
  (void)arg;
  if (c->wsi && !c->closing) {
    if (write_queued(c) < 0) {
      lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
    } else {
      continue_replays(c);
      if (!fc_outq_empty(&c->q) && !c->throttled) lws_callback_on_writable(c->wsi);
    }
  }
  client_unref(c);
}

static int receive(client_t *c, const void *in, size_t len)
{
  struct lws *wsi = c->wsi;
  if (c->deflate && fc_deflate_rx_failed(wsi)) return -1; /* deflate.c set the reason */
  if (lws_frame_is_binary(wsi)) {
    lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, (unsigned char *)"text only", 9);
    return -1;
  }
  if (c->rx_len + len > RX_MAX) {
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)"too large", 9);
    return -1;
  }
  bool whole = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
  if (whole && !c->rx_len) {
    handle_message(c, in, len);
    return 0;
  }
  c->rx = fc_realloc(c->rx, c->rx_len + len);
  memcpy(c->rx + c->rx_len, in, len);
  c->rx_len += len;
  if (whole) {
    handle_message(c, c->rx, c->rx_len);
    FC_FREE(c->rx);
    c->rx_len = 0;
  }
  return 0;
}

int fc_push_lws_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
  client_t **slot = user;
  fc_push_t *p = (fc_push_t *)lws_get_protocol(wsi)->user;
  switch (reason) {
  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    /* lws asks the protocol the connection is bound to, which for a new
     * connection on this vhost is this one (the default). */
    return fc_push_confirm_upgrade(p, wsi);
  case LWS_CALLBACK_ADD_HEADERS: /* the handshake response */
    return fc_deflate_add_headers(wsi, in);
  case LWS_CALLBACK_ESTABLISHED:
    established(p, wsi, slot);
    return 0;
  case LWS_CALLBACK_RECEIVE:
    return slot && *slot ? receive(*slot, in, len) : -1;
  case LWS_CALLBACK_SERVER_WRITEABLE:
    return slot && *slot ? writeable(*slot) : -1;
  case LWS_CALLBACK_HTTP_FILE_COMPLETION:
    /* This is the web vhost's default protocol, so the "/" mount's static
     * files are served on it: a finished file must end the HTTP transaction,
     * or the next request on the keep-alive connection gets the previous
     * file's headers and no body. */
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  case LWS_CALLBACK_CLOSED:
    if (slot && *slot) {
      closed(*slot);
      *slot = NULL;
    }
    return 0;
  default:
    return 0;
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
  fc_soon_init(&p->soon, loop, flush, p);
  p->handles = 3;
  return p;
}

void fc_push_cap_clients(fc_push_t *p, size_t cap)
{
  if (cap < p->max_clients) p->max_clients = cap;
}

void fc_push_close_all(fc_push_t *p)
{
  for (client_t *c = p->clients; c; c = c->next)
    close_client(c, LWS_CLOSE_STATUS_GOINGAWAY, "server shutting down");
}

static void handle_closed(uv_handle_t *h)
{
  fc_push_t *p = h->data;
  if (--p->handles > 0) return;
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

void fc_push_free(fc_push_t *p)
{
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
  out->queued_bytes = 0;
  out->coalesced = 0;
  for (client_t *c = p->clients; c; c = c->next) {
    out->queued_bytes += c->q.bytes;
    out->coalesced += c->q.coalesced;
  }
}
