/* permessage-deflate (RFC 7692) on /ws without zlib state per connection.
 *
 * Why not lws's own extension: on 4.1.6 as a server it applies the two
 * no_context_takeover flags the wrong way round, ignores the window-bits
 * parameters, and keeps a deflate stream (200-300 KB) per connection.
 *
 * Sending. Each event is compressed on its own, with a fresh raw deflate
 * stream ending in Z_SYNC_FLUSH, once, and cached in the event's extension
 * slot (e->ext, which the bus frees with the event; shared by every
 * receiver). Such a piece never refers back to data before it and ends
 * on a byte boundary with the empty stored block 00 00 ff ff, so pieces
 * concatenate into one valid deflate stream: a message carrying one event is
 * its piece minus the final 00 00 ff ff; an array "[a,b]" is deflate("[") +
 * deflate(a) + deflate(",") + deflate(b) + deflate("]"), minus the last
 * 00 00 ff ff. Nothing refers to earlier messages either, which is what
 * server_no_context_takeover promises, so we always promise it.
 *
 * Window: a client may limit our window (server_max_window_bits=N, 8..15).
 * Events are compressed with a 32 KiB window (windowBits 15), and, only for
 * clients that asked for less than 15, a second time with windowBits 9 (zlib
 * then emits distances of at most 2^9 - 262 = 250, within even N = 8; raw
 * deflate does not accept windowBits 8). Measured on our events: meter and
 * status events (150-200 bytes) and a one-connector snapshot (500 bytes)
 * compress the same with 9 as with 15 (138, 135, 315 vs 303 bytes), but a
 * four-connector snapshot (1,369 bytes) takes 766 bytes with 9 against 347
 * with 15, so one small window for everyone would cost the common case.
 *
 * Receiving. We answer client_no_context_takeover whether or not it was
 * offered (RFC 7692 7.1.1.1 allows it), so every client message is a deflate
 * stream of its own: one shared inflater, reset per message, inflates it into
 * one shared buffer of FC_DEFLATE_RX_MAX + 1 bytes; filling that buffer means
 * the message is too large (1009), and a zip bomb allocates nothing more.
 * Only a message that arrives in several pieces is gathered (compressed, at
 * most FC_DEFLATE_RX_MAX bytes) in a buffer of its connection, freed at its
 * end. Per connection we keep 16 bytes of state.
 *
 * How it plugs into lws 4.1.6 (lib/roles/ws): a struct lws_extension named
 * "permessage-deflate" on the web vhost.
 * - Negotiation: lws finds the name in Sec-WebSocket-Extensions and calls
 *   LWS_EXT_CB_CONSTRUCT; we read the whole header ourselves, pick the first
 *   offer we can honour, or decline (nonzero: no extension, a plain
 *   connection). lws then writes "Sec-WebSocket-Extensions:
 *   permessage-deflate" plus only those of our options that the client
 *   offered without a value — it cannot add client_no_context_takeover or
 *   answer server_max_window_bits=N — so we give it no options, and complete
 *   the line from LWS_CALLBACK_ADD_HEADERS, which lws calls right after it
 *   (handshake_0405), with the buffer positioned just past that line.
 * - Receiving: with an extension active lws accepts RSV1 (and only RSV1) and
 *   hands every data payload to LWS_EXT_CB_PAYLOAD_RX as {in, out} buffers
 *   (struct lws_ext_pm_deflate_rx_ebufs); what we return in out, checked for
 *   UTF-8, is what LWS_CALLBACK_RECEIVE sees.
 * - Sending: lws_write offers the payload to LWS_EXT_CB_PAYLOAD_TX (we leave
 *   it alone: it is already compressed), builds the frame, and shows the whole
 *   frame to LWS_EXT_CB_PACKET_TX_PRESEND just before the socket; there we set
 *   RSV1 in the first header byte, only while fc_deflate_write is writing (a
 *   file-scope flag; lws_write runs it synchronously). Ping, pong and close
 *   frames never reach these callbacks.
 * - Per-connection state: what CONSTRUCT stores in *user, handed back in
 *   later callbacks; push.c reaches it through lws_set_extension_option (the
 *   only public path), which fails when the extension is not active. */
#include "push/deflate.h"

#include "core/mem.h"
#include "log/log.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <zlib.h>

#define EXT_NAME "permessage-deflate"
#define STATE_OPTION "fc-state" /* our private NAMED_OPTION_SET name */
#define SMALL_BITS 9

/* lws's private enum pmd_return (lib/core/private-lib-core.h), part of the
 * PAYLOAD_RX contract, and struct lws_ext_pm_deflate_rx_ebufs
 * (lib/roles/ws/private-lib-roles-ws.h). */
enum { PMDR_UNKNOWN = 0, PMDR_EMPTY_NONFINAL = 3, PMDR_EMPTY_FINAL = 4 };
typedef struct ebufs {
  struct lws_tokens eb_in;
  struct lws_tokens eb_out;
} ebufs_t;

/* One connection's state (16 bytes). */
typedef struct conn {
  unsigned char *buf; /* a compressed message arriving in several pieces */
  uint32_t len;
  uint8_t mode;     /* fc_deflate_mode_t */
  uint8_t smwb;     /* server_max_window_bits we answer with, 0 = none */
  bool answered;    /* the response header has been completed */
  bool compressing; /* inside a compressed message */
  bool failed;      /* closing: discard whatever still comes */
} conn_t;

static const unsigned char trailer[4] = {0x00, 0x00, 0xff, 0xff};
static const struct lws_ext_options no_options[] = {{NULL, EXTARG_NONE}};

/* The shared zlib state: a deflater per window, the inflater and its output. */
static z_stream zdef[2];
static bool zdef_ready[2];
static z_stream zinf;
static bool zinf_ready;
static unsigned char *inflated; /* FC_DEFLATE_RX_MAX + 2 (lws NUL-terminates) */
/* The compressed "[", "," and "]" (window-independent). */
static struct {
  unsigned char *p;
  size_t len;
} seps[3];
static bool tx_deflated; /* fc_deflate_write is in lws_write */

/* ---- compressing ---- */

/* data compressed with a fresh stream, ending in a sync flush. Caller frees;
 * NULL when zlib fails (not expected). */
static unsigned char *compress_piece(int w, const void *data, size_t len, size_t *out_len)
{
  z_stream *z = &zdef[w];
  if (!zdef_ready[w]) {
    if (deflateInit2(z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, w ? -SMALL_BITS : -MAX_WBITS, 8,
                     Z_DEFAULT_STRATEGY) != Z_OK)
      return NULL;
    zdef_ready[w] = true;
  } else if (deflateReset(z) != Z_OK) {
    return NULL;
  }
  size_t cap = deflateBound(z, (uLong)len) + 16; /* + the sync flush's empty block */
  unsigned char *out = fc_malloc(cap);
  z->next_in = (Bytef *)(uintptr_t)data;
  z->avail_in = (uInt)len;
  z->next_out = out;
  z->avail_out = (uInt)cap;
  int rc = deflate(z, Z_SYNC_FLUSH);
  if (rc != Z_OK || z->avail_in || !z->avail_out || cap - z->avail_out < sizeof(trailer)) {
    fc_free(out);
    return NULL;
  }
  *out_len = cap - z->avail_out;
  return fc_realloc(out, *out_len);
}

/* An event's compressed forms, for each window (NULL until made): what
 * e->ext points to, freed by the bus with the event. */
typedef struct cache {
  unsigned char *p[2];
  size_t len[2];
} cache_t;

static void cache_free(void *ext)
{
  cache_t *c = ext;
  fc_free(c->p[0]);
  fc_free(c->p[1]);
  fc_free(c);
}

/* e's cache, made on first use. */
static cache_t *cache_of(fc_event_t *e)
{
  if (!e->ext) {
    e->ext = fc_calloc(1, sizeof(cache_t));
    e->ext_free = cache_free;
  }
  assert(e->ext_free == cache_free); /* the slot is ours alone */
  return e->ext;
}

const unsigned char *fc_deflate_event(fc_event_t *e, fc_deflate_mode_t mode, size_t *len)
{
  int w = mode == FC_DEFLATE_SMALL;
  cache_t *c = cache_of(e);
  if (!c->p[w]) {
    size_t n = 0;
    c->p[w] = compress_piece(w, e->json, e->len, &n);
    if (!c->p[w]) return NULL;
    c->len[w] = n;
  }
  *len = c->len[w];
  return c->p[w];
}

static bool seps_make(void)
{
  static const char text[3] = {'[', ',', ']'};
  for (int i = 0; i < 3; i++) {
    if (seps[i].p) continue;
    /* One literal has no distance: the small window's piece fits every client. */
    seps[i].p = compress_piece(1, &text[i], 1, &seps[i].len);
    if (!seps[i].p) return false;
  }
  return true;
}

static unsigned char *put(unsigned char *w, const unsigned char *p, size_t len)
{
  memcpy(w, p, len);
  return w + len;
}

int fc_deflate_write(struct lws *wsi, fc_deflate_mode_t mode, fc_event_t *const *evs, size_t n)
{
  size_t total = 0, len;
  if (n > 1 && !seps_make()) return -1;
  for (size_t i = 0; i < n; i++) {
    if (!fc_deflate_event(evs[i], mode, &len)) return -1;
    total += len;
  }
  if (n > 1) total += seps[0].len + (n - 1) * seps[1].len + seps[2].len;
  unsigned char *buf = fc_malloc(LWS_PRE + total), *w = buf + LWS_PRE;
  if (n > 1) w = put(w, seps[0].p, seps[0].len);
  for (size_t i = 0; i < n; i++) {
    if (i) w = put(w, seps[1].p, seps[1].len);
    const cache_t *c = evs[i]->ext; /* made by fc_deflate_event above */
    w = put(w, c->p[mode == FC_DEFLATE_SMALL], c->len[mode == FC_DEFLATE_SMALL]);
  }
  if (n > 1) w = put(w, seps[2].p, seps[2].len);
  /* The message ends where the last sync flush's 00 00 ff ff begins; the
   * receiver appends it again (RFC 7692 7.2.1). */
  len = total - sizeof(trailer);
  tx_deflated = true;
  int rc = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_TEXT);
  tx_deflated = false;
  fc_free(buf);
  return rc < (int)len ? -1 : 0;
}

/* ---- negotiating ---- */

static const char *skip_ows(const char *s, const char *end)
{
  while (s < end && (*s == ' ' || *s == '\t'))
    s++;
  return s;
}

static const char *trim_end(const char *s, const char *end)
{
  while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
    end--;
  return end;
}

static bool token_is(const char *s, const char *end, const char *name)
{
  size_t n = strlen(name);
  return (size_t)(end - s) == n && !memcmp(s, name, n);
}

/* The first c in [s, end), or end. */
static const char *find(const char *s, const char *end, char c)
{
  while (s < end && *s != c)
    s++;
  return s;
}

/* A window-bits value, "8".."15", possibly quoted; -1 if not one. */
static int window_bits(const char *v, const char *end)
{
  if (end - v >= 2 && v[0] == '"' && end[-1] == '"') {
    v++;
    end--;
  }
  if (end - v < 1 || end - v > 2) return -1;
  int n = 0;
  for (; v < end; v++) {
    if (*v < '0' || *v > '9') return -1;
    n = n * 10 + (*v - '0');
  }
  return n >= 8 && n <= 15 ? n : -1;
}

/* One offer's parameters, [s, end) after the name and its ';': whether we
 * can honour them all; *smwb: the server_max_window_bits asked for, or 0. */
static bool offer_ok(const char *s, const char *end, int *smwb)
{
  static const char *const known[] = {"server_no_context_takeover", "client_no_context_takeover",
                                      "server_max_window_bits", "client_max_window_bits"};
  unsigned seen = 0;
  *smwb = 0;
  while (s < end) {
    const char *pend = find(s, end, ';');
    const char *name = skip_ows(s, pend), *eq = find(name, pend, '=');
    const char *nend = trim_end(name, eq);
    unsigned k = 0;
    while (k < 4 && !token_is(name, nend, known[k]))
      k++;
    if (k == 4 || (seen & (1u << k))) return false; /* unknown or repeated */
    seen |= 1u << k;
    if (eq < pend) {
      if (k < 2) return false; /* the no_context_takeover ones take no value */
      int bits = window_bits(skip_ows(eq + 1, pend), trim_end(eq + 1, pend));
      if (bits < 0) return false;
      if (k == 2) *smwb = bits;
    }
    s = pend < end ? pend + 1 : end;
  }
  return true;
}

/* The first permessage-deflate offer in the header we can honour. */
static bool pick_offer(const char *hdr, int *smwb)
{
  const char *s = hdr, *end = hdr + strlen(hdr);
  while (s < end) {
    const char *oend = find(s, end, ','), *semi = find(s, oend, ';');
    const char *name = skip_ows(s, semi);
    if (token_is(name, trim_end(name, semi), EXT_NAME) &&
        offer_ok(semi < oend ? semi + 1 : oend, oend, smwb))
      return true;
    s = oend < end ? oend + 1 : end;
  }
  return false;
}

static int construct(struct lws *wsi, void *user, void *in)
{
  char hdr[512];
  int smwb = 0;
  if (lws_hdr_copy(wsi, hdr, sizeof(hdr), WSI_TOKEN_EXTENSIONS) <= 0 || !pick_offer(hdr, &smwb)) {
    fc_log(FC_LOG_DEBUG, NULL, "event=ui_deflate_declined");
    return 1; /* no compression on this connection */
  }
  conn_t *st = fc_calloc(1, sizeof(*st));
  st->mode = smwb && smwb < MAX_WBITS ? FC_DEFLATE_SMALL : FC_DEFLATE_ON;
  st->smwb = (uint8_t)smwb;
  *(conn_t **)user = st;
  /* No options for lws to echo: fc_deflate_add_headers writes ours. */
  if (in) *(const struct lws_ext_options **)in = no_options;
  return 0;
}

static conn_t *conn_of(struct lws *wsi)
{
  conn_t *st = NULL;
  if (lws_set_extension_option(wsi, EXT_NAME, STATE_OPTION, (const char *)&st) < 0) return NULL;
  return st;
}

fc_deflate_mode_t fc_deflate_mode(struct lws *wsi)
{
  conn_t *st = conn_of(wsi);
  return st ? (fc_deflate_mode_t)st->mode : FC_DEFLATE_OFF;
}

int fc_deflate_add_headers(struct lws *wsi, void *in)
{
  static const char line_end[] = EXT_NAME "\r\n";
  const size_t le = sizeof(line_end) - 1;
  struct lws_process_html_args *a = in;
  conn_t *st = conn_of(wsi);
  if (!st || st->answered) return 0;
  st->answered = true;
  char params[96];
  int pl =
      snprintf(params, sizeof(params), "; server_no_context_takeover; client_no_context_takeover");
  if (st->smwb)
    pl +=
        snprintf(params + pl, sizeof(params) - (size_t)pl, "; server_max_window_bits=%u", st->smwb);
  /* lws has just written "...Extensions: permessage-deflate\r\n" and left
   * a->p after it: insert our parameters before its CRLF. A layout we do not
   * recognise would leave the client free to compress with context takeover,
   * which we could not inflate: refuse the handshake then. */
  if (a->max_len < pl + 2 || memcmp(a->p - le, line_end, le) != 0) {
    fc_log(FC_LOG_ERROR, NULL, "event=ui_deflate_header_failed");
    return -1;
  }
  a->p -= 2;
  memcpy(a->p, params, (size_t)pl);
  a->p += pl;
  *a->p++ = '\r';
  *a->p++ = '\n';
  a->max_len -= pl;
  return 0;
}

/* ---- receiving ---- */

/* Inflates one whole message into `inflated`: its length, or -1 (corrupt),
 * or -2 (more than FC_DEFLATE_RX_MAX bytes). */
static long inflate_message(const unsigned char *in, size_t len)
{
  if (!zinf_ready) {
    memset(&zinf, 0, sizeof(zinf));
    if (inflateInit2(&zinf, -MAX_WBITS) != Z_OK) return -1;
    zinf_ready = true;
    if (!inflated) inflated = fc_malloc(FC_DEFLATE_RX_MAX + 2);
  } else if (inflateReset(&zinf) != Z_OK) {
    return -1;
  }
  const uInt cap = FC_DEFLATE_RX_MAX + 1;
  zinf.next_out = inflated;
  zinf.avail_out = cap;
  const unsigned char *parts[2] = {in, trailer};
  size_t lens[2] = {len, sizeof(trailer)};
  for (int i = 0; i < 2; i++) {
    zinf.next_in = (Bytef *)(uintptr_t)parts[i];
    zinf.avail_in = (uInt)lens[i];
    int rc = inflate(&zinf, Z_SYNC_FLUSH);
    if (!zinf.avail_out) return -2; /* filled the buffer: past the limit */
    if (rc == Z_STREAM_END) break;  /* ended with a final block */
    if (rc != Z_OK && rc != Z_BUF_ERROR) return -1;
    if (zinf.avail_in) return -1; /* it stopped short of its input */
  }
  return (long)(cap - zinf.avail_out);
}

/* Fails the connection with code. An extension cannot close a connection
 * with a close frame itself (a negative return drops the socket, and so does
 * an lws_set_timeout kill): it sets the reason, and passes one byte on so that
 * the protocol callback runs, sees fc_deflate_rx_failed and returns -1 —
 * lws then sends the close frame. The rest of the message is discarded. */
static int fail(struct lws *wsi, conn_t *st, ebufs_t *eb, enum lws_close_status code,
                const char *why)
{
  static unsigned char nudge[2] = " ";
  fc_log(FC_LOG_INFO, NULL, "event=ui_deflate_rx_failed code=%d reason=\"%s\"", (int)code, why);
  lws_close_reason(wsi, code, (unsigned char *)(uintptr_t)why, strlen(why));
  st->failed = true;
  st->compressing = false;
  FC_FREE(st->buf);
  st->len = 0;
  eb->eb_in.len = 0;
  eb->eb_out.token = nudge;
  eb->eb_out.len = 1;
  return PMDR_EMPTY_NONFINAL;
}

bool fc_deflate_rx_failed(struct lws *wsi)
{
  conn_t *st = conn_of(wsi);
  return st && st->failed;
}

static int payload_rx(struct lws *wsi, conn_t *st, ebufs_t *eb)
{
  if (st->failed) {
    eb->eb_in.len = 0;
    eb->eb_out.len = 0;
    return PMDR_EMPTY_NONFINAL;
  }
  if (!st->compressing) {
    /* A message's first frame says whether it is compressed (RSV1); an
     * uncompressed one passes through untouched, as without the extension.
     * (lws 4.1.6 exposes no opcode: a control frame's payload is told from
     * a continuation only outside a message; a non-empty pong inside a
     * fragmented compressed message would fail it.) */
    if (!(lws_get_reserved_bits(wsi) & 0x40)) return PMDR_UNKNOWN;
    st->compressing = true;
  }
  const unsigned char *in = eb->eb_in.token;
  size_t len = eb->eb_in.len > 0 ? (size_t)eb->eb_in.len : 0;
  bool last = lws_is_final_fragment(wsi);
  if (st->len + len > FC_DEFLATE_RX_MAX)
    return fail(wsi, st, eb, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "too large");
  if (!last || st->len) {
    if (len) {
      st->buf = fc_realloc(st->buf, st->len + len);
      memcpy(st->buf + st->len, in, len);
      st->len += (uint32_t)len;
    }
    eb->eb_in.len = 0;
    eb->eb_out.len = 0;
    if (!last) return PMDR_EMPTY_NONFINAL;
    in = st->buf;
    len = st->len;
  }
  st->compressing = false;
  long out = inflate_message(in, len);
  FC_FREE(st->buf);
  st->len = 0;
  if (out == -2) return fail(wsi, st, eb, LWS_CLOSE_STATUS_MESSAGE_TOO_LARGE, "too large");
  if (out < 0) return fail(wsi, st, eb, LWS_CLOSE_STATUS_INVALID_PAYLOAD, "bad deflate data");
  eb->eb_in.len = 0;
  eb->eb_out.token = inflated;
  eb->eb_out.len = (int)out;
  return PMDR_EMPTY_FINAL;
}

/* ---- the extension ---- */

static int ext_cb(struct lws_context *ctx, const struct lws_extension *ext, struct lws *wsi,
                  enum lws_extension_callback_reasons reason, void *user, void *in, size_t len)
{
  conn_t *st = user;
  switch ((int)reason) {
  case LWS_EXT_CB_CONSTRUCT:
    return construct(wsi, user, in);
  case LWS_EXT_CB_CLIENT_CONSTRUCT:
    return 1; /* server side only */
  case LWS_EXT_CB_DESTROY:
    if (st) {
      fc_free(st->buf);
      fc_free(st);
    }
    return 0;
  case LWS_EXT_CB_NAMED_OPTION_SET: {
    const struct lws_ext_option_arg *oa = in;
    if (!st || !oa->option_name || strcmp(oa->option_name, STATE_OPTION) || !oa->start) return -1;
    *(conn_t **)(uintptr_t)oa->start = st;
    return 0;
  }
  case LWS_EXT_CB_OPTION_SET:
    return 1; /* never echo an option (we offered none) */
  case LWS_EXT_CB_PAYLOAD_RX:
    return st ? payload_rx(wsi, st, in) : PMDR_UNKNOWN;
  case LWS_EXT_CB_PAYLOAD_TX:
    return 0; /* already compressed (or, if ever written plain, sent plain) */
  case LWS_EXT_CB_PACKET_TX_PRESEND: {
    /* The whole frame, header first: RSV1 on the first (only) frame of a
     * message fc_deflate_write is sending. */
    struct lws_tokens *t = in;
    if (tx_deflated && t->len > 0 && ((t->token[0] & 0x0f) == 1 || (t->token[0] & 0x0f) == 2))
      t->token[0] |= 0x40;
    return 0;
  }
  default:
    return 0;
  }
}

const struct lws_extension fc_deflate_extensions[] = {
    {EXT_NAME, ext_cb, NULL},
    {NULL, NULL, NULL},
};

void fc_deflate_cleanup(void)
{
  for (int w = 0; w < 2; w++)
    if (zdef_ready[w]) {
      deflateEnd(&zdef[w]);
      zdef_ready[w] = false;
    }
  if (zinf_ready) {
    inflateEnd(&zinf);
    zinf_ready = false;
  }
  FC_FREE(inflated);
  for (int i = 0; i < 3; i++) {
    FC_FREE(seps[i].p);
    seps[i].len = 0;
  }
}
