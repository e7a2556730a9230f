/* The sqlite backend: connections, transactions, migrations, the probe.
 *
 * Settings, and why:
 *  - journal_mode=WAL: readers never block the writer nor the writer them.
 *  - Nothing is confirmed before it is on disk (WAL fsync'd), but the writer
 *    does not wait for the disk in COMMIT. Its connection runs
 *    synchronous=NORMAL: COMMIT writes the batch's pages to the WAL and
 *    returns. The store's sync thread then calls conn_sync, an fdatasync of
 *    the WAL on a descriptor of our own, and only then are the batch's
 *    writes confirmed (store.c). Meanwhile the writer runs the next batch,
 *    and one fdatasync covers every commit written before it. The guarantee
 *    for what is confirmed is synchronous=FULL's; what a crash can lose is
 *    what nobody was told about. SQLite still syncs where NORMAL does: the
 *    WAL header when the WAL starts over, and the WAL and the database file
 *    around each checkpoint. Migrations and the probe sync before they say
 *    they are done. Readers, the checkpointer and the CLI run FULL.
 *  - busy_timeout 5 s: the CLI writes to the same file now and then.
 *  - The writer replaces SQLite's automatic checkpoint with its own wal hook.
 *    With the automatic one, a checkpoint that fails (disk trouble) makes
 *    COMMIT return an error even though the transaction *is* committed, and we
 *    would run the batch twice. And a checkpoint copies megabytes and fsyncs
 *    the database file: on the writer thread it would hold up every write
 *    queued behind it (the tail of the latency chargers see). So a thread of
 *    its own, with its own connection, runs PASSIVE checkpoints when the WAL
 *    has grown past CHECKPOINT_FRAMES; PASSIVE never blocks the writer, and
 *    its failures are only retried at the next request.
 *  - The writer's page cache holds WRITER_CACHE_KIB (SQLite's default is
 *    2 MiB): a batch touches one leaf page per charger in each charger-keyed
 *    index, and with hundreds of chargers per batch those leaves did not fit,
 *    so that each batch read them again (from the WAL or the file), and a
 *    batch larger than the cache spilled dirty pages mid-transaction. The
 *    cache only grows as pages are used. mmap is not used: the pages a batch
 *    needs are in the cache or the WAL, and an I/O error on a mapped page is
 *    a SIGBUS instead of an error code.
 *  - temp_store=MEMORY on the writer: a savepoint (event pruning; each write
 *    of a batch in which one write fails, store.c) keeps the original of
 *    every page it changes in a sub-journal, which SQLite spills to a
 *    temporary file past 64 KiB, 4 bytes and a page at a time. In memory it
 *    is a copy. Migrations, which may sort whole tables, run with temporary
 *    files (conn_migrate).
 *  - Statements are prepared once per connection (FC_SQL_MAP) and kept.
 *  - Connections are opened SQLITE_OPEN_NOMUTEX: each is used by one thread
 *    at a time (store_int.h), so the connection's mutex, which SQLite takes
 *    and releases in every bind, step and reset, protects nothing. Memory
 *    statistics are turned off before SQLite initialises (once per process):
 *    with them every allocation of SQLite's takes a global mutex, and
 *    nothing of ours reads them. Together those were some twenty lock pairs
 *    per statement the writer runs, 7 % of its instructions. */
#include "store/sqlite/sqlite_int.h"

#include "core/err.h"
#include "core/mem.h"
#include "core/thread.h"
#include "log/log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <uv.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUSY_TIMEOUT_MS 5000
#define CHECKPOINT_FRAMES 1000 /* about 4 MB of WAL with 4 KiB pages */
#define WRITER_CACHE_KIB 32768

static const char *const sql_text[FC_SQL__COUNT] = {
#define XX(name, sql) [FC_SQL_##name] = sql,
    FC_SQL_MAP(XX)
#undef XX
};

int fc_store__sqlite_err(fc_store_conn_t *c, int rc, const char *what)
{
  int err;
  switch (rc & 0xff) {
  case SQLITE_BUSY:
  case SQLITE_LOCKED:
    err = UV_EBUSY;
    break;
  case SQLITE_FULL:
    err = UV_ENOSPC;
    break;
  case SQLITE_IOERR:
  case SQLITE_CORRUPT:
  case SQLITE_NOTADB:
  case SQLITE_CANTOPEN:
  case SQLITE_PROTOCOL:
  case SQLITE_NOMEM:
  case SQLITE_READONLY:
    err = UV_EIO;
    break;
  default:
    err = FC_ERR_STORE;
  }
  fc_log(FC_LOG_WARN, NULL, "event=store_sql_error what=\"%s\" rc=%d msg=\"%s\"", what, rc,
         c && c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
  return err;
}

sqlite3_stmt *fc_store__stmt(fc_store_conn_t *c, fc_sql_id_t id)
{
  sqlite3_stmt *st = c->stmts[id];
  if (st) {
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return st;
  }
  int rc = sqlite3_prepare_v3(c->db, sql_text[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
  if (rc != SQLITE_OK) {
    fc_store__sqlite_err(c, rc, sql_text[id]);
    return NULL;
  }
  c->stmts[id] = st;
  return st;
}

static int exec(fc_store_conn_t *c, const char *sql)
{
  int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);
  return rc == SQLITE_OK ? 0 : fc_store__sqlite_err(c, rc, sql);
}

/* Runs a pragma that answers one value; for journal_mode we check it. */
static int pragma_text(fc_store_conn_t *c, const char *sql, char *out, size_t outsz)
{
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(c->db, sql, -1, &st, NULL);
  if (rc != SQLITE_OK) return fc_store__sqlite_err(c, rc, sql);
  rc = sqlite3_step(st);
  if (rc == SQLITE_ROW) {
    const unsigned char *v = sqlite3_column_text(st, 0);
    snprintf(out, outsz, "%s", v ? (const char *)v : "");
    rc = SQLITE_DONE;
  }
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? 0 : fc_store__sqlite_err(c, rc, sql);
}

typedef struct fc_store_ckpt {
  uv_thread_t thread;
  uv_mutex_t mu;
  uv_cond_t cv;
  bool want, stop;
  sqlite3 *db;
} fc_store_ckpt_t;

static void ckpt_main(void *arg)
{
  fc_store_ckpt_t *k = arg;
  fc_thread_name("fc-ckpt");
  for (;;) {
    uv_mutex_lock(&k->mu);
    while (!k->want && !k->stop)
      uv_cond_wait(&k->cv, &k->mu);
    bool stop = k->stop;
    k->want = false;
    uv_mutex_unlock(&k->mu);
    if (stop) return;
    sqlite3_wal_checkpoint_v2(k->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  }
}

static void ckpt_stop(fc_store_ckpt_t *k)
{
  if (!k) return;
  uv_mutex_lock(&k->mu);
  k->stop = true;
  uv_cond_signal(&k->cv);
  uv_mutex_unlock(&k->mu);
  uv_thread_join(&k->thread);
  uv_cond_destroy(&k->cv);
  uv_mutex_destroy(&k->mu);
  sqlite3_close(k->db);
  fc_free(k);
}

/* The checkpointer: same file, same VFS (the fault shim applies to it too). */
static int ckpt_start(const char *path, const char *vfs, fc_store_ckpt_t **out)
{
  fc_store_ckpt_t *k = fc_calloc(1, sizeof(*k));
  if (sqlite3_open_v2(path, &k->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, vfs) !=
      SQLITE_OK) {
    sqlite3_close(k->db);
    fc_free(k);
    return UV_EIO;
  }
  sqlite3_busy_timeout(k->db, BUSY_TIMEOUT_MS);
  sqlite3_exec(k->db, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
  uv_mutex_init(&k->mu);
  uv_cond_init(&k->cv);
  if (uv_thread_create(&k->thread, ckpt_main, k) != 0) {
    uv_cond_destroy(&k->cv);
    uv_mutex_destroy(&k->mu);
    sqlite3_close(k->db);
    fc_free(k);
    return UV_EIO;
  }
  *out = k;
  return 0;
}

static void sqlite_config_once(void)
{
  /* SQLITE_MISUSE if SQLite has been initialised already (by someone else
   * in the process): then the statistics stay on, which is only slower */
  sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

static int wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
  ((fc_store_conn_t *)arg)->wal_frames = frames;
  return SQLITE_OK;
}

static void conn_close(fc_store_conn_t *c)
{
  if (!c) return;
  ckpt_stop(c->ckpt);
  fc_store__known_forget(c);
  for (int i = 0; i < FC_SQL__COUNT; i++)
    sqlite3_finalize(c->stmts[i]);
  if (c->db) sqlite3_close(c->db);
  if (c->fault_vfs) fc_store__fault_vfs_free(c->fault_vfs);
  if (c->wal_path) {
    if (c->wal_fd >= 0) close(c->wal_fd);
    uv_mutex_destroy(&c->sync_mu);
    fc_free(c->wal_path);
  }
  fc_free(c);
}

static int conn_open(const fc_store_opts_t *opts, fc_store_role_t role, fc_store_conn_t **out)
{
  fc_store_conn_t *c = fc_calloc(1, sizeof(*c));
  c->wal_fd = -1;
  const char *vfs = NULL;
  char mode[16];
  int rc;

  static uv_once_t config_once = UV_ONCE_INIT;
  uv_once(&config_once, sqlite_config_once);
  if (role == FC_STORE__WRITER && opts->fault_file) {
    rc = fc_store__fault_vfs_new(opts->fault_file, &c->fault_vfs);
    if (rc) goto fail;
    vfs = c->fault_vfs->zName;
  }
  rc = sqlite3_open_v2(opts->path, &c->db,
                       SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, vfs);
  if (rc != SQLITE_OK) {
    fc_log(FC_LOG_ERROR, NULL, "event=store_open_failed path=\"%s\" msg=\"%s\"", opts->path,
           c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
    rc = UV_EIO;
    goto fail;
  }
  sqlite3_extended_result_codes(c->db, 1);
  if ((rc = fc_store__sqlite_functions(c->db)) != SQLITE_OK) {
    rc = fc_store__sqlite_err(c, rc, "create functions");
    goto fail;
  }
  sqlite3_busy_timeout(c->db, BUSY_TIMEOUT_MS);
  if (role != FC_STORE__READER) {
    /* journal_mode is persistent in the file; readers find it set. */
    if ((rc = pragma_text(c, "PRAGMA journal_mode=WAL", mode, sizeof(mode)))) goto fail;
    if (strcmp(mode, "wal") != 0) {
      fc_log(FC_LOG_ERROR, NULL, "event=store_open_failed path=\"%s\" journal_mode=%s", opts->path,
             mode);
      rc = UV_EIO;
      goto fail;
    }
  }
  if ((rc = exec(c, "PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON"))) goto fail;
  if (role == FC_STORE__READER && (rc = exec(c, "PRAGMA query_only=ON"))) goto fail;
  if (role == FC_STORE__WRITER) {
    char sql[128];
    /* NORMAL: conn_sync makes each commit durable (the comment on top) */
    snprintf(sql, sizeof(sql),
             "PRAGMA synchronous=NORMAL; PRAGMA cache_size=-%d; PRAGMA temp_store=MEMORY",
             WRITER_CACHE_KIB);
    if ((rc = exec(c, sql))) goto fail;
    c->wal_path = fc_strdup(sqlite3_filename_wal(sqlite3_db_filename(c->db, "main")));
    uv_mutex_init(&c->sync_mu);
    sqlite3_wal_hook(c->db, wal_hook, c);
    if ((rc = ckpt_start(opts->path, vfs, &c->ckpt))) goto fail;
  }
  *out = c;
  return 0;

fail:
  conn_close(c);
  return rc ? rc : UV_EIO;
}

/* Makes the directory entry of a file durable (a new WAL's, here). */
static int sync_dir(const char *path)
{
  const char *slash = strrchr(path, '/');
  char *dir = slash ? fc_strndup(path, slash == path ? 1 : (size_t)(slash - path)) : NULL;
  int fd = open(dir ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  int rc = fd >= 0 && fsync(fd) == 0 ? 0 : -errno;
  if (fd >= 0) close(fd);
  fc_free(dir);
  return rc;
}

/* The WAL on disk up to everything committed so far (the comment on top).
 * Runs on the sync thread and on the writer thread (the probe), never with
 * the writer's sqlite3 handle: fsync flushes the file, whichever descriptor
 * asks. The descriptor is opened at the first sync, and again if the WAL
 * was removed and made anew (SQLite does that only when the last
 * connection closes, which the writer's never is while the store is open:
 * this only makes sure a sync never goes to a file nobody writes). A sync
 * that fails is not tried again: after a failed fsync the kernel may have
 * dropped the pages it could not write, and a second fsync would succeed
 * without them (store.c fails the writes and opens the breaker). */
static int conn_sync(fc_store_conn_t *c)
{
  int rc = 0, err = 0;
  const char *what = "fdatasync";
  struct stat st;

  uv_mutex_lock(&c->sync_mu);
  if (c->fault_vfs && fc_store__fault_sync(c->fault_vfs) != SQLITE_OK) {
    err = EIO;
    what = "fault";
  } else {
    if (c->wal_fd >= 0 && (fstat(c->wal_fd, &st) != 0 || st.st_nlink == 0)) {
      close(c->wal_fd);
      c->wal_fd = -1;
    }
    if (c->wal_fd < 0) {
      c->wal_fd = open(c->wal_path, O_RDONLY | O_CLOEXEC);
      if (c->wal_fd < 0) {
        err = errno;
        what = "open";
      } else if ((rc = sync_dir(c->wal_path)) != 0) {
        err = -rc;
        what = "fsync dir";
        close(c->wal_fd); /* the next sync tries both again */
        c->wal_fd = -1;
      }
    }
    if (!err && fdatasync(c->wal_fd) != 0) err = errno;
  }
  uv_mutex_unlock(&c->sync_mu);
  if (!err) return 0;
  fc_log(FC_LOG_ERROR, NULL, "event=store_sync_failed what=\"%s\" path=\"%s\" errno=%d msg=\"%s\"",
         what, c->wal_path, err, strerror(err));
  return UV_EIO;
}

static int migrate(fc_store_conn_t *c)
{
  char buf[32];
  int rc, from, to;
  const struct fc_store__migration *m;

  /* IMMEDIATE: a server and a CLI starting together migrate one after the
   * other, and the second sees the first's user_version. */
  if ((rc = exec(c, "BEGIN IMMEDIATE"))) return rc;
  if ((rc = pragma_text(c, "PRAGMA user_version", buf, sizeof(buf)))) goto fail;
  from = to = atoi(buf);
  for (m = fc_store__migrations; m->sql; m++) {
    if (m->version <= from) continue;
    /* a migration that rewrites a big table takes a while: say so first */
    fc_log(FC_LOG_NOTICE, NULL, "event=store_migrating version=%d name=%s", m->version, m->name);
    if ((rc = exec(c, m->sql))) {
      fc_log(FC_LOG_ERROR, NULL, "event=store_migration_failed version=%d name=%s", m->version,
             m->name);
      goto fail;
    }
    to = m->version;
  }
  if (m > fc_store__migrations && from > m[-1].version) {
    fc_log(FC_LOG_ERROR, NULL, "event=store_schema_too_new version=%d known=%d", from,
           m[-1].version);
    rc = FC_ERR_STORE;
    goto fail;
  }
  if (to != from) {
    snprintf(buf, sizeof(buf), "PRAGMA user_version=%d", to);
    if ((rc = exec(c, buf))) goto fail;
  }
  if ((rc = exec(c, "COMMIT"))) goto fail;
  if (c->wal_path && (rc = conn_sync(c))) return rc;
  if (to != from) fc_log(FC_LOG_NOTICE, NULL, "event=store_migrated from=%d to=%d", from, to);
  return 0;

fail:
  sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
  return rc;
}

/* A migration may sort or copy a whole table: it gets temporary files, not
 * memory, whatever the connection uses otherwise (temp_store can only change
 * outside a transaction). */
static int conn_migrate(fc_store_conn_t *c)
{
  char prev[16], sql[48];
  int rc;
  if ((rc = pragma_text(c, "PRAGMA temp_store", prev, sizeof(prev)))) return rc;
  if ((rc = exec(c, "PRAGMA temp_store=FILE"))) return rc;
  rc = migrate(c);
  snprintf(sql, sizeof(sql), "PRAGMA temp_store=%d", atoi(prev));
  int rc2 = exec(c, sql);
  return rc ? rc : rc2;
}

/* A cached statement that returns no row: the transaction control the
 * writer runs for every batch (or every write) is not parsed each time. */
static int step(fc_store_conn_t *c, fc_sql_id_t id)
{
  sqlite3_stmt *st = fc_store__stmt(c, id);
  if (!st) return UV_EIO;
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? 0 : fc_store__sqlite_err(c, rc, sqlite3_sql(st));
}

static int conn_begin(fc_store_conn_t *c)
{
  int rc = step(c, FC_SQL_BEGIN);
  return rc ? rc : fc_store__known_check(c);
}

static int conn_commit(fc_store_conn_t *c)
{
  int rc = step(c, FC_SQL_COMMIT);
  if (rc == 0 && c->wal_frames >= CHECKPOINT_FRAMES && c->ckpt) {
    uv_mutex_lock(&c->ckpt->mu);
    c->ckpt->want = true;
    uv_cond_signal(&c->ckpt->cv);
    uv_mutex_unlock(&c->ckpt->mu);
  }
  return rc;
}

static void conn_rollback(fc_store_conn_t *c)
{
  /* After some I/O errors sqlite has rolled back already: nothing to do. */
  if (!sqlite3_get_autocommit(c->db)) sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
  fc_store__known_forget(c);
}

static int conn_savepoint(fc_store_conn_t *c)
{
  return step(c, FC_SQL_SAVEPOINT);
}

static int conn_release(fc_store_conn_t *c)
{
  return step(c, FC_SQL_RELEASE);
}

static int conn_rollback_to(fc_store_conn_t *c)
{
  /* A failed statement may have ended the whole transaction (sqlite does so
   * on some I/O errors): then the batch fails, not just this write. */
  fc_store__known_forget(c);
  if (sqlite3_get_autocommit(c->db)) return UV_EIO;
  int rc = exec(c, "ROLLBACK TO w; RELEASE w");
  return rc == FC_ERR_STORE ? UV_EIO : rc;
}

static int conn_probe(fc_store_conn_t *c)
{
  int rc = conn_begin(c);
  if (rc) goto fail;
  sqlite3_stmt *st = fc_store__stmt(c, FC_SQL_PROBE);
  if (!st) {
    rc = UV_EIO;
    goto fail;
  }
  sqlite3_bind_int64(st, 1, fc_store__now_ms());
  int src = sqlite3_step(st);
  sqlite3_reset(st);
  if (src != SQLITE_DONE) {
    rc = fc_store__sqlite_err(c, src, "probe");
    goto fail;
  }
  if ((rc = conn_commit(c))) goto fail;
  if ((rc = conn_sync(c))) return rc;
  /* A sync that failed may have left holes in the WAL on disk, and a
   * recovery stops at the first: a later commit, synced and confirmed, would
   * be lost with it. Everything committed goes into the database file
   * (synced) and the WAL starts over before anything is confirmed again. */
  int ckpt = sqlite3_wal_checkpoint_v2(c->db, NULL, SQLITE_CHECKPOINT_TRUNCATE, NULL, NULL);
  if (ckpt != SQLITE_OK) return fc_store__sqlite_err(c, ckpt, "checkpoint");
  return 0;

fail:
  conn_rollback(c);
  return rc;
}

const fc_store_backend_t fc_store__sqlite = {
    .name = "sqlite",
    .open = conn_open,
    .close = conn_close,
    .migrate = conn_migrate,
    .begin = conn_begin,
    .commit = conn_commit,
    .rollback = conn_rollback,
    .savepoint = conn_savepoint,
    .release = conn_release,
    .rollback_to = conn_rollback_to,
    .exec_op = fc_store__sqlite_exec_op,
    .exec_read = fc_store__sqlite_exec_read,
    .probe = conn_probe,
    .sync = conn_sync,
    .prune_events = fc_store__sqlite_prune_events,
    .prune_frames = fc_store__sqlite_prune_frames,
    .load_latest_events = fc_store__sqlite_load_latest_events,
    .left_online = fc_store__sqlite_left_online,
};
