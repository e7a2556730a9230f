/* libFuzzer target for the domain parsers that read charger data:
 * PreChargeData (a JSON object inside DataTransfer.data) and the meter
 * summary of a MeterValues meterValue. Neither may crash, hang or leak on
 * any input. */
#include "domain/domain.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';

  fc_precharge_t pc;
  const char *why;
  fc_models_t models;
  fc_models_load(&models, NULL);
  if (fc_precharge_parse(text, &pc, &why) == 0) {
    const fc_model_t *m = pc.model[0] ? fc_models_find(&models, pc.model)
                                      : fc_models_nearest(&models, pc.capacity_wh);
    json_t *ev = fc_precharge_event_data(pc.soc, pc.battery_voltage, pc.capacity_wh, m, "fuzz");
    json_decref(ev);
  }

  json_t *mv = json_loadb(text, size, 0, NULL);
  if (mv) {
    json_t *sum = fc_domain_meter_summary(mv);
    json_decref(sum);
    json_t *cfg = json_pack("{s:O}", "models", mv);
    fc_models_t custom;
    if (fc_models_load(&custom, cfg) == 0) fc_models_cleanup(&custom);
    json_decref(cfg);
    json_decref(mv);
  }
  fc_models_cleanup(&models);
  free(text);
  return 0;
}
