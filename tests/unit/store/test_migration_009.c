/* Migration 009: a frame log written by schema 8, with AuthorizationKeys
 * in ChangeConfiguration calls and in GetConfiguration answers (any case,
 * \u-escaped, beside elements of every JSON type), is masked by the upgrade
 * the way ocpp/frame.c masks new frames; every other frame stays byte for
 * byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include "store_test_util.h"
#include "core/mem.h"
#include "store/sqlite/sqlite_int.h"
#include <sqlite3.h>

/* (ts, text before, text after; NULL after: unchanged) */
static const struct {
  const char *before, *after;
} frames[] = {
    {"[2,\"a1\",\"ChangeConfiguration\",{\"key\":\"AuthorizationKey\",\"value\":\"K1secret\"}]",
     "[2,\"a1\",\"ChangeConfiguration\",{\"key\":\"AuthorizationKey\",\"value\":null,"
     "\"masked\":true}]"},
    {"[2,\"a2\",\"ChangeConfiguration\",{\"key\":\"authorizationKEY\",\"value\":\"K2secret\"}]",
     "[2,\"a2\",\"ChangeConfiguration\",{\"key\":\"authorizationKEY\",\"value\":null,"
     "\"masked\":true}]"},
    {"[2,\"a3\",\"ChangeConfiguration\",{\"key\":\"Authorization\\u004bey\",\"value\":\"K3secret\"}"
     "]",
     "[2,\"a3\",\"ChangeConfiguration\",{\"key\":\"Authorization\\u004bey\",\"value\":null,"
     "\"masked\":true}]"},
    {"[3,\"a4\",{\"configurationKey\":[{\"key\":\"HeartbeatInterval\",\"readonly\":false,"
     "\"value\":\"60\"},\"text\",7,2.5,true,false,null,[1],{\"key\":\"BasicAuthPassword\","
     "\"readonly\":true,\"value\":\"K4secret\"}],\"unknownKey\":[\"x\"]}]",
     "[3,\"a4\",{\"configurationKey\":[{\"key\":\"HeartbeatInterval\",\"readonly\":false,"
     "\"value\":\"60\"},\"text\",7,2.5,true,false,null,[1],{\"key\":\"BasicAuthPassword\","
     "\"readonly\":true,\"value\":null,\"masked\":true}],\"unknownKey\":[\"x\"]}]"},
    {"[3,\"a5\",{\"configurationKey\":[{\"key\":\"AuthorizationKey\",\"value\":\"K5secret\"}]",
     "[frame withheld: not JSON, and it names a secret configuration key]"},
    /* left alone */
    {"[2,\"b1\",\"ChangeConfiguration\",{\"key\":\"HeartbeatInterval\",\"value\":\"60\"}]", NULL},
    {"[2,\"b2\",\"GetConfiguration\",{\"key\":[\"AuthorizationKey\"]}]", NULL},
    {"[3,\"b3\",{\"configurationKey\":[{\"key\":\"AuthorizationKey\",\"readonly\":false}]}]", NULL},
    {"[2,\"b4\",\"DataTransfer\",{\"vendorId\":\"x\",\"data\":\"caf\\u00e9\"}]", NULL},
    {"[2,\"b5\",\"Heartbeat\",{}]", NULL},
    {"not json \\u at all", NULL},
};

static void test_migration_009_on_version_8(void **state)
{
  env_t *e = *state;
  sqlite3 *db;
  assert_int_equal(sqlite3_open(e->path, &db), SQLITE_OK);
  assert_int_equal(fc_store__sqlite_functions(db), SQLITE_OK); /* 005 uses ours */
  assert_int_equal(sqlite3_exec(db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL), SQLITE_OK);
  for (int i = 0; i < 8; i++) {
    assert_int_equal(fc_store__migrations[i].version, i + 1);
    assert_int_equal(sqlite3_exec(db, fc_store__migrations[i].sql, NULL, NULL, NULL), SQLITE_OK);
  }
  assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 8", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_stmt *st;
  assert_int_equal(
      sqlite3_prepare_v2(db,
                         "INSERT INTO frames (ts, charger_id, conn_id, direction, text)"
                         " VALUES (?1, 'CP1', 1, 'in', ?2)",
                         -1, &st, NULL),
      SQLITE_OK);
  for (size_t i = 0; i < (size_t)FC_ARRAY_SIZE(frames); i++) {
    sqlite3_bind_int64(st, 1, (long long)i + 1);
    sqlite3_bind_text(st, 2, frames[i].before, -1, SQLITE_STATIC);
    assert_int_equal(sqlite3_step(st), SQLITE_DONE);
    sqlite3_reset(st);
  }
  sqlite3_finalize(st);
  sqlite3_close(db);

  assert_int_equal(env_open(e, NULL), 0);
  assert_string_equal(q1(e, "PRAGMA user_version"), FC_TEST_SCHEMA_VERSION);
  for (size_t i = 0; i < (size_t)FC_ARRAY_SIZE(frames); i++) {
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT text FROM frames WHERE ts = %zu", i + 1);
    const char *want = frames[i].after ? frames[i].after : frames[i].before;
    assert_string_equal(q1(e, sql), want);
  }
  assert_int_equal(qint(e, "SELECT count(*) FROM frames WHERE text LIKE '%K_secret%'"), 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_migration_009_on_version_8, env_setup, env_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
