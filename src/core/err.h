/* flashcharge error codes.
 *
 * Functions return int: 0 on success, negative on failure. System and I/O
 * errors pass through as UV_E* values (negated errno); the project's own codes
 * come from the table below and start below -20000, clear of libuv's range. */
#ifndef FC_CORE_ERR_H
#define FC_CORE_ERR_H

#define FC_ERR_MAP(XX)                                                                             \
  XX(PROTO, -20001, "malformed OCPP-J frame")                                                      \
  XX(SCHEMA, -20002, "payload violates action schema")                                             \
  XX(NOTIMPL, -20003, "action not implemented")                                                    \
  XX(BUSY, -20004, "a CALL to this charger is outstanding")                                        \
  XX(NOTFOUND, -20005, "no such record")                                                           \
  XX(EXISTS, -20006, "record already exists")                                                      \
  XX(STORE, -20007, "storage write failed")                                                        \
  XX(STORE_DOWN, -20008, "storage unavailable (circuit breaker open)")                             \
  XX(TIMEOUT, -20009, "timed out")                                                                 \
  XX(CONFIG, -20010, "invalid configuration")                                                      \
  XX(TOOBIG, -20011, "size over the configured limit")                                             \
  XX(AUTH, -20012, "authentication failed")                                                        \
  XX(OFFLINE, -20013, "charger is not connected")                                                  \
  XX(SHUTDOWN, -20014, "shutting down")                                                            \
  XX(INVAL, -20015, "invalid argument")                                                            \
  XX(NOANSWER, -20016, "call sent, connection closed before the answer")

typedef enum {
#define FC_ERR_ENUM(name, code, msg) FC_ERR_##name = (code),
  FC_ERR_MAP(FC_ERR_ENUM)
#undef FC_ERR_ENUM
} fc_err_t;

/* A static, human-readable description of err (ours, or libuv's). Never NULL. */
const char *fc_strerror(int err);
/* A static symbolic name of err ("FC_ERR_STORE", "ENOENT"…). Never NULL. */
const char *fc_err_name(int err);

#endif
