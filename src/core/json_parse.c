/* fc_json_parse: JSON text to jansson values, in one pass over the buffer.
 *
 * Why not json_loadb: it is the largest single cost of the loop thread when
 * chargers send MeterValues. Measured on a 330-byte MeterValues frame,
 * json_loadb + json_decref took 9.7 us, while building the same tree with
 * jansson's constructors and freeing it took 1.5 us: the rest is jansson's
 * lexer, which reads a byte at a time through a stream callback, decodes
 * UTF-8 per byte and copies every token into a strbuffer before converting
 * it. No library in Debian 12 parses into json_t, and everything after the
 * envelope (schema validation, handlers) works on json_t, so this parser
 * builds jansson values directly: strings without escapes are validated in
 * place and copied once by json_stringn_nocheck, keys go straight into
 * json_object_setn_new_nocheck.
 *
 * What it guarantees: for every input it accepts and refuses exactly what
 * json_loadb(buf, len, JSON_REJECT_DUPLICATES, &err) of jansson 2.14 does,
 * and an accepted input gives the same tree (same types, integer against
 * real included, same values, same key order). fuzz/fuzz_json_parse.c checks
 * this against the jansson the process links. The rules, as jansson has them:
 *  - the top-level value is an array or an object (no JSON_DECODE_ANY), and
 *    only whitespace (space, tab, LF, CR) may follow it;
 *  - strings: strict UTF-8 (no overlongs, no surrogates, nothing past
 *    U+10FFFF), no raw byte below 0x20, the escapes of RFC 8259 only, \u
 *    surrogates only as a high-low pair, and no NUL, escaped or not (no
 *    JSON_ALLOW_NUL), in keys and values alike;
 *  - an object key appears once (JSON_REJECT_DUPLICATES);
 *  - numbers: -?(0|[1-9][0-9]*) without fraction or exponent is an integer
 *    (json_int_t; "-0" is the integer 0) and is refused when it does not fit;
 *    with a fraction or an exponent it is a real, converted by strtod as
 *    jansson does, refused when it overflows to infinity (an underflow is
 *    accepted, as 0 or a subnormal); the conversion uses the C locale
 *    explicitly (strtod_l), so the process's locale does not matter;
 *  - nesting: a value deeper than JSON_PARSER_MAX_DEPTH (2048, the top-level
 *    value being at depth 1) is refused, scalars included, as jansson counts
 *    them; the recursion is bounded by the same limit.
 * Error texts are our own and never quote the peer's bytes. */
#include "core/json.h"

#include "core/mem.h"
#include "core/utf8.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 2048 /* JSON_PARSER_MAX_DEPTH of jansson 2.14 */

typedef struct parser {
  const unsigned char *p, *end, *start;
  const char *err; /* first error, a static text */
  const unsigned char *err_at;
  char *scratch; /* unescaped strings; scratch_local or heap */
  size_t scratch_cap;
  char scratch_local[512];
} parser_t;

static json_t *value(parser_t *ps, unsigned depth);

/* A quirk of jansson's lexer, kept for equivalence: a number or a literal
 * ends at the first byte that cannot continue it, which the lexer reads and
 * puts back; a NUL byte put back is lost (its stream buffer is
 * NUL-terminated, so it reads a fresh byte instead). One NUL byte right
 * after a number, true, false or null is thus skipped: "[5\0]" is [5]. */
static inline void skip_ungot_nul(parser_t *ps)
{
  if (ps->p < ps->end && *ps->p == '\0') ps->p++;
}

static json_t *fail(parser_t *ps, const unsigned char *at, const char *text)
{
  if (!ps->err) {
    ps->err = text;
    ps->err_at = at;
  }
  return NULL;
}

static inline void skip_ws(parser_t *ps)
{
  const unsigned char *p = ps->p, *end = ps->end;
  while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
    p++;
  ps->p = p;
}

/* Byte classes inside a string: 0 plain ASCII, 1 '"', 2 '\\', 3 control
 * character, 4 first byte of a UTF-8 sequence (or not UTF-8 at all). */
enum { C_PLAIN, C_QUOTE, C_ESC, C_CTRL, C_HIGH };
static const unsigned char str_class[256] = {
    [0x00 ... 0x1f] = C_CTRL,
    ['"'] = C_QUOTE,
    ['\\'] = C_ESC,
    [0x80 ... 0xff] = C_HIGH,
};

/* Eight bytes at once: nonzero when one of them is not plain ASCII (a quote,
 * a backslash, a control character or a byte >= 0x80). The lowest byte
 * flagged is exactly the first such byte (the classic zero-byte tests only
 * err in the bytes above a true one), so with the load little-endian,
 * ctz / 8 is its index. */
static inline uint64_t special8(const unsigned char *p)
{
  uint64_t w;
  memcpy(&w, p, 8);
  const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
  uint64_t q = w ^ (ones * '"'), b = w ^ (ones * '\\');
  uint64_t zq = (q - ones) & ~q, zb = (b - ones) & ~b, lt = w - ones * 0x20;
  return ((zq | zb | lt) & ~w & highs) | (w & highs);
}

/* The one-character escapes and what they stand for; 0: not one. */
static const char unescape[256] = {
    ['"'] = '"',  ['\\'] = '\\', ['/'] = '/',  ['b'] = '\b',
    ['f'] = '\f', ['n'] = '\n',  ['r'] = '\r', ['t'] = '\t',
};

static int hex4(const unsigned char *p)
{
  int v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9')
      v |= c - '0';
    else if (c >= 'a' && c <= 'f')
      v |= c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      v |= c - 'A' + 10;
    else
      return -1;
  }
  return v;
}

static char *scratch(parser_t *ps, size_t n)
{
  if (n > ps->scratch_cap) {
    if (ps->scratch != ps->scratch_local) fc_free(ps->scratch);
    ps->scratch = fc_malloc(n);
    ps->scratch_cap = n;
  }
  return ps->scratch;
}

/* The string that starts after the opening quote at ps->p. On success *s and
 * *n give its bytes: in the input when it has no escape, else unescaped into
 * the scratch buffer (valid until the next string). ps->p ends after the
 * closing quote. */
static int string(parser_t *ps, const char **s, size_t *n)
{
  const unsigned char *p = ps->p, *end = ps->end, *begin = p;
  for (;;) {
    while (end - p >= 8) {
      uint64_t m = special8(p);
      if (m) {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        p += __builtin_ctzll(m) >> 3;
#endif
        break; /* (elsewhere, the byte loop finds it) */
      }
      p += 8;
    }
    if (p >= end) goto premature;
    switch (str_class[*p]) {
    case C_PLAIN:
      p++;
      continue;
    case C_QUOTE:
      *s = (const char *)begin;
      *n = (size_t)(p - begin);
      ps->p = p + 1;
      return 0;
    case C_ESC:
      goto escaped;
    case C_CTRL:
      fail(ps, p, *p ? "control character in string" : "NUL byte in string");
      return -1;
    default: {
      size_t k = fc_utf8_len(p, end);
      if (!k) goto bad_utf8;
      p += k;
    }
    }
  }

escaped:;
  /* Unescaping never lengthens: what is left of the input bounds the result. */
  char *out = scratch(ps, (size_t)(end - begin)), *o = out;
  memcpy(o, begin, (size_t)(p - begin));
  o += p - begin;
  for (;;) {
    if (p >= end) goto premature;
    unsigned char c = *p;
    switch (str_class[c]) {
    case C_PLAIN:
      *o++ = (char)c;
      p++;
      continue;
    case C_QUOTE:
      *s = out;
      *n = (size_t)(o - out);
      ps->p = p + 1;
      return 0;
    case C_CTRL:
      fail(ps, p, c ? "control character in string" : "NUL byte in string");
      return -1;
    case C_HIGH: {
      size_t k = fc_utf8_len(p, end);
      if (!k) goto bad_utf8;
      memcpy(o, p, k);
      o += k;
      p += k;
      continue;
    }
    default: /* C_ESC */
      break;
    }
    if (end - p < 2) goto premature;
    const unsigned char *esc = p;
    if (p[1] != 'u') {
      char e = unescape[p[1]];
      if (!e) goto bad_escape;
      *o++ = e;
      p += 2;
      continue;
    }
    /* \uXXXX; a high surrogate only with its low one. */
    int u;
    if (end - p < 6 || (u = hex4(p + 2)) < 0) goto bad_escape;
    p += 6;
    uint32_t cp = (uint32_t)u;
    if (cp >= 0xdc00 && cp <= 0xdfff) goto bad_surrogate;
    if (cp >= 0xd800 && cp <= 0xdbff) {
      int lo;
      if (end - p < 6 || p[0] != '\\' || p[1] != 'u') goto bad_surrogate;
      if ((lo = hex4(p + 2)) < 0) goto bad_escape;
      if (lo < 0xdc00 || lo > 0xdfff) goto bad_surrogate;
      p += 6;
      cp = 0x10000 + ((cp - 0xd800) << 10) + ((uint32_t)lo - 0xdc00);
    }
    if (cp == 0) {
      fail(ps, esc, "\\u0000 in string");
      return -1;
    }
    if (cp < 0x80) {
      *o++ = (char)cp;
    } else if (cp < 0x800) {
      *o++ = (char)(0xc0 | (cp >> 6));
      *o++ = (char)(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
      *o++ = (char)(0xe0 | (cp >> 12));
      *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
      *o++ = (char)(0x80 | (cp & 0x3f));
    } else {
      *o++ = (char)(0xf0 | (cp >> 18));
      *o++ = (char)(0x80 | ((cp >> 12) & 0x3f));
      *o++ = (char)(0x80 | ((cp >> 6) & 0x3f));
      *o++ = (char)(0x80 | (cp & 0x3f));
    }
    continue;
  }

premature:
  fail(ps, end, "premature end of input in string");
  return -1;
bad_utf8:
  fail(ps, p, "invalid UTF-8");
  return -1;
bad_escape:
  fail(ps, p, "invalid escape");
  return -1;
bad_surrogate:
  fail(ps, p, "invalid \\u surrogate");
  return -1;
}

static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;

static void c_locale_init(void)
{
  c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
  if (!c_locale) abort(); /* the C locale always exists */
}

/* A number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static json_t *number(parser_t *ps)
{
  const unsigned char *p = ps->p, *end = ps->end, *begin = p;
  bool neg = false;
  if (*p == '-') {
    neg = true;
    p++;
  }
  if (p >= end || *p < '0' || *p > '9') return fail(ps, begin, "invalid number");
  uint64_t v = 0;
  const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  bool overflow = false;
  if (*p == '0') {
    p++;
    if (p < end && *p >= '0' && *p <= '9') return fail(ps, begin, "leading zero in number");
  } else {
    do {
      unsigned d = *p - '0';
      if (v > (limit - d) / 10) overflow = true;
      v = v * 10 + d;
      p++;
    } while (p < end && *p >= '0' && *p <= '9');
  }
  if (p >= end || (*p != '.' && *p != 'e' && *p != 'E')) {
    if (overflow) return fail(ps, begin, "integer out of range");
    ps->p = p;
    skip_ungot_nul(ps);
    /* -2^63 is its own negation in two's complement: negate as unsigned. */
    json_int_t i = neg ? (json_int_t)(0 - v) : (json_int_t)v;
    json_t *j = json_integer(i);
    return j ? j : fail(ps, begin, "out of memory");
  }
  if (*p == '.') {
    p++;
    if (p >= end || *p < '0' || *p > '9') return fail(ps, begin, "invalid number");
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  if (p < end && (*p == 'e' || *p == 'E')) {
    p++;
    if (p < end && (*p == '+' || *p == '-')) p++;
    if (p >= end || *p < '0' || *p > '9') return fail(ps, begin, "invalid number");
    while (p < end && *p >= '0' && *p <= '9')
      p++;
  }
  /* strtod needs a terminated string, and the input may not be one. */
  size_t n = (size_t)(p - begin);
  char local[64], *txt = n < sizeof(local) ? local : fc_malloc(n + 1);
  memcpy(txt, begin, n);
  txt[n] = '\0';
  pthread_once(&c_locale_once, c_locale_init);
  errno = 0;
  double d = strtod_l(txt, NULL, c_locale);
  bool huge = (d == HUGE_VAL || d == -HUGE_VAL) && errno == ERANGE;
  if (txt != local) fc_free(txt);
  if (huge) return fail(ps, begin, "real number overflow");
  ps->p = p;
  skip_ungot_nul(ps);
  json_t *j = json_real(d);
  return j ? j : fail(ps, begin, "out of memory");
}

/* Past the '[' or '{' at ps->p and the blanks after it; true (and past the
 * closer too) when the container is empty. */
static bool opened(parser_t *ps, unsigned char close)
{
  ps->p++;
  skip_ws(ps);
  if (ps->p < ps->end && *ps->p == close) {
    ps->p++;
    return true;
  }
  return false;
}

/* After an element of an array or object: 1 when close ended the container,
 * 0 past the ',' and the blanks after it (another element follows), -1
 * failed (eof or bad, the message for each). */
static int after_element(parser_t *ps, unsigned char close, const char *eof, const char *bad)
{
  skip_ws(ps);
  if (ps->p >= ps->end) {
    fail(ps, ps->p, eof);
    return -1;
  }
  unsigned char c = *ps->p++;
  if (c == close) return 1;
  if (c != ',') {
    fail(ps, ps->p - 1, bad);
    return -1;
  }
  skip_ws(ps);
  return 0;
}

static json_t *array(parser_t *ps, unsigned depth)
{
  json_t *a = json_array();
  if (!a) return fail(ps, ps->p, "out of memory");
  if (opened(ps, ']')) return a;
  for (;;) {
    json_t *v = value(ps, depth + 1);
    if (!v || json_array_append_new(a, v) != 0) goto out;
    int next = after_element(ps, ']', "premature end of input in array", "',' or ']' expected");
    if (next > 0) return a;
    if (next < 0) goto out;
  }
out:
  fail(ps, ps->p, "out of memory");
  json_decref(a);
  return NULL;
}

static json_t *object(parser_t *ps, unsigned depth)
{
  json_t *o = json_object();
  char *kcopy = NULL;
  if (!o) return fail(ps, ps->p, "out of memory");
  if (opened(ps, '}')) return o;
  for (;;) {
    const unsigned char *kat = ps->p;
    if (ps->p >= ps->end || *ps->p != '"') {
      fail(ps, ps->p, "string or '}' expected");
      goto out;
    }
    ps->p++;
    const char *key;
    size_t klen;
    if (string(ps, &key, &klen) != 0) goto out;
    if (key == ps->scratch) {
      /* Unescaped into the scratch buffer, which the value may reuse. */
      kcopy = fc_malloc(klen ? klen : 1);
      memcpy(kcopy, key, klen);
      key = kcopy;
    }
    skip_ws(ps);
    if (ps->p >= ps->end || *ps->p != ':') {
      fail(ps, ps->p, "':' expected");
      goto out;
    }
    ps->p++;
    skip_ws(ps);
    json_t *v = value(ps, depth + 1);
    if (!v) goto out;
    /* A duplicate key replaces the value and leaves the size alone: one hash
     * lookup instead of json_object_getn's and then the insertion's. */
    size_t before = json_object_size(o);
    if (json_object_setn_new_nocheck(o, key, klen, v) != 0) goto out; /* v is freed */
    if (json_object_size(o) == before) {
      fail(ps, kat, "duplicate object key");
      goto out;
    }
    if (kcopy) FC_FREE(kcopy);
    int next = after_element(ps, '}', "premature end of input in object", "',' or '}' expected");
    if (next > 0) return o;
    if (next < 0) goto out;
  }
out:
  fail(ps, ps->p, "out of memory");
  if (kcopy) fc_free(kcopy);
  json_decref(o);
  return NULL;
}

static json_t *literal(parser_t *ps, const char *word, size_t n, json_t *v)
{
  if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
    return fail(ps, ps->p, "invalid token");
  ps->p += n;
  skip_ungot_nul(ps);
  return v;
}

/* The value at ps->p, which is not whitespace; depth is its own depth. */
static json_t *value(parser_t *ps, unsigned depth)
{
  if (depth > MAX_DEPTH) return fail(ps, ps->p, "maximum nesting depth reached");
  if (ps->p >= ps->end) return fail(ps, ps->p, "premature end of input");
  switch (*ps->p) {
  case '{':
    return object(ps, depth);
  case '[':
    return array(ps, depth);
  case '"': {
    const char *s;
    size_t n;
    ps->p++;
    if (string(ps, &s, &n) != 0) return NULL;
    json_t *j = json_stringn_nocheck(s, n);
    return j ? j : fail(ps, ps->p, "out of memory");
  }
  case '-':
  case '0' ... '9':
    return number(ps);
  case 't':
    return literal(ps, "true", 4, json_true());
  case 'f':
    return literal(ps, "false", 5, json_false());
  case 'n':
    return literal(ps, "null", 4, json_null());
  default:
    return fail(ps, ps->p, "invalid token");
  }
}

json_t *fc_json_parse(const char *buf, size_t len, fc_json_error_t *err)
{
  parser_t ps;
  ps.start = ps.p = (const unsigned char *)buf;
  ps.end = ps.p + len;
  ps.err = NULL;
  ps.err_at = NULL;
  ps.scratch = ps.scratch_local;
  ps.scratch_cap = sizeof(ps.scratch_local);

  json_t *root = NULL;
  skip_ws(&ps);
  if (ps.p >= ps.end || (*ps.p != '[' && *ps.p != '{')) {
    fail(&ps, ps.p, "'[' or '{' expected");
  } else if ((root = value(&ps, 1)) != NULL) {
    skip_ws(&ps);
    if (ps.p != ps.end) {
      fail(&ps, ps.p, "end of input expected");
      json_decref(root);
      root = NULL;
    }
  }
  if (ps.scratch != ps.scratch_local) fc_free(ps.scratch);
  if (err) {
    err->position = root ? len : (size_t)(ps.err_at - ps.start);
    err->text = root ? "" : ps.err;
  }
  return root;
}
