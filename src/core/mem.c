#include "core/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void oom(size_t n)
{
  fprintf(stderr, "level=error msg=\"out of memory\" bytes=%zu\n", n);
  abort();
}

void *fc_malloc(size_t n)
{
  void *p = malloc(n ? n : 1);
  if (!p) oom(n);
  return p;
}

void *fc_calloc(size_t n, size_t sz)
{
  void *p = calloc(n ? n : 1, sz ? sz : 1);
  if (!p) oom(n * sz);
  return p;
}

void *fc_realloc(void *p, size_t n)
{
  void *q = realloc(p, n ? n : 1);
  if (!q) oom(n);
  return q;
}

char *fc_strdup(const char *s)
{
  if (!s) return NULL;
  size_t n = strlen(s);
  char *d = fc_malloc(n + 1);
  memcpy(d, s, n + 1);
  return d;
}

char *fc_strndup(const char *s, size_t n)
{
  if (!s) return NULL;
  size_t len = strnlen(s, n);
  char *d = fc_malloc(len + 1);
  memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

void fc_free(void *p)
{
  free(p);
}
