/* The bearer token of an HTTP request or WebSocket handshake: from the
 * `Authorization: Bearer` header, else the `token` query parameter (browsers
 * cannot set headers on a WebSocket). */
#ifndef FC_AUTH_REQUEST_H
#define FC_AUTH_REQUEST_H

#include "auth/jwt.h"

struct lws;

/* Verifies the request's token against jwt (NULL: none configured, every
 * request refused). Returns 0 and fills *who (release with
 * fc_principal_cleanup), or FC_ERR_AUTH with *why (static, never the token).
 * Loop thread (the wsi's). */
int fc_auth_request(const fc_jwt_cfg_t *jwt, struct lws *wsi, fc_principal_t *who,
                    const char **why);

#endif
