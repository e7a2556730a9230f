#ifndef FC_API_INT_H
#define FC_API_INT_H

#include "api/api.h"

#include <libwebsockets.h>
#include <stdbool.h>

struct fc_api {
  fc_store_t *store;
  fc_ocpp_t *ocpp;
  fc_bus_t *bus;
  fc_push_t *push;
  const fc_jwt_cfg_t *jwt;
  struct fc_login *login; /* sign-in (login.c), NULL when not available */
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
void fc_api__req_unref(fc_req_t *r);

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
void fc_api__login_free(fc_api_t *a);

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
