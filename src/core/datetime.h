/* RFC 3339 date-times, as OCPP carries them and as flashcharge writes them.
 * Pure functions, any thread. */
#ifndef FC_CORE_DATETIME_H
#define FC_CORE_DATETIME_H

#include <stdbool.h>
#include <stddef.h>

/* True when s is an RFC 3339 date-time as OCPP uses it
 * ("2026-11-26T10:00:00Z", "2026-11-26T10:00:00.123+01:00"). */
bool fc_datetime_valid(const char *s);

/* Parses such a date-time into milliseconds since the epoch (UTC). Returns 0
 * or FC_ERR_INVAL. */
int fc_datetime_parse(const char *s, long long *ms_out);

/* Formats ms since the epoch as "YYYY-MM-DDTHH:MM:SS.mmmZ" into buf (>= 25 bytes). */
void fc_datetime_format(long long ms, char *buf, size_t bufsz);

#endif
