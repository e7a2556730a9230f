/* Clocks. */
#ifndef FC_CORE_TIME_H
#define FC_CORE_TIME_H

/* Wall-clock time, milliseconds since the epoch (UTC). */
long long fc_wall_ms(void);

#endif
