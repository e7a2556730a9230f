/* Events: the type table, construction and reference counting. */
#include "bus/bus.h"

#include "core/datetime.h"
#include "core/json.h"
#include "core/mem.h"
#include "core/time.h"

#include <stdlib.h>
#include <string.h>

static const char *const names[FC_EV__COUNT] = {[FC_EV_NONE] = "",
#define XX(name, str, state) [FC_EV_##name] = str,
                                                FC_EVENT_TYPE_MAP(XX)
#undef XX
};

static const bool state_types[FC_EV__COUNT] = {
#define XX(name, str, state) [FC_EV_##name] = state,
    FC_EVENT_TYPE_MAP(XX)
#undef XX
};

const char *fc_event_type_name(fc_event_type_t t)
{
  return t > FC_EV_NONE && t < FC_EV__COUNT ? names[t] : "";
}

fc_event_type_t fc_event_type_parse(const char *name)
{
  for (int t = FC_EV_NONE + 1; t < FC_EV__COUNT; t++)
    if (!strcmp(names[t], name)) return (fc_event_type_t)t;
  return FC_EV_NONE;
}

bool fc_event_type_is_state(fc_event_type_t t)
{
  return t > FC_EV_NONE && t < FC_EV__COUNT && state_types[t];
}

fc_event_t *fc_event_new(fc_event_type_t type, const char *charger, int connector, int64_t seq,
                         const char *json, size_t len)
{
  fc_event_t *e = fc_malloc(sizeof(*e) + len + 1);
  e->refs = 1;
  e->type = type;
  e->connector = connector;
  e->seq = seq;
  snprintf(e->charger, sizeof(e->charger), "%s", charger ? charger : "");
  e->ext = NULL;
  e->ext_free = NULL;
  e->len = len;
  memcpy(e->json, json, len);
  e->json[len] = '\0';
  return e;
}

fc_event_t *fc_event_make(fc_event_type_t type, const char *charger, int64_t seq, json_t *data)
{
  char ts[32];
  fc_datetime_format(fc_wall_ms(), ts, sizeof(ts));
  json_t *o = json_pack("{s:s, s:s, s:i, s:I, s:s, s:o}", "type", fc_event_type_name(type),
                        "charger", charger ? charger : "", "connector", 0, "seq", (json_int_t)seq,
                        "ts", ts, "data", data ? data : json_object());
  char *text = json_dumps(o, FC_JSON_DUMP);
  json_decref(o);
  fc_event_t *e = fc_event_new(type, charger, 0, seq, text, strlen(text));
  free(text);
  return e;
}

fc_event_t *fc_event_from_json(const char *json, size_t len)
{
  json_t *root = json_loadb(json, len, 0, NULL);
  fc_event_t *e = NULL;
  const char *type = NULL, *charger = NULL;
  json_int_t connector = 0, seq = 0;
  if (root && json_unpack(root, "{s:s, s:s, s?:I, s?:I}", "type", &type, "charger", &charger,
                          "connector", &connector, "seq", &seq) == 0) {
    fc_event_type_t t = fc_event_type_parse(type);
    if (t != FC_EV_NONE) e = fc_event_new(t, charger, (int)connector, seq, json, len);
  }
  json_decref(root);
  return e;
}

void fc_event_unref(fc_event_t *e)
{
  if (e && --e->refs == 0) {
    if (e->ext_free) e->ext_free(e->ext);
    fc_free(e);
  }
}

fc_op_t *fc_bus_add(fc_write_t *w, fc_event_type_t type, const char *charger, int connector,
                    json_t *data, long long ts_ms, bool late)
{
  const char *name = fc_event_type_name(type);
  if (!data) data = json_object();
  if (late) json_object_set_new(data, "late", json_true());
  /* "transactionId": null asks for the id of the write's new transaction */
  fc_op_t *op = fc_write_event(
      w, charger,
      &(fc_op_event_t){.type = name,
                       .connector = connector,
                       .ts_ms = ts_ms,
                       .late = late,
                       .take_tx_id = json_is_null(json_object_get(data, "transactionId")),
                       .data = data});
  json_decref(data); /* the op holds its own reference */
  return op;
}
