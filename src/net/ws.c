#include "net/ws.h"

#include "core/mem.h"

#include <libwebsockets.h>
#include <stdio.h>
#include <string.h>

int fc_http_write(struct lws *wsi, unsigned status, const char *type, const char *body, size_t len,
                  const char *www_auth, unsigned retry_after)
{
  unsigned char hdr[LWS_PRE + 1024];
  unsigned char *start = hdr + LWS_PRE, *p = start, *end = hdr + sizeof(hdr) - 1;
  if (lws_add_http_common_headers(wsi, status, type, len, &p, end) ||
      lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_CACHE_CONTROL,
                                   (const unsigned char *)"no-store", 8, &p, end))
    return -1;
  if (www_auth &&
      lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_WWW_AUTHENTICATE,
                                   (const unsigned char *)www_auth, (int)strlen(www_auth), &p, end))
    return -1;
  if (retry_after) {
    char ra[16];
    int n = snprintf(ra, sizeof(ra), "%u", retry_after);
    if (lws_add_http_header_by_token(wsi, WSI_TOKEN_HTTP_RETRY_AFTER, (unsigned char *)ra, n, &p,
                                     end))
      return -1;
  }
  if (lws_finalize_write_http_header(wsi, start, &p, end)) return -1;
  unsigned char *buf = fc_malloc(LWS_PRE + len + 1);
  memcpy(buf + LWS_PRE, body, len);
  int n = lws_write(wsi, buf + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
  fc_free(buf);
  return n < (int)len ? -1 : 0;
}
