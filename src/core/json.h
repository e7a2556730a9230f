/* How flashcharge writes JSON: compact, and numbers with at most 12
 * significant digits (a meter's 123.4 stays 123.4, not 123.40000000000001). */
#ifndef FC_CORE_JSON_H
#define FC_CORE_JSON_H

#include <jansson.h>

#define FC_JSON_DUMP (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(12))

#endif
