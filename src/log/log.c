#include "log/log.h"

#include "core/err.h"

#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

fc_log_level_t fc_log_level = FC_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "notice", "info", "debug"};

void fc_log_emit(fc_log_level_t level, const fc_log_ctx_t *ctx, const char *fmt, ...)
{
  char line[2048];
  size_t n = 0;
  struct timespec ts;
  struct tm tm;

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  n += strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
  n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ level=%s", ts.tv_nsec / 1000000,
                        level_names[level]);
  if (ctx) {
    if (ctx->cp && n < sizeof(line))
      n += (size_t)snprintf(line + n, sizeof(line) - n, " cp=%s", ctx->cp);
    if (ctx->conn && n < sizeof(line))
      n +=
          (size_t)snprintf(line + n, sizeof(line) - n, " conn=%llu", (unsigned long long)ctx->conn);
    if (ctx->msg_id && n < sizeof(line))
      n += (size_t)snprintf(line + n, sizeof(line) - n, " id=%s", ctx->msg_id);
  }
  if (n < sizeof(line) - 1) {
    line[n++] = ' ';
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
    va_end(ap);
    if (w > 0) n += (size_t)w;
  }
  if (n > sizeof(line) - 2) n = sizeof(line) - 2;
  line[n++] = '\n';
  fwrite(line, 1, n, stderr);
}

int fc_log_parse_level(const char *s, fc_log_level_t *out)
{
  for (unsigned i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
    if (strcmp(s, level_names[i]) == 0) {
      *out = (fc_log_level_t)i;
      return 0;
    }
  }
  return FC_ERR_INVAL;
}

const char *fc_log_mask(const char *tag, char *buf, unsigned bufsz)
{
  size_t len = tag ? strlen(tag) : 0;
  if (bufsz < 8) {
    if (bufsz) buf[0] = '\0';
    return buf;
  }
  if (len <= 4) {
    snprintf(buf, bufsz, "****");
  } else {
    snprintf(buf, bufsz, "%.2s****%s", tag, tag + len - 2);
  }
  return buf;
}

static void lws_emit(int level, const char *line)
{
  fc_log_level_t l = FC_LOG_DEBUG;
  if (level & LLL_ERR)
    l = FC_LOG_ERROR;
  else if (level & LLL_WARN)
    l = FC_LOG_WARN;
  else if (level & LLL_NOTICE)
    l = FC_LOG_NOTICE;
  size_t len = strlen(line);
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  fc_log(l, NULL, "src=lws msg=\"%.*s\"", (int)len, line);
}

void fc_log_route_lws(void)
{
  int mask = LLL_ERR | LLL_WARN;
  if (fc_log_level >= FC_LOG_DEBUG) mask |= LLL_NOTICE;
  lws_set_log_level(mask, lws_emit);
}
