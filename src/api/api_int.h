#ifndef FC_API_INT_H
#define FC_API_INT_H

#include "api/api.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>
#include <uthash.h>

/* How often one offender's refusals of one kind are logged at most. */
#define FC_API_LOG_INTERVAL_MS (60 * 1000)
/* Offenders remembered for that at most (then the stale ones go, or all). */
#define FC_API_OFFENDERS_MAX 4096

typedef struct offence {
  char key[96]; /* "kind peer" */
  uint64_t logged_ms;
  UT_hash_handle hh;
} offence_t;

/* Refusals of the web port's HTTP side, for /metrics. Loop thread. */
typedef struct fc_api_stats {
  uint64_t ambiguous_length; /* Content-Length with Transfer-Encoding: 400 */
  uint64_t chunked;          /* Transfer-Encoding without Content-Length: 411 */
  uint64_t pipelined_closed; /* pipelined behind a pending answer: closed */
  uint64_t metrics_unauthorized;
} fc_api_stats_t;

struct fc_api {
  fc_store_t *store;
  fc_bus_t *bus;
  fc_api_peers_t peers; /* the chargers and the browsers */
  const fc_jwt_cfg_t *jwt;
  const fc_config_t *cfg; /* set by fc_api_init; borrowed */
  uv_loop_t *loop;
  struct fc_login *login; /* sign-in (login.c), NULL when not available */
  char *metrics_token;    /* NULL: /metrics is open */
  size_t metrics_token_len;
  offence_t *offences; /* when each offender was last logged */
  fc_api_stats_t stats;
  const fc_guard_t *guard; /* the sockets' connection guard, for /metrics */
  fc_net_t *net;           /* the sockets: TLS reload and expiry (NULL: none) */
  char *no_web_page;       /* the 404 page when the web root has no index.html, else NULL */
};

typedef enum { FC_HTTP_GET = 0, FC_HTTP_POST, FC_HTTP_PUT } fc_method_t;

/* Largest request body accepted (JSON commands), bytes. */
#define FC_API_BODY_MAX (64 * 1024)

/* A response being prepared: lives on the heap so that a store read may
 * finish after its connection is gone (wsi is then NULL). */
typedef struct fc_req {
  fc_api_t *a;
  struct lws *wsi;
  int refs;
  unsigned status;
  const char *type;
  char *body; /* malloc'd */
  size_t len;
  bool ready;
  bool close_after;     /* the request's body was not read: close after answering */
  unsigned retry_after; /* seconds, sent as Retry-After when not 0 */
  fc_principal_t who;
  /* POST and PUT: the path, the token's verdict (taken while the headers
   * are at hand) and the body, read before the request is routed */
  fc_method_t method;
  char path[512];
  int auth_rc;
  const char *auth_why; /* static */
  char *in;             /* fc_malloc'd, NUL-terminated; NULL when empty */
  size_t in_len;
  bool in_overflow;
  bool routed; /* the body is complete and the request routed */
} fc_req_t;

/* Per-connection data of the web vhost's HTTP protocol. */
typedef struct fc_api_pss {
  fc_req_t *req;
} fc_api_pss_t;

/* Sets the response (body copied) and asks for writability. */
void fc_api__respond(fc_req_t *r, unsigned status, const char *type, const char *body, size_t len);
/* Takes ownership of body (malloc'd). */
void fc_api__respond_owned(fc_req_t *r, unsigned status, const char *type, char *body, size_t len);
void fc_api__error(fc_req_t *r, unsigned status, const char *error, const char *detail);
/* POST /api/admin/tls/reload (role admin): the certificate files again. */
void fc_api__tls_reload(fc_req_t *r);
void fc_api__req_unref(fc_req_t *r);

/* Whether a refusal of this kind from peer should be logged now: once per
 * peer and kind per FC_API_LOG_INTERVAL_MS. */
bool fc_api__log_once(fc_api_t *a, const char *kind, const char *peer);
/* s (a peer's string) made safe for a log value: printable ASCII but
 * quotes, backslashes and blanks, others as \xNN; truncated to fit buf. */
const char *fc_api__escape(const char *s, char *buf, size_t n);

/* health.c */
void fc_api__healthz(fc_req_t *r);
void fc_api__metrics(fc_req_t *r);

/* rest.c: /api/… (path without the query): verifies the token, then routes.
 * fc_api__rest_routed routes a request whose token was verified already
 * (r->auth_rc, r->who). */
void fc_api__rest(fc_req_t *r, const char *path);
void fc_api__rest_routed(fc_req_t *r, const char *path);

/* login.c: POST /api/login (no token needed). */
void fc_api__login(fc_req_t *r);
int fc_api__login_init(fc_api_t *a); /* from fc_api_init: a->cfg, a->loop set */
void fc_api__login_free(fc_api_t *a);
/* The sign-in's counters, for /metrics. */
typedef struct fc_login_stats {
  uint64_t ok, refused, throttled, busy; /* answers: 200, 401, 429, 503 */
  uint64_t verifications;                /* password checks started */
  uint64_t running, queued;              /* now */
} fc_login_stats_t;
void fc_api__login_stats(const fc_api_t *a, fc_login_stats_t *out);

/* docs.c: GET /api/<name> for each published document (no token needed).
 * Returns true when path is one (answered, 405 for another method). */
typedef struct fc_api_doc {
  const char *name; /* "openapi.json" */
  const char *json;
  size_t len;
} fc_api_doc_t;
extern const fc_api_doc_t fc_api__doc_table[]; /* generated; ends with {NULL} */
bool fc_api__docs(fc_req_t *r, const char *path);

/* commands.c: /api/chargers/{id}/{verb}, the remote commands. */
bool fc_api__is_command(const char *verb);
void fc_api__command(fc_req_t *r, const char *charger, const char *verb);

#endif
