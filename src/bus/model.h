/* The charger model: one typed state per charger and per connector, the only
 * copy of what the events say a charger is. The bus folds every committed
 * event into it (live, and the start-up replay), serialises it as the
 * snapshot (GET /api/chargers/{id}, the "snapshot" frame), and hands it read
 * only to the modules above (fc_bus_state): the OCPP handlers seed what they
 * judge arriving messages by from it.
 *
 * Conventions as in events.h: NAN is an absent (or null) number, "" an
 * absent (or null) string. Strings the charger sent (time stamps as it wrote
 * them) are kept up to FC_MODEL_STR_MAX bytes; the schemas of the others
 * (enums, masked idTags, currencies) are shorter. Loop thread only. */
#ifndef FC_BUS_MODEL_H
#define FC_BUS_MODEL_H

#include "bus/events.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FC_MODEL_STR_MAX 64
typedef char fc_model_str_t[FC_MODEL_STR_MAX];

/* The latest of each reading: the meter events' members merged. */
typedef struct fc_meter_state {
  bool present; /* false: null */
  fc_meter_vals_t total;
  bool has_phases;
  fc_meter_vals_t phase[FC_PHASES];
  int64_t tx_id; /* 0: none */
  fc_model_str_t timestamp;
  bool clock_skew; /* of the last reading only */
  long long ts_ms; /* the last reading's */
} fc_meter_state_t;

/* The last precharge event's data. */
typedef struct fc_precharge_state {
  bool present;
  double soc, battery_voltage, capacity_wh, range_km; /* NAN: null */
  fc_model_str_t model;                               /* "": null */
  fc_model_str_t source;
} fc_precharge_state_t;

/* The running transaction: its transaction.started data, with its energy and
 * cost so far. */
typedef struct fc_tx_state {
  bool present; /* false: none runs */
  int64_t id;
  fc_model_str_t id_tag, id_tag_status, started_at;
  long long meter_start;
  double energy_wh, meter_wh;
  double target_soc, minutes, cost; /* NAN: not yet */
  fc_model_str_t currency;
} fc_tx_state_t;

/* The last transaction: its transaction.stopped data, with the connector's
 * live figures as they were when it ended. */
typedef struct fc_last_tx_state {
  bool present;
  int64_t id;
  long long meter_stop;
  fc_model_str_t stopped_at, reason;
  double energy_wh, minutes, cost; /* NAN: its start was not seen */
  fc_model_str_t currency;
  fc_model_str_t stopped_by; /* "": not stopped at a target SoC */
  double target_soc, soc_at_stop;
  bool has_meter; /* it ended the connector's running transaction: meter (maybe null) */
  fc_meter_state_t meter;
  fc_precharge_state_t precharge;
} fc_last_tx_state_t;

typedef struct fc_connector_state {
  int id;
  fc_model_str_t status, error_code; /* "": none reported */
  bool has_status_at;
  long long status_at_ms;
  fc_meter_state_t meter;
  fc_tx_state_t tx;
  fc_last_tx_state_t last;
  fc_precharge_state_t precharge;
} fc_connector_state_t;

typedef struct fc_charger_state {
  char id[49];
  bool online;
  bool has_last_seen;
  long long last_seen_ms;      /* when it last connected or disconnected */
  int64_t seq;                 /* the highest seq folded */
  fc_connector_state_t *conns; /* by id, ascending */
  size_t n;
} fc_charger_state_t;

/* A charger's state with no event (id copied, truncated to 48 bytes). */
void fc_model_init(fc_charger_state_t *s, const char *id);
void fc_model_cleanup(fc_charger_state_t *s);

/* The connector's state, or NULL when no event named it. s may be NULL. */
const fc_connector_state_t *fc_model_connector(const fc_charger_state_t *s, int connector);

/* Folds one event into s: seq first (every event counts), then its data,
 * unless it is late. ev: its data (fc_ev_read); NULL for types whose data the
 * fold does not read. Returns true when the state (other than seq) changed. */
bool fc_model_apply(fc_charger_state_t *s, fc_event_type_t type, int connector, int64_t seq,
                    long long ts_ms, const fc_ev_t *ev);

/* The snapshot of s, as the published schema has it (caller decrefs). */
json_t *fc_model_json(const fc_charger_state_t *s);

#endif
