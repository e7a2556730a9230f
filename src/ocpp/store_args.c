/* The store's typed operations from validated payloads (store_args.h).
 *
 * A member that the schema allows to be absent comes out NULL (strings) or 0
 * (numbers); a date that does not parse comes out as the fallback given
 * (the arrival time). MeterValues' sampled values get OCPP 1.6's defaults
 * (fc_op_sampled_of), as store.h asks. */
#include "ocpp/store_args.h"

#include "core/datetime.h"
#include "core/json.h"
#include "core/mem.h"
#include "ocpp/ocpp_int.h"

#include <stdint.h>
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

fc_op_boot_t fc_ocpp__boot_args(const json_t *p, const char *registration)
{
  return (fc_op_boot_t){
      .registration = registration,
      .vendor = fc_ocpp__str_of(p, "chargePointVendor"),
      .model = fc_ocpp__str_of(p, "chargePointModel"),
      .serial_number = fc_ocpp__str_of(p, "chargePointSerialNumber"),
      .charge_box_serial = fc_ocpp__str_of(p, "chargeBoxSerialNumber"),
      .firmware_version = fc_ocpp__str_of(p, "firmwareVersion"),
      .iccid = fc_ocpp__str_of(p, "iccid"),
      .imsi = fc_ocpp__str_of(p, "imsi"),
      .meter_type = fc_ocpp__str_of(p, "meterType"),
      .meter_serial = fc_ocpp__str_of(p, "meterSerialNumber"),
  };
}

fc_op_status_t fc_ocpp__status_args(const json_t *p, long long now)
{
  return (fc_op_status_t){
      .connector = (int)fc_ocpp__int_of(p, "connectorId"),
      .status = fc_ocpp__str_of(p, "status"),
      .error_code = fc_ocpp__str_of(p, "errorCode"),
      .info = fc_ocpp__str_of(p, "info"),
      .vendor_id = fc_ocpp__str_of(p, "vendorId"),
      .vendor_error_code = fc_ocpp__str_of(p, "vendorErrorCode"),
      .at_ms = fc_ocpp__ms_of(p, "timestamp", now),
      /* only a notification with its own time stamp can be told a repeat */
      .has_ts = fc_ocpp__str_of(p, "timestamp") != NULL,
  };
}

fc_op_tx_start_t fc_ocpp__tx_start_args(const json_t *p, const char *id_tag_status, long long now)
{
  return (fc_op_tx_start_t){
      .connector = (int)fc_ocpp__int_of(p, "connectorId"),
      .id_tag = fc_ocpp__str_of(p, "idTag"),
      .id_tag_status = id_tag_status,
      .at_ms = fc_ocpp__ms_of(p, "timestamp", now),
      .meter_start = fc_ocpp__int_of(p, "meterStart"),
      .has_reservation = json_object_get(p, "reservationId") != NULL,
      .reservation_id = fc_ocpp__int_of(p, "reservationId"),
  };
}

fc_op_tx_stop_t fc_ocpp__tx_stop_args(const json_t *p, long long now)
{
  return (fc_op_tx_stop_t){
      .tx_id = fc_ocpp__int_of(p, "transactionId"),
      .at_ms = fc_ocpp__ms_of(p, "timestamp", now),
      .meter_stop = fc_ocpp__int_of(p, "meterStop"),
      .reason = fc_ocpp__str_of(p, "reason"),
      .id_tag = fc_ocpp__str_of(p, "idTag"),
      .transaction_data =
          fc_ocpp__readings(json_object_get(p, "transactionData"), 0, SIZE_MAX, now),
  };
}

fc_op_data_transfer_t fc_ocpp__data_transfer_args(const json_t *p, const char *status,
                                                  char **dumped)
{
  /* data as it came: a string, or a bare object (accepted too) as JSON text */
  json_t *d = json_object_get(p, "data");
  *dumped = d && !json_is_string(d) ? json_dumps(d, FC_JSON_DUMP | JSON_ENCODE_ANY) : NULL;
  return (fc_op_data_transfer_t){.vendor_id = fc_ocpp__str_of(p, "vendorId"),
                                 .message_id = fc_ocpp__str_of(p, "messageId"),
                                 .data = *dumped ? *dumped : fc_ocpp__str_of(p, "data"),
                                 .status = status};
}
