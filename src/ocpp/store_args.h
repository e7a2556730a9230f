/* The store's typed operations (store/store.h) from validated OCPP payloads
 * (store_args.c): what the handlers fill their ops with, so that a payload
 * is read once, on the loop thread, and the store's backends only bind
 * fields. Strings in the results are borrowed from the payload: build the op
 * (fc_write_*, which copies them) while it lives. now: the arrival time,
 * for a date that is absent or does not parse. */
#ifndef FC_OCPP_STORE_ARGS_H
#define FC_OCPP_STORE_ARGS_H

#include "store/store.h"

#include <jansson.h>

/* A string member, or NULL; an integer member (12.0 too), or 0; a date
 * member in ms, or fallback. */
const char *fc_ocpp__str_of(const json_t *o, const char *key);
long long fc_ocpp__int_of(const json_t *o, const char *key);
long long fc_ocpp__ms_of(const json_t *o, const char *key, long long fallback);

/* The readings of meter_values[first .. first + count) (count SIZE_MAX: to
 * the end), each with its timestamp (or fallback_ms), OCPP's defaults
 * applied to the sampled values (fc_op_sampled_of). Free with
 * fc_ocpp__readings_free. */
fc_op_readings_t fc_ocpp__readings(const json_t *meter_values, size_t first, size_t count,
                                   long long fallback_ms);
void fc_ocpp__readings_free(fc_op_readings_t *rs);

/* BootNotification; registration: the status we answer. */
fc_op_boot_t fc_ocpp__boot_args(const json_t *p, const char *registration);
/* StatusNotification. */
fc_op_status_t fc_ocpp__status_args(const json_t *p, long long now);
/* StartTransaction; id_tag_status: the idTagInfo status we answer. */
fc_op_tx_start_t fc_ocpp__tx_start_args(const json_t *p, const char *id_tag_status, long long now);
/* StopTransaction, without the cost (the handler's, when it knew the
 * transaction); transaction_data to free with fc_ocpp__readings_free. */
fc_op_tx_stop_t fc_ocpp__tx_stop_args(const json_t *p, long long now);
/* DataTransfer; status: what we answer. A data member that is not a string
 * is given as its JSON text, in *dumped (caller frees with free()). */
fc_op_data_transfer_t fc_ocpp__data_transfer_args(const json_t *p, const char *status,
                                                  char **dumped);

#endif
