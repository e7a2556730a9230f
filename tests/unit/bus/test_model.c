/* Unit tests for src/bus/events.c and src/bus/model.c: each constructor's
 * JSON and its reader (a round trip per event type), the fold of each type
 * into the typed charger state, late events (seq only), connectors kept in
 * id order, and the snapshot serialised from the state (its exact text). */
#include "bus/bus.h"
#include "core/datetime.h"
#include "core/json.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define T0 1795687200000LL /* 2026-11-26T10:00:00.000Z */

/* The one event op's data in w, as JSON text (caller frees). */
static char *data_text(fc_write_t *w)
{
  assert_int_equal(fc_write_count(w), 1);
  fc_op_t *op = fc_write_op(w, 0);
  assert_int_equal(op->kind, FC_OP_EVENT);
  return json_dumps(op->event.data, FC_JSON_DUMP);
}

static json_t *data_of(fc_write_t *w)
{
  return fc_write_op(w, 0)->event.data;
}

/* ---- constructors and readers --------------------------------------------- */

static void test_status_event(void **state)
{
  (void)state;
  fc_write_t *w = fc_write_new();
  fc_ev_status_t in = {.status = "Faulted",
                       .error_code = "GroundFailure",
                       .info = "rcd",
                       .timestamp = "2026-11-26T10:00:00Z",
                       .clock_skew = true};
  fc_op_t *op = fc_ev_status(w, "CP1", 2, &in, T0, true);
  assert_string_equal(op->event.type, "status");
  assert_int_equal(op->event.connector, 2);
  assert_int_equal(op->event.ts_ms, T0);
  assert_int_equal(op->event.late, true);
  char *text = data_text(w);
  assert_string_equal(text,
                      "{\"status\":\"Faulted\",\"errorCode\":\"GroundFailure\",\"info\":\"rcd\","
                      "\"timestamp\":\"2026-11-26T10:00:00Z\",\"clockSkew\":true,"
                      "\"late\":true}");
  free(text);
  fc_ev_t out;
  assert_true(fc_ev_read(FC_EV_STATUS, data_of(w), &out));
  assert_true(out.late);
  assert_string_equal(out.u.status.status, "Faulted");
  assert_string_equal(out.u.status.error_code, "GroundFailure");
  assert_string_equal(out.u.status.info, "rcd");
  assert_null(out.u.status.vendor_id);
  assert_true(out.u.status.clock_skew);
  fc_write_free(w);
}

static void test_meter_event(void **state)
{
  (void)state;
  fc_write_t *w = fc_write_new();
  fc_ev_meter_t in;
  memset(&in, 0, sizeof(in));
  for (int q = 0; q < FC_MQ__COUNT; q++) {
    in.total.v[q] = NAN;
    for (int p = 0; p < FC_PHASES; p++)
      in.phase[p].v[q] = NAN;
  }
  in.total.v[FC_MQ_POWER] = 7000;
  in.total.v[FC_MQ_ENERGY] = 1500.5;
  in.has_phases = true;
  in.phase[0].v[FC_MQ_CURRENT] = 16;
  in.tx_id = 7;
  in.timestamp = "2026-11-26T10:05:00Z";
  fc_ev_meter(w, "CP1", 1, &in, T0, false);
  char *text = data_text(w);
  assert_string_equal(text, "{\"power\":7000.0,\"energyWh\":1500.5,\"phases\":{\"L1\":{\"current\":"
                            "16.0}},\"transactionId\":7,\"timestamp\":\"2026-11-26T10:05:00Z\"}");
  free(text);
  fc_ev_t out;
  assert_true(fc_ev_read(FC_EV_METER, data_of(w), &out));
  assert_false(out.late);
  assert_true(isnan(out.u.meter.total.v[FC_MQ_VOLTAGE]));
  assert_true(out.u.meter.total.v[FC_MQ_POWER] == 7000);
  assert_true(out.u.meter.total.v[FC_MQ_ENERGY] == 1500.5);
  assert_true(out.u.meter.has_phases);
  assert_true(out.u.meter.phase[0].v[FC_MQ_CURRENT] == 16);
  assert_true(isnan(out.u.meter.phase[1].v[FC_MQ_CURRENT]));
  assert_int_equal(out.u.meter.tx_id, 7);
  assert_string_equal(out.u.meter.timestamp, "2026-11-26T10:05:00Z");
  assert_false(out.u.meter.clock_skew);
  fc_write_free(w);
}

static void test_transaction_events(void **state)
{
  (void)state;
  fc_write_t *w = fc_write_new();
  fc_ev_tx_started_t st = {.id_tag = "ABC***",
                           .id_tag_status = "Accepted",
                           .started_at = "2026-11-26T10:00:00Z",
                           .meter_start = 1000,
                           .energy_wh = 0,
                           .meter_wh = 1000,
                           .target_soc = NAN};
  fc_ev_tx_started(w, "CP1", 1, &st, T0);
  char *text = data_text(w);
  /* the id is the store's: null until the writer gives it */
  assert_string_equal(text, "{\"transactionId\":null,\"idTag\":\"ABC***\",\"idTagStatus\":"
                            "\"Accepted\",\"startedAt\":\"2026-11-26T10:00:00Z\",\"meterStart\":"
                            "1000,\"energyWh\":0.0,\"meterWh\":1000.0}");
  free(text);
  fc_ev_t out;
  assert_true(fc_ev_read(FC_EV_TX_STARTED, data_of(w), &out));
  assert_int_equal(out.u.started.tx_id, 0);
  assert_int_equal(out.u.started.meter_start, 1000);
  assert_true(isnan(out.u.started.target_soc));
  fc_write_free(w);

  w = fc_write_new();
  fc_ev_tx_stopped_t sp = {.tx_id = 7,
                           .meter_stop = 2000,
                           .stopped_at = "2026-11-26T10:10:00Z",
                           .reason = "Remote",
                           .energy_wh = NAN,
                           .minutes = NAN,
                           .cost = NAN,
                           .stopped_by = "targetSoc",
                           .target_soc = 80,
                           .soc_at_stop = 81};
  fc_ev_tx_stopped(w, "CP1", 1, &sp, T0);
  text = data_text(w);
  /* a stop whose start was not seen: no energy, no cost */
  assert_string_equal(text, "{\"transactionId\":7,\"meterStop\":2000,\"stoppedAt\":\"2026-11-26T10:"
                            "10:00Z\",\"reason\":\"Remote\",\"stoppedBy\":\"targetSoc\","
                            "\"targetSoc\":80.0,\"socAtStop\":81.0}");
  free(text);
  assert_true(fc_ev_read(FC_EV_TX_STOPPED, data_of(w), &out));
  assert_int_equal(out.u.stopped.tx_id, 7);
  assert_true(isnan(out.u.stopped.energy_wh));
  assert_null(out.u.stopped.currency);
  assert_string_equal(out.u.stopped.stopped_by, "targetSoc");
  fc_write_free(w);
}

static void test_energy_cost_precharge_events(void **state)
{
  (void)state;
  fc_write_t *w = fc_write_new();
  fc_ev_energy(w, "CP1", 1, &(fc_ev_energy_t){.tx_id = 7, .energy_wh = 500, .meter_wh = 1500}, T0);
  char *text = data_text(w);
  assert_string_equal(text, "{\"transactionId\":7,\"energyWh\":500.0,\"meterWh\":1500.0}");
  free(text);
  fc_write_free(w);

  w = fc_write_new();
  fc_ev_cost(
      w, "CP1", 1,
      &(fc_ev_cost_t){.tx_id = 7, .energy_wh = 500, .minutes = 5, .cost = 0.75, .currency = "EUR"},
      T0);
  text = data_text(w);
  assert_string_equal(text, "{\"transactionId\":7,\"energyWh\":500.0,\"minutes\":5.0,\"cost\":0.75,"
                            "\"currency\":\"EUR\"}");
  free(text);
  fc_write_free(w);

  w = fc_write_new();
  fc_ev_precharge_t pc = {.soc = 42,
                          .battery_voltage = NAN,
                          .capacity_wh = 3700,
                          .range_km = NAN,
                          .model = NULL,
                          .source = "PreChargeData"};
  fc_ev_precharge(w, "CP1", 1, &pc, T0);
  text = data_text(w);
  /* every member is there; unknown ones are null */
  assert_string_equal(text, "{\"soc\":42.0,\"batteryVoltage\":null,\"batteryCapacityWh\":3700.0,"
                            "\"model\":null,\"rangeKm\":null,\"source\":\"PreChargeData\"}");
  free(text);
  fc_ev_t out;
  assert_true(fc_ev_read(FC_EV_PRECHARGE, data_of(w), &out));
  assert_true(isnan(out.u.precharge.battery_voltage));
  assert_null(out.u.precharge.model);
  assert_true(out.u.precharge.capacity_wh == 3700);
  fc_write_free(w);
}

static void test_online_command_events(void **state)
{
  (void)state;
  fc_write_t *w = fc_write_new();
  fc_op_t *op = fc_ev_online(w, "CP1", false, T0);
  assert_string_equal(op->event.type, "charger.offline");
  char *text = data_text(w);
  assert_string_equal(text, "{}");
  free(text);
  fc_write_free(w);

  w = fc_write_new();
  json_t *params = json_pack("{s:i}", "connectorId", 1);
  json_t *error = json_pack("{s:s}", "code", "NotSupported");
  fc_ev_command_t cmd = {.command = "unlock",
                         .action = "UnlockConnector",
                         .sent = true,
                         .params = params,
                         .status = "CallError",
                         .by = "alice",
                         .error = error};
  op = fc_ev_command(w, "CP1", 1, &cmd, T0);
  assert_string_equal(op->event.type, "command");
  text = data_text(w);
  assert_string_equal(text, "{\"command\":\"unlock\",\"params\":{\"connectorId\":1},\"status\":"
                            "\"CallError\",\"by\":\"alice\",\"action\":\"UnlockConnector\","
                            "\"sent\":true,\"error\":{\"code\":\"NotSupported\"}}");
  free(text);
  json_decref(params);
  json_decref(error);
  fc_ev_t out;
  assert_false(fc_ev_read(FC_EV_COMMAND, data_of(w), &out)); /* the fold does not read it */
  fc_write_free(w);
}

/* ---- the fold --------------------------------------------------------------- */

/* Folds the one event of w into s, as the bus does. */
static bool fold(fc_charger_state_t *s, fc_write_t *w, int64_t seq)
{
  fc_op_t *op = fc_write_op(w, fc_write_count(w) - 1);
  fc_event_type_t type = fc_event_type_parse(op->event.type);
  fc_ev_t ev;
  bool typed = fc_ev_read(type, op->event.data, &ev);
  bool changed =
      fc_model_apply(s, type, op->event.connector, seq, op->event.ts_ms, typed ? &ev : NULL);
  fc_write_free(w);
  return changed;
}

static fc_write_t *status_w(int connector, const char *status, long long ts, bool late)
{
  fc_write_t *w = fc_write_new();
  fc_ev_status(w, "CP1", connector, &(fc_ev_status_t){.status = status, .error_code = "NoError"},
               ts, late);
  return w;
}

static fc_write_t *meter_w(int connector, double power, double soc, long long ts, bool late)
{
  fc_write_t *w = fc_write_new();
  fc_ev_meter_t m;
  memset(&m, 0, sizeof(m));
  for (int q = 0; q < FC_MQ__COUNT; q++)
    m.total.v[q] = NAN;
  m.total.v[FC_MQ_POWER] = power;
  m.total.v[FC_MQ_SOC] = soc;
  m.timestamp = "t";
  fc_ev_meter(w, "CP1", connector, &m, ts, late);
  return w;
}

static void test_fold_each_type(void **state)
{
  (void)state;
  fc_charger_state_t s;
  fc_model_init(&s, "CP1");
  fc_write_t *w = fc_write_new();
  fc_ev_online(w, "CP1", true, T0);
  assert_true(fold(&s, w, 1));
  assert_true(s.online);
  assert_true(s.has_last_seen);
  assert_int_equal(s.last_seen_ms, T0);
  assert_int_equal(s.n, 0); /* online names no connector */

  assert_true(fold(&s, status_w(1, "Charging", T0 + 1, false), 2));
  const fc_connector_state_t *c = fc_model_connector(&s, 1);
  assert_non_null(c);
  assert_string_equal(c->status, "Charging");
  assert_string_equal(c->error_code, "NoError");
  assert_int_equal(c->status_at_ms, T0 + 1);

  /* a reading without SoC keeps the last SoC */
  assert_true(fold(&s, meter_w(1, 7000, 40, T0 + 2, false), 3));
  assert_true(fold(&s, meter_w(1, 7100, NAN, T0 + 3, false), 4));
  c = fc_model_connector(&s, 1);
  assert_true(c->meter.present);
  assert_true(c->meter.total.v[FC_MQ_POWER] == 7100);
  assert_true(c->meter.total.v[FC_MQ_SOC] == 40);
  assert_int_equal(c->meter.ts_ms, T0 + 3);

  w = fc_write_new();
  fc_ev_tx_started(w, "CP1", 1,
                   &(fc_ev_tx_started_t){.tx_id = 7,
                                         .id_tag = "A***",
                                         .id_tag_status = "Accepted",
                                         .started_at = "s",
                                         .meter_start = 100,
                                         .meter_wh = 100,
                                         .target_soc = NAN},
                   T0 + 4);
  assert_true(fold(&s, w, 5));
  w = fc_write_new();
  fc_ev_energy(w, "CP1", 1, &(fc_ev_energy_t){.tx_id = 7, .energy_wh = 50, .meter_wh = 150},
               T0 + 5);
  assert_true(fold(&s, w, 6));
  w = fc_write_new();
  fc_ev_cost(
      w, "CP1", 1,
      &(fc_ev_cost_t){.tx_id = 7, .energy_wh = 50, .minutes = 1, .cost = 0.5, .currency = "EUR"},
      T0 + 5);
  assert_true(fold(&s, w, 7));
  /* another transaction's energy: not this one's */
  w = fc_write_new();
  fc_ev_energy(w, "CP1", 1, &(fc_ev_energy_t){.tx_id = 8, .energy_wh = 99, .meter_wh = 99}, T0 + 5);
  fold(&s, w, 8);
  c = fc_model_connector(&s, 1);
  assert_true(c->tx.present);
  assert_int_equal(c->tx.id, 7);
  assert_true(c->tx.energy_wh == 50);
  assert_true(c->tx.meter_wh == 150);
  assert_true(c->tx.cost == 0.5);
  assert_string_equal(c->tx.currency, "EUR");

  w = fc_write_new();
  fc_ev_precharge(w, "CP1", 1,
                  &(fc_ev_precharge_t){.soc = 41,
                                       .battery_voltage = NAN,
                                       .capacity_wh = 3700,
                                       .range_km = 60,
                                       .model = "Pro",
                                       .source = "PreChargeData"},
                  T0 + 6);
  assert_true(fold(&s, w, 9));
  c = fc_model_connector(&s, 1);
  assert_true(c->precharge.present);
  assert_string_equal(c->precharge.model, "Pro");

  /* the stop of another transaction is recorded, and leaves this one */
  fc_ev_tx_stopped_t sp = {.tx_id = 6,
                           .meter_stop = 1,
                           .stopped_at = "x",
                           .reason = "Local",
                           .energy_wh = NAN,
                           .minutes = NAN,
                           .cost = NAN,
                           .target_soc = NAN,
                           .soc_at_stop = NAN};
  w = fc_write_new();
  fc_ev_tx_stopped(w, "CP1", 1, &sp, T0 + 7);
  assert_true(fold(&s, w, 10));
  c = fc_model_connector(&s, 1);
  assert_true(c->tx.present);
  assert_true(c->last.present);
  assert_int_equal(c->last.id, 6);
  assert_false(c->last.has_meter);

  /* its own stop ends it, and the live figures with it */
  sp.tx_id = 7;
  sp.energy_wh = 60;
  w = fc_write_new();
  fc_ev_tx_stopped(w, "CP1", 1, &sp, T0 + 8);
  assert_true(fold(&s, w, 11));
  c = fc_model_connector(&s, 1);
  assert_false(c->tx.present);
  assert_false(c->meter.present);
  assert_false(c->precharge.present);
  assert_int_equal(c->last.id, 7);
  assert_true(c->last.energy_wh == 60);
  assert_true(c->last.has_meter);
  assert_true(c->last.meter.total.v[FC_MQ_POWER] == 7100);
  assert_string_equal(c->last.precharge.model, "Pro");
  assert_int_equal(s.seq, 11);

  /* a command changes no state, but counts */
  w = fc_write_new();
  fc_ev_command(w, "CP1", 1,
                &(fc_ev_command_t){.command = "reset", .status = "Accepted", .by = "a"}, T0 + 9);
  assert_false(fold(&s, w, 12));
  assert_int_equal(s.seq, 12);
  fc_model_cleanup(&s);
}

static void test_fold_late_changes_nothing(void **state)
{
  (void)state;
  fc_charger_state_t s;
  fc_model_init(&s, "CP1");
  fold(&s, status_w(1, "Charging", T0, false), 1);
  fold(&s, meter_w(1, 7000, NAN, T0, false), 2);
  assert_false(fold(&s, status_w(1, "Faulted", T0 - 5000, true), 3));
  assert_false(fold(&s, meter_w(1, 1, NAN, T0 - 4000, true), 4));
  assert_false(fold(&s, status_w(2, "Faulted", T0 - 5000, true), 5));
  const fc_connector_state_t *c = fc_model_connector(&s, 1);
  assert_string_equal(c->status, "Charging");
  assert_int_equal(c->status_at_ms, T0);
  assert_true(c->meter.total.v[FC_MQ_POWER] == 7000);
  assert_null(fc_model_connector(&s, 2)); /* a late event makes no connector */
  assert_int_equal(s.seq, 5);
  /* an older seq does not lower it */
  fold(&s, status_w(1, "Available", T0 + 1, false), 4);
  assert_int_equal(s.seq, 5);
  fc_model_cleanup(&s);
}

static void test_connectors_in_id_order(void **state)
{
  (void)state;
  fc_charger_state_t s;
  fc_model_init(&s, "CP1");
  fold(&s, status_w(3, "Available", T0, false), 1);
  fold(&s, status_w(0, "Available", T0, false), 2);
  fold(&s, status_w(2, "Available", T0, false), 3);
  fold(&s, status_w(3, "Charging", T0, false), 4);
  assert_int_equal(s.n, 3);
  assert_int_equal(s.conns[0].id, 0);
  assert_int_equal(s.conns[1].id, 2);
  assert_int_equal(s.conns[2].id, 3);
  assert_string_equal(s.conns[2].status, "Charging");
  assert_null(fc_model_connector(&s, 1));
  assert_null(fc_model_connector(NULL, 1));
  fc_model_cleanup(&s);
}

/* ---- the snapshot ------------------------------------------------------------ */

static char *snapshot_text(const fc_charger_state_t *s)
{
  json_t *j = fc_model_json(s);
  char *text = json_dumps(j, FC_JSON_DUMP);
  json_decref(j);
  return text;
}

static void test_snapshot_text(void **state)
{
  (void)state;
  fc_charger_state_t s;
  fc_model_init(&s, "CP1");
  char *text = snapshot_text(&s);
  assert_string_equal(
      text, "{\"id\":\"CP1\",\"online\":false,\"seq\":0,\"lastSeen\":null,\"connectors\":[]}");
  free(text);

  fc_write_t *w = fc_write_new();
  fc_ev_online(w, "CP1", true, T0);
  fold(&s, w, 1);
  fold(&s, meter_w(1, 7000, NAN, T0 + 1000, false), 2);
  w = fc_write_new();
  fc_ev_tx_started(w, "CP1", 2,
                   &(fc_ev_tx_started_t){.tx_id = 3,
                                         .id_tag = "A***",
                                         .id_tag_status = "Accepted",
                                         .started_at = "s",
                                         .meter_start = 5,
                                         .meter_wh = 5,
                                         .target_soc = 80},
                   T0);
  fold(&s, w, 3);
  text = snapshot_text(&s);
  assert_string_equal(
      text, "{\"id\":\"CP1\",\"online\":true,\"seq\":3,\"lastSeen\":\"2026-11-26T10:00:00.000Z\","
            "\"connectors\":[{\"connectorId\":1,\"status\":null,\"errorCode\":null,\"statusAt\":"
            "null,\"meter\":{\"power\":7000.0,\"timestamp\":\"t\",\"ts\":\"2026-11-26T10:00:01."
            "000Z\"},\"transaction\":null},{\"connectorId\":2,\"status\":null,\"errorCode\":null,"
            "\"statusAt\":null,\"meter\":null,\"transaction\":{\"transactionId\":3,\"idTag\":"
            "\"A***\",\"idTagStatus\":\"Accepted\",\"startedAt\":\"s\",\"meterStart\":5,"
            "\"energyWh\":0.0,\"meterWh\":5.0,\"targetSoc\":80.0}}]}");
  free(text);
  fc_model_cleanup(&s);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_status_event),
      cmocka_unit_test(test_meter_event),
      cmocka_unit_test(test_transaction_events),
      cmocka_unit_test(test_energy_cost_precharge_events),
      cmocka_unit_test(test_online_command_events),
      cmocka_unit_test(test_fold_each_type),
      cmocka_unit_test(test_fold_late_changes_nothing),
      cmocka_unit_test(test_connectors_in_id_order),
      cmocka_unit_test(test_snapshot_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
