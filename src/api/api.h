/* The web port's HTTP side: /healthz, /metrics and the REST API (/api/…).
 * The UI WebSocket (/ws) is push/'s: cli/wire.c hands it the upgrades and
 * mounts both. */
#ifndef FC_API_H
#define FC_API_H

#include "auth/jwt.h"
#include "bus/bus.h"
#include "config/config.h"
#include "net/guard.h"
#include "net/net.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct fc_api fc_api_t;

/* ---- what api/ needs of the chargers and the browsers ------------------------
 *
 * ocpp/ (the chargers) and push/ (the browsers) sit on api/'s level, so api/
 * names neither: the wiring (cli/), which knows every module, hands it these
 * hooks. */

/* The outcome of a remote command, as the chargers' side reports it: status
 * 0 and result (the charger's answer; borrowed for the callback), or
 * FC_ERR_OFFLINE, FC_ERR_TIMEOUT (timeout_ms: the call's), FC_ERR_PROTO (a
 * CALLERROR or an answer that violates the schema: err_code, err_desc),
 * FC_ERR_BUSY, FC_ERR_SHUTDOWN. state: what the record says ("Accepted",
 * "Rejected"…, "Offline", "Timeout"…). */
typedef struct fc_api_outcome {
  int status;
  const char *state;
  bool sent; /* the call reached the connection (see fc_ocpp_outcome_t) */
  json_t *result;
  const char *err_code, *err_desc;
  unsigned timeout_ms;
} fc_api_outcome_t;

typedef void (*fc_api_outcome_cb)(const fc_api_outcome_t *out, void *arg);

/* The text of a /metrics answer being written. */
typedef struct fc_api_text fc_api_text_t;
__attribute__((format(printf, 2, 3))) void fc_api_text_printf(fc_api_text_t *t, const char *fmt,
                                                              ...);

/* Every hook is required and called on the loop thread; chargers and
 * browsers are handed back to the hooks as they are. The contracts are
 * those of ocpp.h's functions of the same names. */
typedef struct fc_api_peers {
  void *chargers;
  /* Chargers connected now. */
  size_t (*connected)(void *chargers);
  /* Sends action(payload) as command name on behalf of by and records its
   * outcome; cb is called exactly once. payload and params borrowed. */
  void (*command)(void *chargers, const char *charger, const char *name, const char *action,
                  json_t *payload, json_t *params, const char *by, fc_api_outcome_cb cb, void *arg);
  /* Records a command that needs no call (its outcome state and result). */
  void (*command_local)(void *chargers, const char *charger, const char *name, json_t *params,
                        const char *by, const char *state, json_t *result, fc_api_outcome_cb cb,
                        void *arg);
  /* 0 and the running transaction; FC_ERR_NOTFOUND, FC_ERR_INVAL. */
  int (*running_tx)(void *chargers, const char *charger, int connector, int *connector_out,
                    int64_t *tx_out);
  /* Sets (or, soc 0, clears) a target SoC; errors as running_tx. */
  int (*target_soc)(void *chargers, const char *charger, int connector, double soc, bool next,
                    int *connector_out, int64_t *tx_out);
  /* The units charger takes in charging schedules ("A", "W", "A,W" or "");
   * cb is called exactly once, maybe before this returns. */
  void (*rate_units)(void *chargers, const char *charger, void (*cb)(const char *units, void *arg),
                     void *arg);
  /* 0, or FC_ERR_SCHEMA / FC_ERR_NOTIMPL with why filled. */
  int (*check_request)(const char *action, const json_t *payload, char *why, size_t whysz);
  /* Appends the chargers' counters to /metrics. */
  void (*chargers_metrics)(void *chargers, fc_api_text_t *out);

  void *browsers;
  /* Browser connections now. */
  size_t (*browsers_connected)(void *browsers);
  /* Appends the browsers' counters to /metrics. */
  void (*browsers_metrics)(void *browsers, fc_api_text_t *out);
} fc_api_peers_t;

/* Everything borrowed and outliving the api but peers, copied (what its
 * pointers point to outlives the api). jwt NULL: /api refuses every request
 * (no key configured). Caller frees. */
fc_api_t *fc_api_new(fc_store_t *store, fc_bus_t *bus, const fc_api_peers_t *peers,
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
