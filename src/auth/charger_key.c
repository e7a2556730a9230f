#include "auth/auth.h"

#include "core/err.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#define SALT_LEN 16
#define PREFIX "hmac-sha256$"

int fc_auth_init(void)
{
  return sodium_init() < 0 ? FC_ERR_CONFIG : 0;
}

static void mac(const unsigned char *salt, const char *key, size_t len,
                unsigned char out[crypto_auth_hmacsha256_BYTES])
{
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, salt, SALT_LEN);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)key, len);
  crypto_auth_hmacsha256_final(&st, out);
  sodium_memzero(&st, sizeof(st));
}

int fc_auth_key_hash(const char *key, size_t len, char *out, size_t outsz)
{
  unsigned char salt[SALT_LEN], m[crypto_auth_hmacsha256_BYTES];
  char salt_hex[2 * SALT_LEN + 1], m_hex[2 * sizeof(m) + 1];

  if (len < FC_AUTH_KEY_MIN || len > FC_AUTH_KEY_MAX || outsz < FC_AUTH_HASH_MAX)
    return FC_ERR_INVAL;
  randombytes_buf(salt, sizeof(salt));
  mac(salt, key, len, m);
  sodium_bin2hex(salt_hex, sizeof(salt_hex), salt, sizeof(salt));
  sodium_bin2hex(m_hex, sizeof(m_hex), m, sizeof(m));
  snprintf(out, outsz, PREFIX "%s$%s", salt_hex, m_hex);
  return 0;
}

bool fc_auth_key_verify(const char *stored, const char *key, size_t len)
{
  unsigned char salt[SALT_LEN], want[crypto_auth_hmacsha256_BYTES], got[sizeof(want)];
  size_t n;
  const char *end;

  if (!stored || strncmp(stored, PREFIX, sizeof(PREFIX) - 1) != 0) return false;
  if (len == 0 || len > FC_AUTH_KEY_MAX) return false;
  stored += sizeof(PREFIX) - 1;
  if (sodium_hex2bin(salt, sizeof(salt), stored, 2 * SALT_LEN, NULL, &n, &end) != 0 ||
      n != SALT_LEN || *end != '$')
    return false;
  if (sodium_hex2bin(want, sizeof(want), end + 1, strlen(end + 1), NULL, &n, NULL) != 0 ||
      n != sizeof(want))
    return false;
  mac(salt, key, len, got);
  return sodium_memcmp(want, got, sizeof(want)) == 0;
}

int fc_auth_basic_parse(const char *header, char *user, size_t usersz, char *pass, size_t passsz,
                        size_t *passlen)
{
  unsigned char dec[256];
  size_t n;

  while (*header == ' ')
    header++;
  if (strncasecmp(header, "Basic ", 6) != 0) return FC_ERR_AUTH;
  header += 6;
  while (*header == ' ')
    header++;
  size_t hlen = strlen(header);
  while (hlen && header[hlen - 1] == ' ')
    hlen--;
  if (sodium_base642bin(dec, sizeof(dec) - 1, header, hlen, NULL, &n, NULL,
                        sodium_base64_VARIANT_ORIGINAL) != 0)
    return FC_ERR_AUTH;
  dec[n] = '\0';
  if (memchr(dec, '\0', n)) return FC_ERR_AUTH;
  unsigned char *colon = memchr(dec, ':', n);
  if (!colon) return FC_ERR_AUTH;
  size_t ulen = (size_t)(colon - dec), plen = n - ulen - 1;
  if (ulen + 1 > usersz || plen + 1 > passsz) return FC_ERR_AUTH;
  memcpy(user, dec, ulen);
  user[ulen] = '\0';
  memcpy(pass, colon + 1, plen);
  pass[plen] = '\0';
  *passlen = plen;
  sodium_memzero(dec, sizeof(dec));
  return 0;
}
