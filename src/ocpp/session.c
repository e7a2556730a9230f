/* Charge-point connections.
 *
 * The handshake is decided on the HTTP side (fc_ocpp_lws_http_cb,
 * HTTP_CONFIRM_UPGRADE) from the in-memory registry: subprotocol, chargeBoxId
 * from the path's last segment, HTTP Basic credentials. A refusal is a real
 * HTTP answer (400/401/503) before any WebSocket exists; a login after too
 * many failures (auth/throttle.h) gets 429 with Retry-After, before its id is
 * looked up or its key checked.
 *
 * Once upgraded, a session is a connection on the base (net/wsconn.h): it
 * reassembles fragmented messages up to max_frame bytes (beyond: close 1009;
 * binary: close 1003), hands each whole message to the dispatcher, and
 * queues the frames it sends (at most TX_FRAMES_MAX × max_frame bytes: a
 * charger that does not read is dropped): they are written once the loop
 * iteration's I/O callbacks are done (net/soon.h), and what the socket
 * cannot take then, from SERVER_WRITEABLE; the close frame only from
 * SERVER_WRITEABLE, after everything queued. What is OCPP's own stays here:
 * the handshake, the dispatch, the rate limit's use of the bucket.
 *
 * Flow control instead of refusal: a charger that sends calls faster than the
 * rate limit, or has too many calls still committing, is not answered with
 * errors; we stop reading its socket (lws_rx_flow_control) until the token
 * bucket refills or calls complete. TCP pushes back, nothing is lost, and the
 * other chargers are not affected. The bucket belongs to the charger id, not
 * to the connection (limits.c): hanging up and reconnecting does not refill
 * it. Every whole message read takes a token, calls or not, and so does
 * every connection. The bucket holds rate-burst tokens: a charger that
 * reconnects and flushes its offline queue is read at full speed.
 *
 * Handshakes of all chargers together are admitted at charger-handshake-rate
 * (limits.c); beyond it, 503 with Retry-After before anything is checked. */
#include "ocpp/ocpp_int.h"
#include "ocpp/ocpp_lws.h"

#include "auth/auth.h"
#include "auth/throttle.h"
#include "core/addr.h"
#include "net/net_lws.h"
#include "net/ws.h"
#include "net/wsconn.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <utlist.h>

/* The queue of frames of a session holds this many max_frame at most. */
#define TX_FRAMES_MAX 16

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

/* OCPP Security Profiles: what a registered charger's profile asks of its
 * connection (0: not set, 1 without TLS, 2 with). 2 and 3 need TLS (no
 * downgrade to plain ws://); 3 needs a client certificate that the TLS
 * handshake verified (net/) and whose subject CN is the chargeBoxId of the
 * URL, and then no Basic auth. Returns 0 to go on, *basic saying whether
 * Basic auth is still to be checked; else the refusal's return. */
static int profile_check(struct lws *wsi, fc_ocpp_t *o, const fc_addr_t *a, const fc_regent_t *e,
                         bool *basic)
{
  int profile = e->profile ? e->profile : o->cfg->tls_cert ? 2 : 1;
  char cn[FC_CP_ID_MAX + 2];
  *basic = true;
  if (profile == 1) return 0;
  fc_net_cert_t c = fc_net_peer_cert(wsi, cn, sizeof(cn));
  if (c == FC_NET_CERT_NO_TLS)
    return refuse(wsi, o, a, FC_OCPP_REFUSED_PROFILE, 403, "TLS required\n",
                  profile == 2 ? "security profile 2 on plain ws://"
                               : "security profile 3 on plain ws://",
                  e->id, 0);
  if (profile == 2) return 0;
  if (c == FC_NET_CERT_NONE)
    return refuse(wsi, o, a, FC_OCPP_REFUSED_CERTIFICATE, 401, "client certificate required\n",
                  "security profile 3 without a client certificate", e->id, 0);
  if (c != FC_NET_CERT_OK)
    return refuse(wsi, o, a, FC_OCPP_REFUSED_CERTIFICATE, 403, "bad client certificate\n",
                  "client certificate not verified or without a CN", e->id, 0);
  if (strcmp(cn, e->id) != 0)
    return refuse(wsi, o, a, FC_OCPP_REFUSED_CERTIFICATE, 403,
                  "the client certificate names another charger\n",
                  "client certificate CN is not the chargeBoxId", e->id, 0);
  *basic = false;
  return 0;
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
  /* A restart storm: every charger at once. Those beyond the rate wait
   * outside (503, Retry-After) instead of all being half let in. */
  unsigned busy = fc_ocpp__handshake_admit(o);
  if (busy)
    return refuse(wsi, o, a, FC_OCPP_REFUSED_BUSY, 503, "busy: too many chargers connecting\n",
                  "charger-handshake-rate", NULL, busy);
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
  bool basic;
  int prc = profile_check(wsi, o, a, e, &basic);
  if (prc != 0) return prc;
  if (!e->auth || !basic) return 0;

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

/* HTTP_CONFIRM_UPGRADE, whichever protocol the connection is bound to:
 * in names the protocol asked for. */
static int upgrade(struct lws *wsi, const void *in)
{
  if (!in || strcmp((const char *)in, "websocket") != 0) return -1;
  return confirm_upgrade(wsi, ocpp_of(wsi));
}

int fc_ocpp_lws_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len)
{
  switch (reason) {
  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    return upgrade(wsi, in);
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

/* The OCPP side of the connection base (net/wsconn.h), defined below. */
static const fc_wsconn_ops_t session_ops;

static fc_session_t *session_of(fc_wsconn_t *c)
{
  return FC_WSCONN_OWNER(c, fc_session_t, conn);
}

fc_session_t *fc_ocpp__session_new(fc_ocpp_t *o, struct lws *wsi, const char *id)
{
  fc_session_t *s = fc_calloc(1, sizeof(*s));
  size_t max = (size_t)o->cfg->max_frame;
  /* What a charger that does not read may leave queued: answers to the
   * calls the rate limit lets through, and our own calls, at most a few
   * frames' worth; past that it is dropped. */
  fc_wsconn_init(&s->conn, &session_ops, wsi, max, TX_FRAMES_MAX * max);
  s->o = o;
  s->conn_id = ++o->next_conn_id;
  snprintf(s->id, sizeof(s->id), "%s", id);
  s->log.cp = s->id;
  s->log.conn = s->conn_id;
  return s;
}

void fc_ocpp__session_ref(fc_session_t *s)
{
  fc_wsconn_ref(&s->conn);
}

void fc_ocpp__session_unref(fc_session_t *s)
{
  fc_wsconn_unref(&s->conn);
}

static void session_free(fc_wsconn_t *c)
{
  fc_session_t *s = session_of(c);
  fc_ocpp__limit_release(s->o, s->lim);
  fc_free(s);
}

void fc_ocpp__send(fc_session_t *s, const char *text, size_t len)
{
  int rc = fc_wsconn_send(&s->conn, &s->o->soon, text, len);
  if (rc == UV_ENOTCONN) return;
  if (rc == UV_ENOBUFS) {
    fc_log(FC_LOG_WARN, &s->log, "event=tx_overflow queued_bytes=%zu action=drop",
           s->conn.tx_bytes);
    fc_wsconn_abort(&s->conn);
    return;
  }
  s->o->stats.frames_out++;
  fc_ocpp__frame_log(s, false, false, text, len);
}

void fc_ocpp__session_close(fc_session_t *s, int code, const char *reason)
{
  if (fc_wsconn_close(&s->conn, code, reason))
    fc_log(FC_LOG_INFO, &s->log, "event=closing code=%d reason=\"%s\"", code, reason);
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
  fc_ev_online(w, s->id, online, op->ts_ms);
  if (s->o->io.submit(s->o->store, w, fc_ocpp__write_published, s->o) < 0) fc_write_free(w);
}

static bool can_read(fc_session_t *s, uint64_t now)
{
  return fc_ocpp__limit_ready(s->o, s->lim, now) && s->inflight < (unsigned)s->o->cfg->max_inflight;
}

static void pause_rx(fc_session_t *s)
{
  if (s->rx_paused || !s->conn.wsi) return;
  s->rx_paused = true;
  if (s->lim->bucket.tokens < 1.0)
    fc_ocpp__limit_throttled(s);
  else
    s->o->stats.throttled++;
  lws_rx_flow_control(s->conn.wsi, 0);
  DL_PREPEND2(s->o->paused, s, paused_prev, paused_next);
  fc_ocpp__session_ref(s);
  fc_log(FC_LOG_DEBUG, &s->log, "event=throttle inflight=%u tokens=%.1f", s->inflight,
         s->lim->bucket.tokens);
}

void fc_ocpp__throttle_tick(fc_ocpp_t *o)
{
  uint64_t now = fc_ocpp__now(o);
  fc_session_t *s, *tmp;
  DL_FOREACH_SAFE2(o->paused, s, tmp, paused_next)
  {
    if (s->conn.wsi && (o->shutting_down || !can_read(s, now))) continue;
    DL_DELETE2(o->paused, s, paused_prev, paused_next);
    s->rx_paused = false;
    if (s->conn.wsi) lws_rx_flow_control(s->conn.wsi, 1);
    fc_ocpp__session_unref(s);
  }
}

void fc_ocpp__session_call_done(fc_session_t *s)
{
  if (s->inflight) s->inflight--;
  if (s->rx_paused && s->inflight + 1 == (unsigned)s->o->cfg->max_inflight)
    fc_ocpp__throttle_tick(s->o);
}

static fc_wsconn_t *established(struct lws *wsi)
{
  fc_ocpp_t *o = ocpp_of(wsi);
  char id[FC_CP_ID_MAX + 1];
  if (charger_id_of(wsi, id, sizeof(id)) < 0) snprintf(id, sizeof(id), "?");
  fc_session_t *s = fc_ocpp__session_new(o, wsi, id);
  s->last_rx_ms = fc_ocpp__now(o);
  s->lim = fc_ocpp__limit_acquire(o, s->id);
  /* a connection costs a message: a reconnect loop is paced too */
  fc_bucket_spend(&s->lim->bucket, 1.0);

  fc_regent_t *e;
  s->reg = fc_ocpp__registry_admit(o, s->id, &e);
  s->in_registry = e != NULL;
  if (!e) {
    s->unknown_counted = true;
    o->nunknown++;
  }

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
  return &s->conn;
}

static void closed(fc_wsconn_t *c)
{
  fc_session_t *s = session_of(c);
  fc_ocpp_t *o = s->o;
  fc_session_t *cur = NULL;
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
}

static void refused(fc_wsconn_t *c, int code)
{
  fc_session_t *s = session_of(c);
  s->last_rx_ms = fc_ocpp__now(s->o);
  if (code == LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE)
    fc_log(FC_LOG_WARN, &s->log, "event=binary_frame action=close code=1003");
  else
    fc_log(FC_LOG_WARN, &s->log, "event=frame_too_large limit=%d action=close code=1009",
           s->o->cfg->max_frame);
}

/* A whole message: it takes a token, calls or not; reading pauses when the
 * bucket is empty or too many calls are committing. */
static void message(fc_wsconn_t *c, const char *text, size_t len)
{
  fc_session_t *s = session_of(c);
  fc_ocpp_t *o = s->o;
  s->last_rx_ms = fc_ocpp__now(o);
  fc_bucket_spend(&s->lim->bucket, 1.0);
  o->stats.frames_in++;
  fc_ocpp__dispatch(s, text, len);
  if (s->conn.wsi && !s->rx_paused && !can_read(s, fc_ocpp__now(o))) pause_rx(s);
}

/* The charger's WebSocket: the handshake here, the connection the base's. */
int fc_ocpp_lws_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len)
{
  switch (reason) {
  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
    return upgrade(wsi, in);
  default:
    return fc_wsconn_callback(&session_ops, wsi, reason, user, in, len);
  }
}

static const fc_wsconn_ops_t session_ops = {.established = established,
                                            .message = message,
                                            .refused = refused,
                                            .closed = closed,
                                            .free = session_free};
