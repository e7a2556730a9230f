/* libFuzzer target for --log-format json: a log line's message (arbitrary
 * bytes standing for what a peer string can put in it, raw or through
 * fc_log_esc, and in a context's charger and message ids) is parsed into
 * key=value fields and written as JSON. Whatever the input, the output must
 * be exactly one line holding one valid JSON object (jansson also refuses
 * invalid UTF-8), and nothing may crash or overrun. */
#include "log/log.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void check(const char *out, size_t n)
{
  if (n == 0 || out[n - 1] != '\n' || memchr(out, '\n', n) != out + n - 1) abort();
  json_error_t err;
  json_t *o = json_loadb(out, n, 0, &err);
  if (!json_is_object(o)) abort();
  json_decref(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  size_t half = strlen(text) / 2;
  char esc[FC_LOG_ESC_MAX];

  fc_log_format = FC_LOG_JSON;
  fc_log_level = FC_LOG_DEBUG;
  static char out[16384];
  for (int round = 0; round < 2; round++) {
    FILE *f = fmemopen(out, sizeof(out), "w");
    if (!f) break;
    FILE *saved = stderr;
    stderr = f;
    if (round == 0) {
      fc_log(FC_LOG_INFO, NULL, "%s", text); /* the message as it comes */
    } else {
      fc_log_ctx_t ctx = {.cp = text + half, .conn = size, .msg_id = text};
      fc_log(FC_LOG_WARN, &ctx, "event=fuzz v=\"%s\" raw=%s", fc_log_esc(text, esc, sizeof(esc)),
             text + half);
    }
    fflush(f);
    long n = ftell(f);
    stderr = saved;
    fclose(f);
    if (n > 0) check(out, (size_t)n);
  }
  free(text);
  return 0;
}
