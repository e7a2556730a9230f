/* Secrets out of the frame log: fc_ocpp__frame_mask() on every path a frame
 * with an AuthorizationKey takes (ChangeConfiguration either way, a
 * GetConfiguration answer), any case, \u-escaped, broken JSON; and frames it
 * must leave alone, untouched and without a parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "ocpp/rpc.h"

static char *mask(const char *s)
{
  size_t n = 0;
  char *out = fc_ocpp__frame_mask(s, strlen(s), &n);
  if (out) assert_int_equal(n, strlen(out));
  return out;
}

static void expect(const char *in, const char *want)
{
  char *out = mask(in);
  if (!want) {
    assert_null(out);
    return;
  }
  assert_non_null(out);
  assert_string_equal(out, want);
  free(out);
}

static void change_configuration(void **state)
{
  (void)state;
  expect("[2,\"1\",\"ChangeConfiguration\",{\"key\":\"AuthorizationKey\",\"value\":\"s3cret\"}]",
         "[2,\"1\",\"ChangeConfiguration\",{\"key\":\"AuthorizationKey\",\"value\":null,"
         "\"masked\":true}]");
  expect("[2,\"1\",\"ChangeConfiguration\",{\"key\":\"authorizationKEY\",\"value\":\"s3cret\"}]",
         "[2,\"1\",\"ChangeConfiguration\",{\"key\":\"authorizationKEY\",\"value\":null,"
         "\"masked\":true}]");
  expect("[2,\"1\",\"ChangeConfiguration\",{\"key\":\"BasicAuthPassword\",\"value\":\"s3cret\"}]",
         "[2,\"1\",\"ChangeConfiguration\",{\"key\":\"BasicAuthPassword\",\"value\":null,"
         "\"masked\":true}]");
  /* spelt with an escape */
  expect("[2,\"1\",\"ChangeConfiguration\",{\"key\":\"Authorization\\u004bey\",\"value\":\"s\"}]",
         "[2,\"1\",\"ChangeConfiguration\",{\"key\":\"AuthorizationKey\",\"value\":null,"
         "\"masked\":true}]");
  /* other keys, other actions: as they are */
  expect("[2,\"1\",\"ChangeConfiguration\",{\"key\":\"HeartbeatInterval\",\"value\":\"60\"}]",
         NULL);
  expect("[2,\"1\",\"GetConfiguration\",{\"key\":[\"AuthorizationKey\"]}]", NULL);
  expect("[3,\"1\",{\"status\":\"Accepted\"}]", NULL);
  expect("[2,\"1\",\"MeterValues\",{\"connectorId\":1,\"meterValue\":[]}]", NULL);
}

static void get_configuration_answer(void **state)
{
  (void)state;
  expect("[3,\"1\",{\"configurationKey\":[{\"key\":\"HeartbeatInterval\",\"readonly\":false,"
         "\"value\":\"300\"},{\"key\":\"AuthorizationKey\",\"readonly\":false,\"value\":\"k\"},"
         "{\"key\":\"AUTHORIZATIONKEY\",\"readonly\":true,\"value\":\"k2\"}],\"unknownKey\":[]}]",
         "[3,\"1\",{\"configurationKey\":[{\"key\":\"HeartbeatInterval\",\"readonly\":false,"
         "\"value\":\"300\"},{\"key\":\"AuthorizationKey\",\"readonly\":false,\"value\":null,"
         "\"masked\":true},{\"key\":\"AUTHORIZATIONKEY\",\"readonly\":true,\"value\":null,"
         "\"masked\":true}],\"unknownKey\":[]}]");
  /* a key without a value, or a value already null: nothing to mask */
  expect("[3,\"1\",{\"configurationKey\":[{\"key\":\"AuthorizationKey\",\"readonly\":false}]}]",
         NULL);
  expect("[3,\"1\",{\"unknownKey\":[\"AuthorizationKey\"]}]", NULL);
}

static void broken_json(void **state)
{
  (void)state;
  expect("[3,\"1\",{\"configurationKey\":[{\"key\":\"AuthorizationKey\",\"value\":\"k\"}]",
         FC_FRAME_WITHHELD);
  expect("[2,\"1\",\"Heartbeat\",{", NULL);
  expect("[2,\"1\",\"Heartbeat\",{\"x\":\"\\u0041\"", NULL);
}

static void not_nul_terminated(void **state)
{
  (void)state;
  const char buf[] = "[2,\"1\",\"ChangeConfiguration\",{\"key\":\"AuthorizationKey\",\"value\":"
                     "\"s\"}]AuthorizationKey";
  size_t n = 0;
  char *out = fc_ocpp__frame_mask(buf, sizeof(buf) - 1 - strlen("AuthorizationKey"), &n);
  assert_non_null(out);
  assert_null(strstr(out, "\"s\""));
  free(out);
  /* the name cut off at the end of the frame is not found past it */
  assert_null(fc_ocpp__frame_mask("[3,\"1\",{}]Auth", 11, &n));
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(change_configuration),
      cmocka_unit_test(get_configuration_answer),
      cmocka_unit_test(broken_json),
      cmocka_unit_test(not_nul_terminated),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
