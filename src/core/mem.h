/* Allocation. fc_malloc and friends abort on out-of-memory: they are for
 * small internal allocations. Sizes that come from a peer are checked against
 * configured limits before they reach these functions. */
#ifndef FC_CORE_MEM_H
#define FC_CORE_MEM_H

#include <stddef.h>

void *fc_malloc(size_t n);            /* caller frees; never NULL */
void *fc_calloc(size_t n, size_t sz); /* caller frees; never NULL */
void *fc_realloc(void *p, size_t n);  /* caller frees; never NULL */
char *fc_strdup(const char *s);       /* caller frees; NULL in, NULL out */
char *fc_strndup(const char *s, size_t n);
void fc_free(void *p);

#define FC_FREE(p)                                                                                 \
  do {                                                                                             \
    fc_free(p);                                                                                    \
    (p) = NULL;                                                                                    \
  } while (0)

#define FC_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#endif
