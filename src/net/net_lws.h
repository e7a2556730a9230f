/* net/'s libwebsockets side: a vhost described by whoever wires the
 * protocols (cli/wire.c), and the guard's hook into their callbacks. Kept
 * apart from net.h so that only the wiring sees lws types. */
#ifndef FC_NET_LWS_H
#define FC_NET_LWS_H

#include "net/guard.h"
#include "net/net.h"

#include <libwebsockets.h>

/* A vhost's TLS: the files are read at its creation and again by
 * fc_net_tls_reload. Borrowed strings, valid until fc_net_free. */
typedef struct fc_net_tls {
  const char *cert;      /* PEM: the server's certificate, then its chain */
  const char *key;       /* PEM: its private key */
  const char *client_ca; /* PEM: the CA(s) client certificates must chain to; NULL: none asked */
} fc_net_tls_t;

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
  const fc_net_tls_t *tls;                          /* NULL: plain */
} fc_net_vhost_t;

/* Creates the vhost on cfg's bind address, with cfg's handshake timeout, and
 * logs event=listening kind=NAME port=N tls=0|1 (or event=listen_failed).
 * With tls: TLS 1.2 and 1.3 only, ECDHE with AES-GCM (the OCPP 1.6 security
 * whitepaper's suites, RSA or ECDSA keys); with tls->client_ca a client
 * certificate is asked for and, when given, must chain to it and be valid
 * now (a connection without one goes on: fc_net_peer_cert tells). Returns
 * the port it listens on, UV_EADDRINUSE, or FC_ERR_CONFIG (a file that does
 * not load, logged): then stop and free n as usual. */
int fc_net_vhost_add(fc_net_t *n, const fc_net_vhost_t *vh);

/* A plain-HTTP vhost on port that answers every request with a redirect
 * (301) to the same host and path over https on https_port. Returns the
 * port it listens on, or as fc_net_vhost_add. */
int fc_net_redirect_add(fc_net_t *n, int port, int https_port);

/* The connection guard's part of every protocol callback of a vhost on port,
 * called first with the callback's arguments: -1 to refuse the connection
 * (return -1 from the callback), else 0 and the callback goes on. It also
 * checks client certificates during TLS handshakes, and logs handshakes that
 * fail (with the reason, once per reason per handshake-log-interval). */
int fc_net_guard_event(struct lws *wsi, fc_guard_port_t port, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len);

/* The client certificate of a connection, as its TLS handshake checked it. */
typedef enum {
  FC_NET_CERT_OK = 0, /* chained to the vhost's client CA, valid now; its CN in cn */
  FC_NET_CERT_NO_TLS, /* a plain connection */
  FC_NET_CERT_NONE,   /* TLS, but no certificate was presented */
  FC_NET_CERT_INVALID /* presented but not verified, or its CN does not fit cn */
} fc_net_cert_t;
fc_net_cert_t fc_net_peer_cert(struct lws *wsi, char *cn, size_t cnsz);

#endif
