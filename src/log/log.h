/* Logging: one line per event, key=value (or JSON, --log-format), to stderr.
 *
 *   fc_log(FC_LOG_INFO, &ctx, "event=boot vendor=%s", vendor);
 * prints
 *   ts=2026-11-26T10:00:00.000Z level=info cp=CP001 conn=7 event=boot vendor=Acme
 *
 * The level is checked before the arguments are evaluated. Never log tokens,
 * passwords or AuthorizationKeys; mask idTags with fc_log_mask(). Thread-safe.
 *
 * Peers choose strings (message ids, actions, vendor and model names, error
 * codes): print each through fc_log_esc(), between quotes, so that none can
 * end the line or forge a key=value pair. As a last line of defence every
 * control character of a line (a peer string printed without the helper)
 * is written escaped, so one call always makes one line. */
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

/* --log-format: key=value text (above), or one JSON object a line with the
 * same fields, every value a string:
 *   {"ts":"2026-11-26T10:00:00.000Z","level":"info","cp":"CP001","conn":"7",
 *    "event":"boot","vendor":"Acme"}
 * Set once at start (config), before any thread logs. */
typedef enum { FC_LOG_TEXT = 0, FC_LOG_JSON = 1 } fc_log_format_t;
extern fc_log_format_t fc_log_format;

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

/* Escapes a peer's string for a quoted log value into buf: '"' and '\\' get a
 * backslash, \n \r \t are written so, other control bytes, DEL and bytes of
 * invalid UTF-8 as \xNN; valid UTF-8 is kept. Cut at bufsz (ending "..."
 * when cut). NULL prints as "-". Returns buf (bufsz >= 8). */
const char *fc_log_esc(const char *s, char *buf, unsigned bufsz);

/* Room for one escaped peer string of a log line. */
#define FC_LOG_ESC_MAX 160

/* Logging once per offender per interval. One of these per offender (e.g. in
 * a per-charger structure, zeroed to start); fc_log_every() says whether a
 * line may be written at now_ms: the first time, then once interval_ms has
 * passed since the last line. *suppressed gets how many calls were refused
 * since that last line (reset when one is allowed). Not thread-safe: the
 * owner's thread only. */
typedef struct fc_log_every {
  uint64_t last_ms;
  uint64_t suppressed;
  int logged;
} fc_log_every_t;
int fc_log_every(fc_log_every_t *e, uint64_t now_ms, uint64_t interval_ms, uint64_t *suppressed);

/* Routes libwebsockets' own log lines into ours at the matching level. */
void fc_log_route_lws(void);

#endif
