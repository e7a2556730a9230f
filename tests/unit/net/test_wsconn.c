/* Unit tests for src/net/wsconn.c, the parts that run without a socket: the
 * token bucket, reassembly and its bound, the bounded queue of frames and
 * the references (the last one frees through the hook). The wsi is a
 * stand-in that lws never sees: the soon list's function here takes the
 * frames instead of writing them. */
#include "net/wsconn.h"

#include "core/mem.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <utlist.h>

#include <cmocka.h>

static int freed;

static void conn_free(fc_wsconn_t *c)
{
  (void)c;
  freed++;
}

static const fc_wsconn_ops_t ops = {.free = conn_free};

static struct lws *fake_wsi(void)
{
  static char stand_in;
  return (struct lws *)(void *)&stand_in;
}

/* ---- the bucket ---------------------------------------------------------- */

static void test_bucket_take(void **state)
{
  (void)state;
  fc_bucket_t b;
  fc_bucket_init(&b, 2.0, 1000);
  assert_true(fc_bucket_take(&b, 1000, 10.0, 2.0));
  assert_true(fc_bucket_take(&b, 1000, 10.0, 2.0));
  assert_false(fc_bucket_take(&b, 1000, 10.0, 2.0)); /* empty */
  assert_false(fc_bucket_take(&b, 1050, 10.0, 2.0)); /* half a token in 50 ms */
  assert_true(fc_bucket_take(&b, 1100, 10.0, 2.0));  /* a whole one at 100 ms */
  assert_false(fc_bucket_take(&b, 1100, 10.0, 2.0));
}

static void test_bucket_burst_and_clock(void **state)
{
  (void)state;
  fc_bucket_t b;
  fc_bucket_init(&b, 0.0, 5000);
  /* an hour idle earns no more than the burst */
  assert_true(fc_bucket_refill(&b, 5000 + 3600000, 10.0, 3.0) == 3.0);
  /* a clock that goes back earns nothing, and takes nothing back */
  assert_true(fc_bucket_refill(&b, 1000, 10.0, 3.0) == 3.0);
  assert_true(b.at_ms == 5000 + 3600000);
}

static void test_bucket_spend_debt(void **state)
{
  (void)state;
  fc_bucket_t b;
  fc_bucket_init(&b, 1.0, 0);
  fc_bucket_spend(&b, 3.0); /* a debt */
  assert_true(fc_bucket_refill(&b, 0, 1.0, 2.0) == -2.0);
  assert_false(fc_bucket_take(&b, 2000, 1.0, 2.0)); /* back to 0 after 2 s */
  assert_true(fc_bucket_take(&b, 3000, 1.0, 2.0));
}

/* ---- reassembly ---------------------------------------------------------- */

static void test_rx_whole_is_not_copied(void **state)
{
  (void)state;
  fc_wsconn_t c;
  const char *msg = NULL;
  size_t n = 0;
  fc_wsconn_init(&c, &ops, fake_wsi(), 16, 0);
  static const char text[] = "[2,\"1\",\"Heartbeat\",{}]";
  c.rx_max = sizeof(text);
  assert_int_equal(fc_wsconn__rx_add(&c, text, sizeof(text) - 1, true, &msg, &n), 1);
  assert_ptr_equal(msg, text);
  assert_int_equal(n, sizeof(text) - 1);
  assert_null(c.rx);
  freed = 0;
  fc_wsconn_unref(&c);
  assert_int_equal(freed, 1);
}

static void test_rx_fragments(void **state)
{
  (void)state;
  fc_wsconn_t c;
  const char *msg = NULL;
  size_t n = 0;
  fc_wsconn_init(&c, &ops, fake_wsi(), 100000, 0);
  char part[5000];
  memset(part, 'a', sizeof(part));
  assert_int_equal(fc_wsconn__rx_add(&c, part, sizeof(part), false, &msg, &n), 0);
  part[0] = 'b';
  assert_int_equal(fc_wsconn__rx_add(&c, part, sizeof(part), false, &msg, &n), 0);
  assert_int_equal(fc_wsconn__rx_add(&c, "z", 1, true, &msg, &n), 1);
  assert_int_equal(n, 10001);
  assert_ptr_equal(msg, c.rx);
  assert_int_equal(msg[0], 'a');
  assert_int_equal(msg[5000], 'b');
  assert_int_equal(msg[10000], 'z');
  /* a large buffer is given back once its message is handled */
  fc_wsconn__rx_done(&c);
  assert_int_equal(c.rx_cap, 16384);
  assert_int_equal(fc_wsconn__rx_add(&c, part, sizeof(part), false, &msg, &n), 0);
  assert_int_equal(fc_wsconn__rx_add(&c, part, sizeof(part), false, &msg, &n), 0);
  assert_int_equal(fc_wsconn__rx_add(&c, part, sizeof(part), false, &msg, &n), 0);
  assert_int_equal(fc_wsconn__rx_add(&c, part, sizeof(part), false, &msg, &n), 0);
  assert_int_equal(fc_wsconn__rx_add(&c, "", 0, true, &msg, &n), 1);
  assert_int_equal(n, 20000);
  fc_wsconn__rx_done(&c);
  assert_null(c.rx);
  assert_int_equal(c.rx_cap, 0);
  fc_wsconn_unref(&c);
}

static void test_rx_bound(void **state)
{
  (void)state;
  fc_wsconn_t c;
  const char *msg = NULL;
  size_t n = 0;
  char big[1024];
  memset(big, 'x', sizeof(big));
  fc_wsconn_init(&c, &ops, fake_wsi(), 2048, 0);
  /* exactly the bound, in pieces: taken, and the buffer never passes it */
  assert_int_equal(fc_wsconn__rx_add(&c, big, 1024, false, &msg, &n), 0);
  assert_int_equal(fc_wsconn__rx_add(&c, big, 1024, true, &msg, &n), 1);
  assert_int_equal(n, 2048);
  assert_true(c.rx_cap <= 2048);
  /* one byte more: refused, whether it comes whole or in pieces */
  char over[2049];
  memset(over, 'y', sizeof(over));
  assert_int_equal(fc_wsconn__rx_add(&c, over, sizeof(over), true, &msg, &n), UV_E2BIG);
  assert_int_equal(fc_wsconn__rx_add(&c, big, 1024, false, &msg, &n), 0);
  assert_int_equal(fc_wsconn__rx_add(&c, big, 1024, false, &msg, &n), 0);
  assert_int_equal(fc_wsconn__rx_add(&c, "!", 1, true, &msg, &n), UV_E2BIG);
  assert_int_equal(c.rx_len, 0);
  fc_wsconn_unref(&c);
}

/* ---- the queue of frames ------------------------------------------------- */

static char sent[256];
static int flushed;

/* Instead of fc_wsconn_flush_cb: what would go to the socket. */
static void take_sent(fc_soon_link_t *link, void *arg)
{
  fc_wsconn_t *c = FC_WSCONN_OWNER(link, fc_wsconn_t, soon);
  (void)arg;
  flushed++;
  fc_wsframe_t *f, *tmp;
  DL_FOREACH_SAFE(c->tx, f, tmp)
  {
    strncat(sent, (const char *)f->data + LWS_PRE, f->len);
    strcat(sent, "|");
    DL_DELETE(c->tx, f);
    c->tx_bytes -= f->len;
    fc_free(f);
  }
  fc_wsconn_unref(c);
}

static void test_tx_bound_and_order(void **state)
{
  (void)state;
  uv_loop_t loop;
  fc_soon_t soon;
  fc_wsconn_t c;
  assert_int_equal(uv_loop_init(&loop), 0);
  fc_soon_init(&soon, &loop, take_sent, NULL);
  fc_wsconn_init(&c, &ops, fake_wsi(), 0, 10);
  sent[0] = '\0';
  flushed = freed = 0;

  assert_int_equal(fc_wsconn_send(&c, &soon, "abcd", 4), 0);
  assert_int_equal(c.refs, 2); /* the soon list holds one until it has run */
  assert_int_equal(fc_wsconn_send(&c, &soon, "efgh", 4), 0);
  assert_int_equal(c.refs, 2); /* queued once */
  /* 8 + 3 bytes would pass 10: refused, nothing queued */
  assert_int_equal(fc_wsconn_send(&c, &soon, "ijk", 3), UV_ENOBUFS);
  assert_int_equal(c.tx_bytes, 8);
  assert_int_equal(fc_wsconn_send(&c, &soon, "ij", 2), 0);
  assert_int_equal(c.tx_bytes, 10);

  fc_soon_run(&soon);
  assert_int_equal(flushed, 1);
  assert_string_equal(sent, "abcd|efgh|ij|");
  assert_int_equal(c.tx_bytes, 0);
  assert_int_equal(c.refs, 1);

  /* room again once written */
  assert_int_equal(fc_wsconn_send(&c, &soon, "0123456789", 10), 0);
  fc_soon_run(&soon);
  assert_string_equal(sent, "abcd|efgh|ij|0123456789|");

  /* closed: nothing is queued */
  c.wsi = NULL;
  assert_int_equal(fc_wsconn_send(&c, &soon, "x", 1), UV_ENOTCONN);
  assert_null(c.tx);
  fc_wsconn_unref(&c);
  assert_int_equal(freed, 1);

  fc_soon_close(&soon, NULL, NULL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void just_unref(fc_soon_link_t *link, void *arg)
{
  (void)arg;
  fc_wsconn_unref(FC_WSCONN_OWNER(link, fc_wsconn_t, soon));
}

/* Frames still queued when the last reference goes are freed with it. */
static void test_unref_frees_queue(void **state)
{
  (void)state;
  uv_loop_t loop;
  fc_soon_t soon;
  fc_wsconn_t c;
  assert_int_equal(uv_loop_init(&loop), 0);
  fc_soon_init(&soon, &loop, just_unref, NULL);
  fc_wsconn_init(&c, &ops, fake_wsi(), 0, 1000);
  freed = 0;
  assert_int_equal(fc_wsconn_send(&c, &soon, "one", 3), 0);
  assert_int_equal(fc_wsconn_send(&c, &soon, "two", 3), 0);
  fc_soon_run(&soon); /* drops its reference, writes nothing */
  assert_int_equal(freed, 0);
  assert_int_equal(c.tx_bytes, 6);
  fc_wsconn_unref(&c);        /* the socket's */
  assert_int_equal(freed, 1); /* ASan: no frame leaked */
  fc_soon_close(&soon, NULL, NULL);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(uv_loop_close(&loop), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_bucket_take),        cmocka_unit_test(test_bucket_burst_and_clock),
      cmocka_unit_test(test_bucket_spend_debt),  cmocka_unit_test(test_rx_whole_is_not_copied),
      cmocka_unit_test(test_rx_fragments),       cmocka_unit_test(test_rx_bound),
      cmocka_unit_test(test_tx_bound_and_order), cmocka_unit_test(test_unref_frees_queue),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
