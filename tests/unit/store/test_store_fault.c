/* The store on a failing or stuck disk, through the fault-injection VFS shim
 * (opts.fault_file): retries, the circuit breaker and its probe, health
 * callbacks, and a stalled commit that must not stall the loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store_test_util.h"

/* the fault file is re-read at most every 50 ms */
#define FAULT_SETTLE_MS 80

typedef struct health_log {
  int n;
  fc_store_health_t states[16];
} health_log_t;

static void health_cb(fc_store_health_t state, void *arg)
{
  health_log_t *h = arg;
  if (h->n < 16) h->states[h->n++] = state;
}

static bool health_ok_again(void *arg)
{
  health_log_t *h = arg;
  return h->n > 0 && h->states[h->n - 1] == FC_STORE_OK;
}

static void test_fail_then_breaker_then_recover(void **state)
{
  env_t *e = *state;
  fc_store_opts_t o = {.fault_file = e->fault,
                       .retry_max = 2,
                       .retry_base_ms = 5,
                       .breaker_threshold = 2,
                       .probe_interval_ms = 100};
  health_log_t h = {0};
  fc_store_stats_t st;
  wres_t r;

  assert_int_equal(env_open(e, &o), 0);
  fc_store_on_health(e->s, health_cb, &h);
  assert_int_equal(one(e, FC_OP_HEARTBEAT, "CP1", NULL, NULL).status, 0);

  write_file(e->fault, "fail\n");
  uv_sleep(FAULT_SETTLE_MS);

  /* first failed batch: retried (DEGRADED), then failed */
  uint64_t t0 = uv_hrtime();
  r = one(e, FC_OP_HEARTBEAT, "CP1", NULL, NULL);
  assert_int_equal(r.status, FC_ERR_STORE);
  assert_true((uv_hrtime() - t0) / 1000000 >= 5 + 10); /* two backoffs */
  assert_int_equal(fc_store_health(e->s), FC_STORE_DEGRADED);
  fc_store_stats(e->s, &st);
  assert_int_equal(st.commit_failures, 3); /* the attempt and two retries */
  assert_int_equal(st.writes_failed, 1);

  /* second failed batch in a row: the breaker opens */
  r = one(e, FC_OP_STATUS, "CP1", "{\"connectorId\":1,\"status\":\"Available\"}", NULL);
  assert_int_equal(r.status, FC_ERR_STORE);
  assert_int_equal(fc_store_health(e->s), FC_STORE_DOWN);
  assert_int_equal(h.n, 2);
  assert_int_equal(h.states[0], FC_STORE_DEGRADED);
  assert_int_equal(h.states[1], FC_STORE_DOWN);

  /* open: refused at once, the caller keeps the write */
  fc_write_t *w = fc_write_new();
  fc_write_heartbeat(w, "CP1");
  assert_int_equal(fc_store_submit(e->s, w, wres_cb, &r), FC_ERR_STORE_DOWN);

  /* probes keep failing while the disk does */
  uv_sleep(250);
  assert_int_equal(fc_store_health(e->s), FC_STORE_DOWN);

  /* the disk comes back: a probe closes the breaker */
  unlink(e->fault);
  assert_true(run_until(e, health_ok_again, &h, 3000));
  assert_int_equal(fc_store_health(e->s), FC_STORE_OK);
  assert_int_equal(h.n, 3);

  r = submit_wait(e, w);
  assert_int_equal(r.status, 0);
  assert_int_equal(qint(e, "SELECT n > 0 FROM probe"), 1);
  assert_int_equal(qint(e, "SELECT count(*) FROM connectors"), 0); /* the failed status */
  fc_store_stats(e->s, &st);
  assert_int_equal(st.writes_ok, 2);
  assert_int_equal(st.writes_failed, 2);
}

/* A failing disk that recovers during the retries: the batch commits, and
 * DEGRADED goes back to OK without the breaker. */
static void test_fail_recover_within_retries(void **state)
{
  env_t *e = *state;
  fc_store_opts_t o = {.fault_file = e->fault, .retry_max = 4, .retry_base_ms = 100};
  health_log_t h = {0};

  assert_int_equal(env_open(e, &o), 0);
  fc_store_on_health(e->s, health_cb, &h);
  write_file(e->fault, "fail");
  uv_sleep(FAULT_SETTLE_MS);

  wres_t r = {0};
  fc_write_t *w = fc_write_new();
  fc_write_heartbeat(w, "CP1");
  assert_int_equal(fc_store_submit(e->s, w, wres_cb, &r), 0);
  uv_sleep(50); /* first attempt fails, the writer backs off 100 ms */
  unlink(e->fault);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(r.done, 1);
  assert_int_equal(r.status, 0);
  assert_int_equal(h.n, 2);
  assert_int_equal(h.states[0], FC_STORE_DEGRADED);
  assert_int_equal(h.states[1], FC_STORE_OK);
  assert_int_equal(qint(e, "SELECT count(*) FROM chargers"), 1);
}

/* When the breaker opens, the writes queued behind the failing batch fail too
 * rather than waiting for the disk. */
static void test_breaker_fails_queued(void **state)
{
  env_t *e = *state;
  fc_store_opts_t o = {.fault_file = e->fault,
                       .retry_max = 1,
                       .retry_base_ms = 50,
                       .breaker_threshold = 1,
                       .batch_max = 1,
                       .probe_interval_ms = 60000};
  wres_t r[5] = {{0}};

  assert_int_equal(env_open(e, &o), 0);
  write_file(e->fault, "fail");
  uv_sleep(FAULT_SETTLE_MS);
  for (int i = 0; i < 5; i++) {
    fc_write_t *w = fc_write_new();
    fc_write_heartbeat(w, "CP1");
    assert_int_equal(fc_store_submit(e->s, w, wres_cb, &r[i]), 0);
  }
  uint64_t t0 = uv_hrtime();
  uv_run(&e->loop, UV_RUN_DEFAULT);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(r[i].done, 1);
    assert_int_equal(r[i].status, FC_ERR_STORE);
    if (i) assert_true(r[i].seq > r[i - 1].seq); /* in queue order */
  }
  /* one batch's attempts, not five */
  assert_true((uv_hrtime() - t0) / 1000000 < 1000);
  assert_int_equal(fc_store_health(e->s), FC_STORE_DOWN);
  unlink(e->fault);
  /* drain and close with the breaker open (probe far away) */
}

/* A disk that takes writes but cannot make them durable ("fail-sync"): the
 * batches commit, the sync that is to confirm them fails, and their writes
 * fail: nobody is told of what may not survive a power loss. A failed sync
 * is not retried (the kernel may have dropped what it could not write): the
 * breaker opens at once, and every batch committed after fails too, until a
 * probe that syncs (and checkpoints) works. */
static void test_fail_sync(void **state)
{
  env_t *e = *state;
  fc_store_opts_t o = {.fault_file = e->fault, .batch_max = 1, .probe_interval_ms = 100};
  health_log_t h = {0};
  fc_store_stats_t st;
  wres_t r[4] = {{0}};

  assert_int_equal(env_open(e, &o), 0);
  fc_store_on_health(e->s, health_cb, &h);
  assert_int_equal(one(e, FC_OP_HEARTBEAT, "CP1", NULL, NULL).status, 0);

  write_file(e->fault, "fail-sync");
  uv_sleep(FAULT_SETTLE_MS);
  /* Four batches (batch_max 1): committed one after the other, none
   * synced. They are all queued before the first can commit (another
   * connection holds the write lock meanwhile; the writer waits for it, as
   * for the CLI): else the first one's failed sync could open the breaker
   * before the last is submitted, and submit would refuse it. */
  sqlite3 *lock = NULL;
  assert_int_equal(sqlite3_open(e->path, &lock), SQLITE_OK);
  assert_int_equal(sqlite3_exec(lock, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  for (int i = 0; i < 4; i++) {
    fc_write_t *w = fc_write_new();
    char status[64];
    snprintf(status, sizeof(status), "{\"connectorId\":%d,\"status\":\"Available\"}", i + 1);
    add_op(w, FC_OP_STATUS, "CP1", status, NULL);
    assert_int_equal(fc_store_submit(e->s, w, wres_cb, &r[i]), 0);
  }
  assert_int_equal(sqlite3_exec(lock, "ROLLBACK", NULL, NULL, NULL), SQLITE_OK);
  assert_int_equal(sqlite3_close(lock), SQLITE_OK);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  for (int i = 0; i < 4; i++) {
    assert_int_equal(r[i].done, 1);
    assert_int_equal(r[i].status, FC_ERR_STORE);
    if (i) assert_true(r[i].seq > r[i - 1].seq); /* in queue order */
  }
  /* DOWN at once: no retries, so no DEGRADED first */
  assert_int_equal(fc_store_health(e->s), FC_STORE_DOWN);
  assert_int_equal(h.n, 1);
  assert_int_equal(h.states[0], FC_STORE_DOWN);
  fc_store_stats(e->s, &st);
  assert_int_equal(st.writes_ok, 1);
  assert_int_equal(st.writes_failed, 4);
  /* The first batch was committed before its sync failed: SQLite has it
   * (the rest, at most, too). It was never confirmed; a charger sends it
   * again, as after a crash between commit and answer. */
  assert_true(qint(e, "SELECT count(*) FROM connectors") >= 1);

  fc_write_t *w = fc_write_new();
  fc_write_heartbeat(w, "CP1");
  wres_t rr = {0};
  assert_int_equal(fc_store_submit(e->s, w, wres_cb, &rr), FC_ERR_STORE_DOWN);
  uv_sleep(250); /* probes: they commit, but cannot sync */
  assert_int_equal(fc_store_health(e->s), FC_STORE_DOWN);

  unlink(e->fault);
  assert_true(run_until(e, health_ok_again, &h, 3000));
  rr = submit_wait(e, w);
  assert_int_equal(rr.status, 0);
  fc_store_stats(e->s, &st);
  assert_int_equal(st.writes_ok, 2);
}

/* ---- stall ---- */

typedef struct stall {
  int ticks;
  int ticks_at_cb;
  int done;
  int status;
  uint64_t t_submit, t_cb;
  uv_timer_t timer;
} stall_t;

static void tick_cb(uv_timer_t *t)
{
  stall_t *x = t->data;
  x->ticks++;
}

static void stall_write_cb(fc_write_t *w, int status, void *arg)
{
  stall_t *x = arg;
  x->done = 1;
  x->status = status;
  x->t_cb = uv_hrtime();
  x->ticks_at_cb = x->ticks;
  uv_timer_stop(&x->timer);
  uv_close((uv_handle_t *)&x->timer, NULL);
}

static void test_stall(void **state)
{
  env_t *e = *state;
  fc_store_opts_t o = {.fault_file = e->fault};
  stall_t x = {0};

  assert_int_equal(env_open(e, &o), 0);
  write_file(e->fault, "stall 300");
  uv_sleep(FAULT_SETTLE_MS);

  uv_timer_init(&e->loop, &x.timer);
  x.timer.data = &x;
  uv_timer_start(&x.timer, tick_cb, 20, 20);
  fc_write_t *w = fc_write_new();
  fc_write_heartbeat(w, "CP1");
  x.t_submit = uv_hrtime();
  assert_int_equal(fc_store_submit(e->s, w, stall_write_cb, &x), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  unlink(e->fault);

  assert_int_equal(x.done, 1);
  assert_int_equal(x.status, 0);
  uint64_t ms = (x.t_cb - x.t_submit) / 1000000;
  print_message("stalled write took %llu ms, %d timer ticks meanwhile\n", (unsigned long long)ms,
                x.ticks_at_cb);
  assert_true(ms >= 300);
  /* the loop kept running: the 20 ms timer fired all along */
  assert_true(x.ticks_at_cb >= 10);
  assert_int_equal(fc_store_health(e->s), FC_STORE_OK);
}

/* A fault file with other content, or none, changes nothing. */
static void test_fault_passthrough(void **state)
{
  env_t *e = *state;
  fc_store_opts_t o = {.fault_file = e->fault};
  assert_int_equal(env_open(e, &o), 0);
  write_file(e->fault, "ok");
  uv_sleep(FAULT_SETTLE_MS);
  assert_int_equal(one(e, FC_OP_HEARTBEAT, "CP1", NULL, NULL).status, 0);
  unlink(e->fault);
  uv_sleep(FAULT_SETTLE_MS);
  assert_int_equal(one(e, FC_OP_HEARTBEAT, "CP2", NULL, NULL).status, 0);
  assert_int_equal(qint(e, "SELECT count(*) FROM chargers"), 2);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_fail_then_breaker_then_recover, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_fail_recover_within_retries, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_breaker_fails_queued, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_stall, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_fail_sync, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_fault_passthrough, env_setup, env_teardown),
  };
  fc_log_level = FC_LOG_ERROR;
  /* FC_TEST_FILTER=test_fail_sync: one test, e.g. to run it in a loop */
  if (getenv("FC_TEST_FILTER")) cmocka_set_test_filter(getenv("FC_TEST_FILTER"));
  return cmocka_run_group_tests(tests, NULL, NULL);
}
