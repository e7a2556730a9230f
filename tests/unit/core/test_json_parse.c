/* fc_json_parse: each rule of jansson 2.14's json_loadb(JSON_REJECT_DUPLICATES)
 * it reproduces, with inputs accepted and refused. Every input is also given
 * to json_loadb itself, which must agree (the differential fuzzer,
 * fuzz/fuzz_json_parse.c, does the same on generated inputs). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/json.h"

static void same_tree(const json_t *a, const json_t *b)
{
  assert_int_equal(json_typeof(a), json_typeof(b));
  assert_true(json_equal(a, b));
  if (json_is_array(a))
    for (size_t i = 0; i < json_array_size(a); i++)
      same_tree(json_array_get(a, i), json_array_get(b, i));
  if (json_is_object(a)) {
    void *ia = json_object_iter((json_t *)a), *ib = json_object_iter((json_t *)b);
    for (; ia && ib;
         ia = json_object_iter_next((json_t *)a, ia), ib = json_object_iter_next((json_t *)b, ib)) {
      assert_string_equal(json_object_iter_key(ia), json_object_iter_key(ib));
      same_tree(json_object_iter_value(ia), json_object_iter_value(ib));
    }
    assert_true(!ia && !ib);
  }
  if (json_is_real(a)) {
    double x = json_real_value(a), y = json_real_value(b);
    assert_memory_equal(&x, &y, sizeof(x));
  }
}

/* Parses buf[0..n) with a copy that has no terminator, checks jansson agrees
 * and returns our tree (caller decrefs) or NULL. */
static json_t *both(const char *buf, size_t n, fc_json_error_t *err)
{
  char *copy = malloc(n ? n : 1);
  memcpy(copy, buf, n);
  json_error_t jerr;
  json_t *mine = fc_json_parse(copy, n, err);
  json_t *ref = json_loadb(copy, n, JSON_REJECT_DUPLICATES, &jerr);
  free(copy);
  if (!!mine != !!ref)
    fail_msg("%.*s: fc_json_parse %s, json_loadb %s", (int)n, buf, mine ? "accepts" : "refuses",
             ref ? "accepts" : "refuses");
  if (mine) same_tree(mine, ref);
  json_decref(ref);
  return mine;
}

static json_t *ok_n(const char *buf, size_t n)
{
  fc_json_error_t err;
  json_t *j = both(buf, n, &err);
  if (!j) fail_msg("refused %.*s: %s at %zu", (int)n, buf, err.text, err.position);
  return j;
}

static void bad_n(const char *buf, size_t n)
{
  fc_json_error_t err = {0};
  json_t *j = both(buf, n, &err);
  if (j) fail_msg("accepted %.*s", (int)n, buf);
  assert_non_null(err.text);
  assert_true(err.text[0] != '\0');
  assert_true(err.position <= n);
}

/* Literals may hold NUL bytes: their size, not strlen. */
#define OK(s) json_decref(ok_n(s, sizeof(s) - 1))
#define BAD(s) bad_n(s, sizeof(s) - 1)
#define PARSE(s) ok_n(s, sizeof(s) - 1)

static void top_level(void **state)
{
  OK("[]");
  OK("{}");
  OK(" \t\r\n[ \t\r\n] \t\r\n");
  BAD("");
  BAD("   ");
  BAD("1");
  BAD("\"s\"");
  BAD("true");
  BAD("null");
  BAD("[] []");
  BAD("[]]");
  BAD("[] x");
  BAD("[]\0");
  BAD("\f[]"); /* form feed is not JSON whitespace */
  BAD("[]\v");
  BAD("\xef\xbb\xbf[]"); /* nor is a byte order mark */
  BAD("[");
  BAD("{");
}

static void structure(void **state)
{
  OK("[1,\"a\",true,false,null,[],{},[[]],{\"a\":{}}]");
  OK("{\"a\" : 1 , \"b\" :[ ] }");
  BAD("[1,]");
  BAD("[,1]");
  BAD("[1 2]");
  BAD("{\"a\":1,}");
  BAD("{\"a\" 1}");
  BAD("{\"a\":}");
  BAD("{a:1}");
  BAD("{1:1}");
  BAD("{'a':1}");
  BAD("[1}");
  BAD("{\"a\":1]");
  BAD("[tru]");
  BAD("[True]");
  BAD("[nulll]");
  BAD("[truefalse]");
  BAD("[NaN]");
  BAD("[Infinity]");
  BAD("[undefined]");
  /* Keys keep their order. */
  json_t *j = PARSE("{\"z\":1,\"a\":2,\"m\":3}");
  void *it = json_object_iter(j);
  assert_string_equal(json_object_iter_key(it), "z");
  it = json_object_iter_next(j, it);
  assert_string_equal(json_object_iter_key(it), "a");
  json_decref(j);
}

static void duplicates(void **state)
{
  BAD("{\"a\":1,\"a\":1}");
  BAD("{\"a\":1,\"b\":2,\"a\":3}");
  BAD("[{\"k\":{\"x\":1,\"x\":[]}}]");
  BAD("{\"a\":1,\"\\u0061\":2}"); /* the same key once unescaped */
  OK("{\"a\":{\"a\":1},\"b\":{\"a\":1}}");
  OK("{\"a\":1,\"A\":1,\"a \":1}");
}

static void strings(void **state)
{
  json_t *j = PARSE("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"]");
  assert_string_equal(json_string_value(json_array_get(j, 0)), "\"\\/\b\f\n\r\t");
  json_decref(j);
  j = PARSE("[\"\\u00e9\\u20AC\\ud83d\\ude00x\"]");
  assert_string_equal(json_string_value(json_array_get(j, 0)),
                      "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80x");
  json_decref(j);
  OK("[\"\\u0001\\u001f\\u007f\\uffff\\uFFFE\"]");
  OK("[\"\x7f\"]"); /* DEL is no control character for JSON */
  /* Escaped keys, and a key unescaped while its value is too. */
  j = PARSE("{\"\\u006b\\n\":\"\\u0076\\t\"}");
  assert_string_equal(json_string_value(json_object_get(j, "k\n")), "v\t");
  json_decref(j);
  OK("[\"a long string without any escape, longer than one word or two\"]");
  OK("[\"a long string with an escape at its very end, after many words\\n\"]");

  BAD("[\"abc]");
  BAD("[\"abc\\\"]");
  BAD("[\"\\\"]");
  BAD("[\"\\a\"]");
  BAD("[\"\\x41\"]");
  BAD("[\"\\'\"]");
  BAD("[\"\\U0041\"]");
  BAD("[\"\\u41\"]");
  BAD("[\"\\u004g\"]");
  BAD("[\"\\u004");
  /* Raw control characters: every byte below 0x20. */
  for (int c = 0; c < 0x20; c++) {
    char s[] = "[\"a?b\"]";
    s[3] = (char)c;
    bad_n(s, sizeof(s) - 1);
  }
  BAD("[\"a\nb\"]");
}

static void nul(void **state)
{
  BAD("[\"\\u0000\"]");
  BAD("[\"a\\u0000b\"]");
  BAD("{\"\\u0000\":1}");
  BAD("{\"a\\u0000\":1}");
  BAD("[\"a\0b\"]");
  BAD("[\0]");
  BAD("[1,\0 2]");
  BAD("\0[]");
  /* jansson's lexer loses one NUL byte right after a number or a literal
   * (it reads the byte that ends the token, puts it back, and a NUL put
   * back is dropped): kept, for the same acceptance. */
  json_t *j = PARSE("[5\0,true\0,null\0,-1.5e3\0]");
  assert_int_equal(json_array_size(j), 4);
  json_decref(j);
  OK("{\"a\":0\0}");
  OK("[false\0 ]");
  BAD("[5\0\0]");
  BAD("[5 \0]");
  BAD("[\"s\"\0]");
  BAD("[[]\0]");
}

static void utf8(void **state)
{
  OK("[\"\xc2\x80\xdf\xbf\"]");                                 /* 2 bytes, first and last */
  OK("[\"\xe0\xa0\x80\xed\x9f\xbf\xee\x80\x80\xef\xbf\xbf\"]"); /* 3 bytes, around surrogates */
  OK("[\"\xf0\x90\x80\x80\xf4\x8f\xbf\xbf\"]");                 /* 4 bytes, up to U+10FFFF */
  OK("{\"\xc3\xa9t\xc3\xa9\":\"\xe2\x82\xac\"}");
  BAD("[\"\x80\"]"); /* continuation byte alone */
  BAD("[\"\xbf\"]");
  BAD("[\"\xc0\x80\"]");         /* overlong NUL */
  BAD("[\"\xc1\xbf\"]");         /* overlong */
  BAD("[\"\xe0\x9f\xbf\"]");     /* overlong 3 bytes */
  BAD("[\"\xf0\x8f\xbf\xbf\"]"); /* overlong 4 bytes */
  BAD("[\"\xed\xa0\x80\"]");     /* U+D800 */
  BAD("[\"\xed\xbf\xbf\"]");     /* U+DFFF */
  BAD("[\"\xf4\x90\x80\x80\"]"); /* U+110000 */
  BAD("[\"\xf5\x80\x80\x80\"]");
  BAD("[\"\xf8\x88\x80\x80\x80\"]");
  BAD("[\"\xff\"]");
  BAD("[\"\xc3\"]"); /* cut short */
  BAD("[\"\xe2\x82\"]");
  BAD("[\"\xc3\x28\"]"); /* not a continuation byte */
  BAD("[\"\xc3");
  BAD("[\xc3\xa9]"); /* valid UTF-8, but outside a string */
}

static void surrogates(void **state)
{
  OK("[\"\\ud800\\udc00\\udbff\\udfff\"]");
  BAD("[\"\\ud800\"]");
  BAD("[\"\\udc00\"]");
  BAD("[\"\\udfff\\ud800\"]");
  BAD("[\"\\ud800x\"]");
  BAD("[\"\\ud800\\n\"]");
  BAD("[\"\\ud800\\u0041\"]");
  BAD("[\"\\ud800\\ud800\"]");
  BAD("[\"\\ud800\\udc0\"]");
  BAD("[\"\\ud800\\");
}

static void numbers(void **state)
{
  json_t *j = PARSE("[0,-0,1,-1,1.0,-0.0,1e2,1E+2,1e-2,0.5,-0.5e-0,123456789]");
  static const json_type types[] = {JSON_INTEGER, JSON_INTEGER, JSON_INTEGER, JSON_INTEGER,
                                    JSON_REAL,    JSON_REAL,    JSON_REAL,    JSON_REAL,
                                    JSON_REAL,    JSON_REAL,    JSON_REAL,    JSON_INTEGER};
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    assert_int_equal(json_typeof(json_array_get(j, i)), types[i]);
  assert_int_equal(json_integer_value(json_array_get(j, 1)), 0);
  assert_true(signbit(json_real_value(json_array_get(j, 5))));
  assert_true(json_real_value(json_array_get(j, 6)) == 100.0);
  json_decref(j);

  j = PARSE("[9223372036854775807,-9223372036854775808]");
  assert_true(json_integer_value(json_array_get(j, 0)) == INT64_MAX);
  assert_true(json_integer_value(json_array_get(j, 1)) == INT64_MIN);
  json_decref(j);
  BAD("[9223372036854775808]");
  BAD("[-9223372036854775809]");
  BAD("[99999999999999999999999999]");
  OK("[9223372036854775808.0]"); /* a real, no integer limit */
  OK("[99999999999999999999999999e0]");

  /* Reals: overflow refused, underflow accepted. */
  BAD("[1e309]");
  BAD("[-1e309]");
  BAD("[1e999999999999]");
  OK("[1.7976931348623157e308]");
  j = PARSE("[1e-400,4.9e-324,-1e-400]");
  assert_true(json_real_value(json_array_get(j, 0)) == 0.0);
  assert_true(json_real_value(json_array_get(j, 1)) > 0.0);
  json_decref(j);
  /* Digits enough to need the slow path of the conversion. */
  OK("[0.1000000000000000055511151231257827021181583404541015625,"
     "2.2250738585072011e-308,1.00000000000000011102230246251565404236316680908203125]");

  BAD("[01]");
  BAD("[-01]");
  BAD("[00]");
  BAD("[+1]");
  BAD("[-]");
  BAD("[--1]");
  BAD("[.5]");
  BAD("[1.]");
  BAD("[1.e5]");
  BAD("[1e]");
  BAD("[1e+]");
  BAD("[1e-]");
  BAD("[1.5.3]");
  BAD("[1e5e5]");
  BAD("[0x10]");
  BAD("[1,5 6]");
  BAD("[- 1]");
  BAD("[1_000]");
  BAD("[1");
  BAD("[1.5");
}

/* n arrays around inner (which may be empty). */
static void nested(size_t n, const char *inner, bool ok)
{
  size_t il = strlen(inner), len = 2 * n + il;
  char *s = malloc(len);
  memset(s, '[', n);
  memcpy(s + n, inner, il);
  memset(s + n + il, ']', n);
  if (ok)
    json_decref(ok_n(s, len));
  else
    bad_n(s, len);
  free(s);
}

static void depth(void **state)
{
  /* The top-level value is at depth 1; every value counts, scalars too. */
  nested(2048, "", true);
  nested(2049, "", false);
  nested(2047, "1", true);
  nested(2048, "1", false);
  nested(2047, "{}", true);
  nested(2047, "{\"a\":1}", false);
  nested(2046, "{\"a\":1}", true);
  nested(100000, "", false); /* refused at the limit, not a stack overflow */
}

static void errors(void **state)
{
  fc_json_error_t err;
  assert_null(fc_json_parse("[1,2,x]", 7, &err));
  assert_int_equal(err.position, 5);
  assert_null(fc_json_parse("{\"k\":\"secret", 12, &err));
  assert_null(strstr(err.text, "secret"));
  /* err may be NULL. */
  assert_null(fc_json_parse("[1", 2, NULL));
  json_t *j = fc_json_parse("[1]", 3, NULL);
  assert_non_null(j);
  json_decref(j);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(top_level),  cmocka_unit_test(structure), cmocka_unit_test(duplicates),
      cmocka_unit_test(strings),    cmocka_unit_test(nul),       cmocka_unit_test(utf8),
      cmocka_unit_test(surrogates), cmocka_unit_test(numbers),   cmocka_unit_test(depth),
      cmocka_unit_test(errors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
