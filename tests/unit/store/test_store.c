/* The store on sqlite: every op's effect, group commit, a failing write
 * inside a batch, drain, reads, the admin API, migrations and the registry
 * version. Faults and the breaker are in test_store_fault.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "store_test_util.h"

#include "core/mem.h"
#include "store/store_int.h"

#define T1 "2026-11-26T10:00:00.000Z"
#define T2 "2026-11-26T10:00:05.000Z"
#define T0 "2026-11-26T09:59:55.000Z"

/* ---- time ---- */

static void test_parse_time(void **state)
{
  long long ms;
  assert_int_equal(fc_store__parse_time("1970-01-01T00:00:00Z", &ms), 0);
  assert_int_equal(ms, 0);
  assert_int_equal(fc_store__parse_time("2026-11-26T10:00:00.123Z", &ms), 0);
  assert_int_equal(ms, 1795687200123LL);
  assert_int_equal(fc_store__parse_time("2026-11-26T12:00:00.5+02:00", &ms), 0);
  assert_int_equal(ms, 1795687200500LL);
  assert_int_equal(fc_store__parse_time("2026-11-26T10:00:00.123456Z", &ms), 0);
  assert_int_equal(ms, 1795687200123LL);
  /* RFC 3339 wants the offset: a bare local time is not a time stamp */
  assert_int_not_equal(fc_store__parse_time("2026-11-26T10:00:00", &ms), 0);
  assert_int_equal(fc_store__parse_time("2024-02-29T00:00:00Z", &ms), 0);
  assert_int_equal(ms, 1709164800000LL);
  assert_int_not_equal(fc_store__parse_time("2026-13-01T00:00:00Z", &ms), 0);
  assert_int_not_equal(fc_store__parse_time("2026-11-26", &ms), 0);
  assert_int_not_equal(fc_store__parse_time("2026-11-26T10:00:00Zx", &ms), 0);
  assert_int_not_equal(fc_store__parse_time("", &ms), 0);
  assert_int_not_equal(fc_store__parse_time(NULL, &ms), 0);
}

/* ---- migrations ---- */

static void test_migrations(void **state)
{
  env_t *e = *state;
  char wal[80];
  assert_int_equal(env_open(e, NULL), 0);
  snprintf(wal, sizeof(wal), "%s-wal", e->path);
  assert_int_equal(access(wal, F_OK), 0); /* journal_mode=WAL */
  env_close_store(e);
  assert_string_equal(q1(e, "PRAGMA user_version"), FC_TEST_SCHEMA_VERSION);
  assert_int_equal(qint(e,
                        "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN"
                        " ('chargers','connectors','status_history','id_tags','transactions',"
                        "'meter_readings','data_transfers','frames','connections','probe','meta')"),
                   11);
  /* meter values one per row, as before 005, for people reading the file */
  assert_string_equal(q1(e, "SELECT type FROM sqlite_master WHERE name = 'meter_values'"), "view");
  /* reopening an existing database applies nothing again */
  assert_int_equal(env_open(e, NULL), 0);
  env_close_store(e);
  assert_string_equal(q1(e, "PRAGMA user_version"), FC_TEST_SCHEMA_VERSION);
  assert_string_equal(q1(e, "SELECT count(*), value FROM meta WHERE key = 'registry_version'"),
                      "1|1");
}

/* ---- ops ---- */

static void test_op_boot_seen_heartbeat(void **state)
{
  env_t *e = *state;
  wres_t r;
  assert_int_equal(env_open(e, NULL), 0);

  r = one(e, FC_OP_BOOT, "CP1",
          "{\"chargePointVendor\":\"Acme\",\"chargePointModel\":\"Pro\","
          "\"chargePointSerialNumber\":\"S1\",\"firmwareVersion\":\"1.2\",\"iccid\":\"I\","
          "\"imsi\":\"M\",\"meterType\":\"MT\",\"meterSerialNumber\":\"MS\","
          "\"chargeBoxSerialNumber\":\"CB\"}",
          "Pending");
  assert_int_equal(r.status, 0);
  assert_string_equal(q1(e, "SELECT registration, vendor, model, serial_number, charge_box_serial,"
                            " firmware_version, iccid, imsi, meter_type, meter_serial,"
                            " last_boot_at IS NOT NULL FROM chargers WHERE id = 'CP1'"),
                      "Pending|Acme|Pro|S1|CB|1.2|I|M|MT|MS|1");
  /* a second boot updates the details, not the registration */
  r = one(e, FC_OP_BOOT, "CP1", "{\"chargePointVendor\":\"Acme\",\"chargePointModel\":\"Max\"}",
          "Accepted");
  assert_int_equal(r.status, 0);
  assert_string_equal(q1(e, "SELECT registration, model, firmware_version FROM chargers"),
                      "Pending|Max|NULL");

  /* online on connection 5; the close of an older connection 4 changes
   * nothing; the close of 5 takes it offline */
  fc_write_t *w = fc_write_new();
  fc_op_t *op = add_op(w, FC_OP_CHARGER_SEEN, "CP1", NULL, NULL);
  op->seen.online = true;
  op->seen.conn_id = 5;
  assert_int_equal(submit_wait(e, w).status, 0);
  assert_string_equal(q1(e, "SELECT online, conn_id FROM chargers WHERE id = 'CP1'"), "1|5");
  w = fc_write_new();
  op = add_op(w, FC_OP_CHARGER_SEEN, "CP1", NULL, NULL);
  op->seen.conn_id = 4;
  assert_int_equal(submit_wait(e, w).status, 0);
  assert_string_equal(q1(e, "SELECT online FROM chargers WHERE id = 'CP1'"), "1");
  w = fc_write_new();
  op = add_op(w, FC_OP_CHARGER_SEEN, "CP1", NULL, NULL);
  op->seen.conn_id = 5;
  assert_int_equal(submit_wait(e, w).status, 0);
  assert_string_equal(q1(e, "SELECT online FROM chargers WHERE id = 'CP1'"), "0");
  assert_int_equal(qint(e, "SELECT count(*) FROM connections WHERE charger_id = 'CP1'"), 3);

  /* CHARGER_SEEN without text does not create a charger, online or offline
   * (a charger removed while connected is not brought back); the call is
   * still logged */
  w = fc_write_new();
  op = add_op(w, FC_OP_CHARGER_SEEN, "CPX", NULL, NULL);
  op->seen.online = true;
  op->seen.conn_id = 11;
  assert_int_equal(submit_wait(e, w).status, 0);
  w = fc_write_new();
  op = add_op(w, FC_OP_CHARGER_SEEN, "CPX", NULL, NULL);
  op->seen.conn_id = 11;
  assert_int_equal(submit_wait(e, w).status, 0);
  assert_int_equal(qint(e, "SELECT count(*) FROM chargers WHERE id = 'CPX'"), 0);
  assert_int_equal(qint(e, "SELECT count(*) FROM chargers"), 1);
  assert_string_equal(q1(e, "SELECT group_concat(online, ',') FROM (SELECT online FROM"
                            " connections WHERE charger_id = 'CPX' ORDER BY id)"),
                      "1,0");

  /* CHARGER_SEEN of an unknown charger creates it with text's registration */
  w = fc_write_new();
  op = add_op(w, FC_OP_CHARGER_SEEN, "CP2", NULL, "Rejected");
  op->seen.online = true;
  op->seen.conn_id = 9;
  assert_int_equal(submit_wait(e, w).status, 0);
  assert_string_equal(q1(e, "SELECT registration, online FROM chargers WHERE id = 'CP2'"),
                      "Rejected|1");
  /* with text, a known charger keeps its registration */
  w = fc_write_new();
  op = add_op(w, FC_OP_CHARGER_SEEN, "CP2", NULL, "Accepted");
  op->seen.online = true;
  op->seen.conn_id = 10;
  assert_int_equal(submit_wait(e, w).status, 0);
  assert_string_equal(q1(e, "SELECT registration, online, conn_id FROM chargers WHERE id = 'CP2'"),
                      "Rejected|1|10");

  w = fc_write_new();
  op = add_op(w, FC_OP_HEARTBEAT, "CP1", NULL, NULL);
  op->ts_ms = 1795687200000LL;
  assert_int_equal(submit_wait(e, w).status, 0);
  assert_string_equal(q1(e, "SELECT last_heartbeat_at FROM chargers WHERE id = 'CP1'"),
                      "1795687200000");
  /* a heartbeat of an unknown charger keeps its data: the charger is
   * created, but not approved (Pending) */
  assert_int_equal(one(e, FC_OP_HEARTBEAT, "CP3", NULL, NULL).status, 0);
  assert_string_equal(q1(e, "SELECT registration FROM chargers WHERE id = 'CP3'"), "Pending");
}

static void test_op_misc(void **state)
{
  env_t *e = *state;
  assert_int_equal(env_open(e, NULL), 0);

  assert_int_equal(one(e, FC_OP_FIRMWARE_STATUS, "CP1", NULL, "Downloading").status, 0);
  assert_int_equal(one(e, FC_OP_DIAGNOSTICS_STATUS, "CP1", NULL, "Uploaded").status, 0);
  assert_string_equal(q1(e, "SELECT firmware_status, diagnostics_status, firmware_status_at > 0"
                            " FROM chargers WHERE id = 'CP1'"),
                      "Downloading|Uploaded|1");
  /* a status op without its status fails */
  assert_int_equal(one(e, FC_OP_FIRMWARE_STATUS, "CP1", NULL, NULL).status, FC_ERR_STORE);

  assert_int_equal(one(e, FC_OP_DATA_TRANSFER, "CP1",
                       "{\"vendorId\":\"flashCharge\",\"messageId\":\"PreChargeData\","
                       "\"data\":\"{\\\"soc\\\":42}\"}",
                       "Accepted")
                       .status,
                   0);
  assert_int_equal(
      one(e, FC_OP_DATA_TRANSFER, "CP1", "{\"vendorId\":\"x\",\"data\":{\"a\":1}}", "Rejected")
          .status,
      0);
  qres_t q = query(e, "SELECT vendor_id, message_id, data, status FROM data_transfers ORDER BY id");
  assert_int_equal(q.rows, 2);
  assert_string_equal(q.first, "flashCharge|PreChargeData|{\"soc\":42}|Accepted");
  assert_string_equal(q1(e, "SELECT data, message_id FROM data_transfers WHERE id = 2"),
                      "{\"a\":1}|NULL");

  /* frames: in and out, text kept byte for byte */
  fc_write_t *w = fc_write_new();
  fc_op_t *op =
      fc_write_frame(w, "CP9", &(fc_op_frame_t){.text = "[2,\"a\",\"Heartbeat\",{}]xx", .len = 22});
  op->frame.inbound = true;
  op->frame.conn_id = 7;
  op = fc_write_frame(w, "CP9", &(fc_op_frame_t){.text = "[3,\"a\",{}]"});
  assert_int_equal(submit_wait(e, w).status, 0);
  q = query(e, "SELECT direction, conn_id, text FROM frames ORDER BY id");
  assert_int_equal(q.rows, 2);
  assert_string_equal(q.first, "in|7|[2,\"a\",\"Heartbeat\",{}]");
  assert_string_equal(q1(e, "SELECT direction, text FROM frames WHERE id = 2"), "out|[3,\"a\",{}]");
  /* frame logging alone does not invent a charger */
  assert_int_equal(qint(e, "SELECT count(*) FROM chargers WHERE id = 'CP9'"), 0);
}

/* Data ops keep their data for a charger without a row (one removed while
 * its messages were in flight): each creates the row, as Pending, never
 * Accepted. A known charger's registration is left as it is. */
static void test_data_creates_pending(void **state)
{
  env_t *e = *state;
  static const struct {
    const char *cp;
    fc_op_kind_t kind;
    const char *json, *text;
  } ops[] = {
      {"D_HB", FC_OP_HEARTBEAT, NULL, NULL},
      {"D_ST", FC_OP_STATUS,
       "{\"connectorId\":1,\"status\":\"Available\",\"errorCode\":\"NoError\"}", NULL},
      {"D_MV", FC_OP_METER,
       "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"" T1 "\","
       "\"sampledValue\":[{\"value\":\"1\"}]}]}",
       NULL},
      {"D_TS", FC_OP_TX_START,
       "{\"connectorId\":1,\"idTag\":\"T\",\"timestamp\":\"" T1 "\",\"meterStart\":0}", "Accepted"},
      {"D_TP", FC_OP_TX_STOP, "{\"transactionId\":42,\"timestamp\":\"" T2 "\",\"meterStop\":5}",
       NULL},
      {"D_DT", FC_OP_DATA_TRANSFER, "{\"vendorId\":\"x\"}", "Accepted"},
      {"D_FW", FC_OP_FIRMWARE_STATUS, NULL, "Installed"},
      {"D_DG", FC_OP_DIAGNOSTICS_STATUS, NULL, "Uploaded"},
  };
  char sql[128];
  assert_int_equal(env_open(e, NULL), 0);

  fc_store_admin_t *a;
  assert_int_equal(fc_store_admin_open(e->path, &a), 0);
  assert_int_equal(fc_store_admin_charger_put(a, "REG", NULL, "Accepted"), 0);
  fc_store_admin_close(a);

  for (size_t i = 0; i < FC_ARRAY_SIZE(ops); i++) {
    assert_int_equal(one(e, ops[i].kind, ops[i].cp, ops[i].json, ops[i].text).status, 0);
    snprintf(sql, sizeof(sql), "SELECT registration FROM chargers WHERE id = '%s'", ops[i].cp);
    assert_string_equal(q1(e, sql), "Pending");
    /* the same op for a registered charger changes nothing of its registration */
    assert_int_equal(one(e, ops[i].kind, "REG", ops[i].json, ops[i].text).status, 0);
    assert_string_equal(q1(e, "SELECT registration FROM chargers WHERE id = 'REG'"), "Accepted");
  }
  assert_int_equal(qint(e, "SELECT count(*) FROM chargers WHERE registration = 'Pending'"),
                   (long long)FC_ARRAY_SIZE(ops));
  assert_int_equal(qint(e, "SELECT count(*) FROM chargers"), (long long)FC_ARRAY_SIZE(ops) + 1);

  /* The writer remembers which chargers have a row; one the CLI removes
   * meanwhile is seen gone, and its data brings it back as Pending. */
  assert_int_equal(fc_store_admin_open(e->path, &a), 0);
  assert_int_equal(fc_store_admin_charger_remove(a, "REG"), 0);
  fc_store_admin_close(a);
  assert_int_equal(one(e, FC_OP_HEARTBEAT, "REG", NULL, NULL).status, 0);
  assert_string_equal(q1(e, "SELECT registration FROM chargers WHERE id = 'REG'"), "Pending");
}

static void test_op_status_stale(void **state)
{
  env_t *e = *state;
  wres_t r;
  assert_int_equal(env_open(e, NULL), 0);

  r = one(e, FC_OP_STATUS, "CP1",
          "{\"connectorId\":1,\"status\":\"Charging\",\"errorCode\":\"NoError\","
          "\"timestamp\":\"" T1 "\"}",
          NULL);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.outcome, FC_OUT_NEW);
  /* older: history only */
  r = one(e, FC_OP_STATUS, "CP1",
          "{\"connectorId\":1,\"status\":\"Preparing\",\"errorCode\":\"NoError\","
          "\"timestamp\":\"" T0 "\"}",
          NULL);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.outcome, FC_OUT_STALE);
  assert_string_equal(q1(e, "SELECT status, status_at FROM connectors WHERE charger_id = 'CP1'"
                            " AND connector_id = 1"),
                      "Charging|1795687200000");
  /* same time stamp is not older: it applies */
  r = one(e, FC_OP_STATUS, "CP1",
          "{\"connectorId\":1,\"status\":\"SuspendedEV\",\"errorCode\":\"NoError\","
          "\"info\":\"i\",\"vendorId\":\"v\",\"vendorErrorCode\":\"E1\",\"timestamp\":\"" T1 "\"}",
          NULL);
  assert_int_equal(r.outcome, FC_OUT_NEW);
  assert_string_equal(q1(e, "SELECT status, error_code, info, vendor_id, vendor_error_code"
                            " FROM connectors WHERE connector_id = 1"),
                      "SuspendedEV|NoError|i|v|E1");
  /* no time stamp: arrival time (now, later than T1) */
  r = one(e, FC_OP_STATUS, "CP1",
          "{\"connectorId\":1,\"status\":\"Available\",\"errorCode\":\"NoError\"}", NULL);
  assert_int_equal(r.outcome, FC_OUT_NEW);
  assert_string_equal(q1(e, "SELECT status FROM connectors WHERE connector_id = 1"), "Available");
  /* connector 0, a separate row */
  r = one(e, FC_OP_STATUS, "CP1",
          "{\"connectorId\":0,\"status\":\"Unavailable\",\"errorCode\":\"NoError\"}", NULL);
  assert_int_equal(qint(e, "SELECT count(*) FROM connectors"), 2);

  qres_t q = query(e, "SELECT group_concat(stale, ',') FROM (SELECT stale FROM status_history"
                      " ORDER BY id)");
  assert_string_equal(q.first, "0,1,0,0,0");
  assert_string_equal(q1(e, "SELECT status, status_at FROM status_history WHERE stale = 1"),
                      "Preparing|1795687195000");
  /* an op without its status fails its write */
  assert_int_equal(one(e, FC_OP_STATUS, "CP1", "{\"connectorId\":1}", NULL).status, FC_ERR_STORE);
}

static void test_op_meter(void **state)
{
  env_t *e = *state;
  const char *mv =
      "{\"connectorId\":1,\"transactionId\":7,\"meterValue\":[{\"timestamp\":\"" T1
      "\",\"sampledValue\":["
      "{\"value\":\"11001.31\"},"
      "{\"value\":\"7200\",\"measurand\":\"Power.Active.Import\",\"unit\":\"W\"},"
      "{\"value\":\"230.1\",\"measurand\":\"Voltage\",\"phase\":\"L1\",\"unit\":\"V\"},"
      "{\"value\":\"231.0\",\"measurand\":\"Voltage\",\"phase\":\"L2\",\"unit\":\"V\"},"
      "{\"value\":\"42\",\"measurand\":\"SoC\",\"context\":\"Sample.Clock\","
      "\"location\":\"EV\"},"
      "{\"value\":\"n/a\",\"measurand\":\"Temperature\",\"format\":\"SignedData\"}"
      "]}]}";
  assert_int_equal(env_open(e, NULL), 0);
  assert_int_equal(one(e, FC_OP_METER, "CP1", mv, NULL).status, 0);
  assert_int_equal(qint(e, "SELECT count(*) FROM meter_values"), 6);
  /* the OCPP 1.6 defaults */
  assert_string_equal(q1(e, "SELECT connector_id, transaction_id, ts, measurand, phase, unit,"
                            " context, location, format, value, value_num FROM meter_values"
                            " WHERE measurand LIKE 'Energy%'"),
                      "1|7|1795687200000|Energy.Active.Import.Register|NULL|Wh|Sample.Periodic|"
                      "Outlet|Raw|11001.31|11001.31");
  assert_string_equal(q1(e, "SELECT unit, context, location FROM meter_values"
                            " WHERE measurand = 'SoC'"),
                      "NULL|Sample.Clock|EV");
  assert_string_equal(q1(e, "SELECT value, value_num, format FROM meter_values"
                            " WHERE measurand = 'Temperature'"),
                      "n/a|NULL|SignedData");
  /* the same values again (a replay after reconnect) are stored once */
  assert_int_equal(one(e, FC_OP_METER, "CP1", mv, NULL).status, 0);
  assert_int_equal(qint(e, "SELECT count(*) FROM meter_values"), 6);
  /* another time stamp, or another connector: new rows; no transaction id: NULL */
  assert_int_equal(one(e, FC_OP_METER, "CP1",
                       "{\"connectorId\":2,\"meterValue\":[{\"timestamp\":\"" T1
                       "\",\"sampledValue\":[{\"value\":\"5\"}]},"
                       "{\"timestamp\":\"" T2 "\",\"sampledValue\":[{\"value\":\"6\"}]}]}",
                       NULL)
                       .status,
                   0);
  assert_int_equal(qint(e, "SELECT count(*) FROM meter_values"), 8);
  assert_string_equal(q1(e, "SELECT count(*) FROM meter_values WHERE connector_id = 2"
                            " AND transaction_id IS NULL"),
                      "2");
  /* malformed: the write fails, nothing of it stays */
  assert_int_equal(one(e, FC_OP_METER, "CP1",
                       "{\"connectorId\":3,\"meterValue\":[{\"timestamp\":\"" T1
                       "\",\"sampledValue\":[{\"value\":\"1\"},{\"unit\":\"W\"}]}]}",
                       NULL)
                       .status,
                   FC_ERR_STORE);
  assert_int_equal(qint(e, "SELECT count(*) FROM meter_values WHERE connector_id = 3"), 0);
}

/* Exactly once (005_meter_readings.sql): a resent reading adds nothing, even
 * spelt otherwise (members in another order, defaults written out); a
 * different reading with the same time stamp is kept. */
static void test_op_meter_dedupe(void **state)
{
  env_t *e = *state;
  const char *sent =
      "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"" T1
      "\",\"sampledValue\":[{\"value\":\"11001.31\"},"
      "{\"value\":\"7200\",\"measurand\":\"Power.Active.Import\",\"unit\":\"W\"}]}]}";
  assert_int_equal(env_open(e, NULL), 0);
  assert_int_equal(one(e, FC_OP_METER, "CP1", sent, NULL).status, 0);
  assert_int_equal(qint(e, "SELECT count(*) FROM meter_readings"), 1);
  assert_string_equal(q1(e, "SELECT connector_id, transaction_id, ts, sampled FROM meter_readings"),
                      "1|NULL|1795687200000|[{\"value\":\"11001.31\",\"context\":"
                      "\"Sample.Periodic\",\"format\":\"Raw\",\"measurand\":"
                      "\"Energy.Active.Import.Register\",\"location\":\"Outlet\",\"unit\":\"Wh\"},"
                      "{\"value\":\"7200\",\"context\":\"Sample.Periodic\",\"format\":\"Raw\","
                      "\"measurand\":\"Power.Active.Import\",\"location\":\"Outlet\",\"unit\":"
                      "\"W\"}]");
  /* the writer's digest of the typed reading is the migration's of its text */
  assert_string_equal(q1(e, "SELECT digest = fc_sampled_digest(sampled) FROM meter_readings"), "1");
  /* the same message again (a retry whose answer was lost) */
  assert_int_equal(one(e, FC_OP_METER, "CP1", sent, NULL).status, 0);
  /* the same reading, spelt otherwise */
  assert_int_equal(one(e, FC_OP_METER, "CP1",
                       "{\"connectorId\":1,\"meterValue\":[{\"sampledValue\":["
                       "{\"measurand\":\"Energy.Active.Import.Register\",\"value\":\"11001.31\","
                       "\"unit\":\"Wh\",\"context\":\"Sample.Periodic\",\"format\":\"Raw\","
                       "\"location\":\"Outlet\"},"
                       "{\"unit\":\"W\",\"measurand\":\"Power.Active.Import\",\"value\":\"7200\"}],"
                       "\"timestamp\":\"" T1 "\"}]}",
                       NULL)
                       .status,
                   0);
  assert_int_equal(qint(e, "SELECT count(*) FROM meter_readings"), 1);
  assert_int_equal(qint(e, "SELECT count(*) FROM meter_values"), 2);
  /* a different reading at the same time: another value, another order of the
   * same values, another connector, another charger */
  const char *other[] = {
      "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"" T1 "\",\"sampledValue\":["
      "{\"value\":\"11001.32\"},"
      "{\"value\":\"7200\",\"measurand\":\"Power.Active.Import\",\"unit\":\"W\"}]}]}",
      "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"" T1 "\",\"sampledValue\":["
      "{\"value\":\"7200\",\"measurand\":\"Power.Active.Import\",\"unit\":\"W\"},"
      "{\"value\":\"11001.31\"}]}]}",
      "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"" T1 "\",\"sampledValue\":["
      "{\"value\":\"11001.31\",\"phase\":\"L1\"},"
      "{\"value\":\"7200\",\"measurand\":\"Power.Active.Import\",\"unit\":\"W\"}]}]}",
      "{\"connectorId\":2,\"meterValue\":[{\"timestamp\":\"" T1 "\",\"sampledValue\":["
      "{\"value\":\"11001.31\"},"
      "{\"value\":\"7200\",\"measurand\":\"Power.Active.Import\",\"unit\":\"W\"}]}]}",
  };
  for (size_t i = 0; i < FC_ARRAY_SIZE(other); i++)
    assert_int_equal(one(e, FC_OP_METER, "CP1", other[i], NULL).status, 0);
  assert_int_equal(one(e, FC_OP_METER, "CP2", sent, NULL).status, 0);
  assert_int_equal(qint(e, "SELECT count(*) FROM meter_readings"), 6);
  assert_int_equal(qint(e, "SELECT count(DISTINCT digest) FROM meter_readings"), 4);
  /* and each of them once */
  for (size_t i = 0; i < FC_ARRAY_SIZE(other); i++)
    assert_int_equal(one(e, FC_OP_METER, "CP1", other[i], NULL).status, 0);
  assert_int_equal(qint(e, "SELECT count(*) FROM meter_readings"), 6);
  /* an empty reading stores nothing; a value that is not a string fails */
  assert_int_equal(one(e, FC_OP_METER, "CP1",
                       "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"" T2
                       "\",\"sampledValue\":[]}]}",
                       NULL)
                       .status,
                   0);
  assert_int_equal(one(e, FC_OP_METER, "CP1",
                       "{\"connectorId\":1,\"meterValue\":[{\"timestamp\":\"" T2
                       "\",\"sampledValue\":[{\"value\":5}]}]}",
                       NULL)
                       .status,
                   FC_ERR_STORE);
  assert_int_equal(qint(e, "SELECT count(*) FROM meter_readings"), 6);
}

static void test_op_transactions(void **state)
{
  env_t *e = *state;
  const char *start = "{\"connectorId\":1,\"idTag\":\"TAG1\",\"timestamp\":\"" T1
                      "\",\"meterStart\":1000,\"reservationId\":3}";
  wres_t r;
  assert_int_equal(env_open(e, NULL), 0);

  r = one(e, FC_OP_TX_START, "CP1", start, "Accepted");
  assert_int_equal(r.status, 0);
  assert_int_equal(r.outcome, FC_OUT_NEW);
  int64_t id = r.out_id;
  assert_int_equal(id, 1); /* the retried stop below uses it */
  /* a retry of the identical start: same id, flagged */
  r = one(e, FC_OP_TX_START, "CP1", start, "Accepted");
  assert_int_equal(r.status, 0);
  assert_int_equal(r.outcome, FC_OUT_REPEAT);
  assert_int_equal(r.out_id, id);
  assert_int_equal(qint(e, "SELECT count(*) FROM transactions"), 1);
  assert_string_equal(q1(e, "SELECT charger_id, connector_id, id_tag, start_at, meter_start,"
                            " reservation_id, id_tag_status, stop_at FROM transactions"),
                      "CP1|1|TAG1|1795687200000|1000|3|Accepted|NULL");
  /* another start (other meterStart) is another transaction */
  r = one(e, FC_OP_TX_START, "CP1",
          "{\"connectorId\":1,\"idTag\":\"TAG1\",\"timestamp\":\"" T1 "\",\"meterStart\":1001}",
          "Accepted");
  assert_int_equal(r.outcome, FC_OUT_NEW);
  assert_true(r.out_id != id);

  char stop[512];
  snprintf(stop, sizeof(stop),
           "{\"transactionId\":%lld,\"idTag\":\"TAG1\",\"timestamp\":\"" T2 "\",\"meterStop\":"
           "2500,\"reason\":\"Local\",\"transactionData\":[{\"timestamp\":\"" T2
           "\",\"sampledValue\":[{\"value\":\"2500\",\"context\":\"Transaction.End\"}]}]}",
           (long long)id);
  r = one(e, FC_OP_TX_STOP, "CP1", stop, NULL);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.outcome, FC_OUT_NEW);
  assert_int_equal(r.out_id, id);
  char sql[256];
  snprintf(sql, sizeof(sql),
           "SELECT stop_at, meter_stop, stop_reason, stop_id_tag FROM transactions WHERE id = %lld",
           (long long)id);
  assert_string_equal(q1(e, sql), "1795687205000|2500|Local|TAG1");
  snprintf(sql, sizeof(sql),
           "SELECT connector_id, context, value FROM meter_values WHERE transaction_id = %lld",
           (long long)id);
  assert_string_equal(q1(e, sql), "1|Transaction.End|2500");
  /* a retried stop: flagged 2, the first stays */
  r = one(e, FC_OP_TX_STOP, "CP1",
          "{\"transactionId\":1,\"timestamp\":\"" T2 "\",\"meterStop\":9999}", NULL);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.outcome, FC_OUT_REPEAT);
  snprintf(sql, sizeof(sql), "SELECT meter_stop FROM transactions WHERE id = %lld", (long long)id);
  assert_string_equal(q1(e, sql), "2500");
  /* a stop for a transaction never seen is stored anyway, under its id */
  r = one(e, FC_OP_TX_STOP, "CP1",
          "{\"transactionId\":4242,\"timestamp\":\"" T2 "\",\"meterStop\":77}", NULL);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.outcome, FC_OUT_UNKNOWN_TX);
  assert_int_equal(r.out_id, 4242);
  assert_string_equal(q1(e, "SELECT charger_id, start_at, meter_stop FROM transactions"
                            " WHERE id = 4242"),
                      "CP1|NULL|77");
  /* the same id from another charger: not its transaction, a new row */
  r = one(e, FC_OP_TX_STOP, "CP2",
          "{\"transactionId\":4242,\"timestamp\":\"" T2 "\",\"meterStop\":1}", NULL);
  assert_int_equal(r.outcome, FC_OUT_UNKNOWN_TX);
  assert_true(r.out_id != 4242);
  assert_int_equal(qint(e, "SELECT count(*) FROM transactions WHERE charger_id = 'CP2'"), 1);
}

/* ---- the typed ops, built as the handlers build them ---- */

#define T1_MS 1795687200000LL

static wres_t one_op(env_t *e, fc_write_t *w)
{
  return submit_wait(e, w);
}

/* STATUS: a repeat (own time stamp, every field the same) is FC_OUT_REPEAT
 * and stores nothing; without a time stamp it cannot be told from a new one;
 * an older one is FC_OUT_STALE. */
static void test_typed_status(void **state)
{
  env_t *e = *state;
  assert_int_equal(env_open(e, NULL), 0);
  fc_op_status_t st = {.connector = 2,
                       .status = "Faulted",
                       .error_code = "GroundFailure",
                       .vendor_error_code = "E7",
                       .at_ms = T1_MS,
                       .has_ts = true};
  fc_write_t *w = fc_write_new();
  fc_write_status(w, "CP1", &st);
  assert_int_equal(one_op(e, w).outcome, FC_OUT_NEW);
  w = fc_write_new();
  fc_write_status(w, "CP1", &st);
  wres_t r = one_op(e, w);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.outcome, FC_OUT_REPEAT);
  assert_int_equal(qint(e, "SELECT count(*) FROM status_history"), 1);
  /* another field differs: not a repeat */
  st.info = "i";
  w = fc_write_new();
  fc_write_status(w, "CP1", &st);
  assert_int_equal(one_op(e, w).outcome, FC_OUT_NEW);
  assert_string_equal(q1(e, "SELECT connector_id, status, error_code, info, vendor_id,"
                            " vendor_error_code, status_at FROM connectors"),
                      "2|Faulted|GroundFailure|i|NULL|E7|1795687200000");
  /* older: FC_OUT_STALE, history only */
  st.at_ms = T1_MS - 1;
  w = fc_write_new();
  fc_write_status(w, "CP1", &st);
  assert_int_equal(one_op(e, w).outcome, FC_OUT_STALE);
  /* no time stamp of its own: stored each time */
  st.has_ts = false;
  st.at_ms = T1_MS + 1;
  for (int i = 0; i < 2; i++) {
    w = fc_write_new();
    fc_write_status(w, "CP1", &st);
    assert_int_equal(one_op(e, w).outcome, FC_OUT_NEW);
  }
  assert_int_equal(qint(e, "SELECT count(*) FROM status_history"), 5);
}

/* METER: readings typed, the arguments copied (changed after the
 * constructor, they change nothing); a resent reading is FC_OUT_REPEAT, so
 * is an op without readings. */
static void test_typed_meter(void **state)
{
  env_t *e = *state;
  assert_int_equal(env_open(e, NULL), 0);
  char value[16] = "42.5";
  fc_op_sampled_t sv[2] = {{.value = value, .num = 42.5, .measurand = "SoC", .unit = "Percent"},
                           {.value = "7200", .num = 7200, .measurand = "Power.Active.Import"}};
  fc_op_sampled_defaults(&sv[0]);
  fc_op_sampled_defaults(&sv[1]);
  assert_string_equal(sv[1].context, "Sample.Periodic");
  assert_null(sv[1].unit); /* no default for a power */
  assert_null(sv[1].phase);
  fc_op_reading_t rd = {.ts_ms = T1_MS, .n = 2, .sampled = sv};
  fc_op_meter_t m = {.connector = 1, .tx_id = 9, .readings = {.n = 1, .v = &rd}};
  fc_write_t *w = fc_write_new();
  fc_write_meter(w, "CP1", &m);
  strcpy(value, "99"); /* the op has its own copy */
  assert_int_equal(one_op(e, w).outcome, FC_OUT_NEW);
  assert_string_equal(q1(e, "SELECT connector_id, transaction_id, ts, value, measurand, unit"
                            " FROM meter_values WHERE measurand = 'SoC'"),
                      "1|9|1795687200000|42.5|SoC|Percent");
  strcpy(value, "42.5");
  w = fc_write_new();
  fc_write_meter(w, "CP1", &m);
  assert_int_equal(one_op(e, w).outcome, FC_OUT_REPEAT);
  w = fc_write_new();
  fc_write_meter(w, "CP1", &(fc_op_meter_t){.connector = 1});
  assert_int_equal(one_op(e, w).outcome, FC_OUT_REPEAT);
  /* tx_id 0: no transaction */
  rd.ts_ms++;
  m.tx_id = 0;
  w = fc_write_new();
  fc_write_meter(w, "CP1", &m);
  assert_int_equal(one_op(e, w).outcome, FC_OUT_NEW);
  assert_int_equal(qint(e, "SELECT count(*) FROM meter_readings WHERE transaction_id IS NULL"), 1);
  /* a sampled value without its value fails the write */
  sv[1].value = NULL;
  w = fc_write_new();
  fc_write_meter(w, "CP1", &m);
  assert_int_equal(one_op(e, w).status, FC_ERR_STORE);
}

/* TX_START / TX_STOP with the final cost as a double and a currency: a
 * retried stop keeps the first stop and its cost; an unknown one is
 * FC_OUT_UNKNOWN_TX; transactionData goes with the transaction. */
static void test_typed_transaction_cost(void **state)
{
  env_t *e = *state;
  assert_int_equal(env_open(e, NULL), 0);
  fc_op_tx_start_t start = {.connector = 1,
                            .id_tag = "TAG1",
                            .id_tag_status = "Accepted",
                            .at_ms = T1_MS,
                            .meter_start = 1000};
  fc_write_t *w = fc_write_new();
  fc_write_tx_start(w, "CP1", &start);
  wres_t r = one_op(e, w);
  assert_int_equal(r.outcome, FC_OUT_NEW);
  int64_t id = r.out_id;
  w = fc_write_new();
  fc_write_tx_start(w, "CP1", &start);
  r = one_op(e, w);
  assert_int_equal(r.outcome, FC_OUT_REPEAT);
  assert_int_equal(r.out_id, id);
  assert_string_equal(q1(e, "SELECT reservation_id FROM transactions"), "NULL");

  fc_op_sampled_t end = {.value = "2500", .num = 2500, .context = "Transaction.End"};
  fc_op_sampled_defaults(&end);
  fc_op_reading_t rd = {.ts_ms = T1_MS + 5000, .n = 1, .sampled = &end};
  fc_op_tx_stop_t stop = {.tx_id = id,
                          .at_ms = T1_MS + 5000,
                          .meter_stop = 2500,
                          .reason = "EVDisconnected",
                          .has_cost = true,
                          .cost = 0.4575,
                          .currency = "EUR",
                          .transaction_data = {.n = 1, .v = &rd}};
  w = fc_write_new();
  fc_write_tx_stop(w, "CP1", &stop);
  r = one_op(e, w);
  assert_int_equal(r.status, 0);
  assert_int_equal(r.outcome, FC_OUT_NEW);
  assert_int_equal(r.out_id, id);
  char sql[256];
  snprintf(sql, sizeof(sql),
           "SELECT stop_at, meter_stop, stop_reason, stop_id_tag, cost, currency FROM"
           " transactions WHERE id = %lld",
           (long long)id);
  assert_string_equal(q1(e, sql), "1795687205000|2500|EVDisconnected|NULL|0.4575|EUR");
  snprintf(sql, sizeof(sql),
           "SELECT connector_id, context, value FROM meter_values WHERE transaction_id = %lld",
           (long long)id);
  assert_string_equal(q1(e, sql), "1|Transaction.End|2500");
  /* the retry, with another cost: the first stop and its cost stay */
  stop.cost = 9.99;
  stop.meter_stop = 9999;
  w = fc_write_new();
  fc_write_tx_stop(w, "CP1", &stop);
  r = one_op(e, w);
  assert_int_equal(r.outcome, FC_OUT_REPEAT);
  assert_int_equal(r.out_id, id);
  snprintf(sql, sizeof(sql), "SELECT meter_stop, cost FROM transactions WHERE id = %lld",
           (long long)id);
  assert_string_equal(q1(e, sql), "2500|0.4575");
  assert_int_equal(qint(e, "SELECT count(*) FROM meter_readings"), 1);
  /* a stop without a cost (its start was never seen here): no cost */
  w = fc_write_new();
  fc_write_tx_stop(w, "CP1", &(fc_op_tx_stop_t){.tx_id = 777, .at_ms = T1_MS, .meter_stop = 5});
  r = one_op(e, w);
  assert_int_equal(r.outcome, FC_OUT_UNKNOWN_TX);
  assert_int_equal(r.out_id, 777);
  assert_string_equal(q1(e, "SELECT cost, currency, connector_id FROM transactions WHERE id = 777"),
                      "NULL|NULL|0");
}

/* COMMAND: typed fields, its JSON values stored as compact text; FRAME_LOG's
 * text up to len, or to an embedded NUL; strings longer than an op's first
 * chunk of arena. */
static void test_typed_command_frame(void **state)
{
  env_t *e = *state;
  assert_int_equal(env_open(e, NULL), 0);
  json_t *params = json_pack("{s:i, s:s}", "connectorId", 1, "idTag", "T1");
  json_t *result = json_pack("{s:s}", "status", "Accepted");
  fc_write_t *w = fc_write_new();
  fc_write_heartbeat(w, "CP1");
  fc_write_command(w, "CP1",
                   &(fc_op_command_t){.command = "remoteStart",
                                      .action = "RemoteStartTransaction",
                                      .status = "Accepted",
                                      .by = "alice",
                                      .requested_ms = T1_MS},
                   params, result, json_null());
  json_decref(params);
  json_decref(result);
  assert_int_equal(one_op(e, w).status, 0);
  assert_string_equal(q1(e, "SELECT command, action, params, status, result, error, by_sub,"
                            " requested_at, finished_at >= requested_at FROM commands"),
                      "remoteStart|RemoteStartTransaction|{\"connectorId\":1,\"idTag\":\"T1\"}|"
                      "Accepted|{\"status\":\"Accepted\"}|NULL|alice|1795687200000|1");

  char big[3000];
  memset(big, 'x', sizeof(big) - 1);
  big[sizeof(big) - 1] = '\0';
  w = fc_write_new();
  fc_write_frame(w, "CP1", &(fc_op_frame_t){.text = "ab\0cd", .len = 5, .conn_id = 3});
  fc_write_frame(w, "CP1", &(fc_op_frame_t){.text = big, .len = 10, .inbound = true});
  fc_write_frame(w, "CP1", &(fc_op_frame_t){.text = big});
  fc_write_boot(w, "CP1", &(fc_op_boot_t){.vendor = big, .model = big, .imsi = "1"});
  assert_int_equal(one_op(e, w).status, 0);
  assert_string_equal(q1(e, "SELECT direction, conn_id, text FROM frames ORDER BY id"), "out|3|ab");
  assert_int_equal(qint(e, "SELECT sum(length(text)) FROM frames"), 2 + 10 + 2999);
  assert_string_equal(q1(e, "SELECT length(vendor), length(model), imsi, registration"
                            " FROM chargers"),
                      "2999|2999|1|Pending");
}

/* ---- group commit ---- */

#define N_GROUP 1000

typedef struct order {
  int next;
  int bad;
  int failed;
} order_t;

static order_t g_order;

static void order_cb(fc_write_t *w, int status, void *arg)
{
  int i = (int)(intptr_t)arg;
  if (i != g_order.next) g_order.bad++;
  if (status) g_order.failed++;
  g_order.next++;
}

static void test_group_commit(void **state)
{
  env_t *e = *state;
  fc_store_stats_t st;
  assert_int_equal(env_open(e, NULL), 0);
  memset(&g_order, 0, sizeof(g_order));
  for (int i = 0; i < N_GROUP; i++) {
    fc_write_t *w = fc_write_new();
    char text[64];
    snprintf(text, sizeof(text), "[2,\"%d\",\"Heartbeat\",{}]", i);
    fc_op_t *op = fc_write_frame(w, "CP1", &(fc_op_frame_t){.text = text});
    op->frame.inbound = true;
    assert_int_equal(fc_store_submit(e->s, w, order_cb, (void *)(intptr_t)i), 0);
  }
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(g_order.next, N_GROUP);
  assert_int_equal(g_order.bad, 0);
  assert_int_equal(g_order.failed, 0);
  fc_store_stats(e->s, &st);
  assert_int_equal(st.writes_ok, N_GROUP);
  assert_int_equal(st.writes_failed, 0);
  assert_int_equal(st.queue_depth, 0);
  assert_true(st.commits >= 1);
  assert_true(st.commits < N_GROUP);
  uint64_t hist = 0;
  for (int i = 0; i < 12; i++)
    hist += st.commit_us_hist[i];
  assert_int_equal(hist, st.commits);
  /* every commit is synced before it is confirmed; one sync may cover several */
  assert_true(st.syncs >= 1);
  assert_true(st.syncs <= st.commits);
  hist = 0;
  for (int i = 0; i < 12; i++)
    hist += st.sync_us_hist[i];
  assert_int_equal(hist, st.syncs);
  assert_int_equal(qint(e, "SELECT count(*) FROM frames"), N_GROUP);
  /* commit order = submission order */
  assert_string_equal(q1(e, "SELECT text FROM frames ORDER BY id DESC LIMIT 1"),
                      "[2,\"999\",\"Heartbeat\",{}]");
  print_message("group commit: %d writes in %llu commits, %llu syncs\n", N_GROUP,
                (unsigned long long)st.commits, (unsigned long long)st.syncs);
}

/* A lazy write starts no commit of its own: alone, it is committed after
 * FC_STORE_LAZY_MS; followed by a write that is not lazy, with it, in one
 * commit and in order; at once when a drain asks. */
static void test_lazy_writes(void **state)
{
  env_t *e = *state;
  fc_store_stats_t st0, st1;
  wres_t r[3] = {{0}};
  assert_int_equal(env_open(e, NULL), 0);

  fc_write_t *w = fc_write_new();
  add_op(w, FC_OP_FRAME_LOG, "CP1", NULL, "[3,\"a\",{}]");
  fc_write_set_lazy(w);
  uint64_t t0 = uv_hrtime();
  r[0] = submit_wait(e, w);
  uint64_t ms = (uv_hrtime() - t0) / 1000000;
  assert_int_equal(r[0].status, 0);
  assert_true(ms >= FC_STORE_LAZY_MS - 5);
  assert_true(ms < FC_STORE_LAZY_MS * 20);

  /* lazy, then urgent: one commit, both, in order, at once */
  memset(r, 0, sizeof(r));
  fc_store_stats(e->s, &st0);
  w = fc_write_new();
  add_op(w, FC_OP_FRAME_LOG, "CP1", NULL, "[3,\"b\",{}]");
  fc_write_set_lazy(w);
  assert_int_equal(fc_store_submit(e->s, w, wres_cb, &r[0]), 0);
  w = fc_write_new();
  add_op(w, FC_OP_HEARTBEAT, "CP1", NULL, NULL);
  t0 = uv_hrtime();
  assert_int_equal(fc_store_submit(e->s, w, wres_cb, &r[1]), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(r[0].done + r[1].done, 2);
  assert_true(r[0].seq < r[1].seq);
  fc_store_stats(e->s, &st1);
  assert_int_equal(st1.commits - st0.commits, 1);

  /* a drain does not wait for a lazy write's time */
  memset(r, 0, sizeof(r));
  w = fc_write_new();
  add_op(w, FC_OP_FRAME_LOG, "CP1", NULL, "[3,\"c\",{}]");
  fc_write_set_lazy(w);
  assert_int_equal(fc_store_submit(e->s, w, wres_cb, &r[2]), 0);
  int drained = 0;
  t0 = uv_hrtime();
  fc_store_drain(e->s, set_flag_cb, &drained);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  ms = (uv_hrtime() - t0) / 1000000;
  assert_int_equal(drained, 1);
  assert_int_equal(r[2].done, 1);
  assert_int_equal(r[2].status, 0);
  assert_true(ms < FC_STORE_LAZY_MS);
  fc_store_close(e->s);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  e->s = NULL;
  assert_string_equal(q1(e, "SELECT group_concat(text, ' ') FROM (SELECT text FROM frames"
                            " ORDER BY id)"),
                      "[3,\"a\",{}] [3,\"b\",{}] [3,\"c\",{}]");
}

/* One bad write inside a batch fails alone; its partial work is rolled back. */
static void test_failing_write_alone(void **state)
{
  env_t *e = *state;
  fc_store_opts_t o = {.fault_file = e->fault};
  wres_t r[4] = {{0}};
  fc_store_stats_t st;
  assert_int_equal(env_open(e, &o), 0);

  /* A slow disk makes the writer busy with write 0 while 1..3 queue up, so
   * that 1..3 go into one batch. */
  write_file(e->fault, "stall 40");
  uv_sleep(60);
  for (int i = 0; i < 4; i++) {
    fc_write_t *w = fc_write_new();
    char cp[8];
    snprintf(cp, sizeof(cp), "W%d", i);
    add_op(w, FC_OP_HEARTBEAT, cp, NULL, NULL);
    if (i == 2) add_op(w, (fc_op_kind_t)999, cp, NULL, NULL); /* fails */
    assert_int_equal(fc_store_submit(e->s, w, wres_cb, &r[i]), 0);
    if (i == 0) uv_sleep(20); /* let the writer take write 0 alone */
  }
  uv_run(&e->loop, UV_RUN_DEFAULT);
  unlink(e->fault);
  for (int i = 0; i < 4; i++)
    assert_int_equal(r[i].done, 1);
  assert_int_equal(r[0].status, 0);
  assert_int_equal(r[1].status, 0);
  assert_int_equal(r[2].status, FC_ERR_STORE);
  assert_int_equal(r[3].status, 0);
  fc_store_stats(e->s, &st);
  assert_int_equal(st.commits, 2);
  assert_int_equal(st.writes_ok, 3);
  assert_int_equal(st.writes_failed, 1);
  assert_int_equal(st.commit_failures, 0);
  /* W2's heartbeat (which created its charger) was rolled back */
  assert_string_equal(q1(e, "SELECT group_concat(id, ',') FROM (SELECT id FROM chargers"
                            " ORDER BY id)"),
                      "W0,W1,W3");
}

/* ---- drain and close ---- */

static int g_drain_seen;
static int g_cb_count;

static void count_cb(fc_write_t *w, int status, void *arg)
{
  if (status == 0) g_cb_count++;
}

static void drain_count_cb(void *arg)
{
  g_drain_seen = g_cb_count;
  *(int *)arg = 1;
}

static void unused_read_cb(fc_read_t *r, int status, void *arg)
{
  fail_msg("read callback after FC_ERR_SHUTDOWN");
}

static void test_drain(void **state)
{
  env_t *e = *state;
  int drained = 0;
  assert_int_equal(env_open(e, NULL), 0);
  g_cb_count = 0;
  g_drain_seen = -1;
  for (int i = 0; i < 300; i++) {
    fc_write_t *w = fc_write_new();
    fc_write_frame(w, "CP1", &(fc_op_frame_t){.text = "x", .len = 1});
    assert_int_equal(fc_store_submit(e->s, w, count_cb, NULL), 0);
  }
  fc_store_drain(e->s, drain_count_cb, &drained);
  /* no new writes nor reads once draining */
  fc_write_t *w = fc_write_new();
  assert_int_equal(fc_store_submit(e->s, w, count_cb, NULL), FC_ERR_SHUTDOWN);
  fc_write_free(w);
  assert_int_equal(fc_store_read(e->s, fc_read_new(FC_READ_CHARGERS, NULL), unused_read_cb, NULL),
                   FC_ERR_SHUTDOWN);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(drained, 1);
  assert_int_equal(g_drain_seen, 300);
  fc_store_close(e->s);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  e->s = NULL;
  assert_int_equal(qint(e, "SELECT count(*) FROM frames"), 300);
}

static void any_cb(fc_write_t *w, int status, void *arg)
{
  int *n = arg;
  if (status == 0 || status == FC_ERR_SHUTDOWN) (*n)++;
}

/* Closing without a drain still runs every callback once. */
static void test_close_without_drain(void **state)
{
  env_t *e = *state;
  int n = 0;
  assert_int_equal(env_open(e, NULL), 0);
  for (int i = 0; i < 100; i++) {
    fc_write_t *w = fc_write_new();
    fc_write_heartbeat(w, "CP1");
    assert_int_equal(fc_store_submit(e->s, w, any_cb, &n), 0);
  }
  fc_store_close(e->s);
  e->s = NULL;
  assert_int_equal(n, 100);
  uv_run(&e->loop, UV_RUN_DEFAULT);
}

/* ---- reads ---- */

typedef struct rres {
  int done;
  int status;
  size_t count;
  char first_id[49];
  char first_auth[64];
  fc_tag_rec_t tag;
  int64_t i64;
} rres_t;

static void rres_cb(fc_read_t *r, int status, void *arg)
{
  rres_t *x = arg;
  x->done++;
  x->status = status;
  x->count = r->out_count;
  if (r->out_count) {
    snprintf(x->first_id, sizeof(x->first_id), "%s", r->out_chargers[0].id);
    snprintf(x->first_auth, sizeof(x->first_auth), "%s",
             r->out_chargers[0].auth ? r->out_chargers[0].auth : "(null)");
  }
  x->tag = r->out_tag;
  x->i64 = r->out_i64;
}

static rres_t read_wait(env_t *e, fc_read_kind_t kind, const char *key)
{
  rres_t x = {0};
  assert_int_equal(fc_store_read(e->s, fc_read_new(kind, key), rres_cb, &x), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  assert_int_equal(x.done, 1);
  return x;
}

static void test_reads(void **state)
{
  env_t *e = *state;
  fc_store_admin_t *a;
  fc_tag_rec_t tag = {
      .id_tag = "TAG1", .status = "Blocked", .expiry_ms = 1795687200000LL, .parent = "PARENT"};
  rres_t x;

  assert_int_equal(env_open(e, NULL), 0);
  assert_int_equal(fc_store_admin_open(e->path, &a), 0);
  assert_int_equal(fc_store_admin_charger_put(a, "CPB", NULL, "Pending"), 0);
  assert_int_equal(fc_store_admin_charger_put(a, "CPA", "hash-a", NULL), 0);
  assert_int_equal(fc_store_admin_tag_put(a, &tag), 0);
  fc_store_admin_close(a);

  x = read_wait(e, FC_READ_CHARGERS, NULL);
  assert_int_equal(x.status, 0);
  assert_int_equal(x.count, 2);
  assert_string_equal(x.first_id, "CPA");
  assert_string_equal(x.first_auth, "hash-a");

  x = read_wait(e, FC_READ_TAG, "TAG1");
  assert_int_equal(x.status, 0);
  assert_string_equal(x.tag.id_tag, "TAG1");
  assert_string_equal(x.tag.status, "Blocked");
  assert_int_equal(x.tag.expiry_ms, 1795687200000LL);
  assert_string_equal(x.tag.parent, "PARENT");
  x = read_wait(e, FC_READ_TAG, "NOPE");
  assert_int_equal(x.status, FC_ERR_NOTFOUND);

  x = read_wait(e, FC_READ_REGISTRY_VERSION, NULL);
  assert_int_equal(x.status, 0);
  assert_int_equal(x.i64, 3); /* 1 + two inserts */

  /* many reads at once, over the reader threads */
  rres_t many[50] = {{0}};
  for (int i = 0; i < 50; i++)
    assert_int_equal(fc_store_read(e->s, fc_read_new(FC_READ_TAG, "TAG1"), rres_cb, &many[i]), 0);
  uv_run(&e->loop, UV_RUN_DEFAULT);
  for (int i = 0; i < 50; i++) {
    assert_int_equal(many[i].done, 1);
    assert_int_equal(many[i].status, 0);
  }

  fc_charger_rec_t *recs;
  size_t n;
  assert_int_equal(fc_store_load_chargers(e->s, &recs, &n), 0);
  assert_int_equal(n, 2);
  assert_string_equal(recs[1].id, "CPB");
  assert_string_equal(recs[1].registration, "Pending");
  assert_null(recs[1].auth);
  fc_charger_recs_free(recs, n);
}

/* ---- admin ---- */

static int g_list_n;
static char g_list[256];

static void charger_list_cb(const fc_charger_rec_t *rec, int online, long long last_seen_ms,
                            void *arg)
{
  size_t len = strlen(g_list);
  snprintf(g_list + len, sizeof(g_list) - len, "%s%s:%s:%s:%d", g_list_n++ ? "," : "", rec->id,
           rec->registration, rec->auth ? rec->auth : "-", online);
}

static void tag_list_cb(const fc_tag_rec_t *t, void *arg)
{
  size_t len = strlen(g_list);
  snprintf(g_list + len, sizeof(g_list) - len, "%s%s:%s:%lld:%s", g_list_n++ ? "," : "", t->id_tag,
           t->status, t->expiry_ms, t->parent);
}

static void test_admin(void **state)
{
  env_t *e = *state;
  fc_store_admin_t *a;
  assert_int_equal(fc_store_admin_open(e->path, &a), 0);

  assert_int_equal(fc_store_admin_charger_put(a, "CP1", "h1", "Accepted"), 0);
  assert_int_equal(fc_store_admin_charger_put(a, "CP2", NULL, "Rejected"), 0);
  assert_int_equal(fc_store_admin_charger_put(a, "CP2", "h2", "Pending"), 0); /* update */
  assert_int_equal(fc_store_admin_charger_put(a, "CP3", NULL, "Bogus"), FC_ERR_INVAL);
  assert_int_equal(fc_store_admin_charger_put(a, "", NULL, NULL), FC_ERR_INVAL);
  g_list_n = 0;
  g_list[0] = '\0';
  assert_int_equal(fc_store_admin_charger_list(a, charger_list_cb, NULL), 0);
  assert_string_equal(g_list, "CP1:Accepted:h1:0,CP2:Pending:h2:0");
  assert_int_equal(fc_store_admin_charger_remove(a, "CP1"), 0);
  assert_int_equal(fc_store_admin_charger_remove(a, "CP1"), FC_ERR_NOTFOUND);

  fc_tag_rec_t t1 = {.id_tag = "T1"},
               t2 = {.id_tag = "T2", .status = "Expired", .expiry_ms = 5, .parent = "T1"};
  assert_int_equal(fc_store_admin_tag_put(a, &t1), 0);
  assert_int_equal(fc_store_admin_tag_put(a, &t2), 0);
  g_list_n = 0;
  g_list[0] = '\0';
  assert_int_equal(fc_store_admin_tag_list(a, tag_list_cb, NULL), 0);
  assert_string_equal(g_list, "T1:Accepted:0:,T2:Expired:5:T1");
  assert_int_equal(fc_store_admin_tag_remove(a, "T2"), 0);
  assert_int_equal(fc_store_admin_tag_remove(a, "T2"), FC_ERR_NOTFOUND);

  /* the query is read-only */
  assert_int_equal(fc_store_admin_query(a, "DELETE FROM id_tags", NULL, NULL), FC_ERR_INVAL);
  assert_int_equal(fc_store_admin_query(a, "SELECT nonsense FROM", NULL, NULL), FC_ERR_INVAL);
  qres_t q = {0};
  assert_int_equal(fc_store_admin_query(a, "SELECT id_tag FROM id_tags; SELECT 2", q_cb, &q), 0);
  assert_int_equal(q.rows, 2);
  assert_string_equal(q.first, "T1");
  fc_store_admin_close(a);
}

/* The server polls registry_version to learn about changes made by the CLI. */
static void test_registry_version(void **state)
{
  env_t *e = *state;
  fc_store_admin_t *a;
  const char *v = "SELECT value FROM meta WHERE key = 'registry_version'";
  assert_int_equal(env_open(e, NULL), 0);
  assert_int_equal(qint(e, v), 1);
  assert_int_equal(fc_store_admin_open(e->path, &a), 0);
  assert_int_equal(fc_store_admin_charger_put(a, "CP1", NULL, NULL), 0);
  assert_int_equal(qint(e, v), 2); /* inserted */
  assert_int_equal(fc_store_admin_charger_put(a, "CP1", NULL, "Accepted"), 0);
  assert_int_equal(qint(e, v), 2); /* nothing changed */
  assert_int_equal(fc_store_admin_charger_put(a, "CP1", NULL, "Rejected"), 0);
  assert_int_equal(qint(e, v), 3); /* registration */
  assert_int_equal(fc_store_admin_charger_put(a, "CP1", "h", "Rejected"), 0);
  assert_int_equal(qint(e, v), 4); /* credentials */

  /* the server's own writes: a boot or heartbeat of a known charger does
   * not bump it, a charger seen for the first time does */
  assert_int_equal(one(e, FC_OP_BOOT, "CP1", "{\"chargePointVendor\":\"A\"}", "Accepted").status,
                   0);
  assert_int_equal(one(e, FC_OP_HEARTBEAT, "CP1", NULL, NULL).status, 0);
  assert_int_equal(qint(e, v), 4);
  /* nor does a connection or an event of a charger without a row: they
   * create none */
  fc_write_t *w = fc_write_new();
  fc_op_t *op = add_op(w, FC_OP_CHARGER_SEEN, "GONE", NULL, NULL);
  op->seen.online = true;
  add_op(w, FC_OP_EVENT, "GONE", "{}", "charger.online");
  assert_int_equal(submit_wait(e, w).status, 0);
  assert_int_equal(qint(e, "SELECT count(*) FROM chargers WHERE id = 'GONE'"), 0);
  assert_int_equal(qint(e, v), 4);
  assert_int_equal(one(e, FC_OP_HEARTBEAT, "NEW", NULL, NULL).status, 0);
  assert_int_equal(qint(e, v), 5);
  rres_t x = read_wait(e, FC_READ_REGISTRY_VERSION, NULL);
  assert_int_equal(x.i64, 5);

  assert_int_equal(fc_store_admin_charger_remove(a, "NEW"), 0);
  assert_int_equal(qint(e, v), 6); /* deleted */
  fc_store_admin_close(a);
}

/* What a killed process left online: those chargers, with their last
 * connection and their last sign of life; the largest connection id. A
 * backup of the database holds the same. */
typedef struct left {
  char ids[4][16];
  int64_t conn[4];
  long long since[4];
  int n;
} left_t;

static void left_cb(const char *charger, int64_t conn_id, long long since_ms, void *arg)
{
  left_t *l = arg;
  assert_true(l->n < 4);
  snprintf(l->ids[l->n], sizeof(l->ids[0]), "%s", charger);
  l->conn[l->n] = conn_id;
  l->since[l->n++] = since_ms;
}

static void test_left_online_and_backup(void **state)
{
  env_t *e = *state;
  left_t l = {0};
  int64_t max = -1;
  char copy[80], p[96];
  assert_int_equal(env_open(e, NULL), 0);
  assert_int_equal(fc_store_load_left_online(e->s, left_cb, &l, &max), 0);
  assert_int_equal(l.n, 0);
  assert_int_equal(max, 0);

  const char *ids[] = {"CP1", "CP2", "CP3"};
  for (int i = 0; i < 3; i++) {
    fc_write_t *w = fc_write_new();
    fc_write_seen(w, ids[i],
                  &(fc_op_seen_t){.online = true, .conn_id = 10 + i, .registration = "Accepted"})
        ->ts_ms = 1000 + i;
    assert_int_equal(submit_wait(e, w).status, 0);
  }
  /* CP2 went offline; CP3 sent a heartbeat later */
  fc_write_t *w = fc_write_new();
  fc_write_seen(w, "CP2", &(fc_op_seen_t){.online = false, .conn_id = 11})->ts_ms = 2000;
  fc_write_heartbeat(w, "CP3")->ts_ms = 5000;
  assert_int_equal(submit_wait(e, w).status, 0);

  assert_int_equal(fc_store_load_left_online(e->s, left_cb, &l, &max), 0);
  assert_int_equal(l.n, 2);
  assert_string_equal(l.ids[0], "CP1");
  assert_int_equal(l.conn[0], 10);
  assert_int_equal(l.since[0], 5000); /* the last sign of the process: CP3's heartbeat */
  assert_string_equal(l.ids[1], "CP3");
  assert_int_equal(l.conn[1], 12);
  assert_int_equal(l.since[1], 5000);
  assert_int_equal(max, 12);

  /* a backup taken while the store is open holds the same */
  snprintf(copy, sizeof(copy), "%s.bak", e->path);
  unlink(copy);
  assert_int_equal(fc_store_backup(e->path, copy, NULL, NULL), 0);
  assert_int_equal(fc_store_backup(e->path, copy, NULL, NULL), UV_EEXIST);
  snprintf(p, sizeof(p), "%s.partial", copy);
  assert_int_not_equal(access(p, F_OK), 0);
  env_close_store(e);
  fc_store_admin_t *a;
  qres_t q = {0};
  assert_int_equal(fc_store_admin_open(copy, &a), 0);
  assert_int_equal(
      fc_store_admin_query(a, "SELECT group_concat(id) FROM chargers WHERE online = 1", q_cb, &q),
      0);
  assert_string_equal(q.first, "CP1,CP3");
  fc_store_admin_close(a);
  unlink(copy);
  snprintf(p, sizeof(p), "%s-wal", copy);
  unlink(p);
  snprintf(p, sizeof(p), "%s-shm", copy);
  unlink(p);
}

int main(void)
{
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_time),
      cmocka_unit_test_setup_teardown(test_migrations, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_op_boot_seen_heartbeat, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_op_misc, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_data_creates_pending, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_op_status_stale, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_op_meter, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_op_meter_dedupe, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_op_transactions, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_typed_status, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_typed_meter, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_typed_transaction_cost, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_typed_command_frame, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_group_commit, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_lazy_writes, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_failing_write_alone, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_drain, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_close_without_drain, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_reads, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_admin, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_registry_version, env_setup, env_teardown),
      cmocka_unit_test_setup_teardown(test_left_online_and_backup, env_setup, env_teardown),
  };
  fc_log_level = FC_LOG_ERROR; /* the failure tests log a lot on purpose */
  return cmocka_run_group_tests(tests, NULL, NULL);
}
