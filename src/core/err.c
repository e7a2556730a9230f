#include "core/err.h"

#include <uv.h>

const char *fc_strerror(int err)
{
  switch (err) {
#define XX(name, code, msg)                                                                        \
  case code:                                                                                       \
    return msg;
    FC_ERR_MAP(XX)
#undef XX
  default:
    return uv_strerror(err);
  }
}

const char *fc_err_name(int err)
{
  switch (err) {
#define XX(name, code, msg)                                                                        \
  case code:                                                                                       \
    return "FC_ERR_" #name;
    FC_ERR_MAP(XX)
#undef XX
  default:
    return uv_err_name(err);
  }
}
