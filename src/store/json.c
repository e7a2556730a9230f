/* JSON text made by the store: a bus event's one serialisation (FC_OP_EVENT),
 * a meter reading's sampled values (from the op's typed fields), and the
 * JSON reads' results.
 * Backend-independent: the postgres backend will give the same bytes.
 *
 * The writer below gives exactly what jansson's json_dumps(JSON_COMPACT |
 * JSON_ENCODE_ANY | JSON_REAL_PRECISION(p)) gives (members in insertion
 * order; ", \\ and control characters escaped, \\u00XX in capitals;
 * reals as "%.*g", with ".0" when that looks like an integer and no '+' or
 * leading zeros in the exponent), in a few times fewer instructions: it
 * writes into one growing buffer, where jansson calls back for every piece
 * and escapes a string code point by code point. The writer thread
 * serialises every event and every reading, so it is on the path of every
 * message. The text is fc_malloc'd (freed with fc_free, like the rest of the
 * op and the read).
 *
 * An event's data object belongs to the op, and the loop thread reads it again
 * after the write's callback; other values inside it may be shared with loop
 * objects (json_pack "O"). So the writer thread only reads it: no copy, no
 * incref, no set. The one change the event rules make (take_tx_id: its
 * "transactionId" becomes the new transaction's id) is made while writing,
 * member by member. */
#include "store/store_int.h"

#include "core/err.h"
#include "core/mem.h"
#include "core/utf8.h"

#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct sbuf {
  char *p;
  size_t n, cap;
} sbuf_t;

/* Room for n more bytes and the NUL. */
static void reserve(sbuf_t *b, size_t n)
{
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n + 1)
      cap *= 2;
    b->p = fc_realloc(b->p, cap);
    b->cap = cap;
  }
}

static void put(sbuf_t *b, const char *s, size_t n)
{
  reserve(b, n);
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

static void puts_(sbuf_t *b, const char *s)
{
  put(b, s, strlen(s));
}

/* True when s[0..n) is valid UTF-8 (as jansson requires of its strings). */
static bool utf8_valid(const unsigned char *s, size_t n)
{
  const unsigned char *end = s + n;
  while (s < end) {
    size_t len = *s < 0x80 ? 1 : fc_utf8_len(s, end);
    if (!len) return false;
    s += len;
  }
  return true;
}

/* s[0..n) as a JSON string (valid UTF-8: jansson's strings are, and
 * put_str checks the others). */
static void put_strn(sbuf_t *b, const char *s, size_t n)
{
  static const char hex[] = "0123456789ABCDEF";
  size_t from = 0, i = 0;
  while (i < n && (unsigned char)s[i] >= 0x20 && s[i] != '"' && s[i] != '\\')
    i++;
  if (i == n) {
    /* nothing to escape (nearly always): one copy between the quotes */
    reserve(b, n + 2);
    char *o = b->p + b->n;
    o[0] = '"';
    memcpy(o + 1, s, n);
    o[n + 1] = '"';
    b->n += n + 2;
    b->p[b->n] = '\0';
    return;
  }
  put(b, "\"", 1);
  for (; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    put(b, s + from, i - from);
    from = i + 1;
    switch (c) {
    case '"':
      put(b, "\\\"", 2);
      break;
    case '\\':
      put(b, "\\\\", 2);
      break;
    case '\b':
      put(b, "\\b", 2);
      break;
    case '\f':
      put(b, "\\f", 2);
      break;
    case '\n':
      put(b, "\\n", 2);
      break;
    case '\r':
      put(b, "\\r", 2);
      break;
    case '\t':
      put(b, "\\t", 2);
      break;
    default: {
      char u[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf]};
      put(b, u, sizeof(u));
    }
    }
  }
  put(b, s + from, n - from);
  put(b, "\"", 1);
}

/* An integer in decimal, as "%lld" writes it (without printf, which costs
 * a thousand instructions and more a call: the writer writes a few per
 * event). */
static void put_int(sbuf_t *b, int64_t v)
{
  char buf[24], *e = buf + sizeof(buf), *p = e;
  uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  do {
    *--p = (char)('0' + u % 10);
    u /= 10;
  } while (u);
  if (v < 0) *--p = '-';
  put(b, p, (size_t)(e - p));
}

/* A real that is a short decimal, as meters' values are (11001.31, 7360,
 * 42.5), written without printf, which costs some thousands of instructions
 * a real (the readings of a MeterValues' event have a dozen). v is a short
 * decimal D = n / 10^k when n / 10^k, correctly rounded, is v. For such a
 * D of at most `precision` significant digits, precision <= 15 (DBL_DIG),
 * "%.*g" gives D's digits back: D is the p-digit decimal nearest v. With
 * 1e-4 <= |v| < 1e12 and precision >= 12, "%g" writes it without an
 * exponent; it drops trailing zeros, and jansson adds ".0" to an integer.
 * false: not such a value, nothing written. */
static bool put_real_decimal(sbuf_t *b, double v, int precision)
{
  static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6};
  static const int64_t ipow10[] = {1, 10, 100, 1000, 10000, 100000, 1000000};
  int64_t limit = 1;
  double a = fabs(v);
  if (precision < 12 || precision > 15 || !(a >= 1e-4 && a < 1e12)) return false;
  for (int i = 0; i < precision; i++)
    limit *= 10;
  for (int k = 0; k < (int)FC_ARRAY_SIZE(pow10); k++) {
    double x = a * pow10[k];
    if (!(x < 1e15)) return false;
    int64_t n = (int64_t)(x + 0.5);
    if (n >= limit) return false;
    if ((double)n / pow10[k] != a) continue;
    char buf[40], *e = buf + sizeof(buf), *p = e;
    int64_t ip = n / ipow10[k], fp = n % ipow10[k];
    if (k == 0) {
      *--p = '0';
      *--p = '.';
    } else {
      int digits = k;
      while (digits > 0 && fp % 10 == 0) { /* none when k is the least k */
        fp /= 10;
        digits--;
      }
      for (int d = 0; d < digits; d++, fp /= 10)
        *--p = (char)('0' + fp % 10);
      *--p = '.';
    }
    do {
      *--p = (char)('0' + ip % 10);
      ip /= 10;
    } while (ip);
    if (v < 0) *--p = '-';
    put(b, p, (size_t)(e - p));
    return true;
  }
  return false;
}

/* A real as jansson writes it (jsonp_dtostr). */
static void put_real(sbuf_t *b, double v, int precision)
{
  if (put_real_decimal(b, v, precision)) return;
  char buf[64];
  int n = snprintf(buf, sizeof(buf) - 3, "%.*g", precision, v);
  if (n < 0 || (size_t)n >= sizeof(buf) - 3) n = snprintf(buf, sizeof(buf), "0.0");
  size_t len = (size_t)n;
  if (!memchr(buf, '.', len) && !memchr(buf, 'e', len)) {
    memcpy(buf + len, ".0", 3);
    len += 2;
  }
  char *e = memchr(buf, 'e', len);
  if (e) {
    char *start = e + 1, *end = e + 2;
    if (*start == '-') start++;
    while (*end == '0')
      end++;
    if (end != start) {
      memmove(start, end, len - (size_t)(end - buf) + 1);
      len -= (size_t)(end - start);
    }
  }
  put(b, buf, len);
}

static void put_value(sbuf_t *b, const json_t *v, int precision)
{
  const char *key;
  json_t *m;
  size_t i;
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    put(b, "{", 1);
    i = 0;
    json_object_foreach((json_t *)v, key, m) /* the macro wants non-const; it only reads */
    {
      if (i++) put(b, ",", 1);
      put_strn(b, key, strlen(key));
      put(b, ":", 1);
      put_value(b, m, precision);
    }
    put(b, "}", 1);
    break;
  case JSON_ARRAY:
    put(b, "[", 1);
    json_array_foreach(v, i, m)
    {
      if (i) put(b, ",", 1);
      put_value(b, m, precision);
    }
    put(b, "]", 1);
    break;
  case JSON_STRING:
    put_strn(b, json_string_value(v), json_string_length(v));
    break;
  case JSON_INTEGER:
    put_int(b, json_integer_value(v));
    break;
  case JSON_REAL:
    put_real(b, json_real_value(v), precision);
    break;
  case JSON_TRUE:
    put(b, "true", 4);
    break;
  case JSON_FALSE:
    put(b, "false", 5);
    break;
  case JSON_NULL:
    put(b, "null", 4);
    break;
  }
}

/* For the events: 123.4, not 123.40000000000001. */
#define EVENT_PRECISION 12

static void put_json(sbuf_t *b, const json_t *v)
{
  put_value(b, v, EVENT_PRECISION);
}

/* s as a JSON string; -1 if it is not valid UTF-8. */
static int put_str(sbuf_t *b, const char *s)
{
  size_t n = strlen(s);
  if (!utf8_valid((const unsigned char *)s, n)) return -1;
  put_strn(b, s, n);
  return 0;
}

char *fc_store__json_text(const json_t *j, int precision, size_t *len)
{
  sbuf_t b = {0};
  if (!j) return NULL;
  put_value(&b, j, precision ? precision : 17);
  if (len) *len = b.n;
  return b.p;
}

char *fc_store__json_dump(const json_t *j, size_t *len)
{
  /* The reals of the reads come from decimal strings ("11001.31"); 15
   * significant digits give those back as they were, where jansson's default
   * 17 would show 11001.309999999999. */
  return fc_store__json_text(j, 15, len);
}

/* data, with its top-level "transactionId" written as tx_id (when > 0): in
 * place of its value, or added last when data has none. */
static int put_data(sbuf_t *b, const json_t *data, int64_t tx_id)
{
  const char *key;
  json_t *v;
  bool first = true, done = false;

  if (!data) {
    puts_(b, "{}");
    return 0;
  }
  if (!json_is_object(data) || tx_id <= 0) {
    put_json(b, data);
    return 0;
  }
  puts_(b, "{");
  json_object_foreach((json_t *)data, key, v) /* the macro wants non-const; it only reads */
  {
    if (!first) puts_(b, ",");
    first = false;
    if (put_str(b, key)) return -1;
    puts_(b, ":");
    if (!done && strcmp(key, "transactionId") == 0) {
      put_int(b, tx_id);
      done = true;
    } else {
      put_json(b, v);
    }
  }
  if (!done) {
    if (!first) puts_(b, ",");
    puts_(b, "\"transactionId\":");
    put_int(b, tx_id);
  }
  puts_(b, "}");
  return 0;
}

char *fc_store__event_json(const fc_op_t *op, int64_t seq, int64_t tx_id, size_t *len)
{
  const fc_op_event_t *ev = &op->event;
  sbuf_t b = {0};
  char ts[FC_STORE__TIME_LEN];

  puts_(&b, "{\"type\":");
  if (!ev->type || put_str(&b, ev->type)) goto fail;
  puts_(&b, ",\"charger\":");
  if (put_str(&b, op->charger)) goto fail;
  fc_store__format_time(ev->ts_ms, ts);
  puts_(&b, ",\"connector\":");
  put_int(&b, ev->connector);
  puts_(&b, ",\"seq\":");
  put_int(&b, seq);
  puts_(&b, ",\"ts\":\"");
  puts_(&b, ts);
  puts_(&b, "\",\"data\":");
  if (put_data(&b, ev->data, tx_id)) goto fail;
  puts_(&b, "}");
  *len = b.n;
  return b.p;

fail:
  fc_free(b.p);
  return NULL;
}

/* ,"key":"s" when s is not NULL; -1 if s is not valid UTF-8. */
static int put_member(sbuf_t *b, const char *key, const char *s, bool *first)
{
  if (!s) return 0;
  if (!*first) put(b, ",", 1);
  *first = false;
  puts_(b, key);
  return put_str(b, s);
}

char *fc_store__sampled_json(const fc_op_reading_t *r, size_t *len)
{
  sbuf_t b = {0};
  put(&b, "[", 1);
  for (size_t i = 0; i < r->n; i++) {
    const fc_op_sampled_t *s = &r->sampled[i];
    bool first = true;
    if (i) put(&b, ",", 1);
    put(&b, "{", 1);
    if (put_member(&b, "\"value\":", s->value, &first) ||
        put_member(&b, "\"context\":", s->context, &first) ||
        put_member(&b, "\"format\":", s->format, &first) ||
        put_member(&b, "\"measurand\":", s->measurand, &first) ||
        put_member(&b, "\"phase\":", s->phase, &first) ||
        put_member(&b, "\"location\":", s->location, &first) ||
        put_member(&b, "\"unit\":", s->unit, &first)) {
      fc_free(b.p);
      return NULL;
    }
    put(&b, "}", 1);
  }
  put(&b, "]", 1);
  *len = b.n;
  return b.p;
}
