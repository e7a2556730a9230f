/* Charge-point connections.
 *
 * The handshake is decided on the HTTP side (fc_ocpp_lws_http_cb,
 * HTTP_CONFIRM_UPGRADE) from the in-memory registry: subprotocol, chargeBoxId
 * from the path's last segment, HTTP Basic credentials. A refusal is a real
 * HTTP answer (400/401/503) before any WebSocket exists; a login after too
 * many failures (auth/throttle.h) gets 429 with Retry-After, before its id is
 * looked up or its key checked.
 *
 * Once upgraded, a session reassembles fragmented messages up to max_frame
 * bytes (beyond: close 1009; binary: close 1003), hands each whole message to
 * the dispatcher, and queues the frames it sends: they are written once the
 * loop iteration's I/O callbacks are done (fc_ocpp__session_flush, net/soon.h),
 * and what the socket cannot take then, from SERVER_WRITEABLE; the close
 * frame only from SERVER_WRITEABLE, after everything queued.
 *
 * Flow control instead of refusal: a charger that sends calls faster than the
 * rate limit, or has too many calls still committing, is not answered with
 * errors; we stop reading its socket (lws_rx_flow_control) until the token
 * bucket refills or calls complete. TCP pushes back, nothing is lost, and the
 * other chargers are not affected. The bucket belongs to the charger id, not
 * to the connection (limits.c): hanging up and reconnecting does not refill
 * it. Every whole message read takes a token, calls or not, and so does
 * every connection. */
#include "ocpp/ocpp_int.h"
#include "ocpp/ocpp_lws.h"

#include "auth/auth.h"
#include "auth/throttle.h"
#include "core/addr.h"
#include "net/ws.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static fc_ocpp_t *ocpp_of(struct lws *wsi)
{
  return (fc_ocpp_t *)lws_get_protocol(wsi)->user;
}

const char *fc_ocpp__reg_name(fc_reg_t r)
{
  switch (r) {
  case FC_REG_ACCEPTED:
    return "Accepted";
  case FC_REG_PENDING:
    return "Pending";
  default:
    return "Rejected";
  }
}

int fc_ocpp__reg_parse(const char *s, fc_reg_t *out)
{
  if (!strcmp(s, "Accepted"))
    *out = FC_REG_ACCEPTED;
  else if (!strcmp(s, "Pending"))
    *out = FC_REG_PENDING;
  else if (!strcmp(s, "Rejected"))
    *out = FC_REG_REJECTED;
  else
    return FC_ERR_INVAL;
  return 0;
}

/* ---- handshake ------------------------------------------------------------ */

/* The chargeBoxId is the last non-empty segment of the path. lws has already
 * percent-decoded the URI. Returns 0 or FC_ERR_INVAL. */
static int charger_id_of(struct lws *wsi, char *id, size_t idsz)
{
  char uri[512];
  int n = lws_hdr_copy(wsi, uri, sizeof(uri), WSI_TOKEN_GET_URI);
  if (n <= 0) return FC_ERR_INVAL;
  while (n > 0 && uri[n - 1] == '/')
    uri[--n] = '\0';
  char *seg = strrchr(uri, '/');
  seg = seg ? seg + 1 : uri;
  size_t len = strlen(seg);
  if (len == 0 || len >= idsz || len > FC_CP_ID_MAX) return FC_ERR_INVAL;
  for (size_t i = 0; i < len; i++) {
    unsigned char ch = (unsigned char)seg[i];
    if (ch <= 0x20 || ch >= 0x7f) return FC_ERR_INVAL;
  }
  memcpy(id, seg, len + 1);
  return 0;
}

/* True when the Sec-WebSocket-Protocol list names ocpp1.6. */
static bool offers_ocpp16(struct lws *wsi)
{
  char buf[256];
  if (lws_hdr_copy(wsi, buf, sizeof(buf), WSI_TOKEN_PROTOCOL) <= 0) return false;
  char *save = NULL;
  for (char *t = strtok_r(buf, ", \t", &save); t; t = strtok_r(NULL, ", \t", &save)) {
    if (!strcmp(t, "ocpp1.6")) return true;
  }
  return false;
}

/* Answers the handshake with status and body. Refusals of a login (unknown
 * charger, bad credentials, throttled) are counted by the throttle and
 * summarised once per interval (auth/throttle.h); the others are logged once
 * per address per interval: a peer that retries does not write a line per
 * attempt. */
static int refuse(struct lws *wsi, fc_ocpp_t *o, const fc_addr_t *a, fc_ocpp_refusal_t why,
                  unsigned status, const char *body, const char *detail, const char *id,
                  unsigned retry_after)
{
  char peer[FC_ADDR_STRLEN] = "-";
  fc_log_ctx_t ctx = {.cp = id};
  bool login = why == FC_OCPP_REFUSED_UNKNOWN || why == FC_OCPP_REFUSED_CREDENTIALS ||
               why == FC_OCPP_REFUSED_THROTTLED;

  if (a) fc_addr_str(a, peer, sizeof(peer));
  if (!login && (!a || fc_auth_throttle_may_log(o->throttle, a, fc_ocpp__now(o))))
    fc_log(FC_LOG_WARN, &ctx,
           "event=handshake_refused status=%u reason=%s detail=\"%s\" peer=%s "
           "msg=\"further refusals of this address are not logged for %ds\"",
           status, fc_ocpp_refusal_name(why), detail, peer, o->cfg->handshake_log_interval);
  else
    fc_log(FC_LOG_DEBUG, &ctx, "event=handshake_refused status=%u reason=%s detail=\"%s\" peer=%s",
           status, fc_ocpp_refusal_name(why), detail, peer);
  o->stats.rejected_handshakes++;
  o->stats.refused[why]++;
  static const char realm[] = "Basic realm=\"flashcharge\", charset=\"UTF-8\"";
  if (fc_http_write(wsi, status, "text/plain", body, strlen(body), status == 401 ? realm : NULL,
                    retry_after) < 0)
    return -1;
  return 1; /* lws completes the transaction */
}

/* A charger that logged in with a key shorter than the minimum (stored
 * before the minimum was enforced): it keeps working, and the operator is
 * told once per registry load. Only a login tells a key's length: the
 * registry holds hashes. */
static void short_key(fc_regent_t *e, size_t len)
{
  if (len >= FC_AUTH_KEY_MIN || e->short_key_warned) return;
  e->short_key_warned = true;
  fc_log_ctx_t ctx = {.cp = e->id};
  fc_log(FC_LOG_WARN, &ctx,
         "event=short_authorization_key bytes=%zu min=%d msg=\"accepted, but a key this short "
         "can be guessed: set a new one of %d bytes or more (charger add ID --password), and the "
         "same on the charger\"",
         len, FC_AUTH_KEY_MIN, FC_AUTH_KEY_MIN);
}

int fc_ocpp__refuse_quiet(struct lws *wsi, fc_ocpp_t *o, unsigned status, const char *body,
                          unsigned retry_after)
{
  o->stats.rejected_handshakes++;
  o->stats.refused[FC_OCPP_REFUSED_UNKNOWN_LIMIT]++;
  if (fc_http_write(wsi, status, "text/plain", body, strlen(body), NULL, retry_after) < 0)
    return -1;
  return 1;
}

static int confirm_upgrade(struct lws *wsi, fc_ocpp_t *o)
{
  char id[FC_CP_ID_MAX + 1];
  fc_addr_t addr;
  const fc_addr_t *a = fc_addr_of_peer(lws_get_socket_fd(wsi), &addr) == 0 ? &addr : NULL;
  uint64_t now = fc_ocpp__now(o);

  if (o->shutting_down)
    return refuse(wsi, o, a, FC_OCPP_REFUSED_SHUTDOWN, 503, "shutting down\n", "shutting down",
                  NULL, 0);
  if (!offers_ocpp16(wsi))
    return refuse(wsi, o, a, FC_OCPP_REFUSED_BAD_REQUEST, 400, "subprotocol ocpp1.6 required\n",
                  "no ocpp1.6 subprotocol", NULL, 0);
  if (charger_id_of(wsi, id, sizeof(id)) < 0)
    return refuse(wsi, o, a, FC_OCPP_REFUSED_BAD_REQUEST, 400, "no valid chargeBoxId in the path\n",
                  "bad chargeBoxId", NULL, 0);
  if (!a) /* the peer is gone already */
    return refuse(wsi, o, a, FC_OCPP_REFUSED_BAD_REQUEST, 400, "no peer\n", "no peer address", id,
                  0);

  /* Before anything is looked up or checked: cheap, whatever is guessed. */
  unsigned retry = 0;
  if (fc_auth_throttle_check(o->throttle, id, a, now, &retry) != FC_THROTTLE_NONE)
    return refuse(wsi, o, a, FC_OCPP_REFUSED_THROTTLED, 429, "too many failed logins\n",
                  "too many failed logins", id, retry);

  fc_regent_t *e;
  fc_reg_t reg = fc_ocpp__registry_admit(o, id, &e);
  if (!e) {
    if (reg == FC_REG_REJECTED) {
      fc_auth_throttle_failed(o->throttle, NULL, a, now);
      return refuse(wsi, o, a, FC_OCPP_REFUSED_UNKNOWN, 401, "unauthorized\n", "unknown charger",
                    id, 0);
    }
    unsigned st = fc_ocpp__unknown_admit(o, id);
    if (st) return fc_ocpp__refuse_quiet(wsi, o, st, "too many unregistered chargers\n", 60);
    return 0;
  }
  if (!e->auth) return 0;

  char hdr[512], user[FC_CP_ID_MAX + 2], pass[FC_AUTH_KEY_MAX + 2];
  size_t plen = 0;
  int n = lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_HTTP_AUTHORIZATION);
  bool ok = n > 0 && fc_auth_basic_parse(hdr, user, sizeof(user), pass, sizeof(pass), &plen) == 0 &&
            strcmp(user, id) == 0 && fc_auth_key_verify(e->auth, pass, plen);
  memset(pass, 0, sizeof(pass));
  memset(hdr, 0, sizeof(hdr));
  if (!ok) {
    fc_auth_throttle_failed(o->throttle, id, a, now);
    return refuse(wsi, o, a, FC_OCPP_REFUSED_CREDENTIALS, 401, "unauthorized\n",
                  n > 0 ? "bad credentials" : "no credentials", id, 0);
  }
  fc_auth_throttle_succeeded(o->throttle, id, a);
  short_key(e, plen);
  return 0;
}

int fc_ocpp_lws_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
  switch (reason) {
  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    if (!in || strcmp((const char *)in, "websocket") != 0) return -1;
    return confirm_upgrade(wsi, ocpp_of(wsi));
  case LWS_CALLBACK_HTTP:
    /* Plain HTTP on the OCPP port: nothing to see here. */
    if (lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST, "WebSocket (ocpp1.6) only")) return -1;
    return lws_http_transaction_completed(wsi) ? -1 : 0;
  case LWS_CALLBACK_FILTER_PROTOCOL_CONNECTION:
  case LWS_CALLBACK_ESTABLISHED:
    return -1; /* someone asked for this protocol's name as a subprotocol */
  default:
    return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}

/* ---- sessions --------------------------------------------------------------- */

void fc_ocpp__session_ref(fc_session_t *s)
{
  s->refs++;
}

void fc_ocpp__session_unref(fc_session_t *s)
{
  if (--s->refs > 0) return;
  fc_txbuf_t *b = s->tx_head;
  while (b) {
    fc_txbuf_t *next = b->next;
    fc_free(b);
    b = next;
  }
  fc_free(s->rx);
  fc_ocpp__limit_release(s->o, s->lim);
  fc_free(s);
}

void fc_ocpp__send(fc_session_t *s, const char *text, size_t len)
{
  if (!s->wsi) return;
  fc_txbuf_t *b = fc_malloc(sizeof(*b) + LWS_PRE + len);
  b->next = NULL;
  b->len = len;
  memcpy(b->data + LWS_PRE, text, len);
  if (s->tx_tail)
    s->tx_tail->next = b;
  else
    s->tx_head = b;
  s->tx_tail = b;
  s->tx_bytes += len;
  s->o->stats.frames_out++;
  fc_ocpp__frame_log(s, false, false, text, len);
  if (fc_soon_add(&s->o->soon, &s->soon)) fc_ocpp__session_ref(s);
}

void fc_ocpp__session_close(fc_session_t *s, int code, const char *reason)
{
  if (!s->wsi || s->closing) return;
  s->closing = true;
  s->close_code = code;
  s->close_reason = reason;
  fc_log(FC_LOG_INFO, &s->log, "event=closing code=%d reason=\"%s\"", code, reason);
  /* The close frame goes out from SERVER_WRITEABLE, after what is queued. */
  lws_callback_on_writable(s->wsi);
}

static void seen(fc_session_t *s, bool online)
{
  fc_write_t *w = fc_write_new();
  /* Only a charger let in as unknown (policy pending or accept) is created
   * by its connection, with the registration the policy gave it
   * (fc_ocpp__registry_admit); a registered one is only updated, so that one
   * removed meanwhile stays removed. */
  const char *reg = NULL;
  if (!s->in_registry) reg = fc_ocpp__reg_name(s->reg);
  fc_op_t *op = fc_write_seen(
      w, s->id,
      &(fc_op_seen_t){.online = online, .conn_id = (int64_t)s->conn_id, .registration = reg});
  op->ts_ms = fc_wall_ms();
  fc_bus_add(w, online ? FC_EV_ONLINE : FC_EV_OFFLINE, s->id, 0, NULL, op->ts_ms, false);
  if (s->o->io.submit(s->o->store, w, fc_ocpp__write_published, s->o) < 0) fc_write_free(w);
}

static bool can_read(fc_session_t *s, uint64_t now)
{
  const fc_config_t *cfg = s->o->cfg;
  fc_cplimit_t *l = s->lim;
  double burst = 2.0 * cfg->rate_limit;
  if (now > l->tokens_at_ms) {
    l->tokens += (double)(now - l->tokens_at_ms) * cfg->rate_limit / 1000.0;
    l->tokens_at_ms = now;
  }
  if (l->tokens > burst) l->tokens = burst;
  return l->tokens >= 1.0 && s->inflight < (unsigned)cfg->max_inflight;
}

static void pause_rx(fc_session_t *s)
{
  if (s->rx_paused || !s->wsi) return;
  s->rx_paused = true;
  if (s->lim->tokens < 1.0)
    fc_ocpp__limit_throttled(s);
  else
    s->o->stats.throttled++;
  lws_rx_flow_control(s->wsi, 0);
  s->paused_next = s->o->paused;
  s->o->paused = s;
  fc_ocpp__session_ref(s);
  fc_log(FC_LOG_DEBUG, &s->log, "event=throttle inflight=%u tokens=%.1f", s->inflight,
         s->lim->tokens);
}

void fc_ocpp__throttle_tick(fc_ocpp_t *o)
{
  uint64_t now = fc_ocpp__now(o);
  fc_session_t **pp = &o->paused;
  while (*pp) {
    fc_session_t *s = *pp;
    if (!s->wsi || (!o->shutting_down && can_read(s, now))) {
      *pp = s->paused_next;
      s->rx_paused = false;
      if (s->wsi) lws_rx_flow_control(s->wsi, 1);
      fc_ocpp__session_unref(s);
    } else {
      pp = &s->paused_next;
    }
  }
}

void fc_ocpp__session_call_done(fc_session_t *s)
{
  if (s->inflight) s->inflight--;
  if (s->rx_paused && s->inflight + 1 == (unsigned)s->o->cfg->max_inflight)
    fc_ocpp__throttle_tick(s->o);
}

static void established(struct lws *wsi, fc_ocpp_t *o, fc_session_t **slot)
{
  fc_session_t *s = fc_calloc(1, sizeof(*s));
  s->o = o;
  s->wsi = wsi;
  s->refs = 1;
  s->conn_id = ++o->next_conn_id;
  if (charger_id_of(wsi, s->id, sizeof(s->id)) < 0) snprintf(s->id, sizeof(s->id), "?");
  s->log.cp = s->id;
  s->log.conn = s->conn_id;
  s->last_rx_ms = fc_ocpp__now(o);
  s->lim = fc_ocpp__limit_acquire(o, s->id);
  s->lim->tokens -= 1.0; /* a connection costs a message: a reconnect loop is paced too */

  fc_regent_t *e;
  s->reg = fc_ocpp__registry_admit(o, s->id, &e);
  s->in_registry = e != NULL;
  if (!e) {
    s->unknown_counted = true;
    o->nunknown++;
  }
  *slot = s;

  fc_session_t *old = NULL;
  HASH_FIND_STR(o->sessions, s->id, old);
  if (old) {
    HASH_DEL(o->sessions, old);
    old->replaced = true;
    fc_log(FC_LOG_NOTICE, &old->log, "event=replaced by_conn=%llu", (unsigned long long)s->conn_id);
    fc_ocpp__session_close(old, LWS_CLOSE_STATUS_POLICY_VIOLATION, "replaced by a new connection");
  } else {
    o->nsessions++;
  }
  HASH_ADD_STR(o->sessions, id, s);

  char peer[64] = "";
  lws_get_peer_simple(wsi, peer, sizeof(peer));
  fc_log(FC_LOG_NOTICE, &s->log, "event=connected peer=%s registration=%s", peer,
         fc_ocpp__reg_name(s->reg));
  seen(s, true);
}

static void closed(fc_session_t *s)
{
  fc_ocpp_t *o = s->o;
  fc_session_t *cur = NULL;
  s->wsi = NULL;
  HASH_FIND_STR(o->sessions, s->id, cur);
  if (cur == s) {
    HASH_DEL(o->sessions, s);
    o->nsessions--;
    seen(s, false);
  }
  if (s->unknown_counted) {
    s->unknown_counted = false;
    o->nunknown--;
  }
  fc_log(FC_LOG_NOTICE, &s->log, "event=disconnected replaced=%d", s->replaced);
  fc_ocpp__outcall_session_gone(s);
  FC_FREE(s->rx);
  s->rx_len = s->rx_cap = 0;
  fc_ocpp__session_unref(s);
}

static int receive(fc_session_t *s, const void *in, size_t len)
{
  fc_ocpp_t *o = s->o;
  struct lws *wsi = s->wsi;

  s->last_rx_ms = fc_ocpp__now(o);
  if (lws_frame_is_binary(wsi)) {
    fc_log(FC_LOG_WARN, &s->log, "event=binary_frame action=close code=1003");
    lws_close_reason(wsi, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE,
                     (unsigned char *)"binary frames are not OCPP-J", 27);
    return -1;
  }
  if (s->rx_len + len > (size_t)o->cfg->max_frame) {
    fc_log(FC_LOG_WARN, &s->log, "event=frame_too_large limit=%d action=close code=1009",
           o->cfg->max_frame);
    lws_close_reason(wsi, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, (unsigned char *)"frame too large",
                     15);
    return -1;
  }
  bool whole = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
  if (whole) s->lim->tokens -= 1.0;
  if (whole && s->rx_len == 0) {
    /* The common case: one frame in one piece, no copy. */
    o->stats.frames_in++;
    fc_ocpp__dispatch(s, in, len);
  } else {
    if (s->rx_len + len > s->rx_cap) {
      size_t cap = s->rx_cap ? s->rx_cap : 4096;
      while (cap < s->rx_len + len)
        cap *= 2;
      if (cap > (size_t)o->cfg->max_frame) cap = (size_t)o->cfg->max_frame;
      s->rx = fc_realloc(s->rx, cap);
      s->rx_cap = cap;
    }
    memcpy(s->rx + s->rx_len, in, len);
    s->rx_len += len;
    if (whole) {
      o->stats.frames_in++;
      size_t n = s->rx_len;
      s->rx_len = 0;
      fc_ocpp__dispatch(s, s->rx, n);
      if (s->rx_cap > 16384) {
        FC_FREE(s->rx);
        s->rx_cap = 0;
      }
    }
  }
  if (s->wsi && !s->rx_paused && !can_read(s, fc_ocpp__now(o))) pause_rx(s);
  return 0;
}

/* Writes queued frames while the socket has room (POLLOUT); once it has
 * not, SERVER_WRITEABLE goes on. -1: broken. */
static int write_queued(fc_session_t *s)
{
  struct lws *wsi = s->wsi;
  while (s->tx_head && !lws_send_pipe_choked(wsi)) {
    fc_txbuf_t *b = s->tx_head;
    if (lws_write(wsi, b->data + LWS_PRE, b->len, LWS_WRITE_TEXT) < (int)b->len) return -1;
    s->tx_head = b->next;
    if (!s->tx_head) s->tx_tail = NULL;
    s->tx_bytes -= b->len;
    fc_free(b);
  }
  return 0;
}

void fc_ocpp__session_flush(fc_soon_link_t *link, void *arg)
{
  fc_session_t *s = (fc_session_t *)((char *)link - offsetof(fc_session_t, soon));
  (void)arg;
  if (s->wsi && !s->closing) {
    if (write_queued(s) < 0)
      lws_set_timeout(s->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
    else if (s->tx_head)
      lws_callback_on_writable(s->wsi);
  }
  fc_ocpp__session_unref(s);
}

static int writeable(fc_session_t *s)
{
  if (write_queued(s) < 0) return -1;
  if (s->tx_head) {
    lws_callback_on_writable(s->wsi);
    return 0;
  }
  if (!s->closing) return 0;
  return fc_ws_send_close(s->wsi, s->close_code, s->close_reason);
}

int fc_ocpp_lws_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
  fc_session_t **slot = user;

  switch (reason) {
  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    /* Whichever protocol the connection is bound to is asked. */
    if (!in || strcmp((const char *)in, "websocket") != 0) return -1;
    return confirm_upgrade(wsi, ocpp_of(wsi));
  case LWS_CALLBACK_ESTABLISHED:
    established(wsi, ocpp_of(wsi), slot);
    return 0;
  case LWS_CALLBACK_RECEIVE:
    if (!slot || !*slot) return -1;
    return receive(*slot, in, len);
  case LWS_CALLBACK_SERVER_WRITEABLE:
    if (!slot || !*slot) return -1;
    return writeable(*slot);
  case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
    return 0;
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
