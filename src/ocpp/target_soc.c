/* Target SoC: stop charging once the vehicle reaches the SoC its driver
 * asked for. (The rule itself arrives in a later commit.) */
#include "ocpp/ocpp_int.h"

void fc_ocpp__target_soc_stopped(fc_cpconn_t *k, int64_t tx, json_t *data)
{
  if (!k->target_stopped_tx || k->target_stopped_tx != tx) return;
  json_object_set_new(data, "stoppedBy", json_string("targetSoc"));
  json_object_set_new(data, "targetSoc", json_real(k->target_soc));
}
