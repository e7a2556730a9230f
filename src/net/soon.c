#include "net/soon.h"

#include <stddef.h>
#include <utlist.h>

static void check_cb(uv_check_t *h)
{
  fc_soon_run(h->data);
}

static void idle_cb(uv_idle_t *h)
{
  (void)h; /* its being active is what matters */
}

void fc_soon_init(fc_soon_t *s, uv_loop_t *loop, fc_soon_fn fn, void *arg)
{
  uv_check_init(loop, &s->check);
  uv_idle_init(loop, &s->idle);
  s->check.data = s->idle.data = s;
  s->head = NULL;
  s->fn = fn;
  s->arg = arg;
}

bool fc_soon_add(fc_soon_t *s, fc_soon_link_t *link)
{
  if (link->queued) return false;
  link->queued = true;
  if (!s->head) {
    uv_check_start(&s->check, check_cb);
    uv_idle_start(&s->idle, idle_cb);
  }
  DL_APPEND(s->head, link);
  return true;
}

void fc_soon_run(fc_soon_t *s)
{
  fc_soon_link_t *list = s->head, *l, *tmp;
  s->head = NULL;
  uv_check_stop(&s->check);
  uv_idle_stop(&s->idle);
  /* fn may queue links again: they go on the new list, for the next turn
   * (a link is taken off this one before fn sees it) */
  DL_FOREACH_SAFE(list, l, tmp)
  {
    DL_DELETE(list, l);
    l->queued = false;
    s->fn(l, s->arg);
  }
}

void fc_soon_close(fc_soon_t *s, uv_close_cb cb, void *data)
{
  fc_soon_run(s);
  s->check.data = s->idle.data = data;
  uv_close((uv_handle_t *)&s->check, cb);
  uv_close((uv_handle_t *)&s->idle, cb);
}
