/* Meter readings (005_meter_readings.sql): the digest that makes a resent
 * reading a duplicate.
 *
 * The digest is of the sampled values' meaning, not of their text: each
 * value's fields with the defaults applied, in order. A reading migrated
 * from the one-row-per-value table (which had stored the defaults) and the
 * same reading resent by the charger (which leaves them out) get the same
 * digest, whatever the key order or spacing of the JSON. The writer computes
 * it from a METER op's typed readings (defaults applied by the caller,
 * store.h); the migration, from the stored JSON text, with the SQL function
 * fc_sampled_digest, registered on every connection. */
#include "store/sqlite/sqlite_int.h"

#include "core/err.h"

#include <string.h>

/* FNV-1a, 64 bits, over each field as its length and its bytes (an absent
 * field has a length no string has), then murmur3's finaliser to spread it. */
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t mix(uint64_t h, const void *p, size_t n)
{
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) {
    h ^= b[i];
    h *= FNV_PRIME;
  }
  return h;
}

static uint64_t mix_field(uint64_t h, const char *s)
{
  uint32_t n = s ? (uint32_t)strlen(s) : UINT32_MAX;
  unsigned char len[4] = {n & 0xff, (n >> 8) & 0xff, (n >> 16) & 0xff, n >> 24}; /* any host */
  h = mix(h, len, sizeof(len));
  return s ? mix(h, s, n) : h;
}

/* One sampled value into the digest, defaults applied (again: a caller's
 * that left them out still gets the reading's digest). */
static uint64_t mix_sampled(uint64_t h, fc_op_sampled_t s)
{
  fc_op_sampled_defaults(&s);
  h = mix_field(h, s.value);
  h = mix_field(h, s.measurand);
  h = mix_field(h, s.phase);
  h = mix_field(h, s.unit);
  h = mix_field(h, s.context);
  h = mix_field(h, s.location);
  return mix_field(h, s.format);
}

static int64_t finish(uint64_t h)
{
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return (int64_t)h;
}

int fc_store__reading_digest(const fc_op_reading_t *r, int64_t *out)
{
  uint64_t h = FNV_OFFSET;
  for (size_t i = 0; i < r->n; i++) {
    if (!r->sampled[i].value) return FC_ERR_STORE;
    h = mix_sampled(h, r->sampled[i]);
  }
  *out = finish(h);
  return 0;
}

int fc_store__sampled_digest(const json_t *svs, int64_t *out)
{
  const json_t *sv;
  size_t i;
  uint64_t h = FNV_OFFSET;

  if (!json_is_array(svs)) return FC_ERR_STORE;
  json_array_foreach(svs, i, sv)
  {
    fc_sampled_t s;
    if (!json_is_object(sv)) return FC_ERR_STORE;
    fc_op_sampled_of(sv, &s);
    if (!s.value) return FC_ERR_STORE;
    h = mix_sampled(h, s);
  }
  *out = finish(h);
  return 0;
}

/* fc_sampled_digest(json): the digest of a sampledValue array's text, or
 * NULL when it is not one. */
static void sql_digest(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
  const char *text = (const char *)sqlite3_value_text(argv[0]);
  int64_t digest;
  json_t *svs = text ? json_loads(text, 0, NULL) : NULL;
  if (svs && fc_store__sampled_digest(svs, &digest) == 0)
    sqlite3_result_int64(ctx, digest);
  else
    sqlite3_result_null(ctx);
  json_decref(svs);
}

int fc_store__sqlite_functions(sqlite3 *db)
{
  return sqlite3_create_function_v2(db, "fc_sampled_digest", 1,
                                    SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                    sql_digest, NULL, NULL, NULL);
}
