/* Meter readings as a dashboard shows them. */
#include "domain/domain.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

bool fc_domain_parse_value(const char *s, double *out)
{
  if (!s || !*s) return false;
  char *end;
  double v = strtod(s, &end);
  while (*end == ' ')
    end++;
  if (*end || !isfinite(v)) return false;
  *out = v;
  return true;
}

enum { Q_VOLTAGE, Q_CURRENT, Q_POWER, Q_ENERGY, Q_SOC, Q__N };
static const char *const qname[Q__N] = {"voltage", "current", "power", "energyWh", "soc"};

typedef struct acc {
  double total[Q__N]; /* value without a phase */
  bool has_total[Q__N];
  double phase[3][Q__N]; /* L1, L2, L3 */
  bool has_phase[3][Q__N];
} acc_t;

static int quantity(const char *measurand)
{
  if (!measurand || !strcmp(measurand, "Energy.Active.Import.Register")) return Q_ENERGY;
  if (!strcmp(measurand, "Voltage")) return Q_VOLTAGE;
  if (!strcmp(measurand, "Current.Import")) return Q_CURRENT;
  if (!strcmp(measurand, "Power.Active.Import")) return Q_POWER;
  if (!strcmp(measurand, "SoC")) return Q_SOC;
  return -1;
}

/* L1, L2, L3 and the line-to-neutral L1-N… count as their line; N and the
 * line-to-line voltages (L1-L2…) are not summarised. */
static int phase_index(const char *phase)
{
  static const char *const lines[3][2] = {{"L1", "L1-N"}, {"L2", "L2-N"}, {"L3", "L3-N"}};
  if (!phase) return -1;
  for (int i = 0; i < 3; i++)
    if (!strcmp(phase, lines[i][0]) || !strcmp(phase, lines[i][1])) return i;
  return -2;
}

static double scale(const char *unit)
{
  if (unit && (!strcmp(unit, "kWh") || !strcmp(unit, "kW") || !strcmp(unit, "kvarh") ||
               !strcmp(unit, "kvar") || !strcmp(unit, "kVA")))
    return 1000.0;
  return 1.0;
}

json_t *fc_domain_meter_summary(const json_t *mv)
{
  acc_t a;
  size_t i;
  json_t *sv;
  bool any = false;

  memset(&a, 0, sizeof(a));
  json_array_foreach(json_object_get(mv, "sampledValue"), i, sv)
  {
    int q = quantity(json_string_value(json_object_get(sv, "measurand")));
    double v;
    if (q < 0 || !fc_domain_parse_value(json_string_value(json_object_get(sv, "value")), &v))
      continue;
    v *= scale(json_string_value(json_object_get(sv, "unit")));
    int p = phase_index(json_string_value(json_object_get(sv, "phase")));
    if (p == -1) {
      a.total[q] = v;
      a.has_total[q] = true;
    } else if (p >= 0) {
      a.phase[p][q] = v;
      a.has_phase[p][q] = true;
    } else {
      continue;
    }
    any = true;
  }
  if (!any) return NULL;

  json_t *out = json_object();
  json_t *phases = NULL;
  for (int q = 0; q < Q__N; q++) {
    double sum = 0;
    int n = 0;
    for (int p = 0; p < 3; p++) {
      if (!a.has_phase[p][q]) continue;
      sum += a.phase[p][q];
      n++;
      if (!phases) phases = json_object();
      static const char *const pn[3] = {"L1", "L2", "L3"};
      json_t *po = json_object_get(phases, pn[p]);
      if (!po) {
        po = json_object();
        json_object_set_new(phases, pn[p], po);
      }
      json_object_set_new(po, qname[q], json_real(a.phase[p][q]));
    }
    if (a.has_total[q]) {
      json_object_set_new(out, qname[q], json_real(a.total[q]));
    } else if (n) {
      /* Power and energy add up over phases; voltage and current do not. */
      double v = (q == Q_POWER || q == Q_ENERGY) ? sum : sum / n;
      json_object_set_new(out, qname[q], json_real(v));
    }
  }
  if (phases) json_object_set_new(out, "phases", phases);
  return out;
}
