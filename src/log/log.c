#include "log/log.h"

#include "core/err.h"
#include "core/utf8.h"

#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

fc_log_level_t fc_log_level = FC_LOG_INFO;

static const char *const level_names[] = {"error", "warn", "notice", "info", "debug"};

/* True when s can be a log value without quotes: printable ASCII, no blank,
 * quote, backslash or '='. */
static int plain(const char *s)
{
  for (; *s; s++)
    if (*s <= 0x20 || *s >= 0x7f || *s == '"' || *s == '\\' || *s == '=') return 0;
  return 1;
}

/* Appends s escaped to out (cap bytes, NUL-terminated); see fc_log_esc.
 * quotes: escape '"' and '\\' too (a quoted value), else control bytes
 * only. Returns the new length; stops (with "..." when room) at cap. */
static size_t esc_append(char *out, size_t at, size_t cap, const char *s, int quotes)
{
  const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
  while (p < end) {
    char tmp[8];
    size_t n = 0, adv = 1;
    unsigned char ch = *p;
    if (ch == '\n' || ch == '\r' || ch == '\t') {
      tmp[0] = '\\';
      tmp[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : 't';
      n = 2;
    } else if (quotes && (ch == '"' || ch == '\\')) {
      tmp[0] = '\\';
      tmp[1] = (char)ch;
      n = 2;
    } else if (ch < 0x20 || ch == 0x7f) {
      n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", ch);
    } else if (ch < 0x80) {
      tmp[0] = (char)ch;
      n = 1;
    } else if ((adv = fc_utf8_len(p, end)) > 0) {
      memcpy(tmp, p, adv);
      n = adv;
    } else {
      adv = 1;
      n = (size_t)snprintf(tmp, sizeof(tmp), "\\x%02x", ch);
    }
    if (at + n + 1 > cap) {
      if (cap >= 4) {
        while (at + 4 > cap)
          at--;
        memcpy(out + at, "...", 3);
        at += 3;
      }
      break;
    }
    memcpy(out + at, tmp, n);
    at += n;
    p += adv;
  }
  if (cap) out[at < cap ? at : cap - 1] = '\0';
  return at;
}

const char *fc_log_esc(const char *s, char *buf, unsigned bufsz)
{
  if (!bufsz) return buf;
  buf[0] = '\0';
  esc_append(buf, 0, bufsz, s ? s : "-", 1);
  return buf;
}

int fc_log_every(fc_log_every_t *e, uint64_t now_ms, uint64_t interval_ms, uint64_t *suppressed)
{
  if (e->logged && now_ms - e->last_ms < interval_ms) {
    e->suppressed++;
    return 0;
  }
  if (suppressed) *suppressed = e->suppressed;
  e->suppressed = 0;
  e->last_ms = now_ms;
  e->logged = 1;
  return 1;
}

void fc_log_emit(fc_log_level_t level, const fc_log_ctx_t *ctx, const char *fmt, ...)
{
  char line[2048], body[2048];
  size_t n = 0;
  struct timespec ts;
  struct tm tm;

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  n += strftime(line, sizeof(line), "ts=%Y-%m-%dT%H:%M:%S", &tm);
  n += (size_t)snprintf(line + n, sizeof(line) - n, ".%03ldZ level=%s", ts.tv_nsec / 1000000,
                        level_names[level]);
  if (ctx) {
    /* The charger id is printable without blanks (session.c checks it at
     * the handshake); a message id is whatever the peer sent. */
    if (ctx->cp) {
      n = esc_append(line, n, sizeof(line), " cp=", 0);
      n = esc_append(line, n, sizeof(line), ctx->cp, 0);
    }
    if (ctx->conn && n < sizeof(line))
      n +=
          (size_t)snprintf(line + n, sizeof(line) - n, " conn=%llu", (unsigned long long)ctx->conn);
    if (n >= sizeof(line)) n = sizeof(line) - 1;
    if (ctx->msg_id) {
      int p = plain(ctx->msg_id);
      n = esc_append(line, n, sizeof(line), p ? " id=" : " id=\"", 0);
      n = esc_append(line, n, sizeof(line), ctx->msg_id, !p);
      if (!p) n = esc_append(line, n, sizeof(line), "\"", 0);
    }
  }
  if (n < sizeof(line) - 1) {
    line[n++] = ' ';
    line[n] = '\0';
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    /* One call, one line: a control character that got here (a peer string
     * printed without fc_log_esc) is escaped, never written. */
    n = esc_append(line, n, sizeof(line), body, 0);
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
