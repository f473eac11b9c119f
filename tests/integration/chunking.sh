# Chunk boundaries on real text, through ingest:
#  - Chinese and Japanese are counted per character: a full window (>= 200 tokens) holds
#    200-400 characters, and no chunk starts on 。 、 ， or a closing bracket;
#  - a search whose query is mostly Chinese/Japanese says once that full-text search cannot
#    segment it; an English query does not;
#  - SciFact: windows after a document's first start at a sentence or word start, so at most
#    a handful (dot leaders ". . . .", where nothing else is in reach) start with closing
#    punctuation (564 of 2,807 started with punctuation before, 368 of them closing).
. "$(dirname "$0")/../lib.sh"
newdb chunking
"$RAGLOAD" -q init
mkdir -p "$TMP/docs"
python3 - "$TMP/docs" <<'PY'
import random, sys
random.seed(5)
d = sys.argv[1]
zh = ["今天的天气很好", "我们去公园散步", "看书", "喝茶", "然后回家吃饭", "数据库系统的性能取决于索引",
      "向量检索需要合适的分块", "中文没有空格"]
ja = ["日本語の文章には空白がありません", "Linuxカーネルのバージョン2.6では", "新しい機能が追加されました",
      "「はい。」と言った", "全文検索は単語に分割できません"]
def prose(parts, comma, stop, n):
    out = []
    for _ in range(n):
        k = random.randint(1, 4)
        out.append(comma.join(random.choice(parts) for _ in range(k)) + stop)
    return "".join(out)
open(d + "/zh.txt", "w").write("\n\n".join(prose(zh, "，", "。", 12) for _ in range(40)) + "\n")
open(d + "/ja.txt", "w").write("\n\n".join(prose(ja, "、", "。", 10) for _ in range(40)) + "\n")
PY
rc=0; "$RAGLOAD" --no-progress ingest "$TMP/docs" 2> "$TMP/ingest.err" || rc=$?
t_eq "ingest Chinese and Japanese exits 0" 0 "$rc"
full=$(q "SELECT count(*) FROM chunks WHERE token_count >= 200")
t_check "Chinese and Japanese make several full windows ($full)" [ "$full" -ge 4 ]
bad=$(q "SELECT count(*) FROM chunks WHERE token_count >= 200 AND char_length(chunk_text) NOT BETWEEN 200 AND 400")
t_eq "a full CJK window holds 200-400 characters" 0 "$bad"
bad=$(q "SELECT count(*) FROM chunks WHERE chunk_text ~ '^[。、，」』）]'")
t_eq "no CJK chunk starts with closing punctuation" 0 "$bad"

"$RAGLOAD" search --method fts "公园散步" > /dev/null 2> "$TMP/zh.err"
t_eq "a Chinese fts query gets one note" 1 "$(grep -c 'note: full-text search (english) does not segment Chinese/Japanese' "$TMP/zh.err")"
"$RAGLOAD" search --method hybrid-fts "新しい機能" > /dev/null 2> "$TMP/ja.err"
t_eq "a Japanese hybrid-fts query gets one note" 1 "$(grep -c 'note: full-text search' "$TMP/ja.err")"
"$RAGLOAD" search --method hybrid "新しい機能" > /dev/null 2> "$TMP/ja.err"
t_eq "a Japanese hybrid (BM25) query gets one note" 1 "$(grep -c 'note: BM25 matches Chinese/Japanese' "$TMP/ja.err")"
"$RAGLOAD" search --method fts "database index" > /dev/null 2> "$TMP/en.err"
t_eq "an English query gets none" 0 "$(grep -c 'note:' "$TMP/en.err")"

if ! have_shared; then t_skip "chunking: ../shared/datasets absent"; exit 0; fi
scifact_db chunking_scifact
t_eq "ingest SciFact exits 0" 0 "$SCIFACT_RC"
later="WITH c AS (SELECT chunk_text, row_number() OVER (PARTITION BY doc_id ORDER BY chunk_id) AS rn
          FROM chunks) SELECT count(*) FROM c WHERE rn > 1"
n=$(q "$later AND chunk_text ~ '^[.,;:!?)\\]}%]' AND chunk_text !~ '^(\\. ){4}'")
t_eq "SciFact: no later window starts with closing punctuation (but dot leaders)" 0 "$n"
n=$(q "$later AND chunk_text ~ '^[[:punct:]]'")
t_check "SciFact: at most 40 later windows start with any punctuation ($n; 564 before)" [ "$n" -le 40 ]
