#include "net/wsconn.h"

#include "core/mem.h"

#include <string.h>
#include <utlist.h>

/* A reassembly buffer larger than this is given back after its message. */
#define RX_KEEP 16384
#define RX_FIRST 4096

/* ---- the token bucket ---------------------------------------------------- */

void fc_bucket_init(fc_bucket_t *b, double tokens, uint64_t now_ms)
{
  b->tokens = tokens;
  b->at_ms = now_ms;
}

double fc_bucket_refill(fc_bucket_t *b, uint64_t now_ms, double rate, double burst)
{
  if (now_ms > b->at_ms) {
    b->tokens += (double)(now_ms - b->at_ms) * rate / 1000.0;
    b->at_ms = now_ms;
  }
  if (b->tokens > burst) b->tokens = burst;
  return b->tokens;
}

bool fc_bucket_take(fc_bucket_t *b, uint64_t now_ms, double rate, double burst)
{
  if (fc_bucket_refill(b, now_ms, rate, burst) < 1.0) return false;
  b->tokens -= 1.0;
  return true;
}

void fc_bucket_spend(fc_bucket_t *b, double n)
{
  b->tokens -= n;
}

/* ---- references ---------------------------------------------------------- */

void fc_wsconn_init(fc_wsconn_t *c, const fc_wsconn_ops_t *ops, struct lws *wsi, size_t rx_max,
                    size_t tx_max)
{
  memset(c, 0, sizeof(*c));
  c->ops = ops;
  c->wsi = wsi;
  c->refs = 1;
  c->rx_max = rx_max;
  c->tx_max = tx_max;
}

void fc_wsconn_ref(fc_wsconn_t *c)
{
  c->refs++;
}

static void tx_drop(fc_wsconn_t *c)
{
  fc_wsframe_t *f, *tmp;
  DL_FOREACH_SAFE(c->tx, f, tmp)
  {
    DL_DELETE(c->tx, f);
    fc_free(f);
  }
  c->tx_bytes = 0;
}

void fc_wsconn_unref(fc_wsconn_t *c)
{
  if (--c->refs > 0) return;
  tx_drop(c);
  FC_FREE(c->rx);
  c->ops->free(c);
}

/* ---- receive ------------------------------------------------------------- */

int fc_wsconn__rx_add(fc_wsconn_t *c, const void *in, size_t len, bool whole, const char **msg,
                      size_t *msg_len)
{
  if (c->rx_len + len > c->rx_max) {
    c->rx_len = 0;
    return UV_E2BIG;
  }
  if (whole && c->rx_len == 0) {
    /* The common case: a message in one piece, no copy. */
    *msg = in;
    *msg_len = len;
    return 1;
  }
  if (c->rx_len + len > c->rx_cap) {
    size_t cap = c->rx_cap ? c->rx_cap : RX_FIRST;
    while (cap < c->rx_len + len)
      cap *= 2;
    if (cap > c->rx_max) cap = c->rx_max;
    c->rx = fc_realloc(c->rx, cap);
    c->rx_cap = cap;
  }
  memcpy(c->rx + c->rx_len, in, len);
  c->rx_len += len;
  if (!whole) return 0;
  *msg = c->rx;
  *msg_len = c->rx_len;
  c->rx_len = 0;
  return 1;
}

void fc_wsconn__rx_done(fc_wsconn_t *c)
{
  if (c->rx_cap > RX_KEEP && c->rx_len == 0) {
    FC_FREE(c->rx);
    c->rx_cap = 0;
  }
}

static int refuse(fc_wsconn_t *c, int code, const char *reason)
{
  if (c->ops->refused) c->ops->refused(c, code);
  lws_close_reason(c->wsi, (enum lws_close_status)code, (unsigned char *)reason, strlen(reason));
  return -1;
}

static int receive(fc_wsconn_t *c, const void *in, size_t len)
{
  const fc_wsconn_ops_t *ops = c->ops;
  struct lws *wsi = c->wsi;
  const char *msg;
  size_t n;

  if (ops->rx_check && ops->rx_check(c) < 0) return -1;
  if (lws_frame_is_binary(wsi))
    return refuse(c, LWS_CLOSE_STATUS_UNACCEPTABLE_OPCODE, "text messages only");
  bool whole = lws_is_final_fragment(wsi) && !lws_remaining_packet_payload(wsi);
  int rc = fc_wsconn__rx_add(c, in, len, whole, &msg, &n);
  if (rc < 0) return refuse(c, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "message too large");
  if (rc == 0) return 0;
  ops->message(c, msg, n);
  if (msg == c->rx) fc_wsconn__rx_done(c);
  return 0;
}

/* ---- transmit ------------------------------------------------------------ */

int fc_wsconn_send(fc_wsconn_t *c, fc_soon_t *soon, const char *text, size_t len)
{
  if (!c->wsi) return UV_ENOTCONN;
  if (c->tx_bytes + len > c->tx_max) return UV_ENOBUFS;
  fc_wsframe_t *f = fc_malloc(sizeof(*f) + LWS_PRE + len);
  f->len = len;
  memcpy(f->data + LWS_PRE, text, len);
  DL_APPEND(c->tx, f);
  c->tx_bytes += len;
  fc_wsconn_write_soon(c, soon);
  return 0;
}

void fc_wsconn_write_soon(fc_wsconn_t *c, fc_soon_t *soon)
{
  if (fc_soon_add(soon, &c->soon)) c->refs++;
}

/* Writes the queued frames while the socket has room (POLLOUT), then what
 * the protocol holds. FC_WSCONN_*, or -1: broken. */
static int write_out(fc_wsconn_t *c)
{
  struct lws *wsi = c->wsi;
  while (c->tx && !lws_send_pipe_choked(wsi)) {
    fc_wsframe_t *f = c->tx;
    if (lws_write(wsi, f->data + LWS_PRE, f->len, LWS_WRITE_TEXT) < (int)f->len) return -1;
    DL_DELETE(c->tx, f);
    c->tx_bytes -= f->len;
    fc_free(f);
  }
  if (c->tx) return FC_WSCONN_MORE;
  return c->ops->write ? c->ops->write(c) : FC_WSCONN_DONE;
}

void fc_wsconn_flush_cb(fc_soon_link_t *link, void *arg)
{
  fc_wsconn_t *c = FC_WSCONN_OWNER(link, fc_wsconn_t, soon);
  (void)arg;
  if (c->wsi && !c->closing) {
    int rc = write_out(c);
    if (rc < 0)
      fc_wsconn_abort(c);
    else if (rc == FC_WSCONN_MORE)
      lws_callback_on_writable(c->wsi);
  }
  fc_wsconn_unref(c);
}

/* From SERVER_WRITEABLE only: writes a close frame with code and reason
 * (truncated to 123 bytes) and returns -1, which the callback returns to
 * drop the connection.
 *
 * Why not lws_close_reason() and "return -1": lws 4.1 takes -1 from
 * SERVER_WRITEABLE (and a kill timeout) as a failed socket and drops it
 * without the close frame lws_close_reason() prepared, so the peer would
 * see 1006 instead of the code. */
static int send_close(struct lws *wsi, int code, const char *reason)
{
  unsigned char buf[LWS_PRE + 125];
  unsigned char *p = buf + LWS_PRE;
  size_t rlen = reason ? strlen(reason) : 0;
  if (rlen > 123) rlen = 123;
  p[0] = (unsigned char)(code >> 8);
  p[1] = (unsigned char)(code & 0xff);
  if (rlen) memcpy(p + 2, reason, rlen);
  /* 4 is lws's close opcode for lws_write (its public header hides it). */
  lws_write(wsi, p, 2 + rlen, (enum lws_write_protocol)4);
  return -1;
}

static int writeable(fc_wsconn_t *c)
{
  int rc = write_out(c);
  if (rc < 0) return -1;
  if (rc == FC_WSCONN_MORE) {
    lws_callback_on_writable(c->wsi);
    return 0;
  }
  if (rc == FC_WSCONN_HELD || !c->closing) return 0;
  return send_close(c->wsi, c->close_code, c->close_reason);
}

bool fc_wsconn_close(fc_wsconn_t *c, int code, const char *reason)
{
  if (!c->wsi || c->closing) return false;
  c->closing = true;
  c->close_code = code;
  c->close_reason = reason;
  /* The close frame goes out from SERVER_WRITEABLE, after what is queued. */
  lws_callback_on_writable(c->wsi);
  return true;
}

void fc_wsconn_abort(fc_wsconn_t *c)
{
  if (c->wsi) lws_set_timeout(c->wsi, PENDING_TIMEOUT_CLOSE_SEND, LWS_TO_KILL_ASYNC);
}

/* ---- the callback -------------------------------------------------------- */

static void closed(fc_wsconn_t *c)
{
  c->wsi = NULL;
  c->ops->closed(c);
  FC_FREE(c->rx);
  c->rx_len = c->rx_cap = 0;
  fc_wsconn_unref(c);
}

int fc_wsconn_callback(const fc_wsconn_ops_t *ops, struct lws *wsi,
                       enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
  fc_wsconn_t **slot = user;
  switch (reason) {
  case LWS_CALLBACK_ESTABLISHED:
    if (!slot) return -1;
    *slot = ops->established(wsi);
    return *slot ? 0 : -1;
  case LWS_CALLBACK_RECEIVE:
    return slot && *slot ? receive(*slot, in, len) : -1;
  case LWS_CALLBACK_SERVER_WRITEABLE:
    return slot && *slot ? writeable(*slot) : -1;
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
