/* UTF-8 as jansson accepts it (and so as every JSON string of ours is):
 * shortest form only, no surrogates, nothing above U+10FFFF. One rule for
 * the frame parser (core/json_parse.c), the store's JSON writer and the
 * OCPP encoder's lossy strings. */
#ifndef FC_CORE_UTF8_H
#define FC_CORE_UTF8_H

#include <stddef.h>

/* Length of the valid UTF-8 sequence at p (first byte >= 0x80, p < end),
 * or 0 when there is none. */
static inline size_t fc_utf8_len(const unsigned char *p, const unsigned char *end)
{
  unsigned char c = p[0];
  size_t n;
  unsigned char lo = 0x80, hi = 0xbf; /* the range of the second byte */
  if (c >= 0xc2 && c <= 0xdf)
    n = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    n = 3;
    if (c == 0xe0)
      lo = 0xa0; /* overlong */
    else if (c == 0xed)
      hi = 0x9f; /* surrogates */
  } else if (c >= 0xf0 && c <= 0xf4) {
    n = 4;
    if (c == 0xf0)
      lo = 0x90; /* overlong */
    else if (c == 0xf4)
      hi = 0x8f; /* past U+10FFFF */
  } else
    return 0;
  if ((size_t)(end - p) < n) return 0;
  if (p[1] < lo || p[1] > hi) return 0;
  for (size_t i = 2; i < n; i++)
    if ((p[i] & 0xc0) != 0x80) return 0;
  return n;
}

#endif
