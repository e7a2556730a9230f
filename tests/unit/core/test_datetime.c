/* RFC 3339 date-times: accepted forms, range checks, and the ms arithmetic,
 * cross-checked against timegm() over a sweep of instants. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/err.h"
#include "ocpp/rpc.h"

static void accepted_forms(void **state)
{
  static const char *ok[] = {
      "2026-11-26T10:00:00Z",      "2026-11-26T10:00:00.123+01:00",
      "2026-11-26T10:00:00.1Z",    "2026-11-26T10:00:00.123456789Z",
      "2026-11-26T10:00:00-05:30", "2026-11-26T10:00:00+00:00",
      "2026-11-26T10:00:00-00:00", "2026-11-26t10:00:00z",
      "2024-02-29T00:00:00Z",      "2000-02-29T23:59:59Z",
      "2026-06-30T23:59:60Z",      "0000-01-01T00:00:00Z",
      "9999-12-31T23:59:59.999Z",  "2026-01-31T00:00:00+23:59",
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    if (!fc_datetime_valid(ok[i])) fail_msg("refused %s", ok[i]);
  }
}

static void refused_forms(void **state)
{
  static const char *bad[] = {
      "",
      "2026-11-26",
      "2026-11-26T10:00Z",
      "2026-11-26T10:00:00",
      "2026-11-26 10:00:00Z",
      "2026-11-26T10:00:00.Z",
      "2026-11-26T10:00:00.1234567890Z",
      "2026-11-26T10:00:00+0100",
      "2026-11-26T10:00:00+01",
      "2026-11-26T10:00:00+24:00",
      "2026-11-26T10:00:00+01:60",
      "2026-11-26T10:00:00ZZ",
      "2026-11-26T10:00:00Z ",
      " 2026-11-26T10:00:00Z",
      "2026-13-01T00:00:00Z",
      "2026-00-01T00:00:00Z",
      "2026-01-00T00:00:00Z",
      "2026-01-32T00:00:00Z",
      "2026-04-31T00:00:00Z",
      "2023-02-29T00:00:00Z",
      "1900-02-29T00:00:00Z",
      "2026-01-01T24:00:00Z",
      "2026-01-01T23:60:00Z",
      "2026-01-01T23:59:61Z",
      "26-01-01T00:00:00Z",
      "2026-1-01T00:00:00Z",
      "2026-01-01T0:00:00Z",
      "+2026-01-01T00:00:00Z",
      "2026/01/01T00:00:00Z",
      "2026-01-01T00:00:00.12a3Z",
      "２026-01-01T00:00:00Z",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    if (fc_datetime_valid(bad[i])) fail_msg("accepted %s", bad[i]);
  }
  assert_false(fc_datetime_valid(NULL));
  long long ms = 42;
  assert_int_equal(fc_datetime_parse("2026-02-30T00:00:00Z", &ms), FC_ERR_INVAL);
  assert_true(ms == 42);
}

static long long parse(const char *s)
{
  long long ms = 0;
  if (fc_datetime_parse(s, &ms) != 0) fail_msg("refused %s", s);
  return ms;
}

static void milliseconds(void **state)
{
  assert_true(parse("1970-01-01T00:00:00Z") == 0);
  assert_true(parse("1970-01-01T00:00:00.001Z") == 1);
  assert_true(parse("1970-01-01T00:00:00.5Z") == 500);
  assert_true(parse("1970-01-01T00:00:00.12Z") == 120);
  assert_true(parse("1970-01-01T00:00:00.999999999Z") == 999); /* truncated, not rounded */
  assert_true(parse("1969-12-31T23:59:59.999Z") == -1);
  assert_true(parse("1970-01-01T01:00:00+01:00") == 0);
  assert_true(parse("1969-12-31T19:00:00-05:00") == 0);
  assert_true(parse("2000-03-01T00:00:00Z") == 951868800000LL);
  assert_true(parse("2026-11-26T10:00:00.123+01:00") == 1795683600123LL);
  assert_true(parse("2026-11-26T09:00:00.123Z") == 1795683600123LL);
  /* A leap second reads as the first second of the next minute. */
  assert_true(parse("2016-12-31T23:59:60Z") == parse("2017-01-01T00:00:00Z"));
  assert_true(parse("0000-01-01T00:00:00Z") == -62167219200000LL);
  assert_true(parse("9999-12-31T23:59:59Z") == 253402300799000LL);
}

static void against_timegm(void **state)
{
  /* Every ~3.7 days from 1900 to 2200, plus odd seconds: civil arithmetic
   * must agree with the C library's in UTC. */
  for (long long t = -2208988800LL; t < 7258118400LL; t += 321987) {
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    char s[40];
    strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
    long long ms = parse(s);
    if (ms != t * 1000) fail_msg("%s: %lld != %lld", s, ms, t * 1000);
    assert_true((long long)timegm(&tm) == t);

    char out[32];
    fc_datetime_format(t * 1000 + 7, out, sizeof(out));
    assert_int_equal(strlen(out), 24);
    assert_true(parse(out) == t * 1000 + 7);
    assert_memory_equal(out, s, 19);
  }
}

static void formatting(void **state)
{
  char buf[32];
  fc_datetime_format(0, buf, sizeof(buf));
  assert_string_equal(buf, "1970-01-01T00:00:00.000Z");
  fc_datetime_format(-1, buf, sizeof(buf));
  assert_string_equal(buf, "1969-12-31T23:59:59.999Z");
  fc_datetime_format(1795683600123LL, buf, sizeof(buf));
  assert_string_equal(buf, "2026-11-26T09:00:00.123Z");
  fc_datetime_format(951782400000LL, buf, sizeof(buf)); /* 2000-02-29 */
  assert_string_equal(buf, "2000-02-29T00:00:00.000Z");
  /* the first and last years of four digits, and beyond them */
  fc_datetime_format(253402300799999LL, buf, sizeof(buf));
  assert_string_equal(buf, "9999-12-31T23:59:59.999Z");
  fc_datetime_format(253402300800000LL, buf, sizeof(buf));
  assert_string_equal(buf, "10000-01-01T00:00:00.000Z");
  fc_datetime_format(-62167219200000LL, buf, sizeof(buf));
  assert_string_equal(buf, "0000-01-01T00:00:00.000Z");
  fc_datetime_format(-62167219200001LL, buf, sizeof(buf));
  assert_string_equal(buf, "-001-12-31T23:59:59.999Z");
  fc_datetime_format(1795683600123LL + 13 * 3600000 + 57 * 60000 + 9 * 1000 - 120, buf,
                     sizeof(buf));
  assert_string_equal(buf, "2026-11-26T22:57:09.003Z");
  /* 25 bytes is the documented minimum; less truncates but stays terminated. */
  char small[25];
  fc_datetime_format(0, small, sizeof(small));
  assert_string_equal(small, "1970-01-01T00:00:00.000Z");
  char tiny[8];
  fc_datetime_format(0, tiny, sizeof(tiny));
  assert_string_equal(tiny, "1970-01");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(accepted_forms), cmocka_unit_test(refused_forms),
      cmocka_unit_test(milliseconds),   cmocka_unit_test(against_timegm),
      cmocka_unit_test(formatting),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
