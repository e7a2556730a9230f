/* REST (JSON, JWT bearer). Reads (GET):
 *   /api/chargers                         every charger the token grants
 *   /api/chargers/{id}                    its snapshot (= the /ws snapshot)
 *   /api/chargers/{id}/meter-values       ?from=&to=&connector=&limit=
 *   /api/chargers/{id}/charging-profiles  the profiles in force there (sent by us)
 *   /api/transactions                     ?charger=&from=&to=&limit=
 *   /api/transactions/{id}
 * Snapshots come from the read model in memory; history from the store's
 * reader threads. Remote commands (POST/PUT, and GET …/configuration) are
 * commands.c's: /api/chargers/{id}/{start|stop|limit|reset|unlock|trigger|
 * configuration|target-soc|availability|clear-cache|data-transfer|
 * charging-profile|clear-charging-profile|composite-schedule}. Errors: {"error":…,"detail":…} with
 * 400, 401, 403, 404, 405, 503 (store unavailable). A transaction of a charger the token does not
 * grant is 404, like one that does not exist. */
#include "core/json.h"
#include "api/api_int.h"

#include "auth/request.h"
#include "core/err.h"
#include "core/mem.h"
#include "log/log.h"
#include "core/datetime.h"

#include <stdlib.h>
#include <string.h>

static bool may_see_cb(const char *charger, void *arg)
{
  return fc_principal_may_see(arg, charger);
}

/* Query parameter name ("from") into buf; false when absent. */
static bool arg_of(struct lws *wsi, const char *name, char *buf, size_t n)
{
  char key[32];
  snprintf(key, sizeof(key), "%s=", name);
  /* lws copies each whole "name=value" argument into the buffer and gives
   * up at one that does not fit: the buffer holds them all (a token may be
   * among them). It points past the name. */
  int total = lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_URI_ARGS);
  if (total <= 0) return false;
  char *tmp = fc_malloc((size_t)total + 1);
  const char *v = lws_get_urlarg_by_name(wsi, key, tmp, total + 1);
  if (v) snprintf(buf, n, "%s", v);
  fc_free(tmp);
  return v != NULL;
}

static bool parse_time(const char *s, long long *ms)
{
  return fc_datetime_parse(s, ms) == 0;
}

static bool parse_uint(const char *s, long long max, long long *out)
{
  char *end;
  long long v = strtoll(s, &end, 10);
  if (!*s || *end || v < 0 || v > max) return false;
  *out = v;
  return true;
}

typedef struct range {
  long long from_ms, to_ms;
  unsigned limit;
} range_t;

/* from/to/limit common to the history reads. false after answering 400. */
static bool range_args(fc_req_t *r, struct lws *wsi, range_t *rd)
{
  char buf[64];
  long long v;
  memset(rd, 0, sizeof(*rd));
  if (arg_of(wsi, "from", buf, sizeof(buf)) && !parse_time(buf, &rd->from_ms)) {
    fc_api__error(r, 400, "bad_request", "from: expected a date-time such as 2026-11-26T10:00:00Z");
    return false;
  }
  if (arg_of(wsi, "to", buf, sizeof(buf)) && !parse_time(buf, &rd->to_ms)) {
    fc_api__error(r, 400, "bad_request", "to: expected a date-time such as 2026-11-26T10:00:00Z");
    return false;
  }
  if (arg_of(wsi, "limit", buf, sizeof(buf))) {
    if (!parse_uint(buf, 10000, &v) || v == 0) {
      fc_api__error(r, 400, "bad_request", "limit: expected 1 to 10000");
      return false;
    }
    rd->limit = (unsigned)v;
  }
  return true;
}

/* What a token may see of a transaction: only its chargers', and the idTag
 * (a card's number) in full only for operators and admins. */
static bool shape_tx(fc_req_t *r, json_t *tx)
{
  if (!fc_principal_may_see(&r->who, json_string_value(json_object_get(tx, "charger"))))
    return false;
  if (r->who.role < FC_ROLE_OPERATOR) {
    char masked[32];
    const char *tag = json_string_value(json_object_get(tx, "idTag"));
    if (tag)
      json_object_set_new(tx, "idTag", json_string(fc_log_mask(tag, masked, sizeof(masked))));
  }
  return true;
}

static void respond_json(fc_req_t *r, json_t *j)
{
  char *text = json_dumps(j, FC_JSON_DUMP);
  fc_api__respond_owned(r, 200, "application/json", text, strlen(text));
}

static void read_done(fc_read_t *rd, int status, void *arg)
{
  fc_req_t *r = arg;
  if (status == FC_ERR_NOTFOUND) {
    fc_api__error(r, 404, "not_found", "no such record");
  } else if (status < 0) {
    fc_api__error(r, 503, "unavailable", "the store cannot answer now");
  } else if (rd->kind == FC_READ_TRANSACTIONS) {
    json_t *arr = json_loadb(rd->out_text, rd->out_len, 0, NULL), *out = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v)
    {
      if (shape_tx(r, v)) json_array_append(out, v);
    }
    respond_json(r, out);
    json_decref(arr);
    json_decref(out);
  } else if (rd->kind == FC_READ_TRANSACTION) {
    json_t *o = json_loadb(rd->out_text, rd->out_len, 0, NULL);
    if (!shape_tx(r, o)) /* the store's scope left it out already: as if missing */
      fc_api__error(r, 404, "not_found", "no such record");
    else
      respond_json(r, o);
    json_decref(o);
  } else {
    fc_api__respond(r, 200, "application/json", rd->out_text, rd->out_len);
  }
  fc_api__req_unref(r);
}

static void start_read(fc_req_t *r, fc_read_t *rd, const range_t *rg)
{
  if (rg) {
    rd->from_ms = rg->from_ms;
    rd->to_ms = rg->to_ms;
    rd->limit = rg->limit;
  }
  r->refs++;
  if (fc_store_read(r->a->store, rd, read_done, r) < 0) {
    r->refs--;
    fc_api__error(r, 503, "unavailable", "the store cannot answer now");
  }
}

static void charger_list(fc_req_t *r)
{
  size_t len;
  char *text = fc_bus_snapshots(r->a->bus, may_see_cb, &r->who, &len);
  fc_api__respond_owned(r, 200, "application/json", text, len);
}

static void charger_one(fc_req_t *r, const char *id)
{
  size_t len;
  if (!fc_principal_may_see(&r->who, id)) {
    fc_api__error(r, 403, "forbidden", "the token does not grant this charger");
    return;
  }
  const char *snap = fc_bus_snapshot(r->a->bus, id, &len, NULL);
  if (!snap) {
    fc_api__error(r, 404, "not_found", "no such charger");
    return;
  }
  fc_api__respond(r, 200, "application/json", snap, len);
}

/* Whether the token may read charger id and it exists (else answered). */
static bool charger_readable(fc_req_t *r, const char *id)
{
  if (!fc_principal_may_see(&r->who, id)) {
    fc_api__error(r, 403, "forbidden", "the token does not grant this charger");
    return false;
  }
  if (!fc_bus_snapshot(r->a->bus, id, NULL, NULL)) {
    fc_api__error(r, 404, "not_found", "no such charger");
    return false;
  }
  return true;
}

static void meter_values(fc_req_t *r, struct lws *wsi, const char *id)
{
  char buf[32];
  long long v;
  if (!charger_readable(r, id)) return;
  int connector = -1;
  range_t rg;
  if (arg_of(wsi, "connector", buf, sizeof(buf))) {
    if (!parse_uint(buf, 1000, &v)) {
      fc_api__error(r, 400, "bad_request", "connector: expected a connector number");
      return;
    }
    connector = (int)v;
  }
  if (!range_args(r, wsi, &rg)) return;
  fc_read_t *rd = fc_read_new(FC_READ_METER_VALUES, id);
  rd->connector = connector;
  start_read(r, rd, &rg);
}

/* The charging profiles the charger accepted from us and that are still in
 * force as far as our commands know (store's FC_READ_PROFILES). */
static void charging_profiles(fc_req_t *r, const char *id)
{
  if (!charger_readable(r, id)) return;
  start_read(r, fc_read_new(FC_READ_PROFILES, id), NULL);
}

/* A token limited to some chargers reads only theirs: the store filters
 * before its limit, and another charger's transaction is as missing as one
 * that does not exist (404, not 403: no existence oracle). */
static void scope(fc_req_t *r, fc_read_t *rd)
{
  if (!r->who.all_chargers)
    fc_read_set_scope(rd, (const char *const *)r->who.chargers, r->who.n_chargers);
}

static void transactions(fc_req_t *r, struct lws *wsi)
{
  char charger[64] = "";
  if (arg_of(wsi, "charger", charger, sizeof(charger)) && !fc_principal_may_see(&r->who, charger)) {
    fc_api__error(r, 403, "forbidden", "the token does not grant this charger");
    return;
  }
  range_t rg;
  if (!range_args(r, wsi, &rg)) return;
  fc_read_t *rd = fc_read_new(FC_READ_TRANSACTIONS, charger);
  scope(r, rd);
  start_read(r, rd, &rg);
}

static void transaction_one(fc_req_t *r, const char *id)
{
  long long v;
  if (!parse_uint(id, (1LL << 53), &v)) {
    fc_api__error(r, 400, "bad_request", "a transaction id is a number");
    return;
  }
  fc_read_t *rd = fc_read_new(FC_READ_TRANSACTION, NULL);
  rd->arg_i64 = v;
  scope(r, rd);
  start_read(r, rd, NULL);
}

void fc_api__rest(fc_req_t *r, const char *path)
{
  r->auth_rc = fc_auth_request(r->a->jwt, r->wsi, &r->who, &r->auth_why);
  fc_api__rest_routed(r, path);
}

void fc_api__rest_routed(fc_req_t *r, const char *path)
{
  struct lws *wsi = r->wsi;
  if (!strcmp(path, "/api/login")) { /* a route without a token */
    fc_api__login(r);
    return;
  }
  if (fc_api__docs(r, path)) return; /* the published documents: no token either */
  if (r->auth_rc < 0) {
    fc_api__error(r, 401, "unauthorized", r->auth_why);
    return;
  }
  /* Split the path: /api/<a>/<b>/<c> */
  char buf[512];
  snprintf(buf, sizeof(buf), "%s", path + 4);
  char *seg[4] = {0};
  int n = 0;
  char *save = NULL;
  for (char *t = strtok_r(buf, "/", &save); t && n < 4; t = strtok_r(NULL, "/", &save))
    seg[n++] = t;

  if (n == 3 && !strcmp(seg[0], "chargers") && fc_api__is_command(seg[2]))
    fc_api__command(r, seg[1], seg[2]);
  else if (n == 3 && !strcmp(seg[0], "admin") && !strcmp(seg[1], "tls") &&
           !strcmp(seg[2], "reload"))
    fc_api__tls_reload(r);
  else if (r->method != FC_HTTP_GET)
    fc_api__error(r, 405, "method_not_allowed", "only GET is served here");
  else if (n == 1 && !strcmp(seg[0], "chargers"))
    charger_list(r);
  else if (n == 2 && !strcmp(seg[0], "chargers"))
    charger_one(r, seg[1]);
  else if (n == 3 && !strcmp(seg[0], "chargers") && !strcmp(seg[2], "meter-values"))
    meter_values(r, wsi, seg[1]);
  else if (n == 3 && !strcmp(seg[0], "chargers") && !strcmp(seg[2], "charging-profiles"))
    charging_profiles(r, seg[1]);
  else if (n == 1 && !strcmp(seg[0], "transactions"))
    transactions(r, wsi);
  else if (n == 2 && !strcmp(seg[0], "transactions"))
    transaction_one(r, seg[1]);
  else
    fc_api__error(r, 404, "not_found", "no such resource");
}
