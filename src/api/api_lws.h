/* The api/ module's HTTP callback, for the wiring (cli/wire.c) to mount on
 * the web vhost. */
#ifndef FC_API_LWS_H
#define FC_API_LWS_H

#include <libwebsockets.h>

/* protocols[0] of the web vhost; its .user is the fc_api_t. Upgrades to
 * /ws are not its to decide: cli/wire.c hands them to push/ first. */
int fc_api_lws_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len);

#endif
