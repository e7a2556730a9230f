/* Unit tests for src/auth/throttle.c: failed charger logins counted per
 * (id, address), per address and per id; an address that has not failed for
 * an id is always checked; windows end; a success forgets its pair's
 * failures; the tables stay bounded; Retry-After. */
#include "auth/throttle.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static fc_addr_t ip(const char *s)
{
  struct sockaddr_in in = {.sin_family = AF_INET};
  fc_addr_t a;
  assert_int_equal(inet_pton(AF_INET, s, &in.sin_addr), 1);
  assert_int_equal(fc_addr_from_sockaddr((struct sockaddr *)&in, sizeof(in), &a), 0);
  return a;
}

static fc_auth_throttle_t *make(unsigned pair, unsigned addr, unsigned id, unsigned size)
{
  fc_auth_throttle_opts_t o = {.max_pair = pair,
                               .max_addr = addr,
                               .max_id = id,
                               .window_ms = 60000,
                               .table_size = size,
                               .log_interval_ms = 60000};
  return fc_auth_throttle_new(&o);
}

static fc_throttle_t check(fc_auth_throttle_t *t, const char *id, const fc_addr_t *a, uint64_t now)
{
  unsigned retry = 0;
  fc_throttle_t v = fc_auth_throttle_check(t, id, a, now, &retry);
  if (v != FC_THROTTLE_NONE) assert_true(retry >= 1 && retry <= 60);
  return v;
}

static void test_pair(void **state)
{
  (void)state;
  fc_auth_throttle_t *t = make(3, 100, 100, 1024);
  fc_addr_t bad = ip("192.0.2.66"), good = ip("192.0.2.1");
  for (int i = 0; i < 3; i++) {
    assert_int_equal(check(t, "CP1", &bad, 1000), FC_THROTTLE_NONE);
    fc_auth_throttle_failed(t, "CP1", &bad, 1000);
  }
  unsigned retry = 0;
  assert_int_equal(fc_auth_throttle_check(t, "CP1", &bad, 31000, &retry), FC_THROTTLE_PAIR);
  assert_int_equal(retry, 30);
  /* the same id from elsewhere, and another id from here, are checked */
  assert_int_equal(check(t, "CP1", &good, 31000), FC_THROTTLE_NONE);
  assert_int_equal(check(t, "CP2", &bad, 31000), FC_THROTTLE_NONE);
  /* the window ends */
  assert_int_equal(check(t, "CP1", &bad, 61000), FC_THROTTLE_NONE);
  fc_auth_throttle_stats_t st;
  fc_auth_throttle_stats(t, &st);
  assert_int_equal(st.failures, 3);
  assert_int_equal(st.throttled, 1);
  fc_auth_throttle_free(t);
}

static void test_success_forgets_pair(void **state)
{
  (void)state;
  fc_auth_throttle_t *t = make(2, 100, 100, 1024);
  fc_addr_t a = ip("192.0.2.5");
  fc_auth_throttle_failed(t, "CP1", &a, 0);
  fc_auth_throttle_succeeded(t, "CP1", &a); /* the charger's key was fixed */
  fc_auth_throttle_failed(t, "CP1", &a, 0);
  assert_int_equal(check(t, "CP1", &a, 0), FC_THROTTLE_NONE);
  fc_auth_throttle_failed(t, "CP1", &a, 0);
  assert_int_equal(check(t, "CP1", &a, 0), FC_THROTTLE_PAIR);
  fc_auth_throttle_free(t);
}

static void test_address(void **state)
{
  (void)state;
  fc_auth_throttle_t *t = make(100, 3, 100, 1024);
  fc_addr_t a = ip("198.51.100.9"), b = ip("198.51.100.10");
  fc_auth_throttle_failed(t, "CP1", &a, 0);
  fc_auth_throttle_failed(t, NULL, &a, 0); /* unknown ids count for the address */
  fc_auth_throttle_failed(t, NULL, &a, 0);
  assert_int_equal(check(t, "CP9", &a, 0), FC_THROTTLE_ADDRESS);
  assert_int_equal(check(t, NULL, &a, 0), FC_THROTTLE_ADDRESS);
  assert_int_equal(check(t, "CP9", &b, 0), FC_THROTTLE_NONE);
  fc_auth_throttle_free(t);
}

static void test_id_spares_addresses_that_never_failed(void **state)
{
  (void)state;
  fc_auth_throttle_t *t = make(100, 100, 3, 1024);
  char s[32];
  for (int i = 1; i <= 3; i++) {
    snprintf(s, sizeof(s), "203.0.113.%d", i);
    fc_addr_t a = ip(s);
    fc_auth_throttle_failed(t, "CP1", &a, 0);
  }
  fc_addr_t failed = ip("203.0.113.1"), charger = ip("203.0.113.200");
  assert_int_equal(check(t, "CP1", &failed, 0), FC_THROTTLE_ID);
  assert_int_equal(check(t, "CP1", &charger, 0), FC_THROTTLE_NONE);
  /* a new attacker gets its one guess, then waits */
  fc_addr_t fresh = ip("203.0.113.99");
  assert_int_equal(check(t, "CP1", &fresh, 0), FC_THROTTLE_NONE);
  fc_auth_throttle_failed(t, "CP1", &fresh, 0);
  assert_int_equal(check(t, "CP1", &fresh, 0), FC_THROTTLE_ID);
  fc_auth_throttle_free(t);
}

static void test_bounded(void **state)
{
  (void)state;
  fc_auth_throttle_t *t = make(1, 1000000, 1000000, 64);
  char s[32], id[32];
  for (int i = 0; i < 5000; i++) {
    snprintf(s, sizeof(s), "10.%d.%d.1", i / 256, i % 256);
    snprintf(id, sizeof(id), "CP%d", i);
    fc_addr_t a = ip(s);
    fc_auth_throttle_failed(t, id, &a, 0);
    fc_auth_throttle_may_log(t, &a, 0);
  }
  fc_auth_throttle_stats_t st;
  fc_auth_throttle_stats(t, &st);
  assert_true(st.entries <= 3 * 64);
  assert_int_equal(st.failures, 5000);
  /* the most recent are remembered */
  fc_addr_t last = ip("10.19.135.1");
  assert_int_equal(check(t, "CP4999", &last, 0), FC_THROTTLE_PAIR);
  fc_auth_throttle_tick(t, 60000); /* a summary line, and the interval's counts reset */
  fc_auth_throttle_free(t);
}

static void test_may_log_once_per_interval(void **state)
{
  (void)state;
  fc_auth_throttle_t *t = make(1, 1, 1, 16);
  fc_addr_t a = ip("192.0.2.77"), b = ip("192.0.2.78");
  assert_true(fc_auth_throttle_may_log(t, &a, 1000));
  assert_false(fc_auth_throttle_may_log(t, &a, 2000));
  assert_true(fc_auth_throttle_may_log(t, &b, 2000));
  assert_false(fc_auth_throttle_may_log(t, &a, 60999));
  assert_true(fc_auth_throttle_may_log(t, &a, 61000));
  fc_auth_throttle_free(t);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_pair),    cmocka_unit_test(test_success_forgets_pair),
      cmocka_unit_test(test_address), cmocka_unit_test(test_id_spares_addresses_that_never_failed),
      cmocka_unit_test(test_bounded), cmocka_unit_test(test_may_log_once_per_interval),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
