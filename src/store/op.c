/* The typed constructors of a write's operations (store.h) and the arena that
 * holds what each op copies of its arguments.
 *
 * Every op owns one arena: a list of chunks, the first allocated with the op
 * itself, holding the charger id, the strings and the arrays (readings,
 * sampled values) of its arguments. The writer thread only reads them, and
 * fc_write_free frees the arena's chunks with the op: nothing of an op is
 * freed on its own but its event data (a json_t reference) and its result
 * text. */
#include "store/store_int.h"

#include "core/json.h"
#include "core/mem.h"

#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

typedef struct fc_op_arena {
  struct fc_op_arena *next;
  size_t used, cap;
  alignas(max_align_t) char mem[];
} arena_t;

#define FIRST_CHUNK 512
/* where the first chunk starts, after the op */
#define FIRST_OFF ((sizeof(fc_op_t) + alignof(arena_t) - 1) & ~(alignof(arena_t) - 1))

static void *op_alloc(fc_op_t *op, size_t n)
{
  arena_t *a = op->_arena;
  n = (n + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
  if (!a || a->cap - a->used < n) {
    size_t cap = n > FIRST_CHUNK * 2 ? n : FIRST_CHUNK * 2;
    arena_t *c = fc_malloc(sizeof(*c) + cap);
    c->used = 0;
    c->cap = cap;
    c->next = a;
    op->_arena = a = c;
  }
  void *p = a->mem + a->used;
  a->used += n;
  return p;
}

static const char *op_strndup(fc_op_t *op, const char *s, size_t n)
{
  if (!s) return NULL;
  char *d = op_alloc(op, n + 1);
  memcpy(d, s, n);
  d[n] = '\0';
  return d;
}

static const char *op_str(fc_op_t *op, const char *s)
{
  return s ? op_strndup(op, s, strlen(s)) : NULL;
}

static fc_op_t *op_new(fc_write_t *w, fc_op_kind_t kind, const char *charger)
{
  /* the op and its first chunk in one allocation */
  fc_op_t *op = fc_malloc(FIRST_OFF + sizeof(arena_t) + FIRST_CHUNK);
  memset(op, 0, sizeof(*op));
  arena_t *a = (arena_t *)(void *)((char *)op + FIRST_OFF);
  a->next = NULL;
  a->used = 0;
  a->cap = FIRST_CHUNK;
  op->_arena = a;
  op->kind = kind;
  op->charger = op_str(op, charger ? charger : "");
  op->ts_ms = fc_store__now_ms();
  if (w->n == w->cap) {
    w->cap = w->cap ? w->cap * 2 : 4;
    w->ops = fc_realloc(w->ops, w->cap * sizeof(*w->ops));
  }
  w->ops[w->n++] = op;
  return op;
}

void fc_store__op_free(fc_op_t *op)
{
  if (op->kind == FC_OP_EVENT) json_decref(op->event.data);
  fc_free(op->out.text);
  arena_t *a = op->_arena, *first = (arena_t *)(void *)((char *)op + FIRST_OFF);
  while (a && a != first) {
    arena_t *next = a->next;
    fc_free(a);
    a = next;
  }
  fc_free(op);
}

void fc_op_sampled_defaults(fc_op_sampled_t *s)
{
  if (!s->measurand) s->measurand = "Energy.Active.Import.Register";
  /* 1.6: "Default = Wh if the (default) measurand is an Energy type"; a SoC
   * or a power without a unit stays without one. */
  if (!s->unit && strncmp(s->measurand, "Energy", 6) == 0) s->unit = "Wh";
  if (!s->context) s->context = "Sample.Periodic";
  if (!s->location) s->location = "Outlet";
  if (!s->format) s->format = "Raw";
}

/* value as a number when the whole of it is a finite one, else NAN */
static double num_of(const char *value)
{
  char *end;
  if (!value) return NAN;
  double d = strtod(value, &end);
  return end != value && *end == '\0' && isfinite(d) ? d : NAN;
}

/* Seven look-ups by name would cost several times more than one pass. */
void fc_op_sampled_of(const json_t *sv, fc_op_sampled_t *s)
{
  const char *key;
  json_t *v;
  memset(s, 0, sizeof(*s));
  json_object_foreach((json_t *)sv, key, v) /* the macro wants non-const; it only reads */
  {
    if (!json_is_string(v)) continue;
    const char *str = json_string_value(v);
    if (!strcmp(key, "value"))
      s->value = str;
    else if (!strcmp(key, "measurand"))
      s->measurand = str;
    else if (!strcmp(key, "phase"))
      s->phase = str;
    else if (!strcmp(key, "unit"))
      s->unit = str;
    else if (!strcmp(key, "context"))
      s->context = str;
    else if (!strcmp(key, "location"))
      s->location = str;
    else if (!strcmp(key, "format"))
      s->format = str;
  }
  s->num = num_of(s->value);
  fc_op_sampled_defaults(s);
}

static fc_op_readings_t copy_readings(fc_op_t *op, const fc_op_readings_t *in)
{
  fc_op_readings_t out = {0};
  if (!in->n) return out;
  fc_op_reading_t *v = op_alloc(op, in->n * sizeof(*v));
  for (size_t i = 0; i < in->n; i++) {
    const fc_op_reading_t *r = &in->v[i];
    fc_op_sampled_t *sv = r->n ? op_alloc(op, r->n * sizeof(*sv)) : NULL;
    for (size_t j = 0; j < r->n; j++) {
      const fc_op_sampled_t *s = &r->sampled[j];
      sv[j] = (fc_op_sampled_t){
          .value = op_str(op, s->value),
          .num = s->num,
          .context = op_str(op, s->context),
          .format = op_str(op, s->format),
          .measurand = op_str(op, s->measurand),
          .phase = op_str(op, s->phase),
          .location = op_str(op, s->location),
          .unit = op_str(op, s->unit),
      };
    }
    v[i] = (fc_op_reading_t){.ts_ms = r->ts_ms, .n = r->n, .sampled = sv};
  }
  out.n = in->n;
  out.v = v;
  return out;
}

fc_op_t *fc_write_frame(fc_write_t *w, const char *charger, const fc_op_frame_t *a)
{
  fc_op_t *op = op_new(w, FC_OP_FRAME_LOG, charger);
  const char *text = a->text ? a->text : "";
  size_t len = a->len ? strnlen(text, a->len) : strlen(text); /* a NUL ends it */
  op->frame = *a;
  op->frame.text = op_strndup(op, text, len);
  op->frame.len = len;
  return op;
}

fc_op_t *fc_write_boot(fc_write_t *w, const char *charger, const fc_op_boot_t *a)
{
  fc_op_t *op = op_new(w, FC_OP_BOOT, charger);
  fc_op_boot_t *b = &op->boot;
  b->registration = op_str(op, a->registration);
  b->vendor = op_str(op, a->vendor);
  b->model = op_str(op, a->model);
  b->serial_number = op_str(op, a->serial_number);
  b->charge_box_serial = op_str(op, a->charge_box_serial);
  b->firmware_version = op_str(op, a->firmware_version);
  b->iccid = op_str(op, a->iccid);
  b->imsi = op_str(op, a->imsi);
  b->meter_type = op_str(op, a->meter_type);
  b->meter_serial = op_str(op, a->meter_serial);
  return op;
}

fc_op_t *fc_write_seen(fc_write_t *w, const char *charger, const fc_op_seen_t *a)
{
  fc_op_t *op = op_new(w, FC_OP_CHARGER_SEEN, charger);
  op->seen = *a;
  op->seen.registration = op_str(op, a->registration);
  return op;
}

fc_op_t *fc_write_heartbeat(fc_write_t *w, const char *charger)
{
  return op_new(w, FC_OP_HEARTBEAT, charger);
}

fc_op_t *fc_write_status(fc_write_t *w, const char *charger, const fc_op_status_t *a)
{
  fc_op_t *op = op_new(w, FC_OP_STATUS, charger);
  op->status = *a;
  op->status.status = op_str(op, a->status);
  op->status.error_code = op_str(op, a->error_code);
  op->status.info = op_str(op, a->info);
  op->status.vendor_id = op_str(op, a->vendor_id);
  op->status.vendor_error_code = op_str(op, a->vendor_error_code);
  return op;
}

fc_op_t *fc_write_meter(fc_write_t *w, const char *charger, const fc_op_meter_t *a)
{
  fc_op_t *op = op_new(w, FC_OP_METER, charger);
  op->meter = *a;
  op->meter.readings = copy_readings(op, &a->readings);
  return op;
}

fc_op_t *fc_write_tx_start(fc_write_t *w, const char *charger, const fc_op_tx_start_t *a)
{
  fc_op_t *op = op_new(w, FC_OP_TX_START, charger);
  op->tx_start = *a;
  op->tx_start.id_tag = op_str(op, a->id_tag);
  op->tx_start.id_tag_status = op_str(op, a->id_tag_status);
  return op;
}

fc_op_t *fc_write_tx_stop(fc_write_t *w, const char *charger, const fc_op_tx_stop_t *a)
{
  fc_op_t *op = op_new(w, FC_OP_TX_STOP, charger);
  op->tx_stop = *a;
  op->tx_stop.reason = op_str(op, a->reason);
  op->tx_stop.id_tag = op_str(op, a->id_tag);
  op->tx_stop.currency[sizeof(a->currency) - 1] = '\0';
  op->tx_stop.transaction_data = copy_readings(op, &a->transaction_data);
  return op;
}

fc_op_t *fc_write_data_transfer(fc_write_t *w, const char *charger, const fc_op_data_transfer_t *a)
{
  fc_op_t *op = op_new(w, FC_OP_DATA_TRANSFER, charger);
  op->data_transfer.vendor_id = op_str(op, a->vendor_id);
  op->data_transfer.message_id = op_str(op, a->message_id);
  op->data_transfer.data = op_str(op, a->data);
  op->data_transfer.status = op_str(op, a->status);
  return op;
}

fc_op_t *fc_write_notice(fc_write_t *w, fc_op_kind_t kind, const char *charger, const char *status)
{
  fc_op_t *op = op_new(w, kind, charger);
  op->notice.status = op_str(op, status);
  return op;
}

fc_op_t *fc_write_event(fc_write_t *w, const char *charger, const fc_op_event_t *a)
{
  fc_op_t *op = op_new(w, FC_OP_EVENT, charger);
  op->event = *a;
  op->event.type = op_str(op, a->type ? a->type : "");
  op->event.data = a->data ? json_incref(a->data) : json_object();
  return op;
}

/* v as compact JSON text in the op's arena, as jansson writes it; NULL for
 * none or null. */
static const char *op_json(fc_op_t *op, const json_t *v)
{
  if (!v || json_is_null(v)) return NULL;
  char *text = json_dumps(v, FC_JSON_DUMP | JSON_ENCODE_ANY);
  const char *s = op_str(op, text);
  free(text); /* jansson's allocator */
  return s;
}

fc_op_t *fc_write_command(fc_write_t *w, const char *charger, const fc_op_command_t *a,
                          const json_t *params, const json_t *result, const json_t *error)
{
  fc_op_t *op = op_new(w, FC_OP_COMMAND, charger);
  fc_op_command_t *c = &op->command;
  c->command = op_str(op, a->command);
  c->action = op_str(op, a->action);
  c->status = op_str(op, a->status);
  c->by = op_str(op, a->by);
  c->requested_ms = a->requested_ms;
  c->sent = a->sent;
  c->params = op_json(op, params);
  c->result = op_json(op, result);
  c->error = op_json(op, error);
  return op;
}

fc_op_t *fc_write_profile_set(fc_write_t *w, const char *charger, const fc_op_profile_set_t *a,
                              const json_t *profile)
{
  fc_op_t *op = op_new(w, FC_OP_PROFILE_SET, charger);
  fc_op_profile_set_t *p = &op->profile_set;
  *p = *a;
  p->purpose = op_str(op, a->purpose);
  p->kind = op_str(op, a->kind);
  p->unit = op_str(op, a->unit);
  p->by = op_str(op, a->by);
  p->profile = op_json(op, profile);
  return op;
}

fc_op_t *fc_write_profile_clear(fc_write_t *w, const char *charger, const fc_op_profile_clear_t *a)
{
  fc_op_t *op = op_new(w, FC_OP_PROFILE_CLEAR, charger);
  op->profile_clear = *a;
  op->profile_clear.purpose = op_str(op, a->purpose);
  return op;
}
