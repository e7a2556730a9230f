/* Configuration: one table, one row per option (name, type, target, default,
 * bounds, help). Defaults, then the JSON config file, then FLASHCHARGE_*
 * environment variables, then command-line flags, each overriding the one
 * before. Validated as a whole, then handed out read-only. */
#ifndef FC_CONFIG_H
#define FC_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

typedef enum { FC_UNKNOWN_REJECT = 0, FC_UNKNOWN_PENDING, FC_UNKNOWN_ACCEPT } fc_unknown_policy_t;
typedef enum { FC_TAGS_INVALID = 0, FC_TAGS_ACCEPT } fc_tag_policy_t;

typedef struct fc_config {
  char *config_file;
  char *db;
  char *bind;
  int ocpp_port;
  int http_port;
  /* TLS (net/): both ports speak it when tls_cert and tls_key are set */
  char *tls_cert;
  char *tls_key;
  char *tls_client_ca; /* charger CA: Security Profile 3 */
  char *web_tls_cert;  /* NULL: tls_cert */
  char *web_tls_key;
  int ocpp_plain_port;    /* -1: none */
  int web_redirect_port;  /* -1: none */
  int unknown_chargers;   /* fc_unknown_policy_t */
  int unknown_tags;       /* fc_tag_policy_t */
  int heartbeat_interval; /* seconds, answered in BootNotification */
  int answer_timeout;     /* ms: every CALL answered within this */
  int command_timeout;    /* ms: how long a remote command waits for the charger */
  int max_frame;          /* bytes */
  int rate_limit;         /* calls per second per charger */
  int rate_burst;         /* its bucket's size: messages at once */
  int max_inflight;       /* calls of one charger being processed at once */
  int charger_state_max;  /* ids whose limiter state is kept (LRU beyond) */
  int unknown_max;        /* unknown chargers connected at once (pending/accept) */
  int unknown_rate;       /* unknown chargers' connections per minute */
  bool strict_fields;     /* refuse properties the schema does not name */
  int max_connectors;     /* highest connectorId accepted from a charger */
  int max_clock_skew;     /* s a charger's time stamp may run ahead before it orders nothing */
  bool frame_log;         /* keep the raw OCPP frame log */
  int frame_log_days;     /* and prune it past this age */
  int frame_log_budget;   /* bytes per charger per minute, then heads only */
  int frame_log_min_free; /* MiB free below which the frame log stops */
  int store_min_free;     /* MiB free below which the store refuses writes */
  int disk_check_ms;      /* between free-space checks */
  int event_days;         /* events past this age are pruned (not a key's latest) */
  int log_level;          /* fc_log_level_t */
  int log_format;         /* fc_log_format_t */
  char *fault_file;       /* test hook for the store */
  int store_batch_max;
  int store_retry_max;
  int store_breaker_threshold;
  int store_probe_interval; /* ms */
  int registry_refresh;     /* ms between registry change checks */
  int shutdown_timeout;     /* ms */
  /* UI WebSocket and REST */
  int jwt_alg; /* index in "HS256", "RS256", "ES256" */
  char *jwt_secret;
  char *jwt_secret_file;
  char *jwt_public_key;
  char *jwt_iss;
  char *jwt_aud;
  int jwt_leeway;
  int ui_ping_interval; /* s */
  int ui_queue_soft;    /* bytes */
  int ui_queue_hard;    /* bytes */
  int ui_max_rate;      /* frames per second per client */
  int ui_max_clients;
  int ui_max_per_ip;
  int ui_max_per_subject;
  int ui_max_subscriptions;             /* charger subscriptions per browser connection */
  int ui_max_subscriptions_per_subject; /* ... over all connections of one token subject */
  int ui_user_check;                    /* ms between checks for removed users / changed roles */
  char *web_root;
  int http_header_max; /* bytes of request line and headers (lws's header space) */
  char *metrics_token; /* NULL: /metrics is open */
  char *metrics_token_file;
  /* sign-in (POST /api/login) */
  int login_window; /* s */
  int login_max_per_user_ip;
  int login_max_per_ip;
  int login_max_per_user;
  int login_concurrency;
  int login_queue;
  /* Handshakes, both ports (net/guard.c), and charger logins (auth/throttle.c) */
  int handshake_timeout;      /* s */
  int handshake_max_per_ip;   /* connections not yet a WebSocket, per address and port */
  int handshake_rate;         /* new connections per minute per address and port */
  int handshake_burst;        /* bucket size of the above */
  int handshake_table_size;   /* entries per table of addresses / ids */
  int handshake_log_interval; /* s */
  int charger_hs_rate;        /* charger handshakes per second, every charger */
  int charger_hs_burst;       /* their bucket's size */
  int auth_fail_window;       /* s */
  int auth_fail_max;          /* per (charger id, address) */
  int auth_fail_max_ip;       /* per address */
  int auth_fail_max_id;       /* per charger id, for addresses that failed */
  /* The config file as parsed (NULL without one), for the modules that read
   * structured keys of their own ("models", "tariff"). Owned. */
  void *file_json;
} fc_config_t;

/* Which options a command accepts (a bit set over the table's groups). */
#define FC_OPT_SERVE 0x1u
#define FC_OPT_DB 0x2u
#define FC_OPT_TOKEN 0x4u

/* Fills *c with defaults. */
void fc_config_init(fc_config_t *c);
void fc_config_cleanup(fc_config_t *c);

/* Applies the config file (--config / FLASHCHARGE_CONFIG), the environment
 * and the flags in argv[0..argc) to *c, for the options in groups. Flags that
 * are not options are left in argv, compacted to *argc (positional arguments
 * and per-command flags). Returns 0, or FC_ERR_CONFIG after printing what is
 * wrong (file, line, option) to stderr. "--help" is left in argv. */
int fc_config_load(fc_config_t *c, unsigned groups, int *argc, char **argv);

/* Checks options that depend on each other (the TLS files, the ports that
 * need TLS). Returns 0, or FC_ERR_CONFIG after saying why on stderr. */
int fc_config_check(const fc_config_t *c);

/* Called by fc_config_reload for each option whose value changed: its name,
 * old and new value as text (secrets as "***"), and whether the change took
 * effect (else it waits for a restart). */
typedef void (*fc_config_change_cb)(const char *name, const char *was, const char *now,
                                    bool applied, void *arg);

/* SIGHUP: applies to live (the configuration the running server's modules
 * hold) the options of groups that fresh (loaded anew from the same
 * sources) changes and that take effect at once (log level, rate limits,
 * timeouts, policies); live's config-file JSON becomes fresh's (fresh gets
 * the old one: clean it up). Loop thread. Returns how many changed options
 * need a restart. */
int fc_config_reload(fc_config_t *live, fc_config_t *fresh, unsigned groups, fc_config_change_cb cb,
                     void *arg);

/* Prints the options of groups with their help text and defaults. */
void fc_config_usage(FILE *f, unsigned groups);

/* Writes the options of groups as a roff list (.TP entries: the flag, its
 * help, environment variable, config key, default and bounds), for the man
 * page generated at build time (tools/gen_man.c). */
void fc_config_man(FILE *f, unsigned groups);

#endif
