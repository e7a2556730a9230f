/* The web vhost's HTTP protocol: routes requests, and writes responses from
 * HTTP_WRITEABLE once they are ready (a REST read may take a store round
 * trip; the connection may be gone by then, which the request notices).
 *
 * GET is routed at once. POST and PUT (the remote commands) carry a JSON
 * body: the token is checked and the path copied when the headers arrive,
 * the body is collected (at most FC_API_BODY_MAX bytes; a larger declared
 * one is refused with 413 before it is read, and the connection closed),
 * and the request is routed once it is complete. */
#include "core/json.h"
#include "api/api_int.h"
#include "api/api_lws.h"

#include "core/mem.h"
#include "log/log.h"
#include "net/ws.h"
#include "auth/request.h"
#include "push/push_lws.h"

#include <stdlib.h>
#include <string.h>

fc_api_t *fc_api_new(fc_store_t *store, fc_ocpp_t *ocpp, fc_bus_t *bus, fc_push_t *push,
                     const fc_jwt_cfg_t *jwt)
{
  fc_api_t *a = fc_calloc(1, sizeof(*a));
  a->store = store;
  a->ocpp = ocpp;
  a->bus = bus;
  a->push = push;
  a->jwt = jwt;
  return a;
}

void fc_api_free(fc_api_t *a)
{
  if (!a) return;
  fc_api__login_free(a);
  if (!a) return;
  fc_api__login_free(a);
  fc_free(a);
}

void fc_api__req_unref(fc_req_t *r)
{
  if (--r->refs > 0) return;
  fc_principal_cleanup(&r->who);
  free(r->body);
  fc_free(r->in);
  fc_free(r);
}

void fc_api__respond_owned(fc_req_t *r, unsigned status, const char *type, char *body, size_t len)
{
  free(r->body);
  r->status = status;
  r->type = type;
  r->body = body;
  r->len = len;
  r->ready = true;
  if (r->wsi) lws_callback_on_writable(r->wsi);
}

void fc_api__respond(fc_req_t *r, unsigned status, const char *type, const char *body, size_t len)
{
  char *copy = malloc(len + 1);
  if (!copy) abort();
  memcpy(copy, body, len);
  copy[len] = '\0';
  fc_api__respond_owned(r, status, type, copy, len);
}

void fc_api__error(fc_req_t *r, unsigned status, const char *error, const char *detail)
{
  json_t *o = json_pack("{s:s, s:s}", "error", error, "detail", detail);
  char *text = json_dumps(o, FC_JSON_DUMP);
  json_decref(o);
  fc_api__respond_owned(r, status, "application/json", text, strlen(text));
}

static int write_response(struct lws *wsi, fc_req_t *r)
{
  if (fc_http_write(wsi, r->status, r->type, r->body, r->len, r->status == 401 ? "Bearer" : NULL,
                    r->retry_after) < 0 ||
      r->close_after)
    return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

static bool is_api(const char *path)
{
  return !strncmp(path, "/api/", 5) || !strcmp(path, "/api");
}

/* POST/PUT: the token and the path now, the body later. Returns true when
 * the request waits for its body. */
static bool begin_body(fc_req_t *r, struct lws *wsi, enum lws_token_indexes uri)
{
  char clen[32];
  if (lws_hdr_copy(wsi, r->path, sizeof(r->path), uri) <= 0) {
    fc_api__error(r, 414, "uri_too_long", "the path is too long");
    r->close_after = true;
    return false;
  }
  /* lws keeps the query string apart: the path has none */
  if (!is_api(r->path)) {
    fc_api__error(r, 405, "method_not_allowed", "only GET is served here");
    r->close_after = true;
    return false;
  }
  r->auth_rc = fc_auth_request(r->a->jwt, wsi, &r->who, &r->auth_why);
  long long declared = 0;
  if (lws_hdr_copy(wsi, clen, sizeof(clen), WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0)
    declared = strtoll(clen, NULL, 10);
  if (declared > FC_API_BODY_MAX) {
    fc_api__error(r, 413, "too_large", "the request body is over 64 KiB");
    r->close_after = true;
    return false;
  }
  if (declared <= 0) {
    /* no body: lws calls no BODY callback */
    fc_api__rest_routed(r, r->path);
    return false;
  }
  return true;
}

static void route(fc_req_t *r, struct lws *wsi)
{
  char path[512];
  if (lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0) {
    r->method = FC_HTTP_POST;
    begin_body(r, wsi, WSI_TOKEN_POST_URI);
    return;
  }
  if (lws_hdr_total_length(wsi, WSI_TOKEN_PUT_URI) > 0) {
    r->method = FC_HTTP_PUT;
    begin_body(r, wsi, WSI_TOKEN_PUT_URI);
    return;
  }
  if (lws_hdr_total_length(wsi, WSI_TOKEN_GET_URI) <= 0) {
    fc_api__error(r, 405, "method_not_allowed", "GET, POST or PUT");
    r->close_after = true;
    return;
  }
  if (lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI) <= 0) {
    fc_api__error(r, 414, "uri_too_long", "the path is too long");
    return;
  }
  if (!strcmp(path, "/healthz"))
    fc_api__healthz(r);
  else if (!strcmp(path, "/metrics"))
    fc_api__metrics(r);
  else if (is_api(path))
    fc_api__rest(r, path);
  else
    fc_api__error(r, 404, "not_found", "no such resource");
}

int fc_api_lws_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
  fc_api_pss_t *pss = user;
  switch (reason) {
  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
    fc_api_t *a = (fc_api_t *)lws_get_protocol(wsi)->user;
    if (!in || strcmp((const char *)in, "websocket") != 0) return -1;
    return fc_push_confirm_upgrade(a->push, wsi);
  }
  case LWS_CALLBACK_HTTP: {
    fc_api_t *a = (fc_api_t *)lws_get_protocol(wsi)->user;
    if (pss->req) { /* a pipelined request while one is pending: refuse */
      return -1;
    }
    fc_req_t *r = fc_calloc(1, sizeof(*r));
    r->a = a;
    r->wsi = wsi;
    r->refs = 1;
    pss->req = r;
    route(r, wsi);
    return 0;
  }
  case LWS_CALLBACK_HTTP_BODY: {
    fc_req_t *r = pss ? pss->req : NULL;
    if (!r) return 0;
    if (r->in_len + len > FC_API_BODY_MAX) {
      r->in_overflow = true; /* keep reading, answer 413 at the end */
      return 0;
    }
    r->in = fc_realloc(r->in, r->in_len + len + 1);
    memcpy(r->in + r->in_len, in, len);
    r->in_len += len;
    r->in[r->in_len] = '\0';
    return 0;
  }
  case LWS_CALLBACK_HTTP_BODY_COMPLETION: {
    fc_req_t *r = pss ? pss->req : NULL;
    if (!r || r->ready) return 0;
    if (r->in_overflow)
      fc_api__error(r, 413, "too_large", "the request body is over 64 KiB");
    else
      fc_api__rest_routed(r, r->path);
    return 0;
  }
  case LWS_CALLBACK_HTTP_WRITEABLE: {
    fc_req_t *r = pss ? pss->req : NULL;
    if (!r || !r->ready) return 0;
    pss->req = NULL;
    r->wsi = NULL;
    int rc = write_response(wsi, r);
    fc_api__req_unref(r);
    return rc;
  }
  case LWS_CALLBACK_CLOSED_HTTP:
  case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
    if (pss && pss->req) {
      pss->req->wsi = NULL;
      fc_api__req_unref(pss->req);
      pss->req = NULL;
    }
    return lws_callback_http_dummy(wsi, reason, user, in, len);
  default:
    return lws_callback_http_dummy(wsi, reason, user, in, len);
  }
}
