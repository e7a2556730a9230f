/* DataTransfer: dispatched by vendorId and messageId to the handlers other
 * modules register (fc_ocpp_on_datatransfer). An unknown vendor gets
 * UnknownVendorId, a known vendor's unknown message UnknownMessageId. Every
 * DataTransfer is stored, with the status we answered, before the answer. */
#include "ocpp/ocpp_int.h"

#include <stdlib.h>
#include <string.h>

typedef struct dt_ctx {
  const char *status;
  char *data;
} dt_ctx_t;

static void dt_ctx_free(void *p)
{
  dt_ctx_t *d = p;
  free(d->data);
  fc_free(d);
}

void fc_ocpp_on_datatransfer(fc_ocpp_t *o, const char *vendor, const char *message,
                             fc_datatransfer_fn fn, void *arg)
{
  fc_dt_handler_t *h = fc_calloc(1, sizeof(*h));
  h->vendor = vendor;
  h->message = message;
  h->fn = fn;
  h->arg = arg;
  h->next = o->dt_handlers;
  o->dt_handlers = h;
}

static void done(fc_call_t *c, fc_write_t *w, int status)
{
  dt_ctx_t *d = c->ctx;
  if (status < 0) {
    fc_ocpp__answer_internal(c, FC_OCPP_WAIT_WRITE, status);
    return;
  }
  json_t *r = json_pack("{s:s}", "status", d->status);
  if (d->data) json_object_set_new(r, "data", json_string(d->data));
  fc_ocpp__answer(c, r);
}

void fc_ocpp__h_data_transfer(fc_call_t *c)
{
  fc_ocpp_t *o = c->s->o;
  const char *vendor = json_string_value(json_object_get(c->payload, "vendorId"));
  const char *message = json_string_value(json_object_get(c->payload, "messageId"));
  const char *data = json_string_value(json_object_get(c->payload, "data"));
  dt_ctx_t *d = fc_calloc(1, sizeof(*d));
  c->ctx = d;
  c->ctx_free = dt_ctx_free;

  fc_write_t *w = fc_write_new();
  fc_dt_handler_t *match = NULL;
  bool vendor_known = false;
  for (fc_dt_handler_t *h = o->dt_handlers; h; h = h->next) {
    if (strcmp(h->vendor, vendor) != 0) continue;
    vendor_known = true;
    if (h->message && message && !strcmp(h->message, message)) match = h;
  }
  if (match && match->fn) {
    o->dt_call = c; /* what the handler changes waits for the commit */
    d->status = match->fn(c->s->id, data, w, &d->data, match->arg);
    o->dt_call = NULL;
  } else if (vendor_known)
    d->status = "UnknownMessageId";
  else
    d->status = "UnknownVendorId";

  char *dumped;
  fc_op_data_transfer_t dt = fc_ocpp__data_transfer_args(c->payload, d->status, &dumped);
  fc_write_data_transfer(w, c->s->id, &dt)->ts_ms = fc_wall_ms();
  free(dumped); /* jansson's allocator */
  fc_ocpp__commit(c, w, NULL, done);
}
