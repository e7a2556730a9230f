/* Unit tests for src/push/deflate.c without sockets: the cached pieces and
 * their concatenation (the frames fc_deflate_write sends), the small window's
 * distance bound, the offer parser, and the shared inflater's limits.
 * (deflate.c is included to reach its statics; lws is only linked.) */
#include "push/deflate.c"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

/* A snapshot-like event with four connectors: repeats ~300 bytes apart. */
static fc_event_t *snapshot_event(void)
{
  char json[4096];
  int n = snprintf(json, sizeof(json),
                   "{\"type\":\"snapshot\",\"charger\":\"CP1\",\"data\":{\"connectors\":[");
  for (int i = 1; i <= 4; i++)
    n += snprintf(json + n, sizeof(json) - (size_t)n,
                  "%s{\"id\":%d,\"status\":\"Charging\",\"errorCode\":\"NoError\",\"meter\":{"
                  "\"voltage\":230.1,\"current\":16.2,\"power\":3720,\"energyWh\":%d,\"soc\":55},"
                  "\"transaction\":{\"id\":%d,\"idTag\":\"TAG%04d\",\"meterStart\":1000,"
                  "\"startedAt\":\"2026-11-26T09:00:00.000Z\"},\"precharge\":{\"soc\":42,"
                  "\"model\":\"Pro\",\"rangeKm\":120.5}}",
                  i > 1 ? "," : "", i, 12345 + i, 1000 + i, i);
  n += snprintf(json + n, sizeof(json) - (size_t)n, "]}}");
  return fc_event_new(FC_EV_SNAPSHOT, "CP1", 0, 41, json, (size_t)n);
}

/* Inflates a whole message (its 00 00 ff ff stripped) with a fresh raw
 * inflater of the given window; returns the text (caller frees) or NULL. */
static char *inflate_with(int bits, const unsigned char *p, size_t len, size_t *out_len)
{
  z_stream z;
  memset(&z, 0, sizeof(z));
  assert_int_equal(inflateInit2(&z, -bits), Z_OK);
  size_t cap = 1 << 20;
  unsigned char *out = malloc(cap);
  unsigned char *in = malloc(len + 4);
  memcpy(in, p, len);
  memcpy(in + len, trailer, 4);
  z.next_in = in;
  z.avail_in = (uInt)(len + 4);
  z.next_out = out;
  z.avail_out = (uInt)cap;
  int rc = inflate(&z, Z_SYNC_FLUSH);
  size_t n = cap - z.avail_out;
  inflateEnd(&z);
  free(in);
  if ((rc != Z_OK && rc != Z_STREAM_END) || z.avail_in) {
    free(out);
    return NULL;
  }
  *out_len = n;
  return (char *)out;
}

static void test_piece_roundtrip_and_cache(void **state)
{
  fc_event_t *e = snapshot_event();
  size_t l15 = 0, l9 = 0, n = 0;
  const unsigned char *p15 = fc_deflate_event(e, FC_DEFLATE_ON, &l15);
  const unsigned char *p9 = fc_deflate_event(e, FC_DEFLATE_SMALL, &l9);
  assert_non_null(p15);
  assert_non_null(p9);
  assert_ptr_equal(fc_deflate_event(e, FC_DEFLATE_ON, &n), p15); /* compressed once */
  assert_ptr_equal(e->ext_free, cache_free); /* in the event's slot, freed with it */
  assert_int_equal(n, l15);
  assert_memory_equal(p15 + l15 - 4, trailer, 4); /* ends in a sync flush */
  assert_memory_equal(p9 + l9 - 4, trailer, 4);
  assert_true(l15 < l9); /* the big window finds the repeats */
  char *t = inflate_with(15, p15, l15 - 4, &n);
  assert_non_null(t);
  assert_int_equal(n, e->len);
  assert_memory_equal(t, e->json, n);
  free(t);
  /* The small window's piece inflates within the smallest window a client
   * may ask for (server_max_window_bits=8). */
  t = inflate_with(8, p9, l9 - 4, &n);
  assert_non_null(t);
  assert_memory_equal(t, e->json, e->len);
  free(t);
  fc_event_unref(e);
}

/* The frame fc_deflate_write builds: "[" a "," b "," c "]", pieces
 * concatenated, the last 00 00 ff ff stripped. */
static void test_concatenated_array(void **state)
{
  const char *texts[3] = {"{\"type\":\"meter\",\"seq\":1,\"data\":{\"power\":3720}}",
                          "{\"type\":\"meter\",\"seq\":2,\"data\":{\"power\":3721}}", NULL};
  fc_event_t *evs[3];
  evs[0] = fc_event_new(FC_EV_METER, "CP1", 1, 1, texts[0], strlen(texts[0]));
  evs[1] = fc_event_new(FC_EV_METER, "CP1", 1, 2, texts[1], strlen(texts[1]));
  evs[2] = snapshot_event();
  for (int mode = FC_DEFLATE_ON; mode <= FC_DEFLATE_SMALL; mode++) {
    assert_true(seps_make());
    unsigned char buf[8192];
    size_t len = 0, l = 0;
    memcpy(buf, seps[0].p, seps[0].len);
    len += seps[0].len;
    for (int i = 0; i < 3; i++) {
      if (i) {
        memcpy(buf + len, seps[1].p, seps[1].len);
        len += seps[1].len;
      }
      const unsigned char *p = fc_deflate_event(evs[i], (fc_deflate_mode_t)mode, &l);
      memcpy(buf + len, p, l);
      len += l;
    }
    memcpy(buf + len, seps[2].p, seps[2].len);
    len += seps[2].len;
    size_t n;
    char *t = inflate_with(mode == FC_DEFLATE_SMALL ? 8 : 15, buf, len - 4, &n);
    assert_non_null(t);
    char want[8192];
    int wn = snprintf(want, sizeof(want), "[%s,%s,%s]", evs[0]->json, evs[1]->json, evs[2]->json);
    assert_int_equal(n, (size_t)wn);
    assert_memory_equal(t, want, n);
    free(t);
  }
  for (int i = 0; i < 3; i++)
    fc_event_unref(evs[i]);
}

static void test_offers(void **state)
{
  int smwb = -1;
  assert_true(pick_offer("permessage-deflate", &smwb));
  assert_int_equal(smwb, 0);
  assert_true(pick_offer("permessage-deflate; client_max_window_bits", &smwb));
  assert_true(pick_offer("permessage-deflate;server_no_context_takeover;client_no_context_takeover",
                         &smwb));
  assert_true(
      pick_offer("permessage-deflate; server_max_window_bits=10; client_max_window_bits=9", &smwb));
  assert_int_equal(smwb, 10);
  assert_true(pick_offer("permessage-deflate; server_max_window_bits=\"8\"", &smwb));
  assert_int_equal(smwb, 8);
  assert_true(pick_offer("permessage-deflate; server_max_window_bits", &smwb)); /* lenient */
  assert_int_equal(smwb, 0);
  /* Not honourable: unknown, repeated, out of range, values where none go. */
  assert_false(pick_offer("permessage-deflate; foo", &smwb));
  assert_false(pick_offer("permessage-deflate; server_max_window_bits=7", &smwb));
  assert_false(pick_offer("permessage-deflate; server_max_window_bits=16", &smwb));
  assert_false(pick_offer("permessage-deflate; client_max_window_bits=x", &smwb));
  assert_false(pick_offer("permessage-deflate; client_no_context_takeover=1", &smwb));
  assert_false(pick_offer(
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover", &smwb));
  assert_false(pick_offer("x-webkit-deflate-frame", &smwb));
  /* The first honourable one of several. */
  assert_true(pick_offer(
      "x-foo, permessage-deflate; bar, permessage-deflate; server_max_window_bits=12", &smwb));
  assert_int_equal(smwb, 12);
}

static void test_inflate_limits(void **state)
{
  /* Sync-flushed, stripped; and ending in a final block. */
  const char *msg = "{\"op\":\"ping\"}";
  fc_event_t *e = fc_event_new(FC_EV_NONE, "", 0, 0, msg, strlen(msg));
  size_t l = 0;
  const unsigned char *p = fc_deflate_event(e, FC_DEFLATE_ON, &l);
  long n = inflate_message(p, l - 4);
  assert_int_equal(n, (long)strlen(msg));
  assert_memory_equal(inflated, msg, (size_t)n);
  unsigned char fin[64];
  uLongf fl = sizeof(fin);
  z_stream z;
  memset(&z, 0, sizeof(z));
  assert_int_equal(deflateInit2(&z, 6, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY), Z_OK);
  z.next_in = (Bytef *)(uintptr_t)msg;
  z.avail_in = (uInt)strlen(msg);
  z.next_out = fin;
  z.avail_out = (uInt)fl;
  assert_int_equal(deflate(&z, Z_FINISH), Z_STREAM_END);
  fl = sizeof(fin) - z.avail_out;
  deflateEnd(&z);
  assert_int_equal(inflate_message(fin, fl), (long)strlen(msg));
  fc_event_unref(e);

  /* Exactly the limit passes; one byte more, or a bomb, does not. */
  for (size_t size = FC_DEFLATE_RX_MAX; size <= FC_DEFLATE_RX_MAX + 1; size++) {
    char *big = calloc(1, size);
    memset(big, 'a', size);
    e = fc_event_new(FC_EV_NONE, "", 0, 0, big, size);
    p = fc_deflate_event(e, FC_DEFLATE_ON, &l);
    assert_int_equal(inflate_message(p, l - 4), size == FC_DEFLATE_RX_MAX ? (long)size : -2);
    fc_event_unref(e);
    free(big);
  }
  size_t bomb = 16 << 20;
  char *zeros = calloc(1, bomb);
  e = fc_event_new(FC_EV_NONE, "", 0, 0, zeros, bomb);
  p = fc_deflate_event(e, FC_DEFLATE_ON, &l);
  assert_true(l < 32768);
  assert_int_equal(inflate_message(p, l - 4), -2);
  fc_event_unref(e);
  free(zeros);

  /* Not deflate data. */
  static const unsigned char junk[] = {0xff, 0xff, 0xff, 0xff, 0x12, 0x34};
  assert_int_equal(inflate_message(junk, sizeof(junk)), -1);
  /* And the shared inflater still works after all that. */
  e = fc_event_new(FC_EV_NONE, "", 0, 0, msg, strlen(msg));
  p = fc_deflate_event(e, FC_DEFLATE_SMALL, &l);
  assert_int_equal(inflate_message(p, l - 4), (long)strlen(msg));
  fc_event_unref(e);
}

static int teardown(void **state)
{
  fc_deflate_cleanup();
  return 0;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_teardown(test_piece_roundtrip_and_cache, teardown),
      cmocka_unit_test_teardown(test_concatenated_array, teardown),
      cmocka_unit_test(test_offers),
      cmocka_unit_test_teardown(test_inflate_limits, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
