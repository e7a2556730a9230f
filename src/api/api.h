/* The web side's HTTP endpoints: /healthz and /metrics now; the REST API and
 * the UI WebSocket build on it. */
#ifndef FC_API_H
#define FC_API_H

#include "ocpp/ocpp.h"
#include "store/store.h"

typedef struct fc_api fc_api_t;

/* store and ocpp are borrowed and outlive the api. Caller frees. */
fc_api_t *fc_api_new(fc_store_t *store, fc_ocpp_t *ocpp);
void fc_api_free(fc_api_t *a);

#endif
