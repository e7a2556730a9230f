/* flashcharge charger|tag add|list|remove: registry administration on the
 * database file, synchronously (a running server picks changes up within its
 * registry refresh period). */
#include "cli/cli_int.h"

#include "auth/auth.h"
#include "config/config.h"
#include "core/err.h"
#include "core/datetime.h"
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

int fc_cli__wants_help(int argc, char **argv)
{
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) return 1;
  return 0;
}

const char *fc_cli__take_opt(int *argc, char **argv, const char *name)
{
  for (int i = 1; i < *argc; i++) {
    size_t n = strlen(name);
    const char *v = NULL;
    int used = 0;
    if (!strcmp(argv[i], name) && i + 1 < *argc) {
      v = argv[i + 1];
      used = 2;
    } else if (!strncmp(argv[i], name, n) && argv[i][n] == '=') {
      v = argv[i] + n + 1;
      used = 1;
    }
    if (v) {
      memmove(&argv[i], &argv[i + used], (size_t)(*argc - i - used + 1) * sizeof(char *));
      *argc -= used;
      return v;
    }
  }
  return NULL;
}

static int open_db(fc_config_t *cfg, int *argc, char **argv, fc_store_admin_t **a)
{
  fc_config_init(cfg);
  if (fc_config_load(cfg, FC_OPT_DB, argc, argv) < 0) return 2;
  int rc = fc_store_admin_open(cfg->db, a);
  if (rc < 0) {
    fprintf(stderr, "flashcharge: cannot open %s: %s\n", cfg->db, fc_strerror(rc));
    return 1;
  }
  return 0;
}

static int leftover(int argc, char **argv, int want)
{
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--", 2)) {
      fprintf(stderr, "flashcharge: unknown option '%s'\n", argv[i]);
      return 1;
    }
  }
  if (argc - 1 != want) {
    fprintf(stderr, "flashcharge: expected %d argument%s, got %d\n", want, want == 1 ? "" : "s",
            argc - 1);
    return 1;
  }
  return 0;
}

/* ---- charger ---- */

static void charger_usage(FILE *f)
{
  fprintf(f,
          "usage:\n"
          "  flashcharge charger add ID [--password P] [--registration Accepted|Pending|Rejected]\n"
          "                            [--profile 1|2|3|default]\n"
          "  flashcharge charger list\n"
          "  flashcharge charger remove ID\n\n"
          "ID is the chargeBoxId. --password sets the charger's AuthorizationKey (OCPP\n"
          "Security Profile 1, HTTP Basic auth), 16 to 64 bytes; it is stored as a salted\n"
          "HMAC-SHA-256.\n"
          "Without it, the charger connects without credentials. 'add' on an existing\n"
          "charger updates it. FLASHCHARGE_CHARGER_PASSWORD may carry the password\n"
          "instead of the command line.\n"
          "--profile sets the charger's OCPP security profile: 1 plain ws:// with Basic\n"
          "auth, 2 TLS with Basic auth, 3 TLS with a client certificate whose CN is the\n"
          "id; default (not set): 1 when the server runs without TLS, 2 with it. A charger\n"
          "at 2 or 3 is refused on plain ws://, at 3 without a valid client certificate.\n\n"
          "options:\n");
  fc_config_usage(f, FC_OPT_DB);
}

static void print_charger(const fc_charger_rec_t *r, int online, long long last_seen_ms, void *arg)
{
  int *count = arg;
  char when[32] = "-";
  if (last_seen_ms > 0) {
    time_t t = (time_t)(last_seen_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  char prof[8] = "default";
  if (r->profile) snprintf(prof, sizeof(prof), "%d", r->profile);
  printf("%-24s %-9s %-8s %-7s %-7s %s\n", r->id, r->registration, r->auth ? "password" : "none",
         prof, online ? "online" : "offline", when);
  (*count)++;
}

static int valid_id(const char *id)
{
  size_t n = strlen(id);
  if (n == 0 || n > 48) return 0;
  for (size_t i = 0; i < n; i++)
    if ((unsigned char)id[i] <= 0x20 || (unsigned char)id[i] >= 0x7f || id[i] == '/') return 0;
  return 1;
}

int fc_cli__charger(int argc, char **argv)
{
  fc_config_t cfg;
  fc_store_admin_t *a = NULL;
  int rc = 1;

  if (argc < 2 || fc_cli__wants_help(argc, argv)) {
    charger_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *verb = argv[1];
  argc--;
  argv++;
  const char *password = fc_cli__take_opt(&argc, argv, "--password");
  const char *reg = fc_cli__take_opt(&argc, argv, "--registration");
  const char *profile = fc_cli__take_opt(&argc, argv, "--profile");
  if (!password) password = getenv("FLASHCHARGE_CHARGER_PASSWORD");
  if ((rc = open_db(&cfg, &argc, argv, &a)) != 0) goto out;
  rc = 1;

  if (!strcmp(verb, "add")) {
    if (leftover(argc, argv, 1)) goto out;
    const char *id = argv[1];
    if (!valid_id(id)) {
      fprintf(stderr,
              "flashcharge: '%s' is not a valid chargeBoxId (1-48 printable characters, no '/')\n",
              id);
      goto out;
    }
    if (reg && strcmp(reg, "Accepted") && strcmp(reg, "Pending") && strcmp(reg, "Rejected")) {
      fprintf(stderr, "flashcharge: --registration must be Accepted, Pending or Rejected\n");
      goto out;
    }
    int prof = -1; /* not given: an existing charger keeps its profile */
    if (profile) {
      if (!strcmp(profile, "default"))
        prof = 0;
      else if (profile[0] >= '1' && profile[0] <= '3' && !profile[1])
        prof = profile[0] - '0';
      else {
        fprintf(stderr, "flashcharge: --profile must be 1, 2, 3 or default\n");
        goto out;
      }
    }
    char hash[FC_AUTH_HASH_MAX];
    if (password) {
      if (fc_auth_init() < 0 ||
          fc_auth_key_hash(password, strlen(password), hash, sizeof(hash)) < 0) {
        fprintf(stderr,
                "flashcharge: the password (AuthorizationKey) must be %d to %d bytes: the OCPP "
                "1.6 security whitepaper asks for 16 at least\n",
                FC_AUTH_KEY_MIN, FC_AUTH_KEY_MAX);
        goto out;
      }
    }
    int e = fc_store_admin_charger_put(a, id, password ? hash : NULL, reg ? reg : "Accepted");
    if (e == 0 && prof >= 0) e = fc_store_admin_charger_profile(a, id, prof);
    if (e < 0) {
      fprintf(stderr, "flashcharge: %s\n", fc_strerror(e));
      goto out;
    }
    printf("charger %s: %s, %s%s%s\n", id, reg ? reg : "Accepted",
           password ? "password set" : "no password", profile ? ", profile " : "",
           profile ? profile : "");
    rc = 0;
  } else if (!strcmp(verb, "list")) {
    if (leftover(argc, argv, 0)) goto out;
    int count = 0;
    printf("%-24s %-9s %-8s %-7s %-7s %s\n", "ID", "REG", "AUTH", "PROFILE", "STATE", "LAST SEEN");
    if (fc_store_admin_charger_list(a, print_charger, &count) < 0) goto out;
    rc = 0;
  } else if (!strcmp(verb, "remove")) {
    if (leftover(argc, argv, 1)) goto out;
    int e = fc_store_admin_charger_remove(a, argv[1]);
    if (e == FC_ERR_NOTFOUND) {
      fprintf(stderr, "flashcharge: no charger '%s'\n", argv[1]);
      goto out;
    }
    if (e < 0) {
      fprintf(stderr, "flashcharge: %s\n", fc_strerror(e));
      goto out;
    }
    printf("charger %s removed\n", argv[1]);
    rc = 0;
  } else {
    fprintf(stderr, "flashcharge charger: unknown verb '%s'\n", verb);
    charger_usage(stderr);
    rc = 2;
  }
out:
  if (a) fc_store_admin_close(a);
  fc_config_cleanup(&cfg);
  return rc;
}

/* ---- tag ---- */

static void tag_usage(FILE *f)
{
  fprintf(f, "usage:\n"
             "  flashcharge tag add TAG [--status Accepted|Blocked|Expired|Invalid]\n"
             "                          [--expiry 2027-01-01T00:00:00Z] [--parent TAG]\n"
             "  flashcharge tag list\n"
             "  flashcharge tag remove TAG\n\n"
             "TAG is an OCPP idTag (up to 20 characters). 'add' on an existing tag updates it.\n\n"
             "options:\n");
  fc_config_usage(f, FC_OPT_DB);
}

static void print_tag(const fc_tag_rec_t *t, void *arg)
{
  (void)arg;
  char when[32] = "-";
  if (t->expiry_ms > 0) {
    time_t tt = (time_t)(t->expiry_ms / 1000);
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  printf("%-20s %-9s %-20s %s\n", t->id_tag, t->status, when, t->parent[0] ? t->parent : "-");
}

int fc_cli__tag(int argc, char **argv)
{
  fc_config_t cfg;
  fc_store_admin_t *a = NULL;
  int rc = 1;

  if (argc < 2 || fc_cli__wants_help(argc, argv)) {
    tag_usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *verb = argv[1];
  argc--;
  argv++;
  const char *status = fc_cli__take_opt(&argc, argv, "--status");
  const char *expiry = fc_cli__take_opt(&argc, argv, "--expiry");
  const char *parent = fc_cli__take_opt(&argc, argv, "--parent");
  if ((rc = open_db(&cfg, &argc, argv, &a)) != 0) goto out;
  rc = 1;

  if (!strcmp(verb, "add")) {
    if (leftover(argc, argv, 1)) goto out;
    fc_tag_rec_t t;
    memset(&t, 0, sizeof(t));
    if (strlen(argv[1]) == 0 || strlen(argv[1]) > 20) {
      fprintf(stderr, "flashcharge: an idTag has 1 to 20 characters\n");
      goto out;
    }
    snprintf(t.id_tag, sizeof(t.id_tag), "%s", argv[1]);
    status = status ? status : "Accepted";
    if (strcmp(status, "Accepted") && strcmp(status, "Blocked") && strcmp(status, "Expired") &&
        strcmp(status, "Invalid")) {
      fprintf(stderr, "flashcharge: --status must be Accepted, Blocked, Expired or Invalid\n");
      goto out;
    }
    snprintf(t.status, sizeof(t.status), "%s", status);
    if (expiry && fc_datetime_parse(expiry, &t.expiry_ms) < 0) {
      fprintf(stderr, "flashcharge: --expiry must be a date-time such as 2027-01-01T00:00:00Z\n");
      goto out;
    }
    if (parent) {
      if (strlen(parent) > 20) {
        fprintf(stderr, "flashcharge: --parent has 1 to 20 characters\n");
        goto out;
      }
      snprintf(t.parent, sizeof(t.parent), "%s", parent);
    }
    int e = fc_store_admin_tag_put(a, &t);
    if (e < 0) {
      fprintf(stderr, "flashcharge: %s\n", fc_strerror(e));
      goto out;
    }
    printf("tag %s: %s\n", t.id_tag, t.status);
    rc = 0;
  } else if (!strcmp(verb, "list")) {
    if (leftover(argc, argv, 0)) goto out;
    printf("%-20s %-9s %-20s %s\n", "TAG", "STATUS", "EXPIRY", "PARENT");
    if (fc_store_admin_tag_list(a, print_tag, NULL) < 0) goto out;
    rc = 0;
  } else if (!strcmp(verb, "remove")) {
    if (leftover(argc, argv, 1)) goto out;
    int e = fc_store_admin_tag_remove(a, argv[1]);
    if (e == FC_ERR_NOTFOUND) {
      fprintf(stderr, "flashcharge: no tag '%s'\n", argv[1]);
      goto out;
    }
    if (e < 0) {
      fprintf(stderr, "flashcharge: %s\n", fc_strerror(e));
      goto out;
    }
    printf("tag %s removed\n", argv[1]);
    rc = 0;
  } else {
    fprintf(stderr, "flashcharge tag: unknown verb '%s'\n", verb);
    tag_usage(stderr);
    rc = 2;
  }
out:
  if (a) fc_store_admin_close(a);
  fc_config_cleanup(&cfg);
  return rc;
}
