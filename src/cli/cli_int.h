#ifndef FC_CLI_INT_H
#define FC_CLI_INT_H

/* Each takes argv[0] = the command name; returns the exit status. */
int fc_cli__serve(int argc, char **argv);
int fc_cli__charger(int argc, char **argv);
int fc_cli__tag(int argc, char **argv);
/* flashcharge token: mints a UI/REST JWT and prints it on stdout (token.c). */
int fc_cli__token(int argc, char **argv);
/* flashcharge user: the web UI's users (user.c). */
int fc_cli__user(int argc, char **argv);

/* flashcharge backup FILE / restore FILE (backup.c). */
int fc_cli__backup(int argc, char **argv);
int fc_cli__restore(int argc, char **argv);

/* Takes "--name value" (or --name=value) out of argv, compacting it, and
 * returns the value (borrowed from argv) or NULL. */
const char *fc_cli__take_opt(int *argc, char **argv, const char *name);

/* True when argv holds --help (or -h). */
int fc_cli__wants_help(int argc, char **argv);

/* Sets cfg->web_root when no option gave it (beside the installed binary,
 * else ./web) and logs where the web UI is, or a warning when it is not
 * there (webroot.c). */
struct fc_config;
void fc_cli__web_root(struct fc_config *cfg);

/* ---- serve's sockets (wire.c): the only place that mounts ocpp/, push/ and
 * api/'s libwebsockets callbacks on net/'s vhosts ---- */
#include "api/api.h"
#include "config/config.h"
#include "net/guard.h"
#include "net/net.h"
#include "ocpp/ocpp.h"
#include "push/push.h"

#include "store/store.h"

#include <uv.h>

/* Start-up, before the read model is loaded and anything listens: closes as
 * offline every charger the previous process left online (recover.c), and
 * sets *max_conn_id to the largest connection id used so far. Runs loop
 * until that write commits. 0 or a negative error. */
int fc_cli__recover(uv_loop_t *loop, fc_store_t *store, int64_t *max_conn_id);

typedef struct fc_wire fc_wire_t;

/* Starts net/ (the lws context on loop) and listens on both ports: the OCPP
 * vhost (cfg->ocpp_port) and the web vhost (cfg->http_port). Borrowed, and
 * outliving *out: loop, cfg, ocpp, api, push. Returns 0 and *out; or a
 * negative error (logged): with *out unset when the context could not be
 * made, or set, already stopped, when a port could not be bound (run the
 * loop, then fc_cli__wire_free it). */
int fc_cli__wire_start(uv_loop_t *loop, const fc_config_t *cfg, fc_ocpp_t *ocpp, fc_api_t *api,
                       fc_push_t *push, fc_wire_t **out);

/* What api/ gets of the chargers (ocpp) and the browsers (push): fills
 * *out with hooks on them (api_peers.c). Both borrowed; they outlive the
 * api that is given *out. */
void fc_cli__api_peers(fc_ocpp_t *ocpp, fc_push_t *push, fc_api_peers_t *out);

/* The port the web vhost listens on (the one chosen when configured 0). */
int fc_cli__wire_http_port(const fc_wire_t *w);

/* SIGHUP's part of the sockets: the TLS certificate files read again
 * (fc_net_tls_reload, net.h). 1: reloaded; 0: no TLS; -1: a file did not
 * load (logged; the ones in use stay). */
int fc_cli__wire_reload(fc_wire_t *w);

/* The connection guard of both ports (borrowed; lives until the free). */
const fc_guard_t *fc_cli__wire_guard(const fc_wire_t *w);
/* The sockets (borrowed; lives until fc_cli__wire_free): TLS reload, expiry. */
fc_net_t *fc_cli__wire_net(const fc_wire_t *w);

/* Destroys the lws context, closing every connection; the loop must run
 * afterwards, then fc_cli__wire_free (NULL: nothing). */
void fc_cli__wire_stop(fc_wire_t *w);
void fc_cli__wire_free(fc_wire_t *w);

#endif
