/* The event bus: typed events (events.h: one constructor per type), each
 * serialised to JSON once (by the store's writer, when it gives the event its
 * sequence number), shared by reference among every receiver; synchronous
 * fan-out on the loop thread; and the charger model (model.h: one typed state
 * per charger) that the events maintain, with its snapshot.
 *
 * Threading: loop thread only. */
#ifndef FC_BUS_H
#define FC_BUS_H

#include "bus/events.h"
#include "bus/model.h"
#include "store/store.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One event, serialised. Immutable once made (but for the extension slot
 * below); reference-counted. */
typedef struct fc_event {
  unsigned refs;
  fc_event_type_t type;
  int connector;
  int64_t seq; /* 0 for events that are not persisted (hello, error, lagged…) */
  char charger[49];
  /* One opaque slot for a receiver's data derived from json (push's
   * compressed forms), so that it is made once and shared by every receiver
   * of the event. NULL until a receiver sets it; whoever sets it owns it and
   * sets ext_free, which runs when the last reference goes. The bus never
   * reads it. One owner per process (push/deflate.c today): a second one
   * would make this a list. Loop thread only. */
  void *ext;
  void (*ext_free)(void *ext);
  size_t len;
  char json[]; /* len bytes of JSON, NUL-terminated */
} fc_event_t;

/* Makes an event from its serialised JSON (copied). charger may be "" for
 * system events. Returns it with one reference (caller's). */
fc_event_t *fc_event_new(fc_event_type_t type, const char *charger, int connector, int64_t seq,
                         const char *json, size_t len);
/* Makes an event that is not persisted (hello, snapshot, error, pong, lagged,
 * system.*): the envelope with the current time, connector 0, and data
 * (stolen; NULL: {}). charger may be "". */
fc_event_t *fc_event_make(fc_event_type_t type, const char *charger, int64_t seq, json_t *data);

/* Parses a stored event's JSON (from replay) into an event; NULL if it is not
 * one. */
fc_event_t *fc_event_from_json(const char *json, size_t len);
static inline fc_event_t *fc_event_ref(fc_event_t *e)
{
  e->refs++;
  return e;
}
void fc_event_unref(fc_event_t *e);

/* ---- raising events -------------------------------------------------------- */

/* Adds an event to w, to be persisted and numbered with it; data is stolen.
 * ts_ms: the event's own time. late: older than what the charger already
 * reported (a "late":true member is added to data, and the charger model
 * ignores it). Handlers call the typed constructors (events.h), which call
 * this. */
fc_op_t *fc_bus_add(fc_write_t *w, fc_event_type_t type, const char *charger, int connector,
                    json_t *data, long long ts_ms, bool late);

/* ---- the bus ---------------------------------------------------------------- */

typedef struct fc_bus fc_bus_t;

fc_bus_t *fc_bus_new(void);
void fc_bus_free(fc_bus_t *b);

/* Publishes every event of w (a committed write): updates the charger model and
 * delivers to the subscribers. Call from the write's callback, status 0. */
void fc_bus_publish_write(fc_bus_t *b, fc_write_t *w);

/* Publishes one event (borrowed; receivers take their own references). */
void fc_bus_publish(fc_bus_t *b, fc_event_t *e);

/* A receiver. cb runs synchronously for each event of its charger, or of
 * every charger when the subscription's charger is NULL ("*"). */
typedef void (*fc_bus_cb)(fc_event_t *e, void *arg);
typedef struct fc_bus_sub fc_bus_sub_t;

/* charger borrowed (copied); NULL = all chargers. Returns the handle to
 * unsubscribe with. Safe to call from within a callback. A charger that has
 * no channel yet gets one (with its subscribers): callers that take ids from
 * peers check them first (fc_bus_seen). */
fc_bus_sub_t *fc_bus_subscribe(fc_bus_t *b, const char *charger, fc_bus_cb cb, void *arg);
void fc_bus_unsubscribe(fc_bus_t *b, fc_bus_sub_t *sub);

/* ---- the charger model ------------------------------------------------------ */

/* Rebuilds the charger model at start-up from the store's latest events. */
int fc_bus_load(fc_bus_t *b, fc_store_t *store);

/* A charger's snapshot as JSON text (the body of GET /api/chargers/{id} and
 * the data of a "snapshot" event): cached until the next event changes it.
 * Borrowed; valid until the next event of that charger. NULL when the charger
 * has never been seen. *seq_out: the seq it reflects. */
const char *fc_bus_snapshot(fc_bus_t *b, const char *charger, size_t *len, int64_t *seq_out);

/* The charger's state (model.h), for code on the loop thread that reads it:
 * borrowed, read only; the pointer lasts as long as the bus, what it points
 * to changes with the charger's next event (its connectors array may move).
 * NULL when the charger has never been seen. */
const fc_charger_state_t *fc_bus_state(fc_bus_t *b, const char *charger);

/* Calls cb for every charger that has a snapshot. */
void fc_bus_foreach(fc_bus_t *b, void (*cb)(const char *charger, void *arg), void *arg);

/* Every charger's snapshot as a JSON array (caller frees with free()). */
char *fc_bus_snapshots(fc_bus_t *b, bool (*filter)(const char *charger, void *arg), void *arg,
                       size_t *len);

/* True when the charger has had an event (it has a snapshot). O(1). */
bool fc_bus_seen(fc_bus_t *b, const char *charger);

/* Channels held (chargers seen, and chargers subscribed to), for /metrics. */
size_t fc_bus_channels(const fc_bus_t *b);

/* The charger's next sequence number is > this. */
int64_t fc_bus_seq(fc_bus_t *b, const char *charger);

/* Counters for /metrics. */
uint64_t fc_bus_published(const fc_bus_t *b);

#endif
