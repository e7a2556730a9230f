/* Writes the man page flashcharge(1) on stdout: the hand-written page given
 * as argv[1] with each line "@SERVE_OPTIONS@" or "@DB_OPTIONS@" replaced by
 * those options of the option table (config.c), so the page's list of
 * options is the one the binary accepts and cannot drift from it. Run at
 * build time; not installed. */
#include "config/config.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
  if (argc != 2) {
    fprintf(stderr, "usage: gen_man TEMPLATE > flashcharge.1\n");
    return 2;
  }
  FILE *in = fopen(argv[1], "r");
  if (!in) {
    perror(argv[1]);
    return 1;
  }
  char line[4096];
  while (fgets(line, sizeof(line), in)) {
    if (!strcmp(line, "@SERVE_OPTIONS@\n"))
      fc_config_man(stdout, FC_OPT_SERVE);
    else if (!strcmp(line, "@DB_OPTIONS@\n"))
      fc_config_man(stdout, FC_OPT_DB);
    else
      fputs(line, stdout);
  }
  fclose(in);
  return fflush(stdout) == 0 ? 0 : 1;
}
