/* flashcharge-store-bench: how many MeterValues the store commits per second.
 *
 * The store alone, without sockets: C chargers each keep K MeterValues in
 * flight, and each MeterValues is the write the server builds for one (the
 * meter op, its `meter` event, the raw frame in) plus the raw frame of its
 * answer, logged as the server logs it. The loop thread here does little
 * besides submitting, so what is measured is the writer thread: messages
 * committed per second of wall time, and per second the writer spent in
 * commits (commit_us_sum), which other load on the machine disturbs less.
 *
 * With --rate R, messages come at R per second in all (round robin over the
 * chargers, as many as the clock says are due every millisecond) instead of
 * as fast as the store takes them: then what counts is the time from a
 * message's submission to its callback (p50/p99), as a charger waits for its
 * answer, and the pages each commit writes.
 *
 * Usage: flashcharge-store-bench [--db PATH] [--chargers C] [--inflight K]
 *          [--messages N] [--samples S] [--batch-max B] [--rate R]
 * The database is created (or grown) at PATH; default a new file in /tmp. */
#include "bus/bus.h"
#include "core/datetime.h"
#include "core/time.h"
#include "domain/domain.h"
#include "log/log.h"
#include "store/store.h"

#include <getopt.h>
#include <sys/resource.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

static struct {
  const char *db;
  int chargers, inflight, samples, batch_max;
  long messages;
  double rate;
} opt = {.chargers = 500, .inflight = 8, .samples = 6, .messages = 200000};

static const char *const measurands[] = {
    "Current.Import",
    "Power.Active.Import",
    "Energy.Active.Import.Register",
    "Voltage",
    "SoC",
    "Current.Offered",
    "Temperature",
    "Frequency",
};

typedef struct charger {
  char id[32];
  long seq;
} charger_t;

static fc_store_t *store;
static charger_t *chargers;
static long submitted, committed, failed;
static long long t0_ms;
static double *latency_ms; /* submission to callback, per message */
static uint64_t rate_t0;
static uv_timer_t rate_timer;

static void next_message(charger_t *c);

static void answer_cb(fc_write_t *w, int status, void *arg)
{
  (void)w;
  (void)arg;
  if (status) failed++;
}

/* The server logs the answer once the call's write has committed, lazily. */
static void log_answer(charger_t *c, long seq)
{
  char text[64];
  int n = snprintf(text, sizeof(text), "[3,\"m%ld\",{}]", seq);
  fc_write_t *w = fc_write_new();
  fc_write_frame(w, c->id, &(fc_op_frame_t){.text = text, .len = (size_t)n, .conn_id = 1});
  fc_write_set_lazy(w);
  if (fc_store_submit(store, w, answer_cb, NULL) < 0) fc_write_free(w);
}

typedef struct msg {
  charger_t *c;
  uint64_t t0;
} msg_t;

static void commit_cb(fc_write_t *w, int status, void *arg)
{
  msg_t *m = arg;
  charger_t *c = m->c;
  (void)w;
  if (status)
    failed++;
  else
    latency_ms[committed++] = (double)(uv_hrtime() - m->t0) / 1e6;
  free(m);
  log_answer(c, c->seq);
  if (opt.rate <= 0 && submitted < opt.messages) next_message(c);
}

static void next_message(charger_t *c)
{
  char ts[32], frame[2048];
  long long now = fc_wall_ms();
  fc_datetime_format(now + c->seq, ts, sizeof(ts)); /* one time stamp per message */
  c->seq++;
  json_t *svs = json_array();
  fc_op_sampled_t sampled[64];
  char values[64][32];
  int ns = opt.samples < 64 ? opt.samples : 64;
  for (int i = 0; i < ns; i++) {
    char *v = values[i];
    snprintf(v, sizeof(values[i]), "%ld.%d", 10000 + c->seq * 2, i);
    json_array_append_new(
        svs, json_pack("{s:s, s:s, s:s}", "value", v, "measurand", measurands[i % 8], "unit", "W"));
    sampled[i] =
        (fc_op_sampled_t){.value = v, .num = atof(v), .measurand = measurands[i % 8], .unit = "W"};
    fc_op_sampled_defaults(&sampled[i]);
  }
  json_t *mv = json_pack("{s:s, s:o}", "timestamp", ts, "sampledValue", svs);
  json_t *p = json_pack("{s:i, s:[o]}", "connectorId", 1, "meterValue", mv);
  char *text = json_dumps(p, JSON_COMPACT);
  int n = snprintf(frame, sizeof(frame), "[2,\"m%ld\",\"MeterValues\",%s]", c->seq, text);
  free(text);

  fc_write_t *w = fc_write_new();
  fc_op_reading_t reading = {.ts_ms = now + c->seq - 1, .n = (size_t)ns, .sampled = sampled};
  fc_write_meter(w, c->id, &(fc_op_meter_t){.connector = 1, .readings = {.n = 1, .v = &reading}});
  fc_bus_add(w, FC_EV_METER, c->id, 1, fc_domain_meter_summary(mv), now, false);
  fc_write_frame(w, c->id,
                 &(fc_op_frame_t){.text = frame, .len = (size_t)n, .conn_id = 1, .inbound = true});
  json_decref(p);
  msg_t *m = malloc(sizeof(*m));
  m->c = c;
  m->t0 = uv_hrtime();
  if (fc_store_submit(store, w, commit_cb, m) < 0) {
    fc_write_free(w);
    free(m);
    failed++;
    return;
  }
  submitted++;
}

/* --rate: the messages due by now, round robin over the chargers. */
static void rate_cb(uv_timer_t *t)
{
  double due = (double)(uv_hrtime() - rate_t0) / 1e9 * opt.rate;
  while (submitted < opt.messages && (double)submitted < due)
    next_message(&chargers[submitted % opt.chargers]);
  if (submitted >= opt.messages) uv_timer_stop(t);
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static double cpu_s(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
         (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* Bytes this process wrote and read through system calls (Linux). */
static void io_counts(unsigned long long *wchar, unsigned long long *rchar)
{
  char line[128];
  FILE *f = fopen("/proc/self/io", "r");
  *wchar = *rchar = 0;
  if (!f) return;
  while (fgets(line, sizeof(line), f)) {
    sscanf(line, "wchar: %llu", wchar);
    sscanf(line, "rchar: %llu", rchar);
  }
  fclose(f);
}

static void drained_cb(void *arg)
{
  (void)arg;
}

static void usage(void)
{
  fprintf(stderr, "usage: flashcharge-store-bench [--db PATH] [--chargers C] [--inflight K]"
                  " [--messages N] [--samples S] [--batch-max B] [--rate R]\n");
  exit(2);
}

int main(int argc, char **argv)
{
  static const struct option longs[] = {
      {"db", required_argument, NULL, 'd'},
      {"chargers", required_argument, NULL, 'c'},
      {"inflight", required_argument, NULL, 'k'},
      {"messages", required_argument, NULL, 'n'},
      {"samples", required_argument, NULL, 's'},
      {"batch-max", required_argument, NULL, 'b'},
      {"rate", required_argument, NULL, 'r'},
      {"help", no_argument, NULL, 'h'},
      {0},
  };
  int ch;
  while ((ch = getopt_long(argc, argv, "", longs, NULL)) != -1) {
    switch (ch) {
    case 'd':
      opt.db = optarg;
      break;
    case 'c':
      opt.chargers = atoi(optarg);
      break;
    case 'k':
      opt.inflight = atoi(optarg);
      break;
    case 'n':
      opt.messages = atol(optarg);
      break;
    case 's':
      opt.samples = atoi(optarg);
      break;
    case 'b':
      opt.batch_max = atoi(optarg);
      break;
    case 'r':
      opt.rate = atof(optarg);
      break;
    default:
      usage();
    }
  }
  if (opt.chargers < 1 || opt.inflight < 1 || opt.messages < 1 || opt.samples < 1 ||
      opt.samples > 64)
    usage();

  char tmp[] = "/tmp/fc-store-bench-XXXXXX";
  char path[128];
  if (!opt.db) {
    if (!mkdtemp(tmp)) return 1;
    snprintf(path, sizeof(path), "%s/bench.db", tmp);
    opt.db = path;
  }
  fc_log_level = FC_LOG_WARN;
  uv_loop_t *loop = uv_default_loop();
  fc_store_opts_t so = {.path = opt.db, .batch_max = (unsigned)opt.batch_max};
  if (fc_store_open(loop, &so, &store) < 0) return 1;

  chargers = calloc((size_t)opt.chargers, sizeof(*chargers));
  fc_write_t *boot = fc_write_new();
  for (int i = 0; i < opt.chargers; i++) {
    snprintf(chargers[i].id, sizeof(chargers[i].id), "BENCH%05d", i);
    fc_write_seen(boot, chargers[i].id,
                  &(fc_op_seen_t){.online = true, .conn_id = 1, .registration = "Accepted"});
  }
  if (fc_store_submit(store, boot, answer_cb, NULL) < 0) return 1;
  uv_run(loop, UV_RUN_DEFAULT);

  fc_store_stats_t s0, s1;
  unsigned long long w0, r0, w1, r1;
  fc_store_stats(store, &s0);
  io_counts(&w0, &r0);
  double cpu0 = cpu_s();
  latency_ms = calloc((size_t)opt.messages, sizeof(*latency_ms));
  t0_ms = fc_wall_ms();
  if (opt.rate > 0) {
    rate_t0 = uv_hrtime();
    uv_timer_init(loop, &rate_timer);
    uv_timer_start(&rate_timer, rate_cb, 1, 1);
  } else {
    for (int k = 0; k < opt.inflight; k++)
      for (int i = 0; i < opt.chargers && submitted < opt.messages; i++)
        next_message(&chargers[i]);
  }
  uv_run(loop, UV_RUN_DEFAULT);
  double secs = (double)(fc_wall_ms() - t0_ms) / 1000.0;
  fc_store_stats(store, &s1);
  io_counts(&w1, &r1);
  double cpu1 = cpu_s();

  double writer_s = (double)(s1.commit_us_sum - s0.commit_us_sum) / 1e6;
  uint64_t commits = s1.commits - s0.commits;
  printf("messages %ld (failed %ld) in %.2f s: %.0f msgs/s; commits %llu (%.1f writes each),"
         " writer busy %.2f s: %.0f msgs per writer-second, %.2f ms per commit\n",
         committed, failed, secs, (double)committed / secs, (unsigned long long)commits,
         commits ? (double)(s1.writes_ok - s0.writes_ok) / (double)commits : 0.0, writer_s,
         writer_s > 0 ? (double)committed / writer_s : 0.0,
         commits ? writer_s * 1000.0 / (double)commits : 0.0);
  printf("per message: %.1f us of CPU (all threads), %.0f bytes written, %.0f bytes read\n",
         (cpu1 - cpu0) * 1e6 / (double)(committed ? committed : 1),
         (double)(w1 - w0) / (double)(committed ? committed : 1),
         (double)(r1 - r0) / (double)(committed ? committed : 1));
  if (committed) {
    qsort(latency_ms, (size_t)committed, sizeof(*latency_ms), cmp_double);
    printf("submission to callback p50 / p99 / max (ms): %.2f / %.2f / %.2f\n",
           latency_ms[committed / 2], latency_ms[committed * 99 / 100], latency_ms[committed - 1]);
  }
  if (opt.rate > 0) uv_close((uv_handle_t *)&rate_timer, NULL);
  free(latency_ms);

  fc_store_drain(store, drained_cb, NULL);
  uv_run(loop, UV_RUN_DEFAULT);
  fc_store_close(store);
  uv_run(loop, UV_RUN_DEFAULT);
  free(chargers);
  if (opt.db == path) {
    char p[160];
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
    rmdir(tmp);
  }
  return failed ? 1 : 0;
}
