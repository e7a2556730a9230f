/* The store's typed operations (store/store.h) from validated payloads: the
 * small helpers the handlers fill their ops with, so that each payload is
 * read once, here, and the store's backends only bind fields.
 *
 * A member that the schema allows to be absent comes out NULL (strings) or 0
 * (numbers); a date that does not parse comes out as the fallback given
 * (the arrival time). MeterValues' sampled values get OCPP 1.6's defaults
 * (fc_op_sampled_of), as store.h asks. */
#include "ocpp/ocpp_int.h"

#include "core/datetime.h"

#include <stdlib.h>
#include <string.h>

const char *fc_ocpp__str_of(const json_t *o, const char *key)
{
  json_t *v = json_object_get(o, key);
  return json_is_string(v) ? json_string_value(v) : NULL;
}

long long fc_ocpp__int_of(const json_t *o, const char *key)
{
  long long n = 0;
  return fc_ocpp__int_value(json_object_get(o, key), &n) ? n : 0;
}

long long fc_ocpp__ms_of(const json_t *o, const char *key, long long fallback)
{
  long long ms;
  const char *s = fc_ocpp__str_of(o, key);
  return s && fc_datetime_parse(s, &ms) == 0 ? ms : fallback;
}

fc_op_readings_t fc_ocpp__readings(const json_t *meter_values, size_t first, size_t count,
                                   long long fallback_ms)
{
  fc_op_readings_t rs = {0};
  size_t size = json_array_size(meter_values), nsv = 0, n, i, j;
  json_t *sv;
  if (first >= size) return rs;
  n = count < size - first ? count : size - first;
  for (i = 0; i < n; i++)
    nsv +=
        json_array_size(json_object_get(json_array_get(meter_values, first + i), "sampledValue"));
  /* the readings, then all their sampled values, in one allocation */
  fc_op_reading_t *v = fc_malloc(n * sizeof(*v) + nsv * sizeof(fc_op_sampled_t));
  fc_op_sampled_t *s = (fc_op_sampled_t *)(void *)(v + n);
  for (i = 0; i < n; i++) {
    json_t *mv = json_array_get(meter_values, first + i);
    json_t *svs = json_object_get(mv, "sampledValue");
    v[i] = (fc_op_reading_t){.ts_ms = fc_ocpp__ms_of(mv, "timestamp", fallback_ms),
                             .n = json_array_size(svs),
                             .sampled = s};
    json_array_foreach(svs, j, sv)
    {
      fc_op_sampled_of(sv, s++);
    }
  }
  rs.n = n;
  rs.v = v;
  return rs;
}

void fc_ocpp__readings_free(fc_op_readings_t *rs)
{
  fc_free((void *)rs->v);
  rs->v = NULL;
  rs->n = 0;
}
