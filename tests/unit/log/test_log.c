/* Logging of peer strings: fc_log_esc() (quotes, control bytes, invalid
 * UTF-8, cutting), the one-line guarantee of fc_log_emit() whatever its
 * arguments hold, message ids in the context, fc_log_every(), and
 * --log-format json (the same fields, one valid JSON object a line). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log/log.h"

#include <jansson.h>

static void esc_cases(void **state)
{
  (void)state;
  char b[FC_LOG_ESC_MAX];
  assert_string_equal(fc_log_esc("Acme", b, sizeof(b)), "Acme");
  assert_string_equal(fc_log_esc(NULL, b, sizeof(b)), "-");
  assert_string_equal(fc_log_esc("a\nts=x level=error", b, sizeof(b)), "a\\nts=x level=error");
  assert_string_equal(fc_log_esc("q\"\\\r\t", b, sizeof(b)), "q\\\"\\\\\\r\\t");
  assert_string_equal(fc_log_esc("\x01\x7f", b, sizeof(b)), "\\x01\\x7f");
  assert_string_equal(fc_log_esc("caf\xc3\xa9", b, sizeof(b)), "caf\xc3\xa9"); /* UTF-8 kept */
  assert_string_equal(fc_log_esc("\xff\xc3", b, sizeof(b)), "\\xff\\xc3");     /* invalid: bytes */
  char small[12];
  assert_string_equal(fc_log_esc("abcdefghijklmnop", small, sizeof(small)), "abcdefgh...");
  assert_string_equal(fc_log_esc("\n\n\n\n\n\n", small, sizeof(small)), "\\n\\n\\n\\n...");
  assert_true(strlen(fc_log_esc("\n\n\n\n\n\n", small, sizeof(small))) < sizeof(small));
}

/* Runs fn with stderr redirected to a file; returns what was written. */
static char *capture(void (*fn)(void))
{
  char path[] = "/tmp/fc-test-log-XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  fflush(stderr);
  int saved = dup(2);
  dup2(fd, 2);
  fn();
  fflush(stderr);
  dup2(saved, 2);
  close(saved);
  static char buf[8192];
  ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
  close(fd);
  unlink(path);
  assert_true(n >= 0);
  buf[n] = '\0';
  return buf;
}

static void emit_forged(void)
{
  fc_log_ctx_t ctx = {.cp = "CP1", .conn = 7, .msg_id = "id\nts=2026 level=error FORGED"};
  fc_log(FC_LOG_WARN, &ctx, "event=boot vendor=\"%s\"", "v\r\nts=2026 level=error FORGED\x1b[2J");
}

static void one_line_whatever_the_arguments(void **state)
{
  (void)state;
  const char *out = capture(emit_forged);
  /* one line, ending in its only newline */
  assert_non_null(strchr(out, '\n'));
  assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
  assert_non_null(strstr(out, " cp=CP1 conn=7 id=\"id\\nts=2026 level=error FORGED\" "));
  assert_non_null(strstr(out, "vendor=\"v\\r\\nts=2026 level=error FORGED\\x1b[2J\""));
  assert_null(strchr(out, '\r'));
  assert_null(strchr(out, '\x1b'));
}

static void emit_plain_id(void)
{
  fc_log_ctx_t ctx = {.cp = "CP1", .msg_id = "0d1f-42"};
  fc_log(FC_LOG_WARN, &ctx, "event=x");
}

static void plain_ids_unquoted(void **state)
{
  (void)state;
  const char *out = capture(emit_plain_id);
  assert_non_null(strstr(out, " cp=CP1 id=0d1f-42 event=x\n"));
}

static void every_interval(void **state)
{
  (void)state;
  fc_log_every_t e = {0};
  uint64_t sup = 99;
  assert_true(fc_log_every(&e, 1000, 60000, &sup));
  assert_int_equal(sup, 0);
  assert_false(fc_log_every(&e, 1001, 60000, &sup));
  assert_false(fc_log_every(&e, 60999, 60000, &sup));
  assert_true(fc_log_every(&e, 61000, 60000, &sup));
  assert_int_equal(sup, 2);
  assert_false(fc_log_every(&e, 61000, 60000, &sup));
  /* a clock at 0 still logs the first time */
  fc_log_every_t z = {0};
  assert_true(fc_log_every(&z, 0, 60000, NULL));
  assert_false(fc_log_every(&z, 0, 60000, NULL));
}

/* The line as JSON: exactly one line, a valid object (jansson, which also
 * refuses invalid UTF-8). */
static json_t *json_line(const char *out)
{
  assert_non_null(strchr(out, '\n'));
  assert_ptr_equal(strchr(out, '\n'), out + strlen(out) - 1);
  json_error_t err;
  json_t *o = json_loads(out, 0, &err);
  if (!o) fail_msg("not JSON (%s): %s", err.text, out);
  assert_true(json_is_object(o));
  return o;
}

static const char *field(json_t *o, const char *k)
{
  json_t *v = json_object_get(o, k);
  if (!json_is_string(v)) fail_msg("field %s missing or not a string", k);
  return json_string_value(v);
}

static void json_same_fields(void **state)
{
  (void)state;
  fc_log_format = FC_LOG_JSON;
  const char *out = capture(emit_forged);
  json_t *o = json_line(out);
  assert_string_equal(field(o, "level"), "warn");
  assert_int_equal(strlen(field(o, "ts")), strlen("2026-11-26T10:00:00.000Z"));
  assert_string_equal(field(o, "cp"), "CP1");
  assert_string_equal(field(o, "conn"), "7");
  /* the peer's strings, unescaped from fc_log_esc and escaped as JSON */
  assert_string_equal(field(o, "id"), "id\nts=2026 level=error FORGED");
  assert_string_equal(field(o, "event"), "boot");
  assert_string_equal(field(o, "vendor"), "v\r\nts=2026 level=error FORGED\x1b[2J");
  assert_int_equal(json_object_size(o), 7);
  assert_null(strchr(out, '\r'));
  assert_null(strchr(out, '\x1b'));
  json_decref(o);

  o = json_line(capture(emit_plain_id));
  assert_string_equal(field(o, "id"), "0d1f-42");
  assert_null(json_object_get(o, "conn"));
  json_decref(o);
  fc_log_format = FC_LOG_TEXT;
}

static void emit_odd(void)
{
  char esc[FC_LOG_ESC_MAX];
  fc_log(FC_LOG_ERROR, NULL, "event=odd q=\"%s\" bad=%s plain=a\\b word",
         fc_log_esc("say \"hi\" \\ caf\xc3\xa9 \xff", esc, sizeof(esc)), "\xfe\x01");
}

static void emit_long(void)
{
  static char big[3000];
  memset(big, 'x', sizeof(big) - 1);
  fc_log(FC_LOG_INFO, NULL, "event=long a=\"%s\" b=after", big);
}

static void emit_ctrl(void)
{
  static char ctl[1500];
  memset(ctl, 1, sizeof(ctl) - 1);
  fc_log(FC_LOG_INFO, NULL, "event=ctl v=%s", ctl); /* 6 bytes each in JSON */
}

/* A peer's raw text with the four characters \x00 inside quotes. */
static void emit_nul_text(void)
{
  fc_log(FC_LOG_INFO, NULL, "event=nul v=\"%s\"", "a\\x00b");
}

static void json_escapes_and_cuts(void **state)
{
  (void)state;
  fc_log_format = FC_LOG_JSON;
  json_t *o = json_line(capture(emit_odd));
  assert_string_equal(field(o, "level"), "error");
  /* quotes and backslashes round-trip; UTF-8 is kept; a byte that is not
   * UTF-8 stays as the text \xNN */
  assert_string_equal(field(o, "q"), "say \"hi\" \\ caf\xc3\xa9 \\xff");
  assert_string_equal(field(o, "bad"), "\\xfe\x01");
  assert_string_equal(field(o, "plain"), "a\\b");
  assert_string_equal(field(o, "text"), "word");
  json_decref(o);
  /* \x00 is no escape of fc_log_esc's: it stays text, never a NUL in the
   * JSON (a shipper's parser may refuse one; found by fuzz_log_json) */
  o = json_line(capture(emit_nul_text));
  assert_string_equal(field(o, "v"), "a\\x00b");
  json_decref(o);

  /* longer than a line holds: cut inside the value, the object closed */
  const char *out = capture(emit_long);
  o = json_line(out);
  const char *a = field(o, "a");
  assert_true(strlen(a) > 1000);
  assert_string_equal(a + strlen(a) - 3, "...");
  json_decref(o);
  /* longer once escaped than the line: cut there, the object closed */
  o = json_line(capture(emit_ctrl));
  const char *v = field(o, "v");
  assert_true(strlen(v) > 300 && strlen(v) < 1499);
  assert_string_equal(v + strlen(v) - 3, "...");
  json_decref(o);
  fc_log_format = FC_LOG_TEXT;
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(esc_cases),          cmocka_unit_test(one_line_whatever_the_arguments),
      cmocka_unit_test(plain_ids_unquoted), cmocka_unit_test(every_interval),
      cmocka_unit_test(json_same_fields),   cmocka_unit_test(json_escapes_and_cuts),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
