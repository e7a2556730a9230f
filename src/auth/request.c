#include "auth/request.h"

#include "core/err.h"
#include "core/time.h"

#include <libwebsockets.h>
#include <string.h>

int fc_auth_request(const fc_jwt_cfg_t *jwt, struct lws *wsi, fc_principal_t *who, const char **why)
{
  char tok[FC_JWT_MAX_LEN + 16];
  const char *t = NULL;
  memset(who, 0, sizeof(*who));
  int n = lws_hdr_copy(wsi, tok, sizeof(tok), WSI_TOKEN_HTTP_AUTHORIZATION);
  if (n > 7 && !strncasecmp(tok, "Bearer ", 7)) {
    t = tok + 7;
    while (*t == ' ')
      t++;
  } else {
    /* lws copies the whole "token=…" argument into tok and points past
     * the name. */
    t = lws_get_urlarg_by_name(wsi, "token=", tok, sizeof(tok));
  }
  if (!t || !*t) {
    *why = "no token";
    return FC_ERR_AUTH;
  }
  if (!jwt) {
    *why = "no JWT key configured";
    return FC_ERR_AUTH;
  }
  int rc = fc_jwt_verify(jwt, t, fc_wall_ms() / 1000, who, why);
  memset(tok, 0, sizeof(tok));
  return rc;
}
