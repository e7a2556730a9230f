#ifndef FC_CLI_INT_H
#define FC_CLI_INT_H

/* Each takes argv[0] = the command name; returns the exit status. */
int fc_cli__serve(int argc, char **argv);
int fc_cli__charger(int argc, char **argv);
int fc_cli__tag(int argc, char **argv);
/* flashcharge token: mints a UI/REST JWT and prints it on stdout (token.c). */
int fc_cli__token(int argc, char **argv);
/* flashcharge user: the web UI's users (user.c). */
int fc_cli__user(int argc, char **argv);

/* Takes "--name value" (or --name=value) out of argv, compacting it, and
 * returns the value (borrowed from argv) or NULL. */
const char *fc_cli__take_opt(int *argc, char **argv, const char *name);

/* True when argv holds --help (or -h). */
int fc_cli__wants_help(int argc, char **argv);

#endif
