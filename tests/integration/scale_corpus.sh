# The generated part of the scale corpora (datasets/textgen.c, used by
# datasets/make-scale-corpus.sh): documents are a function of the seed and their number alone
# (a range generated on its own equals the same range of a longer run, so each size is a
# prefix of the next), no two are equal, the tar stream is one bsdtar reads, and ragload
# ingests it (here a few documents, with a throw-away model fitted on them).
. "$(dirname "$0")/../lib.sh"
cc -std=c11 -O2 -Wall -Wextra -Werror -o "$TMP/textgen" "$ROOT/datasets/textgen.c"
t_eq "textgen.c compiles cleanly" 0 "$?"
# training text: this repository's README, blank-line separated like normalized documents
"$TMP/textgen" "$ROOT/README.md" 0 40 7 > "$TMP/all.tar" 2>/dev/null
"$TMP/textgen" "$ROOT/README.md" 25 10 7 > "$TMP/part.tar" 2>/dev/null
t_eq "a tar of 40 documents" 40 "$(bsdtar -tf "$TMP/all.tar" | grep -c '^gen/0000/doc-000000[0-9][0-9].txt$')"
same=1
for i in 25 30 34; do
  n=$(printf 'gen/0000/doc-%08d.txt' "$i")
  cmp -s <(bsdtar -xOf "$TMP/all.tar" "$n") <(bsdtar -xOf "$TMP/part.tar" "$n") || same=0
done
t_eq "documents 25-34 generated alone equal those of the longer run" 1 "$same"
mkdir -p "$TMP/x" && bsdtar -xf "$TMP/all.tar" -C "$TMP/x"
t_eq "no two documents are equal" 40 "$(find "$TMP/x" -type f -exec md5sum {} + | cut -d' ' -f1 | sort -u | wc -l)"
words=$(cat "$TMP"/x/gen/0000/*.txt | wc -w)
t_check "300 to 2,600 words a document ($words in 40)" [ "$words" -ge 12000 ] && [ "$words" -le 104000 ]
t_check "a title line that carries the document's number" grep -q '^Notes 17: ' "$TMP/x/gen/0000/doc-00000017.txt"
"$TMP/textgen" "$ROOT/README.md" 0 5 7 > "$TMP/five.tar" 2>/dev/null
newdb scale_corpus
"$RAGLOAD" -q init
rc=0; "$RAGLOAD" -q --no-progress ingest "$TMP/five.tar" || rc=$?
t_eq "ragload ingests the tar" 0 "$rc"
t_eq "five documents loaded" 5 "$(q "SELECT count(*) FROM documents")"
