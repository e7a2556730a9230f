/* The OCPP-J envelope: [2,id,action,payload], [3,id,payload],
 * [4,id,code,desc,details].
 *
 * Parsing is strict about shape and lenient about nothing else: the element
 * count must be exact, the uniqueId a string of 1..36 bytes (opaque: chargers
 * send UUID-shaped ids that are not valid UUIDs), a CALL's payload an object.
 * JSON with duplicate keys or NUL characters in strings is refused, as jansson's
 * json_loadb(JSON_REJECT_DUPLICATES) would (core/json_parse.c).
 *
 * Error codes (OCPP-J 1.6 has no dedicated "bad RPC frame" code):
 *  - FormationViolation for everything structural: not JSON, not an array,
 *    wrong element count, an element of the wrong JSON type (the message type
 *    id included: a "2" string is a malformed frame, not another protocol);
 *  - ProtocolError only for a well-formed integer message type id that is not
 *    2, 3 or 4: the frame is syntactically fine but names a message type this
 *    protocol does not have (what OCPP 2.0.1 calls MessageTypeNotSupported).
 * The id is read before anything after it is checked, so that a CALL with a
 * broken action or payload can still be answered under its own id.
 *
 * A CALLRESULT payload may be any JSON value here; validation against the
 * action's response schema is what refuses a non-object. */
#include "ocpp/rpc.h"

#include "core/err.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/utf8.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ID_MAX 36

static const char *const code_names[] = {
#define XX(name, str) str,
    FC_OCPP_CODE_MAP(XX)
#undef XX
};

const char *fc_ocpp__code_name(fc_ocpp_code_t code)
{
  if ((unsigned)code >= FC_ARRAY_SIZE(code_names)) return "GenericError";
  return code_names[code];
}

static int fail(fc_ocpp_verr_t *err, fc_ocpp_code_t code, const char *fmt, ...)
{
  va_list ap;
  err->code = code;
  va_start(ap, fmt);
  vsnprintf(err->desc, sizeof(err->desc), fmt, ap);
  va_end(ap);
  return FC_ERR_PROTO;
}

int fc_ocpp__frame_parse(const char *buf, size_t len, fc_frame_t *f, const char **id_out,
                         fc_ocpp_verr_t *err)
{
  fc_json_error_t jerr;
  memset(f, 0, sizeof(*f));
  *id_out = NULL;
  err->code = FC_OCPP_OK;
  err->desc[0] = '\0';

  /* json_loadb's acceptance, faster (core/json_parse.c); its texts never
   * quote peer bytes. */
  f->root = fc_json_parse(buf, len, &jerr);
  if (!f->root)
    return fail(err, FC_OCPP_FORMATION_VIOLATION, "invalid JSON at byte %zu: %s", jerr.position,
                jerr.text);
  json_t *a = f->root;
  if (!json_is_array(a)) return fail(err, FC_OCPP_FORMATION_VIOLATION, "frame is not an array");
  size_t n = json_array_size(a);
  if (n < 2) return fail(err, FC_OCPP_FORMATION_VIOLATION, "frame has %zu elements", n);

  json_t *jid = json_array_get(a, 1);
  if (!json_is_string(jid))
    return fail(err, FC_OCPP_FORMATION_VIOLATION, "uniqueId is not a string");
  size_t idlen = json_string_length(jid);
  if (idlen < 1 || idlen > ID_MAX)
    return fail(err, FC_OCPP_FORMATION_VIOLATION, "uniqueId length %zu not in 1..%d", idlen,
                ID_MAX);
  f->id = json_string_value(jid);
  *id_out = f->id;

  json_t *jtype = json_array_get(a, 0);
  if (!json_is_integer(jtype))
    return fail(err, FC_OCPP_FORMATION_VIOLATION, "message type id is not an integer");
  json_int_t type = json_integer_value(jtype);

  switch (type) {
  case FC_MSG_CALL: {
    if (n != 4) return fail(err, FC_OCPP_FORMATION_VIOLATION, "CALL has %zu elements, not 4", n);
    json_t *act = json_array_get(a, 2), *pl = json_array_get(a, 3);
    if (!json_is_string(act) || json_string_length(act) == 0)
      return fail(err, FC_OCPP_FORMATION_VIOLATION, "action is not a non-empty string");
    if (!json_is_object(pl))
      return fail(err, FC_OCPP_FORMATION_VIOLATION, "CALL payload is not an object");
    f->action = json_string_value(act);
    f->payload = pl;
    break;
  }
  case FC_MSG_RESULT:
    if (n != 3)
      return fail(err, FC_OCPP_FORMATION_VIOLATION, "CALLRESULT has %zu elements, not 3", n);
    f->payload = json_array_get(a, 2);
    break;
  case FC_MSG_ERROR: {
    if (n != 5)
      return fail(err, FC_OCPP_FORMATION_VIOLATION, "CALLERROR has %zu elements, not 5", n);
    json_t *code = json_array_get(a, 2), *desc = json_array_get(a, 3), *det = json_array_get(a, 4);
    if (!json_is_string(code))
      return fail(err, FC_OCPP_FORMATION_VIOLATION, "errorCode is not a string");
    if (!json_is_string(desc))
      return fail(err, FC_OCPP_FORMATION_VIOLATION, "errorDescription is not a string");
    if (!json_is_object(det))
      return fail(err, FC_OCPP_FORMATION_VIOLATION, "errorDetails is not an object");
    f->err_code = json_string_value(code);
    f->err_desc = json_string_value(desc);
    f->err_details = det;
    break;
  }
  default:
    return fail(err, FC_OCPP_PROTOCOL_ERROR, "unknown message type id %lld", (long long)type);
  }
  f->type = (fc_msg_type_t)type;
  return 0;
}

void fc_ocpp__frame_cleanup(fc_frame_t *f)
{
  if (!f) return;
  json_decref(f->root);
  memset(f, 0, sizeof(*f));
}

/* Strings we put on the wire must be valid UTF-8 or jansson refuses them. A
 * description may hold a peer's bytes cut at a buffer's end: replace what is
 * not valid UTF-8 rather than fail. */
static json_t *str_lossy(const char *s)
{
  json_t *j = json_string(s ? s : "");
  if (j) return j;
  size_t n = strlen(s);
  char *c = malloc(n + 1);
  if (!c) abort();
  const unsigned char *p = (const unsigned char *)s, *end = p + n;
  size_t i = 0;
  while (p < end) {
    size_t len = *p < 0x80 ? 1 : fc_utf8_len(p, end);
    if (!len) {
      c[i++] = '?';
      p++;
      continue;
    }
    memcpy(c + i, p, len);
    i += len;
    p += len;
  }
  c[i] = '\0';
  j = json_string(c);
  free(c);
  if (!j) abort();
  return j;
}

static void push(json_t *a, json_t *v)
{
  if (!v || json_array_append_new(a, v) != 0) abort(); /* out of memory */
}

static char *dump(json_t *arr, size_t *len)
{
  if (!arr) abort();
  char *s = json_dumps(arr, JSON_COMPACT);
  json_decref(arr);
  if (!s) abort(); /* out of memory: nothing else makes a valid frame undumpable */
  if (len) *len = strlen(s);
  return s;
}

static json_t *obj_or_empty(json_t *o)
{
  return o ? json_incref(o) : json_object();
}

char *fc_ocpp__encode_call(const char *id, const char *action, json_t *payload, size_t *len)
{
  assert(id && action);
  json_t *a = json_array();
  push(a, json_integer(FC_MSG_CALL));
  push(a, str_lossy(id));
  push(a, str_lossy(action));
  push(a, obj_or_empty(payload));
  return dump(a, len);
}

/* True when id can be written between quotes as it is: printable ASCII
 * without '"' or '\\', which is what chargers send (the general path escapes
 * and replaces invalid UTF-8). */
static bool plain_id(const char *id, size_t *n)
{
  const char *p = id;
  for (; *p; p++)
    if (*p < 0x20 || *p > 0x7e || *p == '"' || *p == '\\') return false;
  *n = (size_t)(p - id);
  return true;
}

/* Every accepted call gets a CALLRESULT, so this is on the path of every
 * message: with a plain id it is written directly, the payload dumped on its
 * own, byte for byte what dumping the whole array gives (JSON_COMPACT). */
char *fc_ocpp__encode_result(const char *id, json_t *payload, size_t *len)
{
  assert(id);
  size_t idn;
  if (plain_id(id, &idn)) {
    char *body = NULL;
    if (payload && !(json_is_object(payload) && json_object_size(payload) == 0)) {
      body = json_dumps(payload, JSON_COMPACT | JSON_ENCODE_ANY);
      if (!body) abort(); /* out of memory */
    }
    size_t bn = body ? strlen(body) : 2;
    char *s = fc_malloc(4 + idn + 2 + bn + 2);
    char *e = s;
    memcpy(e, "[3,\"", 4), e += 4;
    memcpy(e, id, idn), e += idn;
    memcpy(e, "\",", 2), e += 2;
    memcpy(e, body ? body : "{}", bn), e += bn;
    *e++ = ']';
    *e = '\0';
    free(body);
    if (len) *len = (size_t)(e - s);
    return s;
  }
  json_t *a = json_array();
  push(a, json_integer(FC_MSG_RESULT));
  push(a, str_lossy(id));
  push(a, obj_or_empty(payload));
  return dump(a, len);
}

char *fc_ocpp__encode_error(const char *id, fc_ocpp_code_t code, const char *desc, json_t *details,
                            size_t *len)
{
  assert(id);
  if (code == FC_OCPP_OK) code = FC_OCPP_GENERIC_ERROR; /* a CALLERROR always names a code */
  json_t *a = json_array();
  push(a, json_integer(FC_MSG_ERROR));
  push(a, str_lossy(id));
  push(a, json_string(fc_ocpp__code_name(code)));
  push(a, str_lossy(desc ? desc : ""));
  push(a, obj_or_empty(details));
  return dump(a, len);
}

/* --- secrets in the frame log ---------------------------------------------------------------- */

static const char *const secret_keys[] = {"AuthorizationKey", "BasicAuthPassword"};

static bool is_secret_key(const json_t *k)
{
  const char *s = json_string_value(k);
  for (size_t i = 0; s && i < FC_ARRAY_SIZE(secret_keys); i++)
    if (!strcasecmp(s, secret_keys[i])) return true;
  return false;
}

/* Does text name a secret key (any case), or hold a \u escape that could
 * spell one? */
static bool may_name_secret(const char *text, size_t len, bool *named)
{
  bool esc = false;
  *named = false;
  for (size_t i = 0; i < len; i++) {
    char ch = text[i];
    if (ch == '\\' && i + 1 < len && text[i + 1] == 'u') esc = true;
    if (ch != 'a' && ch != 'A' && ch != 'b' && ch != 'B') continue;
    for (size_t k = 0; k < FC_ARRAY_SIZE(secret_keys); k++) {
      size_t n = strlen(secret_keys[k]);
      if (n <= len - i && !strncasecmp(text + i, secret_keys[k], n)) {
        *named = true;
        return true;
      }
    }
  }
  return esc;
}

/* {key, value} with a secret key and a value: value null, masked true. */
static bool mask_entry(json_t *kv, const char *key_name)
{
  if (!json_is_object(kv) || !is_secret_key(json_object_get(kv, key_name)) ||
      !json_object_get(kv, "value") || json_is_null(json_object_get(kv, "value")))
    return false;
  json_object_set_new(kv, "value", json_null());
  json_object_set_new(kv, "masked", json_true());
  return true;
}

char *fc_ocpp__frame_mask(const char *text, size_t len, size_t *out_len)
{
  bool named;
  if (!may_name_secret(text, len, &named)) return NULL;
  fc_json_error_t jerr;
  json_t *root = fc_json_parse(text, len, &jerr);
  if (!root) {
    if (!named) return NULL;
    char *w = strdup(FC_FRAME_WITHHELD);
    if (!w) abort(); /* out of memory */
    *out_len = strlen(w);
    return w;
  }
  bool changed = false;
  json_t *type = json_array_get(root, 0);
  if (json_is_integer(type) && json_integer_value(type) == FC_MSG_CALL &&
      json_is_string(json_array_get(root, 2)) &&
      !strcmp(json_string_value(json_array_get(root, 2)), "ChangeConfiguration")) {
    changed = mask_entry(json_array_get(root, 3), "key");
  } else if (json_is_integer(type) && json_integer_value(type) == FC_MSG_RESULT) {
    size_t i;
    json_t *kv;
    json_array_foreach(json_object_get(json_array_get(root, 2), "configurationKey"), i, kv)
    {
      if (mask_entry(kv, "key")) changed = true;
    }
  }
  char *out = NULL;
  if (changed) {
    out = json_dumps(root, JSON_COMPACT);
    if (!out) abort(); /* out of memory */
    *out_len = strlen(out);
  }
  json_decref(root);
  return out;
}
