/* Differential libFuzzer target: fc_json_parse against the jansson it
 * replaces on the hot path, json_loadb(JSON_REJECT_DUPLICATES). For every
 * input both must accept or both refuse, and an accepted input must give the
 * same tree: json_equal, and node by node the same types (an integer is not
 * a real), the same bytes in strings, the same key order and bit-identical
 * reals (json_equal has -0.0 == 0.0).
 *
 * One input in eight is also tried wrapped in about 2,040 arrays, to cross the
 * nesting limit (2048) with every kind of innermost value.
 *
 * Run: make fuzz (see the Makefile), or
 *   ./build-fuzz/fuzz_json_parse -dict=fuzz/ocpp.dict fuzz/corpus/json_parse */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);                \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

static void same(const json_t *a, const json_t *b)
{
  CHECK(json_typeof(a) == json_typeof(b));
  switch (json_typeof(a)) {
  case JSON_OBJECT: {
    CHECK(json_object_size(a) == json_object_size(b));
    void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
    for (; ia;
         ia = json_object_iter_next((json_t *)a, ia), ib = json_object_iter_next((json_t *)b, ib)) {
      CHECK(ib);
      size_t n = json_object_iter_key_len(ia);
      CHECK(n == json_object_iter_key_len(ib));
      CHECK(memcmp(json_object_iter_key(ia), json_object_iter_key(ib), n) == 0);
      same(json_object_iter_value(ia), json_object_iter_value(ib));
    }
    CHECK(!ib);
    break;
  }
  case JSON_ARRAY:
    CHECK(json_array_size(a) == json_array_size(b));
    for (size_t i = 0; i < json_array_size(a); i++)
      same(json_array_get(a, i), json_array_get(b, i));
    break;
  case JSON_STRING:
    CHECK(json_string_length(a) == json_string_length(b));
    CHECK(memcmp(json_string_value(a), json_string_value(b), json_string_length(a)) == 0);
    break;
  case JSON_INTEGER:
    CHECK(json_integer_value(a) == json_integer_value(b));
    break;
  case JSON_REAL: {
    double x = json_real_value(a), y = json_real_value(b);
    CHECK(memcmp(&x, &y, sizeof(x)) == 0);
    break;
  }
  default:
    break;
  }
}

static void compare(const char *buf, size_t len)
{
  fc_json_error_t err = {0};
  json_error_t jerr;
  json_t *mine = fc_json_parse(buf, len, &err);
  json_t *ref = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
  if (!!mine != !!ref) {
    fprintf(stderr, "disagreement: fc_json_parse %s (%s at %zu), json_loadb %s (%s at %d)\n",
            mine ? "accepts" : "refuses", err.text ? err.text : "", err.position,
            ref ? "accepts" : "refuses", ref ? "" : jerr.text, ref ? -1 : jerr.position);
    abort();
  }
  if (mine) {
    CHECK(json_equal(mine, ref));
    same(mine, ref);
  } else {
    CHECK(err.text && err.text[0]);
    CHECK(err.position <= len);
  }
  json_decref(mine);
  json_decref(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  /* Exactly len bytes: a copy with no terminator lets ASan catch overreads. */
  char *buf = malloc(size ? size : 1);
  memcpy(buf, data, size);
  compare(buf, size);
  free(buf);

  if (size % 8 == 0 && size > 0) {
    size_t depth = 2040 + data[0] % 10;
    char *w = malloc(2 * depth + size);
    memset(w, '[', depth);
    memcpy(w + depth, data, size);
    memset(w + depth + size, ']', depth);
    compare(w, 2 * depth + size);
    free(w);
  }
  return 0;
}
