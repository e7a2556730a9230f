/* Subcommands: serve, charger, tag, token, user, backup, restore. Each takes --help. */
#include "cli/cli.h"

#include "cli/cli_int.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f)
{
  fprintf(f, "usage: flashcharge <command> [options]\n\n"
             "commands:\n"
             "  serve     run the server (OCPP central system, web endpoints)\n"
             "  charger   add | list | remove chargers in the registry\n"
             "  tag       add | list | remove idTags\n"
             "  token     mint a JWT for the UI WebSocket and the REST API\n"
             "  user      add | list | remove the web UI's users\n"
             "  backup    copy the database of a running server to a file\n"
             "  restore   put a backup in place of a stopped server's database\n\n"
             "Run 'flashcharge <command> --help' for a command's options.\n");
}

int fc_cli_main(int argc, char **argv)
{
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const char *cmd = argv[1];
  if (!strcmp(cmd, "serve")) return fc_cli__serve(argc - 1, argv + 1);
  if (!strcmp(cmd, "charger")) return fc_cli__charger(argc - 1, argv + 1);
  if (!strcmp(cmd, "tag")) return fc_cli__tag(argc - 1, argv + 1);
  if (!strcmp(cmd, "token")) return fc_cli__token(argc - 1, argv + 1);
  if (!strcmp(cmd, "user")) return fc_cli__user(argc - 1, argv + 1);
  if (!strcmp(cmd, "backup")) return fc_cli__backup(argc - 1, argv + 1);
  if (!strcmp(cmd, "restore")) return fc_cli__restore(argc - 1, argv + 1);
  if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") || !strcmp(cmd, "help")) {
    usage(stdout);
    return 0;
  }
  fprintf(stderr, "flashcharge: unknown command '%s'\n", cmd);
  usage(stderr);
  return 2;
}
