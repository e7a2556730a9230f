/* libwebsockets on the libuv loop, the descriptor budget and the guard.
 *
 * lws's default poll() loop scans every socket on each wake-up; with tens of
 * thousands of browsers that costs milliseconds per event. On libuv (epoll)
 * the cost stays flat, and the loop is shared with our own timers, signals
 * and the store's uv_async_t.
 *
 * net/ is a leaf: it knows no protocol. The wiring (cli/wire.c) describes
 * each vhost (its protocols, mounts, headers) and adds it here; every
 * protocol callback it gives starts with fc_net_guard_event. */
#include "net/net.h"
#include "net/net_lws.h"

#include "core/err.h"
#include "core/mem.h"
#include "log/log.h"

#include <libwebsockets.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/resource.h>

/* What "unlimited" is taken to mean. */
#define FD_LIMIT_UNLIMITED 1048576
/* Descriptors that are not sockets of lws: the store's files (database,
 * WAL and shared memory for the writer, each reader and the checkpointer),
 * libuv's own, stdio, the log. */
#define FD_NOT_LWS 64
/* Sockets that browsers cannot take: chargers, REST and the listeners. Past
 * the rest (fc_net_ui_cap, which the wiring gives to push), browsers get 503
 * and chargers still get in. */
#define FD_NOT_UI 1024

/* The OCPP 1.6 security whitepaper's suites: ECDHE key exchange, AES-GCM,
 * for RSA and ECDSA keys; TLS 1.3's AES-GCM ones. No CBC, RC4 or NULL. */
#define TLS12_CIPHERS                                                                              \
  "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"                                     \
  "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384"
#define TLS13_CIPHERS "TLS_AES_256_GCM_SHA384:TLS_AES_128_GCM_SHA256"
#define TLS_VHOSTS_MAX 4

/* A TLS vhost: its files, and lws's SSL_CTX (caught when lws makes it) that
 * a reload loads new ones into. */
typedef struct tls_vhost {
  const char *name;
  fc_net_tls_t files;
  SSL_CTX *ctx;
} tls_vhost_t;

/* Why TLS handshakes fail, each logged at most once per interval. */
typedef enum { TLS_FAIL_EXPIRED, TLS_FAIL_UNTRUSTED, TLS_FAIL_INCOMPLETE, TLS_FAIL_N } tls_fail_t;

struct fc_net {
  struct lws_context *ctx;
  const fc_config_t *cfg;
  size_t ui_cap; /* browsers the descriptors allow (0: unknown) */
  fc_guard_t *guard;
  uv_loop_t *loop;
  tls_vhost_t tls[TLS_VHOSTS_MAX];
  size_t ntls;
  fc_log_every_t tls_fail_log[TLS_FAIL_N];
  struct lws_protocols redirect_protocols[2];
  int redirect_to; /* the https port fc_net_redirect_add sends to */
};

/* ---- the connection guard (guard.h), in front of every protocol -------------
 *
 * lws asks protocols[0] of a vhost whether to keep each connection it has
 * just accepted (FILTER_NETWORK_CONNECTION: nothing read yet; refusing costs
 * a close). Admitted, a connection is counted as in handshake from its
 * instantiation until it becomes a WebSocket (ESTABLISHED) or goes
 * (WSI_DESTROY), the handle riding in the wsi's opaque user data. Which
 * protocol an event reaches depends on the vhost (the web vhost's default
 * protocol gets the instantiation), so every protocol calls this first. */

/* ---- TLS ------------------------------------------------------------------
 *
 * lws makes each TLS vhost's SSL_CTX from the files and hands it to
 * protocols[0] (LOAD_EXTRA_SERVER_VERIFY_CERTS): there we keep it, forbid
 * TLS below 1.2 and give it a verification store that holds the client CA
 * alone (no system CAs: a certificate from a public CA names no charger).
 * Client certificates are asked for, not required: a profile-2 charger has
 * none, and the handshake check (ocpp/session.c) decides per charger. One
 * that is presented must verify, or the handshake fails here, logged with
 * OpenSSL's reason. A reload loads the new files into memory, checks that key
 * and certificate belong together, and only then swaps them into the
 * SSL_CTX: new handshakes use them, established connections keep their own. */

static void spoke(struct lws *wsi);

static tls_vhost_t *tls_of(fc_net_t *n, struct lws_vhost *vh)
{
  const char *name = vh ? lws_get_vhost_name(vh) : NULL;
  for (size_t i = 0; name && i < n->ntls; i++)
    if (!strcmp(n->tls[i].name, name)) return &n->tls[i];
  return NULL;
}

static void tls_fail_log(fc_net_t *n, tls_fail_t kind, struct lws *wsi, const char *port,
                         const char *reason)
{
  uint64_t suppressed = 0;
  char peer[FC_ADDR_STRLEN] = "-";
  fc_addr_t a;
  if (!fc_log_every(&n->tls_fail_log[kind], uv_now(n->loop),
                    1000u * (uint64_t)n->cfg->handshake_log_interval, &suppressed))
    return;
  /* (once the socket is closed, its address is not known any more) */
  if (wsi && fc_addr_of_peer(lws_get_socket_fd(wsi), &a) == 0) fc_addr_str(&a, peer, sizeof(peer));
  fc_log(FC_LOG_WARN, NULL,
         "event=tls_handshake_failed port=%s reason=\"%s\" peer=%s suppressed=%llu "
         "msg=\"further failures for this reason are not logged for %ds\"",
         port, reason, peer, (unsigned long long)suppressed, n->cfg->handshake_log_interval);
}

/* A PEM file's certificates (the first is the leaf), or NULL. */
static STACK_OF(X509) * read_certs(const char *path)
{
  BIO *b = BIO_new_file(path, "r");
  if (!b) return NULL;
  STACK_OF(X509) *sk = sk_X509_new_null();
  X509 *x;
  while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL)))
    sk_X509_push(sk, x);
  ERR_clear_error(); /* the end of the file reads as an error */
  BIO_free(b);
  if (sk_X509_num(sk) == 0) {
    sk_X509_free(sk);
    return NULL;
  }
  return sk;
}

static EVP_PKEY *read_key(const char *path)
{
  BIO *b = BIO_new_file(path, "r");
  if (!b) return NULL;
  EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
  BIO_free(b);
  return k;
}

/* What one vhost's files hold, loaded and checked, not yet in use. */
typedef struct tls_load {
  STACK_OF(X509) * chain; /* [0]: the leaf */
  EVP_PKEY *key;
  X509_STORE *ca;                 /* NULL without a client CA */
  STACK_OF(X509_NAME) * ca_names; /* sent in the certificate request */
} tls_load_t;

static void tls_load_free(tls_load_t *l)
{
  if (l->chain) sk_X509_pop_free(l->chain, X509_free);
  EVP_PKEY_free(l->key);
  X509_STORE_free(l->ca);
  if (l->ca_names) sk_X509_NAME_pop_free(l->ca_names, X509_NAME_free);
  memset(l, 0, sizeof(*l));
}

/* Loads f's files into l. Returns 0, or FC_ERR_CONFIG with *what naming the
 * file that failed and *why the reason. */
static int tls_load(const fc_net_tls_t *f, tls_load_t *l, const char **what, const char **why)
{
  memset(l, 0, sizeof(*l));
  *what = f->cert;
  if (!(l->chain = read_certs(f->cert))) {
    *why = "no PEM certificate could be read";
    goto fail;
  }
  *what = f->key;
  if (!(l->key = read_key(f->key))) {
    *why = "no PEM private key could be read";
    goto fail;
  }
  if (X509_check_private_key(sk_X509_value(l->chain, 0), l->key) != 1) {
    *why = "the key does not belong to the certificate";
    goto fail;
  }
  if (f->client_ca) {
    *what = f->client_ca;
    l->ca = X509_STORE_new();
    if (X509_STORE_load_file(l->ca, f->client_ca) != 1 ||
        !(l->ca_names = SSL_load_client_CA_file(f->client_ca))) {
      *why = "no PEM CA certificate could be read";
      goto fail;
    }
  }
  ERR_clear_error();
  return 0;
fail:
  ERR_clear_error();
  tls_load_free(l);
  return FC_ERR_CONFIG;
}

/* Puts what l holds into ctx (taking what it needs from l). An SSL_CTX keeps
 * one certificate per key type and offers the one the client prefers: a key
 * of another type would sit beside the old one, not replace it. So the type
 * must stay (changing it takes a restart). */
static int tls_apply(SSL_CTX *ctx, tls_load_t *l, const char **why)
{
  EVP_PKEY *old = SSL_CTX_get0_privatekey(ctx);
  if (old && EVP_PKEY_base_id(old) != EVP_PKEY_base_id(l->key)) {
    *why = "the new key is of another type (RSA, EC) than the one in use: restart to change it";
    return FC_ERR_CONFIG;
  }
  *why = "not accepted by OpenSSL";
  if (SSL_CTX_use_certificate(ctx, sk_X509_value(l->chain, 0)) != 1 ||
      SSL_CTX_use_PrivateKey(ctx, l->key) != 1)
    return FC_ERR_CONFIG;
  SSL_CTX_clear_chain_certs(ctx);
  for (int i = 1; i < sk_X509_num(l->chain); i++)
    SSL_CTX_add1_chain_cert(ctx, sk_X509_value(l->chain, i));
  if (l->ca) {
    SSL_CTX_set_cert_store(ctx, l->ca); /* takes it; frees the old one */
    l->ca = NULL;
    SSL_CTX_set_client_CA_list(ctx, l->ca_names); /* takes it */
    l->ca_names = NULL;
  }
  return 0;
}

/* lws has just made t's SSL_CTX (and loaded the certificate and key). */
static int tls_ctx_made(tls_vhost_t *t, SSL_CTX *ctx)
{
  t->ctx = ctx;
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
  if (!t->files.client_ca) return 0;
  tls_load_t l;
  const char *what, *why;
  if (tls_load(&t->files, &l, &what, &why) < 0) {
    fc_log(FC_LOG_ERROR, NULL, "event=tls_load_failed kind=%s file=%s reason=\"%s\"", t->name, what,
           why);
    return -1;
  }
  int rc = tls_apply(ctx, &l, &why);
  tls_load_free(&l);
  return rc < 0 ? -1 : 0;
}

/* OpenSSL's verdict on one certificate of a client's chain: 0 keeps it, -1
 * fails the handshake. */
static int tls_verify(fc_net_t *n, struct lws *wsi, X509_STORE_CTX *xs, int ok, const char *port)
{
  if (ok) return 0;
  char reason[160];
  int err = X509_STORE_CTX_get_error(xs);
  char cn[64] = "-";
  X509 *x = X509_STORE_CTX_get_current_cert(xs);
  if (x) X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof(cn));
  char esc[FC_LOG_ESC_MAX];
  snprintf(reason, sizeof(reason), "client certificate CN=%s: %s", fc_log_esc(cn, esc, sizeof(esc)),
           X509_verify_cert_error_string(err));
  bool dated = err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID;
  tls_fail_log(n, dated ? TLS_FAIL_EXPIRED : TLS_FAIL_UNTRUSTED, wsi, port, reason);
  spoke(wsi); /* said why: not again when it goes */
  return -1;
}

/* A wsi's opaque user data: the guard's handle, its lowest bit set once the
 * connection has made an HTTP request (over TLS: its handshake finished), or
 * once its handshake's failure has been logged. Handles are allocations, so
 * that bit is free. */
#define SPOKE ((uintptr_t)1)

static void *guard_handle(struct lws *wsi)
{
  return (void *)((uintptr_t)lws_get_opaque_user_data(wsi) & ~SPOKE);
}

static void spoke(struct lws *wsi)
{
  uintptr_t h = (uintptr_t)lws_get_opaque_user_data(wsi);
  if (h) lws_set_opaque_user_data(wsi, (void *)(h | SPOKE));
}

/* A TLS connection that goes before it made a request: plain HTTP on the
 * TLS port, a handshake cut at the timeout or failed by an alert. (By the
 * time lws says a connection goes, its TLS session is gone: hence the mark.) */
static void tls_gone(fc_net_t *n, struct lws *wsi, const char *port)
{
  uintptr_t h = (uintptr_t)lws_get_opaque_user_data(wsi);
  if (!h || (h & SPOKE) || !tls_of(n, lws_get_vhost(wsi))) return;
  tls_fail_log(n, TLS_FAIL_INCOMPLETE, wsi, port,
               "no request after the TLS handshake began (not TLS, too slow, or a failed "
               "handshake)");
}

int fc_net_tls_reload(fc_net_t *n)
{
  int rc = 0;
  for (size_t i = 0; i < n->ntls; i++) {
    tls_vhost_t *t = &n->tls[i];
    tls_load_t l;
    const char *what, *why;
    if (!t->ctx) continue;
    if (tls_load(&t->files, &l, &what, &why) < 0 || tls_apply(t->ctx, &l, &why) < 0) {
      fc_log(FC_LOG_ERROR, NULL,
             "event=tls_reload_failed kind=%s file=%s reason=\"%s\" msg=\"the certificate in use "
             "stays\"",
             t->name, what, why);
      tls_load_free(&l);
      rc = FC_ERR_CONFIG;
      continue;
    }
    tls_load_free(&l);
    double days = 0;
    const char *name;
    fc_net_tls_expiry(n, i, &name, &days);
    fc_log(FC_LOG_NOTICE, NULL, "event=tls_reloaded kind=%s cert=%s days_left=%.1f", t->name,
           t->files.cert, days);
  }
  return rc;
}

size_t fc_net_tls_count(const fc_net_t *n)
{
  return n->ntls;
}

int fc_net_tls_expiry(const fc_net_t *n, size_t i, const char **name, double *days_left)
{
  if (i >= n->ntls || !n->tls[i].ctx) return FC_ERR_NOTFOUND;
  X509 *x = SSL_CTX_get0_certificate(n->tls[i].ctx);
  int days = 0, secs = 0;
  if (!x || ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(x)) != 1) return FC_ERR_NOTFOUND;
  *name = n->tls[i].name;
  *days_left = days + secs / 86400.0;
  return 0;
}

fc_net_cert_t fc_net_peer_cert(struct lws *wsi, char *cn, size_t cnsz)
{
  SSL *ssl = lws_is_ssl(wsi) ? lws_get_ssl(wsi) : NULL;
  if (!ssl) return FC_NET_CERT_NO_TLS;
  X509 *x = SSL_get0_peer_certificate(ssl);
  if (!x) return FC_NET_CERT_NONE;
  if (SSL_get_verify_result(ssl) != X509_V_OK) return FC_NET_CERT_INVALID;
  int len = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, (int)cnsz);
  /* none, cut short, or with a NUL inside: names nothing */
  if (len <= 0 || (size_t)len >= cnsz || strlen(cn) != (size_t)len) return FC_NET_CERT_INVALID;
  return FC_NET_CERT_OK;
}

int fc_net_guard_event(struct lws *wsi, fc_guard_port_t port, enum lws_callback_reasons reason,
                       void *user, void *in, size_t len)
{
  fc_net_t *n = lws_context_user(lws_get_context(wsi));
  fc_addr_t a;
  static const char *const port_names[] = {"ocpp", "web"};
  if (!n) return 0;
  switch (reason) {
  case LWS_CALLBACK_OPENSSL_LOAD_EXTRA_SERVER_VERIFY_CERTS: {
    /* user: the vhost's SSL_CTX; in: the vhost */
    tls_vhost_t *t = tls_of(n, in);
    return t ? tls_ctx_made(t, user) : 0;
  }
  case LWS_CALLBACK_OPENSSL_PERFORM_CLIENT_CERT_VERIFICATION:
    /* user: the X509_STORE_CTX; len: OpenSSL's verdict */
    return tls_verify(n, wsi, user, (int)len, port_names[port]);
  default:
    break;
  }
  if (!n->guard) return 0;
  switch (reason) {
  case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
    /* in: the accepted socket; wsi is the listener's */
    if (fc_addr_of_peer((int)(intptr_t)in, &a) < 0) return -1; /* gone already */
    return fc_guard_check(n->guard, port, &a, uv_now(n->loop)) == FC_GUARD_OK ? 0 : -1;
  case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
    if (!lws_get_opaque_user_data(wsi) && fc_addr_of_peer(lws_get_socket_fd(wsi), &a) == 0)
      lws_set_opaque_user_data(wsi, fc_guard_enter(n->guard, port, &a));
    return 0;
  case LWS_CALLBACK_FILTER_HTTP_CONNECTION:
  case LWS_CALLBACK_HTTP_BIND_PROTOCOL:
  case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
  case LWS_CALLBACK_HTTP:
    spoke(wsi);
    return 0;
  case LWS_CALLBACK_WSI_DESTROY:
    tls_gone(n, wsi, port_names[port]);
    /* fall through */
  case LWS_CALLBACK_ESTABLISHED:
    fc_guard_release(n->guard, guard_handle(wsi));
    lws_set_opaque_user_data(wsi, NULL);
    return 0;
  default:
    return 0;
  }
}

/* The TLS part of a vhost's creation: checks its files first, for a clear
 * error (lws's own would be a failed vhost). */
static int vhost_tls(fc_net_t *n, const fc_net_vhost_t *d, struct lws_context_creation_info *info)
{
  tls_load_t l;
  const char *what, *why;
  if (n->ntls == TLS_VHOSTS_MAX) return FC_ERR_CONFIG;
  if (tls_load(d->tls, &l, &what, &why) < 0) {
    fc_log(FC_LOG_ERROR, NULL, "event=tls_load_failed kind=%s file=%s reason=\"%s\"", d->name, what,
           why);
    return FC_ERR_CONFIG;
  }
  tls_load_free(&l);
  n->tls[n->ntls++] = (tls_vhost_t){.name = d->name, .files = *d->tls};
  info->ssl_cert_filepath = d->tls->cert;
  info->ssl_private_key_filepath = d->tls->key;
  info->ssl_cipher_list = TLS12_CIPHERS;
  info->tls1_3_plus_cipher_list = TLS13_CIPHERS;
  info->ssl_options_set = SSL_OP_NO_TLSv1 | SSL_OP_NO_TLSv1_1 | SSL_OP_NO_RENEGOTIATION;
  /* lws makes a vhost's TLS only when the vhost's own options ask for it */
  info->options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT | LWS_SERVER_OPTION_DISABLE_OS_CA_CERTS;
  /* HTTP/1.1 only: WebSocket upgrades, for chargers and browsers alike */
  info->alpn = "http/1.1";
  if (d->tls->client_ca)
    info->options |= LWS_SERVER_OPTION_REQUIRE_VALID_OPENSSL_CLIENT_CERT |
                     LWS_SERVER_OPTION_PEER_CERT_NOT_REQUIRED;
  return 0;
}

int fc_net_vhost_add(fc_net_t *n, const fc_net_vhost_t *d)
{
  const fc_config_t *cfg = n->cfg;
  struct lws_context_creation_info info;
  memset(&info, 0, sizeof(info));
  info.vhost_name = d->name;
  info.port = d->port;
  info.iface = strcmp(cfg->bind, "0.0.0.0") ? cfg->bind : NULL;
  info.protocols = d->protocols;
  info.retry_and_idle_policy = d->retry;
  info.pvo = d->pvo;
  info.mounts = d->mounts;
  info.headers = d->headers; /* added by lws to every HTTP response of the vhost */
  info.extensions = d->extensions;
  info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
  /* An IPv4 address to bind to: an IPv6 socket would not take it (lws then
   * binds to every address), so this vhost is IPv4 only. */
  if (info.iface && !strchr(info.iface, ':')) info.options |= LWS_SERVER_OPTION_DISABLE_IPV6;
  /* A connection that has not finished its request by then is closed; an
   * idle keep-alive one too (it costs the same descriptor). */
  info.keepalive_timeout = cfg->handshake_timeout;
  info.timeout_secs = (unsigned)cfg->handshake_timeout;
  info.timeout_secs_ah_idle = (unsigned)cfg->handshake_timeout; /* a silent one */
  if (d->tls && vhost_tls(n, d, &info) < 0) return FC_ERR_CONFIG;
  struct lws_vhost *vh = lws_create_vhost(n->ctx, &info);
  if (!vh) {
    fc_log(FC_LOG_ERROR, NULL, "event=listen_failed kind=%s bind=%s port=%d", d->name, cfg->bind,
           d->port);
    return UV_EADDRINUSE;
  }
  int port = lws_get_vhost_listen_port(vh);
  fc_log(FC_LOG_NOTICE, NULL, "event=listening kind=%s port=%d tls=%d", d->name, port, !!d->tls);
  return port;
}

/* ---- the redirect to https (--web-redirect-port) ------------------------- */

static int redirect_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                       size_t len)
{
  if (fc_net_guard_event(wsi, FC_GUARD_WEB, reason, user, in, len)) return -1;
  if (reason != LWS_CALLBACK_HTTP) return lws_callback_http_dummy(wsi, reason, user, in, len);
  fc_net_t *n = lws_context_user(lws_get_context(wsi));
  char host[256] = "", loc[1024];
  unsigned char buf[LWS_PRE + 1024], *p = buf + LWS_PRE, *end = buf + sizeof(buf);
  if (lws_hdr_copy(wsi, host, sizeof(host), WSI_TOKEN_HOST) <= 0) {
    lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST, "Host required");
    return -1;
  }
  /* the port of the Host header is this one's: drop it ([v6]:port too) */
  char *colon = strrchr(host, ':');
  if (colon && !strchr(colon, ']')) *colon = '\0';
  for (const char *c = host; *c; c++) /* nothing that could end the header */
    if ((unsigned char)*c <= 0x20 || (unsigned char)*c >= 0x7f || strchr("/\\@?#", *c)) {
      lws_return_http_status(wsi, HTTP_STATUS_BAD_REQUEST, "bad Host");
      return -1;
    }
  int m = snprintf(loc, sizeof(loc), "https://%s:%d%s", host, n->redirect_to, (const char *)in);
  if (m <= 0 || (size_t)m >= sizeof(loc) ||
      lws_http_redirect(wsi, HTTP_STATUS_MOVED_PERMANENTLY, (unsigned char *)loc, m, &p, end) < 0)
    return -1;
  return lws_http_transaction_completed(wsi) ? -1 : 0;
}

int fc_net_redirect_add(fc_net_t *n, int port, int https_port)
{
  n->redirect_to = https_port;
  n->redirect_protocols[0] = (struct lws_protocols){.name = "fc-redirect", .callback = redirect_cb};
  fc_net_vhost_t d = {.name = "http-redirect", .port = port, .protocols = n->redirect_protocols};
  return fc_net_vhost_add(n, &d);
}

/* Every connection is a file descriptor, and the soft limit is often far
 * below the hard one (1024 on a default Debian login): take what the hard
 * limit allows, before lws sizes its tables from it, and say so when even
 * that is short of the browser connections allowed. Returns the sockets lws
 * may hold (0: unknown), and the limit now in force in *rl. */
static unsigned raise_fd_limit(const fc_config_t *cfg, struct rlimit *out)
{
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 0;
  rlim_t want = rl.rlim_max == RLIM_INFINITY ? FD_LIMIT_UNLIMITED : rl.rlim_max;
  if (rl.rlim_cur < want) {
    struct rlimit raised = {want, rl.rlim_max};
    if (setrlimit(RLIMIT_NOFILE, &raised) == 0) rl.rlim_cur = want;
  }
  unsigned long long need = (unsigned long long)cfg->ui_max_clients + FD_NOT_LWS + FD_NOT_UI;
  if ((unsigned long long)rl.rlim_cur < need)
    fc_log(FC_LOG_WARN, NULL,
           "event=fd_limit_low nofile=%llu ui_max_clients=%d needed=%llu "
           "hint=\"raise the hard limit: LimitNOFILE= in the systemd unit, or ulimit -Hn\"",
           (unsigned long long)rl.rlim_cur, cfg->ui_max_clients, need);
  else
    fc_log(FC_LOG_INFO, NULL, "event=fd_limit nofile=%llu", (unsigned long long)rl.rlim_cur);
  *out = rl;
  rlim_t cur = rl.rlim_cur > FD_LIMIT_UNLIMITED ? FD_LIMIT_UNLIMITED : rl.rlim_cur;
  return cur > 2 * FD_NOT_LWS ? (unsigned)(cur - FD_NOT_LWS) : (unsigned)(cur / 2);
}

/* lws stops accepting (takes POLLIN off its listeners) once it holds as
 * many sockets as the open-file limit it saw at its creation, and starts
 * again when one closes. It must stop before the process runs out: accept()
 * failing with EMFILE leaves the listener readable, and the loop spins on it.
 * So lws is created under a soft limit lowered by the descriptors that are
 * not its own (the store's files, libuv's), which is restored afterwards.
 * (Its fd_limit_per_thread option would do the same, but below the process
 * limit it makes lws find a connection by a linear search of all of them on
 * every event.) */
static struct lws_context *create_context(struct lws_context_creation_info *info, unsigned fds,
                                          const struct rlimit *rl)
{
  struct rlimit lowered = {fds, rl->rlim_max};
  bool lower = fds && rl->rlim_cur > fds && setrlimit(RLIMIT_NOFILE, &lowered) == 0;
  struct lws_context *ctx = lws_create_context(info);
  if (lower) setrlimit(RLIMIT_NOFILE, rl);
  return ctx;
}

int fc_net_start(uv_loop_t *loop, const fc_config_t *cfg, fc_net_t **out)
{
  struct rlimit nofile = {0, 0};
  unsigned fd_limit = raise_fd_limit(cfg, &nofile);
  fc_net_t *n = fc_calloc(1, sizeof(*n));
  void *loops[1] = {loop};
  fc_guard_opts_t go = {
      .max_per_addr = (unsigned)cfg->handshake_max_per_ip,
      .rate_per_min = (unsigned)cfg->handshake_rate,
      .burst = (unsigned)cfg->handshake_burst,
      .table_size = (unsigned)cfg->handshake_table_size,
      .log_interval_ms = 1000u * (unsigned)cfg->handshake_log_interval,
  };
  n->guard = fc_guard_new(&go);
  n->loop = loop;
  n->cfg = cfg;
  struct lws_context_creation_info info;

  memset(&info, 0, sizeof(info));
  info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
  if (cfg->tls_cert) info.options |= LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
  /* how long a TLS handshake may take (lws times the accept from the context's) */
  info.timeout_secs = (unsigned)cfg->handshake_timeout;
  info.foreign_loops = loops;
  info.port = CONTEXT_PORT_NO_LISTEN;
  /* Request line and headers must fit lws's header space, or lws drops the
   * connection without an answer: a token of FC_JWT_MAX_LEN (8 KiB) in
   * Authorization or ?token= must fit with the rest. */
  info.max_http_header_data2 = (unsigned)cfg->http_header_max;
  if (fd_limit) {
    size_t cap = fd_limit > 2 * FD_NOT_UI ? fd_limit - FD_NOT_UI : fd_limit / 2;
    if (cap < (size_t)cfg->ui_max_clients)
      fc_log(FC_LOG_WARN, NULL, "event=ui_max_clients_capped max=%zu reason=fd_limit", cap);
    n->ui_cap = cap;
  }
  info.pcontext = &n->ctx; /* lws clears it once fully destroyed */
  info.user = n;
  n->ctx = create_context(&info, fd_limit, &nofile);
  if (!n->ctx) {
    fc_log(FC_LOG_ERROR, NULL, "event=lws_context_failed");
    fc_guard_free(n->guard);
    fc_free(n);
    return FC_ERR_CONFIG;
  }
  *out = n;
  return 0;
}

size_t fc_net_ui_cap(const fc_net_t *n)
{
  return n->ui_cap;
}

const fc_guard_t *fc_net_guard(const fc_net_t *n)
{
  return n->guard;
}

void fc_net_stop(fc_net_t *n)
{
  if (n && n->ctx) lws_context_destroy(n->ctx);
}

void fc_net_free(fc_net_t *n)
{
  if (!n) return;
  /* With a foreign loop, destruction finishes in steps as lws's handles
   * close; a last call once the loop has run releases what remains. */
  if (n->ctx) lws_context_destroy(n->ctx);
  fc_guard_free(n->guard);
  fc_free(n);
}
