/* The events' data, typed: one struct and one constructor per event type
 * (events.c, the only place that spells the members' names), and the reader
 * that turns an event's JSON data back into its struct (for the fold, which
 * reads live and replayed events alike).
 *
 * Conventions of every struct below: an optional number is NAN when absent
 * (or null, where the published schema makes the member nullable); an
 * optional string is NULL when absent. Strings are borrowed: a constructor
 * copies them into the event, a reader points them into the JSON it read
 * (valid as long as that JSON). Included by bus.h. */
#ifndef FC_BUS_EVENTS_H
#define FC_BUS_EVENTS_H

#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define FC_EVENT_TYPE_MAP(XX)                                                                      \
  XX(HELLO, "hello", 0)                                                                            \
  XX(SNAPSHOT, "snapshot", 0)                                                                      \
  XX(STATUS, "status", 1)                                                                          \
  XX(METER, "meter", 1)                                                                            \
  XX(TX_STARTED, "transaction.started", 0)                                                         \
  XX(TX_STOPPED, "transaction.stopped", 0)                                                         \
  XX(ENERGY, "energy", 1)                                                                          \
  XX(COST, "cost", 1)                                                                              \
  XX(PRECHARGE, "precharge", 1)                                                                    \
  XX(ONLINE, "charger.online", 0)                                                                  \
  XX(OFFLINE, "charger.offline", 0)                                                                \
  XX(COMMAND, "command", 0)                                                                        \
  XX(LAGGED, "lagged", 0)                                                                          \
  XX(ERROR, "error", 0)                                                                            \
  XX(PONG, "pong", 0)                                                                              \
  XX(DEGRADED, "system.degraded", 0)                                                               \
  XX(RECOVERED, "system.recovered", 0)

/* The third column: a state event, which may be coalesced to the latest per
 * (charger, connector, type) when a receiver falls behind. The others are
 * never dropped. */
typedef enum {
  FC_EV_NONE = 0,
#define XX(name, str, state) FC_EV_##name,
  FC_EVENT_TYPE_MAP(XX)
#undef XX
      FC_EV__COUNT
} fc_event_type_t;

const char *fc_event_type_name(fc_event_type_t t);
fc_event_type_t fc_event_type_parse(const char *name); /* FC_EV_NONE if unknown */
bool fc_event_type_is_state(fc_event_type_t t);

/* A meter reading's quantities (W, Wh, V, A, %). */
typedef enum {
  FC_MQ_VOLTAGE,
  FC_MQ_CURRENT,
  FC_MQ_POWER,
  FC_MQ_ENERGY, /* the import register, Wh */
  FC_MQ_SOC,
  FC_MQ__COUNT
} fc_meter_q_t;

/* NAN: not in the reading. */
typedef struct fc_meter_vals {
  double v[FC_MQ__COUNT];
} fc_meter_vals_t;

#define FC_PHASES 3 /* L1, L2, L3 */

typedef struct fc_ev_status {
  const char *status, *error_code;
  const char *info, *vendor_id, *vendor_error_code, *timestamp; /* optional */
  bool clock_skew;
} fc_ev_status_t;

typedef struct fc_ev_meter {
  fc_meter_vals_t total;
  bool has_phases;
  fc_meter_vals_t phase[FC_PHASES];
  int64_t tx_id;         /* 0: none */
  const char *timestamp; /* as the charger sent it */
  bool clock_skew;
} fc_ev_meter_t;

typedef struct fc_ev_tx_started {
  int64_t tx_id; /* 0: the store's, once committed (null in the op: FC_OP_EVENT) */
  const char *id_tag, *id_tag_status, *started_at;
  long long meter_start;
  double energy_wh, meter_wh;
  double target_soc; /* NAN: none */
} fc_ev_tx_started_t;

typedef struct fc_ev_tx_stopped {
  int64_t tx_id;
  long long meter_stop;
  const char *stopped_at, *reason;
  /* when the start was seen: */
  double energy_wh, minutes, cost;
  const char *currency;
  /* when the server stopped it at the target SoC: */
  const char *stopped_by;
  double target_soc, soc_at_stop;
} fc_ev_tx_stopped_t;

typedef struct fc_ev_energy {
  int64_t tx_id;
  double energy_wh, meter_wh;
} fc_ev_energy_t;

typedef struct fc_ev_cost {
  int64_t tx_id;
  double energy_wh, minutes, cost;
  const char *currency;
} fc_ev_cost_t;

/* Every member is in the event; NAN / NULL are null there. */
typedef struct fc_ev_precharge {
  double soc, battery_voltage, capacity_wh, range_km;
  const char *model;
  const char *source; /* "PreChargeData" or "MeterValues" */
} fc_ev_precharge_t;

/* The JSON members are borrowed (the constructor takes its own references). */
typedef struct fc_ev_command {
  const char *command, *action; /* action NULL: none */
  bool sent;                    /* with an action: whether the call left for the charger */
  json_t *params;
  const char *status, *by;
  json_t *result, *error; /* NULL: none */
} fc_ev_command_t;

/* An event's data as the fold reads it (fc_ev_read). */
typedef struct fc_ev {
  bool late;
  union {
    fc_ev_status_t status;
    fc_ev_meter_t meter;
    fc_ev_tx_started_t started;
    fc_ev_tx_stopped_t stopped;
    fc_ev_energy_t energy;
    fc_ev_cost_t cost;
    fc_ev_precharge_t precharge;
  } u;
} fc_ev_t;

/* ---- constructors -------------------------------------------------------------
 * Each adds its event to w (fc_bus_add: persisted and numbered with the
 * write, published after the commit) and returns its op. ts_ms: the event's
 * own time; late: older than what the charger already reported (reported,
 * but it changes no state). */

fc_op_t *fc_ev_status(fc_write_t *w, const char *charger, int connector, const fc_ev_status_t *ev,
                      long long ts_ms, bool late);
fc_op_t *fc_ev_meter(fc_write_t *w, const char *charger, int connector, const fc_ev_meter_t *ev,
                     long long ts_ms, bool late);
fc_op_t *fc_ev_tx_started(fc_write_t *w, const char *charger, int connector,
                          const fc_ev_tx_started_t *ev, long long ts_ms);
fc_op_t *fc_ev_tx_stopped(fc_write_t *w, const char *charger, int connector,
                          const fc_ev_tx_stopped_t *ev, long long ts_ms);
fc_op_t *fc_ev_energy(fc_write_t *w, const char *charger, int connector, const fc_ev_energy_t *ev,
                      long long ts_ms);
fc_op_t *fc_ev_cost(fc_write_t *w, const char *charger, int connector, const fc_ev_cost_t *ev,
                    long long ts_ms);
fc_op_t *fc_ev_precharge(fc_write_t *w, const char *charger, int connector,
                         const fc_ev_precharge_t *ev, long long ts_ms);
/* charger.online (online) or charger.offline. */
fc_op_t *fc_ev_online(fc_write_t *w, const char *charger, bool online, long long ts_ms);
fc_op_t *fc_ev_command(fc_write_t *w, const char *charger, int connector, const fc_ev_command_t *ev,
                       long long ts_ms);

/* ---- readers ------------------------------------------------------------------ */

/* Reads a meter reading's summary (the members of a meter event's data,
 * borrowed) into *out: what is not there is NAN / NULL / 0. */
void fc_ev_meter_read(const json_t *data, fc_ev_meter_t *out);

/* Reads an event's data (borrowed; *out points into it) as its type has
 * it. Returns false for a type that has no data the fold reads. */
bool fc_ev_read(fc_event_type_t type, const json_t *data, fc_ev_t *out);

#endif
