/* The store's disk watermarks: the free space (statvfs, or the fault file's
 * "free BYTES"), the frame log stopped below the first watermark, writes
 * refused below the second, each change reported once, and recovery. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_test_util.h"

#include "store/store_int.h"

static void test_free_bytes(void **state)
{
  env_t *e = *state;
  uint64_t v = 0;
  /* no fault file: the filesystem's own answer */
  assert_int_equal(fc_store__disk_free(e->path, e->fault, &v), 0);
  assert_true(v > 0);
  v = 0;
  assert_int_equal(fc_store__disk_free("relative.db", NULL, &v), 0);
  assert_true(v > 0);
  /* the test hook */
  write_file(e->fault, "free 12345\n");
  assert_int_equal(fc_store__disk_free(e->path, e->fault, &v), 0);
  assert_int_equal(v, 12345);
  /* a fault file about something else is not about the disk */
  write_file(e->fault, "stall 10\n");
  assert_int_equal(fc_store__disk_free(e->path, e->fault, &v), 0);
  assert_int_not_equal(v, 12345);
  assert_true(fc_store__disk_free("/nonexistent-dir/x.db", NULL, &v) < 0);
}

typedef struct watch {
  env_t *e;
  uv_timer_t t;
  fc_store_disk_t want;
  int n;
  fc_store_disk_t states[8];
  uint64_t frees[8];
} watch_t;

static void disk_cb(fc_store_disk_t state, uint64_t free_bytes, void *arg)
{
  watch_t *w = arg;
  if (w->n < 8) {
    w->states[w->n] = state;
    w->frees[w->n++] = free_bytes;
  }
}

static void poll_cb(uv_timer_t *t)
{
  watch_t *w = t->data;
  if (w->n > 0 && w->states[w->n - 1] == w->want) uv_timer_stop(t);
}

/* Runs the loop until the disk callback has reported want. */
static void wait_state(watch_t *w, fc_store_disk_t want)
{
  w->want = want;
  uv_timer_start(&w->t, poll_cb, 10, 10);
  uv_run(&w->e->loop, UV_RUN_DEFAULT);
  assert_int_equal(w->states[w->n - 1], want);
}

static void noop_cb(fc_write_t *w, int status, void *arg)
{
  (void)w;
  *(int *)arg = status == 0 ? 1 : -1;
}

static void test_watermarks(void **state)
{
  env_t *e = *state;
  watch_t w = {.e = e};
  /* LOW from the start: the first check is made at open */
  write_file(e->fault, "free 3000\n");
  fc_store_opts_t o = {.fault_file = e->fault,
                       .disk_check_ms = 20,
                       .frame_log_min_free = 4000,
                       .store_min_free = 2000};
  assert_int_equal(env_open(e, &o), 0);
  fc_store_on_disk(e->s, disk_cb, &w);
  uv_timer_init(&e->loop, &w.t);
  w.t.data = &w;
  wait_state(&w, FC_DISK_LOW);
  assert_int_equal(w.n, 1);
  assert_int_equal(w.frees[0], 3000);
  assert_false(fc_store_frame_log_ok(e->s));
  assert_int_equal(fc_store_health(e->s), FC_STORE_DEGRADED);
  uint64_t fb = 0;
  assert_int_equal(fc_store_disk(e->s, &fb), FC_DISK_LOW);
  assert_int_equal(fb, 3000);

  /* LOW still commits */
  int done = 0;
  fc_write_t *wr = fc_write_new();
  fc_write_heartbeat(wr, "CP1");
  assert_int_equal(fc_store_submit(e->s, wr, noop_cb, &done), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(done, 1);

  /* CRITICAL: refused before it is queued, so never confirmed */
  write_file(e->fault, "free 1000\n");
  wait_state(&w, FC_DISK_CRITICAL);
  assert_int_equal(w.n, 2);
  assert_int_equal(fc_store_health(e->s), FC_STORE_DOWN);
  wr = fc_write_new();
  fc_write_heartbeat(wr, "CP1");
  assert_int_equal(fc_store_submit(e->s, wr, noop_cb, &done), FC_ERR_STORE_DOWN);
  fc_write_free(wr);
  fc_store_stats_t st;
  fc_store_stats(e->s, &st);
  assert_int_equal(st.disk_refused, 1);

  /* the space is back: everything works again */
  unlink(e->fault);
  wait_state(&w, FC_DISK_OK);
  assert_int_equal(w.n, 3);
  assert_true(fc_store_frame_log_ok(e->s));
  assert_int_equal(fc_store_health(e->s), FC_STORE_OK);
  done = 0;
  wr = fc_write_new();
  fc_write_heartbeat(wr, "CP1");
  assert_int_equal(fc_store_submit(e->s, wr, noop_cb, &done), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(done, 1);
  uv_close((uv_handle_t *)&w.t, NULL);
  env_close_store(e);
}

static void test_off_by_default(void **state)
{
  env_t *e = *state;
  write_file(e->fault, "free 1\n");
  fc_store_opts_t o = {.fault_file = e->fault}; /* no watermarks */
  assert_int_equal(env_open(e, &o), 0);
  assert_true(fc_store_frame_log_ok(e->s));
  assert_int_equal(fc_store_disk(e->s, NULL), FC_DISK_OK);
  assert_int_equal(fc_store_health(e->s), FC_STORE_OK);
  env_close_store(e);
}

int main(void)
{
  fc_log_level = FC_LOG_ERROR;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_free_bytes, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_watermarks, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_off_by_default, env_setup, env_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
