/* Command line: flashcharge serve|charger|tag|… */
#ifndef FC_CLI_H
#define FC_CLI_H

/* Runs the subcommand named by argv[1]; returns the process exit status. */
int fc_cli_main(int argc, char **argv);

#endif
