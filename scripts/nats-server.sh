#!/usr/bin/env bash
# Prints the path of a nats-server new enough for Framewire (2.12 or newer), fetching one if needed.
#
# Looks, in order, at: $FRAMEWIRE_NATS_SERVER (a binary you chose), the cache
# ($FRAMEWIRE_CACHE_DIR, default ${XDG_CACHE_HOME:-~/.cache}/framewire), and nats-server on PATH.
# When none is new enough, it downloads Debian's nats-server package from the unstable suite
# (a static binary that needs only libc) into the cache, with a private apt state: the machine's
# apt sources and installed packages are not touched. docs/operations.md has the details.
#
#   scripts/nats-server.sh            the binary's path on stdout (fetching it if needed)
#   scripts/nats-server.sh --no-fetch the same, but fails instead of downloading
#   scripts/nats-server.sh --fetch    downloads the newest into the cache even if one is there
set -euo pipefail

MIN_MAJOR=2
MIN_MINOR=12
cache="${FRAMEWIRE_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/framewire}/nats-server"
mode="${1:-}"

say() { printf 'nats-server.sh: %s\n' "$*" >&2; }

# Prints "major minor patch" of a binary, or nothing when it can't tell.
version_of() {
  "$1" --version 2>/dev/null | sed -nE 's/.*v([0-9]+)\.([0-9]+)\.([0-9]+).*/\1 \2 \3/p' | head -n1
}

new_enough() {
  local v
  v=$(version_of "$1") || return 1
  [ -n "$v" ] || return 1
  set -- $v
  [ "$1" -gt "$MIN_MAJOR" ] || { [ "$1" -eq "$MIN_MAJOR" ] && [ "$2" -ge "$MIN_MINOR" ]; }
}

# The newest binary in the cache, by version.
newest_cached() {
  local best="" best_key="" bin key
  for bin in "$cache"/*/nats-server; do
    [ -x "$bin" ] || continue
    key=$(version_of "$bin" | awk '{ printf "%05d%05d%05d", $1, $2, $3 }')
    if [ -n "$key" ] && [[ "$key" > "$best_key" ]]; then best="$bin"; best_key="$key"; fi
  done
  [ -n "$best" ] && printf '%s\n' "$best"
}

fetch() {
  command -v apt-get >/dev/null && command -v dpkg-deb >/dev/null || {
    say "apt-get and dpkg-deb are needed to fetch Debian's nats-server; install nats-server 2.12 or newer yourself (https://github.com/nats-io/nats-server/releases, Homebrew, or the nats image) and set FRAMEWIRE_NATS_SERVER to its path"
    return 1
  }
  local work uri
  work=$(mktemp -d)
  trap 'rm -rf "$work"' RETURN
  mkdir -p "$work/lists/partial" "$work/archives/partial"
  uri=""
  [ -r /etc/apt/sources.list.d/debian.sources ] && uri=$(awk '/^URIs:/{ print $2; exit }' /etc/apt/sources.list.d/debian.sources)
  [ -n "$uri" ] || uri="http://deb.debian.org/debian"
  echo "deb $uri sid main" > "$work/sources.list"
  local opts=(-o Dir::Etc::sourcelist="$work/sources.list" -o Dir::Etc::sourceparts=-
              -o Dir::State::Lists="$work/lists" -o Dir::Cache::Archives="$work/archives")
  [ "$(id -u)" = 0 ] && opts+=(-o APT::Sandbox::User=root)
  say "fetching nats-server from Debian's unstable suite ($uri) into $cache"
  apt-get "${opts[@]}" update -qq >&2
  (cd "$work" && apt-get "${opts[@]}" download nats-server >&2)
  dpkg-deb -x "$work"/nats-server_*.deb "$work/x"
  local bin="$work/x/usr/sbin/nats-server" version
  version=$(version_of "$bin" | tr ' ' '.')
  [ -n "$version" ] || { say "the fetched binary does not run here"; return 1; }
  mkdir -p "$cache/$version"
  install -m 0755 "$bin" "$cache/$version/nats-server.tmp"
  mv "$cache/$version/nats-server.tmp" "$cache/$version/nats-server"
  printf '%s\n' "$cache/$version/nats-server"
}

if [ "$mode" != "--fetch" ]; then
  if [ -n "${FRAMEWIRE_NATS_SERVER:-}" ]; then
    new_enough "$FRAMEWIRE_NATS_SERVER" && { printf '%s\n' "$FRAMEWIRE_NATS_SERVER"; exit 0; }
    say "FRAMEWIRE_NATS_SERVER=$FRAMEWIRE_NATS_SERVER is not a nats-server $MIN_MAJOR.$MIN_MINOR or newer"
    exit 1
  fi
  cached=$(newest_cached || true)
  if [ -n "$cached" ] && new_enough "$cached"; then printf '%s\n' "$cached"; exit 0; fi
  on_path=$(command -v nats-server || true)
  if [ -n "$on_path" ] && new_enough "$on_path"; then printf '%s\n' "$on_path"; exit 0; fi
  if [ "$mode" = "--no-fetch" ]; then
    say "no nats-server $MIN_MAJOR.$MIN_MINOR or newer in $cache or on PATH; run scripts/nats-server.sh to fetch one"
    exit 1
  fi
fi
fetch
