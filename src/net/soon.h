/* Writing at the end of the loop iteration.
 *
 * lws's way to write — lws_callback_on_writable(), then write from
 * SERVER_WRITEABLE — costs two epoll_ctl calls (POLLOUT on, then off) and
 * one more turn of the loop for every frame. A connection that is not
 * backed up can take the frame at once, so ocpp/ and push/ put a connection
 * that has something to send on a "soon" list instead, and write to every
 * connection on it once, when the iteration's I/O callbacks are done (a
 * uv_check handle): everything queued for it in the meantime goes out
 * together, in order, with no change to what the socket polls for. A socket
 * that cannot take it all is left to lws (it keeps the rest and asks for
 * POLLOUT), and SERVER_WRITEABLE carries on from there.
 *
 * Loop thread only. */
#ifndef FC_NET_SOON_H
#define FC_NET_SOON_H

#include <stdbool.h>
#include <uv.h>

typedef struct fc_soon_link {
  struct fc_soon_link *prev, *next; /* utlist DL */
  bool queued;
} fc_soon_link_t;

/* Called for each link that was queued, once, in the order of fc_soon_add. */
typedef void (*fc_soon_fn)(fc_soon_link_t *link, void *arg);

typedef struct fc_soon {
  uv_check_t check;
  uv_idle_t idle;       /* while links wait: the poll must not sleep before the check */
  fc_soon_link_t *head; /* utlist DL, in the order queued */
  fc_soon_fn fn;
  void *arg;
} fc_soon_t;

void fc_soon_init(fc_soon_t *s, uv_loop_t *loop, fc_soon_fn fn, void *arg);

/* Queues link unless it is queued already. Returns true if it was not: the
 * caller then keeps what it holds alive (a reference) until fn has run. */
bool fc_soon_add(fc_soon_t *s, fc_soon_link_t *link);

/* Runs fn on every queued link now (the check does this; shutdown too). */
void fc_soon_run(fc_soon_t *s);

/* Runs what is queued, then closes the two handles, whose data becomes
 * data: cb is called twice. */
void fc_soon_close(fc_soon_t *s, uv_close_cb cb, void *data);

#endif
