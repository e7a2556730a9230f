/* Client addresses as keys for per-address limits.
 *
 * An address is 16 bytes: IPv4 as its IPv4-mapped IPv6 form (so a dual-stack
 * listener and an IPv4 one count the same client once), IPv6 cut to its /64
 * (the smallest prefix a site is given: one host can take any address in it,
 * so counting per address would let it multiply its allowance). */
#ifndef FC_CORE_ADDR_H
#define FC_CORE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

typedef struct fc_addr {
  unsigned char b[16];
} fc_addr_t;

/* Longest text of fc_addr_str, with its NUL ("ffff:…:ffff::/64"). */
#define FC_ADDR_STRLEN 48

/* The key of a socket address (AF_INET or AF_INET6). 0, or FC_ERR_INVAL for
 * another family or a short length. */
int fc_addr_from_sockaddr(const struct sockaddr *sa, socklen_t len, fc_addr_t *out);

/* The key of a connected socket's peer (getpeername). 0, or a negative error. */
int fc_addr_of_peer(int fd, fc_addr_t *out);

/* The key as text: "192.0.2.7", or "2001:db8:1:2::/64". Returns buf. */
const char *fc_addr_str(const fc_addr_t *a, char *buf, size_t bufsz);

static inline bool fc_addr_eq(const fc_addr_t *a, const fc_addr_t *b)
{
  for (size_t i = 0; i < sizeof(a->b); i++)
    if (a->b[i] != b->b[i]) return false;
  return true;
}

#endif
