/* permessage-deflate (RFC 7692) for /ws, with no zlib state per connection.
 *
 * Every event is compressed at most once (per window size, below), lazily,
 * the first time a compressing client sends it, and the result is cached in
 * the event's extension slot (fc_event_t.ext, push's alone); each connection then only concatenates
 * cached pieces. Client messages are inflated by one shared inflater. See deflate.c for why this is
 * valid whatever the client's context takeover, and how it plugs into lws.
 *
 * Threading: loop thread only (the cache lives on shared events, the zlib
 * streams are process-wide). */
#ifndef FC_PUSH_DEFLATE_H
#define FC_PUSH_DEFLATE_H

#include "bus/bus.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stddef.h>

/* The largest message a client may send, after inflating (push.c's RX_MAX);
 * past it the connection is closed with 1009 and nothing more is allocated. */
#define FC_DEFLATE_RX_MAX 65536

/* What a connection negotiated. */
typedef enum {
  FC_DEFLATE_OFF = 0,
  FC_DEFLATE_ON = 1,    /* events compressed with a 32 KiB window */
  FC_DEFLATE_SMALL = 2, /* the client limited our window (server_max_window_bits): 512 B */
} fc_deflate_mode_t;

/* The extension table of the web vhost (cli/wire.c gives it to net/ as the
 * vhost's .extensions; terminated; static storage). */
extern const struct lws_extension fc_deflate_extensions[];

/* What was negotiated on wsi (a /ws connection, from ESTABLISHED on). */
fc_deflate_mode_t fc_deflate_mode(struct lws *wsi);

/* Whether a compressed message from the client failed (too large: 1009, or
 * not valid deflate data: 1007). The close reason is set; the RECEIVE
 * callback must then return -1 (lws sends the close frame). */
bool fc_deflate_rx_failed(struct lws *wsi);

/* For LWS_CALLBACK_ADD_HEADERS of the /ws protocol (in: the callback's
 * struct lws_process_html_args): completes our Sec-WebSocket-Extensions
 * response line. 0, or -1 to fail the handshake (never expected). */
int fc_deflate_add_headers(struct lws *wsi, void *in);

/* Writes evs[0..n) (borrowed; n >= 1) as one compressed text message: the
 * single event, or a JSON array of them, exactly as push.c frames them
 * uncompressed. Call from SERVER_WRITEABLE only. 0, or -1 when lws_write
 * failed (close the connection). */
int fc_deflate_write(struct lws *wsi, fc_deflate_mode_t mode, fc_event_t *const *evs, size_t n);

/* e's compressed form for mode (not OFF): raw deflate of e->json, ending in
 * a sync flush (00 00 ff ff). Cached on e (e->ext, which must be unset or
 * this cache); borrowed, valid while e is. */
const unsigned char *fc_deflate_event(fc_event_t *e, fc_deflate_mode_t mode, size_t *len);

/* Releases the shared zlib streams (at shutdown; they are made again on use). */
void fc_deflate_cleanup(void);

#endif
