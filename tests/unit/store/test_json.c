/* The store's JSON writer (src/store/json.c) gives the bytes jansson's
 * json_dumps gives, for every kind of value: the events it serialises and
 * the readings it stores must not change with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/mem.h"
#include "store/store_int.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void same_as_jansson(const json_t *j)
{
  static const int precisions[] = {0, 12, 15, 17};
  for (size_t i = 0; i < FC_ARRAY_SIZE(precisions); i++) {
    int p = precisions[i];
    char *want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(p));
    size_t len = 0;
    char *got = fc_store__json_text(j, p, &len);
    assert_non_null(want);
    assert_non_null(got);
    assert_string_equal(got, want);
    assert_int_equal(len, strlen(want));
    free(want);
    fc_free(got);
  }
}

static void test_scalars(void **state)
{
  (void)state;
  json_t *v[] = {json_null(),
                 json_true(),
                 json_false(),
                 json_integer(0),
                 json_integer(-1),
                 json_integer(INT64_MAX),
                 json_integer(INT64_MIN),
                 json_string(""),
                 json_string("11001.31"),
                 json_object(),
                 json_array()};
  for (size_t i = 0; i < FC_ARRAY_SIZE(v); i++) {
    same_as_jansson(v[i]);
    json_decref(v[i]);
  }
}

static void test_reals(void **state)
{
  (void)state;
  static const double fixed[] = {
      0.0,       -0.0,     1.0,     123.4,    11001.31,      7360.0,  0.1,
      1e-7,      1.5e-300, 1e21,    1e22,     1e100,         -2.5e-5, 12345678901234567890.0,
      1.0 / 3.0, DBL_MAX,  DBL_MIN, 4.9e-324, 100000000000.0};
  for (size_t i = 0; i < FC_ARRAY_SIZE(fixed); i++) {
    json_t *r = json_real(fixed[i]);
    same_as_jansson(r);
    json_decref(r);
  }
  /* and many more, of every magnitude */
  srand(42);
  for (int i = 0; i < 20000; i++) {
    double m = (double)rand() / RAND_MAX * (rand() % 2 ? 1 : -1);
    json_t *r = json_real(ldexp(m, rand() % 2000 - 1000));
    same_as_jansson(r);
    json_decref(r);
  }
}

/* Short decimals (what meters send: 11001.31, 7360, 42.5) have a path of
 * their own in the writer: every digit count and scale, both signs, and the
 * bounds where it gives way to printf. */
static void test_decimals(void **state)
{
  (void)state;
  static const double fixed[] = {1e-4, -1e-4,      9.9e-5,         0.05,          1e11,
                                 1e12, -1e12,      999999999999.0, 99999999999.9, 123456789012.5,
                                 0.3,  0.1 + 0.2,  1.005,          2.675,         4.35,
                                 1e15, 1e14 + 0.5, 7200.0,         -7200.25,      0.000123456};
  for (size_t i = 0; i < FC_ARRAY_SIZE(fixed); i++) {
    json_t *r = json_real(fixed[i]);
    same_as_jansson(r);
    json_decref(r);
  }
  srand(7);
  for (int i = 0; i < 40000; i++) {
    long long n = ((long long)rand() << 31 | rand()) % 10000000000000000LL;
    n /= (long long)pow(10, rand() % 17);
    double v = (double)n / pow(10, rand() % 9) * (rand() % 2 ? 1 : -1);
    json_t *r = json_real(v);
    same_as_jansson(r);
    json_decref(r);
  }
}

static void test_strings(void **state)
{
  (void)state;
  char all[128];
  for (int c = 1; c < 128; c++)
    all[c - 1] = (char)c;
  all[127] = '\0';
  json_t *s[] = {json_string(all),
                 json_string("quote \" backslash \\ slash / tab \t nl \n cr \r bs \b ff \f"),
                 json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x94\x8c"),
                 json_stringn("nul\0inside", 10), json_string("\x01\x1f\x7f")};
  for (size_t i = 0; i < FC_ARRAY_SIZE(s); i++) {
    assert_non_null(s[i]);
    same_as_jansson(s[i]);
    json_decref(s[i]);
  }
}

static void test_nested(void **state)
{
  (void)state;
  json_t *j = json_loads(
      "{\"connectorId\":1,\"transactionId\":null,\"meterValue\":[{\"timestamp\":"
      "\"2026-11-26T10:00:00Z\",\"sampledValue\":[{\"value\":\"11001.31\"},{\"value\":\"7200\","
      "\"measurand\":\"Power.Active.Import\",\"unit\":\"W\",\"phase\":\"L1\"}]}],"
      "\"k\\u00e9y \\\"q\\\"\":[[],{},[1,2.5,true,false,null]],\"z\":{\"b\":1,\"a\":2}}",
      0, NULL);
  assert_non_null(j);
  same_as_jansson(j);
  /* members in insertion order, not sorted */
  json_t *o = json_object();
  json_object_set_new(o, "zeta", json_integer(1));
  json_object_set_new(o, "alpha", json_real(42.5));
  json_object_set_new(o, "mid", j);
  same_as_jansson(o);
  json_decref(o);
  assert_null(fc_store__json_text(NULL, 0, NULL));
}

/* An event's serialisation refuses a type or charger that is not UTF-8 (as
 * it did when jansson made the strings). */
static void test_event_utf8(void **state)
{
  (void)state;
  fc_op_t op = {.kind = FC_OP_EVENT, .charger = "CP1", .event = {.type = "meter", .connector = 1}};
  size_t len;
  char *t = fc_store__event_json(&op, 7, 0, &len);
  assert_string_equal(t, "{\"type\":\"meter\",\"charger\":\"CP1\",\"connector\":1,\"seq\":7,"
                         "\"ts\":\"1970-01-01T00:00:00.000Z\",\"data\":{}}");
  fc_free(t);
  op.charger = "CP\xc3";
  assert_null(fc_store__event_json(&op, 7, 0, &len));
  op.charger = "CP\xed\xa0\x80"; /* a surrogate */
  assert_null(fc_store__event_json(&op, 7, 0, &len));
  op.charger = "CP\xc0\xaf"; /* overlong */
  assert_null(fc_store__event_json(&op, 7, 0, &len));
}

/* take_tx_id: data's "transactionId" becomes the new transaction's id, in
 * its place, or added last; with no id (tx_id 0) data stays as it is. */
static void test_event_tx_id(void **state)
{
  (void)state;
  json_t *data = json_pack("{s:n, s:s}", "transactionId", "idTag", "T");
  fc_op_t op = {.kind = FC_OP_EVENT,
                .charger = "CP1",
                .event = {.type = "transaction.started", .take_tx_id = true, .data = data}};
  size_t len;
  char *t = fc_store__event_json(&op, 3, 42, &len);
  assert_non_null(strstr(t, "\"data\":{\"transactionId\":42,\"idTag\":\"T\"}}"));
  fc_free(t);
  t = fc_store__event_json(&op, 3, 0, &len);
  assert_non_null(strstr(t, "\"data\":{\"transactionId\":null,\"idTag\":\"T\"}}"));
  fc_free(t);
  json_object_del(data, "transactionId");
  t = fc_store__event_json(&op, 3, 42, &len);
  assert_non_null(strstr(t, "\"data\":{\"idTag\":\"T\",\"transactionId\":42}}"));
  fc_free(t);
  json_decref(data);
}

/* A reading's sampled values as stored: the members that are set, in one
 * order, strings escaped; not UTF-8: refused. */
static void test_sampled_json(void **state)
{
  (void)state;
  fc_op_sampled_t sv[2] = {{.value = "11001.31", .unit = "Wh"},
                           {.value = "7\"2", .measurand = "Power.Active.Import", .phase = "L1"}};
  fc_op_reading_t r = {.ts_ms = 1, .n = 2, .sampled = sv};
  size_t len;
  char *t = fc_store__sampled_json(&r, &len);
  assert_string_equal(t, "[{\"value\":\"11001.31\",\"unit\":\"Wh\"},{\"value\":\"7\\\"2\","
                         "\"measurand\":\"Power.Active.Import\",\"phase\":\"L1\"}]");
  assert_int_equal(len, strlen(t));
  fc_free(t);
  r.n = 0;
  t = fc_store__sampled_json(&r, &len);
  assert_string_equal(t, "[]");
  fc_free(t);
  sv[0].unit = "W\xc3";
  r.n = 1;
  assert_null(fc_store__sampled_json(&r, &len));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_event_tx_id), cmocka_unit_test(test_sampled_json),
      cmocka_unit_test(test_scalars),     cmocka_unit_test(test_reals),
      cmocka_unit_test(test_decimals),    cmocka_unit_test(test_strings),
      cmocka_unit_test(test_nested),      cmocka_unit_test(test_event_utf8),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
