/* The store's generic part: write and read objects, queues, the writer and
 * reader threads, group commit, retries, the circuit breaker, completion
 * delivery on the loop thread, drain and close. Backends (store_int.h) only
 * run things on a connection.
 *
 * Threads and locks. One mutex (mu) guards the queues and the flags the
 * threads share; it is held only to move list heads around, never across
 * database work, logging or callbacks, so the loop thread never waits behind
 * the disk:
 *
 *   loop ──submit──▶ pend ──▶ writer thread ──▶ sq ──▶ sync thread ──▶ done ──┐
 *   loop ──read────▶ rpend ─▶ reader threads ─────────────────────────▶ rdone ─┼─ uv_async ─▶ loop
 *                             health changes ─────────────────────────────▶ hev ───┘   callbacks
 *
 * Group commit. The writer takes everything queued (up to batch_max), runs
 * it in one BEGIN IMMEDIATE ... COMMIT. A write whose op fails (a payload the
 * store cannot take) fails alone: the batch is rolled back and run once more
 * with a SAVEPOINT around each write, and the failing write is rolled back to
 * its savepoint. Batches run without savepoints until then, because a
 * savepoint keeps a copy of every page its write changes: with one per write,
 * those copies cost more than the rare re-run. If BEGIN or COMMIT fails (I/O
 * error, disk full, busy), the whole batch is rolled back and re-run after
 * retry_base_ms * 2^k, up to retry_max times; then every write of the batch
 * fails. Completions go back in queue (= commit) order.
 *
 * The sync thread. Where the backend's commit does not wait for the disk
 * (be->sync: sqlite, conn.c), the writer hands each committed batch to the
 * sync thread and goes on with the next batch; the sync thread makes
 * everything committed so far durable with one be->sync and only then
 * moves the batches to `done`. So a batch's fsync overlaps the next batch's
 * statements, and the writer, which waited for its fsync half the time
 * under load, works all of it. Everything the writer finishes, failed
 * batches too, goes through the sync queue, so callbacks keep queue order.
 * A failed sync is not retried (conn.c says why): the writes it was to
 * confirm fail, the store is poisoned (every batch committed after fails
 * too, synced or not) and the breaker opens. Only a probe clears it, and
 * the probe makes everything committed durable first.
 *
 * Lazy writes (fc_write_set_lazy) do not start a batch: while only lazy
 * writes are queued, the writer waits until a write that is not lazy comes,
 * the oldest lazy one is FC_STORE_LAZY_MS old, or a drain asks for everything.
 * The raw frame of an answer is logged after the answer is sent (so that the
 * log says what was sent), that is once its call's write has committed; at
 * low load that was a commit of its own, with its own fsync, for every
 * message. Lazy, it goes with the next message's commit.
 *
 * Breaker. breaker_threshold consecutive failed batches open it: health goes
 * DOWN, the queued writes fail at once, fc_store_submit refuses new ones, and
 * the writer runs a probe write every probe_interval_ms; the first success
 * closes it (OK). While a batch is being retried the health is DEGRADED.
 *
 * Disk watermarks. A thread of its own (fc-disk) reads the free space of the
 * database's filesystem every disk_check_ms (disk.c; a statvfs, which may
 * block on a network filesystem, so never on the loop). Below the first
 * watermark the frame log stops (fc_store_frame_log_ok, read by the callers
 * that add frames); below the second, fc_store_submit refuses writes before
 * they are queued: an answer refused is retried by the charger, one
 * confirmed and then lost is not. Changes reach the loop as health events.
 *
 * Lifetime on the loop side: `outstanding` counts writes and reads whose
 * callback has not run; the async handle is ref'd only while something is
 * outstanding (or a drain is pending), so a loop that has nothing else to do
 * returns once every callback has run. */
#include "store/store_int.h"

#include "core/err.h"
#include "core/mem.h"
#include "core/thread.h"
#include "log/log.h"

#include <assert.h>
#include <stdatomic.h>
#include <string.h>

typedef struct health_ev {
  fc_store_health_t state; /* or, when disk, the fc_store_disk_t */
  bool disk;
  uint64_t free_bytes;
  struct health_ev *next;
} health_ev_t;

/* A batch the writer is done with, on its way to the loop through the sync
 * thread. sync: committed, to be synced before its writes are confirmed;
 * else its writes have their status already (failed). */
typedef struct sync_batch {
  fc_write_t *first, *last;
  size_t n, failed; /* writes; of them, failed alone inside the commit */
  uint64_t t0;      /* when the batch started (hrtime), for the commit time */
  bool sync;
  struct sync_batch *next;
} sync_batch_t;

typedef struct reader {
  fc_store_t *s;
  fc_store_conn_t *conn;
  uv_thread_t thread;
} reader_t;

struct fc_store {
  uv_loop_t *loop;
  fc_store_opts_t opts; /* with defaults; path and fault_file are our copies */
  const fc_store_backend_t *be;
  fc_store_conn_t *wconn;
  reader_t *readers;
  unsigned nreaders, readers_started;
  uv_thread_t writer, syncer, disker;
  bool writer_started, syncer_started, disker_started;
  uv_async_t async;

  /* ---- shared, under mu ---- */
  uv_mutex_t mu;
  uv_cond_t wcv; /* writer: writes queued, stop */
  uv_cond_t rcv; /* readers: reads queued, stop */
  uv_cond_t scv; /* sync thread: batches queued, sync_stop */
  uv_cond_t dcv; /* disk thread: stop */
  fc_write_t *pend, *pend_tail;
  size_t pend_n, pend_urgent; /* queued writes; of them, not lazy */
  bool flush;                 /* draining: lazy writes wait no more */
  sync_batch_t *sq, *sq_tail; /* to the sync thread */
  bool sync_stop;             /* the writer has stopped: sync what is queued, then stop */
  bool poisoned;              /* a sync failed: no batch is confirmed until a probe works */
  fc_write_t *done, *done_tail;
  fc_read_t *rpend, *rpend_tail;
  fc_read_t *rdone, *rdone_tail;
  health_ev_t *hev, *hev_tail;
  bool stop;
  bool breaker_open;
  atomic_int health;
  atomic_int disk; /* fc_store_disk_t */
  atomic_uint_least64_t disk_free;
  atomic_uint_least64_t disk_refused;

  uv_mutex_t stats_mu;
  fc_store_stats_t st; /* queue_depth unused here: pend_n */

  /* ---- writer thread only ---- */
  unsigned failed_batches; /* consecutive */
  long long prune_at_ms;   /* next event pruning due (0: with the first batch) */

  /* ---- loop thread only ---- */
  size_t outstanding;
  bool draining, closing;
  void (*drain_cb)(void *arg);
  void *drain_arg;
  fc_store_health_cb health_cb;
  void *health_arg;
  fc_store_disk_cb disk_cb;
  void *disk_arg;
};

/* ---- writes ---------------------------------------------------------------- */

fc_write_t *fc_write_new(void)
{
  return fc_calloc(1, sizeof(fc_write_t));
}

void fc_write_set_lazy(fc_write_t *w)
{
  w->lazy = true;
}

size_t fc_write_count(const fc_write_t *w)
{
  return w->n;
}

fc_op_t *fc_write_op(fc_write_t *w, size_t i)
{
  return i < w->n ? w->ops[i] : NULL;
}

void fc_write_free(fc_write_t *w)
{
  if (!w) return;
  for (size_t i = 0; i < w->n; i++)
    fc_store__op_free(w->ops[i]);
  fc_free(w->ops);
  fc_free(w);
}

/* ---- loop side: reference counting of the async handle -------------------- */

static void update_ref(fc_store_t *s)
{
  if (s->outstanding > 0 || s->drain_cb)
    uv_ref((uv_handle_t *)&s->async);
  else
    uv_unref((uv_handle_t *)&s->async);
}

static void maybe_drained(fc_store_t *s)
{
  if (s->draining && s->drain_cb && s->outstanding == 0) {
    void (*cb)(void *) = s->drain_cb;
    s->drain_cb = NULL;
    update_ref(s);
    cb(s->drain_arg);
  }
}

/* ---- health ---------------------------------------------------------------- */

/* Under mu. Queues the change for the loop thread; true if it was one (the
 * caller logs it and wakes the loop after unlocking). */
static bool health_change(fc_store_t *s, fc_store_health_t state)
{
  if (atomic_load(&s->health) == (int)state) return false;
  atomic_store(&s->health, (int)state);
  health_ev_t *ev = fc_calloc(1, sizeof(*ev));
  ev->state = state;
  if (s->hev_tail)
    s->hev_tail->next = ev;
  else
    s->hev = ev;
  s->hev_tail = ev;
  return true;
}

static void health_log(fc_store_health_t state)
{
  if (state == FC_STORE_DOWN)
    fc_log(FC_LOG_ERROR, NULL, "event=store_health state=down breaker=open");
  else if (state == FC_STORE_DEGRADED)
    fc_log(FC_LOG_WARN, NULL, "event=store_health state=degraded");
  else
    fc_log(FC_LOG_NOTICE, NULL, "event=store_health state=ok");
}

static void health_set(fc_store_t *s, fc_store_health_t state)
{
  uv_mutex_lock(&s->mu);
  bool changed = health_change(s, state);
  uv_mutex_unlock(&s->mu);
  if (changed) {
    health_log(state);
    uv_async_send(&s->async);
  }
}

/* ---- the writer thread ----------------------------------------------------- */

/* The bucket of a latency in the stats' histograms (store.h). */
static unsigned hist_bucket(uint64_t us)
{
  static const uint64_t bounds[] = {100,   250,   500,   1000,   2500,  5000,
                                    10000, 25000, 50000, 100000, 250000};
  unsigned b = 0;
  while (b < FC_ARRAY_SIZE(bounds) && us > bounds[b])
    b++;
  return b;
}

static void stats_commit(fc_store_t *s, uint64_t us, size_t ok, size_t failed)
{
  unsigned b = hist_bucket(us);
  uv_mutex_lock(&s->stats_mu);
  s->st.commits++;
  s->st.commit_us_sum += us;
  s->st.commit_us_hist[b]++;
  s->st.writes_ok += ok;
  s->st.writes_failed += failed;
  uv_mutex_unlock(&s->stats_mu);
}

static void stats_sync(fc_store_t *s, uint64_t us)
{
  unsigned b = hist_bucket(us);
  uv_mutex_lock(&s->stats_mu);
  s->st.syncs++;
  s->st.sync_us_sum += us;
  s->st.sync_us_hist[b]++;
  uv_mutex_unlock(&s->stats_mu);
}

static void stats_add(fc_store_t *s, uint64_t commit_failures, uint64_t writes_failed)
{
  uv_mutex_lock(&s->stats_mu);
  s->st.commit_failures += commit_failures;
  s->st.writes_failed += writes_failed;
  uv_mutex_unlock(&s->stats_mu);
}

/* A write's results go when it did not commit: an event that was rolled back
 * has no seq and no text (the bus publishes an event only with its text). */
static void clear_results(fc_write_t *w)
{
  for (size_t i = 0; i < w->n; i++) {
    fc_op_t *op = w->ops[i];
    op->out.id = 0;
    op->out.outcome = FC_OUT_NEW;
    FC_FREE(op->out.text);
    op->out.len = 0;
  }
}

/* Fails every write of a list (first, linked by next) that did not commit or
 * was never confirmed. */
static void fail_writes(fc_write_t *first)
{
  for (fc_write_t *w = first; w; w = w->next) {
    w->status = FC_ERR_STORE;
    clear_results(w);
  }
}

/* The rules of store.h that tie event i of w to the data ops before it in
 * the same write. Returns true if the event is to be skipped (skip_repeat,
 * and the latest earlier TX_START, TX_STOP, METER or STATUS stored nothing
 * new: a charger's retry); *tx_id = the latest earlier TX_START's out.id
 * when the event takes it (take_tx_id), else 0. */
static bool event_rules(const fc_write_t *w, size_t i, int64_t *tx_id)
{
  const fc_op_t *start = NULL, *last = NULL, *ev = w->ops[i];
  for (size_t j = 0; j < i; j++) {
    const fc_op_t *o = w->ops[j];
    if (o->kind == FC_OP_TX_START) start = o;
    if (o->kind == FC_OP_TX_START || o->kind == FC_OP_TX_STOP || o->kind == FC_OP_METER ||
        o->kind == FC_OP_STATUS)
      last = o;
  }
  *tx_id = start && ev->event.take_tx_id ? start->out.id : 0;
  return ev->event.skip_repeat && last && last->out.outcome == FC_OUT_REPEAT;
}

/* Event retention: with the first batch, then at most every
 * prune_interval_ms, the batch transaction also deletes up to prune_limit
 * expired events, in a savepoint of its own so that its failure costs no
 * write anything. While a pass finds a full prune_limit, the next batch
 * prunes again. Small passes often, not large ones seldom: the events of a
 * busy site expire at the rate they came (1,000 chargers at one MeterValues
 * a second: 1,000 a second), and an hourly pass would owe millions, deleted
 * thousands per batch for minutes, each of those commits (and the chargers
 * waiting on it) the slower for it. At 500 per pass a batch pays a few
 * milliseconds at most, and a backlog still drains at 500 per commit.
 * The raw frame log (frame_retention_days) is pruned in the same passes, by
 * its time index: *deleted is the larger of the two counts, so that either
 * one's backlog brings the next batch back. */
static int prune(fc_store_t *s, unsigned *deleted)
{
  const fc_store_backend_t *be = s->be;
  fc_store_conn_t *c = s->wconn;
  long long now = fc_store__now_ms();
  long long events_before = now - (long long)s->opts.event_retention_days * 86400000LL;
  long long frames_before = now - (long long)s->opts.frame_retention_days * 86400000LL;
  unsigned events = 0, frames = 0;
  int rc = be->savepoint(c);
  if (rc) return rc;
  rc = be->prune_events(c, events_before, s->opts.prune_limit, &events);
  if (rc == 0) rc = be->prune_frames(c, frames_before, s->opts.prune_limit, &frames);
  if (rc == 0) {
    *deleted = events > frames ? events : frames;
    if (events || frames)
      fc_log(FC_LOG_DEBUG, NULL, "event=store_pruned events=%u frames=%u", events, frames);
    return be->release(c);
  }
  if (rc != FC_ERR_STORE) return rc;
  *deleted = 0;
  return be->rollback_to(c); /* logged by the backend; tried again next interval */
}

/* One attempt at the batch. 0 = committed (each write's status says whether
 * it made it); else the transaction failed as a whole. *pruned: events
 * deleted by retention (-1: none was due). isolate: each write in a savepoint
 * of its own, and a write whose op fails is rolled back alone; without,
 * such a write sets *write_failed and ends the attempt (FC_ERR_STORE). */
static int try_batch(fc_store_t *s, fc_write_t *batch, long *pruned, bool isolate,
                     bool *write_failed)
{
  const fc_store_backend_t *be = s->be;
  fc_store_conn_t *c = s->wconn;
  int rc = be->begin(c);
  if (rc) return rc;
  *pruned = -1;
  if (fc_store__now_ms() >= s->prune_at_ms) {
    unsigned deleted = 0;
    if ((rc = prune(s, &deleted))) return rc;
    *pruned = deleted;
  }
  for (fc_write_t *w = batch; w; w = w->next) {
    w->status = 0;
    clear_results(w); /* a retried batch starts afresh */
    if (isolate && (rc = be->savepoint(c))) return rc;
    for (size_t i = 0; i < w->n && rc == 0; i++) {
      fc_op_t *op = w->ops[i];
      int64_t tx_id = 0;
      if (op->kind == FC_OP_EVENT && event_rules(w, i, &tx_id)) continue;
      rc = be->exec_op(c, op, tx_id);
    }
    if (rc == 0) {
      if (isolate && (rc = be->release(c))) return rc;
    } else if (rc == FC_ERR_STORE && !isolate) {
      *write_failed = true;
      return rc;
    } else if (rc == FC_ERR_STORE) {
      if ((rc = be->rollback_to(c))) return rc;
      w->status = FC_ERR_STORE;
      clear_results(w);
    } else {
      return rc;
    }
  }
  return be->commit(c);
}

/* Runs a batch to its end: committed (true; *t0: when the attempt that
 * committed started; *failed: its writes that failed alone), or failed after
 * the retries (false; every write has failed). */
static bool run_batch(fc_store_t *s, fc_write_t *batch, size_t n, uint64_t *t0, size_t *failed)
{
  int rc = 0;
  bool isolate = false;
  unsigned attempt = 0;
  *t0 = uv_hrtime();
  for (;;) {
    long pruned = -1;
    bool write_failed = false;
    rc = try_batch(s, batch, &pruned, isolate, &write_failed);
    if (write_failed) {
      /* a write of the batch fails on its own: again, each write in a
       * savepoint (not a failed attempt; its time counts with the commit) */
      s->be->rollback(s->wconn);
      isolate = true;
      continue;
    }
    if (rc == 0) {
      if (pruned >= 0) {
        s->prune_at_ms = pruned >= s->opts.prune_limit
                             ? 0
                             : fc_store__now_ms() + (long long)s->opts.prune_interval_ms;
      }
      *failed = 0;
      for (fc_write_t *w = batch; w; w = w->next)
        *failed += w->status != 0;
      s->failed_batches = 0;
      if (atomic_load(&s->health) == FC_STORE_DEGRADED) health_set(s, FC_STORE_OK);
      return true;
    }
    s->be->rollback(s->wconn);
    stats_add(s, 1, 0);
    fc_log(FC_LOG_WARN, NULL, "event=store_commit_failed attempt=%u writes=%zu err=%s", attempt + 1,
           n, fc_err_name(rc));
    if (attempt >= s->opts.retry_max) break;
    if (atomic_load(&s->health) == FC_STORE_OK) health_set(s, FC_STORE_DEGRADED);
    uv_sleep(s->opts.retry_base_ms << (attempt < 16 ? attempt : 16));
    attempt++;
    *t0 = uv_hrtime();
  }
  fail_writes(batch);
  stats_add(s, 0, n);
  fc_log(FC_LOG_ERROR, NULL, "event=store_batch_failed writes=%zu err=%s", n, fc_err_name(rc));
  return false;
}

/* Under mu: queues a finished batch (first..last) for the sync thread. */
static void sync_push(fc_store_t *s, fc_write_t *first, fc_write_t *last, size_t n, size_t failed,
                      uint64_t t0, bool sync)
{
  sync_batch_t *b = fc_malloc(sizeof(*b));
  *b = (sync_batch_t){first, last, n, failed, t0, sync, NULL};
  if (s->sq_tail)
    s->sq_tail->next = b;
  else
    s->sq = b;
  s->sq_tail = b;
  uv_cond_signal(&s->scv);
}

/* Under mu, with the breaker open: the queued writes would only wait for a
 * disk that is not there. They fail now, so that chargers get their
 * CALLERROR within seconds, through the sync queue, behind the batches
 * before them (callbacks keep queue order). They are counted before they
 * are handed on: the sync thread may deliver them at once, and whoever sees
 * a callback must see its write counted in the stats. */
static void fail_queued(fc_store_t *s)
{
  size_t n = 0;
  if (!s->pend) return;
  for (fc_write_t *w = s->pend; w; w = w->next) {
    w->status = FC_ERR_STORE;
    n++;
  }
  stats_add(s, 0, n); /* stats_mu nests inside mu, never the other way */
  sync_push(s, s->pend, s->pend_tail, n, n, 0, false);
  s->pend = s->pend_tail = NULL;
  s->pend_n = s->pend_urgent = 0;
}

/* Under mu; returns with mu held. Sleeps until the next probe (or stop), runs
 * it, and closes the breaker if it worked. */
static void probe_wait_and_run(fc_store_t *s)
{
  uint64_t deadline = uv_hrtime() + (uint64_t)s->opts.probe_interval_ms * 1000000ULL;
  for (;;) {
    uint64_t now = uv_hrtime();
    if (s->stop || now >= deadline) break;
    uv_cond_timedwait(&s->wcv, &s->mu, deadline - now);
  }
  if (s->stop) return;
  uv_mutex_unlock(&s->mu);
  int rc = s->be->probe(s->wconn);
  uv_mutex_lock(&s->mu);
  if (rc != 0) {
    stats_add(s, 1, 0);
    return;
  }
  s->breaker_open = false;
  s->poisoned = false; /* what was committed is durable: the probe made it so */
  s->failed_batches = 0;
  bool changed = health_change(s, FC_STORE_OK);
  uv_mutex_unlock(&s->mu);
  fc_log(FC_LOG_NOTICE, NULL, "event=store_breaker_closed");
  if (changed) health_log(FC_STORE_OK);
  uv_async_send(&s->async);
  uv_mutex_lock(&s->mu);
}

/* Under mu: opens the breaker (the writer fails what is queued at its next
 * turn, and fc_store_submit refuses). Returns whether health changed. */
static bool breaker_open(fc_store_t *s)
{
  s->breaker_open = true;
  uv_cond_signal(&s->wcv);
  return health_change(s, FC_STORE_DOWN);
}

static void writer_main(void *arg)
{
  fc_store_t *s = arg;
  fc_thread_name("fc-writer");
  uv_mutex_lock(&s->mu);
  while (!s->stop) {
    if (s->breaker_open) {
      fail_queued(s);
      probe_wait_and_run(s);
      continue;
    }
    if (!s->pend) {
      uv_cond_wait(&s->wcv, &s->mu);
      continue;
    }
    if (!s->pend_urgent && !s->flush) {
      /* only lazy writes: they wait for company, or for their time */
      uint64_t due = s->pend->queued_ns + FC_STORE_LAZY_MS * 1000000ULL, now = uv_hrtime();
      if (now < due) {
        uv_cond_timedwait(&s->wcv, &s->mu, due - now);
        continue;
      }
    }
    /* take up to batch_max writes off the queue */
    fc_write_t *batch = s->pend, *last = batch;
    size_t n = 1, urgent = !batch->lazy;
    while (last->next && n < s->opts.batch_max) {
      last = last->next;
      n++;
      urgent += !last->lazy;
    }
    s->pend = last->next;
    if (!s->pend) s->pend_tail = NULL;
    last->next = NULL;
    s->pend_n -= n;
    s->pend_urgent -= urgent;
    uv_mutex_unlock(&s->mu);

    uint64_t t0;
    size_t failed = n;
    bool committed = run_batch(s, batch, n, &t0, &failed);
    bool open = !committed && ++s->failed_batches >= s->opts.breaker_threshold;

    uv_mutex_lock(&s->mu);
    sync_push(s, batch, last, n, failed, t0, committed);
    if (open) {
      bool changed = breaker_open(s);
      uv_mutex_unlock(&s->mu);
      if (changed) health_log(FC_STORE_DOWN);
      fc_log(FC_LOG_ERROR, NULL, "event=store_breaker_open failed_batches=%u", s->failed_batches);
      uv_mutex_lock(&s->mu);
    }
  }
  uv_mutex_unlock(&s->mu);
}

/* ---- the disk thread ------------------------------------------------------- */

static fc_store_disk_t disk_level(const fc_store_t *s, uint64_t free_bytes)
{
  if (s->opts.store_min_free && free_bytes < s->opts.store_min_free) return FC_DISK_CRITICAL;
  if (s->opts.frame_log_min_free && free_bytes < s->opts.frame_log_min_free) return FC_DISK_LOW;
  return FC_DISK_OK;
}

/* Checks the free space; a change is logged and queued for the loop (true). */
static bool disk_check(fc_store_t *s)
{
  uint64_t free_bytes = 0;
  int rc = fc_store__disk_free(s->opts.path, s->opts.fault_file, &free_bytes);
  if (rc < 0) {
    fc_log(FC_LOG_DEBUG, NULL, "event=disk_check_failed err=%s", fc_err_name(rc));
    return false;
  }
  atomic_store(&s->disk_free, free_bytes);
  fc_store_disk_t level = disk_level(s, free_bytes);
  if (atomic_load(&s->disk) == (int)level) return false;
  atomic_store(&s->disk, (int)level);
  unsigned long long fb = (unsigned long long)free_bytes;
  if (level == FC_DISK_CRITICAL)
    fc_log(FC_LOG_ERROR, NULL,
           "event=disk_critical free_bytes=%llu store_min_free=%llu msg=\"store refuses writes\"",
           fb, (unsigned long long)s->opts.store_min_free);
  else if (level == FC_DISK_LOW)
    fc_log(FC_LOG_WARN, NULL,
           "event=disk_low free_bytes=%llu frame_log_min_free=%llu msg=\"frame log stopped\"", fb,
           (unsigned long long)s->opts.frame_log_min_free);
  else
    fc_log(FC_LOG_NOTICE, NULL, "event=disk_ok free_bytes=%llu", fb);
  health_ev_t *ev = fc_calloc(1, sizeof(*ev));
  ev->disk = true;
  ev->state = (fc_store_health_t)level;
  ev->free_bytes = free_bytes;
  uv_mutex_lock(&s->mu);
  if (s->hev_tail)
    s->hev_tail->next = ev;
  else
    s->hev = ev;
  s->hev_tail = ev;
  uv_mutex_unlock(&s->mu);
  return true;
}

static void disk_main(void *arg)
{
  fc_store_t *s = arg;
  fc_thread_name("fc-disk");
  uv_mutex_lock(&s->mu);
  while (!s->stop) {
    uv_cond_timedwait(&s->dcv, &s->mu, (uint64_t)s->opts.disk_check_ms * 1000000ULL);
    if (s->stop) break;
    uv_mutex_unlock(&s->mu);
    bool changed = disk_check(s);
    if (changed) uv_async_send(&s->async);
    uv_mutex_lock(&s->mu);
  }
  uv_mutex_unlock(&s->mu);
}

/* ---- the sync thread ------------------------------------------------------- */

static void syncer_main(void *arg)
{
  fc_store_t *s = arg;
  fc_thread_name("fc-sync");
  uv_mutex_lock(&s->mu);
  for (;;) {
    while (!s->sq && !s->sync_stop)
      uv_cond_wait(&s->scv, &s->mu);
    if (!s->sq) break;
    sync_batch_t *list = s->sq;
    s->sq = s->sq_tail = NULL;
    bool poisoned = s->poisoned;
    uv_mutex_unlock(&s->mu);

    bool need = false;
    for (sync_batch_t *b = list; b; b = b->next)
      need |= b->sync;
    int rc = 0;
    uint64_t t0 = uv_hrtime();
    if (need && poisoned) {
      rc = FC_ERR_STORE_DOWN;
    } else if (need && s->be->sync) {
      rc = s->be->sync(s->wconn);
      if (rc == 0) stats_sync(s, (uv_hrtime() - t0) / 1000);
    }

    /* the batches' writes, in order, confirmed or failed */
    uint64_t now = uv_hrtime();
    fc_write_t *first = NULL, *last = NULL;
    size_t lost = 0;
    while (list) {
      sync_batch_t *b = list;
      list = b->next;
      if (b->sync && rc == 0) {
        stats_commit(s, (now - b->t0) / 1000, b->n - b->failed, b->failed);
      } else if (b->sync) {
        fail_writes(b->first);
        lost += b->n;
      }
      if (last)
        last->next = b->first;
      else
        first = b->first;
      last = b->last;
      fc_free(b);
    }
    if (lost) stats_add(s, !poisoned, lost);

    uv_mutex_lock(&s->mu);
    if (s->done_tail)
      s->done_tail->next = first;
    else
      s->done = first;
    s->done_tail = last;
    bool failed_now = rc && !poisoned, changed = false;
    if (failed_now) {
      s->poisoned = true;
      changed = breaker_open(s);
    }
    uv_mutex_unlock(&s->mu);
    if (failed_now) {
      if (changed) health_log(FC_STORE_DOWN);
      fc_log(FC_LOG_ERROR, NULL, "event=store_breaker_open sync_failed=1 writes_failed=%zu", lost);
    }
    uv_async_send(&s->async);
    uv_mutex_lock(&s->mu);
  }
  uv_mutex_unlock(&s->mu);
}

/* ---- reader threads -------------------------------------------------------- */

static void reader_main(void *arg)
{
  reader_t *rd = arg;
  fc_store_t *s = rd->s;
  fc_thread_name("fc-reader");
  uv_mutex_lock(&s->mu);
  for (;;) {
    while (!s->stop && !s->rpend)
      uv_cond_wait(&s->rcv, &s->mu);
    if (s->stop) break;
    fc_read_t *r = s->rpend;
    s->rpend = FC_READ__NEXT(r);
    if (!s->rpend) s->rpend_tail = NULL;
    FC_READ__NEXT(r) = NULL;
    uv_mutex_unlock(&s->mu);

    int rc = s->be->exec_read(rd->conn, r);
    if (rc != 0 && rc != FC_ERR_NOTFOUND) rc = FC_ERR_STORE;
    FC_READ__STATUS(r) = (void *)(intptr_t)rc;

    uv_mutex_lock(&s->mu);
    if (s->rdone_tail)
      FC_READ__NEXT((fc_read_t *)s->rdone_tail) = r;
    else
      s->rdone = r;
    s->rdone_tail = r;
    uv_mutex_unlock(&s->mu);
    uv_async_send(&s->async);
    uv_mutex_lock(&s->mu);
  }
  uv_mutex_unlock(&s->mu);
}

/* ---- loop side: completions ------------------------------------------------ */

static void read_free(fc_read_t *r)
{
  fc_charger_recs_free(r->out_chargers, r->out_count);
  fc_free(r->out_text);
  if (r->out_texts) {
    for (size_t i = 0; i < r->out_count; i++)
      fc_free(r->out_texts[i]);
    fc_free(r->out_texts);
  }
  for (size_t i = 0; i < r->scope_count; i++)
    fc_free(r->scope[i]);
  fc_free(r->scope);
  fc_free(r);
}

static void deliver_writes(fc_store_t *s, fc_write_t *w, int override)
{
  while (w) {
    fc_write_t *next = w->next;
    w->next = NULL;
    w->cb(w, override ? override : w->status, w->arg);
    fc_write_free(w);
    s->outstanding--;
    w = next;
  }
}

static void deliver_reads(fc_store_t *s, fc_read_t *r, int override)
{
  while (r) {
    fc_read_t *next = FC_READ__NEXT(r);
    fc_read_cb cb = (fc_read_cb)(uintptr_t)FC_READ__CB(r);
    int status = override ? override : (int)(intptr_t)FC_READ__STATUS(r);
    cb(r, status, FC_READ__ARG(r));
    read_free(r);
    s->outstanding--;
    r = next;
  }
}

static void async_cb(uv_async_t *h)
{
  fc_store_t *s = h->data;
  uv_mutex_lock(&s->mu);
  fc_write_t *w = s->done;
  fc_read_t *r = s->rdone;
  health_ev_t *ev = s->hev;
  s->done = s->done_tail = NULL;
  s->rdone = s->rdone_tail = NULL;
  s->hev = s->hev_tail = NULL;
  uv_mutex_unlock(&s->mu);

  /* health first: a write failed by the breaker sees fc_store_health DOWN */
  while (ev) {
    health_ev_t *next = ev->next;
    if (ev->disk) {
      if (s->disk_cb) s->disk_cb((fc_store_disk_t)ev->state, ev->free_bytes, s->disk_arg);
    } else if (s->health_cb) {
      s->health_cb(ev->state, s->health_arg);
    }
    fc_free(ev);
    ev = next;
  }
  deliver_writes(s, w, 0);
  deliver_reads(s, r, 0);
  update_ref(s);
  maybe_drained(s);
}

/* ---- open / drain / close -------------------------------------------------- */

static void close_conns(fc_store_t *s)
{
  s->be->close(s->wconn);
  s->wconn = NULL;
  for (unsigned i = 0; i < s->nreaders; i++) {
    s->be->close(s->readers[i].conn);
    s->readers[i].conn = NULL;
  }
}

static void store_free(fc_store_t *s)
{
  fc_free(s->readers);
  fc_free((char *)s->opts.path);
  fc_free((char *)s->opts.fault_file);
  fc_free(s);
}

static void close_cb(uv_handle_t *h)
{
  fc_store_t *s = h->data;
  uv_mutex_destroy(&s->mu);
  uv_mutex_destroy(&s->stats_mu);
  uv_cond_destroy(&s->wcv);
  uv_cond_destroy(&s->rcv);
  uv_cond_destroy(&s->scv);
  uv_cond_destroy(&s->dcv);
  store_free(s);
}

/* Stops and joins the threads that were started. */
static void stop_threads(fc_store_t *s)
{
  uv_mutex_lock(&s->mu);
  s->stop = true;
  uv_cond_broadcast(&s->wcv);
  uv_cond_broadcast(&s->rcv);
  uv_cond_signal(&s->dcv);
  uv_mutex_unlock(&s->mu);
  if (s->disker_started) uv_thread_join(&s->disker);
  s->disker_started = false;
  if (s->writer_started) uv_thread_join(&s->writer);
  /* after the writer: what it committed last is synced (or failed) too */
  uv_mutex_lock(&s->mu);
  s->sync_stop = true;
  uv_cond_signal(&s->scv);
  uv_mutex_unlock(&s->mu);
  if (s->syncer_started) uv_thread_join(&s->syncer);
  s->syncer_started = false;
  for (unsigned i = 0; i < s->readers_started; i++)
    uv_thread_join(&s->readers[i].thread);
  s->writer_started = false;
  s->readers_started = 0;
}

int fc_store_open(uv_loop_t *loop, const fc_store_opts_t *opts, fc_store_t **out)
{
  fc_store_t *s = fc_calloc(1, sizeof(*s));
  int rc;

  if (!opts || !opts->path) {
    fc_free(s);
    return FC_ERR_INVAL;
  }
  s->loop = loop;
  s->opts = *opts;
  s->opts.path = fc_strdup(opts->path);
  s->opts.fault_file = fc_strdup(opts->fault_file);
  if (!s->opts.batch_max) s->opts.batch_max = 4096;
  if (!s->opts.retry_max) s->opts.retry_max = 3;
  if (!s->opts.retry_base_ms) s->opts.retry_base_ms = 25;
  if (!s->opts.breaker_threshold) s->opts.breaker_threshold = 2;
  if (!s->opts.probe_interval_ms) s->opts.probe_interval_ms = 3000;
  if (!s->opts.readers) s->opts.readers = 2;
  if (!s->opts.event_retention_days) s->opts.event_retention_days = 7;
  if (!s->opts.prune_interval_ms) s->opts.prune_interval_ms = 1000;
  if (!s->opts.prune_limit) s->opts.prune_limit = 500;
  if (!s->opts.frame_retention_days) s->opts.frame_retention_days = 30;
  if (!s->opts.disk_check_ms) s->opts.disk_check_ms = 5000;
  s->be = &fc_store__sqlite;
  s->nreaders = s->opts.readers;
  s->readers = fc_calloc(s->nreaders, sizeof(*s->readers));

  /* Everything that can fail before threads and handles exist. */
  if ((rc = s->be->open(&s->opts, FC_STORE__WRITER, &s->wconn))) goto fail;
  if ((rc = s->be->migrate(s->wconn))) goto fail;
  for (unsigned i = 0; i < s->nreaders; i++) {
    s->readers[i].s = s;
    if ((rc = s->be->open(&s->opts, FC_STORE__READER, &s->readers[i].conn))) goto fail;
  }

  uv_mutex_init(&s->mu);
  uv_mutex_init(&s->stats_mu);
  uv_cond_init(&s->wcv);
  uv_cond_init(&s->rcv);
  uv_cond_init(&s->scv);
  uv_cond_init(&s->dcv);
  atomic_init(&s->health, FC_STORE_OK);
  atomic_init(&s->disk, FC_DISK_OK);
  atomic_init(&s->disk_free, 0);
  atomic_init(&s->disk_refused, 0);
  uv_async_init(loop, &s->async, async_cb);
  s->async.data = s;
  uv_unref((uv_handle_t *)&s->async);

  if ((rc = uv_thread_create(&s->syncer, syncer_main, s))) goto fail_threads;
  s->syncer_started = true;
  if ((rc = uv_thread_create(&s->writer, writer_main, s))) goto fail_threads;
  s->writer_started = true;
  for (unsigned i = 0; i < s->nreaders; i++) {
    if ((rc = uv_thread_create(&s->readers[i].thread, reader_main, &s->readers[i])))
      goto fail_threads;
    s->readers_started++;
  }
  /* The first check before any write: a server started on a full disk
   * refuses from the start (the loop hears of it once it runs). */
  if (disk_check(s)) uv_async_send(&s->async);
  if ((rc = uv_thread_create(&s->disker, disk_main, s))) goto fail_threads;
  s->disker_started = true;
  fc_log(FC_LOG_INFO, NULL, "event=store_open backend=%s path=\"%s\" readers=%u", s->be->name,
         s->opts.path, s->nreaders);
  *out = s;
  return 0;

fail_threads:
  /* The async handle exists: the store is freed by its close callback. */
  fc_log(FC_LOG_ERROR, NULL, "event=store_open_failed err=%s", fc_err_name(rc));
  stop_threads(s);
  close_conns(s);
  uv_close((uv_handle_t *)&s->async, close_cb);
  return rc;

fail:
  fc_log(FC_LOG_ERROR, NULL, "event=store_open_failed path=\"%s\" err=%s", opts->path,
         fc_err_name(rc));
  close_conns(s);
  store_free(s);
  return rc;
}

void fc_store_drain(fc_store_t *s, void (*cb)(void *arg), void *arg)
{
  uv_mutex_lock(&s->mu);
  s->flush = true; /* lazy writes too, now */
  uv_cond_signal(&s->wcv);
  uv_mutex_unlock(&s->mu);
  s->draining = true;
  s->drain_cb = cb;
  s->drain_arg = arg;
  update_ref(s);
  /* even with nothing outstanding, cb runs from the loop, not from here */
  uv_async_send(&s->async);
}

void fc_store_close(fc_store_t *s)
{
  if (!s) return;
  s->closing = true;
  stop_threads(s);
  close_conns(s);
  /* Closed without a drain: whatever is left gets its callback now, so that
   * every submitted write's callback still runs exactly once. */
  fc_write_t *pend = s->pend, *done = s->done;
  fc_read_t *rpend = s->rpend, *rdone = s->rdone;
  health_ev_t *ev = s->hev;
  s->pend = s->pend_tail = s->done = s->done_tail = NULL;
  s->rpend = s->rpend_tail = s->rdone = s->rdone_tail = NULL;
  s->hev = s->hev_tail = NULL;
  s->pend_n = s->pend_urgent = 0;
  deliver_writes(s, done, 0);
  deliver_writes(s, pend, FC_ERR_SHUTDOWN);
  deliver_reads(s, rdone, 0);
  deliver_reads(s, rpend, FC_ERR_SHUTDOWN);
  while (ev) {
    health_ev_t *next = ev->next;
    fc_free(ev);
    ev = next;
  }
  s->drain_cb = NULL;
  fc_log(FC_LOG_INFO, NULL, "event=store_closed");
  uv_close((uv_handle_t *)&s->async, close_cb);
}

void fc_store_on_health(fc_store_t *s, fc_store_health_cb cb, void *arg)
{
  s->health_cb = cb;
  s->health_arg = arg;
}

fc_store_health_t fc_store_health(const fc_store_t *s)
{
  fc_store_t *m = (fc_store_t *)s;
  int h = atomic_load(&m->health);
  int d = atomic_load(&m->disk);
  if (d == FC_DISK_CRITICAL) return FC_STORE_DOWN;
  if (d == FC_DISK_LOW && h == FC_STORE_OK) return FC_STORE_DEGRADED;
  return (fc_store_health_t)h;
}

void fc_store_on_disk(fc_store_t *s, fc_store_disk_cb cb, void *arg)
{
  s->disk_cb = cb;
  s->disk_arg = arg;
}

fc_store_disk_t fc_store_disk(const fc_store_t *s, uint64_t *free_bytes)
{
  fc_store_t *m = (fc_store_t *)s;
  if (free_bytes) *free_bytes = atomic_load(&m->disk_free);
  return (fc_store_disk_t)atomic_load(&m->disk);
}

bool fc_store_frame_log_ok(const fc_store_t *s)
{
  return atomic_load(&((fc_store_t *)s)->disk) == FC_DISK_OK;
}

void fc_store_stats(const fc_store_t *s, fc_store_stats_t *out)
{
  fc_store_t *m = (fc_store_t *)s; /* the mutexes, not the state */
  uv_mutex_lock(&m->stats_mu);
  *out = m->st;
  uv_mutex_unlock(&m->stats_mu);
  uv_mutex_lock(&m->mu);
  out->queue_depth = m->pend_n;
  uv_mutex_unlock(&m->mu);
  out->disk_refused = atomic_load(&m->disk_refused);
}

int fc_store_submit(fc_store_t *s, fc_write_t *w, fc_write_cb cb, void *arg)
{
  assert(w && cb);
  if (s->draining || s->closing) return FC_ERR_SHUTDOWN;
  if (atomic_load(&s->disk) == FC_DISK_CRITICAL) {
    atomic_fetch_add(&s->disk_refused, 1);
    return FC_ERR_STORE_DOWN;
  }
  w->cb = cb;
  w->arg = arg;
  w->status = 0;
  w->next = NULL;
  w->queued_ns = uv_hrtime();
  uv_mutex_lock(&s->mu);
  if (s->breaker_open) {
    uv_mutex_unlock(&s->mu);
    return FC_ERR_STORE_DOWN;
  }
  if (s->pend_tail)
    s->pend_tail->next = w;
  else
    s->pend = w;
  s->pend_tail = w;
  s->pend_n++;
  s->pend_urgent += !w->lazy;
  uv_cond_signal(&s->wcv);
  uv_mutex_unlock(&s->mu);
  if (s->outstanding++ == 0) update_ref(s);
  return 0;
}

/* ---- reads ----------------------------------------------------------------- */

fc_read_t *fc_read_new(fc_read_kind_t kind, const char *key)
{
  fc_read_t *r = fc_calloc(1, sizeof(*r));
  r->kind = kind;
  r->connector = -1; /* any */
  if (key) {
    size_t n = strnlen(key, sizeof(r->key) - 1);
    memcpy(r->key, key, n);
    r->key[n] = '\0';
  }
  return r;
}

void fc_read_set_scope(fc_read_t *r, const char *const *ids, size_t n)
{
  r->scoped = true;
  r->scope = n ? fc_malloc(n * sizeof(*r->scope)) : NULL;
  for (size_t i = 0; i < n; i++)
    r->scope[i] = fc_strdup(ids[i]);
  r->scope_count = n;
}

int fc_store_read(fc_store_t *s, fc_read_t *r, fc_read_cb cb, void *arg)
{
  assert(r && cb);
  if (s->draining || s->closing) {
    read_free(r);
    return FC_ERR_SHUTDOWN;
  }
  FC_READ__NEXT(r) = NULL;
  FC_READ__CB(r) = (void *)(uintptr_t)cb;
  FC_READ__ARG(r) = arg;
  FC_READ__STATUS(r) = NULL;
  uv_mutex_lock(&s->mu);
  if (s->rpend_tail)
    FC_READ__NEXT((fc_read_t *)s->rpend_tail) = r;
  else
    s->rpend = r;
  s->rpend_tail = r;
  uv_cond_signal(&s->rcv);
  uv_mutex_unlock(&s->mu);
  if (s->outstanding++ == 0) update_ref(s);
  return 0;
}

int fc_store_load_chargers(fc_store_t *s, fc_charger_rec_t **out, size_t *count)
{
  fc_store_conn_t *c;
  fc_read_t r = {.kind = FC_READ_CHARGERS};
  int rc = s->be->open(&s->opts, FC_STORE__READER, &c);
  if (rc) return rc;
  rc = s->be->exec_read(c, &r);
  s->be->close(c);
  if (rc) return rc == FC_ERR_NOTFOUND ? rc : FC_ERR_STORE;
  *out = r.out_chargers;
  *count = r.out_count;
  return 0;
}

void fc_charger_recs_free(fc_charger_rec_t *recs, size_t count)
{
  if (!recs) return;
  for (size_t i = 0; i < count; i++)
    fc_free(recs[i].auth);
  fc_free(recs);
}

int fc_store_load_latest_events(fc_store_t *s,
                                void (*cb)(const char *charger, int64_t seq, const char *json,
                                           void *arg),
                                void *arg)
{
  fc_store_conn_t *c;
  int rc = s->be->open(&s->opts, FC_STORE__READER, &c);
  if (rc) return rc;
  rc = s->be->load_latest_events(c, cb, arg);
  s->be->close(c);
  return rc ? FC_ERR_STORE : 0;
}

int fc_store_load_left_online(fc_store_t *s,
                              void (*cb)(const char *charger, int64_t conn_id, long long since_ms,
                                         void *arg),
                              void *arg, int64_t *max_conn_id)
{
  fc_store_conn_t *c;
  *max_conn_id = 0;
  int rc = s->be->open(&s->opts, FC_STORE__READER, &c);
  if (rc) return rc;
  rc = s->be->left_online(c, cb, arg, max_conn_id);
  s->be->close(c);
  return rc ? FC_ERR_STORE : 0;
}
