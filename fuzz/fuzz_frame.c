/* libFuzzer target for the OCPP-J codec, the schema validator and the
 * date-time parser: whatever bytes a charger sends, parsing, validating,
 * answering and cleaning up must neither crash nor leak, and what we encode
 * must parse back to the same frame.
 *
 * Run: make fuzz (see the Makefile), or
 *   ./build-fuzz/fuzz_frame -dict=fuzz/ocpp.dict fuzz/corpus/frame */
#include <stdint.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/err.h"
#include "ocpp/rpc.h"

/* The embedded schema table (cmake/embed_schemas.cmake): every action has
 * <Action> and <Action>Response; the requests' names are the actions. */
extern const struct fc_schema_src {
  const char *name;
  const char *json;
} fc_ocpp16_schemas[];

static bool is_response(const char *name)
{
  size_t n = strlen(name);
  return n > 8 && !strcmp(name + n - 8, "Response");
}

#define CHECK(cond)                                                                                \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "invariant failed: %s (%s:%d)\n", #cond, __FILE__, __LINE__);                \
      abort();                                                                                     \
    }                                                                                              \
  } while (0)

static void validate(const char *action, bool response, const json_t *payload)
{
  fc_ocpp_verr_t err;
  for (unsigned flags = 0; flags <= FC_VALIDATE_ALLOW_EXTRA; flags++) {
    int rc = fc_ocpp__validate(action, response, payload, flags, &err);
    CHECK(rc == 0 || rc == FC_ERR_SCHEMA || rc == FC_ERR_NOTIMPL);
    CHECK(memchr(err.desc, '\0', sizeof(err.desc)) != NULL);
    CHECK((rc == 0) == (err.code == FC_OCPP_OK));
  }
}

static void validate_all(const json_t *payload)
{
  for (const struct fc_schema_src *sc = fc_ocpp16_schemas; sc->name; sc++) {
    if (is_response(sc->name)) continue;
    validate(sc->name, false, payload);
    validate(sc->name, true, payload);
  }
}

/* Encoding a parsed frame and parsing it again gives the same frame. */
static void reparse(const char *s, size_t len, const fc_frame_t *orig)
{
  fc_frame_t f;
  const char *id;
  fc_ocpp_verr_t err;
  CHECK(len == strlen(s));
  CHECK(fc_ocpp__frame_parse(s, len, &f, &id, &err) == 0);
  CHECK(f.type == orig->type);
  CHECK(strcmp(f.id, orig->id) == 0);
  if (orig->action) CHECK(strcmp(f.action, orig->action) == 0);
  if (orig->payload) CHECK(json_equal(f.payload, orig->payload));
  fc_ocpp__frame_cleanup(&f);
}

static void datetime(const uint8_t *data, size_t size)
{
  char s[64];
  long long ms, ms2;
  if (size >= sizeof(s)) return;
  memcpy(s, data, size);
  s[size] = '\0';
  if (fc_datetime_parse(s, &ms) != 0) {
    CHECK(!fc_datetime_valid(s));
    return;
  }
  CHECK(fc_datetime_valid(s));
  char out[40];
  fc_datetime_format(ms, out, sizeof(out));
  /* Inside years 0000..9999 the canonical form parses back to the same ms. */
  if (ms >= -62167219200000LL && ms <= 253402300799999LL) {
    CHECK(fc_datetime_parse(out, &ms2) == 0);
    CHECK(ms2 == ms);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static int ready;
  if (!ready) {
    if (fc_ocpp__validate_init() != 0) abort();
    ready = 1;
  }

  datetime(data, size);

  fc_frame_t f;
  const char *id;
  fc_ocpp_verr_t err;
  size_t len;
  char *s;
  int rc = fc_ocpp__frame_parse((const char *)data, size, &f, &id, &err);
  CHECK(memchr(err.desc, '\0', sizeof(err.desc)) != NULL);
  if (rc != 0) {
    CHECK(rc == FC_ERR_PROTO);
    CHECK(err.code == FC_OCPP_FORMATION_VIOLATION || err.code == FC_OCPP_PROTOCOL_ERROR);
    /* What the server answers: a CALLERROR under the id, or "-1". */
    s = fc_ocpp__encode_error(id ? id : "-1", err.code, err.desc, NULL, &len);
    fc_frame_t g = {.type = FC_MSG_ERROR, .id = id ? id : "-1"};
    reparse(s, len, &g);
    free(s);
    fc_ocpp__frame_cleanup(&f);
    return 0;
  }

  switch (f.type) {
  case FC_MSG_CALL:
    CHECK(f.action && json_is_object(f.payload));
    validate(f.action, false, f.payload);
    validate(f.action, true, f.payload);
    /* Mutating an action name into another one is slow going for the
     * fuzzer: try the payload against every schema. */
    validate_all(f.payload);
    s = fc_ocpp__encode_call(f.id, f.action, f.payload, &len);
    reparse(s, len, &f);
    free(s);
    s = fc_ocpp__encode_result(f.id, f.payload, &len);
    free(s);
    break;
  case FC_MSG_RESULT:
    /* The pending call's action is unknown here: try them all. */
    validate_all(f.payload);
    s = fc_ocpp__encode_result(f.id, f.payload, &len);
    reparse(s, len, &f);
    free(s);
    break;
  case FC_MSG_ERROR:
    CHECK(f.err_code && f.err_desc && json_is_object(f.err_details));
    s = fc_ocpp__encode_error(f.id, (fc_ocpp_code_t)(size % 12), f.err_desc, f.err_details, &len);
    reparse(s, len, &f);
    free(s);
    break;
  }
  fc_ocpp__frame_cleanup(&f);
  return 0;
}
