/* Dispatch and a handler alone, through the seam (fc_ocpp_io_t): a stub
 * store that keeps the write it is given and answers when the test says so,
 * a stub for publishing that counts what is published (the bus itself is
 * an empty one: the handler reads its read model), and o->soon's function
 * replaced by one that takes what the session would write to its socket. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "ocpp/ocpp_int.h"

#include <string.h>
#include <utlist.h>

typedef struct env {
  uv_loop_t loop;
  fc_config_t cfg;
  fc_ocpp_t o;
  fc_session_t *s;
  int submits, published;
  fc_write_t *w; /* the last write submitted */
  fc_write_cb cb;
  void *cb_arg;
  char sent[512]; /* what the session wrote, frames one after another */
} env_t;

static env_t *E;

static int stub_submit(fc_store_t *st, fc_write_t *w, fc_write_cb cb, void *arg)
{
  (void)st;
  E->submits++;
  E->w = w;
  E->cb = cb;
  E->cb_arg = arg;
  return 0;
}

static int stub_read(fc_store_t *st, fc_read_t *r, fc_read_cb cb, void *arg)
{
  (void)st, (void)r, (void)cb, (void)arg;
  fail_msg("no read expected");
  return FC_ERR_STORE;
}

static void stub_publish(fc_bus_t *b, fc_write_t *w)
{
  (void)b, (void)w;
  E->published++;
}

/* Instead of the base's flush (fc_wsconn_flush_cb): what would go to the
 * socket. */
static void take_sent(fc_soon_link_t *link, void *arg)
{
  fc_wsconn_t *c = FC_WSCONN_OWNER(link, fc_wsconn_t, soon);
  (void)arg;
  while (c->tx) {
    fc_wsframe_t *f = c->tx;
    strncat(E->sent, (const char *)f->data + LWS_PRE, f->len);
    DL_DELETE(c->tx, f);
    c->tx_bytes -= f->len;
    fc_free(f);
  }
  fc_wsconn_unref(c);
}

static int setup(void **state)
{
  env_t *e = calloc(1, sizeof(*e));
  E = e;
  assert_int_equal(uv_loop_init(&e->loop), 0);
  fc_config_init(&e->cfg);
  e->cfg.frame_log = false;
  fc_ocpp_t *o = &e->o;
  o->loop = &e->loop;
  o->cfg = &e->cfg;
  o->io = (fc_ocpp_io_t){stub_submit, stub_read, stub_publish};
  o->bus = fc_bus_new();
  fc_ocpp__bounds_init(o);
  uv_timer_init(&e->loop, &o->deadline_timer);
  o->deadline_timer.data = o;
  fc_soon_init(&o->soon, &e->loop, take_sent, o);

  /* the wsi is never used by lws here: take_sent writes */
  fc_session_t *s = fc_ocpp__session_new(o, (struct lws *)o, "CP1");
  s->reg = FC_REG_ACCEPTED;
  s->lim = fc_ocpp__limit_acquire(o, s->id);
  e->s = s;
  *state = e;
  return 0;
}

static int teardown(void **state)
{
  env_t *e = *state;
  e->s->conn.wsi = NULL;
  fc_ocpp__session_unref(e->s);
  uv_close((uv_handle_t *)&e->o.deadline_timer, NULL);
  fc_soon_close(&e->o.soon, NULL, NULL);
  assert_int_equal(uv_run(&e->loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  fc_ocpp__cpstates_free(&e->o);
  fc_ocpp__limits_free(&e->o);
  fc_bus_free(e->o.bus);
  fc_config_cleanup(&e->cfg);
  free(e);
  return 0;
}

static const char status_frame[] = "[2,\"m1\",\"StatusNotification\",{\"connectorId\":1,"
                                   "\"errorCode\":\"NoError\",\"status\":\"Charging\"}]";

/* The handler builds one write (the status, then its event); the answer
 * goes out only once that write has committed, and its event is published. */
static void test_status_notification(void **state)
{
  env_t *e = *state;
  fc_ocpp__dispatch(e->s, status_frame, strlen(status_frame));
  assert_int_equal(e->submits, 1);
  assert_true(fc_write_count(e->w) >= 2);
  fc_op_t *op = fc_write_op(e->w, 0);
  assert_int_equal(op->kind, FC_OP_STATUS);
  assert_string_equal(op->charger, "CP1");
  assert_int_equal(op->status.connector, 1);
  assert_string_equal(op->status.status, "Charging");
  assert_string_equal(op->status.error_code, "NoError");
  assert_null(op->status.info);
  assert_false(op->status.has_ts); /* none in the frame: stored at arrival */
  assert_int_equal(op->status.at_ms, op->ts_ms);
  uv_run(&e->loop, UV_RUN_NOWAIT);
  assert_string_equal(e->sent, ""); /* nothing before the commit */
  assert_int_equal(e->published, 0);

  e->cb(e->w, 0, e->cb_arg);
  fc_write_free(e->w);
  uv_run(&e->loop, UV_RUN_NOWAIT);
  assert_string_equal(e->sent, "[3,\"m1\",{}]");
  assert_int_equal(e->published, 1);
}

/* A write that fails is answered InternalError with the store's reason, and
 * nothing is published. */
static void test_status_notification_store_down(void **state)
{
  env_t *e = *state;
  fc_ocpp__dispatch(e->s, status_frame, strlen(status_frame));
  assert_int_equal(e->submits, 1);
  e->cb(e->w, FC_ERR_STORE_DOWN, e->cb_arg);
  fc_write_free(e->w);
  uv_run(&e->loop, UV_RUN_NOWAIT);
  assert_string_equal(e->sent,
                      "[4,\"m1\",\"InternalError\",\"storage unavailable, retry later\",{}]");
  assert_int_equal(e->published, 0);
}

/* A payload its schema refuses never reaches the handler, nor the store. */
static void test_schema_violation(void **state)
{
  env_t *e = *state;
  static const char frame[] = "[2,\"m2\",\"StatusNotification\",{\"connectorId\":1}]";
  fc_ocpp__dispatch(e->s, frame, strlen(frame));
  uv_run(&e->loop, UV_RUN_NOWAIT);
  assert_int_equal(e->submits, 0);
  assert_non_null(strstr(e->sent, "[4,\"m2\",\"OccurenceConstraintViolation\""));
}

int main(void)
{
  assert_int_equal(fc_ocpp_global_init(), 0);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_status_notification, setup, teardown),
      cmocka_unit_test_setup_teardown(test_status_notification_store_down, setup, teardown),
      cmocka_unit_test_setup_teardown(test_schema_violation, setup, teardown),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  fc_ocpp_global_cleanup();
  return rc;
}
