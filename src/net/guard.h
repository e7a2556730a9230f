/* The connection guard: limits on connections before they are anything,
 * per client address and port, counted at accept (before any request is
 * read or any credential checked).
 *
 * Two limits, each per address and per port (OCPP, web):
 *  - connections not yet a WebSocket (in their handshake, or plain HTTP)
 *    at once: a half-open socket holds a descriptor until the handshake
 *    deadline, so without a bound one address can hold them all;
 *  - new connections per minute, a token bucket: every handshake costs a
 *    request parse and maybe a credential check.
 * Beyond either, the connection is closed at accept (nothing has been read
 * from it yet, so there is no request to answer).
 *
 * Addresses are remembered in a table of bounded size per port, least
 * recently seen forgotten first; an address with connections open is never
 * forgotten (its count is still needed), so the table can exceed its size by
 * at most the addresses holding open connections, which the descriptor limit
 * bounds. A refused address is logged once per log interval, with the number
 * of refusals since its last line.
 *
 * Loop thread only. */
#ifndef FC_NET_GUARD_H
#define FC_NET_GUARD_H

#include "core/addr.h"

#include <stdint.h>

typedef struct fc_guard fc_guard_t;

typedef enum { FC_GUARD_OCPP = 0, FC_GUARD_WEB, FC_GUARD_NPORTS } fc_guard_port_t;

typedef enum {
  FC_GUARD_OK = 0,
  FC_GUARD_RATE,
  FC_GUARD_CONCURRENT,
  FC_GUARD_NREASONS
} fc_guard_verdict_t;

typedef struct fc_guard_opts {
  unsigned max_per_addr;    /* connections not yet a WebSocket, per address */
  unsigned rate_per_min;    /* new connections per minute per address */
  unsigned burst;           /* bucket size */
  unsigned table_size;      /* addresses remembered per port */
  unsigned log_interval_ms; /* between two lines about one address */
} fc_guard_opts_t;

typedef struct fc_guard_stats {
  uint64_t refused[FC_GUARD_NPORTS][FC_GUARD_NREASONS]; /* [..][FC_GUARD_OK] unused */
  uint64_t in_handshake[FC_GUARD_NPORTS];               /* connections admitted, not released */
  uint64_t addresses[FC_GUARD_NPORTS];                  /* entries of the tables */
} fc_guard_stats_t;

/* One admitted connection; opaque. */
typedef struct fc_guard_conn fc_guard_conn_t;

/* Copies opts. Caller frees with fc_guard_free, after every admitted
 * connection has been released. */
fc_guard_t *fc_guard_new(const fc_guard_opts_t *opts);
void fc_guard_free(fc_guard_t *g);

/* Decides on a connection just accepted from a on port at now_ms (the loop's
 * clock): FC_GUARD_OK takes a token, else the connection is to be closed
 * (counted, and logged once per address per interval). Admitting it is
 * fc_guard_enter, which the caller does as soon as it has the connection. */
fc_guard_verdict_t fc_guard_check(fc_guard_t *g, fc_guard_port_t port, const fc_addr_t *a,
                                  uint64_t now_ms);

/* Counts a connection from a on port as in its handshake, until
 * fc_guard_release. Returns the handle for that (never NULL). */
fc_guard_conn_t *fc_guard_enter(fc_guard_t *g, fc_guard_port_t port, const fc_addr_t *a);

/* The connection became a WebSocket, or closed. c may be NULL (no-op). */
void fc_guard_release(fc_guard_t *g, fc_guard_conn_t *c);

void fc_guard_stats(const fc_guard_t *g, fc_guard_stats_t *out);

#endif
