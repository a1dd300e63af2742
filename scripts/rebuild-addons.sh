#!/bin/sh
# npm's postinstall, run through with-node.sh. npm built the dependencies' native addons for the
# Node that runs npm itself (npm_node_execpath); on a machine whose node is older than 22.19 that
# is not the Node that runs the project, so they are built again, for it and against its headers.
set -eu

say() { printf 'linkyard: %s\n' "$*" >&2; }

installer=${npm_node_execpath:-}
if [ -z "$installer" ]; then exit 0; fi
# The ABI version of Node's module interface: addons built for one load only in Nodes with the same.
if [ "$("$installer" -p process.versions.modules 2>/dev/null || true)" = "$(node -p process.versions.modules)" ]; then exit 0; fi

log=node_modules/.linkyard-rebuild.log
say "npm ran on Node $("$installer" --version 2>/dev/null || echo '(unknown)'), the project runs on Node $(node --version): building the native addons again for it ..."
if npm rebuild --no-audit --no-fund --loglevel=error >"$log" 2>&1; then
  say "native addons built for Node $(node --version)"
  exit 0
fi
missing=
for tool in python3 make; do
  command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
done
command -v c++ >/dev/null 2>&1 || command -v g++ >/dev/null 2>&1 || command -v clang++ >/dev/null 2>&1 || missing="$missing g++"
if [ -n "$missing" ]; then
  say "could not build the native addons for Node $(node --version): missing${missing} (apt-get install python3 make g++); details in $log"
else
  say "could not build the native addons for Node $(node --version): details in $log"
fi
exit 1
