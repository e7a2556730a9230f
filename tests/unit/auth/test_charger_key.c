/* Unit tests for src/auth/charger_key.c: AuthorizationKey hashing and
 * checking, and HTTP Basic header parsing (OCPP Security Profile 1). */
#include "auth/auth.h"
#include "core/err.h"

#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#define KEY "s3cr3t-AuthorizationKey-0123456789"
#define PREFIX "hmac-sha256$"

static void hash(const char *key, char out[FC_AUTH_HASH_MAX])
{
  assert_int_equal(fc_auth_key_hash(key, strlen(key), out, FC_AUTH_HASH_MAX), 0);
}

/* ---- hash / verify ------------------------------------------------------ */

static void test_round_trip(void **state)
{
  (void)state;
  char h1[FC_AUTH_HASH_MAX], h2[FC_AUTH_HASH_MAX];

  hash(KEY, h1);
  hash(KEY, h2);
  /* "hmac-sha256$" + 32 hex salt + "$" + 64 hex MAC */
  assert_int_equal(strlen(h1), strlen(PREFIX) + 32 + 1 + 64);
  assert_int_equal(strncmp(h1, PREFIX, strlen(PREFIX)), 0);
  assert_true(fc_auth_key_verify(h1, KEY, strlen(KEY)));
  assert_true(fc_auth_key_verify(h2, KEY, strlen(KEY)));
  /* a fresh salt each time: equal keys do not give equal hashes */
  assert_string_not_equal(h1, h2);

  /* the key is bytes, not a C string: embedded NUL and the longest allowed */
  const char bin[] = "a\0b-0123456789abcdef";
  assert_int_equal(fc_auth_key_hash(bin, sizeof(bin) - 1, h1, sizeof(h1)), 0);
  assert_true(fc_auth_key_verify(h1, bin, sizeof(bin) - 1));
  assert_false(fc_auth_key_verify(h1, "a", 1));
  char max[FC_AUTH_KEY_MAX];
  memset(max, 'k', sizeof(max));
  assert_int_equal(fc_auth_key_hash(max, sizeof(max), h1, sizeof(h1)), 0);
  assert_true(fc_auth_key_verify(h1, max, sizeof(max)));
}

static void test_wrong_key(void **state)
{
  (void)state;
  char h[FC_AUTH_HASH_MAX];
  hash(KEY, h);

  assert_false(fc_auth_key_verify(h, "wrong", 5));
  assert_false(fc_auth_key_verify(h, KEY, strlen(KEY) - 1));     /* a prefix */
  assert_false(fc_auth_key_verify(h, KEY "x", strlen(KEY) + 1)); /* longer */
  char flip[] = KEY;
  flip[0] ^= 0x20;
  assert_false(fc_auth_key_verify(h, flip, strlen(flip))); /* case */
  assert_false(fc_auth_key_verify(h, KEY, 0));
  char big[FC_AUTH_KEY_MAX + 1];
  memset(big, 'k', sizeof(big));
  assert_false(fc_auth_key_verify(h, big, sizeof(big)));
}

static void test_hash_refusals(void **state)
{
  (void)state;
  char h[FC_AUTH_HASH_MAX], big[FC_AUTH_KEY_MAX + 1];
  memset(big, 'k', sizeof(big));

  assert_int_equal(fc_auth_key_hash("", 0, h, sizeof(h)), FC_ERR_INVAL);
  assert_int_equal(fc_auth_key_hash(big, sizeof(big), h, sizeof(h)), FC_ERR_INVAL);
  /* shorter than the OCPP 1.6 security whitepaper's 16 bytes: refused */
  assert_int_equal(fc_auth_key_hash("zzz", 3, h, sizeof(h)), FC_ERR_INVAL);
  assert_int_equal(fc_auth_key_hash(big, FC_AUTH_KEY_MIN - 1, h, sizeof(h)), FC_ERR_INVAL);
  assert_int_equal(fc_auth_key_hash(big, FC_AUTH_KEY_MIN, h, sizeof(h)), 0);
  assert_int_equal(FC_AUTH_KEY_MIN, 16);
  assert_int_equal(fc_auth_key_hash(KEY, strlen(KEY), h, FC_AUTH_HASH_MAX - 1), FC_ERR_INVAL);
}

/* A short key hashed before the minimum was enforced still verifies. */
static void test_legacy_short_key(void **state)
{
  (void)state;
  unsigned char salt[16], m[crypto_auth_hmacsha256_BYTES];
  char salt_hex[33], m_hex[2 * sizeof(m) + 1], h[FC_AUTH_HASH_MAX];
  crypto_auth_hmacsha256_state st;

  randombytes_buf(salt, sizeof(salt));
  crypto_auth_hmacsha256_init(&st, salt, sizeof(salt));
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)"zzz", 3);
  crypto_auth_hmacsha256_final(&st, m);
  sodium_bin2hex(salt_hex, sizeof(salt_hex), salt, sizeof(salt));
  sodium_bin2hex(m_hex, sizeof(m_hex), m, sizeof(m));
  snprintf(h, sizeof(h), PREFIX "%s$%s", salt_hex, m_hex);
  assert_true(fc_auth_key_verify(h, "zzz", 3));
  assert_false(fc_auth_key_verify(h, "zzzz", 4));
}

static void test_malformed_stored(void **state)
{
  (void)state;
  char h[FC_AUTH_HASH_MAX], bad[2 * FC_AUTH_HASH_MAX];
  hash(KEY, h);
  const char *salt = h + strlen(PREFIX), *mac = strchr(salt, '$') + 1;
  int sl = (int)(mac - 1 - salt);

  assert_false(fc_auth_key_verify(NULL, KEY, strlen(KEY)));
  assert_false(fc_auth_key_verify("", KEY, strlen(KEY)));
  assert_false(fc_auth_key_verify(PREFIX, KEY, strlen(KEY)));
  /* another scheme */
  snprintf(bad, sizeof(bad), "hmac-sha512$%s", salt);
  assert_false(fc_auth_key_verify(bad, KEY, strlen(KEY)));
  snprintf(bad, sizeof(bad), "$argon2id$v=19$m=65536,t=2,p=1$c2FsdA$aGFzaA");
  assert_false(fc_auth_key_verify(bad, KEY, strlen(KEY)));
  /* short salt */
  snprintf(bad, sizeof(bad), PREFIX "%.*s$%s", sl - 2, salt, mac);
  assert_false(fc_auth_key_verify(bad, KEY, strlen(KEY)));
  /* long salt */
  snprintf(bad, sizeof(bad), PREFIX "%.*s00$%s", sl, salt, mac);
  assert_false(fc_auth_key_verify(bad, KEY, strlen(KEY)));
  /* non-hex salt */
  snprintf(bad, sizeof(bad), PREFIX "zz%.*s$%s", sl - 2, salt + 2, mac);
  assert_false(fc_auth_key_verify(bad, KEY, strlen(KEY)));
  /* no separator */
  snprintf(bad, sizeof(bad), PREFIX "%.*s%s", sl, salt, mac);
  assert_false(fc_auth_key_verify(bad, KEY, strlen(KEY)));
  /* missing, short, long, non-hex MAC */
  snprintf(bad, sizeof(bad), PREFIX "%.*s$", sl, salt);
  assert_false(fc_auth_key_verify(bad, KEY, strlen(KEY)));
  snprintf(bad, sizeof(bad), PREFIX "%.*s$%.62s", sl, salt, mac);
  assert_false(fc_auth_key_verify(bad, KEY, strlen(KEY)));
  snprintf(bad, sizeof(bad), "%s00", h);
  assert_false(fc_auth_key_verify(bad, KEY, strlen(KEY)));
  snprintf(bad, sizeof(bad), "%sz", h);
  assert_false(fc_auth_key_verify(bad, KEY, strlen(KEY)));
  snprintf(bad, sizeof(bad), "%s", h);
  bad[strlen(bad) - 1] = 'g';
  assert_false(fc_auth_key_verify(bad, KEY, strlen(KEY)));
  /* one MAC bit off */
  snprintf(bad, sizeof(bad), "%s", h);
  bad[strlen(bad) - 1] = bad[strlen(bad) - 1] == '0' ? '1' : '0';
  assert_false(fc_auth_key_verify(bad, KEY, strlen(KEY)));
  /* the untouched hash still verifies */
  assert_true(fc_auth_key_verify(h, KEY, strlen(KEY)));
}

/* ---- Basic header --------------------------------------------------------- */

static int basic(const char *hdr, char *user, size_t usz, char *pass, size_t psz, size_t *plen)
{
  memset(user, 0x55, usz);
  memset(pass, 0x55, psz);
  return fc_auth_basic_parse(hdr, user, usz, pass, psz, plen);
}

static void test_basic_ok(void **state)
{
  (void)state;
  char u[64], p[128];
  size_t pl = 99;

  /* CP001:s3cr3t */
  assert_int_equal(basic("Basic Q1AwMDE6czNjcjN0", u, sizeof(u), p, sizeof(p), &pl), 0);
  assert_string_equal(u, "CP001");
  assert_string_equal(p, "s3cr3t");
  assert_int_equal(pl, 6);
  /* scheme is case-insensitive; spaces around are tolerated */
  assert_int_equal(basic("  bAsIc    Q1AwMDE6czNjcjN0  ", u, sizeof(u), p, sizeof(p), &pl), 0);
  assert_string_equal(u, "CP001");
  assert_string_equal(p, "s3cr3t");
  /* the password may contain ':' — only the first one splits */
  /* CP001:a:b::c: */
  assert_int_equal(basic("Basic Q1AwMDE6YTpiOjpjOg==", u, sizeof(u), p, sizeof(p), &pl), 0);
  assert_string_equal(u, "CP001");
  assert_string_equal(p, "a:b::c:");
  assert_int_equal(pl, 7);
  /* empty password: CP001: */
  assert_int_equal(basic("Basic Q1AwMDE6", u, sizeof(u), p, sizeof(p), &pl), 0);
  assert_string_equal(u, "CP001");
  assert_string_equal(p, "");
  assert_int_equal(pl, 0);
  /* exactly fitting buffers: "CP001" needs 6, "s3cr3t" needs 7 */
  assert_int_equal(basic("Basic Q1AwMDE6czNjcjN0", u, 6, p, 7, &pl), 0);
  assert_string_equal(u, "CP001");
  assert_string_equal(p, "s3cr3t");
}

static void test_basic_refused(void **state)
{
  (void)state;
  char u[64], p[128];
  size_t pl;
  const char *bad[] = {
      "",
      "Basic",
      "Basic ",
      "Bearer Q1AwMDE6czNjcjN0",
      "BasicQ1AwMDE6czNjcjN0",
      "Digest username=\"CP001\"",
      "Basic !!!!",
      "Basic Q1AwMDE6czNjcjN0!",
      "Basic Q1Aw MDE6czNjcjN0",  /* space inside */
      "Basic Q1AwMDE6czNjcjN",    /* truncated */
      "Basic Q1AwMDE6czNjcjN0==", /* wrong padding */
      "Basic Q1AwMDE6YTpiOjpjOg", /* padding missing */
      "Basic Q1AwMDE_czNjcjN0",   /* base64url alphabet, not Basic's */
      "Basic Q1AwMDE",            /* "CP001" has no ':' */
      "Basic Q1AwAERaOnBhc3M=",   /* "CP\0DZ:pass" — a NUL inside */
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
    assert_int_equal(basic(bad[i], u, sizeof(u), p, sizeof(p), &pl), FC_ERR_AUTH);

  /* does not fit the caller's buffers */
  assert_int_equal(basic("Basic Q1AwMDE6czNjcjN0", u, 5, p, sizeof(p), &pl), FC_ERR_AUTH);
  assert_int_equal(basic("Basic Q1AwMDE6czNjcjN0", u, sizeof(u), p, 6, &pl), FC_ERR_AUTH);

  /* longer than the decoder's 255 bytes */
  char raw[300], hdr[512];
  memset(raw, 'a', sizeof(raw));
  raw[5] = ':';
  memcpy(hdr, "Basic ", 6);
  sodium_bin2base64(hdr + 6, sizeof(hdr) - 6, (const unsigned char *)raw, sizeof(raw),
                    sodium_base64_VARIANT_ORIGINAL);
  char big_p[512];
  assert_int_equal(fc_auth_basic_parse(hdr, u, sizeof(u), big_p, sizeof(big_p), &pl), FC_ERR_AUTH);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),       cmocka_unit_test(test_wrong_key),
      cmocka_unit_test(test_hash_refusals),    cmocka_unit_test(test_malformed_stored),
      cmocka_unit_test(test_legacy_short_key), cmocka_unit_test(test_basic_ok),
      cmocka_unit_test(test_basic_refused),
  };
  if (fc_auth_init() != 0) return 1;
  return cmocka_run_group_tests(tests, NULL, NULL);
}
