/* Unit tests for src/store/sqlite/users.c: the users table through the
 * administration API (migration 004). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "store_test_util.h"

typedef struct listed {
  int n;
  char names[8][FC_USER_NAME_MAX + 1];
  char roles[8][9];
  bool hash_empty;
} listed_t;

static void collect(const fc_user_rec_t *u, void *arg)
{
  listed_t *l = arg;
  if (l->n < 8) {
    snprintf(l->names[l->n], sizeof(l->names[0]), "%s", u->name);
    snprintf(l->roles[l->n], sizeof(l->roles[0]), "%s", u->role);
  }
  l->hash_empty = l->hash_empty && u->hash[0] == '\0';
  l->n++;
}

#define HASH_A "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g"
#define HASH_B "$argon2id$v=19$m=65536,t=2,p=1$b3RoZXJzYWx0$b3RoZXJoYXNo"

static fc_store_admin_t *open_admin(env_t *e)
{
  fc_store_admin_t *a = NULL;
  env_init(e);
  assert_int_equal(fc_store_admin_open(e->path, &a), 0);
  return a;
}

static void done(env_t *e, fc_store_admin_t *a)
{
  fc_store_admin_close(a);
  assert_int_equal(uv_loop_close(&e->loop), 0);
  unlink(e->path);
}

static void test_put_get(void **state)
{
  (void)state;
  env_t e;
  fc_store_admin_t *a = open_admin(&e);
  fc_user_rec_t u;
  long long n = -1;

  assert_int_equal(fc_store_admin_user_count(a, &n), 0);
  assert_int_equal(n, 0);
  assert_int_equal(fc_store_admin_user_get(a, "alice", &u), FC_ERR_NOTFOUND);

  assert_int_equal(fc_store_admin_user_put(a, "alice", HASH_A, "operator"), 0);
  assert_int_equal(fc_store_admin_user_get(a, "alice", &u), 0);
  assert_string_equal(u.name, "alice");
  assert_string_equal(u.hash, HASH_A);
  assert_string_equal(u.role, "operator");
  assert_true(u.created_ms > 0);
  assert_int_equal(fc_store_admin_user_count(a, &n), 0);
  assert_int_equal(n, 1);

  /* put again: new password and role, same user */
  long long created = u.created_ms;
  assert_int_equal(fc_store_admin_user_put(a, "alice", HASH_B, "admin"), 0);
  assert_int_equal(fc_store_admin_user_get(a, "alice", &u), 0);
  assert_string_equal(u.hash, HASH_B);
  assert_string_equal(u.role, "admin");
  assert_int_equal(u.created_ms, created);
  assert_int_equal(fc_store_admin_user_count(a, &n), 0);
  assert_int_equal(n, 1);

  /* names are exact: case matters */
  assert_int_equal(fc_store_admin_user_get(a, "Alice", &u), FC_ERR_NOTFOUND);
  done(&e, a);
}

static void test_invalid(void **state)
{
  (void)state;
  env_t e;
  fc_store_admin_t *a = open_admin(&e);
  char longname[FC_USER_NAME_MAX + 2];
  memset(longname, 'n', sizeof(longname) - 1);
  longname[sizeof(longname) - 1] = '\0';
  char longhash[FC_USER_HASH_MAX + 1];
  memset(longhash, 'h', sizeof(longhash) - 1);
  longhash[sizeof(longhash) - 1] = '\0';

  assert_int_equal(fc_store_admin_user_put(a, "", HASH_A, "viewer"), FC_ERR_INVAL);
  assert_int_equal(fc_store_admin_user_put(a, NULL, HASH_A, "viewer"), FC_ERR_INVAL);
  assert_int_equal(fc_store_admin_user_put(a, longname, HASH_A, "viewer"), FC_ERR_INVAL);
  assert_int_equal(fc_store_admin_user_put(a, "tab\there", HASH_A, "viewer"), FC_ERR_INVAL);
  assert_int_equal(fc_store_admin_user_put(a, "bob", "", "viewer"), FC_ERR_INVAL);
  assert_int_equal(fc_store_admin_user_put(a, "bob", NULL, "viewer"), FC_ERR_INVAL);
  assert_int_equal(fc_store_admin_user_put(a, "bob", longhash, "viewer"), FC_ERR_INVAL);
  assert_int_equal(fc_store_admin_user_put(a, "bob", HASH_A, "root"), FC_ERR_INVAL);
  assert_int_equal(fc_store_admin_user_put(a, "bob", HASH_A, NULL), FC_ERR_INVAL);
  /* the longest name is fine, and so is UTF-8 */
  longname[FC_USER_NAME_MAX] = '\0';
  assert_int_equal(fc_store_admin_user_put(a, longname, HASH_A, "viewer"), 0);
  assert_int_equal(fc_store_admin_user_put(a, "Zoë", HASH_A, "viewer"), 0);
  long long n;
  assert_int_equal(fc_store_admin_user_count(a, &n), 0);
  assert_int_equal(n, 2);
  done(&e, a);
}

static void test_list_remove(void **state)
{
  (void)state;
  env_t e;
  fc_store_admin_t *a = open_admin(&e);
  assert_int_equal(fc_store_admin_user_put(a, "carol", HASH_A, "viewer"), 0);
  assert_int_equal(fc_store_admin_user_put(a, "alice", HASH_A, "admin"), 0);
  assert_int_equal(fc_store_admin_user_put(a, "bob", HASH_B, "operator"), 0);

  listed_t l = {.hash_empty = true};
  assert_int_equal(fc_store_admin_user_list(a, collect, &l), 0);
  assert_int_equal(l.n, 3);
  assert_string_equal(l.names[0], "alice"); /* by name */
  assert_string_equal(l.roles[0], "admin");
  assert_string_equal(l.names[1], "bob");
  assert_string_equal(l.names[2], "carol");
  assert_true(l.hash_empty); /* listings never carry the hash */

  assert_int_equal(fc_store_admin_user_remove(a, "bob"), 0);
  assert_int_equal(fc_store_admin_user_remove(a, "bob"), FC_ERR_NOTFOUND);
  assert_int_equal(fc_store_admin_user_remove(a, "nobody"), FC_ERR_NOTFOUND);
  fc_user_rec_t u;
  assert_int_equal(fc_store_admin_user_get(a, "bob", &u), FC_ERR_NOTFOUND);
  memset(&l, 0, sizeof(l));
  assert_int_equal(fc_store_admin_user_list(a, collect, &l), 0);
  assert_int_equal(l.n, 2);
  done(&e, a);
}

static void test_persists(void **state)
{
  (void)state;
  env_t e;
  fc_store_admin_t *a = open_admin(&e);
  assert_int_equal(fc_store_admin_user_put(a, "alice", HASH_A, "viewer"), 0);
  fc_store_admin_close(a);
  /* a second handle (the server's, beside the CLI's) sees it */
  assert_int_equal(fc_store_admin_open(e.path, &a), 0);
  fc_user_rec_t u;
  assert_int_equal(fc_store_admin_user_get(a, "alice", &u), 0);
  assert_string_equal(u.hash, HASH_A);
  done(&e, a);
}

int main(void)
{
  fc_log_level = FC_LOG_ERROR;
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_put_get),
      cmocka_unit_test(test_invalid),
      cmocka_unit_test(test_list_remove),
      cmocka_unit_test(test_persists),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
