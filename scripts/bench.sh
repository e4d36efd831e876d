#!/usr/bin/env bash
# make bench: the speed and memory of provision against the local emulator,
# each as a ratio measured in this run, with the median of BENCH_RUNS runs.
#
#   (a) pacing: the rate at which the run created profiles (first to last
#       created_at) / the emulator's limit and the share of 429s, with
#       --rate 98 and without --rate (the governor discovers the limit);
#       and the whole run's rows/s / the limit, which also pays for the
#       org's listings (adoption, the sweep: a page per 100 created);
#   (b) the client's own cost against an unlimited emulator: provision run
#       beside a stateless SDK loop and an `xargs -P16 curl` loop;
#   (c) validate beside a bare encoding/csv read, and peak RSS of validate and
#       of run (which must not grow with the input);
#   (d) sync and plan of an export with 1% of its rows changed, beside run
#       of the same export, against an org and a state that hold every user
#       (unlimited emulator); and what the nightly run that finds nothing
#       new spends listing: its catch-up and its sweep, pages and time;
#   (e) adoption of the org of (d): provision adopt with a new state
#       (profiles/s, peak RSS), and a new state's run of the whole export;
#   (f) the state's size on disk after BENCH_STATE_NIGHTS nights over one
#       export of BENCH_STATE_ROWS users (night 1 a run that creates them
#       all, then syncs with 1% of the rows changed every night, the
#       default --keep-runs): bytes a row a retained run beyond the
#       export's own, and bytes a ledger identity (SQLite's dbstat).
#
# (d) and (e) share one org, filled once by a run with --no-adopt whose
# state is the one (d) copies before every command. (d) starts
# BENCH_NIGHT_GAP seconds after the last profile was created, so the
# sweep's window (--clock-margin, 1m) no longer covers them, as on the next
# night; BENCH_QUICK=1 does not wait.
#
# Environment: BENCH_RUNS (default 3), BENCH_QUICK=1 (small inputs, 1 run),
# BENCH_CASES (default "a b c d e f": which of the cases to run),
# BENCH_LIMIT_ROWS, BENCH_COST_ROWS, BENCH_CURL_ROWS, BENCH_VALIDATE_ROWS,
# BENCH_VALIDATE_LARGE_ROWS (validate measured again at this size, 3M) and
# BENCH_VALIDATE_LARGE_RUNS (its runs, BENCH_RUNS by default),
# BENCH_SKIP_RUN_RSS=1 (case (c) without run's peak RSS),
# BENCH_MEM_ROWS_SMALL, BENCH_MEM_ROWS_LARGE, BENCH_SYNC_ROWS (the org of (d)
# and (e)), BENCH_SYNC_CHANGE_EVERY (100: 1% of the rows changed),
# BENCH_NIGHT_GAP (seconds), BENCH_CMD_TIMEOUT (seconds one command of (d)
# or (e) may take before it is killed and its case fails), BENCH_STATE_ROWS,
# BENCH_STATE_NIGHTS (the export and the nights of (f)). Exits 1 if a
# target is missed, 2 on a setup error.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$ROOT/bin/provision

die() { echo "bench: $*" >&2; exit 2; }
note() { echo "  $(date +%T) $*" >&2; }
[ -x "$BIN" ] || die "$BIN is missing; run make build"

if [ "${BENCH_QUICK:-0}" = 1 ]; then
	RUNS=${BENCH_RUNS:-1}
	LIMIT_ROWS=${BENCH_LIMIT_ROWS:-600}
	COST_ROWS=${BENCH_COST_ROWS:-3000}
	CURL_ROWS=${BENCH_CURL_ROWS:-1000}
	VALIDATE_ROWS=${BENCH_VALIDATE_ROWS:-50000}
	VALIDATE_LARGE_ROWS=${BENCH_VALIDATE_LARGE_ROWS:-200000}
	MEM_SMALL=${BENCH_MEM_ROWS_SMALL:-2000}
	MEM_LARGE=${BENCH_MEM_ROWS_LARGE:-20000}
	SYNC_ROWS=${BENCH_SYNC_ROWS:-10000}
	NIGHT_GAP=${BENCH_NIGHT_GAP:-0}
	STATE_ROWS=${BENCH_STATE_ROWS:-5000}
	STATE_NIGHTS=${BENCH_STATE_NIGHTS:-4}
else
	RUNS=${BENCH_RUNS:-3}
	LIMIT_ROWS=${BENCH_LIMIT_ROWS:-3000}
	COST_ROWS=${BENCH_COST_ROWS:-20000}
	CURL_ROWS=${BENCH_CURL_ROWS:-2000} # a process per request: its rate does not depend on N
	VALIDATE_ROWS=${BENCH_VALIDATE_ROWS:-400000}
	VALIDATE_LARGE_ROWS=${BENCH_VALIDATE_LARGE_ROWS:-3000000}
	MEM_SMALL=${BENCH_MEM_ROWS_SMALL:-10000}
	MEM_LARGE=${BENCH_MEM_ROWS_LARGE:-100000}
	SYNC_ROWS=${BENCH_SYNC_ROWS:-100000}
	NIGHT_GAP=${BENCH_NIGHT_GAP:-65}
	STATE_ROWS=${BENCH_STATE_ROWS:-50000}
	STATE_NIGHTS=${BENCH_STATE_NIGHTS:-10}
fi
CHANGE_EVERY=${BENCH_SYNC_CHANGE_EVERY:-100}
VALIDATE_LARGE_RUNS=${BENCH_VALIDATE_LARGE_RUNS:-$RUNS}
CMD_TIMEOUT=${BENCH_CMD_TIMEOUT:-900}
CASES=${BENCH_CASES:-a b c d e f}
for c in $CASES; do
	case $c in a | b | c | d | e | f) ;; *) die "BENCH_CASES: unknown case '$c' (use a, b, c, d, e and f)" ;; esac
done
want() { [[ " $CASES " == *" $1 "* ]]; }
for v in RUNS LIMIT_ROWS COST_ROWS CURL_ROWS VALIDATE_ROWS VALIDATE_LARGE_ROWS VALIDATE_LARGE_RUNS MEM_SMALL MEM_LARGE SYNC_ROWS CHANGE_EVERY CMD_TIMEOUT STATE_ROWS STATE_NIGHTS; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, got '${!v}'"
done
[[ $NIGHT_GAP =~ ^[0-9]+$ ]] || die "BENCH_NIGHT_GAP must be a number of seconds, got '$NIGHT_GAP'"

# The emulator of (a): 100 requests/s, burst 10, 20 ms per answer.
LIMIT=100
LIMIT_EMU=(--rate "$LIMIT" --burst 10 --latency 20ms)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/provision-bench.XXXXXX")
EMU_PID=""
URL=""
stop_emulator() {
	if [ -n "$EMU_PID" ]; then
		kill "$EMU_PID" 2>/dev/null || true
		wait "$EMU_PID" 2>/dev/null || true
		EMU_PID=""
	fi
}
cleanup() {
	stop_emulator
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

export ANTHROPIC_API_KEY=bench-key
unset ANTHROPIC_BASE_URL

# start_emulator ARGS...: a fresh emulator on a free port; sets URL.
start_emulator() {
	stop_emulator
	local out=$TMP/emulator.out
	: >"$out"
	"$BIN" emulator --addr 127.0.0.1:0 "$@" >"$out" 2>"$TMP/emulator.err" &
	EMU_PID=$!
	for _ in $(seq 100); do
		grep -q '^listening on ' "$out" && break
		kill -0 "$EMU_PID" 2>/dev/null || break
		sleep 0.05
	done
	URL=$(sed -n 's/^listening on //p' "$out" | head -1)
	[ -n "$URL" ] || { cat "$TMP/emulator.err" >&2; die "the emulator did not start"; }
}

# emulator_get PATH: the body of GET PATH from the emulator, over bash's
# /dev/tcp so curl is not needed.
emulator_get() {
	local hostport=${URL#http://} body
	exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || die "cannot reach the emulator at $URL"
	printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "$1" "$hostport" >&3
	body=$(cat <&3)
	exec 3<&-
	printf '%s\n' "${body#*$'\r\n\r\n'}"
}

# stats: the emulator's counters.
stats() {
	local body
	body=$(emulator_get /_emulator/stats)
	[[ $body == *'"requests"'* ]] || die "unexpected answer from $URL/_emulator/stats: $body"
	printf '%s\n' "$body"
}

# profiles: every profile the emulator holds, as a JSON array.
profiles() { emulator_get /_emulator/profiles; }

# jnum KEY: the first number under "KEY" in the JSON on stdin.
jnum() {
	local v
	v=$(grep -o "\"$1\": *[0-9.eE+-]*" | head -1 | sed 's/.*: *//')
	[ -n "$v" ] || die "no \"$1\" in the JSON"
	printf '%s\n' "$v"
}
# field NAME: the number after the word NAME on stdin (the bench tools' output).
field() { awk -v k="$1" '{for (i = 1; i < NF; i++) if ($i == k) {print $(i+1); exit}}'; }
calc() { awk "BEGIN {printf \"%.6g\", $*}"; }
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {if (NR % 2) print a[(NR+1)/2]; else printf "%.6g\n", (a[NR/2] + a[NR/2+1]) / 2}'; }
num() { awk -v x="$1" -v f="$2" 'BEGIN {printf f, x}'; }

# provision_run FILE DIR FLAGS...: a run with a fresh state in DIR, under the
# command prefix WRAP (if any); the summary is DIR/summary.json. A usage error
# or an early stop is a setup error.
WRAP=()
provision_run() {
	local file=$1 dir=$2
	shift 2
	rm -rf "$dir"
	mkdir -p "$dir"
	local code=0
	${WRAP[@]+"${WRAP[@]}"} "$BIN" run "$file" --base-url "$URL" --state "$dir/state.db" --report "$dir/report.csv" \
		--summary-json "$dir/summary.json" --progress never --quiet "$@" >"$dir/stdout" 2>"$dir/stderr" || code=$?
	if [ "$code" -ge 2 ]; then
		{
			echo "--- stdout of provision run"
			cat "$dir/stdout"
			echo "--- stderr of provision run"
			tail -20 "$dir/stderr"
			echo "--- stderr of the emulator ($(kill -0 "$EMU_PID" 2>/dev/null && echo running || echo gone))"
			tail -5 "$TMP/emulator.err"
		} >&2
		die "provision run exited $code"
	fi
	[ "$code" = 0 ] || echo "  warning: provision run exited $code: $(cat "$dir/stdout")" >&2
}

RESULTS=$TMP/results
: >"$RESULTS"
# info CASE METRIC VALUE: a row of the final table with no target.
info() { printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "-" "-" >>"$RESULTS"; }
# result CASE METRIC VALUE OP TARGET: one row of the final table.
result() {
	local verdict
	verdict=$(awk -v v="$3" -v op="$4" -v t="$5" 'BEGIN {
		ok = (op == ">=") ? v >= t : (op == "<=") ? v <= t : (op == ">") ? v > t : (op == "<") ? v < t : 0
		print ok ? "PASS" : "FAIL" }')
	printf '%s\t%s\t%s\t%s %s\t%s\n' "$1" "$2" "$3" "$4" "$5" "$verdict" >>"$RESULTS"
}

echo "provision bench: $(git describe --tags --always --dirty 2>/dev/null || echo dev), $(go version | cut -d' ' -f3), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg), runs $RUNS (median)"

# Tools and inputs.
go build -o "$TMP/tools/" ./bench/... || die "building bench/ failed"
GEN=$TMP/tools/gen
if want a; then "$GEN" -n "$LIMIT_ROWS" -o "$TMP/limit.csv" -prefix lim; fi
if want b; then "$GEN" -n "$COST_ROWS" -o "$TMP/cost.csv" -prefix cost; fi
if want c; then
	"$GEN" -n "$VALIDATE_ROWS" -o "$TMP/validate.csv" -prefix val
	"$GEN" -n "$MEM_SMALL" -o "$TMP/mem-small.csv" -prefix mems
	"$GEN" -n "$MEM_LARGE" -o "$TMP/mem-large.csv" -prefix meml
fi
if want f; then
	"$GEN" -n "$STATE_ROWS" -o "$TMP/state-base.csv" -prefix st
	"$GEN" -n "$STATE_ROWS" -o "$TMP/state-changed.csv" -prefix st -change-every "$CHANGE_EVERY"
fi
if want d || want e; then
	"$GEN" -n "$SYNC_ROWS" -o "$TMP/sync-base.csv" -prefix sync
	"$GEN" -n "$SYNC_ROWS" -o "$TMP/sync-changed.csv" -prefix sync -change-every "$CHANGE_EVERY"
fi

# (a) pacing against a limited emulator.
limit_case() {
	local name=$1 label=$2
	shift 2
	local ratios="" paces="" shares="" i s0 s1 req rl created el pace
	for i in $(seq "$RUNS"); do
		note "(a) $label: run $i of $RUNS"
		start_emulator "${LIMIT_EMU[@]}"
		s0=$(stats)
		provision_run "$TMP/limit.csv" "$TMP/run" "$@"
		s1=$(stats)
		pace=$(profiles | "$TMP/tools/createrate") || die "createrate failed"
		stop_emulator
		created=$(jnum created <"$TMP/run/summary.json")
		el=$(jnum elapsed_seconds <"$TMP/run/summary.json")
		req=$(($(jnum requests <<<"$s1") - $(jnum requests <<<"$s0")))
		[ "$req" -gt 0 ] || die "the emulator saw no request"
		rl=$(($(jnum rate_limited <<<"$s1") - $(jnum rate_limited <<<"$s0")))
		[ "$created" = "$LIMIT_ROWS" ] || echo "  warning: $created of $LIMIT_ROWS rows created" >&2
		ratios="$ratios $(calc "$created / $el / $LIMIT")"
		paces="$paces $(calc "$(field creates_per_second <<<"$pace") / $LIMIT")"
		shares="$shares $(calc "$rl / $req")"
	done
	local r p s
	r=$(median <<<"$ratios")
	p=$(median <<<"$paces")
	s=$(median <<<"$shares")
	printf '(a) %-22s %s rows vs %s/s limit: created at %s x limit, whole run %s x limit, 429 share %s%%   [runs: %s |%s |%s]\n' "$label" "$LIMIT_ROWS" "$LIMIT" \
		"$(num "$p" %.3f)" "$(num "$r" %.3f)" "$(num "$(calc "$s * 100")" %.2f)" "$paces" "$ratios" "$shares"
	echo "$p $r $s" >"$TMP/$name"
}
if want a; then
	limit_case a-rate "--rate 98" --rate 98
	read -r p r s <"$TMP/a-rate"
	result "(a) --rate 98" "creates/s / limit" "$(num "$p" %.3f)" ">=" 0.97
	result "(a) --rate 98" "whole run rows/s / limit" "$(num "$r" %.3f)" ">=" 0.95
	result "(a) --rate 98" "429 share" "$(num "$s" %.4f)" "<=" 0
	limit_case a-adaptive "adaptive (no --rate)"
	read -r p r s <"$TMP/a-adaptive"
	result "(a) adaptive" "creates/s / limit" "$(num "$p" %.3f)" ">=" 0.90
	result "(a) adaptive" "429 share" "$(num "$s" %.4f)" "<=" 0.05
	info "(a) adaptive" "whole run rows/s / limit" "$(num "$r" %.3f)"
fi

# (b) the client's own cost: an unlimited emulator with no latency.
cost_case() {
	prov="" sdk="" crl=""
	for i in $(seq "$RUNS"); do
		note "(b) client cost: run $i of $RUNS"
		start_emulator
		provision_run "$TMP/cost.csv" "$TMP/run" --concurrency 16
		created=$(jnum created <"$TMP/run/summary.json")
		[ "$created" = "$COST_ROWS" ] || echo "  warning: $created of $COST_ROWS rows created" >&2
		prov="$prov $(calc "$created / $(jnum elapsed_seconds <"$TMP/run/summary.json")")"

		start_emulator
		out=$("$TMP/tools/sdkloop" -url "$URL" -n "$COST_ROWS" -c 16) || die "sdkloop failed: $out"
		sdk="$sdk $(field rows_per_second <<<"$out")"

		if command -v curl >/dev/null; then
			start_emulator
			t0=$(date +%s.%N)
			seq "$CURL_ROWS" | xargs -P16 -I{} curl -s -o /dev/null -w '%{http_code}\n' -X POST "$URL/v1/user_profiles" \
				-H 'x-api-key: bench-key' -H 'anthropic-version: 2023-06-01' -H 'anthropic-beta: user-profiles-2026-03-24' \
				-H 'content-type: application/json' \
				-d '{"external_id":"curl-{}","name":"Ada Lovelace","relationship":"external","metadata":{"plan":"pro","region":"eu"}}' \
				>"$TMP/curl.codes"
			t1=$(date +%s.%N)
			ok=$(grep -c '^200$' "$TMP/curl.codes" || true)
			[ "$ok" = "$CURL_ROWS" ] || echo "  warning: curl created $ok of $CURL_ROWS" >&2
			crl="$crl $(calc "$ok / ($t1 - $t0)")"
		fi
		stop_emulator
	done
	P=$(median <<<"$prov")
	S=$(median <<<"$sdk")
	printf '(b) client cost, unlimited emulator:   provision run %s rows/s (%s rows, --concurrency 16)   [runs:%s]\n' "$(num "$P" %.0f)" "$COST_ROWS" "$prov"
	printf '(b)                                    SDK loop, 16 goroutines %s rows/s   [runs:%s]\n' "$(num "$S" %.0f)" "$sdk"
	result "(b) run vs SDK loop" "provision / SDK loop" "$(num "$(calc "$P / $S")" %.3f)" ">=" 0.8
	if [ -n "$crl" ]; then
		C=$(median <<<"$crl")
		printf '(b)                                    xargs -P16 curl %s rows/s (%s rows)   [runs:%s]\n' "$(num "$C" %.0f)" "$CURL_ROWS" "$crl"
		result "(b) run vs xargs curl" "provision / curl" "$(num "$(calc "$P / $C")" %.2f)" ">" 3
	else
		echo "(b) xargs -P16 curl: SKIPPED, curl is not installed"
		printf '%s\t%s\t%s\t%s\t%s\n' "(b) run vs xargs curl" "provision / curl" "-" "> 3" "SKIP (no curl)" >>"$RESULTS"
	fi
}
if want b; then cost_case; fi

# (c) validate beside a bare encoding/csv read; peak RSS of validate and run.
# run_rss FILE ROWS: peak RSS of runs over FILE in MiB, into RSS_LIST.
run_rss() {
	local file=$1 rows=$2 i created
	RSS_LIST=""
	for i in $(seq "$RUNS"); do
		note "(c) run peak RSS, $rows rows: run $i of $RUNS"
		start_emulator
		WRAP=("$TMP/tools/peakrss" -o "$TMP/rss" --)
		provision_run "$file" "$TMP/run" --concurrency 16
		WRAP=()
		stop_emulator
		created=$(jnum created <"$TMP/run/summary.json")
		[ "$created" = "$rows" ] || echo "  warning: $created of $rows rows created" >&2
		RSS_LIST="$RSS_LIST $(calc "$(field max_rss_kib <"$TMP/rss") / 1024")"
	done
}
# validate_case FILE ROWS RUNS: validate over FILE, the whole process with
# its report written (peakrss's wall time), beside the floor, bench/csvread
# (encoding/csv with ReuseRecord, its default) over the same file, also the
# whole process; alternating, RUNS times each. Targets: at most 3 times the
# floor, at most 64 MiB peak RSS.
validate_case() {
	local file=$1 rows=$2 runs=$3 i code total val="" floor="" ratios="" vrss="" V F R VR
	for i in $(seq "$runs"); do
		note "(c) validate $rows rows: run $i of $runs"
		rm -f "$TMP/v.json" "$TMP/v-report.csv"
		code=0
		"$TMP/tools/peakrss" -o "$TMP/rss" -- "$BIN" validate "$file" --report "$TMP/v-report.csv" \
			--summary-json "$TMP/v.json" --progress never --quiet >/dev/null 2>"$TMP/v.err" || code=$?
		[ "$code" -le 1 ] || { cat "$TMP/v.err" >&2; die "provision validate exited $code"; }
		total=$(jnum total <"$TMP/v.json")
		[ "$total" = "$rows" ] || die "validate reported $total rows of $rows"
		V=$(field elapsed_seconds <"$TMP/rss")
		val="$val $V"
		vrss="$vrss $(calc "$(field max_rss_kib <"$TMP/rss") / 1024")"
		rm -f "$TMP/v-report.csv"
		"$TMP/tools/peakrss" -o "$TMP/rss" -- "$TMP/tools/csvread" "$file" >/dev/null || die "csvread failed"
		F=$(field elapsed_seconds <"$TMP/rss")
		floor="$floor $F"
		ratios="$ratios $(calc "$V / $F")"
	done
	V=$(median <<<"$val")
	F=$(median <<<"$floor")
	R=$(calc "$V / $F")
	VR=$(median <<<"$vrss")
	printf '(c) validate %s rows: %s s; bare encoding/csv read with ReuseRecord %s s (x%s; per run x%s); peak RSS %s MiB   [runs:%s |%s |%s]\n' \
		"$rows" "$(num "$V" %.3f)" "$(num "$F" %.3f)" "$(num "$R" %.2f)" "$(num "$(median <<<"$ratios")" %.2f)" "$(num "$VR" %.1f)" "$val" "$floor" "$vrss"
	result "(c) validate vs csv read" "time x floor, ${rows} rows" "$(num "$R" %.2f)" "<=" 3
	result "(c) validate peak RSS" "MiB at ${rows} rows" "$(num "$VR" %.1f)" "<=" 64
}
memory_case() {
	validate_case "$TMP/validate.csv" "$VALIDATE_ROWS" "$RUNS"
	"$GEN" -n "$VALIDATE_LARGE_ROWS" -o "$TMP/validate-large.csv" -prefix vall
	validate_case "$TMP/validate-large.csv" "$VALIDATE_LARGE_ROWS" "$VALIDATE_LARGE_RUNS"
	rm -f "$TMP/validate-large.csv"
	if [ "${BENCH_SKIP_RUN_RSS:-0}" = 1 ]; then
		note "(c) run peak RSS: skipped (BENCH_SKIP_RUN_RSS=1)"
		return
	fi

	run_rss "$TMP/mem-small.csv" "$MEM_SMALL"
	small=$RSS_LIST
	run_rss "$TMP/mem-large.csv" "$MEM_LARGE"
	large=$RSS_LIST
	RS=$(median <<<"$small")
	RL=$(median <<<"$large")
	printf '(c) run peak RSS: %s rows %s MiB, %s rows %s MiB (x%s for x%s the rows)   [runs:%s |%s]\n' \
		"$MEM_SMALL" "$(num "$RS" %.1f)" "$MEM_LARGE" "$(num "$RL" %.1f)" "$(num "$(calc "$RL / $RS")" %.2f)" "$(calc "$MEM_LARGE / $MEM_SMALL")" "$small" "$large"
	result "(c) run peak RSS growth" "RSS(${MEM_LARGE}) / RSS(${MEM_SMALL})" "$(num "$(calc "$RL / $RS")" %.2f)" "<=" 1.5
	result "(c) run peak RSS" "MiB at ${MEM_LARGE} rows" "$(num "$RL" %.1f)" "<=" 128
}
if want c; then memory_case; fi

# (d) and (e): one org of SYNC_ROWS profiles, and the state that made it.
# measure NAME DIR ARGS...: provision ARGS with the state DIR/state.db, under
# peakrss (killed after CMD_TIMEOUT), JSON logs in DIR/stderr; sets ELAPSED
# (seconds), RSS (MiB) and KILLED ("" or " (killed)"). A timeout is
# reported and counts as its elapsed time; any other exit code above 1 is a
# setup error.
measure() {
	local name=$1 dir=$2
	shift 2
	local code=0
	"$TMP/tools/peakrss" -timeout "${CMD_TIMEOUT}s" -o "$dir/rss" -- "$BIN" "$@" --base-url "$URL" --state "$dir/state.db" \
		--log-format json >"$dir/stdout" 2>"$dir/stderr" || code=$?
	ELAPSED=$(field elapsed_seconds <"$dir/rss")
	RSS=$(calc "$(field max_rss_kib <"$dir/rss") / 1024")
	KILLED=""
	if [ "$(field timed_out <"$dir/rss")" = 1 ]; then
		KILLED=" (killed)"
		echo "  warning: $name was killed after ${CMD_TIMEOUT}s (BENCH_CMD_TIMEOUT); its last log line: $(grep -v '^peakrss:' "$dir/stderr" | tail -1 | cut -c1-200)" >&2
		return
	fi
	if [ "$code" -ge 2 ]; then
		{
			echo "--- provision $name exited $code"
			tail -20 "$dir/stderr"
		} >&2
		die "provision $name exited $code"
	fi
}
# fresh DIR [STATE]: an empty DIR holding a copy of STATE (if given).
fresh() {
	rm -rf "$1"
	mkdir -p "$1"
	if [ -n "${2:-}" ]; then cp "$2" "$1/state.db"; fi
}
# listed WHAT DIR: "pages seconds" of the listing whose log line starts with
# WHAT ("catch-up", "sweep", "adoption"), from DIR/stderr.
listed() {
	local line
	line=$(grep "\"msg\":\"$1:" "$2/stderr" | tail -1)
	[ -n "$line" ] || { echo "0 0"; return; }
	printf '%s %s\n' "$(jnum pages <<<"$line")" "$(sed 's/.*"elapsed":"\([^"]*\)".*/\1/' <<<"$line" | awk '{
		s = 0; v = $0
		while (match(v, /^[0-9.]+(ns|us|µs|ms|s|m|h)/)) {
			t = substr(v, 1, RLENGTH); v = substr(v, RLENGTH + 1)
			match(t, /[a-zµ]+$/); u = substr(t, RSTART); n = substr(t, 1, RSTART - 1) + 0
			s += (u == "h") ? n * 3600 : (u == "m") ? n * 60 : (u == "s") ? n : (u == "ms") ? n / 1e3 : (u == "ns") ? n / 1e9 : n / 1e6
		}
		printf "%.3f", s }')"
}
ORG_FILLED=""
fill_org() {
	[ -z "$ORG_FILLED" ] || return 0
	note "(d/e) filling the org: $SYNC_ROWS profiles, provision run --no-adopt"
	start_emulator
	provision_run "$TMP/sync-base.csv" "$TMP/org" --no-adopt --concurrency 16
	local created
	created=$(jnum created <"$TMP/org/summary.json")
	[ "$created" = "$SYNC_ROWS" ] || die "filling the org created $created of $SYNC_ROWS profiles"
	printf '(d/e) the org: provision run --no-adopt created %s profiles at %s rows/s\n' "$SYNC_ROWS" \
		"$(num "$(jnum rows_per_second <"$TMP/org/summary.json")" %.0f)"
	cp "$TMP/org/state.db" "$TMP/org.db"
	ORG_FILLED=$(date +%s)
}

sync_case() {
	fill_org
	local wait=$((ORG_FILLED + NIGHT_GAP - $(date +%s)))
	if [ "$wait" -gt 0 ]; then
		note "(d) waiting ${wait}s: BENCH_NIGHT_GAP after the last profile was created"
		sleep "$wait"
	fi
	local i s0 s1 tr tp ts pk="" sk="" updated changes p e k
	local sync_r="" plan_r="" runs="" plans="" syncs="" rss="" cu_p="" cu_s="" sw_p="" sw_s="" reqs=""
	changes=$((SYNC_ROWS / CHANGE_EVERY))
	for i in $(seq "$RUNS"); do
		note "(d) run, plan and sync of $SYNC_ROWS rows, $changes changed: run $i of $RUNS"
		fresh "$TMP/d-run" "$TMP/org.db"
		s0=$(stats)
		measure run "$TMP/d-run" run "$TMP/sync-changed.csv" --report "$TMP/d-run/report.csv" --summary-json "$TMP/d-run/summary.json" \
			--progress never --quiet --concurrency 16
		s1=$(stats)
		tr=$ELAPSED
		[ "$(($(jnum created <<<"$s1") - $(jnum created <<<"$s0")))" = 0 ] || echo "  warning: the nightly run created profiles" >&2
		reqs="$reqs $(($(jnum requests <<<"$s1") - $(jnum requests <<<"$s0")))"
		read -r p e < <(listed catch-up "$TMP/d-run")
		cu_p="$cu_p $p"
		cu_s="$cu_s $e"
		read -r p e < <(listed sweep "$TMP/d-run")
		sw_p="$sw_p $p"
		sw_s="$sw_s $e"

		fresh "$TMP/d-plan" "$TMP/org.db"
		s0=$(stats)
		measure plan "$TMP/d-plan" plan "$TMP/sync-changed.csv" --report "$TMP/d-plan/report.csv" --summary-json "$TMP/d-plan/summary.json" \
			--progress never --quiet --concurrency 16
		s1=$(stats)
		tp=$ELAPSED
		pk=$KILLED
		for k in created updated deleted; do
			[ "$(jnum "$k" <<<"$s0")" = "$(jnum "$k" <<<"$s1")" ] || echo "  warning: the plan changed the org's \"$k\" count" >&2
		done

		fresh "$TMP/d-sync" "$TMP/org.db"
		measure sync "$TMP/d-sync" sync "$TMP/sync-changed.csv" --report "$TMP/d-sync/report.csv" --summary-json "$TMP/d-sync/summary.json" \
			--progress never --quiet --concurrency 16
		ts=$ELAPSED
		sk=$KILLED
		rss="$rss $RSS"
		updated=0
		if [ -f "$TMP/d-sync/summary.json" ]; then updated=$(jnum updated <"$TMP/d-sync/summary.json"); fi
		[ "$updated" = "$changes" ] || echo "  warning: the sync updated $updated of $changes changed rows" >&2

		runs="$runs $tr"
		plans="$plans $tp"
		syncs="$syncs $ts"
		sync_r="$sync_r $(calc "$ts / $tr")"
		plan_r="$plan_r $(calc "$tp / $tr")"
	done
	local SR PR RR PP SS RS
	SR=$(median <<<"$sync_r")
	PR=$(median <<<"$plan_r")
	RR=$(median <<<"$runs")
	PP=$(median <<<"$plans")
	SS=$(median <<<"$syncs")
	RS=$(median <<<"$rss")
	printf '(d) %s rows, %s changed: run %s s, plan %s s%s (x%s), sync %s s%s (x%s, peak RSS %s MiB)   [runs:%s |%s |%s]\n' \
		"$SYNC_ROWS" "$changes" "$(num "$RR" %.1f)" "$(num "$PP" %.1f)" "$pk" "$(num "$PR" %.2f)" "$(num "$SS" %.1f)" "$sk" "$(num "$SR" %.2f)" \
		"$(num "$RS" %.1f)" "$runs" "$plans" "$syncs"
	result "(d) sync / run" "wall time, ${changes} changed" "$(num "$SR" %.2f)" "<=" 1.5
	result "(d) plan / run" "wall time, ${changes} changed" "$(num "$PR" %.2f)" "<=" 1.5
	result "(d) sync peak RSS" "MiB at ${SYNC_ROWS} rows" "$(num "$RS" %.1f)" "<=" 128
	local CP CS WP WS RQ
	CP=$(median <<<"$cu_p")
	CS=$(median <<<"$cu_s")
	WP=$(median <<<"$sw_p")
	WS=$(median <<<"$sw_s")
	RQ=$(median <<<"$reqs")
	printf '(d) nightly run, nothing new: %s s; catch-up %s page(s) in %s s, sweep %s page(s) in %s s; %s requests   [catch-up pages:%s |sweep pages:%s]\n' \
		"$(num "$RR" %.1f)" "$CP" "$(num "$CS" %.2f)" "$WP" "$(num "$WS" %.3f)" "$RQ" "$cu_p" "$sw_p"
	info "(d) nightly catch-up" "pages (s)" "$CP ($(num "$CS" %.1f))"
	if [ "$NIGHT_GAP" -ge 61 ]; then
		result "(d) nightly sweep" "pages" "$WP" "<=" 2
	else
		info "(d) nightly sweep" "pages (no night gap)" "$WP"
	fi
}
if want d; then sync_case; fi

adopt_case() {
	fill_org
	local i rates="" rss="" runs="" runrss="" adopted
	for i in $(seq "$RUNS"); do
		note "(e) adoption of $SYNC_ROWS profiles: run $i of $RUNS"
		fresh "$TMP/e-adopt"
		measure adopt "$TMP/e-adopt" adopt
		adopted=$(sed -n 's/.*: \([0-9]*\) adopted.*/\1/p' "$TMP/e-adopt/stdout")
		[ "$adopted" = "$SYNC_ROWS" ] || echo "  warning: adopt adopted ${adopted:-none} of $SYNC_ROWS profiles" >&2
		rates="$rates $(calc "${adopted:-0} / $ELAPSED")"
		rss="$rss $RSS"

		fresh "$TMP/e-run"
		measure "run (new state)" "$TMP/e-run" run "$TMP/sync-base.csv" --report "$TMP/e-run/report.csv" \
			--summary-json "$TMP/e-run/summary.json" --progress never --quiet --concurrency 16
		if [ ! -f "$TMP/e-run/summary.json" ] || [ "$(jnum skipped <"$TMP/e-run/summary.json")" != "$SYNC_ROWS" ]; then
			echo "  warning: the new state's run did not skip every row" >&2
		fi
		runs="$runs $ELAPSED"
		runrss="$runrss $RSS"
	done
	local AR AM RT RM
	AR=$(median <<<"$rates")
	AM=$(median <<<"$rss")
	RT=$(median <<<"$runs")
	RM=$(median <<<"$runrss")
	printf '(e) adopt %s profiles: %s profiles/s, peak RSS %s MiB; a new state'"'"'s run of the export (adopts, then skips all): %s s, peak RSS %s MiB   [runs:%s |%s]\n' \
		"$SYNC_ROWS" "$(num "$AR" %.0f)" "$(num "$AM" %.1f)" "$(num "$RT" %.1f)" "$(num "$RM" %.1f)" "$rates" "$runs"
	result "(e) adopt" "profiles/s" "$(num "$AR" %.0f)" ">=" 5000
	result "(e) adopt peak RSS" "MiB at ${SYNC_ROWS} profiles" "$(num "$AM" %.1f)" "<=" 128
	result "(e) new state's run RSS" "MiB at ${SYNC_ROWS} rows" "$(num "$RM" %.1f)" "<=" 128
}
if want e; then adopt_case; fi

# (f) the state's size on disk: one pass, its figures do not vary.
state_case() {
	local night input verb first all
	start_emulator
	for night in $(seq "$STATE_NIGHTS"); do
		note "(f) night $night of $STATE_NIGHTS over $STATE_ROWS users"
		verb=sync
		input=$TMP/state-changed.csv
		if [ "$night" = 1 ]; then verb=run; fi
		if [ $((night % 2)) = 1 ]; then input=$TMP/state-base.csv; fi
		code=0
		"$BIN" "$verb" "$input" --base-url "$URL" --state "$TMP/f-state.db" --report "$TMP/f-report.csv" --progress never --quiet \
			--concurrency 16 >"$TMP/f.out" 2>"$TMP/f.err" || code=$?
		[ "$code" = 0 ] || { tail -5 "$TMP/f.err" >&2; die "(f) night $night: provision $verb exited $code"; }
		if [ "$night" = 1 ]; then first=$("$TMP/tools/statesize" -state "$TMP/f-state.db" -input "$TMP/state-base.csv") || die "statesize failed"; fi
	done
	stop_emulator
	all=$("$TMP/tools/statesize" -state "$TMP/f-state.db" -input "$TMP/state-base.csv") || die "statesize failed"
	local in rows rb runs ids lb fb beyond first_beyond per_id
	in=$(field input_bytes_per_row <<<"$all")
	rows=$(field rows <<<"$all")
	rb=$(field row_bytes <<<"$all")
	runs=$(field runs_with_rows <<<"$all")
	ids=$(field identities <<<"$all")
	lb=$(field ledger_bytes <<<"$all")
	fb=$(field file_bytes <<<"$all")
	beyond=$(calc "$rb / $rows - $in")
	first_beyond=$(calc "$(field row_bytes <<<"$first") / $(field rows <<<"$first") - $in")
	per_id=$(calc "$lb / $ids")
	printf '(f) state after %s nights over %s users (%s runs kept): %s MB; rows %s bytes a row a run (export %s, so %s beyond it; %s on the night that created them all), ledger %s bytes an identity\n' \
		"$STATE_NIGHTS" "$STATE_ROWS" "$runs" "$(num "$(calc "$fb / 1e6")" %.1f)" "$(num "$(calc "$rb / $rows")" %.1f)" "$(num "$in" %.1f)" \
		"$(num "$beyond" %.1f)" "$(num "$first_beyond" %.1f)" "$(num "$per_id" %.1f)"
	result "(f) state rows" "bytes/row/run beyond input" "$(num "$beyond" %.1f)" "<=" 64
	result "(f) state ledger" "bytes/identity" "$(num "$per_id" %.1f)" "<=" 100
	info "(f) state file" "bytes/user, ${runs} runs kept" "$(num "$(calc "$fb / $ids")" %.0f)"
}
if want f; then state_case; fi
stop_emulator

echo
{
	printf 'case\tmetric\tmedian\ttarget\tresult\n'
	cat "$RESULTS"
} | awk -F'\t' '{printf "%-26s %-28s %-9s %-7s %s\n", $1, $2, $3, $4, $5}'
fails=$(grep -c $'\tFAIL$' "$RESULTS" || true)
echo
if [ "$fails" -gt 0 ]; then
	echo "bench: $fails of $(grep -c -v $'\t-$' "$RESULTS") targets missed"
	exit 1
fi
echo "bench: every target met"
