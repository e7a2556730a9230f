/* Validation of OCPP 1.6 payloads against the official-style JSON schemas.
 *
 * fc_ocpp__validate_init() compiles every embedded schema (schemas/ocpp16/,
 * see cmake/embed_schemas.cmake) once into a tree of `node`s: types as a bit
 * set, enum strings, bounds, and an array of properties per object. The
 * compiler refuses keywords it does not know, so a typo in a schema file
 * ("maxlength") fails start-up instead of silently validating nothing.
 *
 * Validation walks the schema, not the payload: for each property the schema
 * names it does one hash lookup in the payload object, and only when the
 * payload holds more keys than it matched does it look for the intruder. No
 * allocation happens on the way; the JSON path for the error message is kept
 * as a small stack of borrowed (name, index) pairs and formatted only when a
 * violation is found. One MeterValues frame therefore costs a few dozen hash
 * lookups and string compares.
 *
 * Decisions:
 *  - "integer" accepts a JSON real with no fractional part (5.0): jansson
 *    keeps it a real, so handlers read integers with fc_ocpp__int_value().
 *  - maxLength counts Unicode code points, as JSON Schema defines it.
 *  - multipleOf allows a relative error of 1e-9 (16.5 / 0.1 is not exactly 165).
 *  - format "date-time" is fc_datetime_valid(); "uri" only requires a scheme.
 *  - The payload must be an object: anything else is a FormationViolation.
 *  - Codes: missing required property → OccurenceConstraintViolation; wrong
 *    JSON type → TypeConstraintViolation; enum, maxLength, minimum, maximum,
 *    multipleOf, format → PropertyConstraintViolation; a property the schema
 *    does not name → FormationViolation (unless FC_VALIDATE_ALLOW_EXTRA). */
#include "ocpp/rpc.h"

#include "core/err.h"
#include "core/json.h"
#include "core/mem.h"

#include <assert.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct fc_schema_src {
  const char *name;
  const char *json;
} fc_ocpp16_schemas[];

enum {
  T_OBJECT = 1u << 0,
  T_ARRAY = 1u << 1,
  T_STRING = 1u << 2,
  T_INTEGER = 1u << 3,
  T_NUMBER = 1u << 4,
  T_BOOLEAN = 1u << 5,
  T_NULL = 1u << 6,
  T_ANY = (1u << 7) - 1,
};

enum {
  F_MIN = 1u << 0,
  F_MAX = 1u << 1,
  F_MULT = 1u << 2,
  F_DATETIME = 1u << 3,
  F_URI = 1u << 4,
  F_NO_EXTRA = 1u << 5,
  F_MAXLEN = 1u << 6,
  F_MINLEN = 1u << 7,
};

/* Deeper than any OCPP 1.6 schema (SetChargingProfile reaches 5). */
#define MAX_DEPTH 12

typedef struct node node;

typedef struct prop {
  const char *name; /* borrowed from the schema's json_t, kept alive in the table */
  node *schema;
  bool required;
} prop;

struct node {
  unsigned types;
  unsigned flags;
  size_t maxlen, minlen;
  double min, max, mult;
  const char **enums; /* borrowed strings; array owned */
  size_t nenum;
  prop *props; /* owned */
  size_t nprops;
  node *items; /* owned; NULL: any item */
};

typedef struct entry {
  char *action; /* owned: the schema's name without "Response" */
  bool response;
  node *root;
  json_t *json; /* owns the strings the nodes borrow */
} entry;

static entry *table;
static size_t ntable;

/* --- compiling schemas ---------------------------------------------------------------------- */

static void node_free(node *n)
{
  if (!n) return;
  for (size_t i = 0; i < n->nprops; i++)
    node_free(n->props[i].schema);
  fc_free(n->props);
  fc_free(n->enums);
  node_free(n->items);
  fc_free(n);
}

static int type_bit(const char *t, unsigned *out)
{
  static const struct {
    const char *name;
    unsigned bit;
  } types[] = {{"object", T_OBJECT},   {"array", T_ARRAY},   {"string", T_STRING},
               {"integer", T_INTEGER}, {"number", T_NUMBER}, {"boolean", T_BOOLEAN},
               {"null", T_NULL}};
  for (size_t i = 0; i < FC_ARRAY_SIZE(types); i++) {
    if (strcmp(t, types[i].name) == 0) {
      *out = types[i].bit;
      return 0;
    }
  }
  return -1;
}

static int size_kw(json_t *v, size_t *out)
{
  if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
  *out = (size_t)json_integer_value(v);
  return 0;
}

static node *compile(json_t *s, int depth, const char *name);

static int compile_props(node *n, json_t *props, json_t *req, int depth, const char *name)
{
  if (!json_is_object(props)) return -1;
  n->nprops = json_object_size(props);
  n->props = fc_calloc(n->nprops ? n->nprops : 1, sizeof(prop));
  size_t i = 0;
  const char *k;
  json_t *v;
  json_object_foreach(props, k, v)
  {
    n->props[i].name = k;
    n->props[i].schema = compile(v, depth + 1, name);
    if (!n->props[i].schema) return -1;
    i++;
  }
  if (req) {
    size_t j;
    json_t *r;
    if (!json_is_array(req)) return -1;
    json_array_foreach(req, j, r)
    {
      bool found = false;
      for (i = 0; i < n->nprops && json_is_string(r); i++) {
        if (strcmp(n->props[i].name, json_string_value(r)) == 0) {
          n->props[i].required = found = true;
          break;
        }
      }
      if (!found) {
        fprintf(stderr, "schema %s: required property not in properties\n", name);
        return -1;
      }
    }
  }
  return 0;
}

/* Compiles one (sub)schema; NULL on anything it does not understand. */
static node *compile(json_t *s, int depth, const char *name)
{
  if (!json_is_object(s) || depth > MAX_DEPTH) return NULL;
  node *n = fc_calloc(1, sizeof(*n));
  n->types = T_ANY;
  json_t *req = NULL, *props = NULL;
  const char *k;
  json_t *v;
  json_object_foreach(s, k, v)
  {
    if (!strcmp(k, "$schema") || !strcmp(k, "id") || !strcmp(k, "title") ||
        !strcmp(k, "description"))
      continue;
    if (!strcmp(k, "type")) {
      unsigned bit;
      if (json_is_string(v)) {
        if (type_bit(json_string_value(v), &bit)) goto fail;
        n->types = bit;
      } else if (json_is_array(v)) {
        size_t i;
        json_t *t;
        n->types = 0;
        json_array_foreach(v, i, t)
        {
          if (!json_is_string(t) || type_bit(json_string_value(t), &bit)) goto fail;
          n->types |= bit;
        }
      } else {
        goto fail;
      }
      /* Every integer is a number. */
      if (n->types & T_NUMBER) n->types |= T_INTEGER;
    } else if (!strcmp(k, "properties")) {
      props = v;
    } else if (!strcmp(k, "required")) {
      req = v;
    } else if (!strcmp(k, "additionalProperties")) {
      if (!json_is_boolean(v)) goto fail; /* schemas as values are not needed */
      if (json_is_false(v)) n->flags |= F_NO_EXTRA;
    } else if (!strcmp(k, "enum")) {
      size_t i;
      json_t *e;
      if (!json_is_array(v) || json_array_size(v) == 0) goto fail;
      n->nenum = json_array_size(v);
      n->enums = fc_calloc(n->nenum, sizeof(char *));
      json_array_foreach(v, i, e)
      {
        if (!json_is_string(e)) goto fail; /* OCPP enums are all strings */
        n->enums[i] = json_string_value(e);
      }
    } else if (!strcmp(k, "maxLength")) {
      if (size_kw(v, &n->maxlen)) goto fail;
      n->flags |= F_MAXLEN;
    } else if (!strcmp(k, "minLength")) {
      if (size_kw(v, &n->minlen)) goto fail;
      n->flags |= F_MINLEN;
    } else if (!strcmp(k, "minimum")) {
      if (!json_is_number(v)) goto fail;
      n->min = json_number_value(v);
      n->flags |= F_MIN;
    } else if (!strcmp(k, "maximum")) {
      if (!json_is_number(v)) goto fail;
      n->max = json_number_value(v);
      n->flags |= F_MAX;
    } else if (!strcmp(k, "multipleOf")) {
      if (!json_is_number(v) || !(json_number_value(v) > 0)) goto fail;
      n->mult = json_number_value(v);
      n->flags |= F_MULT;
    } else if (!strcmp(k, "format")) {
      if (!json_is_string(v)) goto fail;
      if (!strcmp(json_string_value(v), "date-time"))
        n->flags |= F_DATETIME;
      else if (!strcmp(json_string_value(v), "uri"))
        n->flags |= F_URI;
      else
        goto fail;
    } else if (!strcmp(k, "items")) {
      n->items = compile(v, depth + 1, name);
      if (!n->items) goto fail;
    } else {
      fprintf(stderr, "schema %s: unsupported keyword \"%s\"\n", name, k);
      goto fail;
    }
  }
  if (req && !props) goto fail;
  if (props && compile_props(n, props, req, depth, name)) goto fail;
  return n;
fail:
  fprintf(stderr, "schema %s: cannot compile\n", name);
  node_free(n);
  return NULL;
}

static int entry_cmp(const void *a, const void *b)
{
  const entry *x = a, *y = b;
  int c = strcmp(x->action, y->action);
  if (c) return c;
  return (int)x->response - (int)y->response;
}

void fc_ocpp__validate_cleanup(void)
{
  for (size_t i = 0; i < ntable; i++) {
    node_free(table[i].root);
    json_decref(table[i].json);
    fc_free(table[i].action);
  }
  FC_FREE(table);
  ntable = 0;
}

int fc_ocpp__validate_init(void)
{
  static const char suffix[] = "Response";
  const size_t slen = sizeof(suffix) - 1;
  size_t n = 0;
  fc_ocpp__validate_cleanup();
  while (fc_ocpp16_schemas[n].name)
    n++;
  table = fc_calloc(n ? n : 1, sizeof(entry));
  for (size_t i = 0; i < n; i++) {
    const char *name = fc_ocpp16_schemas[i].name;
    json_error_t jerr;
    entry *e = &table[ntable];
    e->json = json_loads(fc_ocpp16_schemas[i].json, JSON_REJECT_DUPLICATES, &jerr);
    if (!e->json) {
      fprintf(stderr, "schema %s: %s (line %d)\n", name, jerr.text, jerr.line);
      goto fail;
    }
    size_t len = strlen(name);
    e->response = len > slen && strcmp(name + len - slen, suffix) == 0;
    e->action = fc_strndup(name, e->response ? len - slen : len);
    ntable++;
    e->root = compile(e->json, 0, name);
    if (!e->root) goto fail;
  }
  qsort(table, ntable, sizeof(entry), entry_cmp);
  return 0;
fail:
  fc_ocpp__validate_cleanup();
  return FC_ERR_CONFIG;
}

/* --- validating ----------------------------------------------------------------------------- */

typedef struct seg {
  const char *name; /* a property name (borrowed), or NULL for an array index */
  size_t index;
} seg;

typedef struct vctx {
  seg path[MAX_DEPTH + 2];
  int depth;
  unsigned flags;
  fc_ocpp_verr_t *err;
} vctx;

/* Appends at most max bytes of s, printable ASCII only: property names can
 * come from the peer, and the description ends up in logs and on the wire. */
static size_t put(char *buf, size_t at, size_t cap, const char *s, size_t max)
{
  size_t i;
  for (i = 0; s[i] && i < max && at + 1 < cap; i++)
    buf[at++] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
  if (s[i] && i == max && at + 3 < cap) {
    memcpy(buf + at, "...", 3);
    at += 3;
  }
  buf[at < cap ? at : cap - 1] = '\0';
  return at;
}

static int verr(vctx *c, fc_ocpp_code_t code, const char *extra_key, const char *fmt, ...)
{
  char *d = c->err->desc;
  const size_t cap = sizeof(c->err->desc);
  size_t at = 0;
  /* Reserve room for the message: the path is what gets cut. */
  const size_t path_cap = cap - 64;
  d[0] = '\0';
  for (int i = 0; i < c->depth && at + 1 < path_cap; i++) {
    if (c->path[i].name) {
      if (at) at = put(d, at, path_cap, ".", 1);
      at = put(d, at, path_cap, c->path[i].name, 48);
    } else {
      char ix[24];
      snprintf(ix, sizeof(ix), "[%zu]", c->path[i].index);
      at = put(d, at, path_cap, ix, sizeof(ix));
    }
  }
  if (extra_key) {
    if (at) at = put(d, at, path_cap, ".", 1);
    at = put(d, at, path_cap, extra_key, 32);
  }
  if (at == 0) at = put(d, at, cap, "payload", 7);
  at = put(d, at, cap, ": ", 2);
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(d + at, cap - at, fmt, ap);
  va_end(ap);
  c->err->code = code;
  return FC_ERR_SCHEMA;
}

static unsigned jtype(const json_t *v)
{
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return T_OBJECT;
  case JSON_ARRAY:
    return T_ARRAY;
  case JSON_STRING:
    return T_STRING;
  case JSON_INTEGER:
    return T_INTEGER | T_NUMBER;
  case JSON_REAL: {
    double d = json_real_value(v);
    /* Integral reals count as integers, within the range of json_int_t. */
    if (d == floor(d) && fabs(d) < 9.2e18) return T_INTEGER | T_NUMBER;
    return T_NUMBER;
  }
  case JSON_TRUE:
  case JSON_FALSE:
    return T_BOOLEAN;
  case JSON_NULL:
    return T_NULL;
  }
  return 0;
}

static const char *type_names(unsigned t)
{
  if (t & T_NUMBER) return "number";
  if (t & T_INTEGER) return "integer";
  if (t & T_STRING) return "string";
  if (t & T_OBJECT) return "object";
  if (t & T_ARRAY) return "array";
  if (t & T_BOOLEAN) return "boolean";
  return "null";
}

static size_t utf8_len(const char *s, size_t bytes)
{
  size_t n = 0;
  for (size_t i = 0; i < bytes; i++)
    n += ((unsigned char)s[i] & 0xc0) != 0x80;
  return n;
}

static bool is_uri(const char *s)
{
  /* scheme ":" ... (RFC 3986 §3.1); enough to catch a missing scheme. */
  if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) return false;
  for (s++; *s && *s != ':'; s++) {
    char ch = *s;
    if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
          ch == '+' || ch == '-' || ch == '.'))
      return false;
  }
  return *s == ':';
}

static int check(vctx *c, const node *n, const json_t *v);

static int check_object(vctx *c, const node *n, const json_t *v)
{
  size_t seen = 0;
  int rc;
  for (size_t i = 0; i < n->nprops; i++) {
    const prop *p = &n->props[i];
    const json_t *child = json_object_get(v, p->name);
    if (!child) {
      if (p->required)
        return verr(c, FC_OCPP_OCCURENCE_CONSTRAINT_VIOLATION, p->name,
                    "required property missing");
      continue;
    }
    seen++;
    c->path[c->depth++] = (seg){p->name, 0};
    rc = check(c, p->schema, child);
    c->depth--;
    if (rc) return rc;
  }
  if ((n->flags & F_NO_EXTRA) && !(c->flags & FC_VALIDATE_ALLOW_EXTRA) &&
      json_object_size(v) != seen) {
    const char *k;
    json_t *x;
    json_object_foreach((json_t *)v, k, x)
    {
      bool known = false;
      for (size_t i = 0; i < n->nprops && !known; i++)
        known = strcmp(k, n->props[i].name) == 0;
      if (!known) return verr(c, FC_OCPP_FORMATION_VIOLATION, k, "property not allowed");
    }
  }
  return 0;
}

static int check(vctx *c, const node *n, const json_t *v)
{
  unsigned t = jtype(v);
  if (!(t & n->types)) {
    return verr(c, FC_OCPP_TYPE_CONSTRAINT_VIOLATION, NULL, "expected %s",
                (n->types & T_INTEGER) && !(n->types & T_NUMBER) ? "integer"
                                                                 : type_names(n->types));
  }
  switch (json_typeof(v)) {
  case JSON_OBJECT:
    return check_object(c, n, v);
  case JSON_ARRAY:
    if (n->items) {
      size_t i;
      json_t *e;
      json_array_foreach((json_t *)v, i, e)
      {
        c->path[c->depth++] = (seg){NULL, i};
        int rc = check(c, n->items, e);
        c->depth--;
        if (rc) return rc;
      }
    }
    return 0;
  case JSON_STRING: {
    const char *s = json_string_value(v);
    size_t bytes = json_string_length(v);
    if (n->nenum) {
      size_t i;
      for (i = 0; i < n->nenum; i++)
        if (strcmp(s, n->enums[i]) == 0) break;
      if (i == n->nenum)
        return verr(c, FC_OCPP_PROPERTY_CONSTRAINT_VIOLATION, NULL,
                    "not one of the allowed values");
    }
    /* Code points never outnumber bytes: count them only when it matters. */
    if ((n->flags & F_MAXLEN) && bytes > n->maxlen && utf8_len(s, bytes) > n->maxlen)
      return verr(c, FC_OCPP_PROPERTY_CONSTRAINT_VIOLATION, NULL, "longer than %zu characters",
                  n->maxlen);
    if ((n->flags & F_MINLEN) && utf8_len(s, bytes) < n->minlen)
      return verr(c, FC_OCPP_PROPERTY_CONSTRAINT_VIOLATION, NULL, "shorter than %zu characters",
                  n->minlen);
    if ((n->flags & F_DATETIME) && !fc_datetime_valid(s))
      return verr(c, FC_OCPP_PROPERTY_CONSTRAINT_VIOLATION, NULL, "not an RFC 3339 date-time");
    if ((n->flags & F_URI) && !is_uri(s))
      return verr(c, FC_OCPP_PROPERTY_CONSTRAINT_VIOLATION, NULL, "not a URI");
    return 0;
  }
  case JSON_INTEGER:
  case JSON_REAL: {
    double d = json_number_value(v);
    if ((n->flags & F_MIN) && d < n->min)
      return verr(c, FC_OCPP_PROPERTY_CONSTRAINT_VIOLATION, NULL, "less than %g", n->min);
    if ((n->flags & F_MAX) && d > n->max)
      return verr(c, FC_OCPP_PROPERTY_CONSTRAINT_VIOLATION, NULL, "greater than %g", n->max);
    if (n->flags & F_MULT) {
      double q = d / n->mult;
      if (!isfinite(q) || fabs(q - nearbyint(q)) > 1e-9 * fmax(1.0, fabs(q)))
        return verr(c, FC_OCPP_PROPERTY_CONSTRAINT_VIOLATION, NULL, "not a multiple of %g",
                    n->mult);
    }
    return 0;
  }
  default:
    return 0;
  }
}

static const entry *lookup(const char *action, bool response)
{
  entry key = {.action = (char *)action, .response = response};
  return bsearch(&key, table, ntable, sizeof(entry), entry_cmp);
}

int fc_ocpp__validate(const char *action, bool response, const json_t *payload, unsigned flags,
                      fc_ocpp_verr_t *err)
{
  assert(table && "fc_ocpp__validate_init() not called");
  err->code = FC_OCPP_OK;
  err->desc[0] = '\0';
  const entry *e = action ? lookup(action, response) : NULL;
  if (!e) {
    err->code = FC_OCPP_NOT_IMPLEMENTED;
    snprintf(err->desc, sizeof(err->desc), "unknown action");
    return FC_ERR_NOTIMPL;
  }
  vctx c = {.depth = 0, .flags = flags, .err = err};
  if (!json_is_object(payload))
    return verr(&c, FC_OCPP_FORMATION_VIOLATION, NULL, "not a JSON object");
  return check(&c, e->root, payload);
}

bool fc_ocpp__int_value(const json_t *v, long long *out)
{
  return fc_json_int_value(v, out);
}
