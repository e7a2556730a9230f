/* The server's fold (the charger model, src/bus/model.c) against the shared
 * vectors in tests/vectors/fold/ (see the README there), which the browser's
 * fold (web/js/fold.js) passes too: tests/integration/fold.test.mjs. Each
 * vector's events are published as the store's writer leaves them (seq,
 * serialised text), and the charger's snapshot must equal the expected one,
 * numbers compared by value. */
#include "bus/bus.h"
#include "core/datetime.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* tests/vectors/fold, from this file's path (CMake compiles it by its
 * absolute path). */
static void vectors_dir(char *out, size_t n)
{
  const char *f = __FILE__;
  const char *cut = strstr(f, "tests/unit/bus/");
  assert_non_null(cut);
  snprintf(out, n, "%.*stests/vectors/fold", (int)(cut - f), f);
}

/* Deep equality, numbers by value (jansson keeps 0 and 0.0 apart). */
static bool same(json_t *a, json_t *b)
{
  if (json_is_number(a) && json_is_number(b)) return json_number_value(a) == json_number_value(b);
  if (json_typeof(a) != json_typeof(b)) return false;
  if (json_is_object(a)) {
    if (json_object_size(a) != json_object_size(b)) return false;
    const char *k;
    json_t *v;
    json_object_foreach(a, k, v)
    {
      json_t *w = json_object_get(b, k);
      if (!w || !same(v, w)) return false;
    }
    return true;
  }
  if (json_is_array(a)) {
    if (json_array_size(a) != json_array_size(b)) return false;
    for (size_t i = 0; i < json_array_size(a); i++)
      if (!same(json_array_get(a, i), json_array_get(b, i))) return false;
    return true;
  }
  return json_equal(a, b);
}

static void publish(fc_bus_t *b, json_t *ev)
{
  const char *type = json_string_value(json_object_get(ev, "type"));
  const char *charger = json_string_value(json_object_get(ev, "charger"));
  const char *ts = json_string_value(json_object_get(ev, "ts"));
  json_t *data = json_object_get(ev, "data");
  assert_non_null(type);
  assert_non_null(charger);
  assert_non_null(ts);
  assert_true(json_is_object(data));
  long long ms = 0;
  assert_int_equal(fc_datetime_parse(ts, &ms), 0);
  char back[32];
  fc_datetime_format(ms, back, sizeof(back));
  assert_string_equal(back, ts); /* the vector's ts is as the server writes it */

  fc_write_t *w = fc_write_new();
  fc_op_t *op = fc_write_event(
      w, charger,
      &(fc_op_event_t){.type = type,
                       .connector = (int)json_integer_value(json_object_get(ev, "connector")),
                       .ts_ms = ms,
                       .late = json_is_true(json_object_get(data, "late")),
                       .data = data});
  op->out.id = json_integer_value(json_object_get(ev, "seq"));
  op->out.text = json_dumps(ev, JSON_COMPACT);
  op->out.len = strlen(op->out.text);
  fc_bus_publish_write(b, w);
  fc_write_free(w);
}

static int run_vector(const char *path)
{
  json_error_t err;
  json_t *v = json_load_file(path, 0, &err);
  if (!v) {
    print_error("%s: %s (line %d)\n", path, err.text, err.line);
    return -1;
  }
  const char *charger = json_string_value(json_object_get(v, "charger"));
  json_t *events = json_object_get(v, "events");
  json_t *expected = json_object_get(v, "expected");
  assert_non_null(charger);
  assert_true(json_is_array(events));
  assert_true(json_is_object(expected));

  fc_bus_t *b = fc_bus_new();
  size_t i;
  json_t *ev;
  json_array_foreach(events, i, ev) publish(b, ev);
  size_t len = 0;
  const char *text = fc_bus_snapshot(b, charger, &len, NULL);
  json_t *got = text ? json_loadb(text, len, 0, NULL) : NULL;
  int rc = 0;
  if (!got || !same(got, expected)) {
    char *g = got ? json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    char *x = json_dumps(expected, JSON_COMPACT | JSON_SORT_KEYS);
    print_error("%s:\n  got      %s\n  expected %s\n", path, g ? g : "(no snapshot)", x);
    free(g);
    free(x);
    rc = -1;
  }
  json_decref(got);
  fc_bus_free(b);
  json_decref(v);
  return rc;
}

static void test_fold_vectors(void **state)
{
  (void)state;
  char dir[512], path[1024];
  vectors_dir(dir, sizeof(dir));
  DIR *d = opendir(dir);
  assert_non_null(d);
  int n = 0, failed = 0;
  struct dirent *de;
  while ((de = readdir(d))) {
    size_t len = strlen(de->d_name);
    if (len < 6 || strcmp(de->d_name + len - 5, ".json") != 0) continue;
    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
    n++;
    failed += run_vector(path) != 0;
  }
  closedir(d);
  assert_true(n >= 8);
  assert_int_equal(failed, 0);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_fold_vectors),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
