/* flashcharge-bench: load and latency of a running flashcharge server.
 *
 * One process, one libuv (epoll) loop: C chargers send MeterValues at a set
 * rate, U browser clients watch them on /ws, W chargers each. Each MeterValues
 * carries its send time, in microseconds since the benchmark started, as its
 * Current.Import value (the server passes it through to the `meter` event's
 * `current`), so every UI client computes the end-to-end latency of each
 * event it receives: from the moment the charger's frame was handed to the
 * kernel to the moment the browser's read returned it, through validation,
 * the store's commit and the fan-out.
 *
 * Phases: chargers connect and boot; server RSS is read; UI clients connect
 * and get their hello and snapshots; RSS again (the difference over U is the
 * server's memory per idle UI connection); traffic for --warmup then
 * --duration seconds (only events sent inside the window count); senders
 * stop, --drain seconds for the last deliveries; report.
 *
 * --rate 0 gives a connection-holding run: no traffic, only how many UI
 * connections the server accepted and what they cost.
 *
 * --rate max is the closed-loop ingest run: each charger keeps exactly one
 * MeterValues outstanding, as OCPP allows, and sends the next one as soon as
 * the previous one is answered. The server answers only after the commit, so
 * CALLRESULTs received per second is the committed ingest rate. Only answers
 * whose read falls inside the window count; CALLERRORs are counted apart, and
 * calls still unanswered at the end of the drain are reported.
 *
 * Many connections from loopback: sockets are bound to 127.0.0.2…(1+N)
 * (--sources) so that the 4-tuples never run out of ephemeral ports, and
 * RLIMIT_NOFILE is raised to its hard limit (or to what is needed, when we
 * may raise the hard limit: as root). */
#include "wsc.h"
#include "core/utf8.h"

#include <dirent.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#define HIST_US 10                          /* histogram bucket width, µs */
#define HIST_N (10 * 1000 * 1000 / HIST_US) /* up to 10 s */
#define CONNECTING_MAX 256                  /* connections being set up at once */
#define INFLIGHT_MAX 8                      /* MeterValues of one charger awaiting their answer */

static struct {
  const char *ocpp_url, *ui_url, *name, *json, *prefix, *secret;
  int chargers, ui, watch, sources, server_pid;
  double rate, warmup, duration, drain;
  bool closed;  /* --rate max: one call outstanding per charger, the next on its answer */
  bool deflate; /* UI clients offer permessage-deflate */
} opt = {
    .ocpp_url = "ws://127.0.0.1:8180/ocpp",
    .ui_url = "ws://127.0.0.1:8080/ws",
    .name = "run",
    .prefix = "BENCH",
    .chargers = 100,
    .ui = 1000,
    .watch = 1,
    .sources = 16,
    .rate = 1,
    .warmup = 3,
    .duration = 20,
    .drain = 3,
};

typedef struct hist {
  uint32_t *b;
  uint64_t n, over;
  double max_us, sum_us;
} hist_t;

typedef struct bcharger {
  int idx;
  char id[32];
  wsc_t *ws;
  bool open, booted;
  int watchers;
  int inflight;
  uv_timer_t t;
  char pending_ids[INFLIGHT_MAX][40]; /* "m<idx>-<seq>", at most 33 bytes */
  uint64_t pending_sent_ns[INFLIGHT_MAX];
  uint64_t seq;
  int64_t last_ts_ms; /* time stamp of the last MeterValues sent */
} bcharger_t;

typedef struct ui {
  int idx;
  wsc_t *ws;
  bool open, ready, failed;
  int snapshots;
} ui_t;

static uv_loop_t *loop;
static uint64_t t0;
static bcharger_t *ch;
static ui_t *uis;
static char ocpp_host[128], ocpp_path[256], ui_host[128], ui_path[256];
static int ocpp_port, ui_port;
static char **ui_targets;   /* request path per UI client */
static char **ui_subscribe; /* subscribe op sent on open, when the ids do not fit the URL */
static uv_timer_t phase_timer;
static int phase;
static int next_charger, next_ui, connecting;
static int chargers_booted, chargers_failed, ui_open, ui_ready, ui_failed, ui_closed_early;
static int ui_refused_status[600];
static uint64_t win_start_us, win_end_us, phase_t_ns;

/* measurements */
static hist_t e2e, rtt;
static uint64_t sent_win, expected_win, events_win, frames_total, events_total, bytes_total;
static uint64_t callerrors, answers;
/* answers read inside the window [win_ns0, win_ns1): CALLRESULTs and CALLERRORs */
static uint64_t results_win, callerrors_win;
static uint64_t results_total; /* CALLRESULTs to our MeterValues, window or not */
static uint64_t unmatched;     /* answers to no call of ours */
static uint64_t unanswered;    /* calls still without an answer when the run ended */
static uint64_t win_ns0, win_ns1;
static uint64_t frames_at_start, frames_at_end, events_at_start_cnt;
static long srv_rss0_kb, srv_rss1_kb, srv_rss_end_kb, srv_hwm_kb;
static double srv_cpu0, srv_cpu1, self_cpu0, self_cpu1, mach_cpu0, mach_cpu1;
static uint64_t win_t_start_ns, win_t_end_ns;
static uint64_t frames_win; /* frames received whose reception fell in the window */
static bool in_window;
static double load_at_start = -1; /* 1-minute load average before we began: others' load */

enum { PH_CHARGERS, PH_UI, PH_SETTLE, PH_TRAFFIC, PH_DRAIN, PH_DONE };

static void die(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "flashcharge-bench: ");
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
  exit(1);
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "bench t=%.1fs ", (double)(uv_hrtime() - t0) / 1e9);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\n");
  va_end(ap);
}

static uint64_t now_us(void)
{
  return (uv_hrtime() - t0) / 1000;
}

static void hist_add(hist_t *h, double us)
{
  if (us < 0) us = 0;
  size_t i = (size_t)(us / HIST_US);
  if (i >= HIST_N)
    h->over++;
  else
    h->b[i]++;
  h->n++;
  h->sum_us += us;
  if (us > h->max_us) h->max_us = us;
}

static double hist_q(const hist_t *h, double q)
{
  if (!h->n) return 0;
  uint64_t want = (uint64_t)ceil(q * (double)h->n), acc = 0;
  if (want == 0) want = 1;
  for (size_t i = 0; i < HIST_N; i++) {
    acc += h->b[i];
    if (acc >= want) { /* upper edge of the bucket, but never past the maximum */
      double v = (double)(i + 1) * HIST_US;
      return v < h->max_us ? v : h->max_us;
    }
  }
  return h->max_us;
}

/* ---- /proc ------------------------------------------------------------------- */

static long proc_status_kb(int pid, const char *field)
{
  char path[64], line[256];
  snprintf(path, sizeof(path), "/proc/%d/status", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  long v = -1;
  size_t fl = strlen(field);
  while (fgets(line, sizeof(line), f))
    if (!strncmp(line, field, fl) && line[fl] == ':') {
      v = atol(line + fl + 1);
      break;
    }
  fclose(f);
  return v;
}

/* utime + stime (fields 14 and 15) of a /proc/…/stat, seconds, and the start
 * time (field 22, clock ticks after boot) when start is not NULL. */
static int stat_cpu(const char *path, double *cpu, unsigned long long *start)
{
  char buf[1024];
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof(buf) - 1, f);
  fclose(f);
  buf[n] = 0;
  /* comm, in parentheses, may itself hold spaces and ')': the fields follow the last one */
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  unsigned long ut = 0, st = 0;
  unsigned long long t = 0;
  /* after ") ": state(3) … utime(14) stime(15) cutime … itrealvalue(21) starttime(22) */
  if (sscanf(p + 2,
             "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu %*d %*d %*d %*d %*d %*d %llu",
             &ut, &st, &t) != 3)
    return -1;
  *cpu = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
  if (start) *start = t;
  return 0;
}

/* utime + stime of a process (all its threads, the exited ones too), seconds. */
static double proc_cpu(int pid)
{
  char path[64];
  double cpu;
  snprintf(path, sizeof(path), "/proc/%d/stat", pid);
  return stat_cpu(path, &cpu, NULL) < 0 ? -1 : cpu;
}

/* Where the server's time goes: the CPU time of each of its threads, read at
 * the window's edges (the moments of srv_cpu0 and srv_cpu1) and grouped in
 * the report by thread name, whatever the names are. A thread is the same
 * one at both edges when its id and its start time match (an id reused
 * within the window is another thread). A thread seen only at the end counts
 * its whole CPU time: all of it fell inside the window. A thread gone by the
 * end counts nothing, although the process's total keeps what it used until
 * it exited: then the threads add up to less than the server's CPU. A thread
 * renamed within the window counts under its name at the end. At most
 * TASKS_MAX threads are read, and the report says when there were more. */
#define TASKS_MAX 256

typedef struct task {
  int tid;
  unsigned long long start; /* clock ticks after boot */
  double cpu;               /* utime + stime, s */
  char comm[64];            /* the kernel gives at most 15 bytes */
} task_t;

typedef struct tasks {
  task_t t[TASKS_MAX];
  int n;
  bool ok;     /* the task directory could be read */
  bool capped; /* there were more than TASKS_MAX threads */
} tasks_t;

static tasks_t srv_tasks0, srv_tasks1;

static void tasks_read(int pid, tasks_t *s)
{
  char path[96];
  s->n = 0;
  s->capped = false;
  snprintf(path, sizeof(path), "/proc/%d/task", pid);
  DIR *d = opendir(path);
  s->ok = d != NULL;
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d))) {
    char *end;
    long tid = strtol(e->d_name, &end, 10);
    if (*end || tid <= 0) continue; /* "." and ".." */
    if (s->n == TASKS_MAX) {
      s->capped = true;
      break;
    }
    task_t *t = &s->t[s->n];
    /* a thread that exits between the listing and these reads is skipped */
    snprintf(path, sizeof(path), "/proc/%d/task/%ld/stat", pid, tid);
    if (stat_cpu(path, &t->cpu, &t->start) < 0) continue;
    snprintf(path, sizeof(path), "/proc/%d/task/%ld/comm", pid, tid);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    if (!fgets(t->comm, sizeof(t->comm), f)) t->comm[0] = 0;
    fclose(f);
    t->comm[strcspn(t->comm, "\n")] = 0;
    t->tid = (int)tid;
    s->n++;
  }
  closedir(d);
  if (s->capped)
    note("the server has more than %d threads: the per-thread CPU counts only %d of them",
         TASKS_MAX, TASKS_MAX);
}

typedef struct tgroup {
  const char *name; /* borrowed from srv_tasks1 */
  int count;        /* threads of that name */
  double cpu;       /* their CPU time over the window, s */
} tgroup_t;

static int tgroup_cmp(const void *a, const void *b)
{
  const tgroup_t *x = a, *y = b;
  if (x->cpu != y->cpu) return x->cpu < y->cpu ? 1 : -1;
  return strcmp(x->name, y->name);
}

/* The window's CPU time per thread name, most first, into g (TASKS_MAX
 * entries); returns how many names. None when either edge could not be read. */
static int thread_groups(tgroup_t *g)
{
  int n = 0;
  if (!srv_tasks0.ok || !srv_tasks1.ok) return 0;
  for (int i = 0; i < srv_tasks1.n; i++) {
    const task_t *t = &srv_tasks1.t[i];
    double cpu = t->cpu;
    for (int k = 0; k < srv_tasks0.n; k++)
      if (srv_tasks0.t[k].tid == t->tid && srv_tasks0.t[k].start == t->start) {
        cpu -= srv_tasks0.t[k].cpu;
        break;
      }
    if (cpu < 0) cpu = 0;
    int j = 0;
    while (j < n && strcmp(g[j].name, t->comm))
      j++;
    if (j == n) g[n++] = (tgroup_t){.name = t->comm};
    g[j].count++;
    g[j].cpu += cpu;
  }
  qsort(g, (size_t)n, sizeof(*g), tgroup_cmp);
  return n;
}

/* A thread name as the kernel gives it: up to 15 bytes of anything but NUL,
 * perhaps a UTF-8 sequence cut short. Control bytes and bytes that are not
 * UTF-8 become '?'; JSON gets '"' and the backslash escaped, the table '|'. */
static void put_name(FILE *f, const char *s, bool json)
{
  const unsigned char *p = (const unsigned char *)s, *end = p + strlen(s);
  while (p < end) {
    unsigned char c = *p;
    size_t n = c >= 0x80 ? fc_utf8_len(p, end) : 1;
    if (c >= 0x80 && n) {
      fwrite(p, 1, n, f);
      p += n;
      continue;
    }
    p++;
    if (c < 0x20 || c >= 0x7f)
      fputc('?', f);
    else if (json ? c == '"' || c == '\\' : c == '|')
      fprintf(f, "\\%c", c);
    else
      fputc(c, f);
  }
}

/* CPU time spent by the whole machine (all CPUs, not idle nor waiting for
 * I/O), seconds: with the server's and ours taken off, what others used. */
static double machine_cpu(void)
{
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return -1;
  unsigned long long us = 0, ni = 0, sy = 0, id = 0, io = 0, irq = 0, sirq = 0, st = 0;
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &us, &ni, &sy, &id, &io, &irq,
                 &sirq, &st);
  fclose(f);
  if (n < 8) return -1;
  return (double)(us + ni + sy + irq + sirq + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu(void)
{
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

/* ---- the server's /metrics ----------------------------------------------------- */

/* The store's commit count, read from /metrics on the web port at the start
 * and the end of the window (GET, Connection: close, on the loop): how many
 * group commits the window's MeterValues took. -1 where it could not be read. */
typedef struct mfetch {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_write_t wreq;
  int slot;
  char *buf;
  size_t len, cap;
} mfetch_t;

static long long store_commits[2] = {-1, -1};
static int metrics_pending;

static void mf_closed(uv_handle_t *h)
{
  mfetch_t *m = h->data;
  static const char key[] = "\nflashcharge_store_commit_seconds_count ";
  if (m->buf) {
    m->buf[m->len] = 0;
    const char *p = strstr(m->buf, key);
    if (p) store_commits[m->slot] = atoll(p + sizeof(key) - 1);
  }
  free(m->buf);
  free(m);
  metrics_pending--;
}

static void mf_close(mfetch_t *m)
{
  if (!uv_is_closing((uv_handle_t *)&m->tcp)) uv_close((uv_handle_t *)&m->tcp, mf_closed);
}

static void mf_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
  mfetch_t *m = h->data;
  if (m->cap - m->len < 4096) {
    m->cap = m->cap ? m->cap * 2 : 16384;
    m->buf = realloc(m->buf, m->cap);
    if (!m->buf) die("out of memory");
  }
  *b = uv_buf_init(m->buf + m->len, (unsigned)(m->cap - m->len - 1));
}

static void mf_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
  mfetch_t *m = st->data;
  if (n > 0) m->len += (size_t)n;
  if (n < 0) mf_close(m); /* EOF: the server closed after the body */
}

static void mf_written(uv_write_t *w, int status)
{
  if (status < 0) mf_close(w->data);
}

static void mf_connected(uv_connect_t *r, int status)
{
  mfetch_t *m = r->data;
  static char req[] = "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";
  uv_buf_t b = uv_buf_init(req, sizeof(req) - 1);
  m->wreq.data = m;
  if (status < 0 || uv_write(&m->wreq, (uv_stream_t *)&m->tcp, &b, 1, mf_written) < 0 ||
      uv_read_start((uv_stream_t *)&m->tcp, mf_alloc, mf_read) < 0)
    mf_close(m);
}

static void metrics_fetch(int slot)
{
  struct sockaddr_in sa;
  if (uv_ip4_addr(strcmp(ui_host, "localhost") ? ui_host : "127.0.0.1", ui_port, &sa) < 0) return;
  mfetch_t *m = calloc(1, sizeof(*m));
  if (!m) die("out of memory");
  m->slot = slot;
  uv_tcp_init(loop, &m->tcp);
  m->tcp.data = m;
  m->creq.data = m;
  metrics_pending++;
  if (uv_tcp_connect(&m->creq, &m->tcp, (const struct sockaddr *)&sa, mf_connected) < 0)
    mf_close(m);
}

/* ---- JWT (HS256) ------------------------------------------------------------- */

static void b64url(char *out, size_t outsz, const void *in, size_t n)
{
  sodium_bin2base64(out, outsz, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static char *mint(const char *sub)
{
  static const char hdr[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
  char claims[256], h64[128], c64[512], sig64[64];
  long long now = (long long)time(NULL);
  snprintf(claims, sizeof(claims),
           "{\"sub\":\"%s\",\"chargers\":\"*\",\"role\":\"viewer\",\"iat\":%lld,\"exp\":%lld}", sub,
           now, now + 6 * 3600);
  b64url(h64, sizeof(h64), hdr, strlen(hdr));
  b64url(c64, sizeof(c64), claims, strlen(claims));
  char signing[700];
  int n = snprintf(signing, sizeof(signing), "%s.%s", h64, c64);
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, (const unsigned char *)opt.secret, strlen(opt.secret));
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)signing, (unsigned long long)n);
  crypto_auth_hmacsha256_final(&st, mac);
  b64url(sig64, sizeof(sig64), mac, sizeof(mac));
  size_t sl = strlen(sig64);
  char *tok = malloc((size_t)n + 1 + sl + 1);
  memcpy(tok, signing, (size_t)n);
  tok[n] = '.';
  memcpy(tok + n + 1, sig64, sl + 1);
  return tok;
}

/* ---- sources ------------------------------------------------------------------ */

static char src_ip[256][16];

static const char *source(int i)
{
  return opt.sources > 0 ? src_ip[i % opt.sources] : NULL;
}

/* ---- chargers ------------------------------------------------------------------ */

/* Building a call costs a few hundred nanoseconds: literals copied, numbers
 * written by hand, the date and time formatted once a second. printf and
 * strftime per call were about 7 % of the benchmark's own CPU time at a few
 * thousand calls per second, time the server's side of the machine needs. */
static char *put(char *p, const char *s, size_t n)
{
  memcpy(p, s, n);
  return p + n;
}
#define PUT_LIT(p, lit) put((p), (lit), sizeof(lit) - 1)

static char *put_u64(char *p, uint64_t v)
{
  char tmp[20];
  int n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n)
    *p++ = tmp[--n];
  return p;
}

/* ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" (24 bytes, no NUL): the
 * calendar part is redone only when the second changes. */
static const char *iso_ms(int64_t ms)
{
  static char iso[32];
  static int64_t sec = -1;
  if (ms / 1000 != sec) {
    sec = ms / 1000;
    time_t t = (time_t)sec;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(iso, sizeof(iso), "%Y-%m-%dT%H:%M:%S.000Z", &tm);
  }
  int m = (int)(ms % 1000);
  iso[20] = (char)('0' + m / 100);
  iso[21] = (char)('0' + m / 10 % 10);
  iso[22] = (char)('0' + m % 10);
  return iso;
}

/* The time stamp of a charger's next MeterValues: now, but always later than
 * its previous one. The server keeps one sample per charger, connector, time
 * stamp and measurand (a resent sample is not stored twice), so two calls in
 * the same millisecond would be answered with only the first one stored. */
static int64_t next_ts_ms(bcharger_t *c)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
  if (ms <= c->last_ts_ms) ms = c->last_ts_ms + 1;
  c->last_ts_ms = ms;
  return ms;
}

static void send_meter(bcharger_t *c)
{
  if (!c->open || !c->booted) return;
  if (c->inflight >= (opt.closed ? 1 : INFLIGHT_MAX)) return; /* the server is behind */
  uint64_t us = now_us();
  if (us > win_end_us && phase >= PH_DRAIN) return;
  char frame[640], id[40];
  char *e = PUT_LIT(id, "m");
  e = put_u64(e, (uint64_t)c->idx);
  *e++ = '-';
  e = put_u64(e, ++c->seq);
  *e = 0;
  char *p = PUT_LIT(frame, "[2,\"");
  p = put(p, id, (size_t)(e - id));
  p = PUT_LIT(p, "\",\"MeterValues\",{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"");
  p = put(p, iso_ms(next_ts_ms(c)), 24);
  /* the send time travels as Current.Import: the UI clients' latency clock */
  p = PUT_LIT(p, "\",\"sampledValue\":[{\"value\":\"");
  p = put_u64(p, us);
  p = PUT_LIT(p, "\",\"measurand\":\"Current.Import\",\"unit\":\"A\"},"
                 "{\"value\":\"7360.0\",\"measurand\":\"Power.Active.Import\",\"unit\":\"W\"},"
                 "{\"value\":\"");
  p = put_u64(p, 10000 + c->seq * 2);
  p = PUT_LIT(p, "\",\"measurand\":\"Energy.Active.Import.Register\",\"unit\":\"Wh\"}]}]}]");
  if (wsc_send_text(c->ws, frame, (size_t)(p - frame)) < 0) return;
  for (int k = 0; k < INFLIGHT_MAX; k++)
    if (!c->pending_ids[k][0]) {
      memcpy(c->pending_ids[k], id, (size_t)(e - id) + 1);
      c->pending_sent_ns[k] = uv_hrtime();
      break;
    }
  c->inflight++;
  if (us >= win_start_us && us < win_end_us) {
    sent_win++;
    expected_win += (uint64_t)c->watchers;
  }
}

static void meter_tick(uv_timer_t *t)
{
  send_meter(t->data);
}

static void charger_open(wsc_t *w, void *ud)
{
  bcharger_t *c = ud;
  c->open = true;
  connecting--;
  static const char boot[] =
      "[2,\"boot\",\"BootNotification\",{\"chargePointVendor\":\"flashCharge\","
      "\"chargePointModel\":\"Bench\"}]";
  wsc_send_text(w, boot, sizeof(boot) - 1);
}

static void charger_msg(wsc_t *w, void *ud, const char *d, size_t n, uint64_t now)
{
  bcharger_t *c = ud;
  if (n < 4) return;
  if (d[1] == '2') { /* a call from the server: not expected here; say so */
    const char *q1 = memchr(d, '"', n);
    const char *q2 = q1 ? memchr(q1 + 1, '"', n - (size_t)(q1 + 1 - d)) : NULL;
    if (q1 && q2) {
      char out[200];
      int k = snprintf(out, sizeof(out), "[4,\"%.*s\",\"NotSupported\",\"bench\",{}]",
                       (int)(q2 - q1 - 1), q1 + 1);
      wsc_send_text(w, out, (size_t)k);
    }
    return;
  }
  if (!c->booted) {
    if (memmem(d, n, "\"boot\"", 6) && memmem(d, n, "Accepted", 8)) {
      c->booted = true;
      chargers_booted++;
    } else if (memmem(d, n, "\"boot\"", 6)) {
      note("charger %s not accepted: %.*s", c->id, (int)(n > 200 ? 200 : n), d);
      chargers_failed++;
    }
    return;
  }
  answers++;
  bool err = d[1] == '4';
  if (err) callerrors++;
  int k = 0;
  for (; k < INFLIGHT_MAX; k++)
    if (c->pending_ids[k][0]) {
      size_t l = strlen(c->pending_ids[k]);
      if (n > l + 4 && !memcmp(d + 4, c->pending_ids[k], l) && d[4 + l] == '"') break;
    }
  if (k == INFLIGHT_MAX) {
    if (++unmatched <= 5)
      note("charger %s: an answer to no call of ours: %.*s", c->id, (int)(n > 200 ? 200 : n), d);
    return;
  }
  if (now >= win_ns0 && now < win_ns1) {
    hist_add(&rtt, (double)(now - c->pending_sent_ns[k]) / 1000.0);
    if (err) {
      if (++callerrors_win <= 5) note("charger %s: %.*s", c->id, (int)(n > 200 ? 200 : n), d);
    } else {
      results_win++;
    }
  }
  if (!err) results_total++;
  c->pending_ids[k][0] = 0;
  c->inflight--;
  /* closed loop: the next call as soon as this one is answered, until the window ends */
  if (opt.closed && phase == PH_TRAFFIC && now < win_ns1) send_meter(c);
}

static void charger_close(wsc_t *w, void *ud, int status, int err)
{
  bcharger_t *c = ud;
  if (!c->open) {
    connecting--;
    chargers_failed++;
    note("charger %s failed: http=%d err=%s", c->id, status, err ? uv_err_name(err) : "none");
  } else if (phase < PH_DONE) {
    note("charger %s disconnected: err=%s", c->id, err ? uv_err_name(err) : "none");
  }
  c->open = false;
  c->ws = NULL;
  uv_timer_stop(&c->t);
}

static const wsc_cbs_t charger_cbs = {charger_open, charger_msg, charger_close};

/* ---- UI clients ---------------------------------------------------------------- */

static size_t count_sub(const char *d, size_t n, const char *s)
{
  size_t k = 0, l = strlen(s);
  const char *p = d, *end = d + n;
  while ((p = memmem(p, (size_t)(end - p), s, l))) {
    k++;
    p += l;
  }
  return k;
}

static int ui_deflate; /* UI clients whose permessage-deflate offer was accepted */

static void ui_open_cb(wsc_t *w, void *ud)
{
  ui_t *u = ud;
  u->open = true;
  connecting--;
  ui_open++;
  ui_deflate += wsc_is_deflate(w);
  if (ui_subscribe[u->idx]) {
    wsc_send_text(w, ui_subscribe[u->idx], strlen(ui_subscribe[u->idx]));
    free(ui_subscribe[u->idx]);
    ui_subscribe[u->idx] = NULL;
  }
}

static void ui_msg(wsc_t *w, void *ud, const char *d, size_t n, uint64_t now)
{
  ui_t *u = ud;
  frames_total++;
  bytes_total += n;
  if (in_window) frames_win++;
  if (!u->ready) {
    u->snapshots += (int)count_sub(d, n, "\"type\":\"snapshot\"");
    if (u->snapshots >= opt.watch) {
      u->ready = true;
      ui_ready++;
    }
  }
  /* every meter event: its `current` is the send time */
  static const char mt[] = "\"type\":\"meter\"";
  const char *p = d, *end = d + n;
  while ((p = memmem(p, (size_t)(end - p), mt, sizeof(mt) - 1))) {
    p += sizeof(mt) - 1;
    const char *next = memmem(p, (size_t)(end - p), "\"type\":", 7);
    const char *lim = next ? next : end;
    const char *cur = memmem(p, (size_t)(lim - p), "\"current\":", 10);
    if (!cur) continue;
    double sent = strtod(cur + 10, NULL);
    events_total++;
    if (sent >= (double)win_start_us && sent < (double)win_end_us) {
      events_win++;
      hist_add(&e2e, (double)(now - t0) / 1000.0 - sent);
    }
  }
}

static void ui_close_cb(wsc_t *w, void *ud, int status, int err)
{
  ui_t *u = ud;
  if (!u->open) {
    connecting--;
    ui_failed++;
    u->failed = true;
    if (status > 0 && status < 600) ui_refused_status[status]++;
    if (ui_failed <= 5)
      note("ui %d failed: http=%d err=%s", u->idx, status, err ? uv_err_name(err) : "none");
  } else {
    ui_open--;
    if (phase < PH_DONE) {
      ui_closed_early++;
      if (ui_closed_early <= 5) note("ui %d closed by the server", u->idx);
    }
  }
  u->open = false;
  u->ws = NULL;
}

static const wsc_cbs_t ui_cbs = {ui_open_cb, ui_msg, ui_close_cb};

/* ---- phases --------------------------------------------------------------------- */

static void report(void);

static void start_traffic(void)
{
  uint64_t us = now_us();
  win_start_us = us + (uint64_t)(opt.warmup * 1e6);
  win_end_us = win_start_us + (uint64_t)(opt.duration * 1e6);
  win_ns0 = t0 + win_start_us * 1000;
  win_ns1 = t0 + win_end_us * 1000;
  if (opt.closed) { /* the first call of each charger; each answer sends the next */
    for (int i = 0; i < opt.chargers; i++)
      send_meter(&ch[i]);
    return;
  }
  if (opt.rate <= 0) return;
  uint64_t period = (uint64_t)(1000.0 / opt.rate);
  if (period < 1) period = 1;
  for (int i = 0; i < opt.chargers; i++) {
    bcharger_t *c = &ch[i];
    if (!c->booted) continue;
    uv_timer_start(&c->t, meter_tick, 1 + (uint64_t)randombytes_uniform((uint32_t)period), period);
  }
}

static void phase_tick(uv_timer_t *t)
{
  uint64_t now = uv_hrtime();
  double in_phase = (double)(now - phase_t_ns) / 1e9;
  switch (phase) {
  case PH_CHARGERS:
    while (next_charger < opt.chargers && connecting < CONNECTING_MAX) {
      bcharger_t *c = &ch[next_charger++];
      char path[512];
      snprintf(path, sizeof(path), "%s/%s", ocpp_path, c->id);
      wsc_opts_t o = {.host = ocpp_host,
                      .port = ocpp_port,
                      .path = path,
                      .protocol = "ocpp1.6",
                      .bind_ip = source(c->idx)};
      c->ws = wsc_connect(loop, &o, &charger_cbs, c);
      if (c->ws) connecting++;
    }
    if (next_charger == opt.chargers &&
        (chargers_booted + chargers_failed >= opt.chargers || in_phase > 60)) {
      note("chargers booted=%d failed=%d", chargers_booted, chargers_failed);
      if (!chargers_booted) die("no charger booted");
      uv_sleep(1000); /* let the boot writes and the registry settle */
      srv_rss0_kb = opt.server_pid ? proc_status_kb(opt.server_pid, "VmRSS") : -1;
      phase = PH_UI;
      phase_t_ns = uv_hrtime();
    }
    break;
  case PH_UI:
    while (next_ui < opt.ui && connecting < CONNECTING_MAX) {
      ui_t *u = &uis[next_ui++];
      wsc_opts_t o = {.host = ui_host,
                      .port = ui_port,
                      .path = ui_targets[u->idx],
                      .bind_ip = source(u->idx + 7),
                      .deflate = opt.deflate};
      u->ws = wsc_connect(loop, &o, &ui_cbs, u);
      if (u->ws)
        connecting++;
      else
        ui_failed++;
      free(ui_targets[u->idx]);
      ui_targets[u->idx] = NULL;
    }
    if (next_ui == opt.ui && (ui_ready + ui_failed >= opt.ui || in_phase > 120)) {
      note("ui open=%d ready=%d failed=%d in %.1fs", ui_open, ui_ready, ui_failed, in_phase);
      if (opt.ui && !ui_open) die("no UI client connected (wrong secret? see above)");
      phase = PH_SETTLE;
      phase_t_ns = uv_hrtime();
    }
    break;
  case PH_SETTLE:
    if (in_phase >= 2) {
      srv_rss1_kb = opt.server_pid ? proc_status_kb(opt.server_pid, "VmRSS") : -1;
      phase = PH_TRAFFIC;
      phase_t_ns = uv_hrtime();
      start_traffic();
      if (opt.closed)
        note("traffic: %d chargers, closed loop (one call outstanding each), %d UI x %d "
             "watched, warmup %.0fs, window %.0fs",
             chargers_booted, ui_open, opt.watch, opt.warmup, opt.duration);
      else
        note("traffic: %d chargers x %.1f/s, %d UI x %d watched, warmup %.0fs, window %.0fs",
             chargers_booted, opt.rate, ui_open, opt.watch, opt.warmup, opt.duration);
    }
    break;
  case PH_TRAFFIC: {
    uint64_t us = now_us();
    if (!in_window && us >= win_start_us) {
      in_window = true;
      win_t_start_ns = uv_hrtime();
      frames_at_start = frames_total;
      events_at_start_cnt = events_total;
      if (opt.server_pid) {
        srv_cpu0 = proc_cpu(opt.server_pid);
        tasks_read(opt.server_pid, &srv_tasks0);
      }
      self_cpu0 = self_cpu();
      mach_cpu0 = machine_cpu();
      metrics_fetch(0);
    }
    static uint64_t last_ev, last_fr, last_ans, last_print;
    if (now - last_print >= 1000000000ULL) {
      if (last_print && opt.closed)
        note("answers/s=%llu events/s=%llu ui_open=%d", (unsigned long long)(answers - last_ans),
             (unsigned long long)(events_total - last_ev), ui_open);
      else if (last_print)
        note("events/s=%llu frames/s=%llu ui_open=%d", (unsigned long long)(events_total - last_ev),
             (unsigned long long)(frames_total - last_fr), ui_open);
      last_ev = events_total;
      last_fr = frames_total;
      last_ans = answers;
      last_print = now;
    }
    if (us >= win_end_us) {
      win_t_end_ns = uv_hrtime();
      frames_at_end = frames_total;
      if (opt.server_pid) {
        srv_cpu1 = proc_cpu(opt.server_pid);
        tasks_read(opt.server_pid, &srv_tasks1);
      }
      self_cpu1 = self_cpu();
      mach_cpu1 = machine_cpu();
      metrics_fetch(1);
      in_window = false;
      for (int i = 0; i < opt.chargers; i++)
        uv_timer_stop(&ch[i].t);
      phase = PH_DRAIN;
      phase_t_ns = uv_hrtime();
    }
    break;
  }
  case PH_DRAIN: {
    uint64_t outstanding = 0;
    for (int i = 0; i < opt.chargers; i++)
      outstanding += (uint64_t)ch[i].inflight;
    /* A closed-loop run without browsers is done once every call is answered. */
    if (in_phase >= opt.drain || (opt.closed && !opt.ui && !outstanding && !metrics_pending)) {
      unanswered = outstanding;
      if (opt.server_pid) {
        srv_rss_end_kb = proc_status_kb(opt.server_pid, "VmRSS");
        srv_hwm_kb = proc_status_kb(opt.server_pid, "VmHWM");
      }
      phase = PH_DONE;
      report();
      for (int i = 0; i < opt.chargers; i++)
        if (ch[i].ws) wsc_abort(ch[i].ws);
      for (int i = 0; i < opt.ui; i++)
        if (uis[i].ws) wsc_abort(uis[i].ws);
      uv_timer_stop(&phase_timer);
      uv_close((uv_handle_t *)&phase_timer, NULL);
      for (int i = 0; i < opt.chargers; i++)
        uv_close((uv_handle_t *)&ch[i].t, NULL);
    }
    break;
  }
  }
}

/* ---- report --------------------------------------------------------------------- */

static void machine_json(FILE *f)
{
  struct utsname un;
  uname(&un);
  char model[256] = "?", line[512];
  FILE *ci = fopen("/proc/cpuinfo", "r");
  if (ci) {
    while (fgets(line, sizeof(line), ci))
      if (!strncmp(line, "model name", 10)) {
        char *p = strchr(line, ':');
        if (p) {
          snprintf(model, sizeof(model), "%s", p + 2);
          model[strcspn(model, "\n")] = 0;
        }
        break;
      }
    fclose(ci);
  }
  long mem_kb = -1;
  FILE *mi = fopen("/proc/meminfo", "r");
  if (mi) {
    if (fgets(line, sizeof(line), mi)) sscanf(line, "MemTotal: %ld", &mem_kb);
    fclose(mi);
  }
  fprintf(f,
          "{\"nproc\":%ld,\"memTotalKiB\":%ld,\"kernel\":\"%s %s\",\"cpu\":\"%s\","
          "\"libuv\":\"%s\"}",
          sysconf(_SC_NPROCESSORS_ONLN), mem_kb, un.sysname, un.release, model,
          uv_version_string());
}

static void report(void)
{
  double win_s = (double)(win_t_end_ns - win_t_start_ns) / 1e9;
  if (win_s <= 0) win_s = opt.duration;
  double ev_rate = (double)events_win / opt.duration;
  double fr_rate = (double)(frames_at_end - frames_at_start) / win_s;
  /* answers are counted by their read time inside [win_ns0, win_ns1): exactly --duration */
  double ans_rate = (double)results_win / opt.duration;
  double srv_cpu = opt.server_pid ? (srv_cpu1 - srv_cpu0) / win_s * 100.0 : -1;
  double self_c = (self_cpu1 - self_cpu0) / win_s * 100.0;
  /* the rest of the machine: other processes, and interrupt work not charged to a process */
  double other_c = opt.server_pid && mach_cpu0 >= 0 && mach_cpu1 >= 0
                       ? (mach_cpu1 - mach_cpu0) / win_s * 100.0 - srv_cpu - self_c
                       : -1;
  if (opt.server_pid && other_c < 0 && other_c > -5) other_c = 0; /* tick rounding */
  double per_conn_kb =
      (srv_rss0_kb >= 0 && ui_open > 0) ? (double)(srv_rss1_kb - srv_rss0_kb) / ui_open : -1;
  double missing = expected_win ? 1.0 - (double)events_win / (double)expected_win : 0;
  long long commits =
      store_commits[0] >= 0 && store_commits[1] >= 0 ? store_commits[1] - store_commits[0] : -1;
  double per_commit = commits > 0 ? (double)results_win / (double)commits : -1;
  static tgroup_t thr[TASKS_MAX];
  int nthr = opt.server_pid ? thread_groups(thr) : 0;
  bool thr_capped = srv_tasks0.capped || srv_tasks1.capped;
  double q[] = {0.5, 0.9, 0.99, 0.999};
  double e2eq[4], rttq[4];
  for (int i = 0; i < 4; i++) {
    e2eq[i] = hist_q(&e2e, q[i]) / 1000.0;
    rttq[i] = hist_q(&rtt, q[i]) / 1000.0;
  }
  char rate_s[32];
  if (opt.closed)
    snprintf(rate_s, sizeof(rate_s), "max");
  else
    snprintf(rate_s, sizeof(rate_s), "%g", opt.rate);
  if (opt.closed)
    printf("\n== %s: %d chargers, closed loop (one MeterValues outstanding each), %d UI clients "
           "x %d chargers\n",
           opt.name, chargers_booted, ui_open, opt.ui ? opt.watch : 0);
  else
    printf("\n== %s: %d chargers x %.1f MeterValues/s, %d UI clients x %d chargers "
           "(%.0f watchers/charger)\n",
           opt.name, chargers_booted, opt.rate, ui_open, opt.watch,
           opt.chargers ? (double)opt.ui * opt.watch / opt.chargers : 0);
  printf("| metric | value |\n|---|---:|\n");
  if (opt.closed) {
    printf("| MeterValues answered with CALLRESULT in window (%.0f s) | %llu |\n", opt.duration,
           (unsigned long long)results_win);
    printf("| MeterValues committed per second | %.0f |\n", ans_rate);
  } else {
    printf("| MeterValues sent in window (%.0f s) | %llu |\n", opt.duration,
           (unsigned long long)sent_win);
  }
  if (!opt.closed || opt.ui) {
    printf("| deliveries expected / received | %llu / %llu (%.3f%% missing) |\n",
           (unsigned long long)expected_win, (unsigned long long)events_win, missing * 100);
    printf("| events delivered per second | %.0f |\n", ev_rate);
    printf("| frames received per second | %.0f |\n", fr_rate);
    printf("| end-to-end latency p50 / p90 / p99 / p99.9 / max (ms) | %.2f / %.2f / %.2f / %.2f "
           "/ %.2f |\n",
           e2eq[0], e2eq[1], e2eq[2], e2eq[3], e2e.max_us / 1000.0);
  }
  printf("| charger call round trip p50 / p99 / max (ms) | %.2f / %.2f / %.2f |\n", rttq[0],
         rttq[2], rtt.max_us / 1000.0);
  printf("| CALLERRORs in window / in all | %llu / %llu |\n", (unsigned long long)callerrors_win,
         (unsigned long long)callerrors);
  printf("| answers to no call / calls unanswered at the end | %llu / %llu |\n",
         (unsigned long long)unmatched, (unsigned long long)unanswered);
  if (commits >= 0)
    printf("| server commits in window / MeterValues per commit | %lld / %.1f |\n", commits,
           per_commit);
  if (opt.server_pid) {
    printf("| server CPU (%% of one core) | %.0f |\n", srv_cpu);
    if (nthr) {
      printf("| server CPU per thread name (%% of one core, threads) | ");
      for (int i = 0; i < nthr; i++) {
        if (i) printf(", ");
        put_name(stdout, thr[i].name, false);
        printf(" %.0f (%d)", thr[i].cpu / win_s * 100.0, thr[i].count);
      }
      if (thr_capped) printf("; only %d threads read", TASKS_MAX);
      printf(" |\n");
    }
    printf("| server RSS before UI / after UI / end / peak (MiB) | %.1f / %.1f / %.1f / %.1f |\n",
           srv_rss0_kb / 1024.0, srv_rss1_kb / 1024.0, srv_rss_end_kb / 1024.0,
           srv_hwm_kb / 1024.0);
    if (opt.ui)
      printf("| server memory per idle UI connection (KiB)%s | %.2f |\n",
             opt.deflate ? ", permessage-deflate" : "", per_conn_kb);
  }
  if (opt.ui || !opt.closed)
    printf("| UI connections held / failed / closed by server | %d / %d / %d |\n", ui_open,
           ui_failed, ui_closed_early);
  if (opt.deflate)
    printf("| UI connections with permessage-deflate / messages inflated | %d / %llu |\n",
           ui_deflate, (unsigned long long)wsc_inflated());
  printf("| bench CPU (%% of one core) | %.0f |\n", self_c);
  if (opt.server_pid)
    printf("| rest of the machine during the window (%% of one core) | %.0f |\n", other_c);
  printf("| machine load average (1 min) before the run | %.2f |\n", load_at_start);
  fflush(stdout);

  if (opt.json) {
    FILE *f = fopen(opt.json, "w");
    if (!f) die("cannot write %s", opt.json);
    fprintf(f, "{\"name\":\"%s\",\"machine\":", opt.name);
    machine_json(f);
    fprintf(f,
            ",\"params\":{\"chargers\":%d,\"rate\":%s%s%s,\"ui\":%d,\"watch\":%d,\"warmup\":%g,"
            "\"duration\":%g,\"sources\":%d,\"deflate\":%s},",
            opt.chargers, opt.closed ? "\"" : "", rate_s, opt.closed ? "\"" : "", opt.ui, opt.watch,
            opt.warmup, opt.duration, opt.sources, opt.deflate ? "true" : "false");
    fprintf(f,
            "\"chargersBooted\":%d,\"uiOpen\":%d,\"uiDeflate\":%d,\"uiFailed\":%d,"
            "\"uiClosedByServer\":%d,"
            "\"sent\":%llu,\"expected\":%llu,\"received\":%llu,\"missingRatio\":%.6f,"
            "\"eventsPerSec\":%.1f,\"framesPerSec\":%.1f,",
            chargers_booted, ui_open, ui_deflate, ui_failed, ui_closed_early,
            (unsigned long long)sent_win, (unsigned long long)expected_win,
            (unsigned long long)events_win, missing, ev_rate, fr_rate);
    fprintf(f,
            "\"answered\":%llu,\"answeredPerSec\":%.1f,\"answeredTotal\":%llu,"
            "\"callErrorsInWindow\":%llu,"
            "\"unmatchedAnswers\":%llu,\"unanswered\":%llu,\"storeCommits\":%lld,"
            "\"meterValuesPerCommit\":%.2f,",
            (unsigned long long)results_win, ans_rate, (unsigned long long)results_total,
            (unsigned long long)callerrors_win, (unsigned long long)unmatched,
            (unsigned long long)unanswered, commits, per_commit);
    fprintf(f,
            "\"latencyMs\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,"
            "\"mean\":%.3f,\"n\":%llu},",
            e2eq[0], e2eq[1], e2eq[2], e2eq[3], e2e.max_us / 1000.0,
            e2e.n ? e2e.sum_us / (double)e2e.n / 1000.0 : 0, (unsigned long long)e2e.n);
    fprintf(f,
            "\"callRttMs\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p999\":%.3f,\"max\":%.3f,"
            "\"n\":%llu},\"callErrors\":%llu,",
            rttq[0], rttq[1], rttq[2], rttq[3], rtt.max_us / 1000.0, (unsigned long long)rtt.n,
            (unsigned long long)callerrors);
    fprintf(f,
            "\"server\":{\"pid\":%d,\"cpuPercent\":%.1f,\"rssBeforeUiKiB\":%ld,"
            "\"rssAfterUiKiB\":%ld,\"rssEndKiB\":%ld,\"peakRssKiB\":%ld,"
            "\"perIdleUiConnKiB\":%.3f",
            opt.server_pid, srv_cpu, srv_rss0_kb, srv_rss1_kb, srv_rss_end_kb, srv_hwm_kb,
            per_conn_kb);
    if (opt.server_pid) {
      fprintf(f, ",\"threads\":[");
      for (int i = 0; i < nthr; i++) {
        fprintf(f, "%s{\"name\":\"", i ? "," : "");
        put_name(f, thr[i].name, true);
        fprintf(f, "\",\"count\":%d,\"cpuPercent\":%.1f}", thr[i].count,
                thr[i].cpu / win_s * 100.0);
      }
      fprintf(f, "],\"threadsCapped\":%s", thr_capped ? "true" : "false");
    }
    fprintf(f, "},\"benchCpuPercent\":%.1f,\"otherCpuPercent\":%.1f,\"loadAvgAtStart\":%.2f}\n",
            self_c, other_c, load_at_start);
    fclose(f);
  }
}

/* ---- main ---------------------------------------------------------------------- */

static void usage(FILE *f)
{
  fprintf(f, "usage: flashcharge-bench [options]\n"
             "  --ocpp-url URL     (ws://127.0.0.1:8180/ocpp)\n"
             "  --ui-url URL       (ws://127.0.0.1:8080/ws)\n"
             "  --chargers C       chargers (100)\n"
             "  --rate R           MeterValues per second per charger (1; 0 = no traffic;\n"
             "                     max = closed loop: the next call as soon as one is answered)\n"
             "  --ui U             UI clients (1000)\n"
             "  --watch W          chargers watched by each UI client (1)\n"
             "  --warmup S, --duration S, --drain S   seconds (3, 20, 3)\n"
             "  --server-pid PID   read the server's CPU time and memory from /proc\n"
             "                     (the CPU time per thread name too)\n"
             "  --secret S         HS256 secret (default env FLASHCHARGE_JWT_SECRET)\n"
             "  --sources N        source addresses 127.0.0.2… (16; 0 = let the kernel pick)\n"
             "  --prefix P         charger ids P0001… (BENCH)\n"
             "  --name NAME        run name in the report\n"
             "  --json FILE        write the results as JSON\n"
             "  --deflate          UI clients offer permessage-deflate (and inflate what comes)\n");
}

int main(int argc, char **argv)
{
  static const struct option lo[] = {
      {"ocpp-url", 1, 0, 'o'},   {"ui-url", 1, 0, 'u'},   {"chargers", 1, 0, 'c'},
      {"rate", 1, 0, 'r'},       {"ui", 1, 0, 'U'},       {"watch", 1, 0, 'w'},
      {"warmup", 1, 0, 'W'},     {"duration", 1, 0, 'd'}, {"drain", 1, 0, 'D'},
      {"server-pid", 1, 0, 'p'}, {"secret", 1, 0, 's'},   {"sources", 1, 0, 'S'},
      {"prefix", 1, 0, 'P'},     {"name", 1, 0, 'n'},     {"deflate", 0, 0, 'z'},
      {"json", 1, 0, 'j'},       {"help", 0, 0, 'h'},     {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
    switch (c) {
    case 'o':
      opt.ocpp_url = optarg;
      break;
    case 'u':
      opt.ui_url = optarg;
      break;
    case 'c':
      opt.chargers = atoi(optarg);
      break;
    case 'r':
      opt.closed = !strcmp(optarg, "max");
      opt.rate = opt.closed ? 0 : atof(optarg);
      break;
    case 'U':
      opt.ui = atoi(optarg);
      break;
    case 'w':
      opt.watch = atoi(optarg);
      break;
    case 'W':
      opt.warmup = atof(optarg);
      break;
    case 'd':
      opt.duration = atof(optarg);
      break;
    case 'D':
      opt.drain = atof(optarg);
      break;
    case 'p':
      opt.server_pid = atoi(optarg);
      break;
    case 's':
      opt.secret = optarg;
      break;
    case 'S':
      opt.sources = atoi(optarg);
      break;
    case 'P':
      opt.prefix = optarg;
      break;
    case 'n':
      opt.name = optarg;
      break;
    case 'j':
      opt.json = optarg;
      break;
    case 'z':
      opt.deflate = true;
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (!opt.secret) opt.secret = getenv("FLASHCHARGE_JWT_SECRET");
  if (opt.chargers < 1 || opt.ui < 0 || opt.watch < 1 || opt.watch > opt.chargers ||
      opt.sources < 0 || opt.sources > 250 || opt.duration <= 0 || opt.rate < 0) {
    usage(stderr);
    return 2;
  }
  if (opt.ui && (!opt.secret || strlen(opt.secret) < 32))
    die("UI clients need the server's HS256 secret (--secret or FLASHCHARGE_JWT_SECRET, >= 32 "
        "bytes)");
  if (wsc_parse_url(opt.ocpp_url, ocpp_host, sizeof(ocpp_host), &ocpp_port, ocpp_path,
                    sizeof(ocpp_path)) < 0 ||
      wsc_parse_url(opt.ui_url, ui_host, sizeof(ui_host), &ui_port, ui_path, sizeof(ui_path)) < 0)
    die("bad URL");
  size_t pl = strlen(ocpp_path);
  if (pl && ocpp_path[pl - 1] == '/') ocpp_path[pl - 1] = 0;
  FILE *la = fopen("/proc/loadavg", "r");
  if (la) {
    if (fscanf(la, "%lf", &load_at_start) != 1) load_at_start = -1;
    fclose(la);
  }
  if (sodium_init() < 0) die("libsodium init failed");
  signal(SIGPIPE, SIG_IGN);

  /* File descriptors: one per connection, plus some. As root the hard limit
   * can be raised too (up to fs.nr_open). */
  struct rlimit rl;
  getrlimit(RLIMIT_NOFILE, &rl);
  rlim_t need = (rlim_t)(opt.chargers + opt.ui + 1024);
  if (rl.rlim_max < need) {
    struct rlimit r2 = {need, need};
    if (setrlimit(RLIMIT_NOFILE, &r2) == 0) rl = r2;
  }
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < need)
    fprintf(stderr, "bench: warning: RLIMIT_NOFILE %llu < %llu needed\n",
            (unsigned long long)rl.rlim_cur, (unsigned long long)need);
  for (int i = 0; i < opt.sources; i++)
    snprintf(src_ip[i], sizeof(src_ip[i]), "127.0.0.%d", (2 + i) & 0xff);

  e2e.b = calloc(HIST_N, sizeof(uint32_t));
  rtt.b = calloc(HIST_N, sizeof(uint32_t));
  loop = uv_default_loop();
  t0 = uv_hrtime();
  ch = calloc((size_t)opt.chargers, sizeof(*ch));
  uis = calloc((size_t)(opt.ui ? opt.ui : 1), sizeof(*uis));
  ui_targets = calloc((size_t)(opt.ui ? opt.ui : 1), sizeof(char *));
  ui_subscribe = calloc((size_t)(opt.ui ? opt.ui : 1), sizeof(char *));
  for (int i = 0; i < opt.chargers; i++) {
    ch[i].idx = i;
    snprintf(ch[i].id, sizeof(ch[i].id), "%s%04d", opt.prefix, i + 1);
    uv_timer_init(loop, &ch[i].t);
    ch[i].t.data = &ch[i];
  }
  for (int i = 0; i < opt.ui; i++) {
    uis[i].idx = i;
    char sub[40];
    snprintf(sub, sizeof(sub), "bench-%d", i);
    char *tok = mint(sub);
    size_t cap = strlen(ui_path) + strlen(tok) + (size_t)opt.watch * 40 + 64;
    char *p = malloc(cap);
    /* The server reads one `charger=` argument of up to 511 bytes: longer
     * lists go in a subscribe message once the connection is open. */
    bool in_url = opt.watch * (strlen(opt.prefix) + 5) < 400;
    int n = snprintf(p, cap, "%s?token=%s%s", ui_path, tok, in_url ? "&charger=" : "");
    char *sub_op = NULL;
    int m = 0;
    if (!in_url) {
      sub_op = malloc(cap);
      m = snprintf(sub_op, cap, "{\"op\":\"subscribe\",\"chargers\":[");
    }
    for (int k = 0; k < opt.watch; k++) {
      int ci = (int)(((long long)i * opt.watch + k) % opt.chargers);
      ch[ci].watchers++;
      if (in_url)
        n += snprintf(p + n, cap - (size_t)n, "%s%s", k ? "," : "", ch[ci].id);
      else
        m += snprintf(sub_op + m, cap - (size_t)m, "%s\"%s\"", k ? "," : "", ch[ci].id);
    }
    if (sub_op) snprintf(sub_op + m, cap - (size_t)m, "]}");
    ui_subscribe[i] = sub_op;
    ui_targets[i] = p;
    free(tok);
  }
  uv_timer_init(loop, &phase_timer);
  uv_timer_start(&phase_timer, phase_tick, 5, 5);
  phase_t_ns = uv_hrtime();
  uv_run(loop, UV_RUN_DEFAULT);
  int unready = opt.ui - ui_ready;
  bool ok = phase == PH_DONE && ui_failed == 0 && unready == 0;
  /* a closed-loop run is clean only when every call of the window was taken */
  if (opt.closed && (!results_win || callerrors || unmatched || unanswered)) ok = false;
  return ok ? 0 : 1;
}
