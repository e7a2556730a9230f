/* Authorize: the idTagInfo from the tag table (read off the loop thread). */
#include "ocpp/ocpp_int.h"

static void looked_up(fc_call_t *c, fc_read_t *r, int status)
{
  if (status < 0 && status != FC_ERR_NOTFOUND) {
    fc_ocpp__answer_internal(c, FC_OCPP_WAIT_TAG_LOOKUP, status);
    return;
  }
  json_t *info = fc_ocpp__id_tag_info(c->s->o, &r->out_tag, status);
  fc_ocpp__answer(c, json_pack("{s:o}", "idTagInfo", info));
}

void fc_ocpp__h_authorize(fc_call_t *c)
{
  const char *tag = json_string_value(json_object_get(c->payload, "idTag"));
  fc_ocpp__read(c, fc_read_new(FC_READ_TAG, tag), looked_up);
}
