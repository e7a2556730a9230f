/* OCPP-J RPC codec and OCPP 1.6 payload validation.
 *
 * Internal to ocpp/ (and its tests and fuzzers): the rest of flashcharge sees
 * ocpp.h only. Pure functions on jansson values; no I/O, no global state but
 * the parsed schema table, which fc_ocpp__validate_init() builds once at
 * start-up (not thread-safe; call it before any other thread runs). */
#ifndef FC_OCPP_RPC_H
#define FC_OCPP_RPC_H

#include "core/datetime.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* OCPP-J message type numbers. */
typedef enum {
  FC_MSG_CALL = 2,
  FC_MSG_RESULT = 3,
  FC_MSG_ERROR = 4,
} fc_msg_type_t;

/* The CALLERROR codes of OCPP-J 1.6 (section 4.2.3). FC_OCPP_OK means none. */
#define FC_OCPP_CODE_MAP(XX)                                                                       \
  XX(OK, "")                                                                                       \
  XX(NOT_IMPLEMENTED, "NotImplemented")                                                            \
  XX(NOT_SUPPORTED, "NotSupported")                                                                \
  XX(INTERNAL_ERROR, "InternalError")                                                              \
  XX(PROTOCOL_ERROR, "ProtocolError")                                                              \
  XX(SECURITY_ERROR, "SecurityError")                                                              \
  XX(FORMATION_VIOLATION, "FormationViolation")                                                    \
  XX(PROPERTY_CONSTRAINT_VIOLATION, "PropertyConstraintViolation")                                 \
  XX(OCCURENCE_CONSTRAINT_VIOLATION, "OccurenceConstraintViolation")                               \
  XX(TYPE_CONSTRAINT_VIOLATION, "TypeConstraintViolation")                                         \
  XX(GENERIC_ERROR, "GenericError")

typedef enum {
#define XX(name, str) FC_OCPP_##name,
  FC_OCPP_CODE_MAP(XX)
#undef XX
} fc_ocpp_code_t;

/* The wire name of a code ("FormationViolation"); "" for FC_OCPP_OK. */
const char *fc_ocpp__code_name(fc_ocpp_code_t code);

/* Why a frame or payload was refused: the code to answer with and a short
 * description for the CALLERROR's errorDescription (no secrets in it). */
typedef struct fc_ocpp_verr {
  fc_ocpp_code_t code;
  char desc[192];
} fc_ocpp_verr_t;

/* A decoded OCPP-J frame. All pointers are borrowed from root, which the frame
 * owns; fc_ocpp__frame_cleanup() releases it. */
typedef struct fc_frame {
  fc_msg_type_t type;
  const char *id;       /* uniqueId: an opaque string, at most 36 characters */
  const char *action;   /* CALL only */
  json_t *payload;      /* CALL and CALLRESULT: the payload (an object for CALL) */
  const char *err_code; /* CALLERROR only */
  const char *err_desc; /* CALLERROR only */
  json_t *err_details;  /* CALLERROR only (an object) */
  json_t *root;         /* owns the decoded JSON */
} fc_frame_t;

/* Decodes one text frame of len bytes (not NUL-terminated).
 *
 * Returns 0 and fills *f; or FC_ERR_PROTO and fills *err (FormationViolation
 * or ProtocolError, with a description). On FC_ERR_PROTO, *id_out is set to
 * the message's uniqueId when one could be read (borrowed from *f's root, which
 * is still released by fc_ocpp__frame_cleanup), else to NULL; the caller
 * answers a CALL-shaped frame with a CALLERROR under that id ("-1" when none),
 * and ignores broken CALLRESULT/CALLERROR frames. *f is always safe to clean up. */
int fc_ocpp__frame_parse(const char *buf, size_t len, fc_frame_t *f, const char **id_out,
                         fc_ocpp_verr_t *err);
void fc_ocpp__frame_cleanup(fc_frame_t *f);

/* Secrets in a frame, for the frame log (which must never hold one): the
 * value of a configuration key named AuthorizationKey or BasicAuthPassword
 * (any case) in a ChangeConfiguration CALL, either way, and in a CALLRESULT's
 * "configurationKey" list (a GetConfiguration answer) becomes null with
 * "masked":true beside it, as the REST answer has it. A frame that names
 * such a key but is not JSON is replaced by FC_FRAME_WITHHELD.
 *
 * Returns NULL when text (len bytes) holds nothing to mask (the common case,
 * found by a scan for the key names: no parse); else the text to log
 * instead (caller frees with free()) and its length in *out_len. */
char *fc_ocpp__frame_mask(const char *text, size_t len, size_t *out_len);
#define FC_FRAME_WITHHELD "[frame withheld: not JSON, and it names a secret configuration key]"

/* Encoders. Each returns a NUL-terminated compact JSON string (caller frees
 * with free()) and its length in *len. payload/details are borrowed; NULL
 * payload is encoded as {}. */
char *fc_ocpp__encode_call(const char *id, const char *action, json_t *payload, size_t *len);
char *fc_ocpp__encode_result(const char *id, json_t *payload, size_t *len);
char *fc_ocpp__encode_error(const char *id, fc_ocpp_code_t code, const char *desc, json_t *details,
                            size_t *len);

/* Validation against the OCPP 1.6 JSON schemas (schemas/ocpp16/, embedded at
 * build time). */
int fc_ocpp__validate_init(void); /* 0, or FC_ERR_CONFIG if a schema fails to load */
void fc_ocpp__validate_cleanup(void);

#define FC_VALIDATE_ALLOW_EXTRA 0x1u /* properties the schema does not name are ignored */

/* Validates payload (borrowed) as the request of action (response=false) or
 * its confirmation (response=true).
 * Returns 0 if valid; FC_ERR_SCHEMA with *err filled if not; FC_ERR_NOTIMPL if
 * there is no schema for the action (unknown action). */
int fc_ocpp__validate(const char *action, bool response, const json_t *payload, unsigned flags,
                      fc_ocpp_verr_t *err);

/* Reads an integer that passed validation: a JSON integer, or a real with no
 * fractional part (5.0), which the validator accepts where the schema says
 * "integer" but which json_integer_value() would read as 0. v is borrowed.
 * Returns false (and leaves *out alone) for anything else. */
bool fc_ocpp__int_value(const json_t *v, long long *out);

/* Date-times: core/datetime.h. */

#endif
