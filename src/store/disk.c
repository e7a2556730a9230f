/* Free space on the database's filesystem, for the store's disk watermarks
 * (store.c runs the check on a thread of its own, every disk_check_ms).
 *
 * statvfs of the database's directory: f_bavail blocks of f_frsize bytes,
 * what an unprivileged writer may still use. The test hook: while the fault
 * file (fc_store_opts_t.fault_file) holds "free BYTES", that is the answer
 * instead, so tests can cross the watermarks both ways without filling a
 * disk. */
#include "store/store_int.h"

#include "core/err.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/statvfs.h>
#include <unistd.h>

static bool fault_free(const char *fault_file, uint64_t *out)
{
  char buf[64];
  if (!fault_file) return false;
  int fd = open(fault_file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  ssize_t n = read(fd, buf, sizeof(buf) - 1);
  close(fd);
  if (n <= 0) return false;
  buf[n] = '\0';
  uint64_t v;
  if (sscanf(buf, "free %" SCNu64, &v) != 1) return false;
  *out = v;
  return true;
}

int fc_store__disk_free(const char *db_path, const char *fault_file, uint64_t *out)
{
  if (fault_free(fault_file, out)) return 0;
  char dir[4096];
  const char *slash = strrchr(db_path, '/');
  if (!slash) {
    snprintf(dir, sizeof(dir), ".");
  } else if (slash == db_path) {
    snprintf(dir, sizeof(dir), "/");
  } else {
    snprintf(dir, sizeof(dir), "%.*s", (int)(slash - db_path), db_path);
  }
  struct statvfs v;
  if (statvfs(dir, &v) < 0) return -errno;
  *out = (uint64_t)v.f_bavail * (uint64_t)v.f_frsize;
  return 0;
}
