/* HTTP helpers shared by the protocols that run on lws (ocpp/, push/, api/);
 * the WebSocket connection itself is wsconn.h's. */
#ifndef FC_NET_WS_H
#define FC_NET_WS_H

#include <stddef.h>

struct lws;

/* Writes a whole HTTP response: status, Content-Type type, Cache-Control
 * no-store, WWW-Authenticate www_auth (NULL: none), Retry-After retry_after
 * seconds (0: none), and the body (len bytes, copied). 0, or -1 when the
 * connection failed (the callback then returns -1). For the HTTP callbacks
 * and HTTP_CONFIRM_UPGRADE (which returns 1 after it to say "answered"). */
int fc_http_write(struct lws *wsi, unsigned status, const char *type, const char *body, size_t len,
                  const char *www_auth, unsigned retry_after);

#endif
