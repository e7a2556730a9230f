/* The sockets: one libwebsockets context on the libuv loop (foreign loop),
 * the file-descriptor budget, and the connection guard (guard.h) in front of
 * every vhost. What listens, with which protocols, is not net/'s to know:
 * the wiring (cli/wire.c) describes each vhost to fc_net_vhost_add
 * (net_lws.h). */
#ifndef FC_NET_H
#define FC_NET_H

#include "config/config.h"
#include "net/guard.h"

#include <stddef.h>
#include <uv.h>

typedef struct fc_net fc_net_t;

/* Raises the open-file limit, makes the connection guard (cfg's handshake_*
 * options) and the context, with no vhost yet. Borrowed: loop, cfg (outlive
 * n). Returns 0 and *out, or a negative error (logged; nothing to free). */
int fc_net_start(uv_loop_t *loop, const fc_config_t *cfg, fc_net_t **out);

/* How many browser connections the descriptors allow (the open-file limit
 * less what chargers, REST, listeners and our own files need); 0 when the
 * limit is unknown. Logged when below cfg->ui_max_clients. */
size_t fc_net_ui_cap(const fc_net_t *n);

/* Destroys the lws context, closing every connection. The loop must run
 * afterwards for lws's handles to finish closing; then fc_net_free (lws keeps
 * pointers into n until it has). */
void fc_net_stop(fc_net_t *n);

/* SIGHUP: the place where the TLS certificate and key files are read anew
 * (lws_tls_cert_updated on each TLS vhost) once the server speaks TLS. Loop
 * thread. Returns 1 when it reloaded something, 0 when there is nothing to
 * reload (no TLS configured), or a negative error (logged; the old files
 * stay in force). */
int fc_net_tls_reload(fc_net_t *n, const fc_config_t *cfg);

/* The connection guard of both ports (guard.h), for its statistics. Borrowed;
 * lives until fc_net_free. */
const fc_guard_t *fc_net_guard(const fc_net_t *n);
void fc_net_free(fc_net_t *n);

#endif
