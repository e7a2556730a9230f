/* WebSocket helpers shared by the protocols that run on lws (ocpp/, push/). */
#ifndef FC_NET_WS_H
#define FC_NET_WS_H

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

#endif
