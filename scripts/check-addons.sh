#!/bin/sh
# npm's postinstall, run through with-node.sh so that a missing Node >= 22.19 is fetched at install
# time rather than at the first `npm start`. Then it opens a SQLite database with the Node that will
# run the project: better-sqlite3 is the one native addon, and one that does not load on that Node
# is better reported now, in one line, than as a stack trace from every process of the stack.
#
# Nothing is built: better-sqlite3 ships Node-API binaries (one file loads in every Node >= 22.19)
# inside its package for Linux (glibc, musl), macOS and Windows on x64 and arm64. Its install script,
# a node-gyp run that finds those binaries and compiles nothing, is denied in package.json
# (allowScripts): it would only need Python, make and Node's headers (a download from nodejs.org
# unless npm's nodedir points at them) for no result.
set -eu

if output=$(node -e "new (require('better-sqlite3'))(':memory:').close()" 2>&1); then exit 0; fi
reason=$(printf '%s\n' "$output" | grep -m1 -E '^[A-Za-z]*Error' || printf '%s\n' "$output" | head -n 1)
printf 'linkyard: better-sqlite3 (the SQLite store) does not load on Node %s: %s; it ships binaries for Linux, macOS and Windows on x64 and arm64 (elsewhere, see https://github.com/WiseLibs/better-sqlite3/blob/master/docs/troubleshooting.md)\n' "$(node --version)" "$reason" >&2
exit 1
