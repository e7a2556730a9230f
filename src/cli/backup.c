/* flashcharge backup FILE / restore FILE: copies of the SQLite database.
 *
 * backup runs beside a live server (or without one): the store copies the
 * database in one read snapshot, in small steps, and the server's writer is
 * never locked out (store.h, fc_store_backup). restore puts a backup in
 * place of a stopped server's database. */
#include "cli/cli_int.h"

#include "config/config.h"
#include "core/err.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f, const char *cmd)
{
  if (!strcmp(cmd, "backup"))
    fprintf(f, "usage: flashcharge backup FILE [--db PATH]\n\n"
               "Writes a consistent copy of the database to FILE (which must not exist),\n"
               "while the server runs: it is read in one snapshot and the server keeps\n"
               "committing. The copy is checked (PRAGMA integrity_check) before it is\n"
               "renamed to FILE. A server starts on it with --db FILE.\n\noptions:\n");
  else
    fprintf(f, "usage: flashcharge restore FILE [--db PATH]\n\n"
               "Replaces the database with the backup FILE (checked first). Stop the\n"
               "server first: a database in use is refused.\n\noptions:\n");
  fc_config_usage(f, FC_OPT_DB);
}

static int run(int argc, char **argv, bool backup)
{
  fc_config_t cfg;
  int status = 1;
  fc_config_init(&cfg);
  if (fc_config_load(&cfg, FC_OPT_DB, &argc, argv) < 0) {
    fc_config_cleanup(&cfg);
    return 2;
  }
  if (fc_cli__wants_help(argc, argv)) {
    usage(stdout, argv[0]);
    status = 0;
    goto out;
  }
  if (argc != 2) {
    usage(stderr, argv[0]);
    status = 2;
    goto out;
  }
  const char *file = argv[1];
  int rc = backup ? fc_store_backup(cfg.db, file, NULL, NULL)
                  : fc_store_restore(file, cfg.db, NULL, NULL);
  if (rc < 0) {
    fprintf(stderr, "flashcharge %s: failed (%s)\n", argv[0], fc_strerror(rc));
    goto out;
  }
  printf(backup ? "backup of %s written to %s\n" : "%2$s restored into %1$s\n", cfg.db, file);
  status = 0;
out:
  fc_config_cleanup(&cfg);
  return status;
}

int fc_cli__backup(int argc, char **argv)
{
  return run(argc, argv, true);
}

int fc_cli__restore(int argc, char **argv)
{
  return run(argc, argv, false);
}
