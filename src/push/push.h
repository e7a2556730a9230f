/* The UI WebSocket (/ws on the web port): browsers authenticate with a JWT,
 * subscribe to chargers, get a snapshot (or exactly the events they missed,
 * with `since`), then every event as it commits.
 *
 * Threading: loop thread only. */
#ifndef FC_PUSH_H
#define FC_PUSH_H

#include "auth/jwt.h"
#include "bus/bus.h"
#include "config/config.h"
#include "store/store.h"

#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct fc_push fc_push_t;

/* jwt, cfg, bus, store and loop are borrowed and outlive it. */
fc_push_t *fc_push_new(uv_loop_t *loop, const fc_config_t *cfg, const fc_jwt_cfg_t *jwt,
                       fc_bus_t *bus, fc_store_t *store);
/* Closes every browser connection with 1001 (going away). */
void fc_push_close_all(fc_push_t *p);

/* Caps the browser connections below ui_max_clients (the file-descriptor
 * budget: net.c). Beyond the cap: 503. */
void fc_push_cap_clients(fc_push_t *p, size_t cap);
/* Only once no connection is left (after the lws context is destroyed). */
void fc_push_free(fc_push_t *p);

typedef struct fc_push_stats {
  uint64_t clients, frames_out, events_out, coalesced, lagged;
  uint64_t refused; /* handshakes refused (401, 400, 429, 503) */
  uint64_t queued_bytes;
  uint64_t subscriptions;         /* charger subscriptions now (gauge) */
  uint64_t subscriptions_waiting; /* of which to chargers not seen yet (no bus channel) */
  uint64_t sub_refused_limit;     /* past ui_max_subscriptions[_per_subject] */
  uint64_t closed_expired;        /* closed 1008: the token expired */
  uint64_t closed_revoked;        /* closed 1008: the user was removed or their role changed */
} fc_push_stats_t;
void fc_push_stats(const fc_push_t *p, fc_push_stats_t *out);

#endif
