#!/usr/bin/env bash
# Builds the cargo-fuzz (libFuzzer) targets in fuzz/ and runs each one in
# turn for FUZZ_SECONDS (30 by default; 600 for the long runs of
# docs/security.md). Prints each run's executions, rate, corpus size and
# peak memory; exits non-zero if any target crashed, timed out or ran out
# of memory (libFuzzer leaves the input in fuzz/artifacts/<target>/).
#
#   scripts/fuzz-smoke.sh                       # every target, 30 s each
#   FUZZ_SECONDS=600 scripts/fuzz-smoke.sh      # the long run
#   scripts/fuzz-smoke.sh raw_hit dns_udp       # some targets
#
# Runs on the stable toolchain: cargo-fuzz passes nightly-only compiler
# flags (-Zsanitizer=..., -Zunstable-options), which RUSTC_BOOTSTRAP=1
# lets the stable rustc accept. FUZZ_SANITIZER=address (the default) links
# AddressSanitizer; FUZZ_SANITIZER=none is about twice as fast. One fuzzer
# at a time: the machine is shared.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

seconds=${FUZZ_SECONDS:-30}
sanitizer=${FUZZ_SANITIZER:-address}
all=(raw_hit dns_udp http_fields cache_key disk_formats world_toml scenario_toml)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")

export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz (cargo install cargo-fuzz --locked)" >&2
    cargo install cargo-fuzz --locked
fi

echo "building ${targets[*]} (sanitizer: $sanitizer)" >&2
for t in "${targets[@]}"; do
    cargo fuzz build --sanitizer "$sanitizer" "$t"
done

# Seed corpora: the small ones kept in fuzz/seeds/, and the world and
# scenario files the project ships.
seeds() {
    case "$1" in
        world_toml) mkdir -p corpus/seed-worlds && cp ../scenarios/worlds/*.toml corpus/seed-worlds/ && echo corpus/seed-worlds ;;
        scenario_toml)
            mkdir -p corpus/seed-scenarios
            for f in ../scenarios/*.toml; do [ "$(basename "$f")" = Cargo.toml ] || cp "$f" corpus/seed-scenarios/; done
            echo corpus/seed-scenarios
            ;;
        *) [ -d "seeds/$1" ] && echo "seeds/$1" ;;
    esac
    return 0
}

dict() {
    case "$1" in
        world_toml) echo "-dict=dicts/world.dict" ;;
        scenario_toml) echo "-dict=dicts/scenario.dict" ;;
        *) [ -f "dicts/$1.dict" ] && echo "-dict=dicts/$1.dict" ;;
    esac
    return 0
}

mkdir -p logs
failed=()
summary=()
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    log="logs/$t.log"
    started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
    echo "== $t: ${seconds}s from $started" >&2
    t0=$SECONDS
    # shellcheck disable=SC2046
    if cargo fuzz run --sanitizer "$sanitizer" "$t" "corpus/$t" $(seeds "$t") -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
        -print_final_stats=1 $(dict "$t") >"$log" 2>&1; then
        status=ok
    else
        status=FAILED
        failed+=("$t")
        grep -E "^(==[0-9]+==ERROR|thread .* panicked|SUMMARY|artifact_prefix|Test unit written)" "$log" | head -8 >&2 || true
    fi
    # libFuzzer's own count ("Done N runs in S second(s)"), else the wall time.
    took=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    took=${took:-$((SECONDS - t0))}
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
    rss=$(sed -n 's/^stat::peak_rss_mb: *//p' "$log" | tail -1)
    # libFuzzer's corpus at the end (the directory also keeps replaced inputs).
    corpus=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
    line=$(printf '%-14s %-6s %4ss  execs %-11s exec/s %-7s corpus %-6s peak %sMB  (%s, log fuzz/%s)' \
        "$t" "$status" "$took" "${execs:-?}" "${rate:-?}" "${corpus:-?}" "${rss:-?}" "$started" "$log")
    echo "$line"
    summary+=("$line")
done

echo
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
    echo "failed: ${failed[*]} (inputs in fuzz/artifacts/<target>/; logs in fuzz/logs/)" >&2
    exit 1
fi
