#!/usr/bin/env bash
# Build (once) a real HashiCorp Consul agent binary from the Go module in
# tools/consul and print its absolute path on stdout.
#
# The binary is cached outside the repo, keyed by the sha256 of
# tools/consul/go.sum:
#   ${FAROL_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/farol}/consul/<16 hex>/consul
# If it is already there, its path is printed at once (no Go needed).
#
# stdout: ONLY the final absolute binary path. Progress goes to stderr.
# Exit codes: 0 ok, 3 Go toolchain missing or too old, other = build failure.
# See tools/consul/README.md.
set -euo pipefail

log() { printf 'build-consul: %s\n' "$*" >&2; }

script_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)"
repo_root="$(cd "$script_dir/.." && pwd -P)"
mod_dir="$repo_root/tools/consul"

if [[ ! -f "$mod_dir/go.sum" ]]; then
  log "missing $mod_dir/go.sum"
  exit 1
fi

# --- cache location ----------------------------------------------------------
if [[ -n "${FAROL_CACHE_DIR:-}" ]]; then
  cache_root="$FAROL_CACHE_DIR"
elif [[ -n "${XDG_CACHE_HOME:-}" ]]; then
  cache_root="$XDG_CACHE_HOME/farol"
elif [[ -n "${HOME:-}" ]]; then
  cache_root="$HOME/.cache/farol"
else
  log "cannot choose a cache dir: set FAROL_CACHE_DIR (or XDG_CACHE_HOME / HOME)"
  exit 1
fi
case "$cache_root" in
  /*) ;;
  *) cache_root="$PWD/$cache_root" ;;
esac

key="$(sha256sum "$mod_dir/go.sum" | cut -c1-16)"
out_dir="$cache_root/consul/$key"
out_bin="$out_dir/consul"

# --- warm path: nothing to do ------------------------------------------------
if [[ -x "$out_bin" ]]; then
  printf '%s\n' "$out_bin"
  exit 0
fi

# --- find Go -----------------------------------------------------------------
go_bin=""
if command -v go >/dev/null 2>&1; then
  go_bin="$(command -v go)"
elif [[ -x /usr/local/go/bin/go ]]; then
  go_bin=/usr/local/go/bin/go
fi
if [[ -z "$go_bin" ]]; then
  log "Go toolchain not found (looked on PATH and in /usr/local/go/bin)."
  log "Install Go 1.21+ from your package manager or go.dev, or set CONSUL_BIN to an existing consul v1.15.4 binary."
  exit 3
fi
go_ver="$("$go_bin" env GOVERSION 2>/dev/null || true)"   # e.g. go1.26.8
if [[ "$go_ver" =~ ^go1\.([0-9]+) ]] && (( BASH_REMATCH[1] < 21 )); then
  log "$go_bin is $go_ver; Install Go 1.21+ from your package manager or go.dev."
  exit 3
fi

mkdir -p "$out_dir"

# Serialise concurrent builds of the same key (parallel test runners).
if command -v flock >/dev/null 2>&1; then
  exec 9>"$out_dir/.lock"
  flock 9
  if [[ -x "$out_bin" ]]; then   # somebody else finished it while we waited
    printf '%s\n' "$out_bin"
    exit 0
  fi
fi

tmp_dir="$(mktemp -d "$out_dir/.build.XXXXXX")"
cleanup() { rm -rf "$tmp_dir"; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

cd "$mod_dir"

# Go environment: no workspace, never fetch another toolchain, pure-Go build,
# go.mod/go.sum must already be complete (-mod=readonly below).
export GOWORK=off GOTOOLCHAIN=local CGO_ENABLED=0

# Version metadata, as Consul's own GNUmakefile sets it (GitCommit, BuildDate).
# The version number itself (1.15.4) is go:embed'ed from consul's version/VERSION.
consul_ver="$("$go_bin" list -mod=readonly -m -f '{{.Version}}' github.com/hashicorp/consul 2>/dev/null || true)"
build_date="$("$go_bin" list -mod=readonly -m -f '{{with .Time}}{{.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' github.com/hashicorp/consul 2>/dev/null || true)"
git_commit=""
gomodcache="$("$go_bin" env GOMODCACHE 2>/dev/null || true)"
info="$gomodcache/cache/download/github.com/hashicorp/consul/@v/$consul_ver.info"
if [[ -n "$consul_ver" && -f "$info" ]]; then
  git_commit="$(grep -o '"Hash":"[0-9a-f]*"' "$info" | head -n1 | cut -d'"' -f4 || true)"
fi
if [[ -z "$git_commit" && "$consul_ver" == "v1.15.4" ]]; then
  git_commit=c3f767b1146f4e394dc147f6d9438f02b7039928   # refs/tags/v1.15.4
fi
ldflags="-s -w"
[[ -n "$git_commit" ]] && ldflags+=" -X github.com/hashicorp/consul/version.GitCommit=$git_commit"
[[ -n "$build_date" ]] && ldflags+=" -X github.com/hashicorp/consul/version.BuildDate=$build_date"

log "building consul ${consul_ver:-?} with $go_ver into $out_dir (cold build: several minutes on 2 cores)"
start=$SECONDS
"$go_bin" build -mod=readonly -trimpath -ldflags "$ldflags" -o "$tmp_dir/consul" . >&2

# Sanity check before publishing: it must run and report a version.
"$tmp_dir/consul" version >&2

chmod 0755 "$tmp_dir/consul"
mv -f "$tmp_dir/consul" "$out_bin"   # same directory tree => atomic rename
log "built in $((SECONDS - start))s"
printf '%s\n' "$out_bin"
