/* flashCharge's rules on top of OCPP: what a meter reading means to a
 * driver (voltage, current, power, energy, state of charge), and later
 * PreChargeData, vehicle models and range, tariffs and cost.
 *
 * Pure functions on jansson values; loop thread or any thread. */
#ifndef FC_DOMAIN_H
#define FC_DOMAIN_H

#include <jansson.h>
#include <stdbool.h>

/* Summarises one OCPP meterValue ({timestamp, sampledValue:[…]}, borrowed)
 * into a new object with what a dashboard shows, each member present only
 * when the reading has it:
 *   voltage (V; the mean over phases when only per-phase values come),
 *   current (A; likewise the mean over phases), power (W; the sum over phases
 *   when only per-phase values come), energyWh (the import register, Wh),
 *   soc (%), and phases: {"L1":{"voltage":…,"current":…,"power":…},…} when
 *   per-phase values come.
 * kW, kWh and kvar units are converted. Values that are not numbers are
 * skipped. Returns NULL when nothing in it is a known measurand. */
json_t *fc_domain_meter_summary(const json_t *meter_value);

/* Parses an OCPP sampled value string ("11001.31") into *out. */
bool fc_domain_parse_value(const char *s, double *out);

#endif
