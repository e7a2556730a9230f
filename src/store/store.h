/* flashcharge storage.
 *
 * One interface, backends behind it (sqlite: embedded, the default; postgres
 * later). The event-loop thread never touches the database:
 *
 *  - Writes are batches of typed operations (fc_write_t). They go onto a queue
 *    served by one writer thread, which commits many writes in one database
 *    transaction (group commit); a write that fails alone fails alone, the
 *    others of its batch commit. A write's callback runs on the loop
 *    thread only after its transaction has committed and is durable (synced
 *    to disk: status 0), or when it has definitely failed (status < 0). That
 *    is the durability every backend promises.
 *  - Reads (fc_read_t) are served by reader threads with their own connections.
 *  - A failed commit is retried with backoff; after repeated failures a circuit
 *    breaker opens: new writes fail at once with FC_ERR_STORE_DOWN, a probe
 *    write runs every few seconds, and the first that succeeds closes the
 *    breaker again. State changes are logged and reported to a callback.
 *
 * Threading: every fc_store_* / fc_write_* / fc_read_* function is called on
 * the loop thread, except the fc_store_admin_* family, which is synchronous
 * and meant for the CLI (no loop). Callbacks run on the loop thread.
 *
 * Time: the database keeps every time stamp (the *_at and ts columns) as an
 * INTEGER of milliseconds since the Unix epoch, UTC, as the ops carry them.
 *
 * The store's uv_async_t is referenced only while a callback is outstanding
 * (or a drain is pending): a loop with nothing else to do returns once every
 * callback has run. Health callbacks need the loop to be running for other
 * reasons (the server's sockets and timers). */
#ifndef FC_STORE_H
#define FC_STORE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <uv.h>

typedef struct fc_store fc_store_t;

/* Numeric options: 0 means the default given in brackets. */
typedef struct fc_store_opts {
  const char *path;           /* database file (sqlite); borrowed */
  unsigned batch_max;         /* writes per transaction at most (default 4096) */
  unsigned retry_max;         /* retries of a failed commit before failing its writes (3) */
  unsigned retry_base_ms;     /* backoff: base, doubled per retry (25) */
  unsigned breaker_threshold; /* consecutive failed batches that open the breaker (2) */
  unsigned probe_interval_ms; /* probe write period while open (3000) */
  unsigned readers;           /* reader threads (2) */
  /* Fault injection for tests, or NULL: while this file exists and holds
   * "fail", every database write or sync fails with an I/O error;
   * "fail-sync", every sync (writes go through); "stall N" makes each one
   * sleep N ms first. Checked by the backend's VFS shim. */
  const char *fault_file;
  /* Events older than this many days (by their ts) are pruned by the writer,
   * but never the latest non-late one of a (charger, type, connector):
   * start-up needs those (7). A pruning pass rides on a batch at most every
   * prune_interval_ms (1000) and deletes up to prune_limit events (500);
   * while a pass finds a full prune_limit, the next batch prunes again. */
  unsigned event_retention_days;
  unsigned prune_interval_ms;
  unsigned prune_limit;
  /* Raw frames older than this many days are pruned in the same passes,
   * oldest first, up to prune_limit a pass (30). */
  unsigned frame_retention_days;
  /* Disk watermarks, on the free space of the database's filesystem, checked
   * by a thread of the store's every disk_check_ms (5000) and once at open.
   * Below frame_log_min_free bytes (0: never) the disk is LOW:
   * fc_store_frame_log_ok says false, so that callers stop the frame log,
   * and health is at least DEGRADED. Below store_min_free (0: never) it is
   * CRITICAL: fc_store_submit refuses every write (FC_ERR_STORE_DOWN), so
   * that nothing is confirmed that the disk might not hold, and health is
   * DOWN, until a check finds the space again. Each change is logged once
   * and reported to the disk callback. */
  unsigned disk_check_ms;
  uint64_t frame_log_min_free;
  uint64_t store_min_free;
} fc_store_opts_t;

/* Breaker state, for health checks and metrics. */
typedef enum { FC_STORE_OK = 0, FC_STORE_DEGRADED = 1, FC_STORE_DOWN = 2 } fc_store_health_t;

typedef void (*fc_store_health_cb)(fc_store_health_t state, void *arg);

/* The disk watermarks' state (fc_store_opts_t). */
typedef enum { FC_DISK_OK = 0, FC_DISK_LOW = 1, FC_DISK_CRITICAL = 2 } fc_store_disk_t;
typedef void (*fc_store_disk_cb)(fc_store_disk_t state, uint64_t free_bytes, void *arg);

/* Opens the store: creates the file if needed, applies migrations (blocking:
 * call before the loop runs), starts the writer and reader threads.
 * Returns 0 and *out (caller closes), or a negative error (logged). */
int fc_store_open(uv_loop_t *loop, const fc_store_opts_t *opts, fc_store_t **out);

/* Stops accepting writes (fc_store_submit then fails with FC_ERR_SHUTDOWN),
 * lets the writer commit everything already queued, and calls cb on the loop
 * thread when the queue is empty and every callback has run. */
void fc_store_drain(fc_store_t *s, void (*cb)(void *arg), void *arg);

/* Joins the threads and frees the store. Only after fc_store_drain's callback
 * (or if the loop never ran). Releases its uv handles: run the loop once more
 * afterwards so their close callbacks run. */
void fc_store_close(fc_store_t *s);

void fc_store_on_health(fc_store_t *s, fc_store_health_cb cb, void *arg);
/* The breaker's state, made worse by the disk's: DEGRADED while it is LOW,
 * DOWN while it is CRITICAL. */
fc_store_health_t fc_store_health(const fc_store_t *s);

/* cb runs on the loop thread at each change of the disk's state. */
void fc_store_on_disk(fc_store_t *s, fc_store_disk_cb cb, void *arg);
/* The disk's state and, when free_bytes is not NULL, the free bytes the
 * last check found. Any thread. */
fc_store_disk_t fc_store_disk(const fc_store_t *s, uint64_t *free_bytes);
/* Whether frames may be logged now (the disk is not below the frame log's
 * watermark). Cheap: an atomic read. */
bool fc_store_frame_log_ok(const fc_store_t *s);

/* Counters for /metrics and /healthz. commits counts committed batches;
 * commit_failures counts failed attempts (each retry, each failed probe,
 * each failed sync). A commit's latency runs from the start of its batch
 * until it is durable (its sync done); syncs are the sync thread's fsyncs
 * of the WAL, each covering every batch committed before it. Histograms:
 * <=100us,250,500,1ms,2.5,5,10,25,50,100,250,+Inf. */
typedef struct fc_store_stats {
  uint64_t writes_ok, writes_failed, commits, commit_failures;
  uint64_t queue_depth; /* writes waiting now */
  uint64_t commit_us_sum, commit_us_hist[12];
  uint64_t syncs, sync_us_sum, sync_us_hist[12];
  uint64_t disk_refused; /* writes refused below the store's disk watermark */
} fc_store_stats_t;
void fc_store_stats(const fc_store_t *s, fc_store_stats_t *out);

/* ---- writes ----------------------------------------------------------------
 *
 * A write is a list of operations (fc_op_t), each of one kind with a typed
 * struct of its own. The caller builds each op with its constructor
 * (fc_write_boot, fc_write_status…) from arguments it has already parsed
 * and validated: the backend binds fields, it never parses OCPP JSON. The
 * constructors copy every string and array of their arguments into the op
 * (one arena per op, freed with the write), so the arguments are borrowed
 * for the call only. Time stamps are ms since the epoch, UTC; the handler
 * resolves a payload's date (or, without a usable one, the arrival time).
 *
 * What a backend promises for the ops, beside durability (above): the
 * contract a second backend implements (store_int.h has the vtable):
 *  - Atomicity: a write's ops commit together or not at all.
 *  - Chargers: every data op but FRAME_LOG and COMMAND creates the charger's
 *    row when it has none ("Pending"; BOOT and CHARGER_SEEN give the
 *    registration); an EVENT of a charger without a row is not stored.
 *  - Idempotency: a charger's retry of a message we have stores nothing new
 *    and says so with out.outcome == FC_OUT_REPEAT (STATUS, METER, TX_START,
 *    TX_STOP, each below); everything else is stored again.
 *  - Events: each charger's events get seq 1, 2, 3… in commit order, gap
 *    free among committed events (a rolled back event gives its seq back). */

typedef enum {
  FC_OP_FRAME_LOG = 1,      /* frame */
  FC_OP_BOOT,               /* boot */
  FC_OP_CHARGER_SEEN,       /* seen */
  FC_OP_HEARTBEAT,          /* (no fields) */
  FC_OP_STATUS,             /* status */
  FC_OP_METER,              /* meter */
  FC_OP_TX_START,           /* tx_start */
  FC_OP_TX_STOP,            /* tx_stop */
  FC_OP_DATA_TRANSFER,      /* data_transfer */
  FC_OP_FIRMWARE_STATUS,    /* notice */
  FC_OP_DIAGNOSTICS_STATUS, /* notice */
  FC_OP_EVENT,              /* event */
  FC_OP_COMMAND,            /* command */
  FC_OP_PROFILE_SET,        /* profile_set */
  FC_OP_PROFILE_CLEAR,      /* profile_clear */
} fc_op_kind_t;

/* What an op found, filled by the writer (out.outcome). */
typedef enum {
  FC_OUT_NEW = 0,    /* stored */
  FC_OUT_STALE,      /* STATUS: kept in the history, older than the current status */
  FC_OUT_REPEAT,     /* a retry of what is stored: nothing new stored */
  FC_OUT_UNKNOWN_TX, /* TX_STOP of a transaction never started here: stored anyway */
} fc_op_outcome_t;

/* Raw OCPP frame log. */
typedef struct fc_op_frame {
  const char *text; /* the frame, len bytes (an embedded NUL ends it) */
  size_t len;
  int64_t conn_id;
  bool inbound; /* charger → us */
} fc_op_frame_t;

/* BootNotification: creates the charger's row if unknown (with that
 * registration), else updates its boot details. Strings NULL when absent. */
typedef struct fc_op_boot {
  const char *registration; /* the status we answer ("Accepted"…); NULL: "Accepted" */
  const char *vendor, *model, *serial_number, *charge_box_serial, *firmware_version, *iccid, *imsi,
      *meter_type, *meter_serial;
} fc_op_boot_t;

/* Connection state, logged in the connections table on every call. With a
 * registration, creates the row (with it) if unknown; without, only updates a
 * row that exists (a charger removed while connected is not brought back by
 * its disconnection). Going offline only applies if conn_id is the charger's
 * current connection (or 0): the close of a connection that a newer one
 * replaced does not mark the charger offline. */
typedef struct fc_op_seen {
  bool online;
  int64_t conn_id;
  const char *registration; /* or NULL */
} fc_op_seen_t;

/* StatusNotification. The connector's current status changes only if at_ms
 * is not older than the stored one; every notification is kept in
 * status_history either way (out.outcome FC_OUT_STALE when it was older).
 * FC_OUT_REPEAT: one with its own time stamp (has_ts) that status_history
 * has already (same connector, time stamp, status, error code, info, vendor
 * id and vendor error code): not stored again. */
typedef struct fc_op_status {
  int connector;
  const char *status, *error_code;                  /* required */
  const char *info, *vendor_id, *vendor_error_code; /* or NULL */
  long long at_ms; /* the payload's timestamp, or the arrival time */
  bool has_ts;     /* the payload had a timestamp */
} fc_op_status_t;

/* One sampledValue of a reading. value as sent; num: value as a number, or
 * NAN. The other fields NULL only where OCPP 1.6 has no default (phase, and
 * unit for a measurand that is not an energy): the caller applies the
 * defaults (fc_op_sampled_defaults; fc_op_sampled_of does), so that the
 * repeat of a reading with or without them is the same reading. */
typedef struct fc_op_sampled {
  const char *value;
  double num;
  const char *context, *format, *measurand, *phase, *location, *unit;
} fc_op_sampled_t;

/* Fills what s leaves NULL with OCPP 1.6's defaults: context
 * "Sample.Periodic", format "Raw", measurand "Energy.Active.Import.Register",
 * location "Outlet", unit "Wh" for an Energy measurand; phase has none. */
void fc_op_sampled_defaults(fc_op_sampled_t *s);
/* One sampledValue object of a payload into *s, in one pass over its
 * members (members that are not strings count as absent), num set and the
 * defaults applied; strings borrowed from sv. For the handlers, and for the
 * migration that digests stored readings. */
void fc_op_sampled_of(const json_t *sv, fc_op_sampled_t *s);

/* One MeterValue: its time stamp (payload's, or the arrival time) and its
 * sampled values. */
typedef struct fc_op_reading {
  long long ts_ms;
  size_t n;
  const fc_op_sampled_t *sampled;
} fc_op_reading_t;

typedef struct fc_op_readings {
  size_t n;
  const fc_op_reading_t *v;
} fc_op_readings_t;

/* MeterValues: one row per reading; a reading identical to one stored (same
 * charger, connector, time stamp and sampled values) is stored once, a
 * different one with the same time stamp is kept too; a reading without
 * sampled values stores nothing. out.outcome FC_OUT_REPEAT when no reading
 * was new (a charger's retry of readings we have; no readings too). */
typedef struct fc_op_meter {
  int connector;
  int64_t tx_id; /* the transaction the readings belong to, or 0 */
  fc_op_readings_t readings;
} fc_op_meter_t;

/* StartTransaction: out.id = the transaction id. Idempotent: an identical
 * start (charger, connector, idTag, time stamp, meterStart) returns the id
 * it got the first time, with out.outcome FC_OUT_REPEAT. */
typedef struct fc_op_tx_start {
  int connector;
  const char *id_tag;
  const char *id_tag_status; /* the idTagInfo status we answer */
  long long at_ms;
  int64_t meter_start;
  bool has_reservation;
  int64_t reservation_id;
} fc_op_tx_start_t;

/* StopTransaction: out.id = the row the stop went to: the transaction id, or
 * for one never started here (FC_OUT_UNKNOWN_TX) the charger's id if free,
 * else a new id. A second stop of a transaction is a retry (FC_OUT_REPEAT):
 * the first stop, and its cost, are kept. transaction_data: readings
 * stored as meter values of the transaction (as METER's). */
typedef struct fc_op_tx_stop {
  int64_t tx_id;
  long long at_ms;
  int64_t meter_stop;
  const char *reason, *id_tag; /* or NULL */
  bool has_cost;               /* the final cost, when the loop knew the transaction */
  double cost;
  char currency[4]; /* ISO 4217, "" when unknown */
  fc_op_readings_t transaction_data;
} fc_op_tx_stop_t;

/* DataTransfer, kept as it came. */
typedef struct fc_op_data_transfer {
  const char *vendor_id, *message_id; /* message_id or NULL */
  const char *data;                   /* the data string, or a bare object's JSON text, or NULL */
  const char *status;                 /* the status we answer */
} fc_op_data_transfer_t;

/* FirmwareStatusNotification / DiagnosticsStatusNotification. */
typedef struct fc_op_notice {
  const char *status;
} fc_op_notice_t;

/* An event of the bus, persisted with its write so that it commits, or not,
 * together with the data it reports. The writer gives it the charger's next
 * seq (out.id), stores it and serialises it once, into out.text/out.len:
 *   {"type":"meter","charger":"CP1","connector":1,"seq":42,
 *    "ts":"2026-11-26T10:00:00.000Z","data":{…}}
 * with the members in that order. Two rules tie an event to the data ops
 * before it in the same write:
 *  - take_tx_id: data's "transactionId" is written as the latest earlier
 *    TX_START's out.id (a new transaction's id is known only to the
 *    writer), in place of its value, or added last when data has none;
 *  - skip_repeat: when the latest earlier TX_START, TX_STOP, METER or STATUS
 *    is FC_OUT_REPEAT, the event is not stored and gets no seq (out.text
 *    stays NULL): a retried message raises no second event.
 * An event of a charger that has no row is not stored either. */
typedef struct fc_op_event {
  const char *type; /* the bus's name of its type ("status", "meter"…) */
  int connector;    /* 0 = the charger as a whole */
  long long ts_ms;  /* the event's own time (its message's time stamp) */
  bool late;        /* older than what the charger already reported */
  bool take_tx_id;
  bool skip_repeat;
  json_t *data; /* flashcharge's own event object: the op holds a reference;
                   only read by the writer, do not change it after */
} fc_op_event_t;

/* A remote command and its outcome; does not create the charger's row.
 * params, result, error: JSON text (or NULL), secrets already removed. */
typedef struct fc_op_command {
  const char *command, *action, *status, *by; /* action NULL when none */
  const char *params, *result, *error;
  long long requested_ms;
  int sent; /* the call reached the connection: 1, 0; -1 (stored NULL): no call, a local command */
} fc_op_command_t;

/* A charging profile the charger accepted (012_charging_profiles.sql).
 * Replaces the charger's profile with the same id, and the one with the
 * same stack level and purpose on the same connector. Does not create the
 * charger's row. */
typedef struct fc_op_profile_set {
  int connector; /* -1: the request named none */
  int64_t profile_id;
  int stack_level;
  const char *purpose, *kind, *unit; /* chargingProfilePurpose, -Kind, chargingRateUnit */
  int64_t tx_id;                     /* a TxProfile's transactionId; 0: none */
  const char *profile;               /* the profile as sent, compact JSON */
  const char *by;
} fc_op_profile_set_t;

/* A ClearChargingProfile the charger accepted: by id when it has one, else
 * every profile of the charger matching the members it has (none: all). */
typedef struct fc_op_profile_clear {
  bool has_id, has_connector, has_stack_level;
  int64_t id;
  int connector, stack_level;
  const char *purpose; /* NULL: any */
} fc_op_profile_clear_t;

/* One operation of a write, owned by the write. The kind says which member
 * of the union is set. Results are filled by the writer thread before the
 * callback runs (and cleared when the write did not commit). */
typedef struct fc_op {
  fc_op_kind_t kind;
  const char *charger;
  long long ts_ms; /* arrival time (the constructor's now; the caller may set it) */
  union {
    fc_op_frame_t frame;
    fc_op_boot_t boot;
    fc_op_seen_t seen;
    fc_op_status_t status;
    fc_op_meter_t meter;
    fc_op_tx_start_t tx_start;
    fc_op_tx_stop_t tx_stop;
    fc_op_data_transfer_t data_transfer;
    fc_op_notice_t notice;
    fc_op_event_t event;
    fc_op_command_t command;
    fc_op_profile_set_t profile_set;
    fc_op_profile_clear_t profile_clear;
  };
  struct {
    int64_t id; /* TX_START/TX_STOP: transaction id; EVENT: seq */
    fc_op_outcome_t outcome;
    char *text; /* EVENT: its serialisation (owned by the op), or NULL */
    size_t len;
  } out;
  struct fc_op_arena *_arena;
} fc_op_t;

typedef struct fc_write fc_write_t;
typedef void (*fc_write_cb)(fc_write_t *w, int status, void *arg);

/* A new, empty write (caller frees with fc_write_free, or hands it to
 * fc_store_submit which then owns it until the callback returns). */
fc_write_t *fc_write_new(void);

/* The constructors: each appends an op of its kind to w and returns it
 * (borrowed, valid until the write is freed). charger and every string and
 * array of a are copied. Loop thread. */
fc_op_t *fc_write_frame(fc_write_t *w, const char *charger, const fc_op_frame_t *a);
fc_op_t *fc_write_boot(fc_write_t *w, const char *charger, const fc_op_boot_t *a);
fc_op_t *fc_write_seen(fc_write_t *w, const char *charger, const fc_op_seen_t *a);
fc_op_t *fc_write_heartbeat(fc_write_t *w, const char *charger);
fc_op_t *fc_write_status(fc_write_t *w, const char *charger, const fc_op_status_t *a);
fc_op_t *fc_write_meter(fc_write_t *w, const char *charger, const fc_op_meter_t *a);
fc_op_t *fc_write_tx_start(fc_write_t *w, const char *charger, const fc_op_tx_start_t *a);
fc_op_t *fc_write_tx_stop(fc_write_t *w, const char *charger, const fc_op_tx_stop_t *a);
fc_op_t *fc_write_data_transfer(fc_write_t *w, const char *charger, const fc_op_data_transfer_t *a);
/* kind: FC_OP_FIRMWARE_STATUS or FC_OP_DIAGNOSTICS_STATUS. */
fc_op_t *fc_write_notice(fc_write_t *w, fc_op_kind_t kind, const char *charger, const char *status);
/* a->data: incref'd (NULL: {}). */
fc_op_t *fc_write_event(fc_write_t *w, const char *charger, const fc_op_event_t *a);
/* params, result, error: JSON values (borrowed; NULL or null: none) written
 * to the op's text as compact JSON; a's own params/result/error are ignored. */
fc_op_t *fc_write_command(fc_write_t *w, const char *charger, const fc_op_command_t *a,
                          const json_t *params, const json_t *result, const json_t *error);
/* profile: the profile as sent (borrowed), written to a's profile as compact
 * JSON; a's own profile is ignored. */
fc_op_t *fc_write_profile_set(fc_write_t *w, const char *charger, const fc_op_profile_set_t *a,
                              const json_t *profile);
fc_op_t *fc_write_profile_clear(fc_write_t *w, const char *charger, const fc_op_profile_clear_t *a);

/* Marks w as a write nobody waits for (a raw frame of the log, a
 * heartbeat): the writer does not start a commit (and its fsync) for it, but
 * commits it with the next write that is not lazy, or FC_STORE_LAZY_MS after
 * it was queued, whichever comes first (at once while draining). Its
 * callback runs after that commit, as any write's. */
#define FC_STORE_LAZY_MS 100
void fc_write_set_lazy(fc_write_t *w);

size_t fc_write_count(const fc_write_t *w);
fc_op_t *fc_write_op(fc_write_t *w, size_t i); /* borrowed */

void fc_write_free(fc_write_t *w);

/* Queues w for commit. On 0, the store owns w and calls cb(w, status, arg)
 * exactly once on the loop thread, then frees w after cb returns. status 0 =
 * committed; FC_ERR_STORE = failed after retries. On error (FC_ERR_STORE_DOWN
 * while the breaker is open, FC_ERR_SHUTDOWN while draining), cb is never
 * called and the caller still owns w. */
int fc_store_submit(fc_store_t *s, fc_write_t *w, fc_write_cb cb, void *arg);

/* ---- reads ----------------------------------------------------------------- */

/* A charger as the registry knows it. */
typedef struct fc_charger_rec {
  char id[49];          /* chargeBoxId (OCPP allows 48 characters) */
  char registration[9]; /* "Accepted", "Pending" or "Rejected" */
  char *auth;           /* credential hash (auth/), or NULL when none is required; owned */
  int profile;          /* OCPP security profile 1..3; 0: not set (the server's default) */
} fc_charger_rec_t;

typedef struct fc_tag_rec {
  char id_tag[21];
  char status[13];     /* "Accepted", "Blocked", "Expired", "Invalid" */
  long long expiry_ms; /* 0 = none */
  char parent[21];     /* "" = none */
} fc_tag_rec_t;

typedef enum {
  FC_READ_CHARGERS = 1,     /* every charger: out_chargers[out_count] */
  FC_READ_TAG,              /* key: idTag → out_tag; status FC_ERR_NOTFOUND if unknown */
  FC_READ_REGISTRY_VERSION, /* out_i64: bumped whenever a charger's registration or
                               credentials change (by the CLI, for instance) */
  /* key: charger; arg_i64: since (exclusive); limit → out_texts[out_count]:
   * the stored JSON of its events with seq > since, in seq order (late ones
   * included; none for an unknown charger). */
  FC_READ_EVENTS,
  /* key: charger; from_ms/to_ms (0 = open; from inclusive, to exclusive);
   * connector (-1 = any, fc_read_new's default); limit →
   * out_text: a JSON array, oldest first, of
   * {"connectorId","transactionId"(or null),"timestamp","measurand","phase",
   *  "unit","context","location","value","valueNum"(or null)} */
  FC_READ_METER_VALUES,
  /* key: charger ("" = any); from_ms/to_ms on the start time (as above; a
   * transaction known only from its stop has none, and is listed only when
   * neither is given, by its stop time); the scope (fc_read_set_scope), if
   * set, applied before the limit; limit →
   * out_text: a JSON array, newest first, of transaction objects:
   * {"id","charger","connectorId","idTag","idTagStatus","startedAt","meterStart",
   *  "reservationId","stoppedAt","meterStop","stopReason","energyWh","cost",
   *  "currency"} (stopped*, meterStop, stopReason, energyWh, cost and currency
   *  null while it runs; cost and currency null when unknown). */
  FC_READ_TRANSACTIONS,
  /* arg_i64: transaction id → out_text: one such object; FC_ERR_NOTFOUND,
   * also when it is outside the scope (fc_read_set_scope), if set. */
  FC_READ_TRANSACTION,
  /* → out_text: a JSON array of every charger's registry and boot details:
   * {"id","registration","vendor","model","serialNumber","firmwareVersion",
   *  "lastBootAt","lastSeenAt","lastHeartbeatAt","online"} */
  FC_READ_CHARGER_INFO,
  /* key: charger → out_text: a JSON array of the profiles in force there
   * (FC_OP_PROFILE_SET), by connector, purpose and stack level:
   * {"chargingProfileId","connectorId"(or null),"stackLevel",
   *  "chargingProfilePurpose","chargingProfileKind","chargingRateUnit",
   *  "transactionId"(or null),"profile"(the object sent),"setBy","setAt"} */
  FC_READ_PROFILES,
} fc_read_kind_t;

typedef struct fc_read {
  fc_read_kind_t kind;
  char key[64];
  /* results */
  fc_charger_rec_t *out_chargers; /* owned by the read */
  size_t out_count;
  fc_tag_rec_t out_tag;
  int64_t out_i64;
  /* arguments of the JSON reads */
  int64_t arg_i64;
  long long from_ms, to_ms;
  int connector;
  unsigned limit; /* 0 = the backend's default (1000); at most 10000 */
  char *out_text; /* owned by the read (fc_malloc'd, NUL-terminated) */
  size_t out_len;
  char **out_texts; /* owned by the read: out_count fc_malloc'd strings */
  /* FC_READ_TRANSACTIONS / FC_READ_TRANSACTION: only these chargers'
   * (fc_read_set_scope; owned by the read); unscoped when !scoped */
  bool scoped;
  char **scope;
  size_t scope_count;
  /* private */
  void *_priv[4];
} fc_read_t;

typedef void (*fc_read_cb)(fc_read_t *r, int status, void *arg);

/* Runs r on a reader thread; cb(r, status, arg) runs on the loop thread and r
 * is freed after it returns. r comes from fc_read_new. Returns 0, or an error
 * (FC_ERR_SHUTDOWN) in which case cb is never called and r is freed.
 * status: 0, FC_ERR_NOTFOUND (FC_READ_TAG), FC_ERR_STORE. To keep
 * out_chargers, take it in cb and set r->out_chargers = NULL, r->out_count = 0
 * (free it later with fc_charger_recs_free). Likewise out_text / out_texts
 * (set them NULL, and out_count 0; free with fc_free). Time stamps in the
 * JSON results are "2026-11-26T10:00:00.000Z" (UTC), absent values null. */
fc_read_t *fc_read_new(fc_read_kind_t kind, const char *key);
/* Limits r to the chargers ids[0..n) (borrowed; copied): what is outside is
 * not read at all, as if it did not exist. n == 0: nothing is in scope. */
void fc_read_set_scope(fc_read_t *r, const char *const *ids, size_t n);
int fc_store_read(fc_store_t *s, fc_read_t *r, fc_read_cb cb, void *arg);

/* Loads every charger synchronously (start-up only, before the loop runs).
 * *out is an array the caller frees with fc_charger_recs_free. */
int fc_store_load_chargers(fc_store_t *s, fc_charger_rec_t **out, size_t *count);
void fc_charger_recs_free(fc_charger_rec_t *recs, size_t count);

/* Start-up (blocking, before the loop runs): for every charger, calls cb with
 * its current sequence number and each of its latest events per (type,
 * connector) that is not late, in seq order. Folding these events rebuilds
 * the read model (status, meter, transaction… of each connector) exactly as
 * the live events left it. json is borrowed for the call. A charger with no
 * event is reported once with json NULL. */
int fc_store_load_latest_events(fc_store_t *s,
                                void (*cb)(const char *charger, int64_t seq, const char *json,
                                           void *arg),
                                void *arg);

/* Start-up (blocking, before the loop runs; crash recovery): calls cb for
 * every charger whose row still says online, which only a process that
 * ended without closing its connections leaves (kill -9, a power cut): its
 * last connection's id, and when its outage began as well as the database
 * knows: when the process that left it online was last known alive (the
 * latest frame logged, heartbeat or connection change stored; ms since the
 * epoch; 0 when unknown). *max_conn_id: the largest connection id
 * any process gave (0 for none): number new connections after it. */
int fc_store_load_left_online(fc_store_t *s,
                              void (*cb)(const char *charger, int64_t conn_id, long long since_ms,
                                         void *arg),
                              void *arg, int64_t *max_conn_id);

/* ---- administration (CLI; synchronous, no loop) ---------------------------- */

typedef struct fc_store_admin fc_store_admin_t;

/* Opens path (migrating it) for synchronous administration. */
int fc_store_admin_open(const char *path, fc_store_admin_t **out);
void fc_store_admin_close(fc_store_admin_t *a);

/* Adds or updates a charger. auth: credential hash or NULL (none required).
 * registration: "Accepted" (default if NULL), "Pending", "Rejected". */
int fc_store_admin_charger_put(fc_store_admin_t *a, const char *id, const char *auth,
                               const char *registration);
int fc_store_admin_charger_remove(fc_store_admin_t *a, const char *id); /* FC_ERR_NOTFOUND */
/* Sets a charger's OCPP security profile: 1..3, or 0 for the server's default
 * (1 without TLS, 2 with). FC_ERR_INVAL out of range, FC_ERR_NOTFOUND for an
 * id not in the registry. */
int fc_store_admin_charger_profile(fc_store_admin_t *a, const char *id, int profile);
/* Calls cb for each charger (rec borrowed for the call; online and last_seen
 * from the connection log). */
int fc_store_admin_charger_list(fc_store_admin_t *a,
                                void (*cb)(const fc_charger_rec_t *rec, int online,
                                           long long last_seen_ms, void *arg),
                                void *arg);

int fc_store_admin_tag_put(fc_store_admin_t *a, const fc_tag_rec_t *tag);
int fc_store_admin_tag_remove(fc_store_admin_t *a, const char *id_tag); /* FC_ERR_NOTFOUND */
int fc_store_admin_tag_list(fc_store_admin_t *a, void (*cb)(const fc_tag_rec_t *t, void *arg),
                            void *arg);

/* Users of the web UI (sign-in). name: 1-63 bytes, no control characters;
 * hash: a crypto_pwhash_str string (auth/users.c); role: "viewer",
 * "operator" or "admin". These may also be called from a worker thread of
 * the server (api/login.c), on an admin handle used by one thread at a time. */
#define FC_USER_NAME_MAX 63
#define FC_USER_HASH_MAX 128
typedef struct fc_user_rec {
  char name[FC_USER_NAME_MAX + 1];
  char hash[FC_USER_HASH_MAX];
  char role[9];
  long long created_ms;
} fc_user_rec_t;

/* Adds or updates (password and role) a user. FC_ERR_INVAL for a bad name,
 * hash or role. */
int fc_store_admin_user_put(fc_store_admin_t *a, const char *name, const char *hash,
                            const char *role);
/* Fills *out (caller-allocated). FC_ERR_NOTFOUND when there is no such user. */
int fc_store_admin_user_get(fc_store_admin_t *a, const char *name, fc_user_rec_t *out);
int fc_store_admin_user_remove(fc_store_admin_t *a, const char *name); /* FC_ERR_NOTFOUND */
/* Calls cb for each user, by name (rec borrowed for the call; its hash is
 * left empty). */
int fc_store_admin_user_list(fc_store_admin_t *a, void (*cb)(const fc_user_rec_t *u, void *arg),
                             void *arg);
/* *n = how many users there are. */
int fc_store_admin_user_count(fc_store_admin_t *a, long long *n);

/* Runs a read-only SQL query and calls cb per row with column names and text
 * values (for tests and diagnostics; sqlite only). */
int fc_store_admin_query(fc_store_admin_t *a, const char *sql,
                         void (*cb)(int ncol, char **names, char **values, void *arg), void *arg);

/* ---- copies (CLI; sqlite only; synchronous) -------------------------------- */

/* Called after each step of a copy: pages copied so far of total. */
typedef void (*fc_store_copy_progress_cb)(unsigned done, unsigned total, void *arg);

/* A consistent copy of the database at db_path, which a server may be
 * writing meanwhile (it is read in one snapshot and never blocks the
 * writer), into file, which must not exist: written as file.partial, checked
 * (PRAGMA integrity_check) and renamed. progress may be NULL. Returns 0,
 * UV_EEXIST, or an error (printed to stderr). */
int fc_store_backup(const char *db_path, const char *file, fc_store_copy_progress_cb progress,
                    void *arg);
/* The inverse, for a stopped server: checks the backup file, then replaces
 * the database at db_path with it, page by page through SQLite (its WAL is
 * taken care of). UV_EBUSY when a process holds db_path. */
int fc_store_restore(const char *file, const char *db_path, fc_store_copy_progress_cb progress,
                     void *arg);

#endif
