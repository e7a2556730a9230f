/* The sockets: one libwebsockets context on the libuv loop (foreign loop),
 * with two vhosts: OCPP (chargers) and web (/healthz, /metrics, /api, /ws). */
#ifndef FC_NET_H
#define FC_NET_H

#include "api/api.h"
#include "config/config.h"
#include "net/guard.h"
#include "ocpp/ocpp.h"
#include "push/push.h"

#include <uv.h>

typedef struct fc_net fc_net_t;

/* Creates the context and both listening vhosts. Logs the ports it listens on
 * (event=listening kind=ocpp|http port=N). Borrowed: loop, cfg, ocpp, api.
 * Returns 0 and *out, or a negative error (logged); on an error after the
 * context was made, *out is set too, already stopped: run the loop, then
 * fc_net_free it. */
int fc_net_start(uv_loop_t *loop, const fc_config_t *cfg, fc_ocpp_t *ocpp, fc_api_t *api,
                 fc_push_t *push, fc_net_t **out);

/* Destroys the lws context, closing every connection. The loop must run
 * afterwards for lws's handles to finish closing; then fc_net_free (lws keeps
 * pointers into n until it has). */
void fc_net_stop(fc_net_t *n);

/* The port the web vhost listens on (the one chosen when configured 0). */
int fc_net_http_port(const fc_net_t *n);

/* The connection guard of both ports (guard.h), for its statistics. Borrowed;
 * lives until fc_net_free. */
const fc_guard_t *fc_net_guard(const fc_net_t *n);
void fc_net_free(fc_net_t *n);

#endif
