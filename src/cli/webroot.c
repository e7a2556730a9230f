/* Where serve finds the web UI's files.
 *
 * --web-root (a flag, FLASHCHARGE_WEB_ROOT or "web_root" in the config file)
 * when given; else beside the installed binary, as `make install` and the
 * package lay it out (PREFIX/bin/flashcharge → PREFIX/share/flashcharge/web,
 * found through /proc/self/exe, so a copy under /opt or a DESTDIR works the
 * same); else ./web, the source tree's, for a server started from there.
 * A web root without index.html is logged as a warning: the web port then
 * answers the dashboard with a 404 page naming --web-root (api/http.c). */
#include "cli/cli_int.h"

#include "core/mem.h"
#include "log/log.h"

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define INSTALLED_WEB "/../share/flashcharge/web"

static bool has_index(const char *dir)
{
  char p[PATH_MAX];
  int n = snprintf(p, sizeof(p), "%s/index.html", dir);
  return n > 0 && (size_t)n < sizeof(p) && access(p, R_OK) == 0;
}

/* PREFIX/share/flashcharge/web for the running binary PREFIX/bin/x, made
 * canonical; NULL when it is not there. Caller frees. */
static char *installed_web(void)
{
  char exe[PATH_MAX], dir[PATH_MAX + sizeof(INSTALLED_WEB)];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0) return NULL;
  exe[n] = '\0';
  char *slash = strrchr(exe, '/');
  if (!slash) return NULL;
  *slash = '\0';
  snprintf(dir, sizeof(dir), "%s%s", exe, INSTALLED_WEB);
  char *real = realpath(dir, NULL);
  if (real && !has_index(real)) {
    free(real);
    real = NULL;
  }
  return real;
}

void fc_cli__web_root(fc_config_t *cfg)
{
  if (!cfg->web_root) {
    char *inst = installed_web();
    cfg->web_root = fc_strdup(inst ? inst : "./web");
    free(inst);
  }
  char esc[FC_LOG_ESC_MAX];
  if (has_index(cfg->web_root)) {
    fc_log(FC_LOG_INFO, NULL, "event=web_root path=\"%s\"",
           fc_log_esc(cfg->web_root, esc, sizeof(esc)));
  } else {
    fc_log(FC_LOG_WARN, NULL,
           "event=web_root_missing path=\"%s\" msg=\"no index.html there: the dashboard answers "
           "404 until --web-root names the web UI's directory\"",
           fc_log_esc(cfg->web_root, esc, sizeof(esc)));
  }
}
