/* Time stamps for the store: the schema keeps INTEGER ms since the epoch, and
 * OCPP payloads carry RFC 3339 strings (core/datetime.h converts both ways). */
#include "store/store_int.h"

#include "core/datetime.h"
#include "core/time.h"

long long fc_store__now_ms(void)
{
  return fc_wall_ms();
}

void fc_store__format_time(long long ms, char buf[FC_STORE__TIME_LEN])
{
  fc_datetime_format(ms, buf, FC_STORE__TIME_LEN);
}

int fc_store__parse_time(const char *s, long long *ms_out)
{
  return fc_datetime_parse(s, ms_out);
}
