/* Store internals, shared by store.c and the backends (sqlite/, later pg/).
 *
 * store.c owns the threads, queues, retries and the breaker; a backend only
 * knows how to run one thing on one connection: it fills an
 * fc_store_backend_t (below; sqlite/conn.c's fc_store__sqlite) and keeps
 * store.h's promises for each op and read. A connection is used by one
 * thread at a time (the writer's by the writer thread, each reader's by its
 * reader thread, the admin's by the CLI).
 *
 * Backend return codes tell store.c what to do next:
 *   0             done;
 *   FC_ERR_STORE  this op / read failed on its own (bad payload, a constraint):
 *                 roll back its write's savepoint, the batch goes on;
 *   UV_E*         the connection or transaction failed (I/O error, disk full,
 *                 database busy): roll back the whole batch and retry it. */
#ifndef FC_STORE_INT_H
#define FC_STORE_INT_H

#include "store/store.h"

struct fc_write {
  fc_op_t **ops; /* each op allocated on its own: the constructors' pointers stay valid */
  size_t n, cap;
  fc_write_cb cb;
  void *arg;
  int status;
  bool lazy;             /* fc_write_set_lazy */
  uint64_t queued_ns;    /* uv_hrtime() when submitted */
  struct fc_write *next; /* queue link */
};

/* fc_read_t's private slots. */
#define FC_READ__NEXT(r) ((r)->_priv[0])
#define FC_READ__CB(r) ((r)->_priv[1])
#define FC_READ__ARG(r) ((r)->_priv[2])
#define FC_READ__STATUS(r) ((r)->_priv[3])

typedef enum {
  FC_STORE__WRITER, /* the writer thread's connection: fault VFS shim when opts->fault_file */
  FC_STORE__READER, /* a reader thread's connection: query_only */
  FC_STORE__ADMIN,  /* the CLI's connection */
} fc_store_role_t;

typedef struct fc_store_conn fc_store_conn_t;

typedef struct fc_store_backend {
  const char *name;
  /* Opens a connection to opts->path (creating the database if needed). */
  int (*open)(const fc_store_opts_t *opts, fc_store_role_t role, fc_store_conn_t **out);
  void (*close)(fc_store_conn_t *c); /* NULL is fine */
  /* Applies pending schema migrations, each in its own transaction. */
  int (*migrate)(fc_store_conn_t *c);
  /* Write transactions: begin takes the write lock at once. rollback is
   * best-effort (the transaction may be gone already after an I/O error). */
  int (*begin)(fc_store_conn_t *c);
  int (*commit)(fc_store_conn_t *c);
  void (*rollback)(fc_store_conn_t *c);
  /* The savepoint around one write inside the batch transaction. */
  int (*savepoint)(fc_store_conn_t *c);
  int (*release)(fc_store_conn_t *c);
  int (*rollback_to)(fc_store_conn_t *c); /* rolls back and releases */
  /* Runs one op inside the open transaction, as store.h says of its kind,
   * binding its typed fields and filling op->out. tx_id: for FC_OP_EVENT with
   * take_tx_id, the out.id of the latest FC_OP_TX_START earlier in the same
   * write, else 0 (store.c applies the event rules of store.h; a skipped
   * event never gets here). */
  int (*exec_op)(fc_store_conn_t *c, fc_op_t *op, int64_t tx_id);
  /* Runs one read (its own implicit transaction), filling r->out_*. */
  int (*exec_read)(fc_store_conn_t *c, fc_read_t *r);
  /* A small write transaction of its own, to test whether writes work again;
   * when it returns 0, everything committed before is durable. */
  int (*probe)(fc_store_conn_t *c);
  /* Makes every commit so far durable, where commit does not wait for the
   * disk itself (NULL where it does). Called by the sync thread while the
   * writer thread uses the connection; thread-safe with it. */
  int (*sync)(fc_store_conn_t *c);
  /* Inside the open transaction: deletes at most limit events older than
   * before_ms, never the latest non-late event of a (charger, type,
   * connector). *deleted: how many went. */
  int (*prune_events)(fc_store_conn_t *c, long long before_ms, unsigned limit, unsigned *deleted);
  int (*prune_frames)(fc_store_conn_t *c, long long before_ms, unsigned limit, unsigned *deleted);
  /* fc_store_load_latest_events on a reader connection, in one snapshot. */
  int (*load_latest_events)(fc_store_conn_t *c,
                            void (*cb)(const char *charger, int64_t seq, const char *json,
                                       void *arg),
                            void *arg);
  /* fc_store_load_left_online on a reader connection, in one snapshot. */
  int (*left_online)(fc_store_conn_t *c,
                     void (*cb)(const char *charger, int64_t conn_id, long long since_ms,
                                void *arg),
                     void *arg, int64_t *max_conn_id);
} fc_store_backend_t;

extern const fc_store_backend_t fc_store__sqlite;

/* An RFC 3339 date-time (core/datetime.h) into ms since the epoch. Returns 0
 * and *ms_out, or FC_ERR_INVAL. */
int fc_store__parse_time(const char *s, long long *ms_out);
/* The inverse: "2026-11-26T10:00:00.123Z" (UTC, always milliseconds) into
 * buf. Years outside 0000-9999 still format, with more digits or a sign. */
#define FC_STORE__TIME_LEN 32
void fc_store__format_time(long long ms, char buf[FC_STORE__TIME_LEN]);
/* Wall-clock time, ms since the epoch. */
long long fc_store__now_ms(void);
/* op.c: frees an op, its arena and its results. */
void fc_store__op_free(fc_op_t *op);

/* json.c. An FC_OP_EVENT's one serialisation (store.h), with seq, and its
 * data's "transactionId" written as tx_id when tx_id > 0 (take_tx_id); reads
 * op->event.data only. fc_malloc'd (caller frees), *len its length; NULL if
 * a string is not valid UTF-8. */
char *fc_store__event_json(const fc_op_t *op, int64_t seq, int64_t tx_id, size_t *len);
/* A reading's sampled values as a JSON array of objects, each with the
 * members that are not NULL ("value", "context", "format", "measurand",
 * "phase", "location", "unit"), for meter_readings.sampled. fc_malloc'd
 * (caller frees); NULL if a string is not valid UTF-8. */
char *fc_store__sampled_json(const fc_op_reading_t *r, size_t *len);
/* Compact JSON text of j (reals with 15 significant digits), for the reads;
 * fc_malloc'd (caller frees); NULL on failure. */
char *fc_store__json_dump(const json_t *j, size_t *len);
/* Compact JSON text of j, the same bytes as jansson's json_dumps(JSON_COMPACT
 * | JSON_ENCODE_ANY | JSON_REAL_PRECISION(precision)) (precision 0: 17);
 * fc_malloc'd (caller frees), *len its length (len may be NULL); NULL when
 * j is. */
char *fc_store__json_text(const json_t *j, int precision, size_t *len);

/* disk.c: the free bytes on db_path's filesystem (or what the fault file's
 * "free BYTES" says). 0 or a negative errno. Any thread. */
int fc_store__disk_free(const char *db_path, const char *fault_file, uint64_t *out);

#endif
