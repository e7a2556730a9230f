/* The wiring of the sockets: which protocol listens where. The only place
 * that knows ocpp/, push/ and api/'s libwebsockets callbacks together with
 * net/ (which knows none of them).
 *
 * Two vhosts. OCPP (chargers): protocols[0] answers plain HTTP and decides
 * upgrades, protocols[1] is "ocpp1.6". Web: /api, /healthz and /metrics go
 * to api/'s HTTP callback, /ws upgrades (decided here by push/, before api/
 * sees them) to push/'s "fc-ui" (the default
 * protocol, since browsers name none), the rest to the UI's static files;
 * permessage-deflate there is push/'s own (deflate.c), not lws's.
 *
 * Every callback is wrapped so that the connection guard (net/guard.c) sees
 * each event first: lws hands events to whichever protocol of the vhost it
 * picks (the web vhost's default protocol gets the instantiation). */
#include "cli/cli_int.h"

#include "api/api_lws.h"
#include "core/mem.h"
#include "net/net_lws.h"
#include "ocpp/ocpp_lws.h"
#include "push/deflate.h"
#include "push/push_lws.h"

#include <libwebsockets.h>
#include <string.h>

struct fc_wire {
  fc_net_t *net;
  struct lws_protocols ocpp_protocols[3];
  struct lws_protocols web_protocols[3];
  lws_retry_bo_t ocpp_retry, web_retry;
  struct lws_protocol_vhost_options ui_default, ui_pvo;
  struct lws_http_mount mounts[4];
  struct lws_protocol_vhost_options web_headers[5];
  fc_net_tls_t ocpp_tls, web_tls;
  int http_port; /* the web vhost's, as listening */
};

#define GUARDED(name, port, inner)                                                                 \
  static int name(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,         \
                  size_t len)                                                                      \
  {                                                                                                \
    if (fc_net_guard_event(wsi, port, reason, user, in, len)) return -1;                           \
    return inner(wsi, reason, user, in, len);                                                      \
  }
GUARDED(ocpp_http_cb, FC_GUARD_OCPP, fc_ocpp_lws_http_cb)
GUARDED(ocpp_ws_cb, FC_GUARD_OCPP, fc_ocpp_lws_ws_cb)
GUARDED(web_ui_cb, FC_GUARD_WEB, fc_push_lws_ws_cb)
#undef GUARDED

/* The web vhost's HTTP protocol: api/'s, but for the upgrades to /ws, which
 * push/ (the "fc-ui" protocol's user) decides. */
static int web_http_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
  if (fc_net_guard_event(wsi, FC_GUARD_WEB, reason, user, in, len)) return -1;
  if (reason == LWS_CALLBACK_HTTP_CONFIRM_UPGRADE) {
    if (!in || strcmp((const char *)in, "websocket") != 0) return -1;
    const struct lws_protocols *ui = lws_vhost_name_to_protocol(lws_get_vhost(wsi), "fc-ui");
    return ui ? fc_push_confirm_upgrade(ui->user, wsi) : -1;
  }
  return fc_api_lws_http_cb(wsi, reason, user, in, len);
}

/* The web vhost's mounts: the dynamic paths to "fc-web-http", the rest to
 * the UI's files. */
static void web_mounts(fc_wire_t *w, const fc_config_t *cfg)
{
  static const char *const dynamic[] = {"/api", "/healthz", "/metrics"};
  memset(w->mounts, 0, sizeof(w->mounts));
  for (size_t i = 0; i < 3; i++) {
    struct lws_http_mount *m = &w->mounts[i];
    m->mount_next = &w->mounts[i + 1];
    m->mountpoint = dynamic[i];
    m->mountpoint_len = (unsigned char)strlen(dynamic[i]);
    m->origin = "fc-web-http";
    m->origin_protocol = LWSMPRO_CALLBACK;
  }
  struct lws_http_mount *f = &w->mounts[3];
  f->mountpoint = "/";
  f->mountpoint_len = 1;
  f->origin = cfg->web_root;
  f->def = "index.html";
  f->origin_protocol = LWSMPRO_FILE;
  /* A file that is not there goes to this protocol's LWS_CALLBACK_HTTP (a
   * 404 of ours); without it lws 4.1 answers nothing at all. */
  f->protocol = "fc-web-http";
  f->cache_max_age = 60;
  f->cache_reusable = 1;
  f->cache_revalidate = 1;
}

/* Headers on every HTTP response of the web port (files, REST, errors): no
 * MIME sniffing, no framing (clickjacking), and a policy that lets the UI
 * load only its own scripts, styles and connections (it has no inline ones;
 * the favicon is a data: URL). */
static void web_headers(fc_wire_t *w, const fc_config_t *cfg)
{
  static const char *const hv[][2] = {
      {"x-content-type-options:", "nosniff"},
      {"x-frame-options:", "DENY"},
      {"referrer-policy:", "no-referrer"},
      {"content-security-policy:",
       "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"},
  };
  for (size_t i = 0; i < FC_ARRAY_SIZE(hv); i++) {
    w->web_headers[i] = (struct lws_protocol_vhost_options){
        .next = i + 1 < FC_ARRAY_SIZE(hv) ? &w->web_headers[i + 1] : NULL,
        .name = hv[i][0],
        .value = hv[i][1]};
  }
  /* Over TLS, browsers are told to come back over https only (a year). */
  if (cfg->tls_cert) {
    w->web_headers[FC_ARRAY_SIZE(hv) - 1].next = &w->web_headers[FC_ARRAY_SIZE(hv)];
    w->web_headers[FC_ARRAY_SIZE(hv)] = (struct lws_protocol_vhost_options){
        .name = "strict-transport-security:", .value = "max-age=31536000"};
  }
}

/* Both ports' TLS files: the web port's own certificate, or the OCPP one's;
 * client certificates only on the OCPP port (browsers are not asked). */
static void tls_files(fc_wire_t *w, const fc_config_t *cfg)
{
  w->ocpp_tls =
      (fc_net_tls_t){.cert = cfg->tls_cert, .key = cfg->tls_key, .client_ca = cfg->tls_client_ca};
  w->web_tls = (fc_net_tls_t){.cert = cfg->web_tls_cert ? cfg->web_tls_cert : cfg->tls_cert,
                              .key = cfg->web_tls_cert ? cfg->web_tls_key : cfg->tls_key};
}

static void protocols(fc_wire_t *w, const fc_config_t *cfg, fc_ocpp_t *ocpp, fc_api_t *api,
                      fc_push_t *push)
{
  w->ocpp_protocols[0] =
      (struct lws_protocols){.name = "fc-ocpp-http", .callback = ocpp_http_cb, .user = ocpp};
  w->ocpp_protocols[1] = (struct lws_protocols){.name = "ocpp1.6",
                                                .callback = ocpp_ws_cb,
                                                .per_session_data_size = sizeof(void *),
                                                .rx_buffer_size = 4096,
                                                .user = ocpp};
  w->web_protocols[0] = (struct lws_protocols){.name = "fc-web-http",
                                               .callback = web_http_cb,
                                               .per_session_data_size = sizeof(void *),
                                               .user = api};
  /* A browser connection costs its per-session pointer and rx buffer: keep
   * both small (client messages are small; longer ones are reassembled). */
  w->web_protocols[1] = (struct lws_protocols){.name = "fc-ui",
                                               .callback = web_ui_cb,
                                               .per_session_data_size = sizeof(void *),
                                               .rx_buffer_size = 1024,
                                               .user = push};
  w->ui_default = (struct lws_protocol_vhost_options){.name = "default", .value = "1"};
  w->ui_pvo = (struct lws_protocol_vhost_options){.name = "fc-ui", .options = &w->ui_default};
  /* Browser heartbeat: a ping after ui_ping_interval of quiet; nothing back
   * (not even the pong) by the next interval: hang up. */
  w->web_retry.secs_since_valid_ping = (uint16_t)cfg->ui_ping_interval;
  w->web_retry.secs_since_valid_hangup = (uint16_t)(2 * cfg->ui_ping_interval);
  /* TCP liveness of chargers: a ping after a minute of quiet, hang up when
   * nothing at all (not even a pong) came for twice the heartbeat interval. */
  w->ocpp_retry.secs_since_valid_ping = 60;
  int hang = 2 * cfg->heartbeat_interval + 60;
  w->ocpp_retry.secs_since_valid_hangup = (uint16_t)(hang > 65535 ? 65535 : hang);
}

int fc_cli__wire_start(uv_loop_t *loop, const fc_config_t *cfg, fc_ocpp_t *ocpp, fc_api_t *api,
                       fc_push_t *push, fc_wire_t **out)
{
  fc_wire_t *w = fc_calloc(1, sizeof(*w));
  protocols(w, cfg, ocpp, api, push);
  web_mounts(w, cfg);
  web_headers(w, cfg);
  tls_files(w, cfg);
  int rc = fc_net_start(loop, cfg, &w->net);
  if (rc < 0) {
    fc_free(w);
    return rc;
  }
  size_t cap = fc_net_ui_cap(w->net);
  if (cap) fc_push_cap_clients(push, cap);
  *out = w;
  fc_net_vhost_t ov = {.name = "ocpp",
                       .port = cfg->ocpp_port,
                       .protocols = w->ocpp_protocols,
                       .retry = &w->ocpp_retry,
                       .tls = cfg->tls_cert ? &w->ocpp_tls : NULL};
  /* Security Profile 1 chargers beside a TLS port: the same protocols, plain */
  fc_net_vhost_t pv = {.name = "ocpp-plain",
                       .port = cfg->ocpp_plain_port,
                       .protocols = w->ocpp_protocols,
                       .retry = &w->ocpp_retry};
  fc_net_vhost_t wv = {.name = "http",
                       .port = cfg->http_port,
                       .protocols = w->web_protocols,
                       .retry = &w->web_retry,
                       .pvo = &w->ui_pvo,
                       .mounts = w->mounts,
                       .headers = w->web_headers,
                       .extensions = fc_deflate_extensions,
                       .tls = cfg->tls_cert ? &w->web_tls : NULL};
  if ((rc = fc_net_vhost_add(w->net, &ov)) < 0 ||
      (rc = w->http_port = fc_net_vhost_add(w->net, &wv)) < 0 ||
      (cfg->ocpp_plain_port >= 0 && (rc = fc_net_vhost_add(w->net, &pv)) < 0) ||
      (cfg->web_redirect_port >= 0 &&
       (rc = fc_net_redirect_add(w->net, cfg->web_redirect_port, w->http_port)) < 0)) {
    /* The context is half made: its destruction needs the loop to run, so
     * the caller still frees w afterwards, as after a normal stop. */
    fc_net_stop(w->net);
    return rc;
  }
  return 0;
}

int fc_cli__wire_http_port(const fc_wire_t *w)
{
  return w->http_port;
}

int fc_cli__wire_reload(fc_wire_t *w)
{
  if (fc_net_tls_count(w->net) == 0) return 0;
  return fc_net_tls_reload(w->net) < 0 ? -1 : 1;
}

const fc_guard_t *fc_cli__wire_guard(const fc_wire_t *w)
{
  return fc_net_guard(w->net);
}

fc_net_t *fc_cli__wire_net(const fc_wire_t *w)
{
  return w->net;
}

void fc_cli__wire_stop(fc_wire_t *w)
{
  if (w) fc_net_stop(w->net);
}

void fc_cli__wire_free(fc_wire_t *w)
{
  if (!w) return;
  fc_net_free(w->net); /* lws holds the tables below until then */
  fc_free(w);
}
