/* RFC 3339 date-times as OCPP 1.6 carries them.
 *
 * Accepted: YYYY-MM-DDTHH:MM:SS, an optional fraction of 1..9 digits, then Z
 * or +HH:MM / -HH:MM ('t' and 'z' may be lowercase, as RFC 3339 allows).
 * Every field is range-checked, days per month included, so "2026-02-29" is
 * refused. Seconds may be 60 (a leap second); it is counted as the first
 * second of the next minute, which is all a charger's clock can mean by it.
 *
 * The conversion to ms since the epoch is done by hand (days_from_civil, after
 * Howard Hinnant's algorithm) rather than with timegm()/mktime(): no locale,
 * no TZ, no libc differences, and it is pure, so the parser can run anywhere. */
#include "core/datetime.h"

#include "core/err.h"

#include <stdio.h>

/* Days since 1970-01-01 of the proleptic Gregorian date y-m-d. */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
  y -= m <= 2;
  long long era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (long long)doe - 719468;
}

/* The inverse of days_from_civil. */
static void civil_from_days(long long z, long long *y, unsigned *m, unsigned *d)
{
  z += 719468;
  long long era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = (long long)yoe + era * 400 + (*m <= 2);
}

static bool is_leap(unsigned y)
{
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(unsigned y, unsigned m)
{
  static const unsigned char dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* Reads exactly n decimal digits at *p into *out and advances *p. */
static bool digits(const char **p, int n, unsigned *out)
{
  unsigned v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9') return false;
    v = v * 10 + (unsigned)(c - '0');
  }
  *p += n;
  *out = v;
  return true;
}

static bool lit(const char **p, char c)
{
  if (**p != c) return false;
  (*p)++;
  return true;
}

int fc_datetime_parse(const char *s, long long *ms_out)
{
  unsigned y, mo, d, h, mi, sec, ms = 0;
  const char *p = s;
  if (!s) return FC_ERR_INVAL;
  if (!digits(&p, 4, &y) || !lit(&p, '-') || !digits(&p, 2, &mo) || !lit(&p, '-') ||
      !digits(&p, 2, &d))
    return FC_ERR_INVAL;
  if (*p != 'T' && *p != 't') return FC_ERR_INVAL;
  p++;
  if (!digits(&p, 2, &h) || !lit(&p, ':') || !digits(&p, 2, &mi) || !lit(&p, ':') ||
      !digits(&p, 2, &sec))
    return FC_ERR_INVAL;
  if (*p == '.') {
    int n = 0;
    p++;
    while (*p >= '0' && *p <= '9') {
      if (++n > 9) return FC_ERR_INVAL;
      if (n <= 3) ms = ms * 10 + (unsigned)(*p - '0');
      p++;
    }
    if (n == 0) return FC_ERR_INVAL;
    for (; n < 3; n++)
      ms *= 10;
  }
  long long off_min = 0;
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p == '-' ? -1 : 1;
    unsigned oh, om;
    p++;
    if (!digits(&p, 2, &oh) || !lit(&p, ':') || !digits(&p, 2, &om)) return FC_ERR_INVAL;
    if (oh > 23 || om > 59) return FC_ERR_INVAL;
    off_min = sign * (long long)(oh * 60 + om);
  } else {
    return FC_ERR_INVAL;
  }
  if (*p != '\0') return FC_ERR_INVAL;
  if (mo < 1 || mo > 12 || d < 1 || d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60)
    return FC_ERR_INVAL;

  if (ms_out) {
    long long days = days_from_civil(y, mo, d);
    long long secs = days * 86400 + h * 3600LL + mi * 60LL + sec - off_min * 60;
    *ms_out = secs * 1000 + ms;
  }
  return 0;
}

bool fc_datetime_valid(const char *s)
{
  return fc_datetime_parse(s, NULL) == 0;
}

void fc_datetime_format(long long ms, char *buf, size_t bufsz)
{
  /* Floor division, so that instants before 1970 format correctly too. */
  long long secs = ms / 1000, rem = ms % 1000;
  if (rem < 0) {
    rem += 1000;
    secs--;
  }
  long long days = secs / 86400, sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    days--;
  }
  long long y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  if (y >= 0 && y <= 9999 && bufsz >= 25) {
    /* By hand: snprintf took some thousands of instructions, and the store
     * formats the time of every event it serialises. The same bytes. */
    unsigned v[] = {(unsigned)(y / 100),       (unsigned)(y % 100), m, d, (unsigned)(sod / 3600),
                    (unsigned)(sod / 60 % 60), (unsigned)(sod % 60)};
    static const char after[] = {0, '-', '-', 'T', ':', ':', '.'}; /* what follows each */
    char *p = buf;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
      *p++ = (char)('0' + v[i] / 10);
      *p++ = (char)('0' + v[i] % 10);
      if (after[i]) *p++ = after[i];
    }
    *p++ = (char)('0' + rem / 100);
    *p++ = (char)('0' + rem / 10 % 10);
    *p++ = (char)('0' + rem % 10);
    *p++ = 'Z';
    *p = '\0';
    return;
  }
  snprintf(buf, bufsz, "%04lld-%02u-%02uT%02u:%02u:%02u.%03uZ", y, m, d, (unsigned)(sod / 3600),
           (unsigned)(sod / 60 % 60), (unsigned)(sod % 60), (unsigned)rem);
}
