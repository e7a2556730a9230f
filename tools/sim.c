/* flashcharge-sim: N simulated flashCharge chargers in one process.
 *
 * Each charger behaves like an ESP32 running MicroOcpp 1.x, as described in
 * DESIGN.md ("Chargers as they really behave"):
 *   - BootNotification once per (simulated) process start, never on
 *     reconnects; the answer's interval becomes the heartbeat interval and its
 *     currentTime the clock;
 *   - one charger-initiated call outstanding at a time: every call waits in
 *     one FIFO queue and the head is sent only when the previous one was
 *     answered;
 *   - transaction messages (StartTransaction, MeterValues of a transaction,
 *     StopTransaction) and StatusNotifications stay in the queue across
 *     disconnections until the server confirms them; they are resent after
 *     the reconnect (new message id) with their original time stamps. Other
 *     calls (Heartbeat, Authorize, DataTransfer) are dropped when the link
 *     drops;
 *   - a CALLERROR on a transaction message is retried (identical payload, new
 *     message id) up to 3 times, then the message is discarded, and with a
 *     StartTransaction the whole transaction, as the firmware does;
 *   - reconnects with exponential backoff (0.5 s doubling to 10 s, jitter).
 *
 * Simulated time: every charger-side duration (idle time, meter interval,
 * heartbeat, charging physics) is in simulated seconds and runs --speed times
 * faster than the wall clock; network timing (backoff, call timeouts) and the
 * messages' time stamps are real.
 *
 * The charging curve: a constant-power phase up to 80 % SoC, then power
 * tapering linearly to 15 % of it at 100 %. A current limit from
 * SetChargingProfile caps the power, so the SoC rises more slowly; as MicroOcpp, it
 * advertises ChargingScheduleAllowedChargingRateUnit ("Power" unless changed)
 * and rejects a profile in the other unit. */
#include "wsc.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <uv.h>

#define TXSLOTS 64
#define QUEUE_MAX 2000 /* offline queue per charger, as MicroOcpp caps it */
#define CALL_TIMEOUT_MS 30000
#define MAINS_V 230.0
#define MAX_A 32.0

/* ---- options --------------------------------------------------------------- */

static struct {
  int count;
  const char *prefix;
  double interval; /* simulated seconds between meter values */
  double speed;
  const char *url;
  const char *password;
  const char *tag;
  unsigned seed;
  int quiet;
  double idle_min, idle_max; /* simulated seconds a connector stays free */
} opt = {
    .count = 1,
    .prefix = "SIM",
    .interval = 10,
    .speed = 1,
    .url = "ws://127.0.0.1:8180/ocpp",
    .tag = "04A1B2C3",
    .seed = 1,
    .idle_min = 20,
    .idle_max = 120,
};

static char url_host[128], url_path[512];
static int url_port;
static uv_loop_t *loop;
static uint64_t t0_ns;
static long long clock_offset_ms; /* server clock minus ours, from BootNotification */
static unsigned long long msg_counter;
static bool stopping;

/* ---- logging ----------------------------------------------------------------- */

static void logf_(const char *id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(const char *id, const char *fmt, ...)
{
  struct timeval tv;
  gettimeofday(&tv, NULL);
  struct tm tm;
  gmtime_r(&tv.tv_sec, &tm);
  char ts[32];
  strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof(line), fmt, ap);
  va_end(ap);
  fprintf(stderr, "ts=%s.%03d sim charger=%s %s\n", ts, (int)(tv.tv_usec / 1000), id ? id : "-",
          line);
}

/* ---- time ------------------------------------------------------------------ */

static long long wall_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void iso_time(long long ms, char *out, size_t n)
{
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  char b[32];
  strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, n, "%s.%03dZ", b, (int)(ms % 1000));
}

static json_t *now_ts(void)
{
  char b[40];
  iso_time(wall_ms() + clock_offset_ms, b, sizeof(b));
  return json_string(b);
}

/* Simulated seconds → real milliseconds for a timer. */
static uint64_t sim_ms(double sim_s)
{
  double ms = sim_s * 1000.0 / opt.speed;
  return ms < 1 ? 1 : (uint64_t)ms;
}

/* ---- charger ---------------------------------------------------------------- */

enum conn_state { C_AVAILABLE, C_PREPARING, C_CHARGING, C_SUSPENDED_EV, C_FINISHING };
static const char *const status_name[] = {"Available", "Preparing", "Charging", "SuspendedEV",
                                          "Finishing"};

enum { K_PLAIN, K_TX, K_STATUS, K_BOOT };

typedef struct msg {
  struct msg *next;
  const char *action;
  json_t *payload;
  int kind;
  int tx;       /* local transaction slot whose server id goes into the payload, or -1 */
  int attempts; /* CALLERRORs so far */
} msg_t;

typedef struct charger {
  int index;
  char id[64];
  char password[128];
  unsigned rng;
  wsc_t *ws;
  bool online;
  int backoff_ms;
  bool booted; /* BootNotification accepted since the (simulated) process start */
  bool boot_queued;
  int heartbeat_s;
  /* the FIFO of charger-initiated calls; head is outstanding when in_flight */
  msg_t *head, *tail;
  int queued;
  bool in_flight;
  char in_flight_id[48];
  uv_timer_t t_conn, t_state, t_meter, t_hb, t_call;
  /* connector 1 */
  enum conn_state st;
  double soc, target, cap_wh, energy_wh, power_w, limit_w;
  char rate_unit[16]; /* ChargingScheduleAllowedChargingRateUnit: "Power", as MicroOcpp ships */
  int tx_slot;        /* current local transaction, or -1 */
  int next_slot;
  long long txid[TXSLOTS]; /* server transactionId per slot: 0 unknown, -1 discarded */
  bool remote_start;
  char remote_tag[24];
  double sample_s; /* MeterValueSampleInterval */
  bool reset_pending;
  int resets;
  long long stats_confirmed_tx;
} charger_t;

static charger_t *chargers;

static double rnd(charger_t *c)
{
  c->rng ^= c->rng << 13;
  c->rng ^= c->rng >> 17;
  c->rng ^= c->rng << 5;
  return (c->rng & 0xffffff) / (double)0x1000000;
}

static double rnd_range(charger_t *c, double a, double b)
{
  return a + (b - a) * rnd(c);
}

static void pump(charger_t *c);
static void schedule_state(charger_t *c, double sim_s);
static void connect_charger(charger_t *c);
static void begin_stop(charger_t *c, const char *reason);
static void reconnect_cb(uv_timer_t *t);

static void enqueue(charger_t *c, const char *action, json_t *payload, int kind, int tx)
{
  if (c->queued >= QUEUE_MAX && kind != K_BOOT) {
    logf_(c->id, "event=queue_full action=%s dropped=1", action);
    json_decref(payload);
    return;
  }
  msg_t *m = calloc(1, sizeof(*m));
  m->action = action;
  m->payload = payload;
  m->kind = kind;
  m->tx = tx;
  if (kind == K_BOOT) { /* boot goes first */
    m->next = c->in_flight && c->head ? c->head->next : c->head;
    if (c->in_flight && c->head) {
      c->head->next = m;
      if (c->tail == c->head) c->tail = m;
    } else {
      c->head = m;
      if (!c->tail) c->tail = m;
    }
  } else {
    if (c->tail)
      c->tail->next = m;
    else
      c->head = m;
    c->tail = m;
  }
  c->queued++;
  pump(c);
}

static msg_t *pop(charger_t *c)
{
  msg_t *m = c->head;
  if (!m) return NULL;
  c->head = m->next;
  if (!c->head) c->tail = NULL;
  c->queued--;
  c->in_flight = false;
  uv_timer_stop(&c->t_call);
  return m;
}

static void msg_free(msg_t *m)
{
  json_decref(m->payload);
  free(m);
}

static void send_json(charger_t *c, json_t *frame)
{
  char *s = json_dumps(frame, JSON_COMPACT);
  if (s && c->ws) wsc_send_text(c->ws, s, strlen(s));
  free(s);
  json_decref(frame);
}

static void call_timeout(uv_timer_t *t)
{
  charger_t *c = t->data;
  if (!c->in_flight || !c->head) return;
  logf_(c->id, "event=call_timeout action=%s id=%s", c->head->action, c->in_flight_id);
  c->in_flight = false;
  if (c->head->kind == K_PLAIN) msg_free(pop(c));
  pump(c);
}

/* Sends the head of the queue when nothing is outstanding. */
static void pump(charger_t *c)
{
  while (c->online && !c->in_flight && c->head) {
    msg_t *m = c->head;
    if (!c->booted && m->kind != K_BOOT) return; /* nothing before the boot is accepted */
    if (m->tx >= 0) {
      long long id = c->txid[m->tx % TXSLOTS];
      if (id < 0) { /* its transaction was discarded: so is the message */
        logf_(c->id, "event=message_discarded action=%s reason=transaction_discarded", m->action);
        msg_free(pop(c));
        continue;
      }
      if (id == 0) return; /* cannot happen with one FIFO; wait */
      json_object_set_new(m->payload, "transactionId", json_integer(id));
    }
    snprintf(c->in_flight_id, sizeof(c->in_flight_id), "%08llx-%04x-sim-%llu",
             (unsigned long long)c->index, (unsigned)(c->rng & 0xffff), ++msg_counter);
    c->in_flight = true;
    send_json(c, json_pack("[i,s,s,O]", 2, c->in_flight_id, m->action, m->payload));
    uv_timer_start(&c->t_call, call_timeout, CALL_TIMEOUT_MS, 0);
    return;
  }
}

/* ---- charger-initiated messages ------------------------------------------------ */

static void send_status(charger_t *c, enum conn_state st)
{
  c->st = st;
  logf_(c->id, "event=status status=%s", status_name[st]);
  enqueue(c, "StatusNotification",
          json_pack("{s:i, s:s, s:s, s:o}", "connectorId", 1, "errorCode", "NoError", "status",
                    status_name[st], "timestamp", now_ts()),
          K_STATUS, -1);
}

static void send_boot(charger_t *c)
{
  if (c->boot_queued) return;
  c->boot_queued = true;
  enqueue(c, "BootNotification",
          json_pack("{s:s, s:s, s:s, s:s}", "chargePointVendor", "flashCharge", "chargePointModel",
                    "Pro", "chargePointSerialNumber", c->id, "firmwareVersion", "1.2.0-sim"),
          K_BOOT, -1);
}

static void send_heartbeat(charger_t *c)
{
  enqueue(c, "Heartbeat", json_object(), K_PLAIN, -1);
}

static void sample(charger_t *c, double dt_s)
{
  /* The battery's own curve: full power to 80 %, tapering after. */
  double pmax = MAX_A * MAINS_V;
  if (c->limit_w > 0 && c->limit_w < pmax) pmax = c->limit_w;
  double p = 0;
  if (c->st == C_CHARGING) {
    p = pmax;
    if (c->soc > 80) p = pmax * (1.0 - 0.85 * (c->soc - 80) / 20.0);
    if (c->soc >= 100) p = 0;
  }
  c->power_w = p;
  c->energy_wh += p * dt_s / 3600.0;
  c->soc += p * 0.92 * dt_s / 3600.0 / c->cap_wh * 100.0;
  if (c->soc > 100) c->soc = 100;
}

static void send_meter(charger_t *c, const char *context)
{
  char v[32], i[32], p[32], e[32], s[32];
  double volts = MAINS_V + rnd_range(c, -2, 2);
  snprintf(v, sizeof(v), "%.1f", volts);
  snprintf(i, sizeof(i), "%.2f", c->power_w / volts);
  snprintf(p, sizeof(p), "%.1f", c->power_w);
  snprintf(e, sizeof(e), "%.2f", c->energy_wh);
  snprintf(s, sizeof(s), "%.0f", floor(c->soc));
  json_t *sv =
      json_pack("[{s:s,s:s,s:s,s:s}, {s:s,s:s,s:s,s:s}, {s:s,s:s,s:s,s:s}, {s:s,s:s,s:s,s:s}, "
                "{s:s,s:s,s:s}]",
                "value", v, "context", context, "measurand", "Voltage", "unit", "V", "value", i,
                "context", context, "measurand", "Current.Import", "unit", "A", "value", p,
                "context", context, "measurand", "Power.Active.Import", "unit", "W", "value", e,
                "context", context, "measurand", "Energy.Active.Import.Register", "unit", "Wh",
                "value", s, "context", context, "measurand", "SoC");
  json_t *pl = json_pack("{s:i, s:[{s:o, s:o}]}", "connectorId", 1, "meterValue", "timestamp",
                         now_ts(), "sampledValue", sv);
  if (!opt.quiet)
    logf_(c->id, "event=meter soc=%s power=%s energyWh=%s queued=%d", s, p, e, c->queued);
  enqueue(c, "MeterValues", pl, c->tx_slot >= 0 ? K_TX : K_PLAIN, c->tx_slot);
}

static void meter_tick(uv_timer_t *t)
{
  charger_t *c = t->data;
  sample(c, c->sample_s);
  if (c->tx_slot >= 0) send_meter(c, "Sample.Periodic");
  if (c->st == C_CHARGING && c->soc >= c->target) {
    if (c->target >= 100) {
      send_status(c, C_SUSPENDED_EV); /* the battery is full: the EV stops drawing */
      schedule_state(c, rnd_range(c, 30, 120));
    } else {
      begin_stop(c, "Local"); /* the user's target reached: stopped at the charger */
    }
  }
}

static void start_meter(charger_t *c)
{
  uint64_t ms = sim_ms(c->sample_s);
  uv_timer_start(&c->t_meter, meter_tick, ms, ms);
}

static void start_transaction(charger_t *c, const char *tag)
{
  int slot = c->next_slot++;
  c->txid[slot % TXSLOTS] = 0;
  c->tx_slot = slot;
  logf_(c->id, "event=transaction_start slot=%d meterStart=%.0f soc=%.0f online=%d", slot,
        floor(c->energy_wh), c->soc, c->online);
  enqueue(c, "StartTransaction",
          json_pack("{s:i, s:s, s:I, s:o}", "connectorId", 1, "idTag", tag, "meterStart",
                    (json_int_t)floor(c->energy_wh), "timestamp", now_ts()),
          K_TX, -1);
  send_status(c, C_CHARGING);
  sample(c, 0);
  start_meter(c);
}

static void begin_stop(charger_t *c, const char *reason)
{
  if (c->tx_slot < 0) return;
  uv_timer_stop(&c->t_meter);
  c->power_w = 0;
  send_meter(c, "Transaction.End");
  send_status(c, C_FINISHING);
  logf_(c->id, "event=transaction_stop slot=%d reason=%s meterStop=%.0f soc=%.0f", c->tx_slot,
        reason, floor(c->energy_wh), c->soc);
  enqueue(c, "StopTransaction",
          json_pack("{s:I, s:o, s:s, s:s}", "meterStop", (json_int_t)floor(c->energy_wh),
                    "timestamp", now_ts(), "reason", reason, "idTag", opt.tag),
          K_TX, c->tx_slot);
  c->tx_slot = -1;
  c->limit_w = 0; /* a TxProfile ends with its transaction */
  schedule_state(c, rnd_range(c, 5, 20));
}

/* ---- the connector's state machine ------------------------------------------------ */

static void state_step(uv_timer_t *t)
{
  charger_t *c = t->data;
  if (!c->booted) return;
  switch (c->st) {
  case C_AVAILABLE: { /* an EV is plugged in */
    c->soc = rnd_range(c, 8, 50);
    c->target = rnd(c) < 0.5 ? 100 : rnd_range(c, 80, 95);
    send_status(c, C_PREPARING);
    char data[200];
    snprintf(data, sizeof(data),
             "{\"connectorId\":1,\"soc\":%.0f,\"batteryVoltage\":51.2,"
             "\"batteryCapacityWh\":%.0f,\"model\":\"Pro\"}",
             floor(c->soc), c->cap_wh);
    logf_(c->id, "event=precharge soc=%.0f", floor(c->soc));
    enqueue(c, "DataTransfer",
            json_pack("{s:s, s:s, s:s}", "vendorId", "flashCharge", "messageId", "PreChargeData",
                      "data", data),
            K_PLAIN, -1);
    if (c->remote_start) {
      c->remote_start = false;
      start_transaction(c, c->remote_tag);
    } else if (!c->online) {
      logf_(c->id, "event=authorize offline=1 result=LocalAuthorizeOffline");
      start_transaction(c, opt.tag);
    } else {
      enqueue(c, "Authorize", json_pack("{s:s}", "idTag", opt.tag), K_PLAIN, -1);
    }
    break;
  }
  case C_PREPARING: /* authorization never came: the user walks away */
    send_status(c, C_AVAILABLE);
    schedule_state(c, rnd_range(c, opt.idle_min, opt.idle_max));
    break;
  case C_SUSPENDED_EV:
    begin_stop(c, "EVDisconnected");
    break;
  case C_FINISHING: /* unplugged */
    send_status(c, C_AVAILABLE);
    schedule_state(c, rnd_range(c, opt.idle_min, opt.idle_max));
    break;
  default:
    break;
  }
}

static void schedule_state(charger_t *c, double sim_s)
{
  uv_timer_start(&c->t_state, state_step, sim_ms(sim_s), 0);
}

static void hb_tick(uv_timer_t *t)
{
  charger_t *c = t->data;
  if (c->online && c->booted) send_heartbeat(c);
}

static void start_heartbeat(charger_t *c)
{
  uint64_t ms = sim_ms(c->heartbeat_s > 0 ? c->heartbeat_s : 300);
  uv_timer_start(&c->t_hb, hb_tick, ms, ms);
}

/* ---- answers to our calls --------------------------------------------------------- */

static void boot_retry(uv_timer_t *t)
{
  send_boot(t->data);
}

static void on_result(charger_t *c, json_t *payload)
{
  msg_t *m = pop(c);
  if (!m) return;
  const char *a = m->action;
  if (!strcmp(a, "BootNotification")) {
    const char *st = json_string_value(json_object_get(payload, "status"));
    int interval = (int)json_integer_value(json_object_get(payload, "interval"));
    const char *ct = json_string_value(json_object_get(payload, "currentTime"));
    c->boot_queued = false;
    if (ct) {
      struct tm tm = {0};
      int ms = 0;
      if (sscanf(ct, "%d-%d-%dT%d:%d:%d.%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
                 &tm.tm_min, &tm.tm_sec, &ms) >= 6) {
        tm.tm_year -= 1900;
        tm.tm_mon -= 1;
        long long srv = (long long)timegm(&tm) * 1000 + ms;
        long long off = srv - wall_ms();
        /* the answer took a moment: only believe offsets beyond a second */
        clock_offset_ms = llabs(off) > 1000 ? off : 0;
      }
    }
    if (interval > 0) c->heartbeat_s = interval;
    logf_(c->id, "event=boot status=%s interval=%d", st ? st : "?", interval);
    if (st && !strcmp(st, "Accepted")) {
      c->booted = true;
      start_heartbeat(c);
      send_status(c, c->st); /* its state, right after the boot */
      if (c->st == C_AVAILABLE) schedule_state(c, rnd_range(c, 2, 10));
    } else { /* Pending or Rejected: try again after the interval */
      uv_timer_stop(&c->t_hb);
      uv_timer_start(&c->t_hb, boot_retry, sim_ms(interval > 0 ? interval : 60), 0);
    }
  } else if (!strcmp(a, "StartTransaction")) {
    json_int_t id = json_integer_value(json_object_get(payload, "transactionId"));
    const char *st =
        json_string_value(json_object_get(json_object_get(payload, "idTagInfo"), "status"));
    /* the slot is the one this StartTransaction opened: the earliest unknown one */
    int slot = -1;
    for (int s = c->next_slot - TXSLOTS < 0 ? 0 : c->next_slot - TXSLOTS; s < c->next_slot; s++)
      if (c->txid[s % TXSLOTS] == 0) {
        slot = s;
        break;
      }
    if (slot >= 0) c->txid[slot % TXSLOTS] = id;
    c->stats_confirmed_tx++;
    logf_(c->id, "event=confirmed action=StartTransaction slot=%d transactionId=%lld status=%s",
          slot, (long long)id, st ? st : "?");
    if (st && strcmp(st, "Accepted") != 0 && slot == c->tx_slot) begin_stop(c, "DeAuthorized");
  } else if (!strcmp(a, "StopTransaction")) {
    logf_(c->id, "event=confirmed action=StopTransaction transactionId=%lld",
          (long long)json_integer_value(json_object_get(m->payload, "transactionId")));
  } else if (!strcmp(a, "Authorize")) {
    const char *st =
        json_string_value(json_object_get(json_object_get(payload, "idTagInfo"), "status"));
    logf_(c->id, "event=authorize status=%s", st ? st : "?");
    if (c->st == C_PREPARING && c->tx_slot < 0) {
      if (st && !strcmp(st, "Accepted"))
        start_transaction(c, opt.tag);
      else
        schedule_state(c, 30); /* back to Available */
    }
  } else if (!strcmp(a, "DataTransfer")) {
    const char *st = json_string_value(json_object_get(payload, "status"));
    logf_(c->id, "event=datatransfer status=%s", st ? st : "?");
  }
  msg_free(m);
  pump(c);
}

static void retry_head(uv_timer_t *t)
{
  charger_t *c = t->data;
  c->in_flight = false;
  pump(c);
}

static void on_error(charger_t *c, const char *code)
{
  msg_t *m = c->head;
  if (!m) return;
  logf_(c->id, "event=callerror action=%s code=%s attempt=%d", m->action, code, m->attempts + 1);
  if (m->kind == K_TX && ++m->attempts < 3) {
    /* the identical payload again (new message id), a while later; nothing
     * else goes out meanwhile */
    uv_timer_start(&c->t_call, retry_head, sim_ms(60), 0);
    return;
  }
  if (m->kind == K_TX) {
    logf_(c->id, "event=message_discarded action=%s reason=callerror", m->action);
    if (!strcmp(m->action, "StartTransaction")) {
      for (int s = c->next_slot - 1; s >= 0 && s >= c->next_slot - TXSLOTS; s--)
        if (c->txid[s % TXSLOTS] == 0) {
          c->txid[s % TXSLOTS] = -1;
          break;
        }
    }
  }
  msg_free(pop(c));
  pump(c);
}

/* ---- calls from the server ------------------------------------------------------ */

static json_t *cfg_list(charger_t *c, json_t *keys, json_t **unknown)
{
  struct {
    const char *key, *value;
    bool ro;
  } all[7];
  char si[16], hb[16];
  snprintf(si, sizeof(si), "%.0f", c->sample_s);
  snprintf(hb, sizeof(hb), "%d", c->heartbeat_s);
  all[0].key = "MeterValueSampleInterval", all[0].value = si, all[0].ro = false;
  all[1].key = "HeartbeatInterval", all[1].value = hb, all[1].ro = false;
  all[2].key = "MeterValuesSampledData",
  all[2].value = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage,SoC",
  all[2].ro = false;
  all[3].key = "NumberOfConnectors", all[3].value = "1", all[3].ro = true;
  all[4].key = "AuthorizeRemoteTxRequests", all[4].value = "false", all[4].ro = false;
  all[5].key = "ChargeProfileMaxStackLevel", all[5].value = "8", all[5].ro = true;
  all[6].key = "ChargingScheduleAllowedChargingRateUnit", all[6].value = c->rate_unit,
  all[6].ro = false;
  json_t *out = json_array();
  *unknown = json_array();
  size_t n = json_array_size(keys);
  for (size_t k = 0; k < (n ? n : 7); k++) {
    const char *want = n ? json_string_value(json_array_get(keys, k)) : all[k].key;
    bool found = false;
    for (int i = 0; i < 7 && want; i++)
      if (!strcmp(want, all[i].key)) {
        json_array_append_new(out, json_pack("{s:s, s:b, s:s}", "key", all[i].key, "readonly",
                                             all[i].ro, "value", all[i].value));
        found = true;
      }
    if (!found && want) json_array_append_new(*unknown, json_string(want));
  }
  return out;
}

static void reboot(uv_timer_t *t)
{
  charger_t *c = t->data;
  logf_(c->id, "event=reboot");
  c->booted = false;
  c->boot_queued = false;
  if (c->resets % 2 == 1) c->energy_wh = 0; /* the register may restart at 0 after a reboot */
  c->st = C_AVAILABLE;
  c->reset_pending = false;
  uv_timer_stop(&c->t_hb);
  uv_timer_stop(&c->t_state);
  send_boot(c);
  if (c->ws)
    wsc_abort(c->ws); /* the link drops with the reboot; on_close reconnects */
  else
    uv_timer_start(&c->t_conn, reconnect_cb, 1000, 0);
}

static json_t *handle_call(charger_t *c, const char *action, json_t *p, const char **err)
{
  if (!strcmp(action, "RemoteStartTransaction")) {
    const char *tag = json_string_value(json_object_get(p, "idTag"));
    if (c->tx_slot >= 0 || !tag || c->st != C_AVAILABLE)
      return json_pack("{s:s}", "status", "Rejected");
    snprintf(c->remote_tag, sizeof(c->remote_tag), "%s", tag);
    c->remote_start = true;
    schedule_state(c, 1); /* the user plugs in */
    return json_pack("{s:s}", "status", "Accepted");
  }
  if (!strcmp(action, "RemoteStopTransaction")) {
    json_int_t id = json_integer_value(json_object_get(p, "transactionId"));
    if (c->tx_slot < 0 || c->txid[c->tx_slot % TXSLOTS] != id)
      return json_pack("{s:s}", "status", "Rejected");
    begin_stop(c, "Remote");
    return json_pack("{s:s}", "status", "Accepted");
  }
  if (!strcmp(action, "SetChargingProfile")) {
    json_t *prof = json_object_get(p, "csChargingProfiles");
    const char *purpose = json_string_value(json_object_get(prof, "chargingProfilePurpose"));
    json_t *sched = json_object_get(prof, "chargingSchedule");
    const char *unit = json_string_value(json_object_get(sched, "chargingRateUnit"));
    double limit = json_number_value(json_object_get(
        json_array_get(json_object_get(sched, "chargingSchedulePeriod"), 0), "limit"));
    if (!unit || limit <= 0) return json_pack("{s:s}", "status", "Rejected");
    /* as MicroOcpp: a unit the charger does not allow is rejected */
    if (!strstr(c->rate_unit, !strcmp(unit, "A") ? "Current" : "Power"))
      return json_pack("{s:s}", "status", "Rejected");
    if (purpose && !strcmp(purpose, "TxProfile") && c->tx_slot < 0)
      return json_pack("{s:s}", "status", "Rejected");
    c->limit_w = !strcmp(unit, "A") ? limit * MAINS_V : limit;
    logf_(c->id, "event=charging_limit limit=%g unit=%s watts=%.0f", limit, unit, c->limit_w);
    return json_pack("{s:s}", "status", "Accepted");
  }
  if (!strcmp(action, "ClearChargingProfile")) {
    bool had = c->limit_w > 0;
    c->limit_w = 0;
    return json_pack("{s:s}", "status", had ? "Accepted" : "Unknown");
  }
  if (!strcmp(action, "GetCompositeSchedule")) {
    /* what the charger will do: its limit, or its maximum, from now */
    const char *unit = json_string_value(json_object_get(p, "chargingRateUnit"));
    bool amps = unit && !strcmp(unit, "A");
    double w = c->limit_w > 0 && c->limit_w < MAX_A * MAINS_V ? c->limit_w : MAX_A * MAINS_V;
    char now[40];
    iso_time(wall_ms() + clock_offset_ms, now, sizeof(now));
    return json_pack("{s:s, s:I, s:s, s:{s:I, s:s, s:[{s:i, s:f}]}}", "status", "Accepted",
                     "connectorId", json_integer_value(json_object_get(p, "connectorId")),
                     "scheduleStart", now, "chargingSchedule", "duration",
                     json_integer_value(json_object_get(p, "duration")), "chargingRateUnit",
                     amps ? "A" : "W", "chargingSchedulePeriod", "startPeriod", 0, "limit",
                     round((amps ? w / MAINS_V : w) * 10) / 10);
  }
  if (!strcmp(action, "DataTransfer")) /* MicroOcpp has no vendor extension by default */
    return json_pack("{s:s}", "status", "UnknownVendorId");
  if (!strcmp(action, "Reset")) {
    const char *type = json_string_value(json_object_get(p, "type"));
    bool hard = type && !strcmp(type, "Hard");
    logf_(c->id, "event=reset type=%s", hard ? "Hard" : "Soft");
    c->resets += hard ? 1 : 2; /* odd count after a hard reset: the register restarts */
    if (c->tx_slot >= 0) begin_stop(c, hard ? "HardReset" : "SoftReset");
    c->reset_pending = true;
    uv_timer_start(&c->t_conn, reboot, 500, 0);
    return json_pack("{s:s}", "status", "Accepted");
  }
  if (!strcmp(action, "TriggerMessage")) {
    const char *m = json_string_value(json_object_get(p, "requestedMessage"));
    if (!m) return json_pack("{s:s}", "status", "Rejected");
    if (!strcmp(m, "BootNotification")) {
      c->boot_queued = false;
      send_boot(c);
    } else if (!strcmp(m, "Heartbeat")) {
      send_heartbeat(c);
    } else if (!strcmp(m, "StatusNotification")) {
      send_status(c, c->st);
    } else if (!strcmp(m, "MeterValues")) {
      send_meter(c, "Trigger");
    } else if (!strcmp(m, "DiagnosticsStatusNotification")) {
      enqueue(c, "DiagnosticsStatusNotification", json_pack("{s:s}", "status", "Idle"), K_PLAIN,
              -1);
    } else if (!strcmp(m, "FirmwareStatusNotification")) {
      enqueue(c, "FirmwareStatusNotification", json_pack("{s:s}", "status", "Idle"), K_PLAIN, -1);
    } else {
      return json_pack("{s:s}", "status", "NotImplemented");
    }
    return json_pack("{s:s}", "status", "Accepted");
  }
  if (!strcmp(action, "ChangeConfiguration")) {
    const char *k = json_string_value(json_object_get(p, "key"));
    const char *v = json_string_value(json_object_get(p, "value"));
    if (!k || !v) return json_pack("{s:s}", "status", "Rejected");
    if (!strcmp(k, "MeterValueSampleInterval") || !strcmp(k, "HeartbeatInterval")) {
      char *end;
      long n = strtol(v, &end, 10);
      if (*end || n < 0 || n > 86400) return json_pack("{s:s}", "status", "Rejected");
      if (k[0] == 'M') {
        c->sample_s = n ? (double)n : opt.interval;
        if (c->tx_slot >= 0) start_meter(c);
      } else {
        c->heartbeat_s = (int)n;
        if (c->booted) start_heartbeat(c);
      }
      return json_pack("{s:s}", "status", "Accepted");
    }
    if (!strcmp(k, "MeterValuesSampledData") || !strcmp(k, "AuthorizeRemoteTxRequests"))
      return json_pack("{s:s}", "status", "Accepted");
    if (!strcmp(k, "AuthorizationKey")) { /* takes effect on the next connection */
      snprintf(c->password, sizeof(c->password), "%s", v);
      return json_pack("{s:s}", "status", "RebootRequired");
    }
    if (!strcmp(k, "ChargingScheduleAllowedChargingRateUnit")) {
      if (strcmp(v, "Current") && strcmp(v, "Power") && strcmp(v, "Current,Power"))
        return json_pack("{s:s}", "status", "Rejected");
      snprintf(c->rate_unit, sizeof(c->rate_unit), "%s", v);
      return json_pack("{s:s}", "status", "Accepted");
    }
    if (!strcmp(k, "NumberOfConnectors") || !strcmp(k, "ChargeProfileMaxStackLevel"))
      return json_pack("{s:s}", "status", "Rejected");
    return json_pack("{s:s}", "status", "NotSupported");
  }
  if (!strcmp(action, "GetConfiguration")) {
    json_t *unknown;
    json_t *known = cfg_list(c, json_object_get(p, "key"), &unknown);
    json_t *r = json_pack("{s:o}", "configurationKey", known);
    if (json_array_size(unknown))
      json_object_set_new(r, "unknownKey", unknown);
    else
      json_decref(unknown);
    return r;
  }
  if (!strcmp(action, "UnlockConnector")) return json_pack("{s:s}", "status", "Unlocked");
  if (!strcmp(action, "ChangeAvailability")) /* not while it charges: once that ends */
    return json_pack("{s:s}", "status", c->tx_slot >= 0 ? "Scheduled" : "Accepted");
  if (!strcmp(action, "ClearCache")) return json_pack("{s:s}", "status", "Accepted");
  *err = "NotImplemented";
  return NULL;
}

/* ---- the link -------------------------------------------------------------------- */

static void on_open(wsc_t *w, void *ud)
{
  charger_t *c = ud;
  c->online = true;
  c->backoff_ms = 0;
  logf_(c->id, "event=connected queued=%d", c->queued);
  if (!c->booted) send_boot(c);
  pump(c);
}

static void on_message(wsc_t *w, void *ud, const char *data, size_t len, uint64_t now)
{
  charger_t *c = ud;
  json_error_t je;
  json_t *f = json_loadb(data, len, 0, &je);
  if (!json_is_array(f)) {
    logf_(c->id, "event=bad_frame len=%zu", len);
    json_decref(f);
    return;
  }
  int type = (int)json_integer_value(json_array_get(f, 0));
  const char *id = json_string_value(json_array_get(f, 1));
  if (type == 2 && id) {
    const char *action = json_string_value(json_array_get(f, 2));
    const char *err = NULL;
    json_t *r = handle_call(c, action ? action : "", json_array_get(f, 3), &err);
    logf_(c->id, "event=server_call action=%s answer=%s", action ? action : "?",
          err ? err : json_string_value(json_object_get(r, "status")) ?: "result");
    if (r)
      send_json(c, json_pack("[i,s,o]", 3, id, r));
    else
      send_json(c, json_pack("[i,s,s,s,{}]", 4, id, err, "not supported by this charger"));
  } else if ((type == 3 || type == 4) && id && c->in_flight && !strcmp(id, c->in_flight_id)) {
    if (type == 3)
      on_result(c, json_array_get(f, 2));
    else
      on_error(c, json_string_value(json_array_get(f, 2)) ?: "?");
  } else if (type == 3 || type == 4) {
    logf_(c->id, "event=unexpected_answer id=%s", id ? id : "?");
  }
  json_decref(f);
}

static void reconnect_cb(uv_timer_t *t)
{
  connect_charger(t->data);
}

static void on_close(wsc_t *w, void *ud, int status, int err)
{
  charger_t *c = ud;
  bool was = c->online;
  c->online = false;
  c->ws = NULL;
  c->in_flight = false;
  uv_timer_stop(&c->t_call);
  /* Calls that only make sense online are forgotten; transaction messages,
   * status notifications and the boot stay queued. */
  bool authorize_lost = false;
  msg_t **pp = &c->head;
  c->tail = NULL;
  while (*pp) {
    msg_t *m = *pp;
    if (m->kind == K_PLAIN) {
      if (!strcmp(m->action, "Authorize")) authorize_lost = true;
      *pp = m->next;
      c->queued--;
      msg_free(m);
    } else {
      c->tail = m;
      pp = &m->next;
    }
  }
  /* An Authorize that got no answer: the charger authorizes offline. */
  if (authorize_lost && c->st == C_PREPARING && c->tx_slot < 0 && !stopping)
    start_transaction(c, opt.tag);
  if (stopping) return;
  if (was || status || err)
    logf_(c->id, "event=disconnected http_status=%d err=%s queued=%d", status,
          err ? uv_err_name(err) : "none", c->queued);
  if (c->reset_pending) return; /* the reboot timer reconnects */
  int b = c->backoff_ms ? c->backoff_ms * 2 : 500;
  if (b > 10000) b = 10000;
  c->backoff_ms = b;
  uv_timer_start(&c->t_conn, reconnect_cb, (uint64_t)(b / 2 + rnd(c) * b / 2), 0);
}

static const wsc_cbs_t cbs = {on_open, on_message, on_close};

static void connect_charger(charger_t *c)
{
  if (stopping || c->ws) return;
  char path[640];
  snprintf(path, sizeof(path), "%s%s%s", url_path, url_path[strlen(url_path) - 1] == '/' ? "" : "/",
           c->id);
  wsc_opts_t o = {.host = url_host,
                  .port = url_port,
                  .path = path,
                  .protocol = "ocpp1.6",
                  .user = *c->password ? c->id : NULL,
                  .password = c->password,
                  .host_header = url_host}; /* as MicroOcpp: no port in Host */
  c->ws = wsc_connect(loop, &o, &cbs, c);
  if (!c->ws) uv_timer_start(&c->t_conn, reconnect_cb, 1000, 0);
}

static void after_reboot_connect(uv_timer_t *t)
{
  charger_t *c = t->data;
  if (!c->ws) connect_charger(c);
}

/* ---- main ---------------------------------------------------------------------- */

static uv_signal_t sigint, sigterm;

static void close_walk(uv_handle_t *h, void *arg)
{
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

static void walk_later(uv_timer_t *t)
{
  (void)t;
  uv_walk(loop, close_walk, NULL);
}

static void on_signal(uv_signal_t *s, int sig)
{
  if (stopping) return;
  stopping = true;
  long long confirmed = 0, queued = 0;
  for (int i = 0; i < opt.count; i++) {
    confirmed += chargers[i].stats_confirmed_tx;
    queued += chargers[i].queued;
    /* Aborted, not closed politely: a polite close waits for the server's
     * answer, and the process is leaving. The connections free themselves in
     * their close callbacks, which run before the walk below. */
    if (chargers[i].ws) wsc_abort(chargers[i].ws);
  }
  logf_(NULL, "event=stopping signal=%d transactions_confirmed=%lld queued=%lld", sig, confirmed,
        queued);
  static uv_timer_t later;
  uv_timer_init(loop, &later);
  uv_timer_start(&later, walk_later, 50, 0);
}

static void usage(FILE *f)
{
  fprintf(f, "usage: flashcharge-sim [options]\n"
             "  --count N        chargers (default 1)\n"
             "  --prefix P       ids P0001, P0002, … (default SIM)\n"
             "  --interval S     simulated seconds between meter values (default 10)\n"
             "  --speed F        simulated time runs F times faster (default 1)\n"
             "  --url URL        OCPP base URL (default ws://127.0.0.1:8180/ocpp)\n"
             "  --password P     AuthorizationKey for HTTP Basic auth (default: none)\n"
             "  --tag T          idTag presented (default 04A1B2C3)\n"
             "  --seed N         random seed (default 1)\n"
             "  --idle MIN,MAX   simulated seconds a free connector waits for an EV (20,120)\n"
             "  --quiet          no line per meter value\n");
}

int main(int argc, char **argv)
{
  static const struct option lo[] = {
      {"count", 1, 0, 'n'}, {"prefix", 1, 0, 'p'},   {"interval", 1, 0, 'i'}, {"speed", 1, 0, 's'},
      {"url", 1, 0, 'u'},   {"password", 1, 0, 'P'}, {"tag", 1, 0, 't'},      {"seed", 1, 0, 'S'},
      {"quiet", 0, 0, 'q'}, {"idle", 1, 0, 'I'},     {"help", 0, 0, 'h'},     {0, 0, 0, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "hq", lo, NULL)) != -1) {
    switch (ch) {
    case 'n':
      opt.count = atoi(optarg);
      break;
    case 'p':
      opt.prefix = optarg;
      break;
    case 'i':
      opt.interval = atof(optarg);
      break;
    case 's':
      opt.speed = atof(optarg);
      break;
    case 'u':
      opt.url = optarg;
      break;
    case 'P':
      opt.password = optarg;
      break;
    case 't':
      opt.tag = optarg;
      break;
    case 'S':
      opt.seed = (unsigned)strtoul(optarg, NULL, 10);
      break;
    case 'q':
      opt.quiet = 1;
      break;
    case 'I':
      if (sscanf(optarg, "%lf,%lf", &opt.idle_min, &opt.idle_max) != 2 ||
          opt.idle_max < opt.idle_min) {
        usage(stderr);
        return 2;
      }
      break;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 2;
    }
  }
  if (opt.count < 1 || opt.count > 100000 || opt.speed <= 0 || opt.interval <= 0 ||
      wsc_parse_url(opt.url, url_host, sizeof(url_host), &url_port, url_path, sizeof(url_path)) <
          0) {
    usage(stderr);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  loop = uv_default_loop();
  t0_ns = uv_hrtime();
  chargers = calloc((size_t)opt.count, sizeof(*chargers));
  for (int i = 0; i < opt.count; i++) {
    charger_t *c = &chargers[i];
    c->index = i + 1;
    snprintf(c->id, sizeof(c->id), "%s%04d", opt.prefix, i + 1);
    if (opt.password) snprintf(c->password, sizeof(c->password), "%s", opt.password);
    c->rng = opt.seed * 2654435761u + (unsigned)i * 40503u + 1;
    if (!c->rng) c->rng = 1;
    c->cap_wh = 3700;
    c->energy_wh = rnd_range(c, 1000, 50000);
    c->sample_s = opt.interval;
    c->tx_slot = -1;
    c->heartbeat_s = 300;
    snprintf(c->rate_unit, sizeof(c->rate_unit), "Power");
    uv_timer_t *ts[] = {&c->t_conn, &c->t_state, &c->t_meter, &c->t_hb, &c->t_call};
    for (size_t k = 0; k < 5; k++) {
      uv_timer_init(loop, ts[k]);
      ts[k]->data = c;
    }
    send_boot(c); /* the process starts: boot first */
    /* spread the first connections over a moment, as chargers powering up */
    uv_timer_start(&c->t_conn, after_reboot_connect, (uint64_t)(i * 5 % 1000), 0);
  }
  uv_signal_init(loop, &sigint);
  uv_signal_init(loop, &sigterm);
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  logf_(NULL, "event=start count=%d url=%s speed=%g interval=%g", opt.count, opt.url, opt.speed,
        opt.interval);
  uv_run(loop, UV_RUN_DEFAULT);
  for (int i = 0; i < opt.count; i++)
    while (chargers[i].head)
      msg_free(pop(&chargers[i]));
  uv_loop_close(loop);
  free(chargers);
  return 0;
}
