#!/bin/sh
# The module order of DESIGN.md / STYLE.md, checked on the sources: every
# `#include "X/..."` in src/<m>/ must name m itself or a module below m.
#
#   core ← log ← config ← {net, store, auth} ← {domain, bus}
#        ← {ocpp, push, api, relay, cluster} ← cli
#
# Modules on one level do not include each other (a helper two of them need
# goes down a level), but for the edges listed in EXCEPTIONS, each with its
# reason. A listed edge that no longer occurs fails too, so the list stays
# true. Usage: check_deps.sh SRC_DIR (src/ of the repository).
set -u
src=${1:?usage: check_deps.sh SRC_DIR}
[ -d "$src/core" ] || { echo "check_deps: $src is not src/" >&2; exit 2; }

level() {
  case $1 in
  core) echo 0 ;;
  log) echo 1 ;;
  config) echo 2 ;;
  net | store | auth) echo 3 ;;
  domain | bus) echo 4 ;;
  ocpp | push | api | relay | cluster) echo 5 ;;
  cli) echo 6 ;;
  *) echo -1 ;;
  esac
}

# "from to reason", one a line: same-level edges that are allowed, and why.
# None now: api/ reaches ocpp/ and push/ through the hooks cli/ gives it
# (fc_api_peers_t), and cli/wire.c hands /ws upgrades to push/.
EXCEPTIONS=''

allowed() {
  printf '%s\n' "$EXCEPTIONS" | grep -q "^$1 $2 "
}

fail=0
seen=''
for dir in "$src"/*/; do
  m=$(basename "$dir")
  lm=$(level "$m")
  if [ "$lm" -lt 0 ]; then
    echo "check_deps: src/$m is not in the module order (add it to tests/unit/deps/check_deps.sh)"
    fail=1
    continue
  fi
  # file:line:#include "dep/..."
  edges=$(grep -rnE --include='*.c' --include='*.h' '^[[:space:]]*#[[:space:]]*include[[:space:]]+"[a-z_]+/' "$dir" | sed -E 's|^([^:]*:[0-9]+):.*include[[:space:]]+"([a-z_]+)/.*|\1 \2|')
  [ -n "$edges" ] || continue
  while read -r where dep; do
    [ "$dep" = "$m" ] && continue
    ld=$(level "$dep")
    if [ "$ld" -lt 0 ]; then
      echo "check_deps: ${where#"$src"/}: $m includes $dep/, which is not a module"
      fail=1
    elif [ "$ld" -lt "$lm" ]; then
      :
    elif [ "$ld" -eq "$lm" ] && allowed "$m" "$dep"; then
      seen="$seen $m>$dep"
    else
      echo "check_deps: ${where#"$src"/}: $m includes $dep/, which is not below it"
      fail=1
    fi
  done <<EDGES
$edges
EDGES
done

# An exception that no longer occurs is dropped from the list.
printf '%s\n' "$EXCEPTIONS" | while read -r from to reason; do
  [ -n "$from" ] || continue
  case " $seen " in
  *" $from>$to "*) ;;
  *) echo "check_deps: the exception $from -> $to no longer occurs: remove it" ; exit 1 ;;
  esac
done || fail=1

if [ "$fail" -ne 0 ]; then
  echo "check_deps: FAILED (the order is in tests/unit/deps/check_deps.sh)"
  exit 1
fi
echo "check_deps: ok"
