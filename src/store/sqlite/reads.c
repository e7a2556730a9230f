/* Reads (fc_read_kind_t) on sqlite, run by reader threads on their own
 * query_only connections. Each statement is reset as soon as it is done, so
 * that no reader keeps an old WAL snapshot open (which would also hold back
 * checkpoints). */
#include "store/sqlite/sqlite_int.h"

#include "core/err.h"
#include "core/mem.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *col(sqlite3_stmt *st, int i)
{
  const unsigned char *v = sqlite3_column_text(st, i);
  return v ? (const char *)v : "";
}

int fc_store__sqlite_chargers(fc_store_conn_t *c, fc_charger_rec_t **out, size_t *count)
{
  sqlite3_stmt *st = fc_store__stmt(c, FC_SQL_READ_CHARGERS);
  fc_charger_rec_t *recs = NULL;
  size_t n = 0, cap = 0;
  int rc;

  if (!st) return UV_EIO;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      recs = fc_realloc(recs, cap * sizeof(*recs));
    }
    fc_charger_rec_t *r = &recs[n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", col(st, 0));
    snprintf(r->registration, sizeof(r->registration), "%s", col(st, 1));
    r->auth = sqlite3_column_type(st, 2) == SQLITE_NULL ? NULL : fc_strdup(col(st, 2));
  }
  sqlite3_reset(st);
  if (rc != SQLITE_DONE) {
    fc_charger_recs_free(recs, n);
    return fc_store__sqlite_err(c, rc, "read chargers");
  }
  *out = recs;
  *count = n;
  return 0;
}

static int read_tag(fc_store_conn_t *c, fc_read_t *r)
{
  sqlite3_stmt *st = fc_store__stmt(c, FC_SQL_READ_TAG);
  int rc;
  if (!st) return UV_EIO;
  sqlite3_bind_text(st, 1, r->key, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    fc_tag_rec_t *t = &r->out_tag;
    snprintf(t->id_tag, sizeof(t->id_tag), "%s", col(st, 0));
    snprintf(t->status, sizeof(t->status), "%s", col(st, 1));
    t->expiry_ms = sqlite3_column_int64(st, 2); /* NULL reads as 0 = none */
    snprintf(t->parent, sizeof(t->parent), "%s", col(st, 3));
  }
  sqlite3_reset(st);
  if (rc == SQLITE_ROW) return 0;
  return rc == SQLITE_DONE ? FC_ERR_NOTFOUND : fc_store__sqlite_err(c, rc, "read tag");
}

static int read_registry_version(fc_store_conn_t *c, fc_read_t *r)
{
  sqlite3_stmt *st = fc_store__stmt(c, FC_SQL_READ_REGISTRY_VERSION);
  int rc;
  if (!st) return UV_EIO;
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) r->out_i64 = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  if (rc == SQLITE_ROW) return 0;
  return rc == SQLITE_DONE ? FC_ERR_NOTFOUND : fc_store__sqlite_err(c, rc, "registry version");
}

int fc_store__sqlite_exec_read(fc_store_conn_t *c, fc_read_t *r)
{
  switch (r->kind) {
  case FC_READ_CHARGERS:
    return fc_store__sqlite_chargers(c, &r->out_chargers, &r->out_count);
  case FC_READ_TAG:
    return read_tag(c, r);
  case FC_READ_REGISTRY_VERSION:
    return read_registry_version(c, r);
  case FC_READ_EVENTS:
  case FC_READ_METER_VALUES:
  case FC_READ_TRANSACTIONS:
  case FC_READ_TRANSACTION:
  case FC_READ_CHARGER_INFO:
    return FC_ERR_NOTIMPL; /* not yet */
  }
  return FC_ERR_INVAL;
}

/* ---- start-up: the latest events ------------------------------------------ */

typedef struct latest {
  int64_t seq;
  char *json;
} latest_t;

static int latest_cmp(const void *a, const void *b)
{
  int64_t x = ((const latest_t *)a)->seq, y = ((const latest_t *)b)->seq;
  return x < y ? -1 : x > y;
}

/* One charger's latest non-late event per (type, connector), into *out (seq
 * order). The keys come from a skip scan over events_latest: one seek per key,
 * however many events there are. */
static int latest_of_charger(fc_store_conn_t *c, const char *charger, latest_t **out, size_t *n)
{
  sqlite3_stmt *kst, *lst;
  latest_t *v = NULL;
  size_t cnt = 0, cap = 0;
  char *type = fc_strdup("");
  int64_t connector = INT64_MIN;
  int rc = 0, src;

  for (;;) {
    if (!(kst = fc_store__stmt(c, FC_SQL_LATEST_NEXT_KEY))) {
      rc = UV_EIO;
      break;
    }
    sqlite3_bind_text(kst, 1, charger, -1, SQLITE_STATIC);
    sqlite3_bind_text(kst, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(kst, 3, connector);
    src = sqlite3_step(kst);
    if (src == SQLITE_ROW) {
      char *t = fc_strdup(col(kst, 0));
      fc_free(type);
      type = t;
      connector = sqlite3_column_int64(kst, 1);
    }
    sqlite3_reset(kst);
    if (src == SQLITE_DONE) break;
    if (src != SQLITE_ROW) {
      rc = fc_store__sqlite_err(c, src, "latest events: keys");
      break;
    }
    if (!(lst = fc_store__stmt(c, FC_SQL_LATEST_OF_KEY))) {
      rc = UV_EIO;
      break;
    }
    sqlite3_bind_text(lst, 1, charger, -1, SQLITE_STATIC);
    sqlite3_bind_text(lst, 2, type, -1, SQLITE_STATIC);
    sqlite3_bind_int64(lst, 3, connector);
    src = sqlite3_step(lst);
    if (src == SQLITE_ROW) {
      if (cnt == cap) {
        cap = cap ? cap * 2 : 16;
        v = fc_realloc(v, cap * sizeof(*v));
      }
      v[cnt].seq = sqlite3_column_int64(lst, 0);
      v[cnt].json = fc_strdup(col(lst, 1));
      cnt++;
    }
    sqlite3_reset(lst);
    if (src != SQLITE_ROW) {
      /* the key was just seen in the same snapshot: DONE is impossible */
      rc = src == SQLITE_DONE ? FC_ERR_STORE : fc_store__sqlite_err(c, src, "latest events");
      break;
    }
  }
  fc_free(type);
  if (rc) {
    for (size_t i = 0; i < cnt; i++)
      fc_free(v[i].json);
    fc_free(v);
    return rc;
  }
  if (cnt > 1) qsort(v, cnt, sizeof(*v), latest_cmp);
  *out = v;
  *n = cnt;
  return 0;
}

int fc_store__sqlite_load_latest_events(fc_store_conn_t *c,
                                        void (*cb)(const char *charger, int64_t seq,
                                                   const char *json, void *arg),
                                        void *arg)
{
  sqlite3_stmt *st;
  int rc = 0, src;

  /* one snapshot for the whole load */
  if ((src = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
    return fc_store__sqlite_err(c, src, "BEGIN");
  if (!(st = fc_store__stmt(c, FC_SQL_LATEST_CHARGERS))) {
    rc = UV_EIO;
    goto done;
  }
  while ((src = sqlite3_step(st)) == SQLITE_ROW) {
    char *charger = fc_strdup(col(st, 0));
    int64_t seq = sqlite3_column_int64(st, 1);
    latest_t *v = NULL;
    size_t n = 0;
    rc = latest_of_charger(c, charger, &v, &n);
    if (rc == 0) {
      if (n == 0) cb(charger, seq, NULL, arg);
      for (size_t i = 0; i < n; i++)
        cb(charger, seq, v[i].json, arg);
    }
    for (size_t i = 0; i < n; i++)
      fc_free(v[i].json);
    fc_free(v);
    fc_free(charger);
    if (rc) break;
  }
  sqlite3_reset(st);
  if (rc == 0 && src != SQLITE_DONE) rc = fc_store__sqlite_err(c, src, "latest events: chargers");

done:
  sqlite3_exec(c->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
  return rc;
}
