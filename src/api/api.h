/* The web port's HTTP side: /healthz, /metrics and the REST API (/api/…).
 * The UI WebSocket (/ws) is push/'s: the web vhost's HTTP protocol (http.c)
 * hands it the upgrades; cli/wire.c mounts both. */
#ifndef FC_API_H
#define FC_API_H

#include "auth/jwt.h"
#include "bus/bus.h"
#include "config/config.h"
#include "net/guard.h"
#include "net/net.h"
#include "ocpp/ocpp.h"
#include "push/push.h"
#include "store/store.h"

typedef struct fc_api fc_api_t;

/* Everything borrowed; outlives the api. jwt NULL: /api refuses every
 * request (no key configured). Caller frees. */
fc_api_t *fc_api_new(fc_store_t *store, fc_ocpp_t *ocpp, fc_bus_t *bus, fc_push_t *push,
                     const fc_jwt_cfg_t *jwt);
void fc_api_free(fc_api_t *a);

/* The connection guard whose counts /metrics shows (borrowed; NULL: none). */
void fc_api_set_guard(fc_api_t *a, const fc_guard_t *g);

/* The sockets (borrowed; NULL: none): POST /api/admin/tls/reload calls
 * fc_net_tls_reload, /metrics and /healthz show the server certificates'
 * days left. */
void fc_api_set_net(fc_api_t *a, fc_net_t *n);

/* Applies cfg (borrowed; outlives the api): the /metrics token
 * (metrics_token, or the first line of metrics_token_file) and the sign-in.
 * Sign-in (login.c): POST /api/login mints tokens with the api's HS256 key,
 * valid FC_LOGIN_TTL_S, throttled and queued as cfg's login_* say. Opens an
 * administration connection to cfg->db (the users). Without an HS256 key it
 * leaves sign-in off (501). Before the loop runs. Returns 0, FC_ERR_CONFIG
 * (the token file cannot be read; logged) or a store error. */
#define FC_LOGIN_TTL_S (12 * 3600)
typedef struct fc_login fc_login_t;
int fc_api_init(fc_api_t *a, uv_loop_t *loop, const fc_config_t *cfg);

/* When no user exists yet: makes a one-time sign-in code and logs the URL
 * that uses it (http://host:port/#login=CODE); without a web UI (no
 * index.html in the web root) only says how to add a user. Blocking; before
 * the loop runs. */
void fc_api_login_announce(fc_api_t *a, const char *host, int port);

#endif
