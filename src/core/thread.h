/* Names the calling thread (at most 15 bytes show), so that top -H, perf
 * and flashcharge-bench's per-thread CPU say which of the server's threads
 * is which. */
#ifndef FC_CORE_THREAD_H
#define FC_CORE_THREAD_H

#include <sys/prctl.h>

static inline void fc_thread_name(const char *name)
{
  prctl(PR_SET_NAME, name, 0, 0, 0);
}

#endif
