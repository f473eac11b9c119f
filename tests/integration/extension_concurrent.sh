# The extension under load: 4 connections call ragload_search (dense, bm25, hybrid) and
# ragload_embed in a loop while `reindex --model` and two `reindex --rollback` swap the live
# model three times (the built-in model and a 50-d GloVe one). No call fails, no backend
# dies (the server log says none was terminated), every connection reloads the model at each
# swap, and afterwards each one embeds with the live model bit for bit as `ragload embed` does.
. "$(dirname "$0")/../lib.sh"
G=$DATASETS/glove-50d-10k/glove.6B.50d.10k.txt
if ! have_shared || [ ! -f "$G" ]; then t_skip "extension_concurrent: ../shared/datasets absent"; exit 0; fi
newdb extension_concurrent
"$RAGLOAD" -q init
head -n 300 "$DATASETS/scifact/corpus.jsonl" > "$TMP/small.jsonl"
"$RAGLOAD" -q ingest "$TMP/small.jsonl"
log_from=0
[ -n "${RAGLOAD_PGLOG:-}" ] && [ -r "$RAGLOAD_PGLOG" ] && log_from=$(wc -c < "$RAGLOAD_PGLOG")

# the swaps, run by the Python driver once the 4 connections are busy
cat > "$TMP/swaps.sh" <<EOF
set -e
"$RAGLOAD" -q reindex --model "glove:$G"
sleep 0.5
"$RAGLOAD" -q reindex --rollback
sleep 0.5
"$RAGLOAD" -q reindex --rollback
sleep 0.5
EOF
/usr/bin/python3 - "$TMP/swaps.sh" "$RAGLOAD" > "$TMP/out.json" 2> "$TMP/py.err" <<'EOF'
import json, random, subprocess, sys, threading
import psycopg

queries = ["aspirin and heart attacks", "vitamin D deficiency", "", "the of and",
           "Ölsäure & β-blockers ∑", "x" * 5000]
stop = threading.Event()
res = []

def work(i):
    r = {"calls": 0, "errors": [], "dims": set(), "pids": set()}
    res.append(r)
    rng = random.Random(i)
    with psycopg.connect(autocommit=True) as c:
        r["pids"].add(c.execute("SELECT pg_backend_pid()").fetchone()[0])
        while not stop.is_set():
            q = rng.choice(queries)
            m = rng.choice(["dense", "bm25", "hybrid", "embed"])
            try:
                if m == "embed":
                    r["dims"].add(c.execute("SELECT vector_dims(ragload_embed(%s))", (q,)).fetchone()[0])
                else:
                    c.execute("SELECT * FROM ragload_search(%s, %s, %s)", (q, rng.randint(1, 20), m)).fetchall()
                r["calls"] += 1
            except psycopg.Error as e:
                r["errors"].append(str(e).splitlines()[0])
        # after the last swap: this very backend embeds with the live model
        r["final"] = c.execute("SELECT ragload_embed('aspirin and heart attacks')::real[] = "
                               "%s::vector::real[]", (cli,)).fetchone()[0]
        r["pids"].add(c.execute("SELECT pg_backend_pid()").fetchone()[0])

ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
for t in ts:
    t.start()
import time
time.sleep(1.0)
swaps = subprocess.run(["bash", sys.argv[1]]).returncode
cli = subprocess.run([sys.argv[2], "embed"], input="aspirin and heart attacks\n", text=True,
                     capture_output=True).stdout.strip()
stop.set()
for t in ts:
    t.join()
for r in res:
    r["dims"] = sorted(r["dims"]); r["pids"] = sorted(r["pids"])
print(json.dumps({"swaps": swaps, "workers": res}))
EOF
t_eq "the driver ran" 0 "$?"
t_json "the three swaps succeeded" "$TMP/out.json" 'r["swaps"] == 0'
t_json "4 connections, each with calls" "$TMP/out.json" 'len(r["workers"]) == 4 and all(w["calls"] > 20 for w in r["workers"])'
t_json "no call failed" "$TMP/out.json" 'sum(len(w["errors"]) for w in r["workers"]) == 0'
python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print("  calls:", [w["calls"] for w in r["workers"]], "dims seen:", [w["dims"] for w in r["workers"]], "errors:", sorted({e for w in r["workers"] for e in w["errors"]})[:5])' "$TMP/out.json"
t_json "every connection kept its backend" "$TMP/out.json" 'all(len(w["pids"]) == 1 for w in r["workers"])'
t_json "the connections saw both models (768 and 50 dimensions)" "$TMP/out.json" \
  'all(w["dims"] == [50, 768] for w in r["workers"])'
t_eq "the live model after the swaps is GloVe's" glove-d50 "$(q "SELECT left(value, 9) FROM ragload_corpus WHERE key = 'model'")"
t_json "each connection then embeds with it bit for bit as ragload embed does" "$TMP/out.json" \
  'all(w["final"] is True for w in r["workers"])'
if [ -n "${RAGLOAD_PGLOG:-}" ] && [ -r "$RAGLOAD_PGLOG" ]; then
  tail -c +$((log_from + 1)) "$RAGLOAD_PGLOG" > "$TMP/log"
  t_check "the server log shows no backend terminated or crashed" \
    bash -c '! grep -qiE "terminated by signal|was terminated|exited with exit code|server process .* (crashed|terminated)|PANIC" "$1"' _ "$TMP/log"
else
  t_skip "server log check: RAGLOAD_PGLOG unset"
fi
