#!/bin/sh
# Runs a command with a Node >= 22.19 first on PATH: every npm script that runs project code goes
# through here, because the project's .ts files need type stripping and undici 8 needs 22.19, while
# a fresh Debian 12 has Node 20. The one place that knows how to find or get that Node.
#
#   sh scripts/with-node.sh <command> [args...]   (no command: only make sure that Node is there)
#
# The `node` on PATH when it is recent enough; else Node 24 from the npm registry (its `node`
# package ships Node's official build, headers included), installed once into LINKYARD_NODE_DIR
# (default ~/.cache/linkyard/node24) with the npm that is already here: no other download site.
# LINKYARD_NO_INSTALL=1 forbids fetching it; then a missing Node is one line saying how to get it.
#
# POSIX sh, not Node: it must work before a usable Node exists. The command is exec'd, so the
# signals npm forwards (Ctrl-C, SIGTERM) reach it and not a shell in between.
set -eu

say() { printf 'linkyard: %s\n' "$*" >&2; }

# The version of the node binary $1 ("v24.21.0"), or nothing when it does not run.
version_of() { "$1" --version 2>/dev/null || true; }

# Whether "vMAJOR.MINOR.PATCH" is at least 22.19.
recent_enough() {
  version=${1#v}
  major=${version%%.*}
  minor=${version#*.}
  minor=${minor%%.*}
  case "$major.$minor" in
    *[!0-9.]* | .* | *.) return 1 ;;
  esac
  [ "$major" -gt 22 ] || { [ "$major" -eq 22 ] && [ "$minor" -ge 19 ]; }
}

run() {
  if [ $# -gt 0 ]; then exec "$@"; fi
  exit 0
}

path_node=$(command -v node 2>/dev/null || true)
path_version=
if [ -n "$path_node" ]; then path_version=$(version_of "$path_node"); fi
if [ -n "$path_version" ] && recent_enough "$path_version"; then run "$@"; fi

node_dir=${LINKYARD_NODE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/linkyard/node24}
node_bin=$node_dir/node_modules/node/bin/node
if [ -n "$path_version" ]; then have="this machine's Node is $path_version"; else have="there is no node on PATH"; fi

if ! recent_enough "$(version_of "$node_bin")"; then
  if [ -e "$node_dir" ]; then
    # Only this script makes that folder, and only whole (below): something else is there.
    say "needs Node >= 22.19 and $have; $node_dir holds no Node >= 22.19: remove it, or point LINKYARD_NODE_DIR at another folder"
    exit 1
  fi
  if [ -n "${LINKYARD_NO_INSTALL:-}" ]; then
    say "needs Node >= 22.19 and $have: install Node 24 (https://nodejs.org/en/download), or unset LINKYARD_NO_INSTALL to let it fetch Node 24 from the npm registry into $node_dir"
    exit 1
  fi
  if ! command -v npm >/dev/null 2>&1; then
    say "needs Node >= 22.19 and $have, nor npm to fetch one: install Node 24 (https://nodejs.org/en/download)"
    exit 1
  fi
  # Installed beside its final place and renamed into it: an interrupted install leaves nothing
  # that looks complete.
  parent=$(dirname "$node_dir")
  partial=$node_dir.partial.$$
  log=$node_dir.install.log
  mkdir -p "$parent"
  trap 'rm -rf "$partial"' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  say "needs Node >= 22.19 and $have: fetching Node 24 (a 50 MB download) from the npm registry into $node_dir ..."
  if ! npm install --prefix "$partial" --no-save --no-package-lock --no-audit --no-fund --loglevel=error node@24 >"$log" 2>&1; then
    # npm's first message line (not its code/errno/stack lines) says what went wrong.
    reason=$(grep -E '^npm (error|ERR!) ' "$log" | sed -e 's/^npm error //' -e 's/^npm ERR! //' |
      grep -v -E '^(code|syscall|errno|path|command|signal|A complete log)|^[[:space:]]|^$' | head -n 1 || true)
    say "could not fetch Node 24 from the npm registry (${reason:-no reason given}): install Node 24 (https://nodejs.org/en/download) or fix the registry (npm config get registry); details in $log"
    exit 1
  fi
  if ! recent_enough "$(version_of "$partial/node_modules/node/bin/node")"; then
    say "the npm registry's node@24 does not run on this machine ($(uname -sm)): install Node 24 (https://nodejs.org/en/download); details in $log"
    exit 1
  fi
  # Another install may have finished first (two npm scripts at once): then keep that one.
  [ -e "$node_dir" ] || mv "$partial" "$node_dir"
  trap - EXIT INT TERM
  rm -rf "$partial"
  say "Node $(version_of "$node_bin") is in $node_dir"
fi

PATH=$node_dir/node_modules/node/bin:$PATH
export PATH
# node-gyp builds native addons against these headers, the ones of the Node that will load them,
# instead of downloading headers from nodejs.org (npm passes npm_config_* on to node-gyp).
for headers in "$node_dir"/node_modules/node/node_modules/node-*/include/node; do
  if [ -d "$headers" ]; then
    npm_config_nodedir=${headers%/include/node}
    export npm_config_nodedir
  fi
done
run "$@"
