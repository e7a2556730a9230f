#include "core/addr.h"

#include "core/err.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int fc_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, fc_addr_t *out)
{
  memset(out, 0, sizeof(*out));
  if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
    memcpy(out->b, v4mapped, sizeof(v4mapped));
    memcpy(out->b + 12, &in->sin_addr, 4);
    return 0;
  }
  if (sa->sa_family == AF_INET6 && len >= (socklen_t)sizeof(struct sockaddr_in6)) {
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    memcpy(out->b, &in6->sin6_addr, 16);
    /* IPv4-mapped stays whole; any other IPv6 address counts by its /64 */
    if (memcmp(out->b, v4mapped, sizeof(v4mapped)) != 0) memset(out->b + 8, 0, 8);
    return 0;
  }
  return FC_ERR_INVAL;
}

int fc_addr_of_peer(int fd, fc_addr_t *out)
{
  struct sockaddr_storage ss;
  socklen_t len = sizeof(ss);
  if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0) return -errno;
  return fc_addr_from_sockaddr((const struct sockaddr *)&ss, len, out);
}

const char *fc_addr_str(const fc_addr_t *a, char *buf, size_t bufsz)
{
  char text[INET6_ADDRSTRLEN];
  if (memcmp(a->b, v4mapped, sizeof(v4mapped)) == 0) {
    if (!inet_ntop(AF_INET, a->b + 12, text, sizeof(text))) text[0] = '\0';
    snprintf(buf, bufsz, "%s", text);
  } else {
    if (!inet_ntop(AF_INET6, a->b, text, sizeof(text))) text[0] = '\0';
    snprintf(buf, bufsz, "%s/64", text);
  }
  return buf;
}
