/* Time stamps for the store: the schema keeps INTEGER ms since the epoch, and
 * OCPP payloads carry RFC 3339 strings. The store depends on nothing of ocpp/,
 * so it has its own small parser. */
#include <string.h>
#include "store/store_int.h"

#include "core/err.h"

#include <stdio.h>
#include <time.h>

long long fc_store__now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar
 * (Howard Hinnant's days_from_civil). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
  y -= m <= 2;
  long long era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (long long)doe - 719468;
}

/* The inverse (Hinnant's civil_from_days). */
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

void fc_store__format_time(long long ms, char buf[FC_STORE__TIME_LEN])
{
  /* floor division: instants before 1970 format correctly too */
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
  /* Formatted into a buffer wide enough for any year, then copied: the
   * compiler cannot prove the year has four digits. */
  char tmp[64];
  int n = snprintf(tmp, sizeof(tmp), "%04lld-%02u-%02uT%02d:%02d:%02d.%03dZ", y, m, d,
                   (int)(sod / 3600), (int)(sod / 60 % 60), (int)(sod % 60), (int)rem);
  size_t len = n < 0 ? 0 : (size_t)n;
  if (len > FC_STORE__TIME_LEN - 1) len = FC_STORE__TIME_LEN - 1;
  memcpy(buf, tmp, len);
  buf[len] = '\0';
}

/* Reads exactly n digits. */
static int digits(const char **p, int n, int *out)
{
  int v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*p)[i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (c - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

int fc_store__parse_time(const char *s, long long *ms_out)
{
  static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y, mo, d, h, mi, sec, ms = 0, off = 0;
  const char *p = s;

  if (!s) return FC_ERR_INVAL;
  if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &mo) || *p++ != '-' || digits(&p, 2, &d))
    return FC_ERR_INVAL;
  if (*p != 'T' && *p != 't' && *p != ' ') return FC_ERR_INVAL;
  p++;
  if (digits(&p, 2, &h) || *p++ != ':' || digits(&p, 2, &mi) || *p++ != ':' || digits(&p, 2, &sec))
    return FC_ERR_INVAL;
  if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
    return FC_ERR_INVAL;
  if (*p == '.') {
    p++;
    if (*p < '0' || *p > '9') return FC_ERR_INVAL;
    int n = 0;
    for (; *p >= '0' && *p <= '9'; p++, n++)
      if (n < 3) ms = ms * 10 + (*p - '0');
    for (; n < 3; n++) /* ".1" is 100 ms */
      ms *= 10;
  }
  if (*p == 'Z' || *p == 'z') {
    p++;
  } else if (*p == '+' || *p == '-') {
    int sign = *p++ == '-' ? -1 : 1, oh, om;
    if (digits(&p, 2, &oh) || *p++ != ':' || digits(&p, 2, &om) || oh > 23 || om > 59)
      return FC_ERR_INVAL;
    off = sign * (oh * 60 + om);
  }
  if (*p != '\0') return FC_ERR_INVAL;
  if (sec == 60) sec = 59; /* a leap second sorts with the second before it */
  long long t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400LL + h * 3600LL + mi * 60LL +
                sec - off * 60LL;
  *ms_out = t * 1000 + ms;
  return 0;
}
