/* Unit tests for src/net/guard.c: connections in handshake per address and
 * port, the per-address token bucket, the bounded table (connections open
 * keep their address), and core/addr.c's keys (IPv4, IPv6 by /64). */
#include "net/guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

static fc_addr_t v4(const char *s)
{
  struct sockaddr_in in = {.sin_family = AF_INET};
  fc_addr_t a;
  assert_int_equal(inet_pton(AF_INET, s, &in.sin_addr), 1);
  assert_int_equal(fc_addr_from_sockaddr((struct sockaddr *)&in, sizeof(in), &a), 0);
  return a;
}

static fc_addr_t v6(const char *s)
{
  struct sockaddr_in6 in = {.sin6_family = AF_INET6};
  fc_addr_t a;
  assert_int_equal(inet_pton(AF_INET6, s, &in.sin6_addr), 1);
  assert_int_equal(fc_addr_from_sockaddr((struct sockaddr *)&in, sizeof(in), &a), 0);
  return a;
}

static fc_guard_opts_t opts(unsigned max, unsigned rate, unsigned burst, unsigned size)
{
  return (fc_guard_opts_t){.max_per_addr = max,
                           .rate_per_min = rate,
                           .burst = burst,
                           .table_size = size,
                           .log_interval_ms = 60000};
}

static void test_addr_keys(void **state)
{
  (void)state;
  char buf[FC_ADDR_STRLEN];
  fc_addr_t a = v4("192.0.2.7"), m = v6("::ffff:192.0.2.7");
  assert_true(fc_addr_eq(&a, &m)); /* dual-stack and IPv4 listeners agree */
  assert_string_equal(fc_addr_str(&a, buf, sizeof(buf)), "192.0.2.7");
  fc_addr_t x = v6("2001:db8:1:2::1"), y = v6("2001:db8:1:2:ffff:1:2:3"), z = v6("2001:db8:1:3::1");
  assert_true(fc_addr_eq(&x, &y)); /* one /64 is one client */
  assert_false(fc_addr_eq(&x, &z));
  assert_string_equal(fc_addr_str(&x, buf, sizeof(buf)), "2001:db8:1:2::/64");
  struct sockaddr un = {.sa_family = AF_UNIX};
  assert_int_not_equal(fc_addr_from_sockaddr(&un, sizeof(un), &a), 0);
}

static void test_concurrent(void **state)
{
  (void)state;
  fc_guard_opts_t o = opts(2, 6000, 100, 64);
  fc_guard_t *g = fc_guard_new(&o);
  fc_addr_t a = v4("192.0.2.1"), b = v4("192.0.2.2");
  fc_guard_conn_t *c[3];
  for (int i = 0; i < 2; i++) {
    assert_int_equal(fc_guard_check(g, FC_GUARD_OCPP, &a, 1000), FC_GUARD_OK);
    c[i] = fc_guard_enter(g, FC_GUARD_OCPP, &a);
  }
  assert_int_equal(fc_guard_check(g, FC_GUARD_OCPP, &a, 1000), FC_GUARD_CONCURRENT);
  /* another address, and the other port, have their own counts */
  assert_int_equal(fc_guard_check(g, FC_GUARD_OCPP, &b, 1000), FC_GUARD_OK);
  assert_int_equal(fc_guard_check(g, FC_GUARD_WEB, &a, 1000), FC_GUARD_OK);
  fc_guard_release(g, c[0]);
  assert_int_equal(fc_guard_check(g, FC_GUARD_OCPP, &a, 1000), FC_GUARD_OK);
  c[2] = fc_guard_enter(g, FC_GUARD_OCPP, &a);

  fc_guard_stats_t st;
  fc_guard_stats(g, &st);
  assert_int_equal(st.refused[FC_GUARD_OCPP][FC_GUARD_CONCURRENT], 1);
  assert_int_equal(st.in_handshake[FC_GUARD_OCPP], 2);
  assert_int_equal(st.in_handshake[FC_GUARD_WEB], 0);
  fc_guard_release(g, c[1]);
  fc_guard_release(g, c[2]);
  fc_guard_release(g, NULL);
  fc_guard_stats(g, &st);
  assert_int_equal(st.in_handshake[FC_GUARD_OCPP], 0);
  fc_guard_free(g);
}

static void test_rate(void **state)
{
  (void)state;
  fc_guard_opts_t o = opts(1000, 60, 3, 64); /* one a second, three at once */
  fc_guard_t *g = fc_guard_new(&o);
  fc_addr_t a = v4("198.51.100.1"), b = v4("198.51.100.2");
  for (int i = 0; i < 3; i++)
    assert_int_equal(fc_guard_check(g, FC_GUARD_WEB, &a, 5000), FC_GUARD_OK);
  assert_int_equal(fc_guard_check(g, FC_GUARD_WEB, &a, 5000), FC_GUARD_RATE);
  assert_int_equal(fc_guard_check(g, FC_GUARD_WEB, &a, 5999), FC_GUARD_RATE);
  assert_int_equal(fc_guard_check(g, FC_GUARD_WEB, &b, 5999), FC_GUARD_OK);
  assert_int_equal(fc_guard_check(g, FC_GUARD_WEB, &a, 6000), FC_GUARD_OK); /* one token back */
  assert_int_equal(fc_guard_check(g, FC_GUARD_WEB, &a, 6000), FC_GUARD_RATE);
  /* a long pause refills to the burst, no more */
  for (int i = 0; i < 3; i++)
    assert_int_equal(fc_guard_check(g, FC_GUARD_WEB, &a, 600000), FC_GUARD_OK);
  assert_int_equal(fc_guard_check(g, FC_GUARD_WEB, &a, 600000), FC_GUARD_RATE);
  fc_guard_stats_t st;
  fc_guard_stats(g, &st);
  assert_int_equal(st.refused[FC_GUARD_WEB][FC_GUARD_RATE], 4);
  fc_guard_free(g);
}

static void test_bounded_table(void **state)
{
  (void)state;
  fc_guard_opts_t o = opts(1, 6000, 1, 16);
  fc_guard_t *g = fc_guard_new(&o);
  fc_addr_t held = v4("203.0.113.250");
  assert_int_equal(fc_guard_check(g, FC_GUARD_OCPP, &held, 0), FC_GUARD_OK);
  fc_guard_conn_t *c = fc_guard_enter(g, FC_GUARD_OCPP, &held);
  char s[32];
  for (int i = 0; i < 1000; i++) {
    snprintf(s, sizeof(s), "10.0.%d.%d", i / 256, i % 256);
    fc_addr_t a = v4(s);
    assert_int_equal(fc_guard_check(g, FC_GUARD_OCPP, &a, 0), FC_GUARD_OK);
  }
  fc_guard_stats_t st;
  fc_guard_stats(g, &st);
  assert_true(st.addresses[FC_GUARD_OCPP] <= 16);
  /* the address with a connection open was kept, with its count */
  assert_int_equal(fc_guard_check(g, FC_GUARD_OCPP, &held, 0), FC_GUARD_CONCURRENT);
  fc_guard_release(g, c);
  assert_int_equal(fc_guard_check(g, FC_GUARD_OCPP, &held, 60000), FC_GUARD_OK);
  fc_guard_free(g);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_addr_keys),
      cmocka_unit_test(test_concurrent),
      cmocka_unit_test(test_rate),
      cmocka_unit_test(test_bounded_table),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
