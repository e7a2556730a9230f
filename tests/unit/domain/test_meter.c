/* Unit tests for src/domain/meter.c: parsing OCPP sampled values, and the
 * dashboard summary of one meterValue (measurands, units, phases). */
#include "domain/domain.h"

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static void assert_near(double got, double want)
{
  if (fabs(got - want) > 1e-9 * (fabs(want) > 1 ? fabs(want) : 1)) {
    print_error("got %.12g, want %.12g\n", got, want);
    fail();
  }
}

/* obj[key] is a number equal to want. */
static void assert_num(const json_t *obj, const char *key, double want)
{
  json_t *v = json_object_get(obj, key);
  if (!json_is_number(v)) {
    print_error("\"%s\" missing or not a number\n", key);
    fail();
  }
  assert_near(json_number_value(v), want);
}

/* A meterValue from a JSON text (sampledValue array only). */
static json_t *mv(const char *sampled_values)
{
  char buf[4096];
  snprintf(buf, sizeof(buf), "{\"timestamp\":\"2026-11-26T10:00:00Z\",\"sampledValue\":%s}",
           sampled_values);
  json_error_t err;
  json_t *v = json_loads(buf, 0, &err);
  if (!v) {
    print_error("bad test JSON: %s\n", err.text);
    fail();
  }
  return v;
}

/* The summary of sampled values, as an object (must not be NULL). */
static json_t *summary(const char *sampled_values)
{
  json_t *in = mv(sampled_values);
  json_t *out = fc_domain_meter_summary(in);
  json_decref(in);
  assert_non_null(out);
  assert_true(json_is_object(out));
  return out;
}

static void assert_summary_null(const char *sampled_values)
{
  json_t *in = mv(sampled_values);
  json_t *out = fc_domain_meter_summary(in);
  json_decref(in);
  if (out) {
    char *s = json_dumps(out, JSON_COMPACT);
    print_error("expected NULL, got %s\n", s);
    free(s);
    json_decref(out);
    fail();
  }
}

/* ---- fc_domain_parse_value ------------------------------------------------ */

static void test_parse_value_valid(void **state)
{
  (void)state;
  static const struct {
    const char *s;
    double v;
  } ok[] = {
      {"11001.31", 11001.31},
      {"0", 0},
      {"-5", -5},
      {"+7.5", 7.5},
      {"1e3", 1000},
      {"2.5E-1", 0.25},
      {".5", 0.5},
      {"230 ", 230},
      {"42", 42},
      {"0.000", 0},
      {"-0.1", -0.1},
      {"123456789.125", 123456789.125},
  };
  for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
    double v = -12345;
    if (!fc_domain_parse_value(ok[i].s, &v)) {
      print_error("refused \"%s\"\n", ok[i].s);
      fail();
    }
    assert_near(v, ok[i].v);
  }
}

static void test_parse_value_refused(void **state)
{
  (void)state;
  static const char *const bad[] = {
      "",    "abc", "12abc", "1.2.3",    "12 34", "12,5", "--1",  "-",     ".",      "e5",
      "inf", "INF", "-inf",  "Infinity", "nan",   "NaN",  "-nan", "1e999", "-1e999", "1\n",
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    double v = -12345;
    if (fc_domain_parse_value(bad[i], &v)) {
      print_error("accepted \"%s\" as %g\n", bad[i], v);
      fail();
    }
    assert_near(v, -12345); /* *out untouched */
  }
  double v = -12345;
  assert_false(fc_domain_parse_value(NULL, &v));
  assert_near(v, -12345);
}

/* ---- fc_domain_meter_summary: measurands and units ----------------------------- */

static void test_each_measurand(void **state)
{
  (void)state;
  static const struct {
    const char *measurand, *unit, *key;
    double value;
  } m[] = {
      {"Voltage", "V", "voltage", 230.5},
      {"Current.Import", "A", "current", 16},
      {"Power.Active.Import", "W", "power", 7360},
      {"Energy.Active.Import.Register", "Wh", "energyWh", 12345.6},
      {"SoC", "Percent", "soc", 42},
  };
  for (size_t i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
    char sv[256];
    snprintf(sv, sizeof(sv), "[{\"value\":\"%g\",\"measurand\":\"%s\",\"unit\":\"%s\"}]",
             m[i].value, m[i].measurand, m[i].unit);
    json_t *out = summary(sv);
    assert_int_equal(json_object_size(out), 1);
    assert_num(out, m[i].key, m[i].value);
    json_decref(out);
  }

  /* all together, without a unit */
  json_t *out = summary("[{\"value\":\"231\",\"measurand\":\"Voltage\"},"
                        "{\"value\":\"10.5\",\"measurand\":\"Current.Import\"},"
                        "{\"value\":\"2425.5\",\"measurand\":\"Power.Active.Import\"},"
                        "{\"value\":\"1000\",\"measurand\":\"Energy.Active.Import.Register\"},"
                        "{\"value\":\"80\",\"measurand\":\"SoC\"}]");
  assert_int_equal(json_object_size(out), 5);
  assert_num(out, "voltage", 231);
  assert_num(out, "current", 10.5);
  assert_num(out, "power", 2425.5);
  assert_num(out, "energyWh", 1000);
  assert_num(out, "soc", 80);
  assert_null(json_object_get(out, "phases"));
  json_decref(out);
}

static void test_default_measurand_is_energy_register(void **state)
{
  (void)state;
  json_t *out = summary("[{\"value\":\"5678\"}]");
  assert_int_equal(json_object_size(out), 1);
  assert_num(out, "energyWh", 5678);
  json_decref(out);

  out = summary("[{\"value\":\"5.5\",\"unit\":\"kWh\",\"context\":\"Sample.Periodic\"}]");
  assert_num(out, "energyWh", 5500);
  json_decref(out);
}

static void test_units_scaled(void **state)
{
  (void)state;
  json_t *out =
      summary("[{\"value\":\"7.4\",\"measurand\":\"Power.Active.Import\",\"unit\":\"kW\"},"
              "{\"value\":\"12.345\",\"measurand\":\"Energy.Active.Import.Register\","
              "\"unit\":\"kWh\"}]");
  assert_num(out, "power", 7400);
  assert_num(out, "energyWh", 12345);
  json_decref(out);

  out = summary("[{\"value\":\"7400\",\"measurand\":\"Power.Active.Import\",\"unit\":\"W\"},"
                "{\"value\":\"12345\",\"measurand\":\"Energy.Active.Import.Register\","
                "\"unit\":\"Wh\"},{\"value\":\"230\",\"measurand\":\"Voltage\",\"unit\":\"V\"}]");
  assert_num(out, "power", 7400);
  assert_num(out, "energyWh", 12345);
  assert_num(out, "voltage", 230);
  json_decref(out);

  /* per phase too */
  out = summary("[{\"value\":\"1.5\",\"measurand\":\"Power.Active.Import\",\"unit\":\"kW\","
                "\"phase\":\"L1\"},{\"value\":\"2\",\"measurand\":\"Power.Active.Import\","
                "\"unit\":\"kW\",\"phase\":\"L2\"}]");
  assert_num(out, "power", 3500);
  assert_num(json_object_get(json_object_get(out, "phases"), "L1"), "power", 1500);
  json_decref(out);
}

/* ---- phases -------------------------------------------------------------------- */

static void test_phases_aggregated(void **state)
{
  (void)state;
  json_t *out = summary(
      "[{\"value\":\"230\",\"measurand\":\"Voltage\",\"phase\":\"L1-N\",\"unit\":\"V\"},"
      "{\"value\":\"232\",\"measurand\":\"Voltage\",\"phase\":\"L2-N\",\"unit\":\"V\"},"
      "{\"value\":\"234\",\"measurand\":\"Voltage\",\"phase\":\"L3-N\",\"unit\":\"V\"},"
      "{\"value\":\"10\",\"measurand\":\"Current.Import\",\"phase\":\"L1\",\"unit\":\"A\"},"
      "{\"value\":\"11\",\"measurand\":\"Current.Import\",\"phase\":\"L2\",\"unit\":\"A\"},"
      "{\"value\":\"15\",\"measurand\":\"Current.Import\",\"phase\":\"L3\",\"unit\":\"A\"},"
      "{\"value\":\"2300\",\"measurand\":\"Power.Active.Import\",\"phase\":\"L1\"},"
      "{\"value\":\"2552\",\"measurand\":\"Power.Active.Import\",\"phase\":\"L2\"},"
      "{\"value\":\"3510\",\"measurand\":\"Power.Active.Import\",\"phase\":\"L3\"},"
      "{\"value\":\"100\",\"measurand\":\"Energy.Active.Import.Register\",\"phase\":\"L1\"},"
      "{\"value\":\"200\",\"measurand\":\"Energy.Active.Import.Register\",\"phase\":\"L2\"},"
      "{\"value\":\"300\",\"measurand\":\"Energy.Active.Import.Register\",\"phase\":\"L3\"}]");
  assert_num(out, "voltage", 232);  /* mean */
  assert_num(out, "current", 12);   /* mean */
  assert_num(out, "power", 8362);   /* sum */
  assert_num(out, "energyWh", 600); /* sum */
  json_t *ph = json_object_get(out, "phases");
  assert_true(json_is_object(ph));
  assert_int_equal(json_object_size(ph), 3);
  static const double v[3] = {230, 232, 234}, c[3] = {10, 11, 15}, p[3] = {2300, 2552, 3510},
                      e[3] = {100, 200, 300};
  static const char *const names[3] = {"L1", "L2", "L3"};
  for (int i = 0; i < 3; i++) {
    json_t *po = json_object_get(ph, names[i]);
    assert_true(json_is_object(po));
    assert_num(po, "voltage", v[i]);
    assert_num(po, "current", c[i]);
    assert_num(po, "power", p[i]);
    assert_num(po, "energyWh", e[i]);
  }
  json_decref(out);
}

/* Fewer than three phases: the mean and the sum are over those present; the
 * phases object has only those. */
static void test_some_phases(void **state)
{
  (void)state;
  json_t *out = summary("[{\"value\":\"229\",\"measurand\":\"Voltage\",\"phase\":\"L1-N\"},"
                        "{\"value\":\"233\",\"measurand\":\"Voltage\",\"phase\":\"L3-N\"},"
                        "{\"value\":\"16\",\"measurand\":\"Current.Import\",\"phase\":\"L1\"}]");
  assert_num(out, "voltage", 231);
  assert_num(out, "current", 16);
  json_t *ph = json_object_get(out, "phases");
  assert_int_equal(json_object_size(ph), 2);
  assert_null(json_object_get(ph, "L2"));
  assert_num(json_object_get(ph, "L1"), "voltage", 229);
  assert_num(json_object_get(ph, "L1"), "current", 16);
  assert_null(json_object_get(json_object_get(ph, "L3"), "current"));
  json_decref(out);
}

static void test_total_overrides_phases(void **state)
{
  (void)state;
  /* the total comes after the phases in one, before them in the other */
  json_t *out = summary(
      "[{\"value\":\"2000\",\"measurand\":\"Power.Active.Import\",\"phase\":\"L1\"},"
      "{\"value\":\"2000\",\"measurand\":\"Power.Active.Import\",\"phase\":\"L2\"},"
      "{\"value\":\"2000\",\"measurand\":\"Power.Active.Import\",\"phase\":\"L3\"},"
      "{\"value\":\"6100\",\"measurand\":\"Power.Active.Import\"},"
      "{\"value\":\"231\",\"measurand\":\"Voltage\"},"
      "{\"value\":\"228\",\"measurand\":\"Voltage\",\"phase\":\"L1-N\"},"
      "{\"value\":\"9999\",\"measurand\":\"Energy.Active.Import.Register\"},"
      "{\"value\":\"1\",\"measurand\":\"Energy.Active.Import.Register\",\"phase\":\"L2\"}]");
  assert_num(out, "power", 6100);
  assert_num(out, "voltage", 231);
  assert_num(out, "energyWh", 9999);
  json_t *ph = json_object_get(out, "phases");
  assert_num(json_object_get(ph, "L1"), "power", 2000);
  assert_num(json_object_get(ph, "L1"), "voltage", 228);
  assert_num(json_object_get(ph, "L2"), "energyWh", 1);
  json_decref(out);
}

static void test_neutral_phase_ignored(void **state)
{
  (void)state;
  json_t *out = summary("[{\"value\":\"230\",\"measurand\":\"Voltage\",\"phase\":\"L1-N\"},"
                        "{\"value\":\"3\",\"measurand\":\"Current.Import\",\"phase\":\"N\"},"
                        "{\"value\":\"16\",\"measurand\":\"Current.Import\",\"phase\":\"L1\"}]");
  assert_num(out, "voltage", 230);
  assert_num(out, "current", 16);
  json_t *ph = json_object_get(out, "phases");
  assert_int_equal(json_object_size(ph), 1);
  assert_null(json_object_get(ph, "N"));
  json_decref(out);

  /* only a neutral value: nothing known */
  assert_summary_null("[{\"value\":\"3\",\"measurand\":\"Current.Import\",\"phase\":\"N\"}]");
}

/* Line-to-line voltages (L1-L2, L2-L3, L3-L1: about 400 V on a 230 V grid)
 * are not phase voltages: they must be neither averaged into "voltage" nor
 * reported as a phase's. */
static void test_line_to_line_ignored(void **state)
{
  (void)state;
  json_t *out = summary("[{\"value\":\"230\",\"measurand\":\"Voltage\",\"phase\":\"L1-N\"},"
                        "{\"value\":\"232\",\"measurand\":\"Voltage\",\"phase\":\"L2-N\"},"
                        "{\"value\":\"234\",\"measurand\":\"Voltage\",\"phase\":\"L3-N\"},"
                        "{\"value\":\"400\",\"measurand\":\"Voltage\",\"phase\":\"L1-L2\"},"
                        "{\"value\":\"401\",\"measurand\":\"Voltage\",\"phase\":\"L2-L3\"},"
                        "{\"value\":\"402\",\"measurand\":\"Voltage\",\"phase\":\"L3-L1\"}]");
  /* read, then release, then check: no leak when a check fails */
  json_t *ph = json_object_get(out, "phases");
  double v = json_number_value(json_object_get(out, "voltage"));
  double v1 = json_number_value(json_object_get(json_object_get(ph, "L1"), "voltage"));
  double v2 = json_number_value(json_object_get(json_object_get(ph, "L2"), "voltage"));
  double v3 = json_number_value(json_object_get(json_object_get(ph, "L3"), "voltage"));
  json_decref(out);
  assert_near(v1, 230); /* not overwritten by L1-L2 */
  assert_near(v2, 232);
  assert_near(v3, 234);
  assert_near(v, 232);

  /* only line-to-line values: nothing known */
  assert_summary_null("[{\"value\":\"400\",\"measurand\":\"Voltage\",\"phase\":\"L1-L2\"}]");
}

/* ---- what is left out ---------------------------------------------------------- */

static void test_unknown_measurands_ignored(void **state)
{
  (void)state;
  json_t *out =
      summary("[{\"value\":\"25\",\"measurand\":\"Temperature\",\"unit\":\"Celsius\"},"
              "{\"value\":\"50\",\"measurand\":\"Frequency\"},"
              "{\"value\":\"32\",\"measurand\":\"Current.Offered\"},"
              "{\"value\":\"11000\",\"measurand\":\"Power.Offered\"},"
              "{\"value\":\"77\",\"measurand\":\"Energy.Active.Export.Register\"},"
              "{\"value\":\"3\",\"measurand\":\"Power.Reactive.Import\",\"unit\":\"kvar\"},"
              "{\"value\":\"1\",\"measurand\":\"Current.Export\"},"
              "{\"value\":\"0.9\",\"measurand\":\"Power.Factor\"},"
              "{\"value\":\"230\",\"measurand\":\"voltage\"},"
              "{\"value\":\"81\",\"measurand\":\"SoC\"}]");
  assert_int_equal(json_object_size(out), 1);
  assert_num(out, "soc", 81);
  json_decref(out);
}

static void test_nothing_known_is_null(void **state)
{
  (void)state;
  assert_summary_null("[]");
  assert_summary_null("[{\"value\":\"25\",\"measurand\":\"Temperature\"}]");
  assert_summary_null("[{\"value\":\"x\",\"measurand\":\"Voltage\"}]");
  assert_summary_null("[{\"measurand\":\"Voltage\"}]");

  assert_null(fc_domain_meter_summary(NULL));
  json_t *v = json_object();
  assert_null(fc_domain_meter_summary(v)); /* no sampledValue */
  json_object_set_new(v, "sampledValue", json_string("230"));
  assert_null(fc_domain_meter_summary(v)); /* not an array */
  json_decref(v);
  v = json_array();
  assert_null(fc_domain_meter_summary(v)); /* not an object */
  json_decref(v);
}

static void test_non_numeric_skipped(void **state)
{
  (void)state;
  json_t *out = summary("[{\"value\":\"n/a\",\"measurand\":\"Voltage\",\"phase\":\"L1-N\"},"
                        "{\"value\":\"231\",\"measurand\":\"Voltage\",\"phase\":\"L2-N\"},"
                        "{\"value\":\"\",\"measurand\":\"Current.Import\"},"
                        "{\"value\":\"NaN\",\"measurand\":\"Power.Active.Import\"},"
                        "{\"value\":\"inf\",\"measurand\":\"SoC\"},"
                        "{\"value\":\"12kWh\"},"
                        "{\"value\":null,\"measurand\":\"Current.Import\",\"phase\":\"L1\"},"
                        "{\"value\":\"16\",\"measurand\":\"Current.Import\",\"phase\":\"L3\"}]");
  /* only the L2 voltage and the L3 current made it */
  assert_int_equal(json_object_size(out), 3);
  assert_num(out, "voltage", 231);
  assert_num(out, "current", 16);
  json_t *ph = json_object_get(out, "phases");
  assert_int_equal(json_object_size(ph), 2);
  assert_null(json_object_get(ph, "L1"));
  json_decref(out);
}

/* The input is borrowed: not changed, not released. */
static void test_input_untouched(void **state)
{
  (void)state;
  json_t *in = mv("[{\"value\":\"7.4\",\"measurand\":\"Power.Active.Import\",\"unit\":\"kW\"}]");
  json_t *copy = json_deep_copy(in);
  json_t *out = fc_domain_meter_summary(in);
  assert_non_null(out);
  assert_true(json_equal(in, copy));
  assert_int_equal(in->refcount, 1);
  json_decref(out);
  json_decref(copy);
  json_decref(in);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_value_valid),
      cmocka_unit_test(test_parse_value_refused),
      cmocka_unit_test(test_each_measurand),
      cmocka_unit_test(test_default_measurand_is_energy_register),
      cmocka_unit_test(test_units_scaled),
      cmocka_unit_test(test_phases_aggregated),
      cmocka_unit_test(test_some_phases),
      cmocka_unit_test(test_total_overrides_phases),
      cmocka_unit_test(test_neutral_phase_ignored),
      cmocka_unit_test(test_line_to_line_ignored),
      cmocka_unit_test(test_unknown_measurands_ignored),
      cmocka_unit_test(test_nothing_known_is_null),
      cmocka_unit_test(test_non_numeric_skipped),
      cmocka_unit_test(test_input_untouched),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
