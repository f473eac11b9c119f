#!/usr/bin/env bash
# bench/scale.sh — `make bench-scale`: ragload from archive to evaluated corpus at growing corpus
# sizes, written to reports/bench/scale.json, scale.md and scale.svg.
#
#   SCALE_SIZES=125k,500k         (the default: 29 minutes here; any of 125k, 250k, 500k, 1M,
#                                 comma-separated: 1M alone takes 51; a path to an archive of
#                                 one's own works too)
#   SCALE_QUERIES=200             queries per evaluation (sentences of the corpus's own chunks)
#   SCALE_QUERY_FROM=real         ... of its real documentation (real) or of every chunk (all)
#   BUILD, SCALE_KEEP=1 (keep the scratch database bench_scale_SIZE)
#
# Each size, in a fresh database made by `ragload init`, all alone on the machine:
#   load   `ragload ingest ARCHIVE` into the empty corpus: read, normalize, chunk, model fit,
#          embed, COPY, ANALYZE (load_fit: the model-fit part of it, from the summary)
#   index  `ragload index`: every index it builds by default (HNSW, IVFFlat, full text), each
#          one's build time and size as ragload_indexes records them
#   eval   `ragload eval` with SCALE_QUERIES queries: exact top-10 (every vector fetched once),
#          then each index's sweep (recall@10, p99 latency, QPS on one connection)
# The corpora come from datasets/make-scale-corpus.sh (made once, cached outside the repository;
# making them is not timed here). Peak RSS of each stage is its ragload process's (GNU time's
# maximum resident set size; the ingest's own summary says the same).
#
# scale.json: {"machine": {...}, "sizes": [{"chunks", "documents", "archive", "archive_mb",
# "seconds": {STAGE: s}, "peak_rss_mb" (the load's), "peak_rss_mb_by_stage", "table_mb",
# "indexes": [{"index", "storage", "build", "build_s", "size_mb", "best": {"recall@10", "p99_ms",
# "qps", "search"}}]}], "exponents": {STAGE: e}}. An index row is one (index, storage, build
# setting) of eval's results.json; "storage" is the row's own when eval reports one, else what the
# index kind stores (vector for HNSW and IVFFlat): so indexes that `ragload index` learns to build
# appear with nothing changed here. "best" is the setting with the most QPS among those reaching
# recall@10 0.95 (SCALE_RECALL), else the one with the highest recall (then "reached": false);
# the full-text index has build time and size, and "best": null (it has no vector recall).
# An exponent is the least-squares slope of log(seconds) over log(chunks) across the sizes
# measured (1.0: linear); with one size there is none (null). Each size's whole eval results.json
# (every setting of the sweep) is kept beside them as scale-eval-bench_scale_SIZE.json.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BUILD=${BUILD:-build}
case "$BUILD" in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
RAGLOAD=$BUILD/ragload
OUT=$ROOT/reports/bench
SIZES=${SCALE_SIZES:-125k,500k}
NQ=${SCALE_QUERIES:-200}
RECALL=${SCALE_RECALL:-0.95}
START=$EPOCHREALTIME

log() { printf 'bench-scale: %s\n' "$*" >&2; }
die() { printf 'bench-scale: error: %s\n' "$*" >&2; exit 1; }
calc() { awk "BEGIN { printf \"%.6g\", $* }"; }
since() { calc "$EPOCHREALTIME - $1"; }

[ -x "$RAGLOAD" ] || die "build first: make bench-scale"
for tool in jq:jq time:/usr/bin/time; do
  [ -x "$(command -v "${tool#*:}")" ] && continue
  log "installing ${tool%%:*}"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${tool%%:*}" >/dev/null ||
    die "cannot install ${tool%%:*} (apt-get install ${tool%%:*})"
done
"$ROOT/run.sh" env >/dev/null 2>&1 || "$ROOT/run.sh" setup >/dev/null
eval "$("$ROOT/run.sh" env)"
if ! psql -X -q -d postgres -c 'SELECT 1' >/dev/null 2>&1; then
  "$ROOT/run.sh" setup >/dev/null; eval "$("$ROOT/run.sh" env)"
fi
export PGOPTIONS="-c client_min_messages=warning"
sql() { psql -X -qtA -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ragload-scale.XXXXXX")
DB=""
cleanup() {
  rm -rf "$WORK"
  if [ -n "$DB" ] && [ "${SCALE_KEEP:-0}" != 1 ]; then dropdb --if-exists "$DB" 2>/dev/null || true; fi
}
trap cleanup EXIT

# ---- machine -----------------------------------------------------------------------------------
machine=$(jq -n \
  --arg cpu "$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)" \
  --arg cpu_id "$(awk -F': ' '/^cpu family/ {f = $2} /^model\t/ {m = $2} /^stepping/ {s = $2} END {printf "family %s model %s stepping %s", f, m, s}' /proc/cpuinfo)" \
  --arg cpu_simd "$(grep -o -w -E 'avx512f|avx2|fma' /proc/cpuinfo | sort -u | tr '\n' ' ' | sed 's/ $//')" \
  --argjson cores "$(nproc)" \
  --argjson memory_gb "$(awk '/^MemTotal/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)" \
  --arg kernel "$(uname -r)" \
  --arg postgresql "$(sql postgres 'SHOW server_version')" \
  --arg pgvector "$(sql postgres "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'")" \
  --arg shared_buffers "$(sql postgres 'SHOW shared_buffers')" \
  --arg commit "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" \
  --arg loadavg_start "$(cut -d' ' -f1-3 /proc/loadavg)" \
  '$ARGS.named')

# timed_rss NAME CMD...: runs CMD; its wall seconds and peak RSS (MB) into SEC[NAME], RSS[NAME];
# its stderr in $WORK/NAME.err
declare -A SEC RSS
timed_rss() {
  local name=$1 t0; shift
  t0=$EPOCHREALTIME
  /usr/bin/time -f '%M' -o "$WORK/$name.rss" "$@" 2> "$WORK/$name.err" ||
    { cat "$WORK/$name.err" >&2; die "$name failed: $*"; }
  SEC[$name]=$(since "$t0")
  RSS[$name]=$(awk '{ v = $1 } END { printf "%.1f", v / 1024 }' "$WORK/$name.rss")
}

# queries.jsonl: NQ sentences of the corpus's own chunks, spread evenly over them (words 4 to
# 16 of every k-th chunk), from the real documentation's chunks (outside the archive's gen/
# tree; an archive of one's own has none). The generated text is the bulk a search must find
# its way through, not what people ask: its chunks are a near-uniform cloud (a generated
# chunk's 10th neighbour is hardly nearer than its 11th), which no graph index searches well:
# on the 125k corpus HNSW at ef_search 200 finds 0.98 of the exact top 10 of a real chunk's
# vector and 0.75 of a generated one's (README, Scale). SCALE_QUERY_FROM=all: every chunk.
make_queries() {
  local db=$1 n where="TRUE"
  [ "${SCALE_QUERY_FROM:-real}" = all ] ||
    where="doc_id IN (SELECT doc_id FROM documents WHERE source_name NOT LIKE '%!gen/%')"
  n=$(sql "$db" "SELECT count(*) FROM chunks WHERE $where")
  sql "$db" "SELECT chunk_id, regexp_replace(chunk_text, '\s+', ' ', 'g') FROM (SELECT chunk_id,
             chunk_text, row_number() OVER (ORDER BY chunk_id) AS r FROM chunks WHERE $where) c
             WHERE r % GREATEST($n / $NQ, 1) = 0 ORDER BY chunk_id LIMIT $NQ" |
    awk -F'|' '{ t = $0; sub(/^[^|]*\|/, "", t); n = split(t, w, " "); q = "";
                 for (i = 4; i <= n && i <= 16; i++) q = q (q == "" ? "" : " ") w[i];
                 if (q != "") print $1 "\t" q }' |
    jq -R -c 'split("\t") | {"_id": ("q" + .[0]), "text": .[1]}' > "$WORK/queries.jsonl"
  [ -s "$WORK/queries.jsonl" ] || die "no queries from $db"
}

# ---- exponents, report: rewritten after each size, so a long run keeps what it measured --------
write_report() {
  local mach
  mach=$(jq -c --arg e "$(cut -d' ' -f1-3 /proc/loadavg)" --argjson s "$(since "$START")" \
    '. + {loadavg_end: $e, bench_seconds: $s}' <<< "$machine")
  mkdir -p "$OUT"
  jq -n --argjson machine "$mach" --argjson sizes "$SIZES_JSON" '
    def slope(xs; ys): (xs | length) as $n
      | if $n < 2 then null else
          ((xs | add) / $n) as $mx | ((ys | add) / $n) as $my
          | ([range($n)] | map((xs[.] - $mx) * (ys[.] - $my)) | add) as $sxy
          | ([range($n)] | map((xs[.] - $mx) * (xs[.] - $mx)) | add) as $sxx
          | if $sxx == 0 then null else ($sxy / $sxx * 1000 | round / 1000) end end;
    {machine: $machine, sizes: $sizes,
     exponents: ($sizes[0].seconds | keys_unsorted | map(. as $k
       | [$sizes[] | select(.seconds[$k] != null and .seconds[$k] > 0)] as $s
       | {key: $k, value: slope($s | map(.chunks | log); $s | map(.seconds[$k] | log))}) | from_entries)}' \
    > "$OUT/scale.json.tmp"
  mv "$OUT/scale.json.tmp" "$OUT/scale.json"

  {
    echo "# ragload at scale"
    echo
    jq -r '.machine | "\(.date[0:10]), \(.cpu), \(.cores) cores, \(.memory_gb) GB, PostgreSQL \(.postgresql), pgvector \(.pgvector); load average \(.loadavg_start) at start, \(.loadavg_end) at end; \(.bench_seconds | floor) s in all. Data: scale.json; plot: scale.svg."' "$OUT/scale.json"
    echo
    echo "Per corpus size: seconds of each stage (load = archive to loaded, model fit included; index = HNSW, IVFFlat and full-text builds; eval = exact top-10 and every index's sweep), peak RSS of each stage's ragload process, table sizes."
    echo
    echo "| chunks | documents | load s | of which fit s | index s | eval s | total s | peak RSS load / index / eval MB | documents / chunks / embeddings MB |"
    echo "|---:|---:|---:|---:|---:|---:|---:|---|---|"
    jq -r '.sizes[] | "| \(.chunks) | \(.documents) | \(.seconds.load * 10 | round / 10) | \(.seconds.load_fit // "") | \(.seconds.index * 10 | round / 10) | \(.seconds.eval * 10 | round / 10) | \(.seconds.total * 10 | round / 10) | \(.peak_rss_mb_by_stage.load) / \(.peak_rss_mb_by_stage.index) / \(.peak_rss_mb_by_stage.eval) | \(.table_mb.documents) / \(.table_mb.chunks) / \(.table_mb.embeddings) |"' "$OUT/scale.json"
    echo
    echo "Indexes: build time and size, and the fastest search setting reaching recall@10 $RECALL on one connection (in italics when none does: the setting with the best recall), over $(jq -r '[.sizes[].queries | "\(.n // "?") queries from \(.from // "all") chunks"] | unique | join("; ")' "$OUT/scale.json")."
    echo
    echo "| chunks | index | storage | build | build s | size MB | recall@10 | p99 ms | QPS | search |"
    echo "|---:|---|---|---|---:|---:|---:|---:|---:|---|"
    jq -r '.sizes[] | .chunks as $n | .indexes[] | (.build | if type == "object" then (to_entries | map("\(.key) \(.value)") | join(", ")) else "" end) as $bs
      | if .best == null then "| \($n) | \(.index) | \(.storage) | \($bs) | \(.build_s) | \(.size_mb) | | | | |"
        else (.best | if .reached then "" else "*" end) as $em
        | "| \($n) | \(.index) | \(.storage) | \($bs) | \(.build_s * 10 | round / 10) | \(.size_mb) | \($em)\(.best["recall@10"] * 1000 | round / 1000)\($em) | \(.best.p99_ms * 100 | round / 100) | \(.best.qps | round) | \(.best.search | to_entries | map("\(.key) \(.value)") | join(", ")) |" end' "$OUT/scale.json"
    echo
    echo "Growth exponent of each stage's time with corpus size (slope of log seconds over log chunks; 1.0 is linear):"
    echo
    echo "| stage | exponent |"
    echo "|---|---:|"
    jq -r '.exponents | to_entries[] | "| \(.key) | \(.value // "– (one size)") |"' "$OUT/scale.json"
  } > "$OUT/scale.md"

  # ---- plot: seconds per stage against chunks, log-log ------------------------------------------
  jq -r '.sizes[] | .chunks as $n | .seconds | to_entries[] | select(.value != null and .value > 0) | "\(.key) \($n) \(.value)"' \
    "$OUT/scale.json" | awk -f "$ROOT/bench/scale_svg.awk" > "$OUT/scale.svg"
}

SIZES_JSON="[]"
IFS=, read -r -a size_list <<< "$SIZES"
for size in "${size_list[@]}"; do
  log "$size: the corpus"
  if [ -f "$size" ]; then archive=$size  # an archive of one's own
  else archive=$("$ROOT/datasets/make-scale-corpus.sh" "$size" | tail -n 1); fi
  [ -f "$archive" ] || die "no corpus for $size"
  DB=bench_scale_$(basename "$size" | tr 'A-Z' 'a-z' | tr -c 'a-z0-9\n' _)
  dropdb --if-exists "$DB"; createdb "$DB"
  PGDATABASE=$DB "$RAGLOAD" -q init
  psql -X -q -d postgres -c CHECKPOINT

  log "$size: archive -> loaded (ingest, model fit included)"
  timed_rss load env PGDATABASE=$DB "$RAGLOAD" --no-progress ingest "$archive"
  cat "$WORK/load.err" >&2
  fit=$(sed -n 's/.*fitted model .* in \([0-9.]*\) s.*/\1/p' "$WORK/load.err" | head -n 1)
  chunks=$(sql "$DB" "SELECT count(*) FROM chunks")
  docs=$(sql "$DB" "SELECT count(*) FROM documents")
  tables=$(sql "$DB" "SELECT json_object_agg(t, round(pg_total_relation_size(t::regclass) / 1048576.0, 1))
                      FROM unnest(ARRAY['documents', 'chunks', 'embeddings']) t")
  psql -X -q -d postgres -c CHECKPOINT

  log "$size: loaded -> indexed"
  timed_rss index env PGDATABASE=$DB "$RAGLOAD" --no-progress index
  cat "$WORK/index.err" >&2
  idx=$(sql "$DB" "SELECT coalesce(json_agg(json_build_object('index', kind, 'name', index_name,
                     'build_s', round(build_seconds::numeric, 2), 'size_mb', round(index_bytes / 1048576.0, 1),
                     'params', params) ORDER BY index_name), '[]') FROM ragload_indexes")

  log "$size: indexed -> evaluated ($NQ queries)"
  make_queries "$DB"
  timed_rss eval env PGDATABASE=$DB "$RAGLOAD" --no-progress eval --queries "$WORK/queries.jsonl" -k 10 \
    --reports-dir "$WORK/rep"
  results=$WORK/rep/latest/results.json
  [ -f "$results" ] || die "eval wrote no results.json"

  total=$(calc "${SEC[load]} + ${SEC[index]} + ${SEC[eval]}")
  entry=$(jq -n --argjson chunks "$chunks" --argjson docs "$docs" --arg lab "$size" \
    --arg archive "$(basename "$archive")" --argjson archive_mb "$(calc "$(stat -c %s "$archive") / 1048576")" \
    --argjson load "${SEC[load]}" --argjson fit "${fit:-null}" --argjson index "${SEC[index]}" \
    --argjson ev "${SEC[eval]}" --argjson total "$total" \
    --argjson rss_load "${RSS[load]}" --argjson rss_index "${RSS[index]}" --argjson rss_eval "${RSS[eval]}" \
    --argjson tables "$tables" --argjson built "$idx" --argjson recall "$RECALL" \
    --arg qfrom "${SCALE_QUERY_FROM:-real}" --argjson nq "$(grep -c . "$WORK/queries.jsonl")" \
    --slurpfile res "$results" '
    def storage: if .storage then .storage elif .index == "fts" then "tsvector" else "vector" end;
    ($res[0].ann | map(select(.seqscan | not))) as $ann
    | {chunks: $chunks, documents: $docs, "label": $lab, archive: $archive, archive_mb: $archive_mb,
       queries: {from: $qfrom, n: $nq},
       seconds: {load: $load, load_fit: $fit, index: $index, eval: $ev, total: $total},
       peak_rss_mb: $rss_load,
       peak_rss_mb_by_stage: {load: $rss_load, index: $rss_index, eval: $rss_eval},
       table_mb: $tables,
       exact_s: $res[0].exact.seconds,
       indexes: (
         ($ann | group_by([.index, storage, (.build | tojson)]) | map(
           . as $g | ($g | map(select(.["recall@10"] >= $recall))) as $ok
           | (if ($ok | length) > 0 then ($ok | max_by(.qps_1)) else ($g | max_by(.["recall@10"])) end) as $b
           | {index: $g[0].index, storage: ($g[0] | storage), build: $g[0].build,
              build_s: $g[0].build_s, size_mb: (($g[0].index_bytes // 0) / 1048576 * 10 | round / 10),
              best: {"recall@10": $b["recall@10"], p99_ms: $b.p99_ms, qps: $b.qps_1,
                     search: $b.search, reached: (($ok | length) > 0)},
              settings: ($g | length)}))
         + ($built | map(select(.index == "fts")) | map({index: .index, storage: "tsvector",
              build: .params, build_s: .build_s, size_mb: .size_mb, best: null})))}')
  SIZES_JSON=$(jq -c --argjson e "$entry" '. + [$e]' <<< "$SIZES_JSON")
  mkdir -p "$OUT" && cp "$results" "$OUT/scale-eval-$(basename "$DB").json"  # every setting swept
  log "$size: $chunks chunks; load ${SEC[load]} s, index ${SEC[index]} s, eval ${SEC[eval]} s; peak RSS load ${RSS[load]} MB, index ${RSS[index]} MB, eval ${RSS[eval]} MB"
  if [ "${SCALE_KEEP:-0}" != 1 ]; then dropdb "$DB"; fi
  DB=""
  write_report
done

cat "$OUT/scale.md"
log "wrote $OUT/scale.json, scale.md and scale.svg in $(since "$START" | cut -d. -f1) s"
