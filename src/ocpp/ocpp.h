/* The OCPP 1.6J central system: charge-point sessions, the handlers of every
 * charger-initiated message, and server-initiated calls.
 *
 * Threading: everything here runs on the loop thread. */
#ifndef FC_OCPP_H
#define FC_OCPP_H

#include "bus/bus.h"
#include "config/config.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

typedef struct fc_ocpp fc_ocpp_t;

/* Creates the central system. cfg, store, bus and loop are borrowed and must
 * outlive it. Handlers raise their events on bus, after they commit. Loads the charger registry
 * from the store (blocking: call before the loop runs). Returns 0 and *out, or a negative error. */
int fc_ocpp_new(uv_loop_t *loop, const fc_config_t *cfg, fc_store_t *store, fc_bus_t *bus,
                fc_ocpp_t **out);

/* Process-wide set-up (the schema table): once, before any thread starts. */
int fc_ocpp_global_init(void);
void fc_ocpp_global_cleanup(void);

/* Shutdown, in phases: begin (refuse new connections with 503, stop reading
 * chargers' sockets so that no new call starts); wait until idle (every call
 * answered); close_all (close every connection with 1001, going away). */
void fc_ocpp_begin_shutdown(fc_ocpp_t *o);
bool fc_ocpp_idle(const fc_ocpp_t *o);
void fc_ocpp_close_all(fc_ocpp_t *o);

/* Frees it. Only after the lws context is destroyed (no session left). */
void fc_ocpp_free(fc_ocpp_t *o);

/* Number of charger connections open now. */
size_t fc_ocpp_connections(const fc_ocpp_t *o);

/* SIGHUP: the vehicle models and the tariff read anew from cfg's config-file
 * JSON (cfg being the one the central system was made with, reloaded).
 * Transactions running go on with the tariff in force when their cost is
 * next computed. 0, or FC_ERR_CONFIG (printed) with the old ones kept. */
int fc_ocpp_reload_domain(fc_ocpp_t *o);

/* Numbers the connections from here on after last (the largest id an
 * earlier process gave, fc_store_load_left_online), so that a connection id
 * names one connection across restarts. Before the first connection. */
void fc_ocpp_conn_ids_after(fc_ocpp_t *o, uint64_t last);

/* Why a charger's handshake was refused. */
typedef enum {
  FC_OCPP_REFUSED_BAD_REQUEST = 0, /* 400: no ocpp1.6 subprotocol, no valid chargeBoxId */
  FC_OCPP_REFUSED_SHUTDOWN,        /* 503 */
  FC_OCPP_REFUSED_UNKNOWN,         /* 401: not in the registry (policy reject) */
  FC_OCPP_REFUSED_CREDENTIALS,     /* 401: wrong or missing HTTP Basic credentials */
  FC_OCPP_REFUSED_THROTTLED,       /* 429: too many failed logins (auth/throttle.h) */
  FC_OCPP_REFUSED_UNKNOWN_LIMIT,   /* 503/429: too many unregistered chargers (limits.c) */
  FC_OCPP_REFUSED_BUSY,            /* 503: beyond charger-handshake-rate (limits.c) */
  FC_OCPP_REFUSED_PROFILE,         /* 403: its security profile needs TLS (no downgrade) */
  FC_OCPP_REFUSED_CERTIFICATE,     /* 401/403: profile 3 without a valid certificate naming it */
  FC_OCPP_REFUSED_N
} fc_ocpp_refusal_t;

/* "bad_request", "shutting_down", "unknown_charger", "bad_credentials",
 * "throttled": the metrics' label of a refusal. */
const char *fc_ocpp_refusal_name(fc_ocpp_refusal_t why);

/* Counters for /metrics. */
typedef struct fc_ocpp_stats {
  uint64_t frames_in, frames_out, calls, callerrors_sent, rejected_handshakes;
  uint64_t answer_timeouts, throttled;
  uint64_t connectors_refused;         /* connectorIds beyond --max-connectors (or < 0) */
  uint64_t clock_skewed;               /* time stamps beyond --max-clock-skew ahead */
  uint64_t refused[FC_OCPP_REFUSED_N]; /* handshakes, by reason (sum: rejected_handshakes) */
  uint64_t login_table_entries;        /* remembered by the failed-login throttle */
  /* chargers not in the registry refused: too many connected, too many a minute */
  uint64_t unknown_refused_max, unknown_refused_rate;
  uint64_t limit_entries, limit_evictions; /* per-id limiter state: entries now, forgotten */
  double handshake_tokens;                 /* charger handshakes that may start now (limits.c) */
  /* the frame log: frames stored (whole or as head), their bytes; truncated
   * to their head (past a budget, or refused); not stored past twice the
   * budget, or below the disk watermark */
  uint64_t frames_logged, frame_log_bytes, frames_truncated;
  uint64_t frames_dropped_budget, frames_dropped_disk;
  uint64_t frame_log_budget; /* the option, bytes per charger per minute */
} fc_ocpp_stats_t;
void fc_ocpp_stats(const fc_ocpp_t *o, fc_ocpp_stats_t *out);

/* ---- server-initiated calls ------------------------------------------------ */

/* Outcome of a call to a charger: status 0 and result (the CALLRESULT payload,
 * validated against the action's response schema; borrowed for the callback);
 * or status FC_ERR_TIMEOUT / FC_ERR_OFFLINE / FC_ERR_SHUTDOWN with result
 * NULL; or status FC_ERR_PROTO with err_code/err_desc when the charger
 * answered with a CALLERROR or an invalid payload. */
typedef void (*fc_ocpp_call_cb)(int status, json_t *result, const char *err_code,
                                const char *err_desc, void *arg);

/* Sends action(payload) to the charger. OCPP allows one call in flight per
 * charger: later calls wait in a queue (bounded; FC_ERR_BUSY when full).
 * payload is borrowed. On 0, cb is called exactly once; on error never.
 * FC_ERR_OFFLINE if the charger is not connected. cb's status: 0 (result),
 * FC_ERR_PROTO (a CALLERROR: err_code, err_desc), FC_ERR_TIMEOUT,
 * FC_ERR_NOANSWER (the call was sent, then the connection closed before an
 * answer), FC_ERR_OFFLINE or FC_ERR_SHUTDOWN (it was still queued: never
 * sent). */
int fc_ocpp_call(fc_ocpp_t *o, const char *charger, const char *action, json_t *payload,
                 unsigned timeout_ms, fc_ocpp_call_cb cb, void *arg);

/* ---- remote commands ---------------------------------------------------------
 *
 * A command is a server-initiated call with a record: its outcome is stored
 * (FC_OP_COMMAND) and raised as a "command" event before the caller hears of
 * it. Secrets never reach the record: the caller passes params without them,
 * and AuthorizationKey values in a GetConfiguration answer are masked (value
 * null, "masked": true) in the record, the event and the result handed back. */

typedef struct fc_ocpp_outcome {
  /* 0: the charger answered (result); FC_ERR_OFFLINE, FC_ERR_TIMEOUT,
   * FC_ERR_PROTO (a CALLERROR or an answer that violates the schema:
   * err_code, err_desc), FC_ERR_NOANSWER (sent, then the connection closed
   * before the answer), FC_ERR_BUSY (too many calls queued),
   * FC_ERR_SHUTDOWN. */
  int status;
  /* What the record says: the answer's "status" ("Accepted", "Rejected",
   * "Unlocked"…; "Accepted" for answers without one), or "Offline",
   * "Timeout", "CallError", "NoAnswer", "Busy", "ShuttingDown". */
  const char *state;
  /* Whether the call reached the connection (answered, CallError, Timeout,
   * NoAnswer); false when it never left (Offline, Busy, ShuttingDown) and
   * for a local command. */
  bool sent;
  json_t *result; /* borrowed for the callback; NULL unless status is 0 */
  const char *err_code, *err_desc;
  unsigned timeout_ms; /* the timeout the call had */
} fc_ocpp_outcome_t;

typedef void (*fc_ocpp_command_cb)(const fc_ocpp_outcome_t *out, void *arg);

/* Sends action(payload) to charger as command name ("start", "stop"…) on
 * behalf of by (a token's sub, or "system:…"), then records the outcome.
 * payload and params (what the record and event show; no secrets) are
 * borrowed; strings are copied. timeout_ms 0: the configured
 * command-timeout. cb is called exactly once, after the record has
 * committed (or failed to: the outcome stands either way); only when the
 * record cannot even be queued (store down, shutdown) is it called before
 * this returns. */
void fc_ocpp_command(fc_ocpp_t *o, const char *charger, const char *name, const char *action,
                     json_t *payload, json_t *params, const char *by, unsigned timeout_ms,
                     fc_ocpp_command_cb cb, void *arg);

/* Records a command that needs no call to the charger (such as setting a
 * target SoC): state and result (borrowed; may be NULL) are its outcome.
 * cb as for fc_ocpp_command (status 0). */
void fc_ocpp_command_local(fc_ocpp_t *o, const char *charger, const char *name, json_t *params,
                           const char *by, const char *state, json_t *result, fc_ocpp_command_cb cb,
                           void *arg);

/* The units charger takes in charging schedules, from its
 * ChargingScheduleAllowedChargingRateUnit: "A", "W", "A,W", or "" when it
 * does not say (or cannot be asked). Cached per charger; when unknown, the
 * charger is asked (GetConfiguration) first. cb(units, arg) is called
 * exactly once, before this returns when the answer is cached or the call
 * cannot be sent; units is borrowed for the call. */
typedef void (*fc_ocpp_units_cb)(const char *units, void *arg);
void fc_ocpp_rate_units(fc_ocpp_t *o, const char *charger, fc_ocpp_units_cb cb, void *arg);

/* The running transaction on connector (0: the charger's only one).
 * Returns 0 with *connector_out and *tx_out; FC_ERR_NOTFOUND when none runs
 * there; FC_ERR_INVAL when connector is 0 and several run. */
int fc_ocpp_running_tx(fc_ocpp_t *o, const char *charger, int connector, int *connector_out,
                       int64_t *tx_out);

/* Target SoC (0 < soc <= 100; 0 clears it). Applies to the transaction
 * running on connector, or, when none runs there or next is true, to the
 * next transaction started on it. connector 0: the connector of the
 * charger's only running transaction. Once a reported SoC (MeterValues, or
 * PreChargeData) of that transaction reaches it, RemoteStopTransaction is
 * sent, once, and its transaction.stopped event says "stoppedBy":
 * "targetSoc". Returns 0 with *connector_out and *tx_out (0 when it waits
 * for the next transaction); errors as fc_ocpp_running_tx for connector 0. */
int fc_ocpp_target_soc(fc_ocpp_t *o, const char *charger, int connector, double soc, bool next,
                       int *connector_out, int64_t *tx_out);

/* Validates payload (borrowed) as the request of action, against the OCPP
 * 1.6 schema, before a caller sends it. 0; FC_ERR_SCHEMA with why filled (a
 * short description naming the field); FC_ERR_NOTIMPL for an unknown action. */
int fc_ocpp_check_request(const char *action, const json_t *payload, char *why, size_t whysz);

/* Reads a whole number given as a JSON integer or as a real without a
 * fraction (5.0). False for anything else. */
bool fc_ocpp_int_value(const json_t *v, long long *out);

/* ---- DataTransfer vendor extensions ---------------------------------------- */

/* A handler of DataTransfer(vendorId, messageId) from a charger. It returns
 * the status to answer ("Accepted", "Rejected"…) and may set *data_out to a
 * string it allocated (malloc) for the answer's data. It may add operations to
 * w; they commit together with the DataTransfer record. */
typedef const char *(*fc_datatransfer_fn)(const char *charger, const char *data, fc_write_t *w,
                                          char **data_out, void *arg);

/* Registers a handler. vendor and message are borrowed (static strings). */
void fc_ocpp_on_datatransfer(fc_ocpp_t *o, const char *vendor, const char *message,
                             fc_datatransfer_fn fn, void *arg);

#endif
