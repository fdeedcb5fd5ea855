#!/usr/bin/env bash
# A cdnlab world on five "hosts": network namespaces, each joined by its
# own veth pair to a bridge that lives in a sixth namespace (the root
# namespace's links and routes are never touched), with addresses from the
# documentation ranges only (nothing leaves the machine). docs/scale-out.md
# walks through its output.
#
#   core     192.0.2.1     nats-server -js :4222, origin :8080, geodns :1053/:8053
#   seoul    192.0.2.11    edge seoul    :8080 (admin :9080)
#   tokyo    192.0.2.12    edge tokyo    :8080 (admin :9080)
#   newyork  192.0.2.13    edge newyork  :8080 (admin :9080)
#   clients  203.0.113.10 (a Seoul client), 198.51.100.10 (Tokyo), 192.0.2.100 (New York)
#            all five ──veth── bridge br0 (namespace cdnlab-net-TAG)
#
# It checks what it shows and exits non-zero when something is not as it
# says: GeoDNS learns every edge's address from the bus and answers each
# region's client with its edge; a purge reaches every edge; with Tokyo's
# link cut while several purges are issued, each purge names Tokyo and
# GeoDNS sends Tokyo's client elsewhere; once the link is back Tokyo
# catches up and serves none of the purged objects (asked from the clients
# host), while what was not purged is still a hit.
#
# Needs root (ip netns), nats-server, dig, curl and a built cdn binary:
#   cargo build --release --bin cdn && sudo scripts/scale-out.sh
# CDN=path/to/cdn picks another binary; KEEP=1 leaves the logs in place.
set -euo pipefail

CDN=${CDN:-target/release/cdn}
CDN=$(realpath "$CDN")
TAG=${TAG:-$$}
NET=cdnlab-net-$TAG
HOSTS=(core seoul tokyo newyork clients)
declare -A ADDR=([core]=192.0.2.1 [seoul]=192.0.2.11 [tokyo]=192.0.2.12 [newyork]=192.0.2.13 [clients]=192.0.2.100)
# A client of each region, by its own address (the demo world's geoip:
# 203.0.113.0/24 Seoul, 198.51.100.0/24 Tokyo, 192.0.2.0/24 New York).
# Each host's link: its veth pair, whose other end (p0..p4) is a port of the bridge.
declare -A PORT=([core]=p0 [seoul]=p1 [tokyo]=p2 [newyork]=p3 [clients]=p4)
declare -A CLIENT=([seoul]=203.0.113.10 [tokyo]=198.51.100.10 [newyork]=192.0.2.100)
BUS=nats://192.0.2.1:4222
WORK=$(mktemp -d /tmp/cdnlab-scale-out.XXXXXX)
PIDS=()
CREATED=()

ns() { echo "cdnlab-$1-$TAG"; }
say() { printf '\n== %s\n' "$*"; }
fail() { echo "FAILED: $*" >&2; for f in "$WORK"/*.log; do echo "--- $f" >&2; tail -n 15 "$f" >&2; done; exit 1; }
on() { local h=$1; shift; ip netns exec "$(ns "$h")" "$@"; }
show() { local h=$1; shift; echo "$h\$ $*"; on "$h" "$@"; }

cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  # Deleting a namespace deletes its veth ends, and so their peers.
  for n in "${CREATED[@]}"; do ip netns del "$n" 2>/dev/null || true; done
  if [ -z "${KEEP:-}" ]; then rm -rf "$WORK"; else echo "logs kept in $WORK"; fi
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT

[ "$(id -u)" = 0 ] || { echo "scale-out.sh: needs root (ip netns)" >&2; exit 2; }
for p in ip nats-server dig curl; do
  command -v "$p" >/dev/null || { echo "scale-out.sh: $p is not installed" >&2; exit 2; }
done
[ -x "$CDN" ] || { echo "scale-out.sh: no cdn binary at $CDN (cargo build --release --bin cdn)" >&2; exit 2; }

# Starts a command on a host, in the background, its output in a log.
start() {
  local h=$1 name=$2; shift 2
  ip netns exec "$(ns "$h")" "$@" >"$WORK/$name.log" 2>&1 &
  PIDS+=($!)
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

# What GeoDNS answers a region's client (asked from the clients host, from that client's address).
dig_from() { on clients dig @192.0.2.1 -p 1053 -b "${CLIENT[$1]}" cdn.test A +short +time=1 +tries=1; }
answers() { [ "$(dig_from "$1")" = "$2" ]; }
# Cache-Status of a GET of a path on an edge by a region's client.
cache_status() {
  { on clients curl -s --max-time 10 --interface "${CLIENT[$1]}" -o /dev/null -D - "http://${ADDR[$2]}:8080$3" || echo "(no answer)"; } \
    | tr -d '\r' | sed -n 's/^cache-status: //Ip; s/^(no answer)$/no answer within 10 s/p'
}
bus_field() { on core curl -s --max-time 5 "http://$1:9080/stats" | sed -n "s/.*\"$2\":\([a-z0-9]*\).*/\1/p"; }

say "five hosts: namespaces $(ns core), $(ns seoul), $(ns tokyo), $(ns newyork), $(ns clients); a bridge in $NET"
ip netns add "$NET"; CREATED+=("$NET")
ip -n "$NET" link add br0 type bridge
ip -n "$NET" link set br0 up
for h in "${HOSTS[@]}"; do
  ip netns add "$(ns "$h")"; CREATED+=("$(ns "$h")")
  ip link add eth0 netns "$(ns "$h")" type veth peer name "${PORT[$h]}" netns "$NET"
  ip -n "$NET" link set "${PORT[$h]}" master br0 up
  ip -n "$(ns "$h")" link set lo up
  ip -n "$(ns "$h")" addr add "${ADDR[$h]}/24" dev eth0
  ip -n "$(ns "$h")" link set eth0 up
  if [ "$h" = clients ]; then
    ip -n "$(ns "$h")" addr add "${CLIENT[seoul]}/24" dev eth0
    ip -n "$(ns "$h")" addr add "${CLIENT[tokyo]}/24" dev eth0
  else
    # The clients' other networks are on the same bridge (on-link).
    ip -n "$(ns "$h")" route add 203.0.113.0/24 dev eth0
    ip -n "$(ns "$h")" route add 198.51.100.0/24 dev eth0
  fi
  printf '  %-8s %s%s\n' "$h" "${ADDR[$h]}" "$([ "$h" = clients ] && echo " ${CLIENT[seoul]} ${CLIENT[tokyo]}")"
done

say "core: nats-server (JetStream), origin, GeoDNS following the bus"
start core nats nats-server -js -a 192.0.2.1 -p 4222 -sd "$WORK/nats" --server_name cdnlab-scale-out
until_ok 20 on tokyo bash -c 'exec 3<>/dev/tcp/192.0.2.1/4222' || fail "nats-server on core not reachable from tokyo"
start core origin "$CDN" origin --listen 192.0.2.1:8080 --admin 192.0.2.1:9080 --allow-non-loopback
start core geodns "$CDN" geodns --dns 192.0.2.1:1053 --http 192.0.2.1:8053 --allow-non-loopback --bus "$BUS"

say "seoul, tokyo, newyork: one edge each, joining through the bus (the world file says 127.k.0.1; nothing edited)"
for h in seoul tokyo newyork; do
  start "$h" "$h" "$CDN" edge --name "$h" --listen "${ADDR[$h]}:8080" --admin "${ADDR[$h]}:9080" \
    --origin http://192.0.2.1:8080 --data-dir "$WORK/$h" --allow-non-loopback --bus "$BUS"
done
for h in seoul tokyo newyork; do
  until_ok 30 on core curl -sf "http://${ADDR[$h]}:9080/healthz" || fail "edge $h not healthy"
done
show core curl -s http://192.0.2.12:9080/healthz; echo

say "GeoDNS learns from the bus where each edge is, checks it, and answers each region's client with its edge"
# /edges as a table: edge, address (from its membership record), health.
field() { sed -n "s/.*\"$1\":\"\{0,1\}\([^\",]*\).*/\1/p"; }
edges_table() {
  on clients curl -s http://192.0.2.1:8053/edges | grep -o '{[^{}]*}' | while read -r row; do
    printf '  %-8s %-17s %s\n' "$(field edge <<<"$row")" "$(field address <<<"$row")" "$(field state <<<"$row")"
  done
}
all_up() { [ "$(edges_table | grep -c ' 192\.0\.2\.1[123]:8080 *up$')" = 3 ]; }
until_ok 30 all_up || fail "GeoDNS never saw every edge up at its address on the bus: $(edges_table)"
echo "clients\$ curl -s http://192.0.2.1:8053/edges   # as a table"
edges_table
for r in seoul tokyo newyork; do
  until_ok 10 answers "$r" "${ADDR[$r]}" || fail "GeoDNS answers $(dig_from "$r") to a $r client, not ${ADDR[$r]}"
  show clients dig @192.0.2.1 -p 1053 -b "${CLIENT[$r]}" cdn.test A +short
done

say "Tokyo's client fills the Tokyo edge"
for p in /obj/1 /obj/2 /obj/3 /obj/4 /obj/5; do
  first=$(cache_status tokyo tokyo "$p")
  cs=$(cache_status tokyo tokyo "$p"); echo "GET $p: $first  then: $cs"
  case $cs in *"; hit;"*) ;; *) fail "$p not a hit on tokyo: $cs" ;; esac
done

say "a purge issued on core reaches every edge through the log"
show core "$CDN" purge --bus "$BUS" --url /obj/1 || fail "not every edge acknowledged"
cs=$(cache_status tokyo tokyo /obj/1); echo "GET /obj/1 on tokyo: $cs"
case $cs in *"fwd=uri-miss"*) ;; *) fail "/obj/1 served after its purge: $cs" ;; esac

say "tokyo's link is cut (its port on the bridge: ip link set ${PORT[tokyo]} down); three purges are issued meanwhile"
ip -n "$NET" link set "${PORT[tokyo]}" down
for p in /obj/2 /obj/3 /obj/4; do
  set +e
  show core "$CDN" purge --bus "$BUS" --url "$p" --deadline 1s
  code=$?
  set -e
  [ $code = 1 ] || fail "cdn purge of $p should name tokyo and exit 1 (exit $code)"
done
until_ok 15 answers tokyo 192.0.2.11 || fail "GeoDNS kept sending Tokyo's client to the cut-off edge: $(dig_from tokyo)"
echo "GeoDNS meanwhile (Tokyo's health checks fail): Tokyo's client gets $(dig_from tokyo) (seoul)"

say "the link is back: tokyo applies the purges it missed; it serves none of the purged objects"
ip -n "$NET" link set "${PORT[tokyo]}" up
until_ok 30 bash -c "ip netns exec $(ns core) curl -s http://192.0.2.12:9080/stats | grep -q '\"in_step\":true'" || fail "tokyo never in step again"
echo "tokyo: applied_seq $(bus_field 192.0.2.12 applied_seq), log_seq $(bus_field 192.0.2.12 log_seq), in_step $(bus_field 192.0.2.12 in_step)"
for p in /obj/2 /obj/3 /obj/4; do
  cs=$(cache_status tokyo tokyo "$p"); echo "GET $p on tokyo (from Tokyo's client): $cs"
  case $cs in *"fwd=uri-miss"*) ;; *) fail "$p served from the cache after the purge tokyo missed: $cs" ;; esac
done
cs=$(cache_status tokyo tokyo /obj/5); echo "GET /obj/5 on tokyo (not purged): $cs"
case $cs in *"; hit;"*) ;; *) fail "/obj/5 (never purged) not a hit once tokyo is in step: $cs" ;; esac
until_ok 30 answers tokyo 192.0.2.12 || fail "GeoDNS never sent Tokyo's client back: $(dig_from tokyo)"
echo "GeoDNS: Tokyo's client gets $(dig_from tokyo) again"
show core "$CDN" stats --bus "$BUS" | sed -n '1,/^total/p;/counters read/p'

say "scale-out: all checks passed"
