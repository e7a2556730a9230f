#include "log/log.h"

#include "core/err.h"
#include "core/utf8.h"

#include <libwebsockets.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

fc_log_level_t fc_log_level = FC_LOG_INFO;
fc_log_format_t fc_log_format = FC_LOG_TEXT;

static const char *const level_names[] = {"error", "warn", "notice", "info", "debug"};

/* True when s can be a log value without quotes: printable ASCII, no blank,
 * quote, backslash or '='. */
static int plain(const char *s)
{
  for (; *s; s++)
    if (*s <= 0x20 || *s >= 0x7f || *s == '"' || *s == '\\' || *s == '=') return 0;
  return 1;
}

/* How a character is escaped: in a text line's bare value, in its quoted
 * value, or in a JSON string. */
typedef enum { ESC_BARE, ESC_QUOTED, ESC_JSON } esc_mode_t;

/* The escaped form of the character at p (before end) into tmp (8 bytes):
 * returns its length and sets *adv to the bytes it stands for. \n \r \t as
 * such; '"' and '\\' with a backslash unless bare; other control bytes and
 * DEL as \xNN (JSON: \u00NN); valid UTF-8 kept; a byte that is not UTF-8 as
 * the text \xNN (in JSON, its backslash escaped). */
static size_t esc_char(const unsigned char *p, const unsigned char *end, esc_mode_t mode, char *tmp,
                       size_t *adv)
{
  unsigned char ch = *p;
  *adv = 1;
  if (ch == '\n' || ch == '\r' || ch == '\t' || (mode != ESC_BARE && (ch == '"' || ch == '\\'))) {
    tmp[0] = '\\';
    tmp[1] = ch == '\n' ? 'n' : ch == '\r' ? 'r' : ch == '\t' ? 't' : (char)ch;
    return 2;
  }
  if (ch < 0x20 || ch == 0x7f)
    return (size_t)snprintf(tmp, 8, mode == ESC_JSON ? "\\u%04x" : "\\x%02x", ch);
  if (ch < 0x80) {
    tmp[0] = (char)ch;
    return 1;
  }
  size_t n = fc_utf8_len(p, end);
  if (n > 0) {
    memcpy(tmp, p, n);
    *adv = n;
    return n;
  }
  return (size_t)snprintf(tmp, 8, mode == ESC_JSON ? "\\\\x%02x" : "\\x%02x", ch);
}

/* Appends s escaped to out (cap bytes, NUL-terminated); see fc_log_esc.
 * quotes: escape '"' and '\\' too (a quoted value), else control bytes
 * only. Returns the new length; stops (with "..." when room) at cap. */
static size_t esc_append(char *out, size_t at, size_t cap, const char *s, int quotes)
{
  const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
  while (p < end) {
    char tmp[8];
    size_t adv, n = esc_char(p, end, quotes ? ESC_QUOTED : ESC_BARE, tmp, &adv);
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

/* ---- --log-format json ----
 *
 * The same fields as a text line, as one JSON object: ts, level, cp, conn
 * and id from the context, then each key=value of the message in its order.
 * Every value is a JSON string (a shipper types fields itself; a value that
 * is a number in one line may be an id in the next). A quoted value is
 * unescaped first (fc_log_esc's \" \\ \n \r \t, \xNN below 0x80), then
 * written with JSON's escapes; a byte that is not UTF-8 stays "\xNN" as text.
 * A line too long for the buffer is cut inside a value, which ends "...",
 * and the object is still closed. */

#define JSON_ROOM 12 /* kept for the longest ending, ...":""}\n */

typedef struct jbuf {
  char *p;
  size_t n, cap;
  int full;
  int in; /* 0 between fields, 1 in a key, 2 in a value */
} jbuf_t;

static void jraw(jbuf_t *b, const char *s, size_t len)
{
  if (b->full) return;
  if (b->n + len + JSON_ROOM > b->cap) {
    b->full = 1;
    return;
  }
  memcpy(b->p + b->n, s, len);
  b->n += len;
}

/* Appends s[0..len) escaped as a JSON string's contents. */
static void jstr(jbuf_t *b, const char *s, size_t len)
{
  const unsigned char *p = (const unsigned char *)s, *end = p + len;
  while (p < end && !b->full) {
    char tmp[8];
    size_t adv, n = esc_char(p, end, ESC_JSON, tmp, &adv);
    jraw(b, tmp, n);
    if (!b->full) p += adv;
  }
}

static void jfield(jbuf_t *b, const char *key, size_t klen, const char *val, size_t vlen)
{
  jraw(b, ",\"", 2);
  if (b->full) return;
  b->in = 1;
  jstr(b, key, klen);
  jraw(b, "\":\"", 3);
  if (b->full) return;
  b->in = 2;
  jstr(b, val, vlen);
  jraw(b, "\"", 1);
  if (!b->full) b->in = 0;
}

static int hexval(char c)
{
  return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Unescapes the quoted value that starts after the opening quote at *sp
 * into out (room for strlen(*sp) bytes); leaves *sp after the closing
 * quote. Returns the length. */
static size_t unquote(const char **sp, char *out)
{
  const char *s = *sp;
  size_t n = 0;
  while (*s && *s != '"') {
    if (*s == '\\' && s[1]) {
      char c = s[1];
      int hi, lo;
      if (c == 'n' || c == 'r' || c == 't' || c == '"' || c == '\\') {
        out[n++] = c == 'n' ? '\n' : c == 'r' ? '\r' : c == 't' ? '\t' : c;
        s += 2;
        continue;
      }
      /* \x00 is not one of fc_log_esc's (a C string has no NUL): kept as text */
      if (c == 'x' && (hi = hexval(s[2])) >= 0 && (lo = hexval(s[3])) >= 0 && hi < 8 && (hi | lo)) {
        out[n++] = (char)(hi << 4 | lo);
        s += 4;
        continue;
      }
    }
    out[n++] = *s++;
  }
  *sp = *s ? s + 1 : s;
  return n;
}

/* The message's key=value pairs as JSON fields; a word without '=' (there
 * should be none) goes under "text". */
static void jbody(jbuf_t *b, const char *s, char *scratch)
{
  while (*s && !b->full) {
    while (*s == ' ')
      s++;
    if (!*s) break;
    const char *k = s;
    while (*s && *s != '=' && *s != ' ')
      s++;
    if (*s != '=') {
      jfield(b, "text", 4, k, (size_t)(s - k));
      continue;
    }
    size_t klen = (size_t)(s - k);
    s++;
    if (*s == '"') {
      s++;
      size_t vlen = unquote(&s, scratch);
      jfield(b, k, klen, scratch, vlen);
    } else {
      const char *v = s;
      while (*s && *s != ' ')
        s++;
      jfield(b, k, klen, v, (size_t)(s - v));
    }
  }
}

static void emit_json(const char *tsbuf, fc_log_level_t level, const fc_log_ctx_t *ctx,
                      const char *body)
{
  char line[4096], scratch[2048];
  jbuf_t b = {line, 0, sizeof(line), 0, 2};
  jraw(&b, "{\"ts\":\"", 7);
  jstr(&b, tsbuf, strlen(tsbuf));
  jraw(&b, "\"", 1);
  b.in = 0;
  jfield(&b, "level", 5, level_names[level], strlen(level_names[level]));
  if (ctx && ctx->cp) jfield(&b, "cp", 2, ctx->cp, strlen(ctx->cp));
  if (ctx && ctx->conn) {
    char num[24];
    int n = snprintf(num, sizeof(num), "%llu", (unsigned long long)ctx->conn);
    jfield(&b, "conn", 4, num, (size_t)n);
  }
  if (ctx && ctx->msg_id) jfield(&b, "id", 2, ctx->msg_id, strlen(ctx->msg_id));
  jbody(&b, body, scratch);
  if (b.full) {
    /* Cut: end the key (with an empty value) or the value, then the object. */
    const char *end = b.in == 1 ? "...\":\"\"" : b.in == 2 ? "...\"" : "";
    memcpy(line + b.n, end, strlen(end));
    b.n += strlen(end);
  }
  memcpy(line + b.n, "}\n", 2);
  fwrite(line, 1, b.n + 2, stderr);
}

void fc_log_emit(fc_log_level_t level, const fc_log_ctx_t *ctx, const char *fmt, ...)
{
  char line[2048], body[2048];
  size_t n = 0;
  struct timespec ts;
  struct tm tm;

  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  if (fc_log_format == FC_LOG_JSON) {
    char tsbuf[40];
    size_t tn = strftime(tsbuf, sizeof(tsbuf), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(tsbuf + tn, sizeof(tsbuf) - tn, ".%03ldZ", ts.tv_nsec / 1000000);
    va_list ap;
    va_start(ap, fmt);
    int bn = vsnprintf(body, sizeof(body), fmt, ap);
    va_end(ap);
    if (bn >= (int)sizeof(body)) memcpy(body + sizeof(body) - 4, "...", 4); /* cut: say so */
    emit_json(tsbuf, level, ctx, body);
    return;
  }
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
  char raw[512], esc[sizeof(raw) + 64];
  size_t len = strlen(line);
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    len--;
  snprintf(raw, sizeof(raw), "%.*s", (int)len, line);
  /* Escaped like a peer's string: its quotes would end the value. */
  fc_log(l, NULL, "src=lws msg=\"%s\"", fc_log_esc(raw, esc, sizeof(esc)));
}

void fc_log_route_lws(void)
{
  int mask = LLL_ERR | LLL_WARN;
  if (fc_log_level >= FC_LOG_DEBUG) mask |= LLL_NOTICE;
  lws_set_log_level(mask, lws_emit);
}
