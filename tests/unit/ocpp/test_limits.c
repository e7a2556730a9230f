/* The per-charger-id limiter state (limits.c) and the admission of chargers
 * that are not in the registry (registry.c): one entry per id that outlives
 * its connections, a bounded table that forgets the least recently used
 * entry nobody holds, and the unknown-charger bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ocpp/ocpp_int.h"

typedef struct env {
  uv_loop_t loop;
  fc_config_t cfg;
  fc_ocpp_t o;
} env_t;

static int setup(void **state)
{
  env_t *e = calloc(1, sizeof(*e));
  assert_int_equal(uv_loop_init(&e->loop), 0);
  fc_config_init(&e->cfg);
  e->o.loop = &e->loop;
  e->o.cfg = &e->cfg;
  *state = e;
  return 0;
}

static int teardown(void **state)
{
  env_t *e = *state;
  fc_ocpp__limits_free(&e->o);
  fc_config_cleanup(&e->cfg);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  free(e);
  return 0;
}

static fc_cplimit_t *find(env_t *e, const char *id)
{
  fc_cplimit_t *l = NULL;
  HASH_FIND_STR(e->o.limits, id, l);
  return l;
}

/* A reconnect finds the bucket as the last connection left it. */
static void test_outlives_connections(void **state)
{
  env_t *e = *state;
  fc_cplimit_t *a = fc_ocpp__limit_acquire(&e->o, "CP1");
  assert_true(a->bucket.tokens == (double)e->cfg.rate_burst); /* a new id: a full bucket */
  a->bucket.tokens = 0.25;
  fc_ocpp__limit_release(&e->o, a);
  fc_cplimit_t *b = fc_ocpp__limit_acquire(&e->o, "CP1");
  assert_ptr_equal(a, b);
  assert_true(b->bucket.tokens == 0.25);
  /* two connections of one id (the second replacing the first) share it */
  fc_cplimit_t *c = fc_ocpp__limit_acquire(&e->o, "CP1");
  assert_ptr_equal(b, c);
  assert_int_equal(c->refs, 2);
  fc_ocpp__limit_release(&e->o, b);
  fc_ocpp__limit_release(&e->o, c);
  assert_int_equal(HASH_COUNT(e->o.limits), 1);
}

/* Past charger-state-max the least recently used entry that no session
 * holds goes; held ones never do. */
static void test_bounded_lru(void **state)
{
  env_t *e = *state;
  e->cfg.charger_state_max = 3;
  fc_cplimit_t *held = fc_ocpp__limit_acquire(&e->o, "HELD");
  fc_ocpp__limit_release(&e->o, fc_ocpp__limit_acquire(&e->o, "OLD"));
  fc_ocpp__limit_release(&e->o, fc_ocpp__limit_acquire(&e->o, "MID"));
  fc_ocpp__limit_release(&e->o, fc_ocpp__limit_acquire(&e->o, "OLD")); /* used again */
  fc_ocpp__limit_release(&e->o, fc_ocpp__limit_acquire(&e->o, "NEW"));
  assert_int_equal(HASH_COUNT(e->o.limits), 3);
  assert_null(find(e, "MID")); /* the least recently used not held */
  assert_non_null(find(e, "HELD"));
  assert_non_null(find(e, "OLD"));
  assert_non_null(find(e, "NEW"));
  assert_int_equal(e->o.stats.limit_evictions, 1);

  /* cycling ids does not grow it */
  char id[16];
  for (int i = 0; i < 1000; i++) {
    snprintf(id, sizeof(id), "X%d", i);
    fc_ocpp__limit_release(&e->o, fc_ocpp__limit_acquire(&e->o, id));
  }
  assert_int_equal(HASH_COUNT(e->o.limits), 3);
  assert_ptr_equal(find(e, "HELD"), held);

  /* when every entry is held, the table grows (connections are bounded elsewhere) */
  fc_cplimit_t *h[3];
  for (int i = 0; i < 3; i++) {
    snprintf(id, sizeof(id), "H%d", i);
    h[i] = fc_ocpp__limit_acquire(&e->o, id);
  }
  assert_int_equal(HASH_COUNT(e->o.limits), 4);
  for (int i = 0; i < 3; i++)
    fc_ocpp__limit_release(&e->o, h[i]);
  fc_ocpp__limit_release(&e->o, held);
}

/* The tick forgets entries as good as new, and only those. */
static void test_tick_forgets_idle(void **state)
{
  env_t *e = *state;
  uint64_t now = fc_ocpp__now(&e->o);
  fc_cplimit_t *idle = fc_ocpp__limit_acquire(&e->o, "IDLE");
  fc_ocpp__limit_release(&e->o, idle);
  fc_ocpp__limit_release(&e->o, fc_ocpp__limit_acquire(&e->o, "RECENT"));
  fc_cplimit_t *held = fc_ocpp__limit_acquire(&e->o, "HELD");
  idle->seen_ms = idle->fl_window_ms = now - 61000;
  held->seen_ms = held->fl_window_ms = now - 61000;
  fc_ocpp__limits_tick(&e->o);
  assert_null(find(e, "IDLE"));
  assert_non_null(find(e, "RECENT"));
  assert_non_null(find(e, "HELD"));
  fc_ocpp__limit_release(&e->o, held);
}

static void test_unknown_admission(void **state)
{
  env_t *e = *state;
  e->cfg.unknown_max = 2;
  e->cfg.unknown_rate = 3;
  e->o.unknown_tokens = 3;
  e->o.unknown_tokens_at_ms = fc_ocpp__now(&e->o);
  /* a burst of unknown-rate, then 429 */
  for (int i = 0; i < 3; i++)
    assert_int_equal(fc_ocpp__unknown_admit(&e->o, "U"), 0);
  assert_int_equal(fc_ocpp__unknown_admit(&e->o, "U"), 429);
  assert_int_equal(fc_ocpp__unknown_admit(&e->o, "V"), 429);
  assert_int_equal(e->o.stats.unknown_refused_rate, 2);
  /* unknown-max connected: 503, whatever the bucket */
  e->o.unknown_tokens = 3;
  e->o.nunknown = 2;
  assert_int_equal(fc_ocpp__unknown_admit(&e->o, "W"), 503);
  assert_int_equal(e->o.stats.unknown_refused_max, 1);
  e->o.nunknown = 1;
  assert_int_equal(fc_ocpp__unknown_admit(&e->o, "W"), 0);
}

/* The unknown-charger policy in one place: a registered charger gets its own
 * registration whatever the policy; one that is not gets the policy's. */
static void test_registry_admit(void **state)
{
  env_t *e = *state;
  fc_regent_t *ent = (fc_regent_t *)1;
  fc_ocpp__registry_put(&e->o, "CP-REJ", FC_REG_REJECTED, NULL);
  fc_ocpp__registry_put(&e->o, "CP-PEN", FC_REG_PENDING, NULL);
  static const struct {
    int policy;
    fc_reg_t unknown;
  } cases[] = {{FC_UNKNOWN_REJECT, FC_REG_REJECTED},
               {FC_UNKNOWN_PENDING, FC_REG_PENDING},
               {FC_UNKNOWN_ACCEPT, FC_REG_ACCEPTED}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    e->cfg.unknown_chargers = cases[i].policy;
    assert_int_equal(fc_ocpp__registry_admit(&e->o, "CP-NEW", &ent), cases[i].unknown);
    assert_null(ent);
    assert_int_equal(fc_ocpp__registry_admit(&e->o, "CP-NEW", NULL), cases[i].unknown);
    assert_int_equal(fc_ocpp__registry_admit(&e->o, "CP-REJ", &ent), FC_REG_REJECTED);
    assert_ptr_equal(ent, fc_ocpp__registry_find(&e->o, "CP-REJ"));
    assert_int_equal(fc_ocpp__registry_admit(&e->o, "CP-PEN", &ent), FC_REG_PENDING);
    assert_non_null(ent);
  }
  fc_ocpp__registry_free(&e->o);
}

int main(void)
{
  fc_log_level = FC_LOG_ERROR;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_outlives_connections, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bounded_lru, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tick_forgets_idle, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unknown_admission, setup, teardown),
      cmocka_unit_test_setup_teardown(test_registry_admit, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
