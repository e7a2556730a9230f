/* Unit tests for src/push/outq.c: the bounded, coalescing per-client queue
 * of events — order, byte and count accounting, coalescing of state events
 * over the soft bound (or when forced), events that are never dropped, the
 * hard bounds, fc_outq_take's limits, and reference counting.
 *
 * References: every event made here keeps one reference of the test's own
 * (in made[]); when a test ends, each must be back at exactly that one
 * reference — the queue unreferenced everything it was given exactly once. */
#include "push/outq.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define MAX_MADE 512
#define BIG ((size_t)1 << 30)

static fc_event_t *made[MAX_MADE];
static size_t nmade;

/* An event whose JSON is exactly len bytes (len >= 8; the bytes are filler:
 * the queue never reads them). The test keeps one reference in made[]. */
static fc_event_t *ev(fc_event_type_t type, const char *charger, int connector, int64_t seq,
                      size_t len)
{
  char buf[4096];
  assert_true(len >= 8 && len < sizeof(buf));
  memset(buf, ' ', len);
  buf[0] = '{';
  buf[len - 1] = '}';
  assert_true(nmade < MAX_MADE);
  fc_event_t *e = fc_event_new(type, charger, connector, seq, buf, len);
  made[nmade++] = e;
  return e;
}

static int setup(void **state)
{
  (void)state;
  nmade = 0;
  return 0;
}

/* Every event is back to the test's own single reference. */
static int teardown(void **state)
{
  (void)state;
  for (size_t i = 0; i < nmade; i++) {
    assert_int_equal(made[i]->refs, 1);
    fc_event_unref(made[i]);
  }
  nmade = 0;
  return 0;
}

/* Takes everything and checks it against want[] (in order); releases the
 * taken references. */
static void expect_queue(fc_outq_t *q, fc_event_t *const *want, size_t n)
{
  fc_event_t *out[MAX_MADE];
  size_t bytes = 0;
  for (size_t i = 0; i < n; i++)
    bytes += want[i]->len;
  assert_int_equal(q->count, n);
  assert_int_equal(q->bytes, bytes);
  size_t k = fc_outq_take(q, out, NULL, MAX_MADE, BIG);
  assert_int_equal(k, n);
  for (size_t i = 0; i < k; i++) {
    assert_ptr_equal(out[i], want[i]);
    assert_int_equal(out[i]->refs, 2); /* the test's and the one taken */
    fc_event_unref(out[i]);
  }
  assert_true(fc_outq_empty(q));
  assert_int_equal(q->count, 0);
  assert_int_equal(q->bytes, 0);
}

static const fc_event_type_t state_types[] = {FC_EV_METER, FC_EV_STATUS, FC_EV_ENERGY, FC_EV_COST,
                                              FC_EV_PRECHARGE};

/* ---- order and accounting ---------------------------------------------- */

static void test_init_empty(void **state)
{
  (void)state;
  fc_outq_t q;
  memset(&q, 0xa5, sizeof(q));
  fc_outq_init(&q, 100, 200, 10);
  assert_true(fc_outq_empty(&q));
  assert_null(q.head);
  assert_null(q.keys);
  assert_int_equal(q.bytes, 0);
  assert_int_equal(q.count, 0);
  assert_int_equal(q.soft_bytes, 100);
  assert_int_equal(q.hard_bytes, 200);
  assert_int_equal(q.hard_count, 10);
  assert_false(q.coalescing);
  assert_int_equal(q.coalesced, 0);

  fc_event_t *out[1];
  assert_int_equal(fc_outq_take(&q, out, NULL, 1, BIG), 0);
  fc_outq_cleanup(&q); /* on an empty queue */
  assert_true(fc_outq_empty(&q));
}

static void test_order_and_accounting(void **state)
{
  (void)state;
  fc_outq_t q;
  fc_outq_init(&q, BIG, BIG, 1000);
  fc_event_t *want[6] = {
      ev(FC_EV_HELLO, "", 0, 0, 40),         ev(FC_EV_SNAPSHOT, "CP1", 0, 3, 300),
      ev(FC_EV_STATUS, "CP1", 1, 4, 17),     ev(FC_EV_METER, "CP1", 1, 5, 64),
      ev(FC_EV_TX_STARTED, "CP1", 1, 6, 99), ev(FC_EV_METER, "CP2", 2, 1, 8),
  };
  size_t bytes = 0;
  for (size_t i = 0; i < 6; i++) {
    assert_int_equal(fc_outq_push(&q, want[i], NULL), FC_OUTQ_OK);
    bytes += want[i]->len;
    assert_int_equal(q.count, i + 1);
    assert_int_equal(q.bytes, bytes);
    assert_int_equal(want[i]->refs, 2); /* the queue took a reference of its own */
    assert_false(fc_outq_empty(&q));
  }
  expect_queue(&q, want, 6);

  /* Usable again after draining. */
  fc_event_t *again = ev(FC_EV_METER, "CP1", 1, 7, 20);
  assert_int_equal(fc_outq_push(&q, again, NULL), FC_OUTQ_OK);
  assert_int_equal(q.count, 1);
  expect_queue(&q, &again, 1);
  assert_int_equal(q.coalesced, 0);
  fc_outq_cleanup(&q);
}

/* ---- coalescing ---------------------------------------------------------- */

static void test_under_soft_nothing_coalesces(void **state)
{
  (void)state;
  fc_outq_t q;
  fc_outq_init(&q, 1000, BIG, 1000);
  fc_event_t *want[10];
  size_t n = 0;
  for (int64_t seq = 1; seq <= 10; seq++)
    want[n++] = ev(state_types[seq % 2], "CP1", 1, seq, 20); /* 200 bytes in all */
  for (size_t i = 0; i < n; i++)
    assert_int_equal(fc_outq_push(&q, want[i], NULL), FC_OUTQ_OK);
  assert_int_equal(q.coalesced, 0);
  expect_queue(&q, want, n);
  fc_outq_cleanup(&q);
}

static void test_over_soft_replaces_same_key(void **state)
{
  (void)state;
  for (size_t t = 0; t < sizeof(state_types) / sizeof(state_types[0]); t++) {
    fc_event_type_t type = state_types[t];
    fc_outq_t q;
    fc_outq_init(&q, 15, BIG, 1000);
    fc_event_t *a = ev(type, "CP1", 1, 1, 10);
    fc_event_t *b = ev(FC_EV_TX_STARTED, "CP1", 1, 2, 10); /* now 20 bytes: over 15 */
    fc_event_t *c = ev(type, "CP1", 1, 3, 10);
    fc_event_t *d = ev(FC_EV_COMMAND, "CP1", 1, 4, 10);
    fc_event_t *e = ev(type, "CP1", 1, 5, 10);
    assert_int_equal(fc_outq_push(&q, a, NULL), FC_OUTQ_OK);
    assert_int_equal(fc_outq_push(&q, b, NULL), FC_OUTQ_OK);
    assert_int_equal(fc_outq_push(&q, c, NULL), FC_OUTQ_OK);
    /* a was dropped (its queue reference released), c appended at the end */
    assert_int_equal(a->refs, 1);
    assert_int_equal(q.coalesced, 1);
    assert_int_equal(q.count, 2);
    assert_int_equal(q.bytes, 20);
    assert_int_equal(fc_outq_push(&q, d, NULL), FC_OUTQ_OK);
    assert_int_equal(fc_outq_push(&q, e, NULL), FC_OUTQ_OK);
    assert_int_equal(c->refs, 1);
    assert_int_equal(q.coalesced, 2);
    fc_event_t *want[] = {b, d, e}; /* seq order kept: 2, 4, 5 */
    expect_queue(&q, want, 3);
    fc_outq_cleanup(&q);
    teardown(NULL);
  }
}

/* The newest of a run of state events is the one that stays, and it stays
 * at the end: the client's view ends with the latest state. */
static void test_over_soft_keeps_latest(void **state)
{
  (void)state;
  fc_outq_t q;
  fc_outq_init(&q, 0, BIG, 1000); /* always over the soft bound */
  fc_event_t *st = ev(FC_EV_STATUS, "CP1", 1, 1, 12);
  assert_int_equal(fc_outq_push(&q, st, NULL), FC_OUTQ_OK);
  fc_event_t *last = NULL;
  for (int64_t seq = 2; seq <= 100; seq++) {
    last = ev(FC_EV_METER, "CP1", 1, seq, 30);
    assert_int_equal(fc_outq_push(&q, last, NULL), FC_OUTQ_OK);
    assert_int_equal(q.count, 2);
    assert_int_equal(q.bytes, 42);
  }
  assert_int_equal(q.coalesced, 98);
  fc_event_t *want[] = {st, last};
  expect_queue(&q, want, 2);
  fc_outq_cleanup(&q);
}

static void test_over_soft_distinct_keys_kept(void **state)
{
  (void)state;
  fc_outq_t q;
  fc_outq_init(&q, 0, BIG, 1000);
  fc_event_t *want[] = {
      ev(FC_EV_METER, "CP1", 1, 1, 10),  ev(FC_EV_METER, "CP1", 2, 2, 10),
      ev(FC_EV_METER, "CP1", 0, 3, 10),  ev(FC_EV_METER, "CP2", 1, 1, 10),
      ev(FC_EV_METER, "CP10", 1, 1, 10), ev(FC_EV_METER, "CP", 1, 1, 10),
      ev(FC_EV_STATUS, "CP1", 1, 4, 10), ev(FC_EV_ENERGY, "CP1", 1, 5, 10),
      ev(FC_EV_COST, "CP1", 1, 6, 10),   ev(FC_EV_PRECHARGE, "CP1", 1, 7, 10),
      ev(FC_EV_METER, "", 1, 0, 10),
  };
  size_t n = sizeof(want) / sizeof(want[0]);
  for (size_t i = 0; i < n; i++)
    assert_int_equal(fc_outq_push(&q, want[i], NULL), FC_OUTQ_OK);
  assert_int_equal(q.coalesced, 0);
  expect_queue(&q, want, n);
  fc_outq_cleanup(&q);
}

static void test_never_dropped(void **state)
{
  (void)state;
  static const fc_event_type_t kept[] = {
      FC_EV_TX_STARTED, FC_EV_TX_STOPPED, FC_EV_COMMAND, FC_EV_ONLINE, FC_EV_OFFLINE,
      FC_EV_HELLO,      FC_EV_SNAPSHOT,   FC_EV_LAGGED,  FC_EV_ERROR,  FC_EV_DEGRADED,
  };
  fc_outq_t q;
  fc_outq_init(&q, 0, BIG, 1000);
  q.coalescing = true;
  fc_event_t *want[64];
  size_t n = 0;
  int64_t seq = 1;
  for (int round = 0; round < 3; round++) {
    for (size_t t = 0; t < sizeof(kept) / sizeof(kept[0]); t++) {
      fc_event_t *e = ev(kept[t], "CP1", 1, seq++, 10);
      want[n++] = e;
      assert_int_equal(fc_outq_push(&q, e, NULL), FC_OUTQ_OK);
    }
  }
  assert_int_equal(q.coalesced, 0);
  expect_queue(&q, want, n);

  /* Interleaved with state events, which do coalesce around them. */
  fc_event_t *m1 = ev(FC_EV_METER, "CP1", 1, seq++, 10);
  fc_event_t *t1 = ev(FC_EV_TX_STARTED, "CP1", 1, seq++, 10);
  fc_event_t *m2 = ev(FC_EV_METER, "CP1", 1, seq++, 10);
  fc_event_t *t2 = ev(FC_EV_TX_STOPPED, "CP1", 1, seq++, 10);
  fc_event_t *m3 = ev(FC_EV_METER, "CP1", 1, seq++, 10);
  fc_event_t *seqv[] = {m1, t1, m2, t2, m3};
  for (size_t i = 0; i < 5; i++)
    assert_int_equal(fc_outq_push(&q, seqv[i], NULL), FC_OUTQ_OK);
  fc_event_t *want2[] = {t1, t2, m3};
  expect_queue(&q, want2, 3);
  assert_int_equal(q.coalesced, 2);
  fc_outq_cleanup(&q);
}

static void test_forced_coalescing(void **state)
{
  (void)state;
  fc_outq_t q;
  fc_outq_init(&q, BIG, BIG, 1000);
  q.coalescing = true;
  fc_event_t *a = ev(FC_EV_METER, "CP1", 1, 1, 10);
  fc_event_t *b = ev(FC_EV_STATUS, "CP1", 1, 2, 10);
  fc_event_t *c = ev(FC_EV_METER, "CP1", 1, 3, 10);
  assert_int_equal(fc_outq_push(&q, a, NULL), FC_OUTQ_OK);
  assert_int_equal(fc_outq_push(&q, b, NULL), FC_OUTQ_OK);
  assert_int_equal(fc_outq_push(&q, c, NULL), FC_OUTQ_OK);
  assert_int_equal(q.coalesced, 1);
  fc_event_t *want[] = {b, c};
  expect_queue(&q, want, 2);

  /* Off again (and under the soft bound): both stay. */
  q.coalescing = false;
  fc_event_t *d = ev(FC_EV_METER, "CP1", 1, 4, 10);
  fc_event_t *e = ev(FC_EV_METER, "CP1", 1, 5, 10);
  assert_int_equal(fc_outq_push(&q, d, NULL), FC_OUTQ_OK);
  assert_int_equal(fc_outq_push(&q, e, NULL), FC_OUTQ_OK);
  fc_event_t *want2[] = {d, e};
  expect_queue(&q, want2, 2);
  assert_int_equal(q.coalesced, 1);
  fc_outq_cleanup(&q);
}

/* A state event taken out of the queue is no longer a candidate: a newer one
 * of the same key is appended, nothing is dropped. */
static void test_take_then_same_key(void **state)
{
  (void)state;
  fc_outq_t q;
  fc_outq_init(&q, 0, BIG, 1000);
  fc_event_t *a = ev(FC_EV_METER, "CP1", 1, 1, 10);
  fc_event_t *b = ev(FC_EV_METER, "CP1", 1, 2, 10);
  assert_int_equal(fc_outq_push(&q, a, NULL), FC_OUTQ_OK);
  fc_event_t *out[2];
  assert_int_equal(fc_outq_take(&q, out, NULL, 2, BIG), 1);
  assert_ptr_equal(out[0], a);
  fc_event_unref(out[0]);
  assert_int_equal(fc_outq_push(&q, b, NULL), FC_OUTQ_OK);
  assert_int_equal(q.coalesced, 0);
  expect_queue(&q, &b, 1);
  fc_outq_cleanup(&q);
}

/* ---- hard bounds ---------------------------------------------------------- */

static void test_hard_bytes(void **state)
{
  (void)state;
  fc_outq_t q;
  fc_outq_init(&q, 10, 30, 1000);
  fc_event_t *e[4];
  for (int i = 0; i < 4; i++)
    e[i] = ev(FC_EV_TX_STARTED, "CP1", 1, i + 1, 10);
  assert_int_equal(fc_outq_push(&q, e[0], NULL), FC_OUTQ_OK);
  assert_int_equal(fc_outq_push(&q, e[1], NULL), FC_OUTQ_OK);
  assert_int_equal(fc_outq_push(&q, e[2], NULL), FC_OUTQ_OK); /* 30: at the bound, not past it */
  assert_int_equal(fc_outq_push(&q, e[3], NULL), FC_OUTQ_OVER);
  /* The event is queued all the same; cleanup releases it. */
  assert_int_equal(q.count, 4);
  assert_int_equal(q.bytes, 40);
  fc_outq_cleanup(&q);
  assert_true(fc_outq_empty(&q));
  assert_int_equal(q.count, 0);
  assert_int_equal(q.bytes, 0);

  /* One event bigger than the hard bound on its own. */
  fc_outq_init(&q, 10, 30, 1000);
  assert_int_equal(fc_outq_push(&q, ev(FC_EV_COMMAND, "CP1", 0, 9, 31), NULL), FC_OUTQ_OVER);
  fc_outq_cleanup(&q);
}

static void test_hard_count(void **state)
{
  (void)state;
  fc_outq_t q;
  fc_outq_init(&q, BIG, BIG, 3);
  for (int i = 0; i < 3; i++)
    assert_int_equal(fc_outq_push(&q, ev(FC_EV_COMMAND, "CP1", 0, i + 1, 10), NULL), FC_OUTQ_OK);
  assert_int_equal(fc_outq_push(&q, ev(FC_EV_COMMAND, "CP1", 0, 4, 10), NULL), FC_OUTQ_OVER);
  assert_int_equal(q.count, 4);
  /* Taking one brings it back under. */
  fc_event_t *out[1];
  assert_int_equal(fc_outq_take(&q, out, NULL, 1, BIG), 1);
  fc_event_unref(out[0]);
  assert_int_equal(fc_outq_push(&q, ev(FC_EV_COMMAND, "CP1", 0, 5, 10), NULL), FC_OUTQ_OVER);
  assert_int_equal(fc_outq_take(&q, out, NULL, 1, BIG), 1);
  fc_event_unref(out[0]);
  assert_int_equal(fc_outq_take(&q, out, NULL, 1, BIG), 1);
  fc_event_unref(out[0]);
  assert_int_equal(fc_outq_push(&q, ev(FC_EV_COMMAND, "CP1", 0, 6, 10), NULL), FC_OUTQ_OK);
  fc_outq_cleanup(&q);
}

/* Coalescing happens before the bound is checked: a queue full of one
 * charger's meter readings does not grow past it. */
static void test_coalescing_keeps_under_hard(void **state)
{
  (void)state;
  fc_outq_t q;
  fc_outq_init(&q, 20, 40, 4);
  for (int64_t seq = 1; seq <= 200; seq++)
    assert_int_equal(fc_outq_push(&q, ev(FC_EV_METER, "CP1", (int)(seq % 3), seq, 10), NULL),
                     FC_OUTQ_OK);
  assert_int_equal(q.count, 3);
  fc_outq_cleanup(&q);
}

/* ---- take ------------------------------------------------------------------- */

static void test_take_max(void **state)
{
  (void)state;
  fc_outq_t q;
  fc_outq_init(&q, BIG, BIG, 1000);
  fc_event_t *e[5];
  for (int i = 0; i < 5; i++) {
    e[i] = ev(FC_EV_COMMAND, "CP1", 0, i + 1, 10 + (size_t)i);
    fc_outq_push(&q, e[i], NULL);
  }
  fc_event_t *out[5];
  assert_int_equal(fc_outq_take(&q, out, NULL, 2, BIG), 2);
  assert_ptr_equal(out[0], e[0]);
  assert_ptr_equal(out[1], e[1]);
  fc_event_unref(out[0]);
  fc_event_unref(out[1]);
  assert_int_equal(q.count, 3);
  assert_int_equal(q.bytes, 12 + 13 + 14);
  assert_int_equal(fc_outq_take(&q, out, NULL, 1, BIG), 1);
  assert_ptr_equal(out[0], e[2]);
  fc_event_unref(out[0]);
  fc_event_t *rest[] = {e[3], e[4]};
  expect_queue(&q, rest, 2);
  fc_outq_cleanup(&q);
}

static void test_take_max_bytes(void **state)
{
  (void)state;
  fc_outq_t q;
  fc_outq_init(&q, BIG, BIG, 1000);
  fc_event_t *e[6];
  for (int i = 0; i < 6; i++) {
    e[i] = ev(FC_EV_COMMAND, "CP1", 0, i + 1, 100);
    fc_outq_push(&q, e[i], NULL);
  }
  /* 350 bytes: three events of 100 fit (with any framing of a few bytes),
   * four do not. */
  fc_event_t *out[6];
  size_t k = fc_outq_take(&q, out, NULL, 6, 350);
  assert_int_equal(k, 3);
  for (size_t i = 0; i < k; i++) {
    assert_ptr_equal(out[i], e[i]);
    fc_event_unref(out[i]);
  }
  assert_int_equal(q.count, 3);
  assert_int_equal(q.bytes, 300);
  /* max binds before max_bytes */
  assert_int_equal(fc_outq_take(&q, out, NULL, 1, 10000), 1);
  assert_ptr_equal(out[0], e[3]);
  fc_event_unref(out[0]);
  fc_event_t *rest[] = {e[4], e[5]};
  expect_queue(&q, rest, 2);
  fc_outq_cleanup(&q);
}

static void test_take_at_least_one(void **state)
{
  (void)state;
  fc_outq_t q;
  fc_outq_init(&q, BIG, BIG, 1000);
  fc_event_t *big = ev(FC_EV_SNAPSHOT, "CP1", 0, 1, 2000);
  fc_event_t *small = ev(FC_EV_COMMAND, "CP1", 0, 2, 10);
  fc_outq_push(&q, big, NULL);
  fc_outq_push(&q, small, NULL);
  fc_event_t *out[2];
  /* bigger than max_bytes on its own: taken alone */
  assert_int_equal(fc_outq_take(&q, out, NULL, 2, 100), 1);
  assert_ptr_equal(out[0], big);
  fc_event_unref(out[0]);
  /* max_bytes 0 still gives one */
  assert_int_equal(fc_outq_take(&q, out, NULL, 2, 0), 1);
  assert_ptr_equal(out[0], small);
  fc_event_unref(out[0]);
  assert_true(fc_outq_empty(&q));
  fc_outq_cleanup(&q);
}

/* ---- references and cleanup -------------------------------------------------- */

/* Replayed events (fc_outq_push_kept) are exactly what the client missed:
 * over the soft bound they are not replaced, and replace nothing. */
static void test_kept_never_coalesced(void **state)
{
  (void)state;
  fc_outq_t q;
  fc_outq_init(&q, 10, BIG, 1000);
  fc_event_t *a = ev(FC_EV_METER, "CP1", 1, 1, 100);
  fc_event_t *b = ev(FC_EV_METER, "CP1", 1, 2, 100);
  fc_event_t *c = ev(FC_EV_METER, "CP1", 1, 3, 100);
  fc_event_t *d = ev(FC_EV_METER, "CP1", 1, 4, 100);
  assert_int_equal(fc_outq_push_kept(&q, a, NULL), FC_OUTQ_OK);
  assert_int_equal(fc_outq_push_kept(&q, b, NULL), FC_OUTQ_OK);
  /* a live state event of the same key, over the soft bound, is queued
   * after them, then replaced by the next live one; the kept ones stay */
  assert_int_equal(fc_outq_push(&q, c, NULL), FC_OUTQ_OK);
  assert_int_equal(fc_outq_push(&q, d, NULL), FC_OUTQ_OK);
  assert_int_equal(q.coalesced, 1);
  fc_event_t *want[] = {a, b, d};
  expect_queue(&q, want, 3);
  fc_outq_cleanup(&q);
}

static void test_refs_and_cleanup(void **state)
{
  (void)state;
  fc_outq_t q;
  fc_outq_init(&q, 200, BIG, 100000);
  static const fc_event_type_t mix[] = {FC_EV_METER,  FC_EV_STATUS,     FC_EV_TX_STARTED,
                                        FC_EV_ENERGY, FC_EV_COST,       FC_EV_PRECHARGE,
                                        FC_EV_METER,  FC_EV_TX_STOPPED, FC_EV_COMMAND};
  const char *chargers[] = {"CP1", "CP2", "CP3"};
  size_t pushed = 0;
  for (int64_t seq = 1; seq <= 400; seq++) {
    fc_event_t *e =
        ev(mix[seq % 9], chargers[seq % 3], (int)(seq % 2) + 1, seq, 10 + (size_t)(seq % 7));
    fc_outq_push(&q, e, NULL);
    pushed++;
    if (seq % 50 == 0) { /* take some along the way */
      fc_event_t *out[8];
      size_t k = fc_outq_take(&q, out, NULL, 8, 64);
      assert_true(k >= 1);
      for (size_t i = 0; i < k; i++)
        fc_event_unref(out[i]);
    }
  }
  assert_true(q.coalesced > 0);
  assert_true(q.count > 0);
  /* the accounting matches what comes out, in arrival (seq) order */
  size_t count = q.count, bytes = q.bytes, got = 0;
  fc_event_t *out[MAX_MADE];
  size_t k = fc_outq_take(&q, out, NULL, MAX_MADE, BIG);
  for (size_t i = 0; i < k; i++) {
    got += out[i]->len;
    if (i > 0) assert_true(out[i]->seq > out[i - 1]->seq);
    fc_event_unref(out[i]);
  }
  assert_int_equal(k, count);
  assert_int_equal(got, bytes);
  assert_true(pushed > count);
  /* some left queued for cleanup to release */
  for (int64_t seq = 401; seq <= 420; seq++)
    fc_outq_push(&q, ev(mix[seq % 9], chargers[seq % 3], 1, seq, 10), NULL);
  fc_outq_cleanup(&q);
  assert_true(fc_outq_empty(&q));
  assert_null(q.head);
  assert_int_equal(q.count, 0);
  assert_int_equal(q.bytes, 0);
  /* teardown checks that every event is back to the test's one reference */
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_init_empty, setup, teardown),
      cmocka_unit_test_setup_teardown(test_order_and_accounting, setup, teardown),
      cmocka_unit_test_setup_teardown(test_under_soft_nothing_coalesces, setup, teardown),
      cmocka_unit_test_setup_teardown(test_over_soft_replaces_same_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_over_soft_keeps_latest, setup, teardown),
      cmocka_unit_test_setup_teardown(test_over_soft_distinct_keys_kept, setup, teardown),
      cmocka_unit_test_setup_teardown(test_never_dropped, setup, teardown),
      cmocka_unit_test_setup_teardown(test_forced_coalescing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_take_then_same_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hard_bytes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_hard_count, setup, teardown),
      cmocka_unit_test_setup_teardown(test_coalescing_keeps_under_hard, setup, teardown),
      cmocka_unit_test_setup_teardown(test_take_max, setup, teardown),
      cmocka_unit_test_setup_teardown(test_kept_never_coalesced, setup, teardown),
      cmocka_unit_test_setup_teardown(test_take_max_bytes, setup, teardown),
      cmocka_unit_test_setup_teardown(test_take_at_least_one, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refs_and_cleanup, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
