/* Logging: one line per event, key=value, to stderr.
 *
 *   fc_log(FC_LOG_INFO, &ctx, "event=boot vendor=%s", vendor);
 * prints
 *   ts=2026-11-26T10:00:00.000Z level=info cp=CP001 conn=7 event=boot vendor=Acme
 *
 * The level is checked before the arguments are evaluated. Never log tokens,
 * passwords or AuthorizationKeys; mask idTags with fc_log_mask(). Thread-safe. */
#ifndef FC_LOG_H
#define FC_LOG_H

#include <stdint.h>

typedef enum {
  FC_LOG_ERROR = 0,
  FC_LOG_WARN = 1,
  FC_LOG_NOTICE = 2,
  FC_LOG_INFO = 3,
  FC_LOG_DEBUG = 4,
} fc_log_level_t;

/* Connection context carried into a log line; every member may be NULL/0. */
typedef struct fc_log_ctx {
  const char *cp;     /* chargeBoxId */
  uint64_t conn;      /* connection id */
  const char *msg_id; /* OCPP uniqueId */
} fc_log_ctx_t;

extern fc_log_level_t fc_log_level;

#define fc_log(level, ctx, ...)                                                                    \
  do {                                                                                             \
    if ((level) <= fc_log_level) fc_log_emit((level), (ctx), __VA_ARGS__);                         \
  } while (0)

void fc_log_emit(fc_log_level_t level, const fc_log_ctx_t *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Parses "error", "warn", "notice", "info", "debug". Returns 0 or FC_ERR_INVAL. */
int fc_log_parse_level(const char *s, fc_log_level_t *out);

/* Masks an idTag for logging into buf: keeps the first 2 and last 2 characters
 * ("04****9A"). Returns buf. */
const char *fc_log_mask(const char *tag, char *buf, unsigned bufsz);

/* Routes libwebsockets' own log lines into ours at the matching level. */
void fc_log_route_lws(void);

#endif
