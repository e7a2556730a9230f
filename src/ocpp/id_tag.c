/* idTagInfo from a tag table lookup, and the clock helpers of the module. */
#include "ocpp/ocpp_int.h"

#include <string.h>
#include <time.h>

uint64_t fc_ocpp__now(const fc_ocpp_t *o)
{
  return uv_now(o->loop);
}

json_t *fc_ocpp__json_now(void)
{
  char buf[32];
  fc_datetime_format(fc_wall_ms(), buf, sizeof(buf));
  return json_string(buf);
}

json_t *fc_ocpp__id_tag_info(fc_ocpp_t *o, const fc_tag_rec_t *tag, int status)
{
  char buf[32];
  if (status == FC_ERR_NOTFOUND || !tag) {
    return json_pack("{s:s}", "status",
                     o->cfg->unknown_tags == FC_TAGS_ACCEPT ? "Accepted" : "Invalid");
  }
  const char *st = tag->status;
  if (!strcmp(st, "Accepted") && tag->expiry_ms && tag->expiry_ms <= fc_wall_ms()) st = "Expired";
  json_t *info = json_pack("{s:s}", "status", st);
  if (tag->expiry_ms) {
    fc_datetime_format(tag->expiry_ms, buf, sizeof(buf));
    json_object_set_new(info, "expiryDate", json_string(buf));
  }
  if (tag->parent[0]) json_object_set_new(info, "parentIdTag", json_string(tag->parent));
  return info;
}
