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

#endif
