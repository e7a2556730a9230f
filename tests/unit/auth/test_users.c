/* Unit tests for src/auth/users.c: people's passwords (argon2id). */
#include "auth/auth.h"
#include "core/err.h"

#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define PW "correct horse battery"

static int setup(void **state)
{
  (void)state;
  return fc_auth_init();
}

static void test_round_trip(void **state)
{
  (void)state;
  char h1[FC_AUTH_HASH_MAX], h2[FC_AUTH_HASH_MAX];
  assert_int_equal(fc_auth_password_hash(PW, strlen(PW), h1, sizeof(h1)), 0);
  assert_int_equal(fc_auth_password_hash(PW, strlen(PW), h2, sizeof(h2)), 0);
  assert_int_equal(strncmp(h1, "$argon2id$", 10), 0);
  assert_string_not_equal(h1, h2); /* a fresh salt each time */
  assert_true(fc_auth_password_verify(h1, PW, strlen(PW)));
  assert_true(fc_auth_password_verify(h2, PW, strlen(PW)));
  /* the password itself appears nowhere in the hash */
  assert_null(strstr(h1, PW));
}

static void test_wrong_password(void **state)
{
  (void)state;
  char h[FC_AUTH_HASH_MAX];
  assert_int_equal(fc_auth_password_hash(PW, strlen(PW), h, sizeof(h)), 0);
  assert_false(fc_auth_password_verify(h, "correct horse battery!", strlen(PW) + 1));
  assert_false(fc_auth_password_verify(h, PW, strlen(PW) - 1)); /* a prefix */
  assert_false(fc_auth_password_verify(h, "Correct horse battery", strlen(PW)));
  assert_false(fc_auth_password_verify(h, "", 0));
  /* bytes, not a C string: a NUL inside counts */
  const char bin[] = {'a', 'b', 'c', 'd', '\0', 'e', 'f', 'g', 'h'};
  assert_int_equal(fc_auth_password_hash(bin, sizeof(bin), h, sizeof(h)), 0);
  assert_true(fc_auth_password_verify(h, bin, sizeof(bin)));
  assert_false(fc_auth_password_verify(h, "abcd", 4));
}

static void test_bad_stored(void **state)
{
  (void)state;
  char h[FC_AUTH_HASH_MAX], k[FC_AUTH_HASH_MAX];
  assert_int_equal(fc_auth_password_hash(PW, strlen(PW), h, sizeof(h)), 0);
  assert_false(fc_auth_password_verify(NULL, PW, strlen(PW)));
  assert_false(fc_auth_password_verify("", PW, strlen(PW)));
  assert_false(fc_auth_password_verify("$argon2id$", PW, strlen(PW)));
  /* another scheme (a charger's key hash) never verifies as a password */
  assert_int_equal(fc_auth_key_hash(PW, strlen(PW), k, sizeof(k)), 0);
  assert_false(fc_auth_password_verify(k, PW, strlen(PW)));
  /* a tampered hash */
  h[strlen(h) - 2] = h[strlen(h) - 2] == 'A' ? 'B' : 'A';
  assert_false(fc_auth_password_verify(h, PW, strlen(PW)));
}

static void test_limits(void **state)
{
  (void)state;
  char h[FC_AUTH_HASH_MAX];
  static char big[FC_AUTH_PASSWORD_MAX + 1];
  memset(big, 'p', sizeof(big));
  assert_int_equal(fc_auth_password_hash("1234567", 7, h, sizeof(h)), FC_ERR_INVAL);
  assert_int_equal(fc_auth_password_hash("12345678", 8, h, sizeof(h)), 0);
  assert_int_equal(fc_auth_password_hash(big, sizeof(big), h, sizeof(h)), FC_ERR_INVAL);
  assert_int_equal(fc_auth_password_hash(big, FC_AUTH_PASSWORD_MAX, h, sizeof(h)), 0);
  assert_true(fc_auth_password_verify(h, big, FC_AUTH_PASSWORD_MAX));
  assert_false(fc_auth_password_verify(h, big, sizeof(big))); /* over the limit: refused */
  assert_int_equal(fc_auth_password_hash(PW, strlen(PW), h, 16), FC_ERR_INVAL); /* small out */
}

static void test_burn(void **state)
{
  (void)state;
  /* verifies nothing, costs about what a verification costs, twice alike */
  fc_auth_password_burn(PW, strlen(PW));
  fc_auth_password_burn("", 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip), cmocka_unit_test(test_wrong_password),
      cmocka_unit_test(test_bad_stored), cmocka_unit_test(test_limits),
      cmocka_unit_test(test_burn),
  };
  return cmocka_run_group_tests(tests, setup, NULL);
}
