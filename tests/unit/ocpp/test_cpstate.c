/* Unit tests for src/ocpp/cpstate.c: what the handlers judge messages by is
 * read from the charger model (the bus's, fed here with committed events as
 * the store's writer leaves them), not kept as a second copy; a handler's
 * staged change leaves it untouched until its events are published, and a
 * write that fails leaves it as it was; cpstate's own facts (target SoC)
 * are applied on commit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ocpp/ocpp_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define T0 1795687200000LL /* 2026-11-26T10:00:00.000Z */

typedef struct env {
  fc_ocpp_t o;
  fc_session_t s;
  int64_t seq;
} env_t;

static int setup(void **state)
{
  env_t *e = calloc(1, sizeof(*e));
  e->o.bus = fc_bus_new();
  e->o.max_skew_ms = 60000;
  e->s.o = &e->o;
  snprintf(e->s.id, sizeof(e->s.id), "CP1");
  *state = e;
  return 0;
}

static int teardown(void **state)
{
  env_t *e = *state;
  fc_ocpp__cpstates_free(&e->o);
  fc_bus_free(e->o.bus);
  free(e);
  return 0;
}

/* Commits w as the store's writer would (a seq and a text per event) and
 * publishes it. */
static void commit(env_t *e, fc_write_t *w)
{
  for (size_t i = 0; i < fc_write_count(w); i++) {
    fc_op_t *op = fc_write_op(w, i);
    if (op->kind != FC_OP_EVENT) continue;
    op->out.id = ++e->seq;
    op->out.text = strdup("{}");
    op->out.len = 2;
  }
  fc_bus_publish_write(e->o.bus, w);
  fc_write_free(w);
}

static void start_tx(env_t *e, int connector, int64_t tx, long long meter_start)
{
  fc_write_t *w = fc_write_new();
  fc_ev_tx_started(w, "CP1", connector,
                   &(fc_ev_tx_started_t){.tx_id = tx,
                                         .id_tag = "A***",
                                         .id_tag_status = "Accepted",
                                         .started_at = "2026-11-26T10:00:00.000Z",
                                         .meter_start = meter_start,
                                         .meter_wh = (double)meter_start,
                                         .target_soc = NAN},
                   T0);
  commit(e, w);
}

static void test_facts_come_from_the_model(void **state)
{
  env_t *e = *state;
  fc_cpconn_t *k = fc_ocpp__cpconn(&e->o, "CP1", 1);
  assert_int_equal(k->status_ts, 0);
  assert_false(k->tx_active);

  fc_write_t *w = fc_write_new();
  fc_ev_status(w, "CP1", 1, &(fc_ev_status_t){.status = "Charging", .error_code = "NoError"},
               T0 + 1000, false);
  commit(e, w);
  start_tx(e, 1, 7, 1000);
  w = fc_write_new();
  fc_ev_energy(w, "CP1", 1, &(fc_ev_energy_t){.tx_id = 7, .energy_wh = 250, .meter_wh = 1250},
               T0 + 2000);
  fc_ev_precharge(w, "CP1", 1,
                  &(fc_ev_precharge_t){.soc = 40,
                                       .battery_voltage = 51.2,
                                       .capacity_wh = 3700,
                                       .range_km = NAN,
                                       .model = "Odd",
                                       .source = "PreChargeData"},
                  T0 + 2000);
  commit(e, w);

  /* no apply here: the published events alone changed what cpconn says */
  k = fc_ocpp__cpconn(&e->o, "CP1", 1);
  assert_int_equal(k->status_ts, T0 + 1000);
  assert_true(k->tx_active);
  assert_int_equal(k->tx_id, 7);
  assert_int_equal(k->tx_start_ms, T0);
  assert_true(k->tx_energy == 250);
  assert_true(k->tx_prev_reg == 1250);
  assert_true(k->pc_known);
  assert_string_equal(k->pc_model.name, "Odd");
  assert_true(k->pc_capacity_wh == 3700);
  assert_true(k->pc_voltage == 51.2);

  /* its stop ends the transaction and the vehicle there too */
  w = fc_write_new();
  fc_ev_tx_stopped(w, "CP1", 1,
                   &(fc_ev_tx_stopped_t){.tx_id = 7,
                                         .meter_stop = 1300,
                                         .stopped_at = "2026-11-26T10:10:00.000Z",
                                         .reason = "Local",
                                         .energy_wh = 300,
                                         .minutes = NAN,
                                         .cost = NAN,
                                         .target_soc = NAN,
                                         .soc_at_stop = NAN},
                   T0 + 3000);
  commit(e, w);
  k = fc_ocpp__cpconn(&e->o, "CP1", 1);
  assert_false(k->tx_active);
  assert_false(k->pc_known);
  assert_int_equal(k->status_ts, T0 + 1000);
}

static void test_meter_ts_falls_back_to_the_last_session(void **state)
{
  env_t *e = *state;
  start_tx(e, 2, 9, 0);
  fc_write_t *w = fc_write_new();
  fc_ev_meter_t m;
  fc_ev_meter_read(NULL, &m); /* nothing: every quantity NAN */
  m.total.v[FC_MQ_POWER] = 7000;
  fc_ev_meter(w, "CP1", 2, &m, T0 + 5000, false);
  commit(e, w);
  assert_int_equal(fc_ocpp__cpconn(&e->o, "CP1", 2)->meter_ts, T0 + 5000);
  w = fc_write_new();
  fc_ev_tx_stopped(w, "CP1", 2,
                   &(fc_ev_tx_stopped_t){.tx_id = 9,
                                         .meter_stop = 10,
                                         .stopped_at = "x",
                                         .reason = "Local",
                                         .energy_wh = NAN,
                                         .minutes = NAN,
                                         .cost = NAN,
                                         .target_soc = NAN,
                                         .soc_at_stop = NAN},
                   T0 + 6000);
  commit(e, w);
  /* the live meter ended with the session; its newest reading is the last
   * session's */
  assert_int_equal(fc_ocpp__cpconn(&e->o, "CP1", 2)->meter_ts, T0 + 5000);
}

/* A time stamp far ahead of our clock (stored before skew was bounded)
 * orders nothing. */
static void test_far_future_orders_nothing(void **state)
{
  env_t *e = *state;
  fc_write_t *w = fc_write_new();
  fc_ev_status(w, "CP1", 3, &(fc_ev_status_t){.status = "Available", .error_code = "NoError"},
               fc_wall_ms() + 3600 * 1000LL, false);
  commit(e, w);
  assert_int_equal(fc_ocpp__cpconn(&e->o, "CP1", 3)->status_ts, 0);
}

static void test_staged_until_committed(void **state)
{
  env_t *e = *state;
  start_tx(e, 1, 7, 1000);
  fc_call_t c;
  memset(&c, 0, sizeof(c));
  c.s = &e->s;
  fc_cpconn_t *next = fc_ocpp__stage(&c, 1);
  assert_ptr_equal(fc_ocpp__stage(&c, 1), next); /* one staged copy per connector */
  fc_ocpp__energy_add(next, 1500);
  assert_true(next->tx_energy == 500);
  next->target_soc = 80;
  next->target_tx = 7;
  /* not committed: the model and cpstate are as they were */
  fc_cpconn_t *k = fc_ocpp__cpconn(&e->o, "CP1", 1);
  assert_true(k->tx_energy == 0);
  assert_true(k->target_soc == 0);

  /* committed: cpstate's own facts are applied; the energy arrives with
   * the write's events */
  fc_write_t *w = fc_write_new();
  fc_ev_energy(w, "CP1", 1, &(fc_ev_energy_t){.tx_id = 7, .energy_wh = 500, .meter_wh = 1500},
               T0 + 1000);
  fc_ocpp__staged_apply(&c, w);
  k = fc_ocpp__cpconn(&e->o, "CP1", 1);
  assert_true(k->target_soc == 80);
  assert_true(k->tx_energy == 0);
  commit(e, w);
  assert_true(fc_ocpp__cpconn(&e->o, "CP1", 1)->tx_energy == 500);
  fc_ocpp__staged_free(&c);

  /* a write that fails: nothing applied, and the retry is judged alike */
  next = fc_ocpp__stage(&c, 1);
  fc_ocpp__energy_add(next, 1600);
  fc_ocpp__staged_free(&c);
  next = fc_ocpp__stage(&c, 1);
  assert_true(fc_ocpp__energy_add(next, 1600) == 600);
  fc_ocpp__staged_free(&c);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_facts_come_from_the_model, setup, teardown),
      cmocka_unit_test_setup_teardown(test_meter_ts_falls_back_to_the_last_session, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_far_future_orders_nothing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_staged_until_committed, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
