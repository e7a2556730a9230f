/* libFuzzer target for the bus's reader of stored events: the start-up
 * replay (fc_bus_load) reads each charger's events back from the store and
 * folds them into the charger model. Input: a JSON array of events
 * ({type, connector, seq, ts, data}); each is read (fc_ev_read), folded
 * (fc_model_apply) and the snapshot serialised (fc_model_json). None may
 * crash, hang or leak on any input. */
#include "bus/bus.h"
#include "core/datetime.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  json_t *arr = json_loadb((const char *)data, size, 0, NULL);
  if (!arr) return 0;
  fc_charger_state_t s;
  fc_model_init(&s, "FUZZ");
  size_t i;
  json_t *e;
  json_array_foreach(arr, i, e)
  {
    const char *name = json_string_value(json_object_get(e, "type"));
    fc_event_type_t type = fc_event_type_parse(name ? name : "");
    long long ts = 0;
    const char *at = json_string_value(json_object_get(e, "ts"));
    if (at) fc_datetime_parse(at, &ts);
    fc_ev_t ev;
    bool typed = fc_ev_read(type, json_object_get(e, "data"), &ev);
    fc_model_apply(&s, type, (int)json_integer_value(json_object_get(e, "connector")),
                   json_integer_value(json_object_get(e, "seq")), ts, typed ? &ev : NULL);
  }
  json_t *snap = fc_model_json(&s);
  json_decref(snap);
  fc_model_cleanup(&s);
  json_decref(arr);
  return 0;
}
