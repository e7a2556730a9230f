/* Unit tests for src/domain/tariff.c: the "tariff" config key (defaults,
 * validation) and the cost of a transaction. */
#include "domain/domain.h"

#include "core/err.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static void assert_near(double got, double want)
{
  if (fabs(got - want) > 1e-9) {
    print_error("got %.12g, want %.12g\n", got, want);
    fail();
  }
}

static json_t *cfg(const char *text)
{
  json_error_t err;
  json_t *v = json_loads(text, 0, &err);
  if (!v) {
    print_error("bad test JSON: %s\n", err.text);
    fail();
  }
  return v;
}

/* fc_tariff_load on a config text; returns its result. */
static int load(const char *text, fc_tariff_t *t)
{
  json_t *c = cfg(text);
  int rc = fc_tariff_load(t, c);
  json_decref(c);
  return rc;
}

static void test_defaults(void **state)
{
  (void)state;
  fc_tariff_t t;
  assert_int_equal(fc_tariff_load(&t, NULL), 0);
  assert_string_equal(t.currency, "EUR");
  assert_near(t.per_kwh, 0);
  assert_near(t.per_minute, 0);
  assert_near(t.per_session, 0);
  assert_near(fc_tariff_cost(&t, 12345, 90), 0);
  /* a config file without "tariff" */
  assert_int_equal(load("{\"models\":[]}", &t), 0);
  assert_string_equal(t.currency, "EUR");
  assert_near(fc_tariff_cost(&t, 1000, 1), 0);
}

static void test_load_full(void **state)
{
  (void)state;
  fc_tariff_t t;
  assert_int_equal(load("{\"tariff\":{\"currency\":\"CHF\",\"perKwh\":0.30,\"perMinute\":0.02,"
                        "\"perSession\":0.50}}",
                        &t),
                   0);
  assert_string_equal(t.currency, "CHF");
  assert_near(t.per_kwh, 0.30);
  assert_near(t.per_minute, 0.02);
  assert_near(t.per_session, 0.50);
  /* integers are numbers too; absent prices stay 0; letters are upper-cased */
  assert_int_equal(load("{\"tariff\":{\"currency\":\"usd\",\"perKwh\":1}}", &t), 0);
  assert_string_equal(t.currency, "USD");
  assert_near(t.per_kwh, 1);
  assert_near(t.per_minute, 0);
  assert_near(t.per_session, 0);
  assert_int_equal(load("{\"tariff\":{}}", &t), 0);
  assert_string_equal(t.currency, "EUR");
}

static void test_load_invalid(void **state)
{
  (void)state;
  static const char *const bad[] = {
      "{\"tariff\":[]}",
      "{\"tariff\":\"cheap\"}",
      "{\"tariff\":{\"perKwh\":-0.01}}",
      "{\"tariff\":{\"perMinute\":-1}}",
      "{\"tariff\":{\"perSession\":-5}}",
      "{\"tariff\":{\"perKwh\":\"0.30\"}}",
      "{\"tariff\":{\"perMinute\":null}}",
      "{\"tariff\":{\"perSession\":true}}",
      "{\"tariff\":{\"currency\":\"EU\"}}",
      "{\"tariff\":{\"currency\":\"EURO\"}}",
      "{\"tariff\":{\"currency\":\"E1R\"}}",
      "{\"tariff\":{\"currency\":\"\"}}",
      "{\"tariff\":{\"currency\":978}}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    fc_tariff_t t;
    if (load(bad[i], &t) != FC_ERR_CONFIG) {
      print_error("accepted %s\n", bad[i]);
      fail();
    }
  }
}

static void test_cost(void **state)
{
  (void)state;
  fc_tariff_t t = {"EUR", 0.30, 0.02, 0.50};
  /* perSession alone at the start */
  assert_near(fc_tariff_cost(&t, 0, 0), 0.50);
  /* 0.50 + 0.30 x 10 kWh + 0.02 x 60 min = 0.50 + 3.00 + 1.20 */
  assert_near(fc_tariff_cost(&t, 10000, 60), 4.70);
  /* rounded to the cent: 0.50 + 0.30 x 1.234 + 0.02 x 1.5 = 0.9002 */
  assert_near(fc_tariff_cost(&t, 1234, 1.5), 0.90);
  /* 0.50 + 0.30 x 0.0175 = 0.50525 → 0.51 */
  assert_near(fc_tariff_cost(&t, 17.5, 0), 0.51);
  /* negative energy or time (a clock that went back) counts as none */
  assert_near(fc_tariff_cost(&t, -500, -3), 0.50);
  fc_tariff_t per_min = {"EUR", 0, 0.10, 0};
  assert_near(fc_tariff_cost(&per_min, 99999, 15), 1.50);
}

static void test_event_data(void **state)
{
  (void)state;
  fc_tariff_t t = {"EUR", 0.30, 0.02, 0.50};
  json_t *d = fc_cost_event_data(&t, 42, 2500, 10.0 / 3.0);
  assert_int_equal(json_integer_value(json_object_get(d, "transactionId")), 42);
  assert_near(json_number_value(json_object_get(d, "energyWh")), 2500);
  assert_near(json_number_value(json_object_get(d, "minutes")), 3.33);
  /* 0.50 + 0.75 + 0.0666… = 1.3166… → 1.32 */
  assert_near(json_number_value(json_object_get(d, "cost")), 1.32);
  assert_string_equal(json_string_value(json_object_get(d, "currency")), "EUR");
  assert_int_equal(json_object_size(d), 5);
  json_decref(d);
  d = fc_cost_event_data(&t, 1, 0, -2);
  assert_near(json_number_value(json_object_get(d, "minutes")), 0);
  assert_near(json_number_value(json_object_get(d, "cost")), 0.50);
  json_decref(d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_defaults),     cmocka_unit_test(test_load_full),
      cmocka_unit_test(test_load_invalid), cmocka_unit_test(test_cost),
      cmocka_unit_test(test_event_data),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
