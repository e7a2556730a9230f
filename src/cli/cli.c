#include "cli/cli.h"

#include <stdio.h>

int fc_cli_main(int argc, char **argv)
{
  (void)argc;
  (void)argv;
  fprintf(stderr, "usage: flashcharge serve|charger|tag\n");
  return 2;
}
