/* push/'s libwebsockets side, for the wiring (cli/wire.c). */
#ifndef FC_PUSH_LWS_H
#define FC_PUSH_LWS_H

#include <libwebsockets.h>

/* The "fc-ui" WebSocket protocol callback; .user is the fc_push_t. */
int fc_push_lws_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

/* Decides an upgrade to /ws (HTTP_CONFIRM_UPGRADE on the web vhost's HTTP
 * protocol): 0 to let it proceed, or the result of writing a refusal
 * (401, 404, 429, 503). */
int fc_push_confirm_upgrade(void *push, struct lws *wsi);

#endif
