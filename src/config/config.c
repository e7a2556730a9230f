/* Table-driven configuration.
 *
 * Each row names an option once; its flag (--ocpp-port), its environment
 * variable (FLASHCHARGE_OCPP_PORT) and its config-file key (ocpp_port) all
 * derive from that name, so the three sources cannot drift apart. */
#include "config/config.h"

#include "core/err.h"
#include "core/mem.h"
#include "log/log.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

typedef enum { T_STR, T_INT, T_BOOL, T_ENUM } opt_type_t;

typedef struct opt {
  const char *name; /* flag name without "--"; '-' becomes '_' for file and env */
  opt_type_t type;
  size_t off;
  unsigned groups;
  const char *def;
  long min, max;
  const char *const *choices; /* T_ENUM: index is the value */
  const char *help;
} opt_t;

static const char *const unknown_choices[] = {"reject", "pending", "accept", NULL};
static const char *const tag_choices[] = {"invalid", "accept", NULL};
static const char *const alg_choices[] = {"HS256", "RS256", "ES256", NULL};
static const char *const level_choices[] = {"error", "warn", "notice", "info", "debug", NULL};
static const char *const format_choices[] = {"text", "json", NULL};

#define O(f) offsetof(fc_config_t, f)
#define S FC_OPT_SERVE
#define D FC_OPT_DB
#define T FC_OPT_TOKEN

static const opt_t opts[] = {
    {"config", T_STR, O(config_file), S | D, NULL, 0, 0, NULL, "JSON config file"},
    {"db", T_STR, O(db), S | D, "./flashcharge.db", 0, 0, NULL, "SQLite database file"},
    {"bind", T_STR, O(bind), S, "0.0.0.0", 0, 0, NULL, "address to listen on"},
    {"ocpp-port", T_INT, O(ocpp_port), S, "8180", 0, 65535, NULL, "OCPP port (0 = any free port)"},
    {"http-port", T_INT, O(http_port), S, "8080", 0, 65535, NULL,
     "web port: /ws, /api, /healthz (0 = any free port)"},
    {"tls-cert", T_STR, O(tls_cert), S, NULL, 0, 0, NULL,
     "PEM file: the server's certificate and chain; with --tls-key, the OCPP port speaks wss:// "
     "and the web port https:// (reloaded on SIGHUP and POST /api/admin/tls/reload)"},
    {"tls-key", T_STR, O(tls_key), S, NULL, 0, 0, NULL, "PEM file: the private key of --tls-cert"},
    {"tls-client-ca", T_STR, O(tls_client_ca), S, NULL, 0, 0, NULL,
     "PEM file: the CA that issues charger certificates (Security Profile 3: mutual TLS)"},
    {"web-tls-cert", T_STR, O(web_tls_cert), S, NULL, 0, 0, NULL,
     "PEM file: another certificate for the web port (default: --tls-cert)"},
    {"web-tls-key", T_STR, O(web_tls_key), S, NULL, 0, 0, NULL,
     "PEM file: the private key of --web-tls-cert"},
    {"ocpp-plain-port", T_INT, O(ocpp_plain_port), S, "-1", -1, 65535, NULL,
     "with TLS: an extra plain ws:// OCPP port for Security Profile 1 chargers (-1: none; 0: "
     "any free port)"},
    {"web-redirect-port", T_INT, O(web_redirect_port), S, "-1", -1, 65535, NULL,
     "with TLS: a plain HTTP port that only redirects to https:// (-1: none; 0: any free port)"},
    {"unknown-chargers", T_ENUM, O(unknown_chargers), S, "reject", 0, 0, unknown_choices,
     "chargers not in the registry: reject | pending | accept"},
    {"unknown-tags", T_ENUM, O(unknown_tags), S, "invalid", 0, 0, tag_choices,
     "idTags not in the tag table: invalid | accept"},
    {"heartbeat-interval", T_INT, O(heartbeat_interval), S, "300", 10, 86400, NULL,
     "heartbeat interval given to chargers, seconds"},
    {"answer-timeout", T_INT, O(answer_timeout), S, "5000", 100, 60000, NULL,
     "every charger call is answered within this many ms"},
    {"command-timeout", T_INT, O(command_timeout), S, "15000", 100, 600000, NULL,
     "ms a remote command (REST) waits for the charger's answer before 504"},
    {"max-frame", T_INT, O(max_frame), S, "65536", 1024, 16777216, NULL,
     "largest OCPP frame accepted, bytes (larger: close 1009)"},
    {"rate-limit", T_INT, O(rate_limit), S, "20", 1, 100000, NULL,
     "charger calls per second before reading pauses"},
    {"rate-burst", T_INT, O(rate_burst), S, "1000", 1, 10000000, NULL,
     "charger messages one charger may send at once before rate-limit applies (token bucket): "
     "a charger flushing its offline queue after a reconnect is not slowed down"},
    {"charger-handshake-rate", T_INT, O(charger_hs_rate), S, "1000", 1, 10000000, NULL,
     "charger handshakes per second over all chargers (token bucket); beyond: 503 with "
     "Retry-After before the upgrade, so that a restart storm queues instead of collapsing"},
    {"charger-handshake-burst", T_INT, O(charger_hs_burst), S, "2000", 1, 10000000, NULL,
     "charger handshakes admitted at once before charger-handshake-rate applies"},
    {"max-inflight", T_INT, O(max_inflight), S, "16", 1, 1024, NULL,
     "calls of one charger processed at once before reading pauses"},
    {"charger-state-max", T_INT, O(charger_state_max), S, "100000", 100, 10000000, NULL,
     "charger ids whose rate-limit bucket and frame-log budget are remembered across "
     "reconnects (past it: the least recently seen that are not connected are forgotten)"},
    {"unknown-max", T_INT, O(unknown_max), S, "100", 0, 10000000, NULL,
     "chargers not in the registry connected at once under pending/accept (beyond: 503)"},
    {"unknown-rate", T_INT, O(unknown_rate), S, "120", 1, 100000000, NULL,
     "connections of chargers not in the registry per minute under pending/accept "
     "(beyond: 429)"},
    {"strict-fields", T_BOOL, O(strict_fields), S, "false", 0, 0, NULL,
     "refuse payload properties the OCPP schema does not name (FormationViolation)"},
    {"max-connectors", T_INT, O(max_connectors), S, "64", 1, 10000, NULL,
     "highest connectorId a charger may name (beyond, or negative: PropertyConstraintViolation)"},
    {"max-clock-skew", T_INT, O(max_clock_skew), S, "86400", 60, 315360000, NULL,
     "seconds a charger's time stamp may be ahead of ours; beyond: ordered by arrival, flagged"},
    {"frame-log", T_BOOL, O(frame_log), S, "true", 0, 0, NULL, "store every OCPP frame"},
    {"frame-log-budget", T_INT, O(frame_log_budget), S, "262144", 1024, 1073741824, NULL,
     "frame-log bytes per charger per minute; past it frames are stored as their head and "
     "length, past twice it not at all (counted)"},
    {"frame-log-min-free", T_INT, O(frame_log_min_free), S, "1024", 0, 100000000, NULL,
     "MiB free on the database's filesystem below which the frame log stops (0: never)"},
    {"store-min-free", T_INT, O(store_min_free), S, "128", 0, 100000000, NULL,
     "MiB free on the database's filesystem below which the store refuses writes (0: never)"},
    {"disk-check-interval", T_INT, O(disk_check_ms), S, "5000", 100, 3600000, NULL,
     "ms between checks of the free space on the database's filesystem"},
    {"frame-log-days", T_INT, O(frame_log_days), S, "30", 1, 36500, NULL,
     "frames of the log older than this many days are deleted"},
    {"event-days", T_INT, O(event_days), S, "7", 1, 36500, NULL,
     "events older than this many days are deleted (a key's latest stays)"},
    {"log-level", T_ENUM, O(log_level), S | D, "info", 0, 0, level_choices,
     "error | warn | notice | info | debug"},
    {"log-format", T_ENUM, O(log_format), S | D, "text", 0, 0, format_choices,
     "text (key=value) | json (one object a line, the same fields)"},
    {"fault-file", T_STR, O(fault_file), S, NULL, 0, 0, NULL,
     "test hook: store writes fail/stall while this file says so (fail, fail-sync, stall MS); "
     "free BYTES: the free disk space the store sees"},
    {"store-batch-max", T_INT, O(store_batch_max), S, "4096", 1, 100000, NULL,
     "writes per database transaction at most"},
    {"store-retry-max", T_INT, O(store_retry_max), S, "3", 0, 100, NULL,
     "retries of a failed commit"},
    {"store-breaker-threshold", T_INT, O(store_breaker_threshold), S, "2", 1, 1000, NULL,
     "failed commits in a row that open the circuit breaker"},
    {"store-probe-interval", T_INT, O(store_probe_interval), S, "3000", 100, 600000, NULL,
     "ms between probe writes while the breaker is open"},
    {"registry-refresh", T_INT, O(registry_refresh), S, "500", 100, 600000, NULL,
     "ms between checks for charger registry changes"},
    {"shutdown-timeout", T_INT, O(shutdown_timeout), S, "5000", 0, 600000, NULL,
     "ms to finish pending writes at shutdown"},
    {"jwt-alg", T_ENUM, O(jwt_alg), S | T, "HS256", 0, 0, alg_choices,
     "JWT algorithm, pinned: HS256 | RS256 | ES256"},
    {"jwt-secret", T_STR, O(jwt_secret), S | T, NULL, 0, 0, NULL,
     "HS256 secret (prefer the environment or --jwt-secret-file)"},
    {"jwt-secret-file", T_STR, O(jwt_secret_file), S | T, NULL, 0, 0, NULL,
     "file holding the HS256 secret"},
    {"jwt-public-key", T_STR, O(jwt_public_key), S, NULL, 0, 0, NULL,
     "PEM public key file for RS256/ES256"},
    {"jwt-iss", T_STR, O(jwt_iss), S | T, NULL, 0, 0, NULL, "required JWT issuer (iss)"},
    {"jwt-aud", T_STR, O(jwt_aud), S | T, NULL, 0, 0, NULL, "required JWT audience (aud)"},
    {"jwt-leeway", T_INT, O(jwt_leeway), S, "30", 0, 3600, NULL,
     "seconds of clock skew allowed on exp/nbf"},
    {"ui-ping-interval", T_INT, O(ui_ping_interval), S, "30", 1, 3600, NULL,
     "seconds between WebSocket pings to browsers; no pong by the next: closed"},
    {"ui-queue-soft", T_INT, O(ui_queue_soft), S, "65536", 1024, 1073741824, NULL,
     "bytes queued for a browser before state events coalesce"},
    {"ui-queue-hard", T_INT, O(ui_queue_hard), S, "524288", 4096, 1073741824, NULL,
     "bytes queued for a browser before it is dropped (lagged, 1013)"},
    {"ui-max-rate", T_INT, O(ui_max_rate), S, "200", 1, 100000, NULL,
     "frames per second to one browser at most (events batch and coalesce)"},
    {"ui-max-clients", T_INT, O(ui_max_clients), S, "50000", 1, 10000000, NULL,
     "browser connections at most (beyond: 503)"},
    {"ui-max-per-ip", T_INT, O(ui_max_per_ip), S, "1000", 1, 10000000, NULL,
     "browser connections per client address (beyond: 429)"},
    {"ui-max-per-subject", T_INT, O(ui_max_per_subject), S, "100", 1, 10000000, NULL,
     "browser connections per token subject (beyond: 429)"},
    {"ui-max-subscriptions", T_INT, O(ui_max_subscriptions), S, "20000", 1, 10000000, NULL,
     "charger subscriptions of one browser connection (beyond: an error event)"},
    {"ui-max-subscriptions-per-subject", T_INT, O(ui_max_subscriptions_per_subject), S, "100000", 1,
     100000000, NULL,
     "charger subscriptions over every browser connection of one token subject (beyond: an error "
     "event)"},
    {"ui-user-check", T_INT, O(ui_user_check), S, "2000", 100, 600000, NULL,
     "ms between checks of the users table: the sockets of a removed user, or of a user whose "
     "role changed, are closed (1008)"},
    {"web-root", T_STR, O(web_root), S, NULL, 0, 0, NULL,
     "directory of the web UI's files (default: share/flashcharge/web beside the installed "
     "binary's bin/, else ./web)"},
    {"http-header-max", T_INT, O(http_header_max), S, "16384", 4096, 65535, NULL,
     "bytes of request line and headers a request may have (holds a token of 8 KiB)"},
    {"metrics-token", T_STR, O(metrics_token), S, NULL, 0, 0, NULL,
     "bearer token /metrics requires (prefer the environment or --metrics-token-file)"},
    {"metrics-token-file", T_STR, O(metrics_token_file), S, NULL, 0, 0, NULL,
     "file holding the bearer token /metrics requires"},
    {"login-window", T_INT, O(login_window), S, "900", 1, 86400, NULL,
     "seconds over which failed sign-ins are counted"},
    {"login-max-per-user-ip", T_INT, O(login_max_per_user_ip), S, "5", 1, 1000000, NULL,
     "failed sign-ins of one name from one address in a window (beyond: 429 there)"},
    {"login-max-per-ip", T_INT, O(login_max_per_ip), S, "20", 1, 1000000, NULL,
     "failed sign-ins from one address in a window, any names (beyond: 429 there)"},
    {"login-max-per-user", T_INT, O(login_max_per_user), S, "100", 1, 1000000, NULL,
     "failed sign-ins of one name from all addresses in a window (beyond: 429 for that name "
     "from addresses that failed too; never from one that has not)"},
    {"login-concurrency", T_INT, O(login_concurrency), S, "4", 1, 64, NULL,
     "password verifications (argon2id, 64 MiB each) running at once"},
    {"login-queue", T_INT, O(login_queue), S, "256", 0, 100000, NULL,
     "sign-ins waiting for a verification at most (beyond: 503 with Retry-After)"},
    {"handshake-timeout", T_INT, O(handshake_timeout), S, "5", 1, 300, NULL,
     "seconds a connection has to finish its HTTP request or WebSocket handshake (both ports; "
     "also how long an idle HTTP keep-alive connection stays open)"},
    {"handshake-max-per-ip", T_INT, O(handshake_max_per_ip), S, "256", 1, 10000000, NULL,
     "connections per client address not yet a WebSocket (handshakes, plain HTTP), per port; "
     "beyond: closed at accept"},
    {"handshake-rate", T_INT, O(handshake_rate), S, "6000", 1, 100000000, NULL,
     "new connections per minute per client address, per port (token bucket); beyond: closed "
     "at accept"},
    {"handshake-burst", T_INT, O(handshake_burst), S, "1000", 1, 10000000, NULL,
     "new connections one client address may open at once before handshake-rate applies"},
    {"handshake-table-size", T_INT, O(handshake_table_size), S, "16384", 16, 10000000, NULL,
     "client addresses (and charger ids) remembered for the handshake limits; the least "
     "recently seen are forgotten first"},
    {"handshake-log-interval", T_INT, O(handshake_log_interval), S, "60", 1, 86400, NULL,
     "seconds between log lines about one refused address, and between summaries of failed "
     "charger logins"},
    {"auth-fail-window", T_INT, O(auth_fail_window), S, "60", 1, 86400, NULL,
     "seconds over which failed charger logins (HTTP Basic) are counted"},
    {"auth-fail-max", T_INT, O(auth_fail_max), S, "10", 1, 1000000, NULL,
     "failed logins for one charger id from one address in auth-fail-window; beyond: 429 "
     "without checking the password"},
    {"auth-fail-max-ip", T_INT, O(auth_fail_max_ip), S, "100", 1, 1000000, NULL,
     "failed logins from one address (any charger id) in auth-fail-window; beyond: 429"},
    {"auth-fail-max-id", T_INT, O(auth_fail_max_id), S, "100", 1, 1000000, NULL,
     "failed logins for one charger id (any address) in auth-fail-window; beyond: 429 for the "
     "addresses that failed for it (an address that did not still gets its password checked)"},
};

#undef O
#undef S
#undef D
#undef T

static void key_of(const opt_t *o, char *buf, size_t n, int env)
{
  size_t i = 0;
  if (env) {
    static const char pfx[] = "FLASHCHARGE_";
    memcpy(buf, pfx, sizeof(pfx) - 1);
    i = sizeof(pfx) - 1;
  }
  for (const char *p = o->name; *p && i + 1 < n; p++) {
    char ch = *p == '-' ? '_' : *p;
    buf[i++] = env ? (char)toupper((unsigned char)ch) : ch;
  }
  buf[i] = '\0';
}

static int set_value(fc_config_t *c, const opt_t *o, const char *v, const char *where)
{
  char *base = (char *)c;
  switch (o->type) {
  case T_STR: {
    char **dst = (char **)(base + o->off);
    fc_free(*dst);
    *dst = v ? fc_strdup(v) : NULL;
    return 0;
  }
  case T_INT: {
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || end == v || *end || n < o->min || n > o->max) {
      fprintf(stderr, "flashcharge: %s: option %s: '%s' is not a whole number in %ld..%ld\n", where,
              o->name, v, o->min, o->max);
      return FC_ERR_CONFIG;
    }
    *(int *)(base + o->off) = (int)n;
    return 0;
  }
  case T_BOOL:
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on")) {
      *(bool *)(base + o->off) = true;
    } else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off")) {
      *(bool *)(base + o->off) = false;
    } else {
      fprintf(stderr, "flashcharge: %s: option %s: '%s' is not true or false\n", where, o->name, v);
      return FC_ERR_CONFIG;
    }
    return 0;
  case T_ENUM:
    for (int i = 0; o->choices[i]; i++) {
      if (!strcmp(v, o->choices[i])) {
        *(int *)(base + o->off) = i;
        return 0;
      }
    }
    fprintf(stderr, "flashcharge: %s: option %s: '%s' is not one of:", where, o->name, v);
    for (int i = 0; o->choices[i]; i++)
      fprintf(stderr, " %s", o->choices[i]);
    fprintf(stderr, "\n");
    return FC_ERR_CONFIG;
  }
  return FC_ERR_CONFIG;
}

void fc_config_init(fc_config_t *c)
{
  memset(c, 0, sizeof(*c));
  for (size_t i = 0; i < FC_ARRAY_SIZE(opts); i++) {
    if (opts[i].def) {
      int rc = set_value(c, &opts[i], opts[i].def, "default");
      (void)rc;
    }
  }
}

void fc_config_cleanup(fc_config_t *c)
{
  json_decref(c->file_json);
  c->file_json = NULL;
  for (size_t i = 0; i < FC_ARRAY_SIZE(opts); i++) {
    if (opts[i].type == T_STR) FC_FREE(*(char **)((char *)c + opts[i].off));
  }
}

static const opt_t *find_flag(const char *name, size_t len, unsigned groups)
{
  for (size_t i = 0; i < FC_ARRAY_SIZE(opts); i++) {
    if ((opts[i].groups & groups) && strlen(opts[i].name) == len &&
        !strncmp(opts[i].name, name, len))
      return &opts[i];
  }
  return NULL;
}

static int load_file(fc_config_t *c, const char *path, unsigned groups)
{
  json_error_t jerr;
  json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
  if (!root) {
    fprintf(stderr, "flashcharge: %s:%d: %s\n", path, jerr.line, jerr.text);
    return FC_ERR_CONFIG;
  }
  int rc = 0;
  if (!json_is_object(root)) {
    fprintf(stderr, "flashcharge: %s: the config file must hold a JSON object\n", path);
    rc = FC_ERR_CONFIG;
    goto out;
  }
  const char *key;
  json_t *val;
  json_object_foreach(root, key, val)
  {
    const opt_t *o = NULL;
    char k[64];
    for (size_t i = 0; i < FC_ARRAY_SIZE(opts); i++) {
      key_of(&opts[i], k, sizeof(k), 0);
      if (!strcmp(k, key)) o = &opts[i];
    }
    if (!o || !(o->groups & groups) || o->off == offsetof(fc_config_t, config_file)) {
      /* Keys of later features (tariffs, models…) are read by their modules. */
      continue;
    }
    char where[512], buf[64];
    snprintf(where, sizeof(where), "%s: key \"%s\"", path, key);
    const char *v = NULL;
    if (json_is_string(val)) {
      v = json_string_value(val);
    } else if (json_is_integer(val)) {
      snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(val));
      v = buf;
    } else if (json_is_boolean(val)) {
      v = json_is_true(val) ? "true" : "false";
    } else if (json_is_null(val) && o->type == T_STR) {
      v = NULL;
    } else {
      fprintf(stderr, "flashcharge: %s: wrong type\n", where);
      rc = FC_ERR_CONFIG;
      goto out;
    }
    if ((rc = set_value(c, o, v, where)) < 0) goto out;
  }
out:
  if (rc == 0) {
    json_decref(c->file_json);
    c->file_json = root;
  } else {
    json_decref(root);
  }
  return rc;
}

int fc_config_load(fc_config_t *c, unsigned groups, int *argc, char **argv)
{
  int rc;
  /* The config file comes first, whichever source names it. */
  const char *file = getenv("FLASHCHARGE_CONFIG");
  for (int i = 0; i < *argc; i++) {
    if (!strcmp(argv[i], "--config") && i + 1 < *argc)
      file = argv[i + 1];
    else if (!strncmp(argv[i], "--config=", 9))
      file = argv[i] + 9;
  }
  if (file && (groups & FC_OPT_SERVE || groups & FC_OPT_DB)) {
    if ((rc = load_file(c, file, groups)) < 0) return rc;
    set_value(c, &opts[0], file, "flag");
  }

  for (size_t i = 0; i < FC_ARRAY_SIZE(opts); i++) {
    if (!(opts[i].groups & groups) || i == 0) continue;
    char env[80];
    key_of(&opts[i], env, sizeof(env), 1);
    const char *v = getenv(env);
    if (v && (rc = set_value(c, &opts[i], v, env)) < 0) return rc;
  }

  int out = 0;
  for (int i = 0; i < *argc; i++) {
    const char *a = argv[i];
    if (strncmp(a, "--", 2) != 0 || !strcmp(a, "--help")) {
      argv[out++] = argv[i];
      continue;
    }
    const char *name = a + 2;
    const char *eq = strchr(name, '=');
    size_t nlen = eq ? (size_t)(eq - name) : strlen(name);
    const opt_t *o = find_flag(name, nlen, groups);
    if (!o) {
      argv[out++] = argv[i];
      continue;
    }
    const char *v;
    if (eq) {
      v = eq + 1;
    } else if (o->type == T_BOOL && (i + 1 >= *argc || strncmp(argv[i + 1], "--", 2) == 0)) {
      v = "true";
    } else if (i + 1 < *argc) {
      v = argv[++i];
    } else {
      fprintf(stderr, "flashcharge: option --%s needs a value\n", o->name);
      return FC_ERR_CONFIG;
    }
    if (o == &opts[0]) continue; /* --config: already loaded */
    char where[80];
    snprintf(where, sizeof(where), "flag --%s", o->name);
    if ((rc = set_value(c, o, v, where)) < 0) return rc;
  }
  *argc = out;
  argv[out] = NULL;
  fc_log_level = (fc_log_level_t)c->log_level;
  fc_log_format = (fc_log_format_t)c->log_format;
  return 0;
}

/* Options that only make sense together. */
int fc_config_check(const fc_config_t *c)
{
  const char *why = NULL;
  if (!c->tls_cert != !c->tls_key)
    why = "--tls-cert and --tls-key go together";
  else if (!c->web_tls_cert != !c->web_tls_key)
    why = "--web-tls-cert and --web-tls-key go together";
  else if (!c->tls_cert && (c->web_tls_cert || c->tls_client_ca))
    why = "--web-tls-cert and --tls-client-ca need --tls-cert and --tls-key";
  else if (!c->tls_cert && (c->ocpp_plain_port >= 0 || c->web_redirect_port >= 0))
    why = "--ocpp-plain-port and --web-redirect-port are for a server with TLS (--tls-cert)";
  if (!why) return 0;
  fprintf(stderr, "flashcharge: %s\n", why);
  return FC_ERR_CONFIG;
}

/* The options a running server takes on SIGHUP: each is read where it is
 * used, on the loop thread, so changing the value in place is enough. The
 * others are read once at start (ports, the store's, the web root, ...). */
static const char *const reloadable[] = {"log-level",
                                         "rate-limit",
                                         "rate-burst",
                                         "max-inflight",
                                         "answer-timeout",
                                         "command-timeout",
                                         "unknown-chargers",
                                         "unknown-tags",
                                         "frame-log-budget",
                                         "charger-handshake-rate",
                                         "charger-handshake-burst",
                                         NULL};

static bool is_reloadable(const opt_t *o)
{
  for (int i = 0; reloadable[i]; i++) {
    if (!strcmp(reloadable[i], o->name)) return true;
  }
  return false;
}

/* The value of o in c, as text, into buf. */
static const char *value_str(const fc_config_t *c, const opt_t *o, char *buf, size_t n)
{
  const char *base = (const char *)c;
  switch (o->type) {
  case T_STR: {
    const char *s = *(char *const *)(base + o->off);
    return s ? s : "(none)";
  }
  case T_INT:
    snprintf(buf, n, "%d", *(const int *)(base + o->off));
    return buf;
  case T_BOOL:
    return *(const bool *)(base + o->off) ? "true" : "false";
  case T_ENUM:
    return o->choices[*(const int *)(base + o->off)];
  }
  return "?";
}

int fc_config_reload(fc_config_t *live, fc_config_t *fresh, unsigned groups, fc_config_change_cb cb,
                     void *arg)
{
  int restart = 0;
  for (size_t i = 0; i < FC_ARRAY_SIZE(opts); i++) {
    const opt_t *o = &opts[i];
    char a[32], b[32];
    if (!(o->groups & groups)) continue;
    const char *was = value_str(live, o, a, sizeof(a)), *now = value_str(fresh, o, b, sizeof(b));
    if (!strcmp(was, now)) continue;
    bool applied = is_reloadable(o) && o->type != T_STR;
    if (applied)
      memcpy((char *)live + o->off, (char *)fresh + o->off,
             o->type == T_BOOL ? sizeof(bool) : sizeof(int));
    else
      restart++;
    /* a secret's value is not shown */
    bool secret = strstr(o->name, "secret") || strstr(o->name, "token");
    cb(o->name, secret ? "***" : was, secret ? "***" : now, applied, arg);
  }
  fc_log_level = (fc_log_level_t)live->log_level;
  /* the structured keys (models, tariff): the modules re-read them */
  json_t *j = live->file_json;
  live->file_json = fresh->file_json;
  fresh->file_json = j;
  return restart;
}

void fc_config_usage(FILE *f, unsigned groups)
{
  for (size_t i = 0; i < FC_ARRAY_SIZE(opts); i++) {
    const opt_t *o = &opts[i];
    if (!(o->groups & groups)) continue;
    char env[80];
    key_of(o, env, sizeof(env), 1);
    fprintf(f, "  --%-24s %s\n  %-26s (env %s%s%s)\n", o->name, o->help, "", env,
            o->def ? ", default " : "", o->def ? o->def : "");
  }
}

/* Writes s for roff: a backslash as \e, '-' as \- (a minus, so that man
 * pages search and copy as typed). */
static void roff(FILE *f, const char *s)
{
  for (; *s; s++) {
    if (*s == '\\')
      fputs("\\e", f);
    else if (*s == '-')
      fputs("\\-", f);
    else
      fputc(*s, f);
  }
}

void fc_config_man(FILE *f, unsigned groups)
{
  for (size_t i = 0; i < FC_ARRAY_SIZE(opts); i++) {
    const opt_t *o = &opts[i];
    if (!(o->groups & groups)) continue;
    char env[80], key[64];
    key_of(o, env, sizeof(env), 1);
    key_of(o, key, sizeof(key), 0);
    fputs(".TP\n.B \\-\\-", f);
    roff(f, o->name);
    fputs(o->type == T_BOOL ? " \\fR[\\fItrue\\fR|\\fIfalse\\fR]\n" : " \\fIVALUE\\fR\n", f);
    fputs("\\&", f);
    roff(f, o->help);
    fputs(".\n.br\nEnvironment \\fB", f);
    roff(f, env);
    fputs("\\fR, config key \\fB", f);
    roff(f, key);
    fputs("\\fR", f);
    if (o->def) {
      fputs("; default \\fB", f);
      roff(f, o->def);
      fputs("\\fR", f);
    }
    if (o->type == T_INT) fprintf(f, "; %ld to %ld", o->min, o->max);
    fputs(".\n", f);
  }
}
