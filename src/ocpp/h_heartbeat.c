/* Heartbeat: answered at once with our clock (the charger sets its own from
 * it); last_heartbeat_at is written behind the answer, lazily (with the next
 * commit). A heartbeat confirms no data, so it need not wait for a commit,
 * and a charger keeps a live connection even while the store is down. */
#include "ocpp/ocpp_int.h"

void fc_ocpp__h_heartbeat(fc_call_t *c)
{
  fc_session_t *s = c->s;
  fc_write_t *w = fc_write_new();
  fc_write_heartbeat(w, s->id)->ts_ms = fc_wall_ms();
  fc_write_set_lazy(w); /* nobody waits for it */
  if (s->o->io.submit(s->o->store, w, fc_ocpp__write_ignored, NULL) < 0) fc_write_free(w);
  fc_ocpp__answer(c, json_pack("{s:o}", "currentTime", fc_ocpp__json_now()));
}
