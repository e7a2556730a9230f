/* Fault injection: a VFS shim over sqlite's "unix" VFS, used by the writer's
 * connection when opts.fault_file is set (tests simulate a failing or stuck
 * disk with it).
 *
 * Every file opened through it is the real unix file with our io_methods in
 * front. xWrite, xSync and xTruncate, and the store's own sync of the WAL
 * (fc_store__fault_sync, called by conn.c before it syncs), look at the fault
 * file first:
 *   "fail"      → SQLITE_IOERR_WRITE / _FSYNC / _TRUNCATE, so commits fail;
 *   "fail-sync" → syncs fail, writes go through: a disk that takes data into
 *                 the page cache but cannot make it durable, so commits
 *                 succeed and what they wrote is never confirmed;
 *   "stall N"   → sleep N ms, then go on;
 *   anything else, or no file → pass through.
 * Reads, locks and the WAL index (-shm, mapped memory) are never touched.
 *
 * The file is re-read at most every CHECK_MS and the verdict cached, so the
 * check costs a clock read on the hot path. Each store registers its own
 * instance under a unique name (tests run several stores with different
 * fault files in one process). */
#include "store/sqlite/sqlite_int.h"

#include "core/err.h"
#include "core/mem.h"
#include "log/log.h"

#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#define CHECK_MS 50

enum { FAULT_NONE, FAULT_FAIL, FAULT_FAIL_SYNC, FAULT_STALL };

typedef struct fault_vfs {
  sqlite3_vfs base; /* first: sqlite hands us back this pointer */
  sqlite3_vfs *real;
  char name[40];
  char *path;
  uv_mutex_t mu; /* the cache below; the writer thread is the only user in practice */
  uint64_t checked_ns;
  int mode;
  unsigned stall_ms;
} fault_vfs_t;

typedef struct fault_file {
  sqlite3_file base; /* first, as for every sqlite3_file */
  fault_vfs_t *vfs;
  sqlite3_file *real; /* the unix file, right behind this struct */
} fault_file_t;

#define REAL(f) (((fault_file_t *)(f))->real)

static void reread(fault_vfs_t *v)
{
  char buf[64];
  ssize_t n = -1;
  int fd = open(v->path, O_RDONLY | O_CLOEXEC);
  unsigned ms;

  if (fd >= 0) {
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
  }
  v->mode = FAULT_NONE;
  if (n <= 0) return;
  buf[n] = '\0';
  while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ' || buf[n - 1] == '\r'))
    buf[--n] = '\0';
  if (strcmp(buf, "fail") == 0) {
    v->mode = FAULT_FAIL;
  } else if (strcmp(buf, "fail-sync") == 0) {
    v->mode = FAULT_FAIL_SYNC;
  } else if (sscanf(buf, "stall %u", &ms) == 1) {
    v->mode = FAULT_STALL;
    v->stall_ms = ms;
  }
}

/* Returns the fault to apply now; for a stall, sleeps it off and says none. */
static int fault_now(fault_vfs_t *v)
{
  uint64_t now = uv_hrtime();
  int mode;
  unsigned ms;

  uv_mutex_lock(&v->mu);
  if (v->checked_ns == 0 || now - v->checked_ns >= CHECK_MS * 1000000ULL) {
    reread(v);
    v->checked_ns = now;
  }
  mode = v->mode;
  ms = v->stall_ms;
  uv_mutex_unlock(&v->mu);
  if (mode == FAULT_STALL) {
    uv_sleep(ms);
    return FAULT_NONE;
  }
  return mode;
}

static int fault(sqlite3_file *f)
{
  return fault_now(((fault_file_t *)f)->vfs);
}

static int f_close(sqlite3_file *f)
{
  return REAL(f)->pMethods->xClose(REAL(f));
}
static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
  return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}
static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
  if (fault(f) == FAULT_FAIL) return SQLITE_IOERR_WRITE;
  return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size)
{
  if (fault(f) == FAULT_FAIL) return SQLITE_IOERR_TRUNCATE;
  return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int f_sync(sqlite3_file *f, int flags)
{
  int mode = fault(f);
  if (mode == FAULT_FAIL || mode == FAULT_FAIL_SYNC) return SQLITE_IOERR_FSYNC;
  return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size)
{
  return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int f_lock(sqlite3_file *f, int lock)
{
  return REAL(f)->pMethods->xLock(REAL(f), lock);
}
static int f_unlock(sqlite3_file *f, int lock)
{
  return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}
static int f_reserved(sqlite3_file *f, int *out)
{
  return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int f_fcntl(sqlite3_file *f, int op, void *arg)
{
  return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int f_sector(sqlite3_file *f)
{
  return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int f_devchar(sqlite3_file *f)
{
  return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int f_shm_map(sqlite3_file *f, int pg, int pgsz, int extend, void volatile **pp)
{
  return REAL(f)->pMethods->xShmMap(REAL(f), pg, pgsz, extend, pp);
}
static int f_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
  return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void f_shm_barrier(sqlite3_file *f)
{
  REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int f_shm_unmap(sqlite3_file *f, int del)
{
  return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp)
{
  return REAL(f)->pMethods->xFetch(REAL(f), off, n, pp);
}
static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
  return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods io_methods = {
    .iVersion = 3,
    .xClose = f_close,
    .xRead = f_read,
    .xWrite = f_write,
    .xTruncate = f_truncate,
    .xSync = f_sync,
    .xFileSize = f_size,
    .xLock = f_lock,
    .xUnlock = f_unlock,
    .xCheckReservedLock = f_reserved,
    .xFileControl = f_fcntl,
    .xSectorSize = f_sector,
    .xDeviceCharacteristics = f_devchar,
    .xShmMap = f_shm_map,
    .xShmLock = f_shm_lock,
    .xShmBarrier = f_shm_barrier,
    .xShmUnmap = f_shm_unmap,
    .xFetch = f_fetch,
    .xUnfetch = f_unfetch,
};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out_flags)
{
  fault_vfs_t *v = (fault_vfs_t *)vfs;
  fault_file_t *ff = (fault_file_t *)f;
  ff->vfs = v;
  ff->real = (sqlite3_file *)(ff + 1);
  int rc = v->real->xOpen(v->real, name, ff->real, flags, out_flags);
  /* sqlite calls xClose iff pMethods is set, even when xOpen failed */
  ff->base.pMethods = ff->real->pMethods ? &io_methods : NULL;
  return rc;
}

#define V(vfs) (((fault_vfs_t *)(vfs))->real)

static int v_delete(sqlite3_vfs *vfs, const char *name, int sync)
{
  return V(vfs)->xDelete(V(vfs), name, sync);
}
static int v_access(sqlite3_vfs *vfs, const char *name, int flags, int *out)
{
  return V(vfs)->xAccess(V(vfs), name, flags, out);
}
static int v_fullpath(sqlite3_vfs *vfs, const char *name, int n, char *out)
{
  return V(vfs)->xFullPathname(V(vfs), name, n, out);
}
static void *v_dlopen(sqlite3_vfs *vfs, const char *name)
{
  return V(vfs)->xDlOpen(V(vfs), name);
}
static void v_dlerror(sqlite3_vfs *vfs, int n, char *msg)
{
  V(vfs)->xDlError(V(vfs), n, msg);
}
static void (*v_dlsym(sqlite3_vfs *vfs, void *h, const char *sym))(void)
{
  return V(vfs)->xDlSym(V(vfs), h, sym);
}
static void v_dlclose(sqlite3_vfs *vfs, void *h)
{
  V(vfs)->xDlClose(V(vfs), h);
}
static int v_random(sqlite3_vfs *vfs, int n, char *out)
{
  return V(vfs)->xRandomness(V(vfs), n, out);
}
static int v_sleep(sqlite3_vfs *vfs, int us)
{
  return V(vfs)->xSleep(V(vfs), us);
}
static int v_time(sqlite3_vfs *vfs, double *out)
{
  return V(vfs)->xCurrentTime(V(vfs), out);
}
static int v_lasterr(sqlite3_vfs *vfs, int n, char *out)
{
  return V(vfs)->xGetLastError(V(vfs), n, out);
}
static int v_time64(sqlite3_vfs *vfs, sqlite3_int64 *out)
{
  return V(vfs)->xCurrentTimeInt64(V(vfs), out);
}
static int v_setsys(sqlite3_vfs *vfs, const char *name, sqlite3_syscall_ptr p)
{
  return V(vfs)->xSetSystemCall(V(vfs), name, p);
}
static sqlite3_syscall_ptr v_getsys(sqlite3_vfs *vfs, const char *name)
{
  return V(vfs)->xGetSystemCall(V(vfs), name);
}
static const char *v_nextsys(sqlite3_vfs *vfs, const char *name)
{
  return V(vfs)->xNextSystemCall(V(vfs), name);
}

int fc_store__fault_vfs_new(const char *fault_file, sqlite3_vfs **out)
{
  static atomic_uint seq;
  sqlite3_vfs *real = sqlite3_vfs_find("unix");
  if (!real || real->iVersion < 3) return UV_ENOSYS;

  fault_vfs_t *v = fc_calloc(1, sizeof(*v));
  v->real = real;
  v->path = fc_strdup(fault_file);
  snprintf(v->name, sizeof(v->name), "fc-fault-%u", atomic_fetch_add(&seq, 1));
  uv_mutex_init(&v->mu);
  v->base = (sqlite3_vfs){
      .iVersion = 3,
      .szOsFile = (int)sizeof(fault_file_t) + real->szOsFile,
      .mxPathname = real->mxPathname,
      .zName = v->name,
      .pAppData = NULL,
      .xOpen = v_open,
      .xDelete = v_delete,
      .xAccess = v_access,
      .xFullPathname = v_fullpath,
      .xDlOpen = v_dlopen,
      .xDlError = v_dlerror,
      .xDlSym = v_dlsym,
      .xDlClose = v_dlclose,
      .xRandomness = v_random,
      .xSleep = v_sleep,
      .xCurrentTime = v_time,
      .xGetLastError = v_lasterr,
      .xCurrentTimeInt64 = v_time64,
      .xSetSystemCall = v_setsys,
      .xGetSystemCall = v_getsys,
      .xNextSystemCall = v_nextsys,
  };
  int rc = sqlite3_vfs_register(&v->base, 0);
  if (rc != SQLITE_OK) {
    fc_store__fault_vfs_free(&v->base);
    return UV_EIO;
  }
  fc_log(FC_LOG_NOTICE, NULL, "event=store_fault_injection vfs=%s file=\"%s\"", v->name,
         fault_file);
  *out = &v->base;
  return 0;
}

void fc_store__fault_vfs_free(sqlite3_vfs *vfs)
{
  fault_vfs_t *v = (fault_vfs_t *)vfs;
  if (!v) return;
  sqlite3_vfs_unregister(vfs); /* harmless if it never was registered */
  uv_mutex_destroy(&v->mu);
  fc_free(v->path);
  fc_free(v);
}

int fc_store__fault_sync(sqlite3_vfs *vfs)
{
  int mode = fault_now((fault_vfs_t *)vfs);
  return mode == FAULT_FAIL || mode == FAULT_FAIL_SYNC ? SQLITE_IOERR_FSYNC : SQLITE_OK;
}
