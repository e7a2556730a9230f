/* A small WebSocket client (RFC 6455) on a libuv loop, for the simulator and
 * the benchmark.
 *
 * Why not lws's client: the benchmark runs on the same two cores as the
 * server it measures, with tens of thousands of connections, so the load
 * generator must cost as little as possible per frame and per connection. A
 * connection here holds its socket, a few counters and a buffer only while a
 * frame is split across reads (reads land in one shared buffer).
 *
 * What it does: plain ws:// (no TLS), optional source address, one
 * subprotocol, optional HTTP Basic auth, text messages (fragmented ones are
 * reassembled), answers pings, answers a close frame and closes. It can offer
 * permessage-deflate without context takeover either way (what a browser
 * holding thousands of connections costs the server is the point), and then
 * inflates compressed messages with one inflater shared by every connection;
 * it never compresses what it sends. Single-threaded: everything runs on the
 * loop thread that owns the connection. */
#ifndef FC_TOOLS_WSC_H
#define FC_TOOLS_WSC_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

typedef struct wsc wsc_t;

typedef struct wsc_cbs {
  /* The upgrade succeeded (101). */
  void (*on_open)(wsc_t *c, void *ud);
  /* One complete text (or binary) message; data is borrowed for the call.
   * now_ns is uv_hrtime() taken when the bytes were read. */
  void (*on_message)(wsc_t *c, void *ud, const char *data, size_t len, uint64_t now_ns);
  /* The connection is gone (refused, failed, closed by either side). status
   * is the HTTP status when the upgrade was refused, 0 otherwise; err is a
   * libuv error or 0. The wsc_t is freed right after this returns. */
  void (*on_close)(wsc_t *c, void *ud, int status, int err);
} wsc_cbs_t;

typedef struct wsc_opts {
  const char *host; /* IPv4 address of the server, e.g. "127.0.0.1" */
  int port;
  const char *path;        /* request target, e.g. "/ocpp/CP0001" (borrowed) */
  const char *protocol;    /* Sec-WebSocket-Protocol, or NULL */
  const char *user;        /* Basic auth user, or NULL for none */
  const char *password;    /* Basic auth password */
  const char *bind_ip;     /* local source address, or NULL */
  const char *host_header; /* Host: value; default host:port */
  int deflate;             /* offer permessage-deflate */
} wsc_opts_t;

/* Starts connecting. Returns NULL (and calls nothing) when the socket cannot
 * be created; otherwise on_close is called exactly once, eventually. */
wsc_t *wsc_connect(uv_loop_t *loop, const wsc_opts_t *o, const wsc_cbs_t *cbs, void *ud);

/* Sends one text message (masked, as a client must). 0, or a libuv error
 * when the connection is not open. data is copied. */
int wsc_send_text(wsc_t *c, const char *data, size_t len);

/* Sends a close frame (code 1000) and closes the socket shortly after;
 * on_close follows. Safe to call more than once. */
void wsc_close(wsc_t *c);

/* Closes the socket at once, without a close frame (a dropped link). */
void wsc_abort(wsc_t *c);

/* Bytes handed to the kernel write queue but not yet written. */
size_t wsc_write_queue(const wsc_t *c);

int wsc_is_open(const wsc_t *c);

/* The server accepted permessage-deflate. */
int wsc_is_deflate(const wsc_t *c);

/* Compressed messages inflated so far, over every connection. */
uint64_t wsc_inflated(void);

/* Parses "ws://host:port/path" into host (an IPv4 literal or "localhost"),
 * port and path; buffers are caller-provided. 0 or -1. */
int wsc_parse_url(const char *url, char *host, size_t hostsz, int *port, char *path, size_t pathsz);

#endif
