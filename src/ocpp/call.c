/* Charger-initiated calls in progress.
 *
 * Every CALL gets an answer within answer_timeout, whatever the store does: a
 * MicroOcpp charger sends nothing more after a call that is never answered.
 * All calls share one timeout, so their deadlines come in arrival order and a
 * plain list ordered by arrival, with one uv timer armed for its head, serves
 * as the timer queue.
 *
 * A call is freed once it has been answered and no store callback is still
 * to come for it (the store may finish a write after its call timed out; the
 * charger then retries, and the store's idempotent operations make the retry
 * harmless). */
#include "ocpp/ocpp_int.h"

#include <stdlib.h>
#include <string.h>
#include <utlist.h>

/* In utlist's DL every node on the list has a prev (the head's is the
 * tail): a call that is not on it has none. */
static void dl_unlink(fc_ocpp_t *o, fc_call_t *c)
{
  if (!c->dl_prev) return;
  DL_DELETE2(o->dl_head, c, dl_prev, dl_next);
  c->dl_prev = c->dl_next = NULL;
}

static void call_free(fc_call_t *c)
{
  json_decref(c->payload);
  json_decref(c->result);
  if (c->ctx_free) c->ctx_free(c->ctx);
  fc_ocpp__staged_free(c);
  fc_ocpp__session_unref(c->s);
  fc_free(c);
}

static void maybe_free(fc_call_t *c)
{
  if (c->answered && !c->io_pending && !c->hold) call_free(c);
}

fc_call_t *fc_ocpp__call_new(fc_session_t *s, const fc_frame_t *f)
{
  fc_ocpp_t *o = s->o;
  fc_call_t *c = fc_calloc(1, sizeof(*c));
  c->s = s;
  fc_ocpp__session_ref(s);
  snprintf(c->id, sizeof(c->id), "%s", f->id);
  snprintf(c->action, sizeof(c->action), "%s", f->action);
  c->payload = json_incref(f->payload);
  c->deadline_ms = fc_ocpp__now(o) + (uint64_t)o->cfg->answer_timeout;
  DL_APPEND2(o->dl_head, c, dl_prev, dl_next);
  s->inflight++;
  o->stats.calls++;
  if (!uv_is_active((uv_handle_t *)&o->deadline_timer)) fc_ocpp__deadline_arm(o);
  return c;
}

static void finish(fc_call_t *c)
{
  c->answered = true;
  dl_unlink(c->s->o, c);
  fc_ocpp__session_call_done(c->s);
  maybe_free(c);
}

void fc_ocpp__answer(fc_call_t *c, json_t *result)
{
  if (c->answered) {
    json_decref(result);
    return;
  }
  size_t len;
  if (!result) result = json_object();
  char *text = fc_ocpp__encode_result(c->id, result, &len);
  fc_ocpp__send(c->s, text, len);
  free(text);
  json_decref(result);
  finish(c);
}

void fc_ocpp__answer_error(fc_call_t *c, fc_ocpp_code_t code, const char *desc)
{
  if (c->answered) return;
  fc_log_ctx_t ctx = c->s->log;
  char action[FC_LOG_ESC_MAX], d[FC_LOG_ESC_MAX * 2];
  ctx.msg_id = c->id;
  fc_log(code == FC_OCPP_INTERNAL_ERROR ? FC_LOG_ERROR : FC_LOG_WARN, &ctx,
         "event=callerror action=\"%s\" code=%s desc=\"%s\"",
         fc_log_esc(c->action, action, sizeof(action)), fc_ocpp__code_name(code),
         fc_log_esc(desc, d, sizeof(d)));
  fc_ocpp__answer_error_quiet(c, code, desc);
}

void fc_ocpp__answer_error_quiet(fc_call_t *c, fc_ocpp_code_t code, const char *desc)
{
  if (c->answered) return;
  size_t len;
  fc_session_t *s = c->s;
  char *text = fc_ocpp__encode_error(c->id, code, desc, NULL, &len);
  fc_ocpp__send(s, text, len);
  free(text);
  s->o->stats.callerrors_sent++;
  finish(c);
}

void fc_ocpp__answer_internal(fc_call_t *c, fc_ocpp_wait_t what, int err)
{
  const char *desc;
  switch (err) {
  case FC_ERR_STORE_DOWN:
    desc = "storage unavailable, retry later";
    break;
  case FC_ERR_SHUTDOWN:
    desc = "server shutting down, retry later";
    break;
  case UV_ETIMEDOUT:
    desc = "not committed in time (storage slow), retry later";
    break;
  default:
    desc = what == FC_OCPP_WAIT_TAG_LOOKUP ? "tag lookup failed, retry later"
                                           : "storage write failed, retry later";
  }
  fc_ocpp__answer_error(c, FC_OCPP_INTERNAL_ERROR, desc);
}

/* The store's answer to a commit: continue the handler, or answer. c->hold
 * keeps c alive while the continuation runs (it may answer, or chain more
 * I/O which sets io_pending again). */
static void commit_cb(fc_write_t *w, int status, void *arg)
{
  fc_call_t *c = arg;
  c->io_pending = false;
  /* What committed changes state, and its events are published, whether or
   * not the charger still waits. */
  if (status == 0) {
    fc_ocpp__staged_apply(c, w);
    c->s->o->io.publish(c->s->o->bus, w);
  }
  if (!c->answered) {
    c->hold++;
    if (c->commit_fn) {
      fc_commit_fn fn = c->commit_fn;
      c->commit_fn = NULL;
      fn(c, w, status);
    } else if (status == 0) {
      json_t *r = c->result;
      c->result = NULL;
      fc_ocpp__answer(c, r);
    } else {
      fc_ocpp__answer_internal(c, FC_OCPP_WAIT_WRITE, status);
    }
    c->hold--;
  }
  maybe_free(c);
}

void fc_ocpp__commit(fc_call_t *c, fc_write_t *w, json_t *result, fc_commit_fn fn)
{
  fc_session_t *s = c->s;
  fc_ocpp_t *o = s->o;
  json_decref(c->result);
  c->result = result;
  c->commit_fn = fn;
  int rc = o->io.submit(o->store, w, commit_cb, c);
  if (rc < 0) {
    fc_write_free(w);
    c->commit_fn = NULL;
    fc_ocpp__answer_internal(c, FC_OCPP_WAIT_WRITE, rc);
    return;
  }
  c->io_pending = true;
}

static void read_cb(fc_read_t *r, int status, void *arg)
{
  fc_call_t *c = arg;
  c->io_pending = false;
  if (!c->answered) {
    c->hold++;
    fc_read_fn fn = c->read_fn;
    c->read_fn = NULL;
    if (fn) fn(c, r, status);
    c->hold--;
  }
  maybe_free(c);
}

void fc_ocpp__read(fc_call_t *c, fc_read_t *r, fc_read_fn fn)
{
  c->read_fn = fn;
  int rc = c->s->o->io.read(c->s->o->store, r, read_cb, c);
  if (rc < 0) {
    c->read_fn = NULL;
    fc_ocpp__answer_internal(c, FC_OCPP_WAIT_TAG_LOOKUP, rc);
    return;
  }
  c->io_pending = true;
}

static void deadline_cb(uv_timer_t *t)
{
  fc_ocpp__deadline_tick(t->data);
}

void fc_ocpp__deadline_arm(fc_ocpp_t *o)
{
  if (!o->dl_head) {
    uv_timer_stop(&o->deadline_timer);
    return;
  }
  uint64_t now = fc_ocpp__now(o);
  uint64_t due = o->dl_head->deadline_ms > now ? o->dl_head->deadline_ms - now : 0;
  uv_timer_start(&o->deadline_timer, deadline_cb, due, 0);
}

void fc_ocpp__deadline_tick(fc_ocpp_t *o)
{
  uint64_t now = fc_ocpp__now(o);
  while (o->dl_head && o->dl_head->deadline_ms <= now) {
    fc_call_t *c = o->dl_head;
    o->stats.answer_timeouts++;
    c->hold++;
    fc_ocpp__answer_internal(c, FC_OCPP_WAIT_WRITE, UV_ETIMEDOUT);
    c->hold--;
    maybe_free(c);
  }
  fc_ocpp__deadline_arm(o);
}

void fc_ocpp__write_published(fc_write_t *w, int status, void *arg)
{
  fc_ocpp_t *o = arg;
  if (status == 0)
    o->io.publish(o->bus, w);
  else
    fc_log(FC_LOG_WARN, NULL, "event=event_write_failed err=%s", fc_err_name(status));
}

void fc_ocpp__write_ignored(fc_write_t *w, int status, void *arg)
{
  (void)w;
  (void)arg;
  if (status < 0)
    fc_log(FC_LOG_DEBUG, NULL, "event=background_write_failed err=%s", fc_err_name(status));
}
