/* The web vhost's HTTP protocol: routes requests, and writes responses from
 * HTTP_WRITEABLE once they are ready (a REST read may take a store round
 * trip; the connection may be gone by then, which the request notices).
 *
 * GET is routed at once. POST and PUT (the remote commands) carry a JSON
 * body: the token is checked and the path copied when the headers arrive,
 * the body is collected (at most FC_API_BODY_MAX bytes; a larger declared
 * one is refused with 413 before it is read, and the connection closed),
 * and the request is routed once it is complete.
 *
 * An answer that is ready at once is written from the callback that routed
 * it, and the transaction completed there: lws 4.1 goes on to a pipelined
 * request as soon as the HTTP callback returns, so an answer left for
 * HTTP_WRITEABLE would be lost. An answer that waits for the store or a
 * charger is written from HTTP_WRITEABLE; a request pipelined behind it
 * closes the connection (FILTER_HTTP_CONNECTION), unanswered, for the
 * client to retry (RFC 9112 9.3.2), rather than answered out of order.
 *
 * A request with Transfer-Encoding is refused and closed: 400 with
 * Content-Length too (refused_framing), 411 without. */
#include "core/json.h"
#include "api/api_int.h"
#include "api/api_lws.h"

#include "core/err.h"
#include "core/mem.h"
#include "log/log.h"
#include "net/ws.h"
#include "auth/request.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

fc_api_t *fc_api_new(fc_store_t *store, fc_bus_t *bus, const fc_api_peers_t *peers,
                     const fc_jwt_cfg_t *jwt)
{
  fc_api_t *a = fc_calloc(1, sizeof(*a));
  a->store = store;
  a->bus = bus;
  a->peers = *peers;
  a->jwt = jwt;
  return a;
}

void fc_api_free(fc_api_t *a)
{
  if (!a) return;
  fc_api__login_free(a);
  offence_t *e, *tmp;
  HASH_ITER(hh, a->offences, e, tmp)
  {
    HASH_DEL(a->offences, e);
    fc_free(e);
  }
  fc_free(a->no_web_page);
  if (a->metrics_token) {
    sodium_memzero(a->metrics_token, a->metrics_token_len);
    fc_free(a->metrics_token);
  }
  fc_free(a);
}

/* The first line of path, without its line end; NULL when unreadable. */
static char *read_token_file(const char *path, size_t *len)
{
  FILE *f = fopen(path, "r");
  if (!f) return NULL;
  char buf[1024];
  char *line = fgets(buf, sizeof(buf), f);
  fclose(f);
  if (!line) return NULL;
  size_t n = strcspn(buf, "\r\n");
  char *out = fc_malloc(n + 1);
  memcpy(out, buf, n);
  out[n] = '\0';
  sodium_memzero(buf, sizeof(buf));
  *len = n;
  return out;
}

/* The page the dashboard gets when the web root holds no index.html: a
 * 404 that says where the files were looked for and which option names
 * them, rather than an empty reply or a JSON error a browser shows raw. */
static char *no_web_page(const char *root)
{
  char esc[1024];
  size_t o = 0;
  for (const char *p = root ? root : "(none)"; *p && o + 7 < sizeof(esc); p++) {
    const char *rep = *p == '<'   ? "&lt;"
                      : *p == '>' ? "&gt;"
                      : *p == '&' ? "&amp;"
                      : *p == '"' ? "&quot;"
                                  : NULL;
    if (rep) {
      memcpy(esc + o, rep, strlen(rep));
      o += strlen(rep);
    } else {
      esc[o++] = *p;
    }
  }
  esc[o] = '\0';
  char *page = NULL;
  if (asprintf(&page,
               "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<title>flashcharge: no web UI</title></head><body>\n"
               "<h1>404: the web UI is not installed here</h1>\n"
               "<p>flashcharge looked for the web UI's files (index.html) in <code>%s</code> and "
               "found none.</p>\n"
               "<p>Start the server with <code>--web-root DIR</code> (or "
               "<code>FLASHCHARGE_WEB_ROOT</code>, or <code>\"web_root\"</code> in the config "
               "file) naming the directory that holds them: "
               "<code>PREFIX/share/flashcharge/web</code> once installed, <code>web/</code> in "
               "the source tree.</p>\n"
               "<p><code>/api</code>, <code>/ws</code>, <code>/healthz</code> and "
               "<code>/metrics</code> work without it.</p>\n</body></html>\n",
               esc) < 0)
    abort();
  return page;
}

int fc_api_init(fc_api_t *a, uv_loop_t *loop, const fc_config_t *cfg)
{
  a->cfg = cfg;
  a->loop = loop;
  char index[4096];
  int n = snprintf(index, sizeof(index), "%s/index.html", cfg->web_root ? cfg->web_root : "");
  if (!cfg->web_root || n < 0 || (size_t)n >= sizeof(index) || access(index, R_OK) != 0)
    a->no_web_page = no_web_page(cfg->web_root);
  if (cfg->metrics_token_file) {
    a->metrics_token = read_token_file(cfg->metrics_token_file, &a->metrics_token_len);
    if (!a->metrics_token) {
      fc_log(FC_LOG_ERROR, NULL,
             "event=config_error option=metrics-token-file msg=\"cannot read\"");
      return FC_ERR_CONFIG;
    }
  } else if (cfg->metrics_token) {
    a->metrics_token_len = strlen(cfg->metrics_token);
    a->metrics_token = fc_strdup(cfg->metrics_token);
  }
  if (a->metrics_token && !a->metrics_token_len) {
    fc_log(FC_LOG_ERROR, NULL, "event=config_error option=metrics-token msg=\"empty\"");
    return FC_ERR_CONFIG;
  }
  return fc_api__login_init(a);
}

bool fc_api__log_once(fc_api_t *a, const char *kind, const char *peer)
{
  char key[sizeof(((offence_t *)0)->key)];
  snprintf(key, sizeof(key), "%s %s", kind, peer);
  uint64_t now = a->loop ? uv_now(a->loop) : 0;
  offence_t *o = NULL;
  HASH_FIND_STR(a->offences, key, o);
  if (o) {
    if (now - o->logged_ms < FC_API_LOG_INTERVAL_MS) return false;
    o->logged_ms = now;
    return true;
  }
  if (HASH_COUNT(a->offences) >= FC_API_OFFENDERS_MAX) {
    offence_t *e, *tmp;
    HASH_ITER(hh, a->offences, e, tmp)
    {
      if (now - e->logged_ms >= FC_API_LOG_INTERVAL_MS ||
          HASH_COUNT(a->offences) >= FC_API_OFFENDERS_MAX) {
        HASH_DEL(a->offences, e);
        fc_free(e);
      }
    }
  }
  o = fc_calloc(1, sizeof(*o));
  snprintf(o->key, sizeof(o->key), "%s", key);
  o->logged_ms = now;
  HASH_ADD_STR(a->offences, key, o);
  return true;
}

const char *fc_api__escape(const char *s, char *buf, size_t n)
{
  static const char hex[] = "0123456789abcdef";
  size_t o = 0;
  for (; s && *s && o + 5 <= n; s++) {
    unsigned char c = (unsigned char)*s;
    if (c > 0x20 && c < 0x7f && c != '"' && c != '\\' && c != '=') {
      buf[o++] = (char)c;
    } else {
      buf[o++] = '\\';
      buf[o++] = 'x';
      buf[o++] = hex[c >> 4];
      buf[o++] = hex[c & 15];
    }
  }
  if (n) buf[o < n ? o : n - 1] = '\0';
  return buf;
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
    /* no body: lws calls no BODY callback, but may still call
     * BODY_COMPLETION (Content-Length: 0), which must not route it again */
    r->routed = true;
    fc_api__rest_routed(r, r->path);
    return false;
  }
  return true;
}

/* Transfer-Encoding: refused, closed (and logged once per peer and
 * interval). With Content-Length too, 400: the two framings disagree about
 * where the request ends (smuggling). Alone, 411: lws 4.1 does not decode
 * chunked request bodies (it would hand us the chunk framing as the body and
 * never end it), and our clients send Content-Length. */
static bool refused_framing(fc_req_t *r, struct lws *wsi)
{
  if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) <= 0) return false;
  bool both = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_CONTENT_LENGTH) > 0;
  char ip[64] = "";
  lws_get_peer_simple(wsi, ip, sizeof(ip));
  if (both)
    r->a->stats.ambiguous_length++;
  else
    r->a->stats.chunked++;
  if (fc_api__log_once(r->a, both ? "ambiguous_length" : "transfer_encoding", ip))
    fc_log(FC_LOG_WARN, NULL, "event=http_refused reason=%s peer=%s",
           both ? "content_length_and_transfer_encoding" : "transfer_encoding", ip);
  if (both)
    fc_api__error(r, 400, "bad_request", "Content-Length and Transfer-Encoding together");
  else
    fc_api__error(r, 411, "length_required", "send the body with a Content-Length");
  r->close_after = true;
  return true;
}

/* A page a browser navigates to: the dashboard's own paths, or any path
 * asked for as HTML. */
static bool wants_page(struct lws *wsi, const char *path)
{
  char accept[256];
  if (!strcmp(path, "/") || !strcmp(path, "/index.html")) return true;
  return lws_hdr_copy(wsi, accept, sizeof(accept), WSI_TOKEN_HTTP_ACCEPT) > 0 &&
         strstr(accept, "text/html");
}

static void route(fc_req_t *r, struct lws *wsi)
{
  char path[512];
  if (refused_framing(r, wsi)) return;
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
  else if (r->a->no_web_page && wants_page(wsi, path))
    fc_api__respond(r, 404, "text/html; charset=utf-8", r->a->no_web_page,
                    strlen(r->a->no_web_page));
  else
    fc_api__error(r, 404, "not_found", "no such resource");
}

/* Writes pss's answer, ready, from the callback that made it. */
static int write_now(fc_api_pss_t *pss, struct lws *wsi)
{
  fc_req_t *r = pss->req;
  pss->req = NULL;
  r->wsi = NULL;
  int rc = write_response(wsi, r);
  fc_api__req_unref(r);
  return rc;
}

/* The body is in: route the request (once). */
static int body_complete(fc_api_pss_t *pss, struct lws *wsi)
{
  fc_req_t *r = pss->req;
  if (r->ready || r->routed) return 0;
  r->routed = true;
  if (r->in_overflow)
    fc_api__error(r, 413, "too_large", "the request body is over 64 KiB");
  else
    fc_api__rest_routed(r, r->path);
  return r->ready ? write_now(pss, wsi) : 0;
}

int fc_api_lws_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
  fc_api_pss_t *pss = user;
  switch (reason) {
  case LWS_CALLBACK_HTTP: {
    fc_api_t *a = (fc_api_t *)lws_get_protocol(wsi)->user;
    if (pss->req) return -1; /* cannot happen: FILTER_HTTP_CONNECTION closed */
    fc_req_t *r = fc_calloc(1, sizeof(*r));
    r->a = a;
    r->wsi = wsi;
    r->refs = 1;
    pss->req = r;
    route(r, wsi);
    return r->ready ? write_now(pss, wsi) : 0;
  }
  case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
    /* A pipelined request while the one before waits: see the top. */
    if (pss && pss->req) {
      pss->req->a->stats.pipelined_closed++;
      return -1;
    }
    return 0;
  case LWS_CALLBACK_HTTP_BODY: {
    fc_req_t *r = pss ? pss->req : NULL;
    if (!r) return 0;
    if (!len) return 0; /* (NULL, 0): nothing to copy */
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
  case LWS_CALLBACK_HTTP_BODY_COMPLETION:
    return pss && pss->req ? body_complete(pss, wsi) : 0;
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
