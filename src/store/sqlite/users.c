/* The users of the web UI (fc_store_admin_user_*) on sqlite, on the
 * administration connection: synchronous. The CLI calls them directly; the
 * server calls them from a libuv worker thread during sign-in (api/login.c),
 * never from the loop thread. */
#include "store/sqlite/sqlite_int.h"

#include "core/err.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

static bool valid_name(const char *name)
{
  size_t n = name ? strlen(name) : 0;
  if (n == 0 || n > FC_USER_NAME_MAX) return false;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) return false;
  return true;
}

static bool valid_role(const char *role)
{
  return role && (!strcmp(role, "viewer") || !strcmp(role, "operator") || !strcmp(role, "admin"));
}

static int prepare(fc_store_admin_t *a, const char *sql, sqlite3_stmt **st)
{
  int rc = sqlite3_prepare_v2(a->c->db, sql, -1, st, NULL);
  return rc == SQLITE_OK ? 0 : fc_store__sqlite_err(a->c, rc, sql);
}

static int step_done(fc_store_admin_t *a, sqlite3_stmt *st, const char *what)
{
  int rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) return 0;
  fc_store__sqlite_err(a->c, rc, what);
  return FC_ERR_STORE;
}

static void copy_col(sqlite3_stmt *st, int i, char *out, size_t n)
{
  const unsigned char *v = sqlite3_column_text(st, i);
  snprintf(out, n, "%s", v ? (const char *)v : "");
}

int fc_store_admin_user_put(fc_store_admin_t *a, const char *name, const char *hash,
                            const char *role)
{
  sqlite3_stmt *st;
  if (!valid_name(name) || !hash || !*hash || strlen(hash) >= FC_USER_HASH_MAX || !valid_role(role))
    return FC_ERR_INVAL;
  if (prepare(a,
              "INSERT INTO users (name, password_hash, role, created_at, updated_at)"
              " VALUES (?1, ?2, ?3, ?4, ?4) ON CONFLICT (name) DO UPDATE SET"
              " password_hash = excluded.password_hash, role = excluded.role,"
              " updated_at = excluded.updated_at",
              &st))
    return FC_ERR_STORE;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 2, hash, -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, role, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 4, fc_store__now_ms());
  return step_done(a, st, "user put");
}

int fc_store_admin_user_get(fc_store_admin_t *a, const char *name, fc_user_rec_t *out)
{
  sqlite3_stmt *st;
  memset(out, 0, sizeof(*out));
  if (!valid_name(name)) return FC_ERR_NOTFOUND;
  if (prepare(a, "SELECT name, password_hash, role, created_at FROM users WHERE name = ?1", &st))
    return FC_ERR_STORE;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    copy_col(st, 0, out->name, sizeof(out->name));
    copy_col(st, 1, out->hash, sizeof(out->hash));
    copy_col(st, 2, out->role, sizeof(out->role));
    out->created_ms = sqlite3_column_int64(st, 3);
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_ROW) return 0;
  if (rc == SQLITE_DONE) return FC_ERR_NOTFOUND;
  fc_store__sqlite_err(a->c, rc, "user get");
  return FC_ERR_STORE;
}

int fc_store_admin_user_remove(fc_store_admin_t *a, const char *name)
{
  sqlite3_stmt *st;
  if (!name) return FC_ERR_INVAL;
  if (prepare(a, "DELETE FROM users WHERE name = ?1", &st)) return FC_ERR_STORE;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
  int rc = step_done(a, st, "user remove");
  if (rc == 0 && sqlite3_changes(a->c->db) == 0) rc = FC_ERR_NOTFOUND;
  return rc;
}

int fc_store_admin_user_list(fc_store_admin_t *a, void (*cb)(const fc_user_rec_t *u, void *arg),
                             void *arg)
{
  sqlite3_stmt *st;
  int rc;
  if (prepare(a, "SELECT name, role, created_at FROM users ORDER BY name", &st))
    return FC_ERR_STORE;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    fc_user_rec_t u;
    memset(&u, 0, sizeof(u));
    copy_col(st, 0, u.name, sizeof(u.name));
    copy_col(st, 1, u.role, sizeof(u.role));
    u.created_ms = sqlite3_column_int64(st, 2);
    cb(&u, arg); /* the hash stays in the database: listings have no use for it */
  }
  sqlite3_finalize(st);
  if (rc == SQLITE_DONE) return 0;
  fc_store__sqlite_err(a->c, rc, "user list");
  return FC_ERR_STORE;
}

int fc_store_admin_user_count(fc_store_admin_t *a, long long *n)
{
  sqlite3_stmt *st;
  *n = 0;
  if (prepare(a, "SELECT count(*) FROM users", &st)) return FC_ERR_STORE;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) *n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if (rc == SQLITE_ROW) return 0;
  fc_store__sqlite_err(a->c, rc, "user count");
  return FC_ERR_STORE;
}
