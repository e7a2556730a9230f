/* Failed charger logins (HTTP Basic on the OCPP port), counted so that
 * guessing an AuthorizationKey online is slow, and a charger is not locked
 * out by someone guessing its key from elsewhere.
 *
 * Failures are counted in fixed windows (window_ms from a key's first
 * failure) per (charger id, address), per address, and per charger id. A
 * login is throttled (answered 429 with Retry-After, its password not even
 * checked) while:
 *  - its (id, address) has had max_pair failures in the window, or
 *  - its address has had max_addr failures (any ids, unknown ones too), or
 *  - its id has had max_id failures (any addresses) AND its address has
 *    failed for this id in the window: an address that has not failed for the
 *    id is always checked, so the charger itself gets in while its id is
 *    under attack from elsewhere; each new attacking address gets one guess.
 * A success forgets its (id, address)'s failures.
 *
 * No line per failure: one summary per log interval (failures, throttled
 * logins, the address and the id with the most failures), and one line when
 * an offender becomes throttled (once per window).
 *
 * Every table is bounded (table_size entries, least recently seen forgotten
 * first). Loop thread only. */
#ifndef FC_AUTH_THROTTLE_H
#define FC_AUTH_THROTTLE_H

#include "core/addr.h"

#include <stdint.h>

typedef struct fc_auth_throttle fc_auth_throttle_t;

typedef struct fc_auth_throttle_opts {
  unsigned max_pair, max_addr, max_id; /* failures in a window */
  unsigned window_ms;
  unsigned table_size;      /* entries per table (pairs, addresses, ids) */
  unsigned log_interval_ms; /* between summaries, and between refusal lines per address */
} fc_auth_throttle_opts_t;

typedef enum {
  FC_THROTTLE_NONE = 0,
  FC_THROTTLE_PAIR,    /* this id from this address */
  FC_THROTTLE_ADDRESS, /* this address */
  FC_THROTTLE_ID,      /* this id, from an address that failed for it */
} fc_throttle_t;

typedef struct fc_auth_throttle_stats {
  uint64_t failures;  /* logins that failed (wrong or missing credentials, unknown id) */
  uint64_t throttled; /* logins refused without a check */
  uint64_t entries;   /* in the three tables together */
} fc_auth_throttle_stats_t;

/* Longest charger id told apart (longer ones are cut). */
#define FC_AUTH_THROTTLE_ID_MAX 64

/* Copies opts. Caller frees. */
fc_auth_throttle_t *fc_auth_throttle_new(const fc_auth_throttle_opts_t *opts);
void fc_auth_throttle_free(fc_auth_throttle_t *t);

/* Before checking a login of id (NULL: none in the request) from a, at now_ms
 * (a monotonic clock): FC_THROTTLE_NONE, or why it is throttled and, in
 * *retry_after_s, the seconds until that window ends (>= 1). Counted. */
fc_throttle_t fc_auth_throttle_check(fc_auth_throttle_t *t, const char *id, const fc_addr_t *a,
                                     uint64_t now_ms, unsigned *retry_after_s);

/* A login of id from a failed. id NULL: the id is not a charger we know (it
 * counts against the address only, so that made-up ids do not fill the id
 * table). */
void fc_auth_throttle_failed(fc_auth_throttle_t *t, const char *id, const fc_addr_t *a,
                             uint64_t now_ms);

/* A login of id from a succeeded: its (id, address) failures are forgotten. */
void fc_auth_throttle_succeeded(fc_auth_throttle_t *t, const char *id, const fc_addr_t *a);

/* True at most once per log interval per address: whether a refusal of a's
 * (of another kind: a bad request) may be logged now. */
bool fc_auth_throttle_may_log(fc_auth_throttle_t *t, const fc_addr_t *a, uint64_t now_ms);

/* Logs the summary line when a log interval has passed and something failed
 * in it. Call often (every tick). */
void fc_auth_throttle_tick(fc_auth_throttle_t *t, uint64_t now_ms);

void fc_auth_throttle_stats(const fc_auth_throttle_t *t, fc_auth_throttle_stats_t *out);

#endif
