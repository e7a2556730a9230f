/* Internals of the ocpp/ module, shared by its files only. */
#ifndef FC_OCPP_INT_H
#define FC_OCPP_INT_H

#include "core/err.h"
#include "core/time.h"
#include "core/mem.h"
#include "log/log.h"
#include "ocpp/ocpp.h"
#include "ocpp/rpc.h"
#include "ocpp/store_args.h"
#include "bus/bus.h"
#include "domain/domain.h"
#include "net/soon.h"
#include "net/wsconn.h"
#include "auth/throttle.h"

#include <libwebsockets.h>
#include <stdbool.h>
#include <stdint.h>
#include <uthash.h>

#define FC_CP_ID_MAX 48
#define FC_MSG_ID_MAX 36

typedef enum { FC_REG_ACCEPTED = 0, FC_REG_PENDING, FC_REG_REJECTED } fc_reg_t;

const char *fc_ocpp__reg_name(fc_reg_t r);
int fc_ocpp__reg_parse(const char *s, fc_reg_t *out);

typedef struct fc_outcall fc_outcall_t;
typedef struct fc_sched fc_sched_t;
typedef struct fc_rateunit fc_rateunit_t;

/* A registry entry (the in-memory copy of the chargers table, for the
 * handshake, which must decide in microseconds without a database read). */
typedef struct fc_regent {
  char id[FC_CP_ID_MAX + 1];
  fc_reg_t reg;
  char *auth;            /* owned; NULL = no credentials required */
  int profile;           /* OCPP security profile 1..3; 0: the default (1, or 2 with TLS) */
  bool short_key_warned; /* its key is short (known at a login): said once */
  UT_hash_handle hh;
} fc_regent_t;

/* What one charger id may spend, across its connections (limits.c). */
typedef struct fc_cplimit {
  char id[FC_CP_ID_MAX + 1];
  unsigned refs;                       /* sessions holding it; never forgotten while > 0 */
  uint64_t seen_ms;                    /* last acquired or released */
  fc_bucket_t bucket;                  /* the rate limit's token bucket */
  uint64_t throttled, throttle_log_ms; /* pauses since the last log line; when */
  bool throttle_logged;
  /* the frame log's budget: this window's bytes, what was cut or dropped */
  uint64_t fl_window_ms;
  size_t fl_used;
  uint64_t fl_truncated, fl_dropped, fl_prev_truncated, fl_prev_dropped;
  bool fl_logged;
  UT_hash_handle hh; /* o->limits, by id, least recently used first */
} fc_cplimit_t;

/* One charger connection, on the connection base (net/wsconn.h: the
 * socket, references, reassembly, the queue of frames, the close).
 * Allocated at ESTABLISHED, referenced by the wsi (until CLOSED) and by
 * every call still in progress; freed when the last reference goes. */
typedef struct fc_session {
  fc_wsconn_t conn; /* conn.wsi: NULL once closed */
  fc_ocpp_t *o;
  uint64_t conn_id;
  char id[FC_CP_ID_MAX + 1];
  fc_reg_t reg;
  bool in_registry;
  bool unknown_counted; /* counted in o->nunknown (let in while not registered) */
  fc_cplimit_t *lim;    /* its id's limits; a reference, released when freed */
  fc_log_ctx_t log;

  /* calls of this charger being processed; reading paused (by the rate
   * limit, whose bucket is lim's, or by inflight) */
  unsigned inflight;
  bool rx_paused;
  struct fc_session *paused_prev, *paused_next; /* o->paused (utlist DL) */

  /* server-initiated calls: the one in flight and those waiting */
  fc_outcall_t *out_cur;
  fc_outcall_t *out_queue; /* utlist DL, oldest first */
  unsigned out_queued;

  uint64_t last_rx_ms;
  bool replaced;
  UT_hash_handle hh; /* o->sessions, by id */
} fc_session_t;

/* Per connector: see cpstate.c. The status, meter, transaction and vehicle
 * members are the charger model's (read from it by fc_ocpp__cpconn; a
 * handler's changes to them reach it through its events); the target SoC
 * members are kept here. */
typedef struct fc_cpconn {
  int id;
  long long status_ts, meter_ts; /* ms; newest seen */
  int64_t tx_id;
  bool tx_active;
  double tx_prev_reg, tx_energy;
  long long tx_start_ms; /* the running transaction's own start time; 0 unknown */
  /* Target SoC (target_soc.c): the running transaction's target (<= 0:
   * none) and whether its RemoteStopTransaction went out; the target that
   * the next transaction started on this connector takes; the transaction
   * it stopped, for its transaction.stopped event. */
  double target_soc, target_next;
  int64_t target_tx, target_stopped_tx;
  double target_stopped_at; /* the SoC that reached it */
  bool target_sent;
  /* the vehicle, from PreChargeData */
  bool pc_known;
  fc_model_t pc_model; /* km_per_kwh <= 0: efficiency unknown; name "": unknown */
  double pc_capacity_wh, pc_voltage;
} fc_cpconn_t;

typedef struct fc_cpstate {
  char id[FC_CP_ID_MAX + 1];
  fc_cpconn_t *conns;
  size_t n;
  /* bounds.c: one log line per charger and interval for each kind */
  fc_log_every_t warn_connector, warn_skew;
  UT_hash_handle hh;
} fc_cpstate_t;

typedef struct fc_call fc_call_t;

/* A connector's state as a handler will leave it once its write has
 * committed (cpstate.c): the state when staged, the state after, and a SoC
 * to compare with the target then (< 0: none). */
typedef struct fc_staged {
  fc_cpconn_t was, next;
  double soc;
  struct fc_staged *next_staged;
} fc_staged_t;

/* Continuation of a handler once its write has committed or failed. */
typedef void (*fc_commit_fn)(fc_call_t *c, fc_write_t *w, int status);
/* Continuation of a handler once its read is done (a call reads idTags only:
 * a failed read is answered as a failed tag lookup, fc_ocpp__answer_internal). */
typedef void (*fc_read_fn)(fc_call_t *c, fc_read_t *r, int status);

/* One charger-initiated CALL being processed. */
struct fc_call {
  fc_session_t *s; /* holds a reference */
  char id[FC_MSG_ID_MAX + 1];
  char action[40];
  json_t *payload; /* owned reference */
  uint64_t deadline_ms;
  bool answered;
  bool io_pending; /* a store callback will still run */
  int hold;        /* > 0 while a continuation runs */
  json_t *result;  /* the answer to send once committed (owned) */
  fc_commit_fn commit_fn;
  /* State changes that wait for the write to commit: the staged connectors
   * (owned), then apply_fn (status 0), whether or not the charger still
   * waits for its answer. */
  fc_staged_t *staged;
  fc_commit_fn apply_fn;
  fc_read_fn read_fn;
  void *ctx; /* handler state */
  void (*ctx_free)(void *ctx);
  struct fc_call *dl_prev, *dl_next; /* o's deadline list, in deadline order */
};

typedef struct fc_dt_handler {
  const char *vendor, *message;
  fc_datatransfer_fn fn;
  void *arg;
  struct fc_dt_handler *next;
} fc_dt_handler_t;

/* The seam to the store and the bus: fc_ocpp_new points these at
 * fc_store_submit, fc_store_read and fc_bus_publish_write; a unit test at
 * stubs, to run dispatch and handlers with neither
 * (tests/unit/ocpp/test_dispatch.c). Same contracts as those. */
typedef struct fc_ocpp_io {
  int (*submit)(fc_store_t *st, fc_write_t *w, fc_write_cb cb, void *arg);
  int (*read)(fc_store_t *st, fc_read_t *r, fc_read_cb cb, void *arg);
  void (*publish)(fc_bus_t *b, fc_write_t *w);
} fc_ocpp_io_t;

struct fc_ocpp {
  fc_ocpp_io_t io;
  uv_loop_t *loop;
  const fc_config_t *cfg;
  fc_store_t *store;
  fc_bus_t *bus;
  fc_cpstate_t *cpstates; /* uthash by id */
  fc_session_t *sessions; /* uthash by id */
  size_t nsessions;
  uint64_t next_conn_id;
  uint64_t next_msg_id;
  fc_regent_t *registry; /* uthash by id */
  fc_cplimit_t *limits;  /* uthash by id, LRU order (limits.c) */
  /* chargers let in while not in the registry (registry.c): how many are
   * connected, the admission bucket (per minute), the refusals' log line */
  size_t nunknown;
  double unknown_tokens;
  uint64_t unknown_tokens_at_ms;
  uint64_t unknown_refused, unknown_log_ms;
  bool unknown_logged;
  /* every charger's handshakes (limits.c): the admission bucket (per
   * second), and the refusals of this second (they spread Retry-After) */
  fc_bucket_t hs_bucket;
  uint64_t hs_window_ms, hs_refused_window;
  int64_t registry_version, registry_version_next;
  bool registry_loading;
  fc_call_t *dl_head;   /* calls by deadline (utlist DL, by dl_prev/dl_next) */
  fc_session_t *paused; /* reading paused (utlist DL, by paused_prev/next) */
  fc_dt_handler_t *dt_handlers;
  fc_call_t *dt_call; /* the DataTransfer whose handler runs now, or NULL */
  fc_models_t models;
  fc_tariff_t tariff;
  uv_timer_t deadline_timer;
  uv_timer_t tick_timer; /* throttling, silence, registry refresh */
  fc_soon_t soon;        /* sessions with frames to write (fc_wsconn_flush_cb) */
  uint64_t last_registry_check;
  bool shutting_down;
  fc_ocpp_stats_t stats;
  int closed_handles;
  size_t out_active;     /* sessions with a server-initiated call in flight */
  int max_connector;     /* bounds.c: the highest connectorId accepted */
  long long max_skew_ms; /* bounds.c: how far ahead a time stamp may be */
  uint64_t last_silence_check;
  fc_auth_throttle_t *throttle; /* failed charger logins (session.c's handshake) */
  fc_sched_t *sched;            /* availability.c: Scheduled changes, oldest first */
  size_t nsched;
  fc_rateunit_t *rateunits; /* rateunit.c: uthash by charger id */
};

/* Milliseconds on the loop's clock (monotonic); the wall clock is fc_wall_ms(). */
uint64_t fc_ocpp__now(const fc_ocpp_t *o);

/* session.c */
/* A session of charger id on wsi (borrowed; a stand-in in the unit tests),
 * with one reference, the socket's. Nothing else is set up. */
fc_session_t *fc_ocpp__session_new(fc_ocpp_t *o, struct lws *wsi, const char *id);
void fc_ocpp__session_ref(fc_session_t *s);
void fc_ocpp__session_unref(fc_session_t *s);
/* Queues text for sending (copied); it is written at the end of the loop
 * iteration (o->soon). No-op when the session is closed. Logs it in the
 * frame log (every outbound frame is logged here). */
void fc_ocpp__send(fc_session_t *s, const char *text, size_t len);
/* Closes the connection with code and reason (from the loop, asynchronously). */
void fc_ocpp__session_close(fc_session_t *s, int code, const char *reason);
/* Called when a call finishes: may resume reading. */
void fc_ocpp__session_call_done(fc_session_t *s);
void fc_ocpp__throttle_tick(fc_ocpp_t *o);
/* Refuses a handshake with status and body without a log line of its own
 * (the caller logs once per interval). Returns as the HTTP callback does. */
int fc_ocpp__refuse_quiet(struct lws *wsi, fc_ocpp_t *o, unsigned status, const char *body,
                          unsigned retry_after);

/* limits.c */
/* The limits of charger id, created when unknown (a full bucket, a new
 * budget); a reference the caller releases. Borrowed pointer, valid until
 * released. */
fc_cplimit_t *fc_ocpp__limit_acquire(fc_ocpp_t *o, const char *id);
void fc_ocpp__limit_release(fc_ocpp_t *o, fc_cplimit_t *l);
/* Refills l's bucket up to now; true when a message may be read (a token
 * is there). Taking it is the caller's. */
bool fc_ocpp__limit_ready(fc_ocpp_t *o, fc_cplimit_t *l, uint64_t now);
/* A handshake of any charger: 0 when admitted (a token taken), else the
 * Retry-After seconds to answer 503 with. */
unsigned fc_ocpp__handshake_admit(fc_ocpp_t *o);
/* Counts a pause of s's reading by its rate limit; logs once a minute per id. */
void fc_ocpp__limit_throttled(fc_session_t *s);
/* Forgets entries nobody holds that are as good as new (about once a second). */
void fc_ocpp__limits_tick(fc_ocpp_t *o);
void fc_ocpp__limits_free(fc_ocpp_t *o);
/* The frame log's only writer, called for every inbound frame by
 * fc_ocpp__dispatch and for every outbound one by fc_ocpp__send: submits
 * frame text (copied) of s as a lazy write of its own; whole, as head and
 * length (refused, or past the charger's budget), or not at all (past twice
 * the budget, below the disk watermark, --frame-log false). */
void fc_ocpp__frame_log(fc_session_t *s, bool inbound, bool refused, const char *text, size_t len);

/* call.c */
fc_call_t *fc_ocpp__call_new(fc_session_t *s, const fc_frame_t *f);
/* Sends a CALLRESULT (result is stolen; NULL = {}) and finishes the call. */
void fc_ocpp__answer(fc_call_t *c, json_t *result);
void fc_ocpp__answer_error(fc_call_t *c, fc_ocpp_code_t code, const char *desc);
/* What a call was waiting for when it failed (fc_ocpp__answer_internal). */
typedef enum fc_ocpp_wait {
  FC_OCPP_WAIT_WRITE,      /* its write's commit */
  FC_OCPP_WAIT_TAG_LOOKUP, /* an idTag read */
} fc_ocpp_wait_t;
/* Answers c InternalError for err (< 0: the store's status, FC_ERR_SHUTDOWN,
 * UV_ETIMEDOUT for a call not answered within answer_timeout) while it was
 * waiting for what: the one table of these answers' texts, each of which
 * tells the charger to retry. */
void fc_ocpp__answer_internal(fc_call_t *c, fc_ocpp_wait_t what, int err);
/* The same without its log line: for refusals logged once per interval. */
void fc_ocpp__answer_error_quiet(fc_call_t *c, fc_ocpp_code_t code, const char *desc);
/* Commits w, then answers: with result (stolen) if fn is NULL, else via fn.
 * On submit failure answers InternalError at once. (The inbound frame was
 * logged by dispatch; its lazy write commits with w.) */
void fc_ocpp__commit(fc_call_t *c, fc_write_t *w, json_t *result, fc_commit_fn fn);
/* Runs r, then fn. On submit failure answers InternalError. */
void fc_ocpp__read(fc_call_t *c, fc_read_t *r, fc_read_fn fn);
void fc_ocpp__deadline_tick(fc_ocpp_t *o);
void fc_ocpp__deadline_arm(fc_ocpp_t *o);
/* Callback of writes nobody waits for (frame log, connection state). */
void fc_ocpp__write_ignored(fc_write_t *w, int status, void *arg);

/* dispatch.c */
void fc_ocpp__dispatch(fc_session_t *s, const char *text, size_t len);

/* availability.c: a ChangeAvailability answered Scheduled, reported as
 * Applied (a command record) once no transaction runs there any more;
 * strings copied. _tick about once a second; _free at the end. */
void fc_ocpp__sched_add(fc_ocpp_t *o, const char *charger, int connector, const char *type,
                        const char *by);
void fc_ocpp__sched_tick(fc_ocpp_t *o);
void fc_ocpp__sched_free(fc_ocpp_t *o);

/* rateunit.c: a ChargingScheduleAllowedChargingRateUnit value seen in a
 * command (key and value borrowed; other keys ignored); _free at the end. */
void fc_ocpp__rateunit_note(fc_ocpp_t *o, const char *charger, const char *key, const char *value);
void fc_ocpp__rateunit_free(fc_ocpp_t *o);

/* outcall.c */
void fc_ocpp__outcall_result(fc_session_t *s, const fc_frame_t *f);
void fc_ocpp__outcall_session_gone(fc_session_t *s);
void fc_ocpp__outcall_tick(fc_ocpp_t *o);

/* registry.c */
fc_regent_t *fc_ocpp__registry_find(fc_ocpp_t *o, const char *id);
/* The unknown-charger policy's only place: the registration charger id gets.
 * A registered charger (*entry set, borrowed; entry may be NULL) gets its
 * own; one that is not (*entry NULL) gets what --unknown-chargers says:
 * Accepted (accept), Pending (pending) or Rejected (reject: its connection
 * is refused, while a registered charger marked Rejected connects and may
 * send BootNotification only). */
fc_reg_t fc_ocpp__registry_admit(fc_ocpp_t *o, const char *id, fc_regent_t **entry);
fc_regent_t *fc_ocpp__registry_put(fc_ocpp_t *o, const char *id, fc_reg_t reg, const char *auth);
void fc_ocpp__registry_replace(fc_ocpp_t *o, fc_charger_rec_t *recs, size_t n);
void fc_ocpp__registry_free(fc_ocpp_t *o);
void fc_ocpp__registry_tick(fc_ocpp_t *o);
/* May a charger that is not in the registry (id) connect now? 0, or the HTTP
 * status to refuse it with: 503 (unknown-max connected), 429 (unknown-rate).
 * Counts and logs refusals (once a minute). */
unsigned fc_ocpp__unknown_admit(fc_ocpp_t *o, const char *id);

/* Handlers, one per charger-initiated action (h_*.c). */
typedef void (*fc_handler_fn)(fc_call_t *c);
void fc_ocpp__h_authorize(fc_call_t *c);
void fc_ocpp__h_boot_notification(fc_call_t *c);
void fc_ocpp__h_data_transfer(fc_call_t *c);
void fc_ocpp__h_diagnostics_status(fc_call_t *c);
void fc_ocpp__h_firmware_status(fc_call_t *c);
void fc_ocpp__h_heartbeat(fc_call_t *c);
void fc_ocpp__h_meter_values(fc_call_t *c);
void fc_ocpp__h_start_transaction(fc_call_t *c);
void fc_ocpp__h_status_notification(fc_call_t *c);
void fc_ocpp__h_stop_transaction(fc_call_t *c);

/* id_tag.c: the idTagInfo for a tag lookup (r may be NULL when unknown). */
json_t *fc_ocpp__id_tag_info(fc_ocpp_t *o, const fc_tag_rec_t *tag, int status);

/* cpstate.c */
/* The charger's state (created empty when new). */
fc_cpstate_t *fc_ocpp__cpstate(fc_ocpp_t *o, const char *charger);
fc_cpconn_t *fc_ocpp__cpconn(fc_ocpp_t *o, const char *charger, int connector);
/* The state of c's charger's connector as c's write will leave it: a copy
 * (borrowed, valid while c lives) for the handler to judge by and change.
 * The changes reach the connector only once the write has committed
 * (fc_ocpp__staged_apply): a write that fails changes nothing, and the
 * charger's retry finds the state it found the first time. */
fc_cpconn_t *fc_ocpp__stage(fc_call_t *c, int connector);
/* Once committed, compare soc with the connector's target (target_soc.c). */
void fc_ocpp__stage_soc(fc_call_t *c, int connector, double soc);
/* Applies what c staged, field by field (only the fields it changed, so that
 * what others changed meanwhile stays), then c->apply_fn. Status 0 only. */
void fc_ocpp__staged_apply(fc_call_t *c, fc_write_t *w);
void fc_ocpp__staged_free(fc_call_t *c);
/* Adds a register reading to the running transaction's energy; returns it. */
double fc_ocpp__energy_add(fc_cpconn_t *k, double reg);
/* Minutes from the running transaction's start to ts_ms (0 when unknown):
 * the charging time the tariff charges for, by the messages' own clocks. */
double fc_ocpp__tx_minutes(const fc_cpconn_t *k, long long ts_ms);
void fc_ocpp__cpstates_free(fc_ocpp_t *o);
/* The running transaction's cost event at ts_ms, with energy_wh delivered
 * (minutes rounded to 0.01, by the tariff); its strings borrow o. */
fc_ev_cost_t fc_ocpp__cost(const fc_ocpp_t *o, const fc_cpconn_t *k, double energy_wh,
                           long long ts_ms);
/* Callback of writes that carry events but no answer: publishes them. */
void fc_ocpp__write_published(fc_write_t *w, int status, void *arg);

/* h_precharge.c */
void fc_ocpp__precharge_register(fc_ocpp_t *o);
/* A precharge event for a SoC that arrived in MeterValues (the vehicle known
 * from an earlier PreChargeData), added to w; nothing if unknown. */
void fc_ocpp__precharge_soc(fc_ocpp_t *o, fc_write_t *w, const char *charger, fc_cpconn_t *k,
                            double soc, long long ts_ms);

/* target_soc.c: adds "stoppedBy":"targetSoc" (and the target) to the data
 * of transaction tx's transaction.stopped event when the rule stopped it. */
void fc_ocpp__target_soc_stopped(fc_cpconn_t *k, int64_t tx, fc_ev_tx_stopped_t *ev);
/* Transaction tx started on k: it takes the target waiting for it. */
void fc_ocpp__target_soc_started(fc_cpconn_t *k, int64_t tx);
/* A SoC reported for k's running transaction: sends RemoteStopTransaction
 * (once) when it reaches the target. */
void fc_ocpp__target_soc_check(fc_ocpp_t *o, const char *charger, fc_cpconn_t *k, double soc);

/* bounds.c: what a charger may make us keep.
 *
 * Sets o->max_connector and o->max_skew_ms from the configuration: the
 * connector bound is --max-connectors, lowered (with a warning) to what a
 * snapshot that fits a browser's queue (--ui-queue-hard) can hold. */
void fc_ocpp__bounds_init(fc_ocpp_t *o);
/* True when v (a payload's connectorId, read 64-bit) is 0..max_connector,
 * and then *out is it; else counts the refusal and logs it (once per
 * charger per interval). v NULL: true with *out 0. */
bool fc_ocpp__connector_ok(fc_ocpp_t *o, const char *charger, const json_t *v, int *out);
/* A message's own time in ms, from ts (an OCPP date-time; NULL or bad: now).
 * One more than max_skew_ms ahead of our clock orders nothing: the arrival
 * time (now) is returned and *skewed set, counted and logged (once per
 * charger per interval). */
long long fc_ocpp__stamp(fc_ocpp_t *o, const char *charger, const char *ts, bool *skewed);

/* "currentTime" etc.: now as an OCPP date-time string (a new json string). */
json_t *fc_ocpp__json_now(void);

#endif
