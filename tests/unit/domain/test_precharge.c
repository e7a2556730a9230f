/* Unit tests for src/domain/precharge.c: PreChargeData parsing (valid, and
 * every malformed case), vehicle model detection by name and by nearest
 * capacity (the 15 % rule), range, the event data, and the model table from
 * a config file. */
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

static void test_parse_full(void **state)
{
  (void)state;
  fc_precharge_t pc;
  const char *why = NULL;
  assert_int_equal(fc_precharge_parse("{\"connectorId\":1,\"soc\":42,\"batteryVoltage\":51.2,"
                                      "\"batteryCapacityWh\":3700,\"model\":\"Pro\"}",
                                      &pc, &why),
                   0);
  assert_int_equal(pc.connector, 1);
  assert_near(pc.soc, 42);
  assert_near(pc.battery_voltage, 51.2);
  assert_near(pc.capacity_wh, 3700);
  assert_string_equal(pc.model, "Pro");
}

static void test_parse_minimal(void **state)
{
  (void)state;
  fc_precharge_t pc;
  const char *why = NULL;
  /* soc alone; the rest absent (or null) */
  assert_int_equal(fc_precharge_parse("{\"soc\":0}", &pc, &why), 0);
  assert_int_equal(pc.connector, 0);
  assert_near(pc.soc, 0);
  assert_true(pc.battery_voltage < 0);
  assert_true(pc.capacity_wh < 0);
  assert_string_equal(pc.model, "");
  assert_int_equal(fc_precharge_parse("{\"soc\":100,\"model\":null,\"batteryVoltage\":null,"
                                      "\"connectorId\":2.0}",
                                      &pc, &why),
                   0);
  assert_near(pc.soc, 100);
  assert_int_equal(pc.connector, 2);
  assert_string_equal(pc.model, "");
  /* a model name of exactly 32 characters */
  assert_int_equal(fc_precharge_parse(
                       "{\"soc\":50.5,\"model\":\"abcdefghijklmnopqrstuvwxyz012345\"}", &pc, &why),
                   0);
  assert_string_equal(pc.model, "abcdefghijklmnopqrstuvwxyz012345");
}

static void test_parse_malformed(void **state)
{
  (void)state;
  static const char *const bad[] = {
      /* not JSON, not an object */
      "",
      "{not json",
      "{\"soc\":42",
      "[42]",
      "42",
      "\"soc\"",
      "null",
      /* soc missing, out of range, of the wrong type */
      "{}",
      "{\"batteryCapacityWh\":3700}",
      "{\"soc\":null}",
      "{\"soc\":-1}",
      "{\"soc\":100.01}",
      "{\"soc\":1000}",
      "{\"soc\":\"42\"}",
      "{\"soc\":true}",
      "{\"soc\":[42]}",
      "{\"soc\":{}}",
      /* capacity: negative, zero, wrong type */
      "{\"soc\":42,\"batteryCapacityWh\":-3700}",
      "{\"soc\":42,\"batteryCapacityWh\":0}",
      "{\"soc\":42,\"batteryCapacityWh\":\"3700\"}",
      /* voltage */
      "{\"soc\":42,\"batteryVoltage\":-1}",
      "{\"soc\":42,\"batteryVoltage\":\"51.2\"}",
      "{\"soc\":42,\"batteryVoltage\":5000}",
      /* connector */
      "{\"soc\":42,\"connectorId\":-1}",
      "{\"soc\":42,\"connectorId\":1.5}",
      "{\"soc\":42,\"connectorId\":\"1\"}",
      /* model: wrong type, too long */
      "{\"soc\":42,\"model\":7}",
      "{\"soc\":42,\"model\":{\"name\":\"Pro\"}}",
      "{\"soc\":42,\"model\":\"abcdefghijklmnopqrstuvwxyz0123456\"}",
      /* a duplicated key is ambiguous */
      "{\"soc\":42,\"soc\":43}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    fc_precharge_t pc;
    const char *why = NULL;
    if (fc_precharge_parse(bad[i], &pc, &why) != FC_ERR_INVAL) {
      print_error("accepted %s\n", bad[i]);
      fail();
    }
    assert_non_null(why);
    assert_true(strlen(why) > 0);
  }
  fc_precharge_t pc;
  const char *why = NULL;
  assert_int_equal(fc_precharge_parse(NULL, &pc, &why), FC_ERR_INVAL);
  assert_string_equal(why, "no data");
  assert_int_equal(fc_precharge_parse("{\"batteryCapacityWh\":1}", &pc, &why), FC_ERR_INVAL);
  assert_string_equal(why, "soc is required");
  assert_int_equal(fc_precharge_parse("{\"soc\":101}", &pc, &why), FC_ERR_INVAL);
  assert_string_equal(why, "soc must be a number from 0 to 100");
}

static void test_models_default(void **state)
{
  (void)state;
  fc_models_t m;
  assert_int_equal(fc_models_load(&m, NULL), 0);
  assert_int_equal(m.n, 3);
  /* by name, case-insensitive */
  const fc_model_t *pro = fc_models_find(&m, "pro");
  assert_non_null(pro);
  assert_string_equal(pro->name, "Pro");
  assert_near(pro->capacity_wh, 3700);
  assert_near(pro->km_per_kwh, 42);
  assert_string_equal(fc_models_find(&m, "CLASSIC")->name, "Classic");
  assert_string_equal(fc_models_find(&m, "Max")->name, "Max");
  assert_null(fc_models_find(&m, "Ultra"));
  assert_null(fc_models_find(&m, NULL));
  assert_null(fc_models_find(&m, ""));
  fc_models_cleanup(&m);
  assert_int_equal(m.n, 0);
  assert_null(m.v);
}

static void test_models_nearest(void **state)
{
  (void)state;
  fc_models_t m;
  assert_int_equal(fc_models_load(&m, NULL), 0);
  /* exact and near capacities */
  assert_string_equal(fc_models_nearest(&m, 2000)->name, "Classic");
  assert_string_equal(fc_models_nearest(&m, 3700)->name, "Pro");
  assert_string_equal(fc_models_nearest(&m, 3500)->name, "Pro");
  assert_string_equal(fc_models_nearest(&m, 5200)->name, "Max");
  /* the 15 % rule, relative to the model's capacity: Classic 2000 ± 300 */
  assert_string_equal(fc_models_nearest(&m, 2300)->name, "Classic");
  assert_string_equal(fc_models_nearest(&m, 1700)->name, "Classic");
  assert_null(fc_models_nearest(&m, 1699));
  assert_null(fc_models_nearest(&m, 2400)); /* nearest Classic (400 off) is over 15 % */
  /* Max 5000 ± 750 */
  assert_string_equal(fc_models_nearest(&m, 5750)->name, "Max");
  assert_null(fc_models_nearest(&m, 5751));
  /* unknown or absent capacity: no guess */
  assert_null(fc_models_nearest(&m, 100000));
  assert_null(fc_models_nearest(&m, 0));
  assert_null(fc_models_nearest(&m, -1));
  assert_null(fc_models_nearest(&m, NAN));
  fc_models_cleanup(&m);
}

static void test_models_config(void **state)
{
  (void)state;
  fc_models_t m;
  json_t *c = cfg("{\"models\":[{\"name\":\"Mini\",\"batteryCapacityWh\":1000,\"kmPerKwh\":50},"
                  "{\"name\":\"Huge\",\"batteryCapacityWh\":20000,\"kmPerKwh\":30.5}]}");
  assert_int_equal(fc_models_load(&m, c), 0);
  json_decref(c);
  assert_int_equal(m.n, 2);
  assert_string_equal(fc_models_find(&m, "mini")->name, "Mini");
  assert_near(fc_models_find(&m, "Huge")->km_per_kwh, 30.5);
  assert_null(fc_models_find(&m, "Pro")); /* the defaults are replaced */
  assert_string_equal(fc_models_nearest(&m, 1100)->name, "Mini");
  assert_string_equal(fc_models_nearest(&m, 18000)->name, "Huge");
  assert_null(fc_models_nearest(&m, 5000));
  fc_models_cleanup(&m);

  static const char *const bad[] = {
      "{\"models\":[]}",
      "{\"models\":{}}",
      "{\"models\":\"Pro\"}",
      "{\"models\":[42]}",
      "{\"models\":[{\"batteryCapacityWh\":1000,\"kmPerKwh\":50}]}",
      "{\"models\":[{\"name\":\"\",\"batteryCapacityWh\":1000,\"kmPerKwh\":50}]}",
      "{\"models\":[{\"name\":\"abcdefghijklmnopqrstuvwxyz0123456\",\"batteryCapacityWh\":1000,"
      "\"kmPerKwh\":50}]}",
      "{\"models\":[{\"name\":\"A\",\"batteryCapacityWh\":0,\"kmPerKwh\":50}]}",
      "{\"models\":[{\"name\":\"A\",\"batteryCapacityWh\":-5,\"kmPerKwh\":50}]}",
      "{\"models\":[{\"name\":\"A\",\"batteryCapacityWh\":1000,\"kmPerKwh\":0}]}",
      "{\"models\":[{\"name\":\"A\",\"batteryCapacityWh\":\"1000\",\"kmPerKwh\":50}]}",
      "{\"models\":[{\"name\":\"A\",\"batteryCapacityWh\":1000}]}",
      /* one bad entry after a good one fails the whole table */
      "{\"models\":[{\"name\":\"A\",\"batteryCapacityWh\":1000,\"kmPerKwh\":50},"
      "{\"name\":7,\"batteryCapacityWh\":1000,\"kmPerKwh\":50}]}",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    c = cfg(bad[i]);
    int rc = fc_models_load(&m, c);
    json_decref(c);
    if (rc != FC_ERR_CONFIG) {
      print_error("accepted %s\n", bad[i]);
      fc_models_cleanup(&m);
      fail();
    }
    assert_null(m.v);
    assert_int_equal(m.n, 0);
  }
}

static void test_range(void **state)
{
  (void)state;
  /* 42 % of 3.7 kWh at 42 km/kWh */
  assert_near(fc_range_km(42, 3700, 42), 0.42 * 3.7 * 42);
  assert_near(fc_range_km(100, 2000, 45), 90);
  assert_near(fc_range_km(0, 2000, 45), 0);
  /* unknown capacity or efficiency: unknown range */
  assert_true(fc_range_km(50, -1, 45) < 0);
  assert_true(fc_range_km(50, 0, 45) < 0);
  assert_true(fc_range_km(50, 2000, 0) < 0);
  assert_true(fc_range_km(-1, 2000, 45) < 0);
}

static void test_event_data(void **state)
{
  (void)state;
  fc_model_t pro = {"Pro", 3700, 42};
  json_t *d = fc_precharge_event_data(42, 51.2, 3700, &pro, "PreChargeData");
  assert_near(json_number_value(json_object_get(d, "soc")), 42);
  assert_near(json_number_value(json_object_get(d, "batteryVoltage")), 51.2);
  assert_near(json_number_value(json_object_get(d, "batteryCapacityWh")), 3700);
  assert_string_equal(json_string_value(json_object_get(d, "model")), "Pro");
  assert_near(json_number_value(json_object_get(d, "rangeKm")), 65.3); /* 65.268 → 0.1 km */
  assert_string_equal(json_string_value(json_object_get(d, "source")), "PreChargeData");
  json_decref(d);
  /* capacity from the model when the charger did not say */
  d = fc_precharge_event_data(50, -1, -1, &pro, "MeterValues");
  assert_near(json_number_value(json_object_get(d, "batteryCapacityWh")), 3700);
  assert_true(json_is_null(json_object_get(d, "batteryVoltage")));
  assert_near(json_number_value(json_object_get(d, "rangeKm")), 77.7);
  json_decref(d);
  /* unknown model: null model and range, never a guess */
  d = fc_precharge_event_data(50, 48, 9999, NULL, "PreChargeData");
  assert_true(json_is_null(json_object_get(d, "model")));
  assert_true(json_is_null(json_object_get(d, "rangeKm")));
  assert_near(json_number_value(json_object_get(d, "batteryCapacityWh")), 9999);
  json_decref(d);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_full),      cmocka_unit_test(test_parse_minimal),
      cmocka_unit_test(test_parse_malformed), cmocka_unit_test(test_models_default),
      cmocka_unit_test(test_models_nearest),  cmocka_unit_test(test_models_config),
      cmocka_unit_test(test_range),           cmocka_unit_test(test_event_data),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
