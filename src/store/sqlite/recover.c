/* What a previous process left behind, read at start-up (sqlite backend),
 * and copies of a live database (backup and restore).
 *
 * Left online: a server killed (kill -9, power cut) never wrote its
 * chargers' disconnections, so their rows still say online. Start-up reads
 * them here, with the time their outage began as well as the database
 * knows it. Their connections lasted as long as the process did, so that is
 * when the process was last known alive: the latest frame it logged (one
 * seek of frames_ts), heartbeat or connection change it stored (the last
 * row of the connection log), whichever is latest. A charger's own last
 * frame would say less (a quiet charger was connected until the end), and
 * finding it would scan the frame log (it has no index by charger).
 * The caller (cli/recover.c) closes them as offline, with their events,
 * before anything connects. The same read gives the largest connection id
 * any process used (connections_conn_id, migration 010), so that the new
 * process numbers its connections after it.
 *
 * Copies: SQLite's online backup API, from one connection to another. The
 * source is read in one read transaction held across every step, so that
 * in WAL mode the copy is one consistent snapshot while the server goes on
 * committing (a reader never blocks the writer, and without the held
 * transaction another connection's commit would restart the copy). The
 * steps are small so that the progress can be reported and the copy can be
 * interrupted; none of them locks writers out. */
#include "store/sqlite/sqlite_int.h"

#include "core/err.h"
#include "core/mem.h"
#include "log/log.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Pages copied per backup step (4 MiB with 4 KiB pages). */
#define BACKUP_STEP_PAGES 1024

#define SQL_LEFT_ONLINE "SELECT id, coalesce(conn_id, 0) FROM chargers WHERE online = 1 ORDER BY id"
#define SQL_LAST_ALIVE                                                                             \
  "SELECT max(coalesce((SELECT max(ts) FROM frames), 0),"                                          \
  " coalesce((SELECT max(max(coalesce(last_seen_at, 0), coalesce(last_heartbeat_at, 0)))"          \
  "           FROM chargers WHERE online = 1), 0),"                                                \
  " coalesce((SELECT ts FROM connections ORDER BY id DESC LIMIT 1), 0))"
#define SQL_MAX_CONN                                                                               \
  "SELECT max(coalesce((SELECT max(conn_id) FROM connections), 0),"                                \
  " coalesce((SELECT max(conn_id) FROM chargers), 0))"

int fc_store__sqlite_left_online(fc_store_conn_t *c,
                                 void (*cb)(const char *charger, int64_t conn_id,
                                            long long since_ms, void *arg),
                                 void *arg, int64_t *max_conn_id)
{
  sqlite3_stmt *st = NULL;
  int rc = 0, src;

  if ((src = sqlite3_exec(c->db, "BEGIN", NULL, NULL, NULL)) != SQLITE_OK)
    return fc_store__sqlite_err(c, src, "BEGIN");
  if ((src = sqlite3_prepare_v2(c->db, SQL_MAX_CONN, -1, &st, NULL)) != SQLITE_OK ||
      (src = sqlite3_step(st)) != SQLITE_ROW) {
    rc = fc_store__sqlite_err(c, src, "max conn_id");
    goto done;
  }
  *max_conn_id = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if ((src = sqlite3_prepare_v2(c->db, SQL_LAST_ALIVE, -1, &st, NULL)) != SQLITE_OK ||
      (src = sqlite3_step(st)) != SQLITE_ROW) {
    rc = fc_store__sqlite_err(c, src, "last alive");
    goto done;
  }
  long long since = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  if ((src = sqlite3_prepare_v2(c->db, SQL_LEFT_ONLINE, -1, &st, NULL)) != SQLITE_OK) {
    rc = fc_store__sqlite_err(c, src, "left online");
    goto done;
  }
  while ((src = sqlite3_step(st)) == SQLITE_ROW)
    cb((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1), since, arg);
  if (src != SQLITE_DONE) rc = fc_store__sqlite_err(c, src, "left online");

done:
  sqlite3_finalize(st);
  sqlite3_exec(c->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
  return rc;
}

/* ---- copies ------------------------------------------------------------------ */

static int open_db(const char *path, int flags, sqlite3 **out)
{
  int rc = sqlite3_open_v2(path, out, flags | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc == SQLITE_OK) {
    sqlite3_extended_result_codes(*out, 1);
    sqlite3_busy_timeout(*out, 5000);
    return 0;
  }
  fprintf(stderr, "flashcharge: %s: %s\n", path, *out ? sqlite3_errmsg(*out) : sqlite3_errstr(rc));
  return UV_EIO;
}

/* Copies every page of src into dst (both open), src read in one snapshot. */
static int copy(sqlite3 *src, sqlite3 *dst, const char *src_path, const char *dst_path,
                fc_store_copy_progress_cb progress, void *arg)
{
  int rc;
  /* The snapshot: a read transaction, started by a read, held to the end. */
  if ((rc = sqlite3_exec(src, "BEGIN; SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL)) !=
      SQLITE_OK) {
    fprintf(stderr, "flashcharge: %s: %s\n", src_path, sqlite3_errmsg(src));
    return UV_EIO;
  }
  sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
  if (!b) {
    fprintf(stderr, "flashcharge: %s: %s\n", dst_path, sqlite3_errmsg(dst));
    sqlite3_exec(src, "ROLLBACK", NULL, NULL, NULL);
    return UV_EIO;
  }
  do {
    rc = sqlite3_backup_step(b, BACKUP_STEP_PAGES);
    if (progress)
      progress((unsigned)(sqlite3_backup_pagecount(b) - sqlite3_backup_remaining(b)),
               (unsigned)sqlite3_backup_pagecount(b), arg);
    if (rc == SQLITE_BUSY || rc == SQLITE_LOCKED) usleep(10000);
  } while (rc == SQLITE_OK || rc == SQLITE_BUSY || rc == SQLITE_LOCKED);
  sqlite3_backup_finish(b);
  sqlite3_exec(src, "COMMIT", NULL, NULL, NULL);
  if (rc != SQLITE_DONE) {
    fprintf(stderr, "flashcharge: copying %s to %s: %s\n", src_path, dst_path, sqlite3_errstr(rc));
    return UV_EIO;
  }
  return 0;
}

/* "ok" from PRAGMA integrity_check on db, else FC_ERR_STORE (printed). */
static int check(sqlite3 *db, const char *path)
{
  sqlite3_stmt *st;
  int rc = FC_ERR_STORE;
  if (sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL) != SQLITE_OK) goto out;
  if (sqlite3_step(st) == SQLITE_ROW) {
    const char *r = (const char *)sqlite3_column_text(st, 0);
    if (r && !strcmp(r, "ok"))
      rc = 0;
    else
      fprintf(stderr, "flashcharge: %s: integrity_check: %s\n", path, r ? r : "?");
  }
  sqlite3_finalize(st);
out:
  if (rc) fprintf(stderr, "flashcharge: %s: integrity check failed\n", path);
  return rc;
}

int fc_store_backup(const char *db_path, const char *file, fc_store_copy_progress_cb progress,
                    void *arg)
{
  sqlite3 *src = NULL, *dst = NULL;
  char tmp[4096];
  int rc;
  if ((size_t)snprintf(tmp, sizeof(tmp), "%s.partial", file) >= sizeof(tmp)) return FC_ERR_INVAL;
  if (access(file, F_OK) == 0) {
    fprintf(stderr, "flashcharge: %s exists already: not overwritten\n", file);
    return UV_EEXIST;
  }
  unlink(tmp);
  if ((rc = open_db(db_path, SQLITE_OPEN_READWRITE, &src))) goto out;
  if ((rc = open_db(tmp, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &dst))) goto out;
  if ((rc = copy(src, dst, db_path, tmp, progress, arg))) goto out;
  if ((rc = check(dst, tmp))) goto out;
  /* the copy's pages are in its own file (the backup wrote them through
   * dst's journal): closed, it is whole; renamed, it is there or not */
  sqlite3_close(dst);
  dst = NULL;
  if (rename(tmp, file) != 0) {
    perror("flashcharge: rename");
    rc = UV_EIO;
  }
out:
  sqlite3_close(src);
  sqlite3_close(dst);
  if (rc) unlink(tmp);
  return rc;
}

int fc_store_restore(const char *file, const char *db_path, fc_store_copy_progress_cb progress,
                     void *arg)
{
  sqlite3 *src = NULL, *dst = NULL;
  int rc;
  if ((rc = open_db(file, SQLITE_OPEN_READONLY, &src))) goto out;
  if ((rc = check(src, file))) goto out;
  if ((rc = open_db(db_path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, &dst))) goto out;
  /* No server may hold the database: an exclusive lock proves it (a server
   * holds a read lock on it always, and the WAL's shared memory). */
  if (sqlite3_exec(dst, "PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; COMMIT", NULL, NULL,
                   NULL) != SQLITE_OK) {
    fprintf(stderr, "flashcharge: %s is in use (a server running on it?): %s\n", db_path,
            sqlite3_errmsg(dst));
    rc = UV_EBUSY;
    goto out;
  }
  rc = copy(src, dst, file, db_path, progress, arg);
out:
  sqlite3_close(src);
  sqlite3_close(dst);
  return rc;
}
