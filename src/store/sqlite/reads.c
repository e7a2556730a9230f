/* Reads (fc_read_kind_t) on sqlite, run by reader threads on their own
 * query_only connections. Each statement is reset as soon as it is done, so
 * that no reader keeps an old WAL snapshot open (which would also hold back
 * checkpoints). */
#include "store/sqlite/sqlite_int.h"

#include "core/err.h"
#include "core/mem.h"

#include <stdio.h>
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
  }
  return FC_ERR_INVAL;
}
