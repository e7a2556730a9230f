/* JSON text made by the store: a bus event's one serialisation (FC_OP_EVENT)
 * and the JSON reads' results. Backend-independent: the postgres backend
 * will give the same bytes.
 *
 * Everything is written through json_dump_callback into a buffer of ours, so
 * the text is fc_malloc'd (freed with fc_free, like the rest of the op and
 * the read) whatever allocator jansson was given.
 *
 * An event's data object belongs to the op, and the loop thread reads it again
 * after the write's callback; other values inside it may be shared with loop
 * objects (json_pack "O"). So the writer thread only reads it: no copy, no
 * incref, no set. The one change the event rules make ("transactionId": null
 * becomes the new transaction's id) is made while writing, member by member. */
#include "store/store_int.h"

#include "core/err.h"
#include "core/mem.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

typedef struct sbuf {
  char *p;
  size_t n, cap;
} sbuf_t;

static void put(sbuf_t *b, const char *s, size_t n)
{
  if (b->n + n + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + n + 1)
      cap *= 2;
    b->p = fc_realloc(b->p, cap);
    b->cap = cap;
  }
  memcpy(b->p + b->n, s, n);
  b->n += n;
  b->p[b->n] = '\0';
}

static void puts_(sbuf_t *b, const char *s)
{
  put(b, s, strlen(s));
}

static int dump_cb(const char *buf, size_t size, void *data)
{
  put(data, buf, size);
  return 0;
}

static int put_json_flags(sbuf_t *b, const json_t *v, size_t flags)
{
  return json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY | flags) ? -1 : 0;
}

static int put_json(sbuf_t *b, const json_t *v)
{
  return put_json_flags(b, v, JSON_REAL_PRECISION(12)); /* 123.4, not 123.40000000000001 */
}

/* s as a JSON string; -1 if it is not valid UTF-8. */
static int put_str(sbuf_t *b, const char *s)
{
  json_t *j = json_string(s);
  if (!j) return -1;
  int rc = put_json(b, j);
  json_decref(j);
  return rc;
}

char *fc_store__json_dump(const json_t *j, size_t *len)
{
  sbuf_t b = {0};
  /* The reals of the reads come from decimal strings ("11001.31"); 15
   * significant digits give those back as they were, where jansson's default
   * 17 would show 11001.309999999999. */
  if (put_json_flags(&b, j, JSON_REAL_PRECISION(15))) {
    fc_free(b.p);
    return NULL;
  }
  if (!b.p) put(&b, "", 0);
  if (len) *len = b.n;
  return b.p;
}

/* data, with a top-level "transactionId": null written as tx_id (when > 0). */
static int put_data(sbuf_t *b, const json_t *data, int64_t tx_id)
{
  const char *key;
  json_t *v;
  bool first = true;
  char num[24];

  if (!data) {
    puts_(b, "{}");
    return 0;
  }
  if (!json_is_object(data) || tx_id <= 0 || !json_is_null(json_object_get(data, "transactionId")))
    return put_json(b, data);
  puts_(b, "{");
  json_object_foreach((json_t *)data, key, v) /* the macro wants non-const; it only reads */
  {
    if (!first) puts_(b, ",");
    first = false;
    if (put_str(b, key)) return -1;
    puts_(b, ":");
    if (json_is_null(v) && strcmp(key, "transactionId") == 0) {
      snprintf(num, sizeof(num), "%" PRId64, tx_id);
      puts_(b, num);
    } else if (put_json(b, v)) {
      return -1;
    }
  }
  puts_(b, "}");
  return 0;
}

char *fc_store__event_json(const fc_op_t *op, int64_t seq, int64_t tx_id, size_t *len)
{
  sbuf_t b = {0};
  char num[48], ts[FC_STORE__TIME_LEN];

  puts_(&b, "{\"type\":");
  if (!op->text || put_str(&b, op->text)) goto fail;
  puts_(&b, ",\"charger\":");
  if (put_str(&b, op->str)) goto fail;
  fc_store__format_time(op->ts_ms, ts);
  snprintf(num, sizeof(num), ",\"connector\":%" PRId64 ",\"seq\":%" PRId64 ",\"ts\":\"", op->i64,
           seq);
  puts_(&b, num);
  puts_(&b, ts);
  puts_(&b, "\",\"data\":");
  if (put_data(&b, op->json, tx_id)) goto fail;
  puts_(&b, "}");
  *len = b.n;
  return b.p;

fail:
  fc_free(b.p);
  return NULL;
}
