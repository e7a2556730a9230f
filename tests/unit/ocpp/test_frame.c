/* The OCPP-J envelope codec: every frame shape, valid and broken, and the
 * encoders (compact output, round trips, lossy descriptions). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ocpp/rpc.h"

typedef struct res {
  int rc;
  fc_frame_t f;
  const char *id;
  fc_ocpp_verr_t err;
} res_t;

static res_t *parse_n(const char *buf, size_t len)
{
  res_t *r = test_malloc(sizeof(*r));
  r->rc = fc_ocpp__frame_parse(buf, len, &r->f, &r->id, &r->err);
  return r;
}

static res_t *parse(const char *s)
{
  return parse_n(s, strlen(s));
}

static void done(res_t *r)
{
  fc_ocpp__frame_cleanup(&r->f);
  fc_ocpp__frame_cleanup(&r->f); /* idempotent */
  test_free(r);
}

static void call_ok(void **state)
{
  res_t *r = parse("[2,\"19223201\",\"BootNotification\",{\"chargePointVendor\":\"VendorX\","
                   "\"chargePointModel\":\"SingleSocketCharger\"}]");
  assert_int_equal(r->rc, 0);
  assert_int_equal(r->f.type, FC_MSG_CALL);
  assert_string_equal(r->f.id, "19223201");
  assert_string_equal(r->f.action, "BootNotification");
  assert_true(json_is_object(r->f.payload));
  assert_string_equal(json_string_value(json_object_get(r->f.payload, "chargePointVendor")),
                      "VendorX");
  assert_null(r->f.err_code);
  assert_int_equal(r->err.code, FC_OCPP_OK);
  done(r);

  /* Whitespace, an empty payload, and a UUID-shaped id that is no valid UUID. */
  r = parse(" [ 2 , \"zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz\" , \"Heartbeat\" , { } ] \n");
  assert_int_equal(r->rc, 0);
  assert_string_equal(r->f.id, "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz");
  assert_int_equal(json_object_size(r->f.payload), 0);
  done(r);
}

static void result_ok(void **state)
{
  res_t *r = parse("[3,\"19223201\",{\"status\":\"Accepted\",\"currentTime\":"
                   "\"2013-02-01T20:53:32.486Z\",\"interval\":300}]");
  assert_int_equal(r->rc, 0);
  assert_int_equal(r->f.type, FC_MSG_RESULT);
  assert_string_equal(r->f.id, "19223201");
  assert_null(r->f.action);
  assert_int_equal(json_integer_value(json_object_get(r->f.payload, "interval")), 300);
  done(r);

  /* The envelope does not judge a CALLRESULT's payload; the schema does. */
  r = parse("[3,\"a\",[]]");
  assert_int_equal(r->rc, 0);
  assert_true(json_is_array(r->f.payload));
  done(r);
}

static void error_ok(void **state)
{
  res_t *r = parse("[4,\"162376037\",\"NotSupported\",\"SetDisplayMessage not implemented\",{}]");
  assert_int_equal(r->rc, 0);
  assert_int_equal(r->f.type, FC_MSG_ERROR);
  assert_string_equal(r->f.id, "162376037");
  assert_string_equal(r->f.err_code, "NotSupported");
  assert_string_equal(r->f.err_desc, "SetDisplayMessage not implemented");
  assert_true(json_is_object(r->f.err_details));
  assert_null(r->f.payload);
  done(r);

  r = parse("[4,\"x\",\"\",\"\",{\"a\":[1,2]}]");
  assert_int_equal(r->rc, 0);
  done(r);
}

static void expect_bad(const char *s, size_t len, fc_ocpp_code_t code, const char *id)
{
  res_t *r = parse_n(s, len);
  if (r->rc != FC_ERR_PROTO) fail_msg("accepted: %.*s", (int)len, s);
  if (r->err.code != code)
    fail_msg("%.*s: code %s, want %s (%s)", (int)len, s, fc_ocpp__code_name(r->err.code),
             fc_ocpp__code_name(code), r->err.desc);
  assert_true(r->err.desc[0] != '\0');
  if (id) {
    if (!r->id) fail_msg("%.*s: no id", (int)len, s);
    assert_string_equal(r->id, id);
  } else if (r->id) {
    fail_msg("%.*s: id %s", (int)len, s, r->id);
  }
  done(r);
}

#define BAD(s, code, id) expect_bad(s, strlen(s), FC_OCPP_##code, id)

static void broken_envelopes(void **state)
{
  /* Not JSON, or not an array. */
  BAD("", FORMATION_VIOLATION, NULL);
  BAD("   ", FORMATION_VIOLATION, NULL);
  BAD("[2,\"a\",\"Heartbeat\",{}", FORMATION_VIOLATION, NULL);
  BAD("[2,\"a\",\"Heartbeat\",{}]]", FORMATION_VIOLATION, NULL);
  BAD("[2,\"a\",\"Heartbeat\",{}] x", FORMATION_VIOLATION, NULL);
  BAD("{\"a\":1}", FORMATION_VIOLATION, NULL);
  BAD("\"text\"", FORMATION_VIOLATION, NULL);
  BAD("2", FORMATION_VIOLATION, NULL);
  BAD("null", FORMATION_VIOLATION, NULL);
  BAD("[2,'a','Heartbeat',{}]", FORMATION_VIOLATION, NULL);
  BAD("[2,\"a\",\"Heartbeat\",{},]", FORMATION_VIOLATION, NULL);
  BAD("[]", FORMATION_VIOLATION, NULL);
  BAD("[2]", FORMATION_VIOLATION, NULL);

  /* The id: a string of 1..36 bytes. */
  BAD("[2,5,\"Heartbeat\",{}]", FORMATION_VIOLATION, NULL);
  BAD("[2,null,\"Heartbeat\",{}]", FORMATION_VIOLATION, NULL);
  BAD("[2,\"\",\"Heartbeat\",{}]", FORMATION_VIOLATION, NULL);
  BAD("[2,\"0123456789012345678901234567890123456\",\"Heartbeat\",{}]", FORMATION_VIOLATION, NULL);
  res_t *r = parse("[2,\"012345678901234567890123456789012345\",\"Heartbeat\",{}]");
  assert_int_equal(r->rc, 0);
  done(r);

  /* The message type id; the id is still read so the CALLERROR can use it. */
  BAD("[\"2\",\"a\",\"Heartbeat\",{}]", FORMATION_VIOLATION, "a");
  BAD("[2.0,\"a\",\"Heartbeat\",{}]", FORMATION_VIOLATION, "a");
  BAD("[null,\"a\",\"Heartbeat\",{}]", FORMATION_VIOLATION, "a");
  BAD("[5,\"a\",\"Heartbeat\",{}]", PROTOCOL_ERROR, "a");
  BAD("[1,\"a\",{}]", PROTOCOL_ERROR, "a");
  BAD("[-2,\"a\",\"Heartbeat\",{}]", PROTOCOL_ERROR, "a");
  BAD("[9223372036854775807,\"a\",\"Heartbeat\",{}]", PROTOCOL_ERROR, "a");
  BAD("[99999999999999999999,\"a\",\"Heartbeat\",{}]", FORMATION_VIOLATION, NULL);

  /* CALL. */
  BAD("[2,\"a\",\"Heartbeat\"]", FORMATION_VIOLATION, "a");
  BAD("[2,\"a\",\"Heartbeat\",{},{}]", FORMATION_VIOLATION, "a");
  BAD("[2,\"a\",\"Heartbeat\",[]]", FORMATION_VIOLATION, "a");
  BAD("[2,\"a\",\"Heartbeat\",null]", FORMATION_VIOLATION, "a");
  BAD("[2,\"a\",\"Heartbeat\",\"{}\"]", FORMATION_VIOLATION, "a");
  BAD("[2,\"a\",7,{}]", FORMATION_VIOLATION, "a");
  BAD("[2,\"a\",\"\",{}]", FORMATION_VIOLATION, "a");

  /* CALLRESULT. */
  BAD("[3,\"a\"]", FORMATION_VIOLATION, "a");
  BAD("[3,\"a\",{},{}]", FORMATION_VIOLATION, "a");

  /* CALLERROR. */
  BAD("[4,\"a\",\"GenericError\",\"\"]", FORMATION_VIOLATION, "a");
  BAD("[4,\"a\",\"GenericError\",\"\",{},1]", FORMATION_VIOLATION, "a");
  BAD("[4,\"a\",1,\"\",{}]", FORMATION_VIOLATION, "a");
  BAD("[4,\"a\",\"GenericError\",null,{}]", FORMATION_VIOLATION, "a");
  BAD("[4,\"a\",\"GenericError\",\"\",[]]", FORMATION_VIOLATION, "a");
  BAD("[4,\"a\",\"GenericError\",\"\",null]", FORMATION_VIOLATION, "a");
}

static void hostile_json(void **state)
{
  /* Duplicate keys, at any depth. */
  BAD("[2,\"a\",\"Authorize\",{\"idTag\":\"A\",\"idTag\":\"B\"}]", FORMATION_VIOLATION, NULL);
  BAD("[2,\"a\",\"X\",{\"o\":{\"k\":1,\"k\":1}}]", FORMATION_VIOLATION, NULL);
  /* NUL, escaped or raw. */
  BAD("[2,\"a\\u0000b\",\"Heartbeat\",{}]", FORMATION_VIOLATION, NULL);
  BAD("[2,\"a\",\"Authorize\",{\"idTag\":\"A\\u0000\"}]", FORMATION_VIOLATION, NULL);
  static const char raw_nul[] = "[2,\"a\0\",\"Heartbeat\",{}]";
  expect_bad(raw_nul, sizeof(raw_nul) - 1, FC_OCPP_FORMATION_VIOLATION, NULL);
  static const char trailing_nul[] = "[3,\"a\",{}]\0";
  expect_bad(trailing_nul, sizeof(trailing_nul) - 1, FC_OCPP_FORMATION_VIOLATION, NULL);
  /* Invalid UTF-8 and lone surrogates. */
  BAD("[2,\"\xff\",\"Heartbeat\",{}]", FORMATION_VIOLATION, NULL);
  BAD("[2,\"a\",\"Heartbeat\",{\"k\":\"\xc3\"}]", FORMATION_VIOLATION, NULL);
  BAD("[2,\"a\",\"Heartbeat\",{\"k\":\"\\ud800\"}]", FORMATION_VIOLATION, NULL);
  /* Non-finite numbers. */
  BAD("[2,\"a\",\"X\",{\"n\":NaN}]", FORMATION_VIOLATION, NULL);
  BAD("[2,\"a\",\"X\",{\"n\":1e999}]", FORMATION_VIOLATION, NULL);

  /* Nesting past jansson's limit is refused, not a stack overflow. */
  size_t depth = 5000, n = 0;
  char *deep = test_malloc(2 * depth + 32);
  n += (size_t)sprintf(deep, "[3,\"a\",");
  for (size_t i = 0; i < depth; i++)
    deep[n++] = '[';
  for (size_t i = 0; i < depth; i++)
    deep[n++] = ']';
  deep[n++] = ']';
  expect_bad(deep, n, FC_OCPP_FORMATION_VIOLATION, NULL);
  test_free(deep);

  /* Peer bytes are not echoed in the description. */
  res_t *r = parse("[2,\"a\",\"X\",{\"k\":secretsecret}]");
  assert_int_equal(r->rc, FC_ERR_PROTO);
  assert_null(strstr(r->err.desc, "secret"));
  done(r);
}

static void not_nul_terminated(void **state)
{
  /* The buffer is parsed for exactly len bytes. */
  const char *s = "[3,\"a\",{}]garbage";
  res_t *r = parse_n(s, 10);
  assert_int_equal(r->rc, 0);
  assert_string_equal(r->f.id, "a");
  done(r);
  char exact[10];
  memcpy(exact, s, 10);
  r = parse_n(exact, sizeof(exact));
  assert_int_equal(r->rc, 0);
  done(r);
}

static void encode_call(void **state)
{
  size_t len = 0;
  json_t *p = json_pack("{s:s,s:i}", "idTag", "ABC", "connectorId", 1);
  char *s = fc_ocpp__encode_call("m-1", "RemoteStartTransaction", p, &len);
  /* Key order is jansson's insertion order. */
  assert_string_equal(
      s, "[2,\"m-1\",\"RemoteStartTransaction\",{\"idTag\":\"ABC\",\"connectorId\":1}]");
  assert_int_equal(len, strlen(s));
  free(s);
  assert_int_equal(p->refcount, 1); /* borrowed, not stolen */
  json_decref(p);

  s = fc_ocpp__encode_call("m-2", "ClearCache", NULL, NULL);
  assert_string_equal(s, "[2,\"m-2\",\"ClearCache\",{}]");
  free(s);
}

static void encode_result(void **state)
{
  size_t len;
  json_t *p = json_pack("{s:s,s:s,s:i}", "status", "Accepted", "currentTime",
                        "2026-11-26T10:00:00.000Z", "interval", 300);
  char *s = fc_ocpp__encode_result("19223201", p, &len);
  assert_string_equal(s, "[3,\"19223201\",{\"status\":\"Accepted\",\"currentTime\":"
                         "\"2026-11-26T10:00:00.000Z\",\"interval\":300}]");
  assert_int_equal(len, strlen(s));
  free(s);
  json_decref(p);

  s = fc_ocpp__encode_result("x", NULL, &len);
  assert_string_equal(s, "[3,\"x\",{}]");
  assert_int_equal(len, 10);
  free(s);

  /* Strings are escaped, non-ASCII kept as UTF-8. */
  p = json_pack("{s:s}", "data", "\"q\"\n\xc3\xa9");
  s = fc_ocpp__encode_result("x", p, NULL);
  assert_string_equal(s, "[3,\"x\",{\"data\":\"\\\"q\\\"\\n\xc3\xa9\"}]");
  free(s);
  json_decref(p);

  /* An id that is not plain ASCII takes the escaping path: quotes and
   * backslashes escaped, UTF-8 kept, invalid bytes replaced. */
  s = fc_ocpp__encode_result("a\"b\\c", NULL, &len);
  assert_string_equal(s, "[3,\"a\\\"b\\\\c\",{}]");
  assert_int_equal(len, strlen(s));
  free(s);
  s = fc_ocpp__encode_result("caf\xc3\xa9\xff", NULL, NULL);
  assert_string_equal(s, "[3,\"caf\xc3\xa9?\",{}]");
  free(s);

  /* A payload that is not an object is written as it is. */
  p = json_pack("[i]", 1);
  s = fc_ocpp__encode_result("x", p, NULL);
  assert_string_equal(s, "[3,\"x\",[1]]");
  free(s);
  json_decref(p);
}

static void encode_error(void **state)
{
  size_t len;
  char *s =
      fc_ocpp__encode_error("-1", FC_OCPP_FORMATION_VIOLATION, "frame is not an array", NULL, &len);
  assert_string_equal(s, "[4,\"-1\",\"FormationViolation\",\"frame is not an array\",{}]");
  assert_int_equal(len, strlen(s));
  free(s);

  json_t *det = json_pack("{s:s}", "path", "meterValue[0]");
  s = fc_ocpp__encode_error("a", FC_OCPP_NOT_IMPLEMENTED, NULL, det, NULL);
  assert_string_equal(s, "[4,\"a\",\"NotImplemented\",\"\",{\"path\":\"meterValue[0]\"}]");
  free(s);
  json_decref(det);

  /* OK is not a code a CALLERROR can carry. */
  s = fc_ocpp__encode_error("a", FC_OCPP_OK, "x", NULL, NULL);
  assert_string_equal(s, "[4,\"a\",\"GenericError\",\"x\",{}]");
  free(s);

  /* A description cut inside a UTF-8 sequence, or holding junk, still encodes. */
  s = fc_ocpp__encode_error("a", FC_OCPP_INTERNAL_ERROR,
                            "caf\xc3\xa9 \xc3 \xff\xfe end \xed\xa0\x80", NULL, NULL);
  assert_string_equal(s, "[4,\"a\",\"InternalError\",\"caf\xc3\xa9 ? ?? end ???\",{}]");
  free(s);
}

static void round_trips(void **state)
{
  const char *frames[] = {
      "[2,\"a\",\"Heartbeat\",{}]",
      "[3,\"b\",{\"currentTime\":\"2026-11-26T10:00:00Z\"}]",
      "[4,\"c\",\"TypeConstraintViolation\",\"connectorId: expected integer\",{}]",
      ("[2,\"d\",\"MeterValues\",{\"connectorId\":1,\"meterValue\":[{\"timestamp\":"
       "\"2026-11-26T10:00:00Z\",\"sampledValue\":[{\"value\":\"11001.31\"}]}]}]"),
  };
  for (size_t i = 0; i < sizeof(frames) / sizeof(frames[0]); i++) {
    res_t *r = parse(frames[i]);
    assert_int_equal(r->rc, 0);
    char *s = NULL;
    if (r->f.type == FC_MSG_CALL)
      s = fc_ocpp__encode_call(r->f.id, r->f.action, r->f.payload, NULL);
    else if (r->f.type == FC_MSG_RESULT)
      s = fc_ocpp__encode_result(r->f.id, r->f.payload, NULL);
    else
      s = fc_ocpp__encode_error(r->f.id, FC_OCPP_TYPE_CONSTRAINT_VIOLATION, r->f.err_desc,
                                r->f.err_details, NULL);
    assert_string_equal(s, frames[i]);
    free(s);
    done(r);
  }
}

static void code_names(void **state)
{
  assert_string_equal(fc_ocpp__code_name(FC_OCPP_OK), "");
  assert_string_equal(fc_ocpp__code_name(FC_OCPP_NOT_IMPLEMENTED), "NotImplemented");
  assert_string_equal(fc_ocpp__code_name(FC_OCPP_NOT_SUPPORTED), "NotSupported");
  assert_string_equal(fc_ocpp__code_name(FC_OCPP_INTERNAL_ERROR), "InternalError");
  assert_string_equal(fc_ocpp__code_name(FC_OCPP_PROTOCOL_ERROR), "ProtocolError");
  assert_string_equal(fc_ocpp__code_name(FC_OCPP_SECURITY_ERROR), "SecurityError");
  assert_string_equal(fc_ocpp__code_name(FC_OCPP_FORMATION_VIOLATION), "FormationViolation");
  assert_string_equal(fc_ocpp__code_name(FC_OCPP_PROPERTY_CONSTRAINT_VIOLATION),
                      "PropertyConstraintViolation");
  assert_string_equal(fc_ocpp__code_name(FC_OCPP_OCCURENCE_CONSTRAINT_VIOLATION),
                      "OccurenceConstraintViolation");
  assert_string_equal(fc_ocpp__code_name(FC_OCPP_TYPE_CONSTRAINT_VIOLATION),
                      "TypeConstraintViolation");
  assert_string_equal(fc_ocpp__code_name(FC_OCPP_GENERIC_ERROR), "GenericError");
  assert_string_equal(fc_ocpp__code_name((fc_ocpp_code_t)999), "GenericError");
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(call_ok),      cmocka_unit_test(result_ok),
      cmocka_unit_test(error_ok),     cmocka_unit_test(broken_envelopes),
      cmocka_unit_test(hostile_json), cmocka_unit_test(not_nul_terminated),
      cmocka_unit_test(encode_call),  cmocka_unit_test(encode_result),
      cmocka_unit_test(encode_error), cmocka_unit_test(round_trips),
      cmocka_unit_test(code_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
