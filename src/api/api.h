/* The web port's HTTP side: /healthz, /metrics and the REST API (/api/…).
 * The UI WebSocket (/ws) is push/'s; net/ routes upgrades there. */
#ifndef FC_API_H
#define FC_API_H

#include "auth/jwt.h"
#include "bus/bus.h"
#include "ocpp/ocpp.h"
#include "push/push.h"
#include "store/store.h"

typedef struct fc_api fc_api_t;

/* Everything borrowed; outlives the api. jwt NULL: /api refuses every
 * request (no key configured). Caller frees. */
fc_api_t *fc_api_new(fc_store_t *store, fc_ocpp_t *ocpp, fc_bus_t *bus, fc_push_t *push,
                     const fc_jwt_cfg_t *jwt);
void fc_api_free(fc_api_t *a);

#endif
