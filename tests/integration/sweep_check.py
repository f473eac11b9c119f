# sweep_check.py RESULTS.JSON INDEX STORAGE KEY START: exit 0 when eval's sweep of one index
# doubled KEY from START (the last value may be pgvector's bound) and stopped at the first
# setting whose recall@10 reached 0.99 (within 1e-9: metric_recall_reaches) or rose by no more than 0.0005, or at the bound;
# prints what it found otherwise. Used by the eval tests; not a test itself.
import json, sys
r = json.load(open(sys.argv[1]))
kind, storage, key, start = sys.argv[2], sys.argv[3], sys.argv[4], int(sys.argv[5])
rows = [x for x in r["ann"] if x["index"] == kind and x.get("storage", "vector") == storage
        and "iterative_scan" not in x["search"]]
v = [x["search"][key] for x in rows]
rec = [x["recall@10"] for x in rows]
if not rows:
    print("  no", kind, storage, "rows"); sys.exit(1)
bound = {"ef_search": 1000, "probes": rows[0]["build"].get("lists"), "overfetch": 1000 // r["settings"]["k"]}[key]
doubling = v[0] == start and all(b == 2 * a or (b == bound and b < 2 * a) for a, b in zip(v, v[1:]))
# a setting the planner served by a sequential scan (flagged) neither stops nor starts the sweep
idx = [x["recall@10"] for x in rows if not x["seqscan"]]
last_idx = not rows[-1]["seqscan"]
stop = v[-1] == bound or (last_idx and (idx[-1] >= 0.99 - 1e-9 or (len(idx) > 1 and idx[-1] <= idx[-2] + 0.0005)))
body = idx[:-1] if last_idx else idx
went_on = all(x < 0.99 - 1e-9 for x in body) and all(b > a + 0.0005 for a, b in zip(body, body[1:]))
ok = doubling and stop and went_on
if not ok:
    print("  %s %s %s: %s recall %s" % (kind, storage, key, v, [round(x, 4) for x in rec]))
sys.exit(0 if ok else 1)
