/* Shared by the bus's own files: the names of the events' data members and of
 * the snapshot's, spelled here once. events.c writes and reads events with
 * them; model.c writes the snapshot with them (a snapshot's connector holds
 * the events' data under the same names). */
#ifndef FC_BUS_INT_H
#define FC_BUS_INT_H

/* the snapshot */
#define F_ID "id"
#define F_ONLINE "online"
#define F_SEQ "seq"
#define F_LAST_SEEN "lastSeen"
#define F_CONNECTORS "connectors"
#define F_CONNECTOR_ID "connectorId"
#define F_STATUS_AT "statusAt"
#define F_METER "meter"
#define F_TRANSACTION "transaction"
#define F_LAST_TRANSACTION "lastTransaction"
#define F_PRECHARGE "precharge"
#define F_TS "ts"

/* status */
#define F_STATUS "status"
#define F_ERROR_CODE "errorCode"
#define F_INFO "info"
#define F_VENDOR_ID "vendorId"
#define F_VENDOR_ERROR_CODE "vendorErrorCode"
#define F_TIMESTAMP "timestamp"
#define F_LATE "late"
#define F_CLOCK_SKEW "clockSkew"

/* meter */
#define F_PHASES "phases"

/* transactions, energy, cost */
#define F_TRANSACTION_ID "transactionId"
#define F_ID_TAG "idTag"
#define F_ID_TAG_STATUS "idTagStatus"
#define F_STARTED_AT "startedAt"
#define F_METER_START "meterStart"
#define F_ENERGY_WH "energyWh"
#define F_METER_WH "meterWh"
#define F_TARGET_SOC "targetSoc"
#define F_METER_STOP "meterStop"
#define F_STOPPED_AT "stoppedAt"
#define F_REASON "reason"
#define F_MINUTES "minutes"
#define F_COST "cost"
#define F_CURRENCY "currency"
#define F_STOPPED_BY "stoppedBy"
#define F_SOC_AT_STOP "socAtStop"

/* precharge */
#define F_SOC "soc"
#define F_BATTERY_VOLTAGE "batteryVoltage"
#define F_BATTERY_CAPACITY_WH "batteryCapacityWh"
#define F_MODEL "model"
#define F_RANGE_KM "rangeKm"
#define F_SOURCE "source"

/* command */
#define F_COMMAND "command"
#define F_ACTION "action"
#define F_PARAMS "params"
#define F_BY "by"
#define F_SENT "sent"
#define F_RESULT "result"
#define F_ERROR "error"

/* The meter's quantities, in the order of fc_meter_q_t. */
extern const char *const fc_bus__meter_q_names[];
extern const char *const fc_bus__phase_names[];

#include "bus/events.h"

/* events.c: the members of each kind of data, written into o. The
 * snapshot's transaction, lastTransaction and precharge hold the same
 * members (model.c writes them with these). */
void fc_bus__meter_json(json_t *o, const fc_meter_vals_t *total, bool has_phases,
                        const fc_meter_vals_t *phase);
json_t *fc_bus__started_json(const fc_ev_tx_started_t *ev);
json_t *fc_bus__stopped_json(const fc_ev_tx_stopped_t *ev);
json_t *fc_bus__precharge_json(const fc_ev_precharge_t *ev);
/* Sets o[k] to v unless v is NULL / NAN. */
void fc_bus__set_str(json_t *o, const char *k, const char *v);
void fc_bus__set_num(json_t *o, const char *k, double v);

#endif
