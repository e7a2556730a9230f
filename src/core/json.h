/* How flashcharge reads and writes JSON.
 *
 * Writing: compact, and numbers with at most 12 significant digits (a
 * meter's 123.4 stays 123.4, not 123.40000000000001).
 *
 * Reading: fc_json_parse, a faster equivalent of jansson's
 * json_loadb(..., JSON_REJECT_DUPLICATES, ...) for the hot path (json_parse.c
 * says why and what it guarantees). */
#ifndef FC_CORE_JSON_H
#define FC_CORE_JSON_H

#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>

#define FC_JSON_DUMP (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12))

typedef struct fc_json_error {
  size_t position;  /* byte offset in the input where the error was found */
  const char *text; /* static, never quotes the input; "" on success */
} fc_json_error_t;

/* Parses buf[0..len) (need not be NUL-terminated) as one JSON array or
 * object, accepting and refusing exactly what jansson 2.14's
 * json_loadb(buf, len, JSON_REJECT_DUPLICATES, ...) does and building the
 * same tree. Returns a new reference (caller json_decref's it), or NULL with
 * *err filled in (err may be NULL). buf is borrowed. Any thread; no global
 * state but the C locale object created once for number conversion. */
json_t *fc_json_parse(const char *buf, size_t len, fc_json_error_t *err);

/* Reads a whole number given as a JSON integer or as a real without a
 * fraction (5.0: OCPP's schemas say "integer", and some senders write
 * them so). False for anything else. */
static inline bool fc_json_int_value(const json_t *v, long long *out)
{
  if (json_is_integer(v)) {
    *out = (long long)json_integer_value(v);
    return true;
  }
  if (json_is_real(v)) {
    double d = json_real_value(v);
    if (d == floor(d) && fabs(d) < 9.2e18) {
      *out = (long long)d;
      return true;
    }
  }
  return false;
}

#endif
