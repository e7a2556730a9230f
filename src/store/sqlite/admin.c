/* The administration API (fc_store_admin_*) on sqlite: synchronous, on a
 * connection of its own, for the CLI. The server may be running on the same
 * file: WAL lets both read, busy_timeout makes the writes take turns, and the
 * registry triggers (001_init.sql) bump meta.registry_version so that the
 * server notices charger changes. */
#include "store/sqlite/sqlite_int.h"

#include "core/err.h"
#include "core/mem.h"
#include "log/log.h"

#include <stdio.h>
#include <string.h>

static const char *col(sqlite3_stmt *st, int i)
{
  const unsigned char *v = sqlite3_column_text(st, i);
  return v ? (const char *)v : "";
}

static int prepare(fc_store_admin_t *a, const char *sql, sqlite3_stmt **st)
{
  int rc = sqlite3_prepare_v2(a->c->db, sql, -1, st, NULL);
  return rc == SQLITE_OK ? 0 : fc_store__sqlite_err(a->c, rc, sql);
}

/* Steps a statement to its end (no rows expected) and finalizes it. */
static int finish(fc_store_admin_t *a, sqlite3_stmt *st, const char *what)
{
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) return 0;
  fc_store__sqlite_err(a->c, rc, what);
  return FC_ERR_STORE;
}

int fc_store_admin_open(const char *path, fc_store_admin_t **out)
{
  fc_store_opts_t opts = {.path = path};
  fc_store_admin_t *a = fc_calloc(1, sizeof(*a));
  int rc = fc_store__sqlite.open(&opts, FC_STORE__ADMIN, &a->c);
  if (rc) goto fail;
  if ((rc = fc_store__sqlite.migrate(a->c))) goto fail;
  *out = a;
  return 0;

fail:
  fc_store_admin_close(a);
  return rc;
}

void fc_store_admin_close(fc_store_admin_t *a)
{
  if (!a) return;
  fc_store__sqlite.close(a->c);
  fc_free(a);
}

static bool valid_registration(const char *r)
{
  return strcmp(r, "Accepted") == 0 || strcmp(r, "Pending") == 0 || strcmp(r, "Rejected") == 0;
}

int fc_store_admin_charger_put(fc_store_admin_t *a, const char *id, const char *auth,
                               const char *registration)
{
  sqlite3_stmt *st;
  int rc;
  if (!registration) registration = "Accepted";
  if (!id || !*id || strlen(id) > 48 || !valid_registration(registration)) return FC_ERR_INVAL;
  rc = prepare(a,
               "INSERT INTO chargers (id, auth, registration, created_at, updated_at)"
               " VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (id) DO UPDATE SET auth = excluded.auth,"
               " registration = excluded.registration, updated_at = excluded.updated_at",
               &st);
  if (rc) return FC_ERR_STORE;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  if (auth)
    sqlite3_bind_text(st, 2, auth, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 2);
  sqlite3_bind_text(st, 3, registration, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, fc_store__now_ms());
  return finish(a, st, "charger put");
}

int fc_store_admin_charger_remove(fc_store_admin_t *a, const char *id)
{
  sqlite3_stmt *st;
  if (!id) return FC_ERR_INVAL;
  if (prepare(a, "DELETE FROM chargers WHERE id = ?1", &st)) return FC_ERR_STORE;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  int rc = finish(a, st, "charger remove");
  if (rc == 0 && sqlite3_changes(a->c->db) == 0) rc = FC_ERR_NOTFOUND;
  return rc;
}

int fc_store_admin_charger_profile(fc_store_admin_t *a, const char *id, int profile)
{
  sqlite3_stmt *st;
  if (!id || profile < 0 || profile > 3) return FC_ERR_INVAL;
  if (prepare(a, "UPDATE chargers SET security_profile = ?2, updated_at = ?3 WHERE id = ?1", &st))
    return FC_ERR_STORE;
  sqlite3_bind_text(st, 1, id, -1, SQLITE_STATIC);
  sqlite3_bind_int(st, 2, profile);
  sqlite3_bind_int64(st, 3, fc_store__now_ms());
  int rc = finish(a, st, "charger profile");
  if (rc == 0 && sqlite3_changes(a->c->db) == 0) rc = FC_ERR_NOTFOUND;
  return rc;
}

int fc_store_admin_charger_list(fc_store_admin_t *a,
                                void (*cb)(const fc_charger_rec_t *rec, int online,
                                           long long last_seen_ms, void *arg),
                                void *arg)
{
  sqlite3_stmt *st;
  int rc;
  if (prepare(a,
              "SELECT id, registration, auth, online, last_seen_at, security_profile FROM chargers"
              " ORDER BY id",
              &st))
    return FC_ERR_STORE;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    fc_charger_rec_t rec = {0};
    snprintf(rec.id, sizeof(rec.id), "%s", col(st, 0));
    snprintf(rec.registration, sizeof(rec.registration), "%s", col(st, 1));
    rec.auth = sqlite3_column_type(st, 2) == SQLITE_NULL ? NULL : (char *)col(st, 2);
    rec.profile = sqlite3_column_int(st, 5);
    cb(&rec, sqlite3_column_int(st, 3), sqlite3_column_int64(st, 4), arg);
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) return 0;
  fc_store__sqlite_err(a->c, rc, "charger list");
  return FC_ERR_STORE;
}

int fc_store_admin_tag_put(fc_store_admin_t *a, const fc_tag_rec_t *t)
{
  sqlite3_stmt *st;
  if (!t || !t->id_tag[0] || strnlen(t->id_tag, sizeof(t->id_tag)) >= sizeof(t->id_tag))
    return FC_ERR_INVAL;
  if (prepare(a,
              "INSERT INTO id_tags (id_tag, status, expiry, parent_id_tag, updated_at)"
              " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (id_tag) DO UPDATE SET"
              " status = excluded.status, expiry = excluded.expiry,"
              " parent_id_tag = excluded.parent_id_tag, updated_at = excluded.updated_at",
              &st))
    return FC_ERR_STORE;
  sqlite3_bind_text(st, 1, t->id_tag, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, t->status[0] ? t->status : "Accepted", -1, SQLITE_STATIC);
  if (t->expiry_ms)
    sqlite3_bind_int64(st, 3, t->expiry_ms);
  else
    sqlite3_bind_null(st, 3);
  if (t->parent[0])
    sqlite3_bind_text(st, 4, t->parent, -1, SQLITE_STATIC);
  else
    sqlite3_bind_null(st, 4);
  sqlite3_bind_int64(st, 5, fc_store__now_ms());
  return finish(a, st, "tag put");
}

int fc_store_admin_tag_remove(fc_store_admin_t *a, const char *id_tag)
{
  sqlite3_stmt *st;
  if (!id_tag) return FC_ERR_INVAL;
  if (prepare(a, "DELETE FROM id_tags WHERE id_tag = ?1", &st)) return FC_ERR_STORE;
  sqlite3_bind_text(st, 1, id_tag, -1, SQLITE_STATIC);
  int rc = finish(a, st, "tag remove");
  if (rc == 0 && sqlite3_changes(a->c->db) == 0) rc = FC_ERR_NOTFOUND;
  return rc;
}

int fc_store_admin_tag_list(fc_store_admin_t *a, void (*cb)(const fc_tag_rec_t *t, void *arg),
                            void *arg)
{
  sqlite3_stmt *st;
  int rc;
  if (prepare(a, "SELECT id_tag, status, expiry, parent_id_tag FROM id_tags ORDER BY id_tag", &st))
    return FC_ERR_STORE;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    fc_tag_rec_t t = {0};
    snprintf(t.id_tag, sizeof(t.id_tag), "%s", col(st, 0));
    snprintf(t.status, sizeof(t.status), "%s", col(st, 1));
    t.expiry_ms = sqlite3_column_int64(st, 2);
    snprintf(t.parent, sizeof(t.parent), "%s", col(st, 3));
    cb(&t, arg);
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) return 0;
  fc_store__sqlite_err(a->c, rc, "tag list");
  return FC_ERR_STORE;
}

int fc_store_admin_query(fc_store_admin_t *a, const char *sql,
                         void (*cb)(int ncol, char **names, char **values, void *arg), void *arg)
{
  const char *tail = sql;
  char **names = NULL, **values = NULL;
  sqlite3_stmt *st = NULL;
  int rc = 0, src;

  while (tail && *tail) {
    src = sqlite3_prepare_v2(a->c->db, tail, -1, &st, &tail);
    if (src != SQLITE_OK) {
      fc_store__sqlite_err(a->c, src, "admin query");
      rc = FC_ERR_INVAL;
      goto fail;
    }
    if (!st) break; /* only whitespace or comments left */
    /* read-only: "for tests and diagnostics", never a way around the store */
    if (!sqlite3_stmt_readonly(st)) {
      rc = FC_ERR_INVAL;
      goto fail;
    }
    int n = sqlite3_column_count(st);
    names = fc_calloc((size_t)n + 1, sizeof(*names));
    values = fc_calloc((size_t)n + 1, sizeof(*values));
    for (int i = 0; i < n; i++)
      names[i] = (char *)sqlite3_column_name(st, i);
    while ((src = sqlite3_step(st)) == SQLITE_ROW) {
      for (int i = 0; i < n; i++)
        values[i] = (char *)sqlite3_column_text(st, i); /* NULL for SQL NULL */
      if (cb) cb(n, names, values, arg);
    }
    if (src != SQLITE_DONE) {
      fc_store__sqlite_err(a->c, src, "admin query");
      rc = FC_ERR_STORE;
      goto fail;
    }
    sqlite3_finalize(st);
    st = NULL;
    FC_FREE(names);
    FC_FREE(values);
  }
  return 0;

fail:
  sqlite3_finalize(st);
  fc_free(names);
  fc_free(values);
  return rc;
}
