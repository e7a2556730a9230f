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

struct fc_net {
  struct lws_context *ctx;
  const fc_config_t *cfg;
  size_t ui_cap; /* browsers the descriptors allow (0: unknown) */
  fc_guard_t *guard;
  uv_loop_t *loop;
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

int fc_net_guard_event(struct lws *wsi, fc_guard_port_t port, enum lws_callback_reasons reason,
                       void *in)
{
  fc_net_t *n = lws_context_user(lws_get_context(wsi));
  fc_addr_t a;
  if (!n || !n->guard) return 0;
  switch (reason) {
  case LWS_CALLBACK_FILTER_NETWORK_CONNECTION:
    /* in: the accepted socket; wsi is the listener's */
    if (fc_addr_of_peer((int)(intptr_t)in, &a) < 0) return -1; /* gone already */
    return fc_guard_check(n->guard, port, &a, uv_now(n->loop)) == FC_GUARD_OK ? 0 : -1;
  case LWS_CALLBACK_SERVER_NEW_CLIENT_INSTANTIATED:
    if (!lws_get_opaque_user_data(wsi) && fc_addr_of_peer(lws_get_socket_fd(wsi), &a) == 0)
      lws_set_opaque_user_data(wsi, fc_guard_enter(n->guard, port, &a));
    return 0;
  case LWS_CALLBACK_ESTABLISHED:
  case LWS_CALLBACK_WSI_DESTROY:
    fc_guard_release(n->guard, lws_get_opaque_user_data(wsi));
    lws_set_opaque_user_data(wsi, NULL);
    return 0;
  default:
    return 0;
  }
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
  struct lws_vhost *vh = lws_create_vhost(n->ctx, &info);
  if (!vh) {
    fc_log(FC_LOG_ERROR, NULL, "event=listen_failed kind=%s bind=%s port=%d", d->name, cfg->bind,
           d->port);
    return UV_EADDRINUSE;
  }
  int port = lws_get_vhost_listen_port(vh);
  fc_log(FC_LOG_NOTICE, NULL, "event=listening kind=%s port=%d", d->name, port);
  return port;
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

int fc_net_tls_reload(fc_net_t *n, const fc_config_t *cfg)
{
  (void)n;
  (void)cfg;
  return 0; /* no TLS vhost yet: nothing to read again */
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
