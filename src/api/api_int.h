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
};

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
  fc_principal_t who;
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

/* rest.c: GET /api/… (path without the query). */
void fc_api__rest(fc_req_t *r, const char *path);

#endif
