#!/usr/bin/env bash
# A cdnlab world on two "hosts": two network namespaces joined by a veth
# pair, with addresses from the documentation range 192.0.2.0/24 (nothing
# leaves the machine). docs/scale-out.md walks through its output.
#
#   host a (192.0.2.1, .11, .13)                host b (192.0.2.2)
#   nats-server -js  192.0.2.1:4222  ◀──────┐    edge tokyo  192.0.2.2:8080
#   origin           192.0.2.1:8080          ├──── (purge log, membership, stats)
#   geodns           192.0.2.1:1053 / :8053  │
#   edge seoul       192.0.2.11:8080 ◀───────┤
#   edge newyork     192.0.2.13:8080 ◀───────┘
#
# It checks what it shows and exits non-zero when something is not as it
# says: GeoDNS learns the edge on host b from the bus, a purge issued on
# host a reaches it, and after its link was cut while a purge was issued
# it serves none of the purged object once back.
#
# Needs root (ip netns), nats-server, dig, curl and a built cdn binary:
#   cargo build --release --bin cdn && sudo scripts/scale-out.sh
# CDN=path/to/cdn picks another binary; KEEP=1 leaves the logs in place.
set -euo pipefail

CDN=${CDN:-target/release/cdn}
CDN=$(realpath "$CDN")
TAG=${TAG:-$$}
A=cdnlab-a-$TAG
B=cdnlab-b-$TAG
VA=cva$TAG
VB=cvb$TAG
BUS=nats://192.0.2.1:4222
WORK=$(mktemp -d /tmp/cdnlab-scale-out.XXXXXX)
PIDS=()

say() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; for f in "$WORK"/*.log; do echo "--- $f" >&2; tail -n 15 "$f" >&2; done; exit 1; }
in_a() { ip netns exec "$A" "$@"; }
in_b() { ip netns exec "$B" "$@"; }
show() { local ns=$1; shift; echo "$ns\$ $*"; ip netns exec "$ns" "$@"; }

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  ip netns del "$A" 2>/dev/null || true
  ip netns del "$B" 2>/dev/null || true
  if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "logs kept in $WORK"; fi
}
trap cleanup EXIT

[ "$(id -u)" = 0 ] || { echo "scale-out.sh: needs root (ip netns)" >&2; exit 2; }
for p in ip nats-server dig curl; do
  command -v "$p" >/dev/null || { echo "scale-out.sh: $p is not installed" >&2; exit 2; }
done
[ -x "$CDN" ] || { echo "scale-out.sh: no cdn binary at $CDN (cargo build --release --bin cdn)" >&2; exit 2; }

# Starts a command in a namespace, in the background, its output in a log.
start() {
  local ns=$1 name=$2; shift 2
  ip netns exec "$ns" "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
  eval "PID_$name=$!"
}

# Polls until a command succeeds (at most $1 seconds).
until_ok() {
  local limit=$1; shift
  local end=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $end ] || return 1
    sleep 0.1
  done
}

# Cache-Status of a GET from host b.
cache_status() { in_b curl -s -o /dev/null -D - "$1" | tr -d '\r' | sed -n 's/^cache-status: //Ip'; }
stats_of() { in_a curl -s "http://$1:9080/stats"; }
bus_field() { stats_of "$1" | sed -n "s/.*\"$2\":\([a-z0-9]*\).*/\1/p"; }

say "two hosts: namespaces $A and $B, a veth pair, 192.0.2.0/24"
ip netns add "$A"
ip netns add "$B"
ip link add "$VA" netns "$A" type veth peer name "$VB" netns "$B"
for a in 192.0.2.1 192.0.2.11 192.0.2.13; do in_a ip addr add "$a/24" dev "$VA"; done
in_b ip addr add 192.0.2.2/24 dev "$VB"
for ns in "$A" "$B"; do ip -n "$ns" link set lo up; done
ip -n "$A" link set "$VA" up
ip -n "$B" link set "$VB" up
echo "host a: 192.0.2.1 192.0.2.11 192.0.2.13    host b: 192.0.2.2"

say "host a: nats-server (JetStream), origin, GeoDNS following the bus, edges seoul and newyork"
start "$A" nats nats-server -js -a 192.0.2.1 -p 4222 -sd "$WORK/nats" --server_name cdnlab-scale-out
until_ok 20 in_b bash -c 'exec 3<>/dev/tcp/192.0.2.1/4222' || fail "nats-server on host a not reachable from host b"
start "$A" origin "$CDN" origin --listen 192.0.2.1:8080 --admin 192.0.2.1:9080 --allow-non-loopback
edge() { # host name address
  start "$1" "$2" "$CDN" edge --name "$2" --listen "$3:8080" --admin "$3:9080" \
    --origin http://192.0.2.1:8080 --data-dir "$WORK/$2" --allow-non-loopback --bus "$BUS"
}
edge "$A" seoul 192.0.2.11
edge "$A" newyork 192.0.2.13
start "$A" geodns "$CDN" geodns --dns 192.0.2.1:1053 --http 192.0.2.1:8053 --allow-non-loopback --bus "$BUS"

say "host b: edge tokyo, joining through the bus (the world file says 127.2.0.1; nothing edited)"
edge "$B" tokyo 192.0.2.2
for e in 192.0.2.11 192.0.2.13; do until_ok 30 in_a curl -sf "http://$e:9080/healthz" || fail "edge $e not healthy"; done
until_ok 30 in_b curl -sf http://192.0.2.2:9080/healthz || fail "edge tokyo not healthy"
show "$B" curl -s http://192.0.2.2:9080/healthz; echo

say "GeoDNS (on host a) learns from the bus where each edge is, checks it, and answers it"
# /edges as a table: edge, address (from its membership record), health.
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",]*\).*/\1/p"; }
edges_table() {
  in_b curl -s http://192.0.2.1:8053/edges | grep -o '{[^{}]*}' | while read -r row; do
    printf '  %-8s %-17s %-5s\n' "$(field edge <<<"$row")" "$(field address <<<"$row")" "$(field state <<<"$row")"
  done
}
all_up() { [ "$(edges_table | grep -c ' 192\.0\.2\.[0-9]*:8080 *up ')" = 3 ]; }
until_ok 30 all_up || fail "GeoDNS never saw every edge up at its address on the bus: $(edges_table)"
echo "$B\$ curl -s http://192.0.2.1:8053/edges   # as a table"
edges_table
dig_tokyo() { in_b dig @192.0.2.1 -p 1053 cdn.test A +short +subnet=198.51.100.0/24; }
[ "$(dig_tokyo)" = 192.0.2.2 ] || fail "GeoDNS answers $(dig_tokyo) for Tokyo, not 192.0.2.2"
show "$B" dig @192.0.2.1 -p 1053 cdn.test A +short +subnet=198.51.100.0/24   # a Tokyo network
show "$B" dig @192.0.2.1 -p 1053 cdn.test A +short +subnet=203.0.113.0/24    # a Seoul network

say "a client on host b fills the Tokyo edge"
for p in /obj/1 /obj/2; do
  echo "GET $p: $(cache_status "http://192.0.2.2:8080$p")"
  cs=$(cache_status "http://192.0.2.2:8080$p"); echo "GET $p: $cs"
  case $cs in *"; hit;"*) ;; *) fail "$p not a hit on tokyo: $cs" ;; esac
done

say "a purge issued on host a reaches every edge through the log"
show "$A" "$CDN" purge --bus "$BUS" --url /obj/1 || fail "not every edge acknowledged"
cs=$(cache_status http://192.0.2.2:8080/obj/1); echo "GET /obj/1 on tokyo: $cs"
case $cs in *"fwd=uri-miss"*) ;; *) fail "/obj/1 served after its purge: $cs" ;; esac

say "host b's link is cut; a purge is issued meanwhile"
ip -n "$B" link set "$VB" down
set +e
show "$A" "$CDN" purge --bus "$BUS" --url /obj/2 --deadline 2s
code=$?
set -e
[ $code = 1 ] || fail "cdn purge should name tokyo and exit 1 (exit $code)"
until_ok 15 bash -c "[ \"\$(ip netns exec $A dig @192.0.2.1 -p 1053 cdn.test A +short +subnet=198.51.100.0/24)\" = 192.0.2.11 ]" \
  || fail "GeoDNS kept sending Tokyo's clients to the cut-off edge"
echo "GeoDNS meanwhile (health checks fail): Tokyo's clients go to $(in_a dig @192.0.2.1 -p 1053 cdn.test A +short +subnet=198.51.100.0/24) (seoul)"

say "the link is back: tokyo applies the purge it missed; it serves none of the purged object"
ip -n "$B" link set "$VB" up
until_ok 30 bash -c "ip netns exec $A curl -s http://192.0.2.2:9080/stats | grep -q '\"in_step\":true'" || fail "tokyo never in step again"
echo "tokyo: applied_seq $(bus_field 192.0.2.2 applied_seq), log_seq $(bus_field 192.0.2.2 log_seq), in_step $(bus_field 192.0.2.2 in_step)"
cs=$(cache_status http://192.0.2.2:8080/obj/2); echo "GET /obj/2 on tokyo: $cs"
case $cs in *"fwd=uri-miss"*) ;; *) fail "/obj/2 served from the cache after the purge it missed: $cs" ;; esac
until_ok 30 bash -c "[ \"\$(ip netns exec $B dig @192.0.2.1 -p 1053 cdn.test A +short +subnet=198.51.100.0/24)\" = 192.0.2.2 ]" \
  || fail "GeoDNS never sent Tokyo's clients back"
echo "GeoDNS: Tokyo's clients go to $(dig_tokyo) again"
show "$A" "$CDN" stats --bus "$BUS" | sed -n '1,/^total/p;/counters read/p' 

say "scale-out: all checks passed"
