/* Micro-benchmark: parse + decref of a MeterValues frame as chargers send it
 * (the one flashcharge-bench sends, 330 bytes), with jansson's json_loadb and
 * with fc_json_parse. Prints the best of several rounds, in ns per frame.
 * Wall-clock on a shared machine is noisy: for a steadier figure run it under
 * valgrind --tool=callgrind with --iters and divide the instruction counts.
 *
 *   build/bench_json_parse [--iters N] [--rounds R] [--only loadb|fc] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/json.h"

static const char frame[] =
    "[2,\"m17-4242\",\"MeterValues\",{\"connectorId\":1,\"meterValue\":[{\"timestamp\":"
    "\"2026-11-26T23:42:45.123Z\",\"sampledValue\":[{\"value\":\"1764200565123456\","
    "\"measurand\":\"Current.Import\",\"unit\":\"A\"},{\"value\":\"7360.0\",\"measurand\":"
    "\"Power.Active.Import\",\"unit\":\"W\"},{\"value\":\"18484\",\"measurand\":"
    "\"Energy.Active.Import.Register\",\"unit\":\"Wh\"}]}]}]";

static double now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static json_t *by_loadb(const char *s, size_t n)
{
  return json_loadb(s, n, JSON_REJECT_DUPLICATES, NULL);
}

static json_t *by_fc(const char *s, size_t n)
{
  return fc_json_parse(s, n, NULL);
}

static double run(json_t *(*parse)(const char *, size_t), long iters)
{
  size_t n = sizeof(frame) - 1;
  double t0 = now_ns();
  for (long i = 0; i < iters; i++) {
    json_t *j = parse(frame, n);
    if (!j) abort();
    json_decref(j);
  }
  return (now_ns() - t0) / (double)iters;
}

int main(int argc, char **argv)
{
  long iters = 200000;
  int rounds = 7;
  const char *only = NULL;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--iters"))
      iters = atol(argv[i + 1]);
    else if (!strcmp(argv[i], "--rounds"))
      rounds = atoi(argv[i + 1]);
    else if (!strcmp(argv[i], "--only"))
      only = argv[i + 1];
  }
  json_t *a = by_loadb(frame, sizeof(frame) - 1), *b = by_fc(frame, sizeof(frame) - 1);
  if (!a || !b || !json_equal(a, b)) abort();
  json_decref(a);
  json_decref(b);

  double best_l = 1e300, best_f = 1e300;
  for (int r = 0; r < rounds; r++) {
    if (!only || !strcmp(only, "loadb")) {
      double t = run(by_loadb, iters);
      if (t < best_l) best_l = t;
    }
    if (!only || !strcmp(only, "fc")) {
      double t = run(by_fc, iters);
      if (t < best_f) best_f = t;
    }
  }
  printf("frame %zu bytes, %ld iterations x %d rounds, best round:\n", sizeof(frame) - 1, iters,
         rounds);
  if (!only || !strcmp(only, "loadb")) printf("  json_loadb + decref     %8.1f ns\n", best_l);
  if (!only || !strcmp(only, "fc")) printf("  fc_json_parse + decref  %8.1f ns\n", best_f);
  return 0;
}
