/* HTTP and WebSocket helpers shared by the protocols that run on lws (ocpp/,
 * push/, api/). */
#ifndef FC_NET_WS_H
#define FC_NET_WS_H

#include <stddef.h>

struct lws;

/* From a SERVER_WRITEABLE callback only: writes a close frame with code and
 * reason (truncated to 123 bytes) and returns -1, which the callback returns
 * to drop the connection.
 *
 * Why not lws_close_reason() and "return -1": lws 4.1 takes -1 from
 * SERVER_WRITEABLE (and a kill timeout) as a failed socket and drops it
 * without the close frame lws_close_reason() prepared, so the peer would
 * see 1006 instead of the code. */
int fc_ws_send_close(struct lws *wsi, int code, const char *reason);

/* Writes a whole HTTP response: status, Content-Type type, Cache-Control
 * no-store, WWW-Authenticate www_auth (NULL: none), Retry-After retry_after
 * seconds (0: none), and the body (len bytes, copied). 0, or -1 when the
 * connection failed (the callback then returns -1). For the HTTP callbacks
 * and HTTP_CONFIRM_UPGRADE (which returns 1 after it to say "answered"). */
int fc_http_write(struct lws *wsi, unsigned status, const char *type, const char *body, size_t len,
                  const char *www_auth, unsigned retry_after);

#endif
