/* Server-initiated calls (Central System → charger).
 *
 * OCPP 1.6 allows one call in flight per charger; later ones wait in a short
 * per-session queue. The charger's CALLRESULT is matched by message id and
 * validated against the action's response schema before the caller sees it;
 * a CALLERROR is passed on faithfully. A CALLRESULT or CALLERROR for an id we
 * never sent (or have given up on) is logged and ignored.
 *
 * When the connection goes, the call in flight was sent (it is in the frame
 * log, and a hard Reset is carried out before the charger drops the line):
 * it ends as FC_ERR_NOANSWER, so that nobody reads "not sent" into it. Calls
 * still queued never left and end as FC_ERR_OFFLINE. */
#include "ocpp/ocpp_int.h"

#include <string.h>
#include <utlist.h>

#define OUT_QUEUE_MAX 16

struct fc_outcall {
  fc_outcall_t *prev, *next; /* the session's out_queue */
  char id[FC_MSG_ID_MAX + 1];
  char action[40];
  char *text;
  size_t len;
  unsigned timeout_ms;
  uint64_t deadline_ms;
  fc_ocpp_call_cb cb;
  void *arg;
};

static void oc_free(fc_outcall_t *oc)
{
  free(oc->text);
  fc_free(oc);
}

static void send_next(fc_session_t *s)
{
  if (s->out_cur || !s->out_queue || !s->conn.wsi) return;
  fc_outcall_t *oc = s->out_queue;
  DL_DELETE(s->out_queue, oc);
  s->out_queued--;
  oc->deadline_ms = fc_ocpp__now(s->o) + oc->timeout_ms;
  s->out_cur = oc;
  s->o->out_active++;
  fc_log_ctx_t ctx = s->log;
  ctx.msg_id = oc->id;
  fc_log(FC_LOG_INFO, &ctx, "event=call_sent action=%s", oc->action);
  fc_ocpp__send(s, oc->text, oc->len);
}

static void finish_cur(fc_session_t *s, int status, json_t *result, const char *code,
                       const char *desc)
{
  fc_outcall_t *oc = s->out_cur;
  s->out_cur = NULL;
  s->o->out_active--;
  oc->cb(status, result, code, desc, oc->arg);
  oc_free(oc);
  send_next(s);
}

int fc_ocpp_call(fc_ocpp_t *o, const char *charger, const char *action, json_t *payload,
                 unsigned timeout_ms, fc_ocpp_call_cb cb, void *arg)
{
  fc_session_t *s = NULL;
  if (o->shutting_down) return FC_ERR_SHUTDOWN;
  HASH_FIND_STR(o->sessions, charger, s);
  if (!s || !s->conn.wsi || s->conn.closing) return FC_ERR_OFFLINE;
  if (s->out_queued >= OUT_QUEUE_MAX) return FC_ERR_BUSY;

  fc_outcall_t *oc = fc_calloc(1, sizeof(*oc));
  snprintf(oc->id, sizeof(oc->id), "fc-%llu", (unsigned long long)++o->next_msg_id);
  snprintf(oc->action, sizeof(oc->action), "%s", action);
  oc->text = fc_ocpp__encode_call(oc->id, action, payload, &oc->len);
  oc->timeout_ms = timeout_ms;
  oc->cb = cb;
  oc->arg = arg;
  DL_APPEND(s->out_queue, oc);
  s->out_queued++;
  send_next(s);
  return 0;
}

void fc_ocpp__outcall_result(fc_session_t *s, const fc_frame_t *f)
{
  fc_outcall_t *oc = s->out_cur;
  fc_log_ctx_t ctx = s->log;
  ctx.msg_id = f->id;
  if (!oc || strcmp(oc->id, f->id) != 0) {
    fc_log(FC_LOG_WARN, &ctx, "event=unmatched_answer type=%d action=ignore", f->type);
    return;
  }
  if (f->type == FC_MSG_ERROR) {
    char code[FC_LOG_ESC_MAX];
    fc_log(FC_LOG_NOTICE, &ctx, "event=call_error action=%s code=\"%s\"", oc->action,
           fc_log_esc(f->err_code, code, sizeof(code)));
    finish_cur(s, FC_ERR_PROTO, NULL, f->err_code, f->err_desc);
    return;
  }
  fc_ocpp_verr_t err;
  if (fc_ocpp__validate(oc->action, true, f->payload, FC_VALIDATE_ALLOW_EXTRA, &err) ==
      FC_ERR_SCHEMA) {
    char desc[FC_LOG_ESC_MAX * 2];
    fc_log(FC_LOG_WARN, &ctx, "event=call_bad_result action=%s desc=\"%s\"", oc->action,
           fc_log_esc(err.desc, desc, sizeof(desc)));
    finish_cur(s, FC_ERR_PROTO, NULL, fc_ocpp__code_name(err.code), err.desc);
    return;
  }
  fc_log(FC_LOG_INFO, &ctx, "event=call_result action=%s", oc->action);
  finish_cur(s, 0, f->payload, NULL, NULL);
}

void fc_ocpp__outcall_session_gone(fc_session_t *s)
{
  int status = s->o->shutting_down ? FC_ERR_SHUTDOWN : FC_ERR_OFFLINE;
  if (s->out_cur) {
    fc_outcall_t *oc = s->out_cur;
    s->out_cur = NULL;
    s->o->out_active--;
    fc_log_ctx_t ctx = s->log;
    ctx.msg_id = oc->id;
    fc_log(FC_LOG_NOTICE, &ctx, "event=call_unanswered action=%s reason=connection_closed",
           oc->action);
    oc->cb(FC_ERR_NOANSWER, NULL, NULL, NULL, oc->arg);
    oc_free(oc);
  }
  fc_outcall_t *oc, *tmp;
  DL_FOREACH_SAFE(s->out_queue, oc, tmp)
  {
    DL_DELETE(s->out_queue, oc);
    oc->cb(status, NULL, NULL, NULL, oc->arg);
    oc_free(oc);
  }
  s->out_queued = 0;
}

void fc_ocpp__outcall_tick(fc_ocpp_t *o)
{
  if (!o->out_active) return;
  uint64_t now = fc_ocpp__now(o);
  fc_session_t *s, *tmp;
  HASH_ITER(hh, o->sessions, s, tmp)
  {
    if (s->out_cur && s->out_cur->deadline_ms <= now) {
      fc_log_ctx_t ctx = s->log;
      ctx.msg_id = s->out_cur->id;
      fc_log(FC_LOG_WARN, &ctx, "event=call_timeout action=%s", s->out_cur->action);
      finish_cur(s, FC_ERR_TIMEOUT, NULL, NULL, NULL);
    }
  }
}
