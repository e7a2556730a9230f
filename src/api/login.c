/* Sign-in: POST /api/login.
 *
 *   {"username":"alice","password":"…"}  → 200 {"token","expiresAt","role","sub"}
 *   {"code":"…"}                          → the same, once, for the first-start code
 *
 * The token is a JWT minted with the server's own key (the HS256 secret it
 * verifies with), for every charger, with the user's role, valid
 * FC_LOGIN_TTL_S. A server that verifies RS256/ES256 holds only a public key
 * and cannot mint: it answers 501 and its tokens come from elsewhere.
 *
 * Passwords are argon2id (auth/users.c): verifying one takes ~0.1 s and
 * 64 MiB, so the lookup, the verification and the minting run on a libuv
 * worker thread (uv_queue_work), on an administration connection of our own
 * that one worker uses at a time (the mutex). The loop thread only parses,
 * rate-limits, queues and answers.
 *
 * Failures answer alike: 401 "wrong username or password" whether the name
 * exists or not, after the same work (a name without a user verifies against
 * a dummy hash). Failed attempts are counted over a window (login_window)
 * per (name, address), per address, and per name; past a limit the answer is
 * 429 with Retry-After, before any hashing:
 *   - a name from one address: login_max_per_user_ip (5);
 *   - one address, any names: login_max_per_ip (20);
 *   - a name from every address: login_max_per_user (100), the slow bound
 *     against guessing from many addresses; past it the name is refused only
 *     from addresses that have failed in the window too. A name is never
 *     locked out from an address that has not failed: nobody can lock a user
 *     (an admin) out from where the user signs in.
 * At most login_concurrency verifications run at once; later sign-ins wait
 * in a queue of login_queue (beyond: 503 with Retry-After), and are checked
 * against the limits again when their turn comes, so a burst gets no more
 * guesses than the limits plus the verifications already running.
 *
 * First start: when no user exists, fc_api_login_announce logs a URL with a
 * random one-time code (…/#login=CODE). The page exchanges it once for an
 * admin token; it stops working when used, when the server stops, or once a
 * user exists. It is spent only when its exchange runs: a sign-in refused
 * (busy, throttled) leaves it as it was. */
#include "core/json.h"
#include "api/api_int.h"

#include "auth/auth.h"
#include "core/err.h"
#include "core/mem.h"
#include "core/time.h"
#include "log/log.h"
#include "core/datetime.h"

#include <sodium.h>
#include <string.h>
#include <uthash.h>
#include <utlist.h>

#define LOGIN_TRACKED_MAX 10000 /* (name, address), names and addresses tracked at most */
#define CODE_BYTES 24           /* the first-start code: 32 base64url chars */

typedef struct failures {
  char key[FC_USER_NAME_MAX + 80]; /* "u:name", "ip:address" or "ui:address name" */
  unsigned count;
  uint64_t first_ms;  /* when the window started */
  uint64_t logged_ms; /* when its throttling was last logged (0: never) */
  UT_hash_handle hh;
} failures_t;

typedef struct job job_t;

struct fc_login {
  uv_loop_t *loop;
  const fc_jwt_cfg_t *jwt;
  fc_store_admin_t *db; /* used by one worker at a time (lock) */
  uv_mutex_t lock;
  failures_t *failures;
  uint64_t window_ms;
  unsigned max_user_ip, max_ip, max_user, concurrency, queue_max;
  unsigned running;
  job_t *queue; /* waiting for a verification, in order (utlist DL) */
  unsigned queued;
  fc_login_stats_t stats;
  char code[64]; /* "" when there is none (any more) */
};

struct job {
  uv_work_t work;
  fc_login_t *l;
  fc_req_t *r;
  job_t *prev, *next; /* in the queue */
  char ip[64];
  bool by_code;
  char name[FC_USER_NAME_MAX + 1];
  char *password; /* fc_malloc'd, wiped after use */
  size_t password_len;
  char code[64]; /* by_code: the code offered, wiped after use */
  /* results */
  int status; /* 0, FC_ERR_AUTH, FC_ERR_STORE, FC_ERR_INVAL (cannot mint) */
  char role[9];
  char *token; /* malloc'd (libjwt) */
  long long exp_s;
};

/* ---- failure counting (loop thread) ---- */

static void failures_key(char *key, size_t n, const char *prefix, const job_t *j)
{
  if (!strcmp(prefix, "ip:"))
    snprintf(key, n, "ip:%s", j->ip);
  else if (!strcmp(prefix, "u:"))
    snprintf(key, n, "u:%s", j->name);
  else
    snprintf(key, n, "ui:%s %s", j->ip, j->name);
}

static failures_t *failures_get(fc_login_t *l, const char *prefix, const job_t *j, bool create)
{
  char key[sizeof(((failures_t *)0)->key)];
  failures_key(key, sizeof(key), prefix, j);
  failures_t *f = NULL;
  HASH_FIND_STR(l->failures, key, f);
  uint64_t now = uv_now(l->loop);
  if (f && now - f->first_ms > l->window_ms) {
    HASH_DEL(l->failures, f);
    fc_free(f);
    f = NULL;
  }
  if (!f && create) {
    if (HASH_COUNT(l->failures) >= LOGIN_TRACKED_MAX) {
      /* Forget the stale ones first; if none is stale, the oldest entry. */
      failures_t *e, *tmp;
      HASH_ITER(hh, l->failures, e, tmp)
      {
        if (now - e->first_ms > l->window_ms) {
          HASH_DEL(l->failures, e);
          fc_free(e);
        }
      }
      if (HASH_COUNT(l->failures) >= LOGIN_TRACKED_MAX) {
        e = l->failures;
        HASH_DEL(l->failures, e);
        fc_free(e);
      }
    }
    f = fc_calloc(1, sizeof(*f));
    snprintf(f->key, sizeof(f->key), "%s", key);
    f->first_ms = now;
    HASH_ADD_STR(l->failures, key, f);
  }
  return f;
}

static unsigned count_of(fc_login_t *l, const char *prefix, const job_t *j)
{
  failures_t *f = failures_get(l, prefix, j, false);
  return f ? f->count : 0;
}

/* Seconds until the window of f ends (at least 1). */
static unsigned window_left(fc_login_t *l, const failures_t *f)
{
  uint64_t until = f->first_ms + l->window_ms, now = uv_now(l->loop);
  return until > now ? (unsigned)((until - now + 999) / 1000) : 1;
}

/* Seconds until j's address may try j's name (or a code) again, or 0 when it
 * may now; *which names the limit reached. */
static unsigned blocked_for(fc_login_t *l, const job_t *j, const char **which)
{
  failures_t *f = failures_get(l, "ip:", j, false);
  if (f && f->count >= l->max_ip) {
    *which = "address";
    return window_left(l, f);
  }
  if (j->by_code) return 0;
  if ((f = failures_get(l, "ui:", j, false)) && f->count >= l->max_user_ip) {
    *which = "name_address";
    return window_left(l, f);
  }
  /* The slow bound: only for addresses that failed themselves. */
  if ((f = failures_get(l, "u:", j, false)) && f->count >= l->max_user && count_of(l, "ip:", j)) {
    *which = "name";
    return window_left(l, f);
  }
  return 0;
}

static void failed(fc_login_t *l, const job_t *j)
{
  failures_get(l, "ip:", j, true)->count++;
  if (j->by_code) return;
  failures_get(l, "ui:", j, true)->count++;
  failures_get(l, "u:", j, true)->count++;
}

static void succeeded(fc_login_t *l, const job_t *j)
{
  failures_t *f = j->by_code ? NULL : failures_get(l, "ui:", j, false);
  if (f) {
    HASH_DEL(l->failures, f);
    fc_free(f);
  }
}

/* ---- the worker ---- */

static void mint(fc_login_t *l, job_t *j, const char *sub, fc_role_t role)
{
  long long now = (long long)(fc_wall_ms() / 1000);
  j->exp_s = now + FC_LOGIN_TTL_S;
  if (fc_jwt_mint(l->jwt->alg, l->jwt->key, l->jwt->key_len, sub, NULL, 0, role, now,
                  FC_LOGIN_TTL_S, l->jwt->iss, l->jwt->aud, &j->token) != 0)
    j->status = FC_ERR_INVAL;
}

static void work_cb(uv_work_t *w)
{
  job_t *j = w->data;
  fc_login_t *l = j->l;
  fc_user_rec_t u;
  fc_role_t role;
  int rc;

  if (j->by_code) {
    long long n = 0;
    uv_mutex_lock(&l->lock);
    rc = fc_store_admin_user_count(l->db, &n);
    uv_mutex_unlock(&l->lock);
    if (rc < 0) {
      j->status = FC_ERR_STORE;
    } else if (n > 0) {
      j->status = FC_ERR_AUTH; /* the code was for a server without users */
    } else {
      snprintf(j->role, sizeof(j->role), "admin");
      mint(l, j, "first-start", FC_ROLE_ADMIN);
    }
    return;
  }
  uv_mutex_lock(&l->lock);
  rc = fc_store_admin_user_get(l->db, j->name, &u);
  uv_mutex_unlock(&l->lock);
  if (rc == FC_ERR_NOTFOUND) {
    fc_auth_password_burn(j->password, j->password_len);
    j->status = FC_ERR_AUTH;
  } else if (rc < 0) {
    j->status = FC_ERR_STORE;
  } else if (!fc_auth_password_verify(u.hash, j->password, j->password_len) ||
             fc_jwt_parse_role(u.role, &role) != 0) {
    j->status = FC_ERR_AUTH;
  } else {
    snprintf(j->role, sizeof(j->role), "%s", u.role);
    mint(l, j, u.name, role);
  }
  sodium_memzero(&u, sizeof(u));
}

static void job_free(job_t *j)
{
  if (j->token) {
    sodium_memzero(j->token, strlen(j->token));
    free(j->token);
  }
  if (j->password) {
    sodium_memzero(j->password, j->password_len);
    fc_free(j->password);
  }
  sodium_memzero(j->code, sizeof(j->code));
  fc_free(j);
}

static void refused(fc_login_t *l, job_t *j)
{
  char esc[4 * FC_USER_NAME_MAX + 1];
  failed(l, j);
  l->stats.refused++;
  fc_log(FC_LOG_WARN, NULL, "event=login result=refused by=%s user=\"%s\" peer=%s",
         j->by_code ? "code" : "password",
         j->by_code ? "" : fc_api__escape(j->name, esc, sizeof(esc)), j->ip);
  fc_api__error(j->r, 401, "unauthorized",
                j->by_code ? "this sign-in code is not valid (any more)"
                           : "wrong username or password");
}

/* 429 when j's address may not try now (logged once per offender and
 * window). Returns true when answered. */
static bool throttled(fc_login_t *l, job_t *j)
{
  const char *which = NULL;
  unsigned wait = blocked_for(l, j, &which);
  if (!wait) return false;
  l->stats.throttled++;
  failures_t *f = failures_get(l, "ip:", j, true);
  uint64_t now = uv_now(l->loop);
  if (!f->logged_ms || now - f->logged_ms >= l->window_ms) {
    char esc[4 * FC_USER_NAME_MAX + 1];
    f->logged_ms = now ? now : 1;
    fc_log(FC_LOG_WARN, NULL,
           "event=login result=throttled limit=%s user=\"%s\" peer=%s retry_after=%u "
           "msg=\"logged once per address and window\"",
           which, j->by_code ? "" : fc_api__escape(j->name, esc, sizeof(esc)), j->ip, wait);
  }
  fc_api__error(j->r, 429, "too_many_attempts", "too many failed sign-ins; try again later");
  j->r->retry_after = wait;
  return true;
}

static void dispatch(fc_login_t *l);

static void after_cb(uv_work_t *w, int status)
{
  job_t *j = w->data;
  fc_login_t *l = j->l;
  fc_req_t *r = j->r;
  l->running--;
  if (status < 0) j->status = FC_ERR_STORE; /* cancelled */
  if (j->status == 0 && j->token) {
    char exp[32], esc[4 * FC_USER_NAME_MAX + 1];
    fc_datetime_format(j->exp_s * 1000, exp, sizeof(exp));
    json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "token", j->token, "expiresAt", exp, "role",
                          j->role, "sub", j->by_code ? "first-start" : j->name);
    char *text = json_dumps(o, FC_JSON_DUMP);
    json_decref(o);
    fc_api__respond_owned(r, 200, "application/json", text, strlen(text));
    succeeded(l, j);
    l->stats.ok++;
    fc_log(FC_LOG_NOTICE, NULL, "event=login result=ok sub=\"%s\" role=%s peer=%s",
           j->by_code ? "first-start" : fc_api__escape(j->name, esc, sizeof(esc)), j->role, j->ip);
  } else if (j->status == FC_ERR_AUTH) {
    refused(l, j);
  } else {
    if (j->by_code && !l->code[0]) /* not spent after all: the exchange did not happen */
      snprintf(l->code, sizeof(l->code), "%s", j->code);
    if (j->status == FC_ERR_INVAL)
      fc_api__error(r, 500, "internal", "the server cannot make a token");
    else
      fc_api__error(r, 503, "unavailable", "the store cannot answer now");
  }
  fc_api__req_unref(r);
  job_free(j);
  dispatch(l);
}

/* Starts j's verification now, unless its turn came too late: its client
 * left, its address reached a limit meanwhile, or its code was spent. */
static void start(fc_login_t *l, job_t *j)
{
  fc_req_t *r = j->r;
  if (!r->wsi || throttled(l, j)) goto done;
  if (j->by_code) {
    /* Checked in constant time, and spent as its exchange starts: it works
     * once even when two requests race. */
    size_t n = strlen(l->code);
    if (!n || strlen(j->code) != n || sodium_memcmp(j->code, l->code, n) != 0) {
      refused(l, j);
      goto done;
    }
    sodium_memzero(l->code, sizeof(l->code));
  }
  j->work.data = j;
  l->running++;
  l->stats.verifications++;
  if (uv_queue_work(l->loop, &j->work, work_cb, after_cb) < 0) {
    l->running--;
    if (j->by_code) snprintf(l->code, sizeof(l->code), "%s", j->code);
    fc_api__error(r, 503, "unavailable", "cannot sign in now");
    goto done;
  }
  return;
done:
  fc_api__req_unref(r);
  job_free(j);
}

static void dispatch(fc_login_t *l)
{
  while (l->running < l->concurrency && l->queue) {
    job_t *j = l->queue;
    DL_DELETE(l->queue, j);
    l->queued--;
    start(l, j);
  }
}

/* ---- the request (loop thread) ---- */

void fc_api__login(fc_req_t *r)
{
  fc_login_t *l = r->a->login;
  if (r->method != FC_HTTP_POST) {
    fc_api__error(r, 405, "method_not_allowed", "sign in with POST");
    return;
  }
  if (!l) {
    fc_api__error(r, 501, "not_available",
                  "this server verifies tokens it cannot make (RS256/ES256 public key): "
                  "sign-in is not available");
    return;
  }
  json_t *body = r->in ? json_loadb(r->in, r->in_len, JSON_REJECT_DUPLICATES, NULL) : NULL;
  const char *name = json_string_value(json_object_get(body, "username"));
  const char *code = json_string_value(json_object_get(body, "code"));
  json_t *pw = json_object_get(body, "password");
  if (!json_is_object(body) || (code ? name != NULL : (!name || !json_is_string(pw)))) {
    json_decref(body);
    fc_api__error(r, 400, "bad_request",
                  "expected {\"username\":…, \"password\":…} or {\"code\":…}");
    return;
  }
  job_t *j = fc_calloc(1, sizeof(*j));
  j->l = l;
  j->r = r;
  r->refs++; /* the job's */
  j->by_code = code != NULL;
  if (r->wsi) lws_get_peer_simple(r->wsi, j->ip, sizeof(j->ip));
  if (name) snprintf(j->name, sizeof(j->name), "%s", name);

  if (throttled(l, j)) goto done;
  if ((name &&
       (strlen(name) > FC_USER_NAME_MAX || json_string_length(pw) > FC_AUTH_PASSWORD_MAX)) ||
      (code && strlen(code) >= sizeof(j->code))) {
    /* Cannot be a user or a code: counts as a failure, answered alike. */
    refused(l, j);
    goto done;
  }
  if (code) snprintf(j->code, sizeof(j->code), "%s", code);
  if (l->running >= l->concurrency && l->queued >= l->queue_max) {
    l->stats.busy++;
    fc_api__error(r, 503, "busy", "too many sign-ins at once; try again in a moment");
    r->retry_after = 1;
    goto done;
  }
  if (!code) {
    j->password_len = json_string_length(pw);
    j->password = fc_malloc(j->password_len + 1);
    memcpy(j->password, json_string_value(pw), j->password_len + 1);
  }
  json_decref(body);
  DL_APPEND(l->queue, j);
  l->queued++;
  dispatch(l);
  return;
done:
  json_decref(body);
  fc_api__req_unref(r);
  job_free(j);
}

void fc_api__login_stats(const fc_api_t *a, fc_login_stats_t *out)
{
  memset(out, 0, sizeof(*out));
  if (!a->login) return;
  *out = a->login->stats;
  out->running = a->login->running;
  out->queued = a->login->queued;
}

/* ---- life ---- */

int fc_api__login_init(fc_api_t *a)
{
  if (!a->jwt || a->jwt->alg != FC_JWT_HS256) {
    fc_log(FC_LOG_NOTICE, NULL,
           "event=login_disabled msg=\"tokens are verified with a public key: the server cannot "
           "make its own, POST /api/login answers 501\"");
    return 0;
  }
  fc_login_t *l = fc_calloc(1, sizeof(*l));
  int rc = fc_store_admin_open(a->cfg->db, &l->db);
  if (rc < 0) {
    fc_free(l);
    return rc;
  }
  uv_mutex_init(&l->lock);
  l->loop = a->loop;
  l->jwt = a->jwt;
  l->window_ms = (uint64_t)a->cfg->login_window * 1000;
  l->max_user_ip = (unsigned)a->cfg->login_max_per_user_ip;
  l->max_ip = (unsigned)a->cfg->login_max_per_ip;
  l->max_user = (unsigned)a->cfg->login_max_per_user;
  l->concurrency = (unsigned)a->cfg->login_concurrency;
  l->queue_max = (unsigned)a->cfg->login_queue;
  a->login = l;
  return 0;
}
void fc_api_login_announce(fc_api_t *a, const char *host, int port)
{
  fc_login_t *l = a->login;
  long long n = 0;
  if (!l || fc_store_admin_user_count(l->db, &n) < 0 || n > 0) return;
  if (a->no_web_page) {
    /* No link to a page that is not there; and no code, unused. */
    fc_log(FC_LOG_NOTICE, NULL,
           "event=first_start msg=\"no user yet, and no web UI to sign in with (see "
           "--web-root): add one with: flashcharge user add NAME --role admin\"");
    return;
  }
  unsigned char raw[CODE_BYTES];
  randombytes_buf(raw, sizeof(raw));
  sodium_bin2base64(l->code, sizeof(l->code), raw, sizeof(raw),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  sodium_memzero(raw, sizeof(raw));
  /* The one secret we log, on purpose: it is how a new server is first
   * opened, it works once, and only while no user exists. */
  fc_log(FC_LOG_NOTICE, NULL,
         "event=first_start url=http://%s:%d/#login=%s msg=\"no user yet: open this URL to sign "
         "in once as admin, then add users with: flashcharge user add NAME --role admin\"",
         host, port, l->code);
}

void fc_api__login_free(fc_api_t *a)
{
  fc_login_t *l = a->login;
  if (!l) return;
  job_t *j, *jtmp;
  DL_FOREACH_SAFE(l->queue, j, jtmp)
  {
    DL_DELETE(l->queue, j);
    fc_api__req_unref(j->r);
    job_free(j);
  }
  failures_t *e, *tmp;
  HASH_ITER(hh, l->failures, e, tmp)
  {
    HASH_DEL(l->failures, e);
    fc_free(e);
  }
  fc_store_admin_close(l->db);
  uv_mutex_destroy(&l->lock);
  sodium_memzero(l->code, sizeof(l->code));
  fc_free(l);
  a->login = NULL;
}
