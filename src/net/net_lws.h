/* net/'s libwebsockets side: a vhost described by whoever wires the
 * protocols (cli/wire.c), and the guard's hook into their callbacks. Kept
 * apart from net.h so that only the wiring sees lws types. */
#ifndef FC_NET_LWS_H
#define FC_NET_LWS_H

#include "net/guard.h"
#include "net/net.h"

#include <libwebsockets.h>

/* One listening vhost. Every pointer is borrowed and must stay valid until
 * fc_net_free (lws keeps them). */
typedef struct fc_net_vhost {
  const char *name;                      /* in the logs: event=listening kind=NAME */
  int port;                              /* 0: any free one */
  const struct lws_protocols *protocols; /* terminated; each callback calls fc_net_guard_event */
  const lws_retry_bo_t *retry;           /* ping and hang-up of its WebSockets */
  const struct lws_protocol_vhost_options *pvo;
  const struct lws_http_mount *mounts;
  const struct lws_protocol_vhost_options *headers; /* added to every HTTP response */
  const struct lws_extension *extensions;           /* NULL: none */
} fc_net_vhost_t;

/* Creates the vhost on cfg's bind address, with cfg's handshake timeout, and
 * logs event=listening kind=NAME port=N (or event=listen_failed). Returns the
 * port it listens on, or UV_EADDRINUSE: then stop and free n as usual. */
int fc_net_vhost_add(fc_net_t *n, const fc_net_vhost_t *vh);

/* The connection guard's part of every protocol callback of a vhost on port,
 * called first: -1 to refuse the connection (return -1 from the callback),
 * else 0 and the callback goes on. */
int fc_net_guard_event(struct lws *wsi, fc_guard_port_t port, enum lws_callback_reasons reason,
                       void *in);

#endif
