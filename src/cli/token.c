/* flashcharge token: mints a JWT for the UI WebSocket and REST and prints it
 * on stdout, nothing else there, so `TOKEN=$(flashcharge token …)` works.
 *
 * The signing key never comes from the command line (it would sit in shell
 * history and in /proc/PID/cmdline): an HS256 secret comes from
 * --jwt-secret-file or, failing that, FLASHCHARGE_JWT_SECRET; an RS256/ES256
 * private key from the PEM file named by --jwt-private-key. Key material is
 * wiped from our buffers once the token is made. */
#include "cli/cli_int.h"

#include "auth/jwt.h"
#include "core/err.h"
#include "core/mem.h"

#include <errno.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define KEY_FILE_MAX (64 * 1024)
#define TTL_MAX (366LL * 24 * 3600)

static void usage(FILE *f)
{
  fprintf(f,
          "usage: flashcharge token --sub NAME --chargers ID[,ID…]|'*' --role ROLE --ttl TTL\n"
          "                         [--jwt-alg HS256|RS256|ES256] [--jwt-secret-file FILE]\n"
          "                         [--jwt-private-key PEM_FILE] [--iss ISSUER] [--aud AUDIENCE]\n"
          "\n"
          "Mints a token for the dashboard WebSocket and the REST API; prints it on stdout.\n"
          "\n"
          "  --sub NAME             who the token is for (1-%d bytes)\n"
          "  --chargers LIST        comma-separated charger ids (1-%d bytes each), or '*' for all\n"
          "  --role ROLE            viewer | operator | admin\n"
          "  --ttl TTL              lifetime: 3600s, 30m, 1h, 2d (a bare number is seconds;\n"
          "                         at most 366d)\n"
          "  --jwt-alg ALG          HS256 (default), RS256 or ES256; must match the server's\n"
          "  --jwt-secret-file FILE HS256: file holding the shared secret (a trailing newline\n"
          "                         is ignored); default: env FLASHCHARGE_JWT_SECRET.\n"
          "                         The secret must be at least %d bytes.\n"
          "  --jwt-private-key PEM  RS256/ES256: the private key (PEM) to sign with\n"
          "  --iss ISSUER           issuer claim (the server checks it when configured)\n"
          "  --aud AUDIENCE         audience claim (the server checks it when configured)\n"
          "  --db PATH              accepted as by every command; a token reads no database\n",
          FC_JWT_SUB_MAX, FC_JWT_CHARGER_MAX, FC_JWT_HS_KEY_MIN);
}

/* "90", "90s", "30m", "1h", "2d" → seconds. 0 or FC_ERR_INVAL. */
static int parse_ttl(const char *s, long long *out)
{
  char *end;
  long long mul = 1;

  if (!s || *s < '0' || *s > '9') return FC_ERR_INVAL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (errno) return FC_ERR_INVAL;
  if (*end) {
    if (end[1]) return FC_ERR_INVAL;
    switch (*end) {
    case 's':
      mul = 1;
      break;
    case 'm':
      mul = 60;
      break;
    case 'h':
      mul = 3600;
      break;
    case 'd':
      mul = 86400;
      break;
    default:
      return FC_ERR_INVAL;
    }
  }
  if (v <= 0 || v > TTL_MAX / mul) return FC_ERR_INVAL;
  *out = v * mul;
  return 0;
}

/* Reads a whole (small) file into a fresh buffer; caller wipes and frees. */
static int read_file(const char *path, unsigned char **buf, size_t *len)
{
  FILE *f = fopen(path, "rb");
  if (!f) return -errno;
  unsigned char *b = fc_malloc(KEY_FILE_MAX + 1);
  size_t n = fread(b, 1, KEY_FILE_MAX + 1, f);
  int err = ferror(f);
  fclose(f);
  if (err || n > KEY_FILE_MAX) {
    sodium_memzero(b, KEY_FILE_MAX + 1);
    fc_free(b);
    return err ? FC_ERR_INVAL : FC_ERR_TOOBIG;
  }
  *buf = b;
  *len = n;
  return 0;
}

static void strip_newline(const unsigned char *b, size_t *len)
{
  while (*len && (b[*len - 1] == '\n' || b[*len - 1] == '\r'))
    (*len)--;
}

/* Splits "A,B, C" into ids (pointers into the copy *store); "*" → none. */
static int parse_chargers(const char *s, char **store, const char ***ids, size_t *n)
{
  *store = NULL;
  *ids = NULL;
  *n = 0;
  if (strcmp(s, "*") == 0) return 0;

  size_t cap = 1;
  for (const char *p = s; *p; p++)
    cap += *p == ',';
  if (cap > FC_JWT_CHARGERS_MAX) return FC_ERR_INVAL;
  *store = fc_strdup(s);
  *ids = fc_calloc(cap, sizeof(**ids));
  for (char *tok = *store, *next; tok; tok = next) {
    next = strchr(tok, ',');
    if (next) *next++ = '\0';
    while (*tok == ' ')
      tok++;
    size_t l = strlen(tok);
    while (l && tok[l - 1] == ' ')
      tok[--l] = '\0';
    if (l == 0 || l > FC_JWT_CHARGER_MAX || strcmp(tok, "*") == 0) return FC_ERR_INVAL;
    (*ids)[(*n)++] = tok;
  }
  return 0;
}

int fc_cli__token(int argc, char **argv)
{
  const char *sub = NULL, *chargers = NULL, *role_s = NULL, *ttl_s = NULL, *alg_s = "HS256";
  const char *secret_file = NULL, *key_file = NULL, *iss = NULL, *aud = NULL;
  /* Taken like every command's --db, so that one set of flags works for all
   * of them; a token is made from the key alone and reads no database. */
  const char *unused_db = NULL;
  struct {
    const char *name;
    const char **dst;
  } opts[] = {
      {"--sub", &sub},
      {"--chargers", &chargers},
      {"--role", &role_s},
      {"--ttl", &ttl_s},
      {"--jwt-alg", &alg_s},
      {"--jwt-secret-file", &secret_file},
      {"--jwt-private-key", &key_file},
      {"--iss", &iss},
      {"--aud", &aud},
      {"--db", &unused_db},
  };
  unsigned char *key = NULL;
  size_t key_len = 0;
  char *store = NULL, *tok = NULL;
  const char **ids = NULL;
  size_t n_ids = 0;
  long long ttl;
  fc_role_t role;
  int alg, rc = 2;

  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = NULL;
    size_t k;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    }
    for (k = 0; k < FC_ARRAY_SIZE(opts); k++) {
      size_t l = strlen(opts[k].name);
      if (!strcmp(a, opts[k].name)) {
        if (i + 1 >= argc) {
          fprintf(stderr, "flashcharge token: %s needs a value\n", a);
          return 2;
        }
        v = argv[++i];
        break;
      }
      if (!strncmp(a, opts[k].name, l) && a[l] == '=') {
        v = a + l + 1;
        break;
      }
    }
    if (k == FC_ARRAY_SIZE(opts)) {
      fprintf(stderr, "flashcharge token: unknown option '%s' (see --help)\n", a);
      return 2;
    }
    *opts[k].dst = v;
  }

  if (!sub || !chargers || !role_s || !ttl_s) {
    fprintf(stderr, "flashcharge token: --sub, --chargers, --role and --ttl are required "
                    "(see --help)\n");
    return 2;
  }
  if (!*sub || strlen(sub) > FC_JWT_SUB_MAX) {
    fprintf(stderr, "flashcharge token: --sub must be 1-%d bytes\n", FC_JWT_SUB_MAX);
    return 2;
  }
  if (fc_jwt_parse_role(role_s, &role) != 0) {
    fprintf(stderr, "flashcharge token: --role must be viewer, operator or admin\n");
    return 2;
  }
  if (parse_ttl(ttl_s, &ttl) != 0) {
    fprintf(stderr, "flashcharge token: --ttl must look like 3600s, 30m, 1h or 2d "
                    "(at most 366d)\n");
    return 2;
  }
  if (fc_jwt_parse_alg(alg_s, &alg) != 0) {
    fprintf(stderr, "flashcharge token: --jwt-alg must be HS256, RS256 or ES256\n");
    return 2;
  }
  if (parse_chargers(chargers, &store, &ids, &n_ids) != 0) {
    fprintf(stderr,
            "flashcharge token: --chargers must be '*' or a comma-separated list of ids "
            "(1-%d bytes each, at most %d)\n",
            FC_JWT_CHARGER_MAX, FC_JWT_CHARGERS_MAX);
    goto done;
  }

  if (alg == FC_JWT_HS256) {
    if (key_file) {
      fprintf(stderr, "flashcharge token: --jwt-private-key is for RS256/ES256; HS256 takes "
                      "--jwt-secret-file or FLASHCHARGE_JWT_SECRET\n");
      goto done;
    }
    if (secret_file) {
      int err = read_file(secret_file, &key, &key_len);
      if (err) {
        fprintf(stderr, "flashcharge token: cannot read %s: %s\n", secret_file,
                err == FC_ERR_TOOBIG ? "file too large" : fc_strerror(err));
        rc = 1;
        goto done;
      }
    } else {
      const char *env = getenv("FLASHCHARGE_JWT_SECRET");
      if (!env || !*env) {
        fprintf(stderr, "flashcharge token: HS256 needs a secret: --jwt-secret-file FILE or "
                        "FLASHCHARGE_JWT_SECRET\n");
        goto done;
      }
      key_len = strlen(env);
      key = (unsigned char *)fc_strndup(env, key_len);
    }
    strip_newline(key, &key_len);
    if (key_len < FC_JWT_HS_KEY_MIN) {
      fprintf(stderr,
              "flashcharge token: the HS256 secret must be at least %d bytes (it is %zu); "
              "make one with: head -c 32 /dev/urandom | base64\n",
              FC_JWT_HS_KEY_MIN, key_len);
      rc = 1;
      goto done;
    }
  } else {
    if (!key_file || secret_file) {
      fprintf(stderr,
              "flashcharge token: %s needs --jwt-private-key PEM_FILE (and no "
              "--jwt-secret-file)\n",
              fc_jwt_alg_name(alg));
      goto done;
    }
    int err = read_file(key_file, &key, &key_len);
    if (err) {
      fprintf(stderr, "flashcharge token: cannot read %s: %s\n", key_file,
              err == FC_ERR_TOOBIG ? "file too large" : fc_strerror(err));
      rc = 1;
      goto done;
    }
  }

  if (fc_jwt_mint(alg, key, key_len, sub, n_ids ? ids : NULL, n_ids, role, (long long)time(NULL),
                  ttl, iss, aud, &tok) != 0) {
    fprintf(stderr,
            "flashcharge token: cannot make the token (%s key unusable, or an argument is not "
            "valid UTF-8)\n",
            alg == FC_JWT_HS256 ? "HS256" : "private");
    rc = 1;
    goto done;
  }
  if (printf("%s\n", tok) < 0 || fflush(stdout) != 0) {
    rc = 1;
    goto done;
  }
  rc = 0;

done:
  if (key) {
    sodium_memzero(key, key_len);
    fc_free(key);
  }
  if (tok) {
    sodium_memzero(tok, strlen(tok));
    free(tok);
  }
  fc_free(ids);
  fc_free(store);
  return rc;
}
