/* flashcharge user add|list|remove: the people who sign in to the web UI.
 *
 * The password is hashed here (argon2id, auth/users.c) and only the hash is
 * stored. It comes from --password, else FLASHCHARGE_USER_PASSWORD, else the
 * terminal (asked twice, without echo); a command line is visible to other
 * users of the machine, so the prompt is the better way. */
#include "cli/cli_int.h"

#include "auth/auth.h"
#include "auth/jwt.h"
#include "config/config.h"
#include "core/err.h"
#include "store/store.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static void usage(FILE *f)
{
  fprintf(f,
          "usage:\n"
          "  flashcharge user add NAME --role viewer|operator|admin [--password P]\n"
          "  flashcharge user list\n"
          "  flashcharge user remove NAME\n\n"
          "Users sign in to the web UI (POST /api/login) with their name and password;\n"
          "the token they get carries their role. 'add' on an existing user sets a new\n"
          "password and role. Without --password (or FLASHCHARGE_USER_PASSWORD) the\n"
          "password is asked on the terminal. Passwords have %d to %d bytes and are\n"
          "stored as argon2id hashes.\n\n"
          "options:\n",
          FC_AUTH_PASSWORD_MIN, FC_AUTH_PASSWORD_MAX);
  fc_config_usage(f, FC_OPT_DB);
}

/* Reads one line from the terminal without echo. 0, or -1 without a terminal. */
static int ask(const char *prompt, char *buf, size_t n)
{
  FILE *tty = fopen("/dev/tty", "r+");
  if (!tty) return -1;
  struct termios old, quiet;
  int fd = fileno(tty);
  bool echo_off = tcgetattr(fd, &old) == 0;
  if (echo_off) {
    quiet = old;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(fd, TCSAFLUSH, &quiet);
  }
  fputs(prompt, tty);
  fflush(tty);
  char *got = fgets(buf, (int)n, tty);
  if (echo_off) tcsetattr(fd, TCSAFLUSH, &old);
  fputs("\n", tty);
  fclose(tty);
  if (!got) return -1;
  buf[strcspn(buf, "\r\n")] = '\0';
  return 0;
}

static void print_user(const fc_user_rec_t *u, void *arg)
{
  (void)arg;
  char when[32] = "-";
  if (u->created_ms > 0) {
    time_t t = (time_t)(u->created_ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
  }
  printf("%-32s %-9s %s\n", u->name, u->role, when);
}

static int add(fc_store_admin_t *a, const char *name, const char *role, const char *password)
{
  char typed[FC_AUTH_PASSWORD_MAX + 2], again[FC_AUTH_PASSWORD_MAX + 2];
  char hash[FC_AUTH_HASH_MAX];
  fc_role_t r;
  int rc = 1;

  if (!role || fc_jwt_parse_role(role, &r) != 0) {
    fprintf(stderr, "flashcharge: --role must be viewer, operator or admin\n");
    return 2;
  }
  if (!*name || strlen(name) > FC_USER_NAME_MAX) {
    fprintf(stderr, "flashcharge: a user name has 1 to %d bytes\n", FC_USER_NAME_MAX);
    return 1;
  }
  if (!password) {
    if (ask("Password: ", typed, sizeof(typed)) < 0 ||
        ask("Password (again): ", again, sizeof(again)) < 0) {
      fprintf(stderr, "flashcharge: no terminal to ask the password on; give --password or "
                      "FLASHCHARGE_USER_PASSWORD\n");
      goto out;
    }
    if (strcmp(typed, again) != 0) {
      fprintf(stderr, "flashcharge: the passwords differ\n");
      goto out;
    }
    password = typed;
  }
  if (fc_auth_init() < 0) goto out;
  int e = fc_auth_password_hash(password, strlen(password), hash, sizeof(hash));
  if (e == FC_ERR_INVAL) {
    fprintf(stderr, "flashcharge: a password has %d to %d bytes\n", FC_AUTH_PASSWORD_MIN,
            FC_AUTH_PASSWORD_MAX);
    goto out;
  }
  if (e < 0 || (e = fc_store_admin_user_put(a, name, hash, role)) < 0) {
    fprintf(stderr, "flashcharge: %s\n", fc_strerror(e));
    goto out;
  }
  printf("user %s: %s\n", name, role);
  rc = 0;
out:
  sodium_memzero(typed, sizeof(typed));
  sodium_memzero(again, sizeof(again));
  return rc;
}

int fc_cli__user(int argc, char **argv)
{
  fc_config_t cfg;
  fc_store_admin_t *a = NULL;
  int rc;

  if (argc < 2 || fc_cli__wants_help(argc, argv)) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *verb = argv[1];
  argc--;
  argv++;
  const char *role = fc_cli__take_opt(&argc, argv, "--role");
  const char *password = fc_cli__take_opt(&argc, argv, "--password");
  if (!password) password = getenv("FLASHCHARGE_USER_PASSWORD");
  fc_config_init(&cfg);
  if (fc_config_load(&cfg, FC_OPT_DB, &argc, argv) < 0) {
    fc_config_cleanup(&cfg);
    return 2;
  }
  for (int i = 1; i < argc; i++) {
    if (!strncmp(argv[i], "--", 2)) {
      fprintf(stderr, "flashcharge user: unknown option '%s'\n", argv[i]);
      fc_config_cleanup(&cfg);
      return 2;
    }
  }
  int want = !strcmp(verb, "list") ? 0 : 1;
  if (strcmp(verb, "add") && strcmp(verb, "list") && strcmp(verb, "remove")) {
    fprintf(stderr, "flashcharge user: unknown verb '%s'\n", verb);
    usage(stderr);
    fc_config_cleanup(&cfg);
    return 2;
  }
  if (argc - 1 != want) {
    fprintf(stderr, "flashcharge user %s: expected %s\n", verb, want ? "a NAME" : "no argument");
    fc_config_cleanup(&cfg);
    return 2;
  }
  if ((rc = fc_store_admin_open(cfg.db, &a)) < 0) {
    fprintf(stderr, "flashcharge: cannot open %s: %s\n", cfg.db, fc_strerror(rc));
    fc_config_cleanup(&cfg);
    return 1;
  }
  rc = 1;
  if (!strcmp(verb, "add")) {
    rc = add(a, argv[1], role, password);
  } else if (!strcmp(verb, "list")) {
    printf("%-32s %-9s %s\n", "NAME", "ROLE", "CREATED");
    rc = fc_store_admin_user_list(a, print_user, NULL) < 0 ? 1 : 0;
  } else {
    int e = fc_store_admin_user_remove(a, argv[1]);
    if (e == FC_ERR_NOTFOUND)
      fprintf(stderr, "flashcharge: no user '%s'\n", argv[1]);
    else if (e < 0)
      fprintf(stderr, "flashcharge: %s\n", fc_strerror(e));
    else {
      printf("user %s removed\n", argv[1]);
      rc = 0;
    }
  }
  fc_store_admin_close(a);
  fc_config_cleanup(&cfg);
  return rc;
}
