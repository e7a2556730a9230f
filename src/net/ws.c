#include "net/ws.h"

#include <libwebsockets.h>
#include <string.h>

int fc_ws_send_close(struct lws *wsi, int code, const char *reason)
{
  unsigned char buf[LWS_PRE + 125];
  unsigned char *p = buf + LWS_PRE;
  size_t rlen = reason ? strlen(reason) : 0;
  if (rlen > 123) rlen = 123;
  p[0] = (unsigned char)(code >> 8);
  p[1] = (unsigned char)(code & 0xff);
  if (rlen) memcpy(p + 2, reason, rlen);
  /* 4 is lws's close opcode for lws_write (its public header hides it). */
  lws_write(wsi, p, 2 + rlen, (enum lws_write_protocol)4);
  return -1;
}
