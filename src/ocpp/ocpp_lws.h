/* The ocpp/ module's libwebsockets protocols, for the wiring (cli/wire.c) to
 * mount on the OCPP vhost. Kept apart from ocpp.h so that only the wiring
 * sees lws types. */
#ifndef FC_OCPP_LWS_H
#define FC_OCPP_LWS_H

#include <libwebsockets.h>

/* protocols[0]: the handshake (HTTP) callback; protocols[1]: "ocpp1.6". Their
 * .user is the fc_ocpp_t. */
int fc_ocpp_lws_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                        size_t len);
int fc_ocpp_lws_ws_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                      size_t len);

#endif
