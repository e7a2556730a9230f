/* Logging of peer strings: fc_log_esc() (quotes, control bytes, invalid
 * UTF-8, cutting), the one-line guarantee of fc_log_emit() whatever its
 * arguments hold, message ids in the context, and fc_log_every(). */
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

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(esc_cases),
      cmocka_unit_test(one_line_whatever_the_arguments),
      cmocka_unit_test(plain_ids_unquoted),
      cmocka_unit_test(every_interval),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
