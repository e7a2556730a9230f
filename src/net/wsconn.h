/* The WebSocket connection base shared by every protocol that runs on lws
 * (charger sessions in ocpp/, browsers in push/).
 *
 * One stream type, several users: a protocol embeds an fc_wsconn_t in its
 * own connection, gives a table of hooks (fc_wsconn_ops_t), and sends its
 * WebSocket callback's ESTABLISHED, RECEIVE, SERVER_WRITEABLE and CLOSED to
 * fc_wsconn_callback. The base does what is the same for all of them:
 *
 * - a reference count: the connection outlives its socket while callbacks
 *   (a call committing, a store read) hold it; the last reference frees it
 *   through ops->free;
 * - reassembly of a message from its fragments, up to rx_max bytes (beyond:
 *   close 1009 "message too large"; a binary message: close 1003 "text
 *   messages only"), and one whole text message at a time to ops->message,
 *   without a copy when it came in one piece;
 * - a bounded queue of frames (fc_wsconn_send) and the flush: frames are
 *   written at the end of the loop iteration (net/soon.h), and what the
 *   socket cannot take then, from SERVER_WRITEABLE. The base is the one
 *   place that writes (lws_write), sees a choked socket and asks for
 *   SERVER_WRITEABLE; a protocol that builds its frames itself (push/: one
 *   frame from a coalescing queue) does so in ops->write, called there;
 * - the close frame with a code and a reason, written after everything
 *   queued (fc_wsconn_close);
 * - the token bucket of rate limits (fc_bucket_t).
 *
 * Loop thread only. */
#ifndef FC_NET_WSCONN_H
#define FC_NET_WSCONN_H

#include "net/soon.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The connection that embeds base c as its member `member`. */
#define FC_WSCONN_OWNER(c, type, member) ((type *)(void *)((char *)(c)-offsetof(type, member)))

/* ---- the token bucket ---------------------------------------------------- */

/* rate tokens a second, up to a burst; the caller keeps the figures (they
 * are options) and the time (the loop's, in ms). */
typedef struct fc_bucket {
  double tokens; /* may go below 0: spent ahead (fc_bucket_spend) */
  uint64_t at_ms;
} fc_bucket_t;

void fc_bucket_init(fc_bucket_t *b, double tokens, uint64_t now_ms);
/* Adds what was earned since the last refill, up to burst; returns the
 * tokens there are now. A clock that went back earns nothing. */
double fc_bucket_refill(fc_bucket_t *b, uint64_t now_ms, double rate, double burst);
/* Refills, then takes one token if there is a whole one. */
bool fc_bucket_take(fc_bucket_t *b, uint64_t now_ms, double rate, double burst);
/* Takes n tokens whether or not there are (a debt repaid by later refills). */
void fc_bucket_spend(fc_bucket_t *b, double n);

/* ---- the connection ------------------------------------------------------ */

typedef struct fc_wsconn fc_wsconn_t;

/* A frame waiting in the queue: LWS_PRE bytes of headroom, then the text. */
typedef struct fc_wsframe {
  struct fc_wsframe *prev, *next; /* utlist (DL): the queue */
  size_t len;
  unsigned char data[]; /* LWS_PRE + len */
} fc_wsframe_t;

/* What ops->write says is left. */
enum {
  FC_WSCONN_DONE = 0, /* nothing: a close may follow */
  FC_WSCONN_MORE = 1, /* more, as soon as the socket takes it (SERVER_WRITEABLE) */
  FC_WSCONN_HELD = 2  /* more, but later: the protocol will ask (a rate limit) */
};

typedef struct fc_wsconn_ops {
  /* ESTABLISHED: makes the protocol's connection, with fc_wsconn_init on
   * its base, and returns the base (NULL: the connection is dropped). */
  fc_wsconn_t *(*established)(struct lws *wsi);
  /* A whole text message (borrowed until it returns). */
  void (*message)(fc_wsconn_t *c, const char *text, size_t len);
  /* Optional. First thing on RECEIVE: -1 drops the connection (the hook has
   * set the close reason), 0 goes on. */
  int (*rx_check)(fc_wsconn_t *c);
  /* Optional. Called when a message is refused (code 1003 or 1009), before
   * the close: to log it. */
  void (*refused)(fc_wsconn_t *c, int code);
  /* Optional. Once the queued frames are written: writes what the protocol
   * holds (it checks lws_send_pipe_choked first) and returns FC_WSCONN_*,
   * or -1 when the connection is broken. */
  int (*write)(fc_wsconn_t *c);
  /* CLOSED: the socket is gone (c->wsi is NULL already); the protocol
   * forgets it. The base then drops the socket's reference. */
  void (*closed)(fc_wsconn_t *c);
  /* The last reference went: free the connection that embeds c (the base
   * has freed its own buffers). */
  void (*free)(fc_wsconn_t *c);
} fc_wsconn_ops_t;

struct fc_wsconn {
  const fc_wsconn_ops_t *ops; /* borrowed: static */
  struct lws *wsi;            /* NULL once closed */
  int refs;
  /* receive: the fragments of the message being reassembled */
  char *rx;
  size_t rx_len, rx_cap, rx_max;
  /* transmit: frames queued, their bytes, the bound */
  fc_wsframe_t *tx;
  size_t tx_bytes, tx_max;
  fc_soon_link_t soon; /* on a protocol's soon list: something to write */
  /* closing: the close frame follows what is queued */
  bool closing;
  int close_code;
  const char *close_reason; /* static */
};

/* Sets up the base of a new connection on wsi, with one reference (the
 * socket's, dropped at CLOSED). rx_max: the largest message taken; tx_max:
 * the bytes the queue of frames may hold. */
void fc_wsconn_init(fc_wsconn_t *c, const fc_wsconn_ops_t *ops, struct lws *wsi, size_t rx_max,
                    size_t tx_max);
void fc_wsconn_ref(fc_wsconn_t *c);
/* Drops a reference; the last one frees the frames, then calls ops->free. */
void fc_wsconn_unref(fc_wsconn_t *c);

/* Queues a text frame (copied) and puts c on soon to be written at the end
 * of the loop iteration. 0; UV_ENOTCONN once closed (nothing queued);
 * UV_ENOBUFS when the queue would pass tx_max (nothing queued: the caller
 * decides, e.g. fc_wsconn_abort). */
int fc_wsconn_send(fc_wsconn_t *c, fc_soon_t *soon, const char *text, size_t len);
/* Puts c on soon (a reference is held until it is flushed): for a protocol
 * that keeps its own queue and writes it from ops->write. */
void fc_wsconn_write_soon(fc_wsconn_t *c, fc_soon_t *soon);
/* The soon list's function (fc_soon_init) of every protocol on this base:
 * writes what c has queued, asks for SERVER_WRITEABLE for the rest. */
void fc_wsconn_flush_cb(fc_soon_link_t *link, void *arg);

/* Closes with code and reason (static) once everything queued is written.
 * False when it is closed or closing already. */
bool fc_wsconn_close(fc_wsconn_t *c, int code, const char *reason);
/* Drops the connection now, without a close frame (a peer that does not
 * read). */
void fc_wsconn_abort(fc_wsconn_t *c);

/* A protocol's WebSocket callback hands its reasons here after its own
 * (the handshake, timers): ESTABLISHED, RECEIVE, SERVER_WRITEABLE and
 * CLOSED go to the base and the hooks; any other reason returns 0. user is
 * the per-session data, the size of a pointer. */
int fc_wsconn_callback(const fc_wsconn_ops_t *ops, struct lws *wsi,
                       enum lws_callback_reasons reason, void *user, void *in, size_t len);

/* Reassembly, apart from lws (the unit tests drive it): adds a fragment of
 * len bytes, whole when it ends the message. Returns 1 and the message in
 * *msg (c->rx or in itself; valid until the next call) when it is whole, 0
 * when more is to come, UV_E2BIG when it would pass rx_max (nothing kept). */
int fc_wsconn__rx_add(fc_wsconn_t *c, const void *in, size_t len, bool whole, const char **msg,
                      size_t *msg_len);
/* After a whole message taken from c->rx was handled: gives a large buffer
 * back. */
void fc_wsconn__rx_done(fc_wsconn_t *c);

#endif
