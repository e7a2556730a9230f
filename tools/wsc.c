/* Minimal WebSocket client on libuv: see wsc.h for what and why.
 *
 * Reads go into one buffer shared by every connection (the loop is single
 * threaded and a read callback consumes its bytes before returning); only the
 * tail of a frame split across reads is copied into the connection's own
 * buffer. That keeps an idle connection at a few hundred bytes, which is what
 * lets one benchmark process hold tens of thousands of them. */
#include "wsc.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zlib.h>

#define SHARED_RX (256 * 1024)
#define MSG_MAX (16 * 1024 * 1024)

enum { ST_CONNECTING, ST_HANDSHAKE, ST_OPEN, ST_CLOSING, ST_CLOSED };

struct wsc {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_timer_t *close_timer;
  const wsc_cbs_t *cbs;
  void *ud;
  int state;
  int status; /* HTTP status when refused */
  int err;
  char *pend; /* bytes of an incomplete frame (or header) carried to the next read */
  size_t pend_len, pend_cap;
  char *msg; /* a fragmented message being reassembled */
  size_t msg_len, msg_cap;
  int msg_rsv1; /* the message being reassembled is compressed */
  int deflate;  /* permessage-deflate offered (1), then accepted (2) */
  size_t wq;
  char *req; /* the upgrade request, until written */
};

typedef struct wreq {
  uv_write_t w;
  wsc_t *c;
  size_t len;
  char data[];
} wreq_t;

static char shared_rx[SHARED_RX];
static int shared_busy;

static void *xrealloc(void *p, size_t n)
{
  void *q = realloc(p, n);
  if (!q) {
    fprintf(stderr, "wsc: out of memory\n");
    abort();
  }
  return q;
}

static void append(char **buf, size_t *len, size_t *cap, const char *d, size_t n)
{
  if (*len + n > *cap) {
    size_t nc = *cap ? *cap : 256;
    while (nc < *len + n)
      nc *= 2;
    *buf = xrealloc(*buf, nc);
    *cap = nc;
  }
  memcpy(*buf + *len, d, n);
  *len += n;
}

static void on_handle_closed(uv_handle_t *h)
{
  wsc_t *c = h->data;
  if (c->close_timer) {
    uv_close((uv_handle_t *)c->close_timer, (uv_close_cb)free);
    c->close_timer = NULL;
  }
  if (c->cbs->on_close) c->cbs->on_close(c, c->ud, c->status, c->err);
  free(c->pend);
  free(c->msg);
  free(c->req);
  free(c);
}

static void hard_close(wsc_t *c)
{
  if (c->state == ST_CLOSED) return;
  c->state = ST_CLOSED;
  if (c->close_timer) uv_timer_stop(c->close_timer);
  uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

void wsc_abort(wsc_t *c)
{
  hard_close(c);
}

static void write_cb(uv_write_t *w, int status)
{
  wreq_t *r = (wreq_t *)w;
  r->c->wq -= r->len;
  if (status < 0 && r->c->state != ST_CLOSED && !r->c->err) {
    r->c->err = status;
    hard_close(r->c);
  }
  free(r);
}

static int raw_write(wsc_t *c, wreq_t *r)
{
  uv_buf_t b = uv_buf_init(r->data, (unsigned)r->len);
  r->c = c;
  c->wq += r->len;
  int rc = uv_write(&r->w, (uv_stream_t *)&c->tcp, &b, 1, write_cb);
  if (rc < 0) {
    c->wq -= r->len;
    free(r);
  }
  return rc;
}

/* Masking keys. RFC 6455 wants them unpredictable, which protects proxies
 * from scripts in browsers; these tools only talk to our own server. So a
 * xorshift generator, seeded once from the system's: libsodium's randombytes
 * here is a getrandom() system call per frame. */
static uint64_t mask_state;

static uint32_t next_mask(void)
{
  while (!mask_state)
    randombytes_buf(&mask_state, sizeof(mask_state));
  uint64_t x = mask_state;
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  mask_state = x;
  return (uint32_t)(x >> 32);
}

/* out = in ^ the 4-byte key repeated, 8 bytes at a time. */
static void mask_copy(unsigned char *out, const unsigned char *in, size_t len,
                      const unsigned char key[4])
{
  unsigned char k8[8];
  for (int i = 0; i < 8; i++)
    k8[i] = key[i & 3];
  uint64_t m;
  memcpy(&m, k8, 8);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    memcpy(&v, in + i, 8);
    v ^= m;
    memcpy(out + i, &v, 8);
  }
  for (; i < len; i++)
    out[i] = in[i] ^ key[i & 3];
}

#define SMALL_FRAME 2048

/* A frame goes out with one try-write from the stack when the socket takes it
 * whole (the usual case: no allocation, no write callback); what the kernel
 * does not take is queued behind, in order. */
static int send_frame(wsc_t *c, int opcode, const char *data, size_t len)
{
  size_t hl = 2 + (len > 65535 ? 8 : len > 125 ? 2 : 0) + 4;
  unsigned char small[SMALL_FRAME];
  wreq_t *r = NULL;
  unsigned char *frame = small;
  if (hl + len > sizeof(small)) {
    r = xrealloc(NULL, sizeof(*r) + hl + len);
    frame = (unsigned char *)r->data;
  }
  unsigned char *p = frame;
  *p++ = (unsigned char)(0x80 | opcode);
  if (len > 65535) {
    *p++ = 0x80 | 127;
    for (int i = 7; i >= 0; i--)
      *p++ = (unsigned char)((uint64_t)len >> (8 * i));
  } else if (len > 125) {
    *p++ = 0x80 | 126;
    *p++ = (unsigned char)(len >> 8);
    *p++ = (unsigned char)len;
  } else {
    *p++ = (unsigned char)(0x80 | len);
  }
  uint32_t key = next_mask();
  memcpy(p, &key, 4);
  mask_copy(p + 4, (const unsigned char *)data, len, p);
  size_t total = hl + len, done = 0;
  if (c->wq == 0) { /* nothing queued: writing now keeps the order */
    uv_buf_t b = uv_buf_init((char *)frame, (unsigned)total);
    int rc = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    if (rc > 0) done = (size_t)rc;
    if (done == total) {
      free(r);
      return 0;
    }
  }
  if (!r) {
    r = xrealloc(NULL, sizeof(*r) + total - done);
    memcpy(r->data, frame + done, total - done);
  } else if (done) {
    memmove(r->data, r->data + done, total - done);
  }
  r->len = total - done;
  return raw_write(c, r);
}

int wsc_send_text(wsc_t *c, const char *data, size_t len)
{
  if (c->state != ST_OPEN) return UV_ENOTCONN;
  return send_frame(c, 1, data, len);
}

static void close_timeout(uv_timer_t *t)
{
  hard_close(t->data);
}

void wsc_close(wsc_t *c)
{
  if (c->state == ST_CLOSED || c->state == ST_CLOSING) return;
  if (c->state != ST_OPEN) {
    hard_close(c);
    return;
  }
  c->state = ST_CLOSING;
  static const char code[2] = {0x03, (char)0xe8};
  send_frame(c, 8, code, 2);
  c->close_timer = xrealloc(NULL, sizeof(uv_timer_t));
  uv_timer_init(c->tcp.loop, c->close_timer);
  c->close_timer->data = c;
  uv_timer_start(c->close_timer, close_timeout, 1000, 0);
}

size_t wsc_write_queue(const wsc_t *c)
{
  return c->wq;
}

int wsc_is_open(const wsc_t *c)
{
  return c->state == ST_OPEN;
}

int wsc_is_deflate(const wsc_t *c)
{
  return c->deflate == 2;
}

/* permessage-deflate, no context takeover: each message is a raw deflate
 * stream of its own, ended by the sync flush whose last four bytes
 * (00 00 ff ff) the sender left out (RFC 7692). One inflater and one output
 * buffer serve every connection of the loop. */
static z_stream inflater;
static int inflater_ready;
static char *inflated;
static size_t inflated_cap;
static uint64_t inflated_n;

uint64_t wsc_inflated(void)
{
  return inflated_n;
}

static int inflate_msg(const char *d, size_t n, const char **out, size_t *out_len)
{
  static const unsigned char tail[4] = {0x00, 0x00, 0xff, 0xff};
  if (!inflater_ready) {
    if (inflateInit2(&inflater, -15) != Z_OK) return -1;
    inflater_ready = 1;
  } else if (inflateReset(&inflater) != Z_OK) {
    return -1;
  }
  size_t len = 0;
  for (int part = 0; part < 2; part++) {
    inflater.next_in = part ? (Bytef *)tail : (Bytef *)d;
    inflater.avail_in = part ? 4 : (uInt)n;
    do {
      if (inflated_cap - len < 4096) {
        inflated_cap = inflated_cap ? inflated_cap * 2 : 65536;
        if (inflated_cap > MSG_MAX * 2) return -1;
        inflated = xrealloc(inflated, inflated_cap);
      }
      inflater.next_out = (Bytef *)inflated + len;
      inflater.avail_out = (uInt)(inflated_cap - len);
      int rc = inflate(&inflater, Z_SYNC_FLUSH);
      if (rc != Z_OK && rc != Z_STREAM_END && rc != Z_BUF_ERROR) return -1;
      len = inflated_cap - inflater.avail_out;
      if (len > MSG_MAX) return -1;
      if (rc == Z_STREAM_END) goto done;                       /* a final block: no tail */
      if (rc == Z_BUF_ERROR && inflater.avail_out != 0) break; /* input used up */
    } while (inflater.avail_in > 0 || inflater.avail_out == 0);
  }
done:
  inflated_n++;
  *out = inflated;
  *out_len = len;
  return 0;
}

/* Hands a complete message to on_message, inflated when compressed. Returns
 * -1 (connection closed) when it does not inflate. */
static int deliver_msg(wsc_t *c, int rsv1, const char *d, size_t n, uint64_t now)
{
  if (rsv1) {
    if (c->deflate != 2 || inflate_msg(d, n, &d, &n) < 0) {
      c->err = UV_EPROTO;
      hard_close(c);
      return -1;
    }
  }
  if (c->cbs->on_message) c->cbs->on_message(c, c->ud, d, n, now);
  return 0;
}

/* Consumes complete frames from d; returns the bytes consumed, or -1 when the
 * connection was closed. */
static long parse_frames(wsc_t *c, const char *d, size_t n, uint64_t now)
{
  size_t off = 0;
  while (c->state == ST_OPEN || c->state == ST_CLOSING) {
    const unsigned char *p = (const unsigned char *)d + off;
    size_t avail = n - off;
    if (avail < 2) break;
    int fin = p[0] & 0x80, rsv1 = p[0] & 0x40, op = p[0] & 0x0f, masked = p[1] & 0x80;
    uint64_t len = p[1] & 0x7f;
    size_t hl = 2;
    if (len == 126) {
      if (avail < 4) break;
      len = ((uint64_t)p[2] << 8) | p[3];
      hl = 4;
    } else if (len == 127) {
      if (avail < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++)
        len = (len << 8) | p[2 + i];
      hl = 10;
    }
    if (masked) hl += 4;
    if (len > MSG_MAX) {
      c->err = UV_EMSGSIZE;
      hard_close(c);
      return -1;
    }
    if (avail < hl + len) break;
    const char *pl = (const char *)p + hl;
    char *unmasked = NULL;
    if (masked) { /* servers must not mask; tolerate it */
      unmasked = xrealloc(NULL, len ? len : 1);
      for (uint64_t i = 0; i < len; i++)
        unmasked[i] = pl[i] ^ p[hl - 4 + (i & 3)];
      pl = unmasked;
    }
    off += hl + len;
    switch (op) {
    case 0: /* continuation */
    case 1:
    case 2:
      if (fin && op != 0 && c->msg_len == 0) {
        if (deliver_msg(c, rsv1, pl, len, now) < 0) {
          free(unmasked);
          return -1;
        }
      } else {
        if (op != 0) c->msg_rsv1 = rsv1; /* the first frame says */
        append(&c->msg, &c->msg_len, &c->msg_cap, pl, len);
        if (c->msg_len > MSG_MAX) {
          free(unmasked);
          c->err = UV_EMSGSIZE;
          hard_close(c);
          return -1;
        }
        if (fin) {
          size_t mlen = c->msg_len;
          c->msg_len = 0;
          if (deliver_msg(c, c->msg_rsv1, c->msg, mlen, now) < 0) {
            free(unmasked);
            return -1;
          }
        }
      }
      break;
    case 8: /* close: echo the code, then close the socket */
      if (c->state == ST_OPEN) send_frame(c, 8, pl, len >= 2 ? 2 : 0);
      free(unmasked);
      hard_close(c);
      return -1;
    case 9:
      send_frame(c, 10, pl, len);
      break;
    default:
      break;
    }
    free(unmasked);
    if (c->state == ST_CLOSED) return -1;
  }
  return (long)off;
}

/* Returns bytes consumed by the handshake response, 0 when incomplete, -1 on
 * refusal (connection closed). */
static long parse_handshake(wsc_t *c, const char *d, size_t n)
{
  const char *end = NULL;
  for (size_t i = 3; i < n; i++)
    if (d[i] == '\n' && d[i - 1] == '\r' && d[i - 2] == '\n' && d[i - 3] == '\r') {
      end = d + i + 1;
      break;
    }
  if (!end) {
    if (n > 16384) {
      c->err = UV_EPROTO;
      hard_close(c);
      return -1;
    }
    return 0;
  }
  int status = 0;
  if (n < 12 || sscanf(d, "HTTP/1.%*c %d", &status) != 1) status = -1;
  if (status != 101) {
    c->status = status;
    hard_close(c);
    return -1;
  }
  if (c->deflate) {
    /* accepted when the response names the extension */
    for (const char *h = d, *eol; h < end && (eol = memchr(h, '\n', (size_t)(end - h)));
         h = eol + 1)
      if (!strncasecmp(h, "Sec-WebSocket-Extensions:", 25) &&
          memmem(h, (size_t)(eol - h), "permessage-deflate", 18))
        c->deflate = 2;
  }
  c->state = ST_OPEN;
  if (c->cbs->on_open) c->cbs->on_open(c, c->ud);
  return end - d;
}

static long consume(wsc_t *c, const char *d, size_t n, uint64_t now)
{
  long used = 0;
  if (c->state == ST_HANDSHAKE) {
    used = parse_handshake(c, d, n);
    if (used <= 0) return used;
  }
  long r = parse_frames(c, d + used, n - (size_t)used, now);
  if (r < 0) return -1;
  return used + r;
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
  (void)hint;
  if (shared_busy) { /* cannot happen on one loop, but stay safe */
    b->base = malloc(65536);
    b->len = b->base ? 65536 : 0;
    return;
  }
  shared_busy = 1;
  b->base = shared_rx;
  b->len = sizeof(shared_rx);
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *b)
{
  wsc_t *c = s->data;
  int shared = b->base == shared_rx;
  if (shared) shared_busy = 0;
  if (nread < 0) {
    if (c->state != ST_CLOSED) {
      if (nread != UV_EOF) c->err = (int)nread;
      hard_close(c);
    }
    goto out;
  }
  if (nread == 0 || c->state == ST_CLOSED) goto out;
  uint64_t now = uv_hrtime();
  if (c->pend_len) {
    append(&c->pend, &c->pend_len, &c->pend_cap, b->base, (size_t)nread);
    long used = consume(c, c->pend, c->pend_len, now);
    if (used < 0) goto out;
    memmove(c->pend, c->pend + used, c->pend_len - (size_t)used);
    c->pend_len -= (size_t)used;
  } else {
    long used = consume(c, b->base, (size_t)nread, now);
    if (used < 0) goto out;
    if ((size_t)used < (size_t)nread)
      append(&c->pend, &c->pend_len, &c->pend_cap, b->base + used, (size_t)nread - (size_t)used);
  }
  if (c->pend_len == 0 && c->pend_cap > 4096) { /* give back a big frame's buffer */
    free(c->pend);
    c->pend = NULL;
    c->pend_cap = 0;
  }
out:
  if (!shared) free(b->base);
}

static void connect_cb(uv_connect_t *r, int status)
{
  wsc_t *c = r->data;
  if (c->state == ST_CLOSED) return;
  if (status < 0) {
    c->err = status;
    hard_close(c);
    return;
  }
  c->state = ST_HANDSHAKE;
  size_t len = strlen(c->req);
  wreq_t *w = xrealloc(NULL, sizeof(*w) + len);
  memcpy(w->data, c->req, len);
  w->len = len;
  free(c->req);
  c->req = NULL;
  if (raw_write(c, w) < 0 || uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) < 0) {
    c->err = UV_EPIPE;
    hard_close(c);
  }
}

wsc_t *wsc_connect(uv_loop_t *loop, const wsc_opts_t *o, const wsc_cbs_t *cbs, void *ud)
{
  struct sockaddr_in sa;
  if (uv_ip4_addr(strcmp(o->host, "localhost") ? o->host : "127.0.0.1", o->port, &sa) < 0)
    return NULL;
  wsc_t *c = xrealloc(NULL, sizeof(*c));
  memset(c, 0, sizeof(*c));
  c->cbs = cbs;
  c->ud = ud;
  if (uv_tcp_init(loop, &c->tcp) < 0) {
    free(c);
    return NULL;
  }
  c->tcp.data = c;
  c->creq.data = c;
  uv_tcp_nodelay(&c->tcp, 1);
  if (o->bind_ip) {
    struct sockaddr_in la;
    uv_ip4_addr(o->bind_ip, 0, &la);
    int rc = uv_tcp_bind(&c->tcp, (const struct sockaddr *)&la, 0);
    if (rc < 0) {
      c->err = rc;
      hard_close(c);
      return c;
    }
  }

  unsigned char key[16];
  char key64[32], auth64[512] = "", hosthdr[128];
  randombytes_buf(key, sizeof(key));
  sodium_bin2base64(key64, sizeof(key64), key, sizeof(key), sodium_base64_VARIANT_ORIGINAL);
  if (o->user) {
    char up[300];
    int n = snprintf(up, sizeof(up), "%s:%s", o->user, o->password ? o->password : "");
    if (n > 0 && (size_t)n < sizeof(up))
      sodium_bin2base64(auth64, sizeof(auth64), (unsigned char *)up, (size_t)n,
                        sodium_base64_VARIANT_ORIGINAL);
  }
  if (o->host_header)
    snprintf(hosthdr, sizeof(hosthdr), "%s", o->host_header);
  else
    snprintf(hosthdr, sizeof(hosthdr), "%s:%d", o->host, o->port);
  size_t cap = strlen(o->path) + 1024;
  c->req = xrealloc(NULL, cap);
  snprintf(c->req, cap,
           "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
           "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n%s%s%s%s%s%s%s\r\n",
           o->path, hosthdr, key64, o->protocol ? "Sec-WebSocket-Protocol: " : "",
           o->protocol ? o->protocol : "", o->protocol ? "\r\n" : "",
           *auth64 ? "Authorization: Basic " : "", auth64, *auth64 ? "\r\n" : "",
           o->deflate ? "Sec-WebSocket-Extensions: permessage-deflate; "
                        "client_no_context_takeover; server_no_context_takeover\r\n"
                      : "");
  c->deflate = o->deflate ? 1 : 0;
  int rc = uv_tcp_connect(&c->creq, &c->tcp, (const struct sockaddr *)&sa, connect_cb);
  if (rc < 0) {
    c->err = rc;
    hard_close(c);
  }
  return c;
}

int wsc_parse_url(const char *url, char *host, size_t hostsz, int *port, char *path, size_t pathsz)
{
  if (strncmp(url, "ws://", 5) != 0) return -1;
  const char *h = url + 5;
  const char *slash = strchr(h, '/');
  const char *colon = strchr(h, ':');
  if (colon && slash && colon > slash) colon = NULL;
  size_t hl = (size_t)((colon ? colon : slash ? slash : h + strlen(h)) - h);
  if (hl == 0 || hl >= hostsz) return -1;
  memcpy(host, h, hl);
  host[hl] = 0;
  *port = colon ? atoi(colon + 1) : 80;
  snprintf(path, pathsz, "%s", slash ? slash : "/");
  return 0;
}
