# Source keys of directory inputs start with the directory's name: two package directories
# given side by side (or in turn) keep both of their same-named files; two directories of the
# same name are a usage error; a corpus keyed the old way (the path under the directory alone)
# is refused by ingest until `ragload init` renames its keys (migration 0007), after which a
# rerun finds every document unchanged.
. "$(dirname "$0")/../lib.sh"
newdb source_keys
"$RAGLOAD" -q init
mkdir -p "$TMP/doc/bash" "$TMP/doc/git/howto" "$TMP/other/bash" "$TMP/docs/docs"
printf 'Bash is free software, its copyright notice.\n' > "$TMP/doc/bash/copyright"
printf 'Git is free software under its own copyright notice.\n' > "$TMP/doc/git/copyright"
printf 'How to rebase a branch onto another.\n' > "$TMP/doc/git/howto/rebase.txt"
printf 'Another bash directory.\n' > "$TMP/other/bash/NEWS"
printf 'A file named like its directory.\n' > "$TMP/docs/docs/docs"
printf 'Beside it.\n' > "$TMP/docs/docs/intro.txt"
printf 'A single file input.\n' > "$TMP/doc/notes.txt"

rc=0; "$RAGLOAD" --no-progress ingest "$TMP/doc/bash" "$TMP/doc/git" "$TMP/doc/notes.txt" 2> "$TMP/err" || rc=$?
t_eq "two package directories side by side: exit 0" 0 "$rc"
t_eq "both copyright files load, each under its directory's name" \
  "bash/copyright git/copyright git/howto/rebase.txt notes.txt" \
  "$(q "SELECT string_agg(source_name, ' ' ORDER BY source_name) FROM documents")"
t_check "nothing skipped as a duplicate" bash -c "! grep -q duplicate_entry '$TMP/err'"

# in turn: a later run with another directory replaces nothing
rc=0; (cd "$TMP/doc/git" && "$RAGLOAD" --no-progress ingest . 2> "$TMP/err") || rc=$?
t_check "'.' keys by the directory's real name: all unchanged" grep -q '0 added, 0 changed, 2 unchanged' "$TMP/err"
t_eq "bash's copyright kept its text" 1 \
  "$(q "SELECT count(*) FROM documents WHERE source_name = 'bash/copyright' AND original_content LIKE 'Bash is%'")"

runs=$(q "SELECT count(*) FROM ragload_runs")
rc=0; "$RAGLOAD" --no-progress ingest "$TMP/doc/bash" "$TMP/other/bash/" 2> "$TMP/err" || rc=$?
t_eq "two directories of the same name: exit 2" 2 "$rc"
t_check "... naming both and the fix" grep -q "inputs $TMP/doc/bash and $TMP/other/bash/ are directories of the same name.*'bash/'.*give the directory that holds both" "$TMP/err"
t_eq "... before anything is written" "$runs" "$(q "SELECT count(*) FROM ragload_runs")"

# a corpus keyed the old way (keys made here, then set back to the path under the directory):
# refused by ingest, renamed by init, then unchanged; a parent and a child directory loaded
# both ("docs" and "docs/api": old keys "api/x.md" and "x.md") rename without a clash; a file
# given through a symbolic link keeps its key
newdb source_keys_old
"$RAGLOAD" -q init
mkdir -p "$TMP/tree/docs/api" && printf 'Api page.\n' > "$TMP/tree/docs/api/x.md" && printf 'Another api page.\n' > "$TMP/tree/docs/api/y.md"
ln -s "$TMP/doc/notes.txt" "$TMP/notes-link.txt"
"$RAGLOAD" -q ingest "$TMP/doc/git" "$TMP/docs/docs" "$TMP/notes-link.txt"
"$RAGLOAD" -q ingest "$TMP/tree/docs/api"
"$RAGLOAD" -q ingest "$TMP/tree/docs"
before=$(q "SELECT string_agg(doc_id || ':' || source_name, ' ' ORDER BY doc_id) FROM documents")
q "UPDATE documents SET source_name = chr(1) || substr(source_name, strpos(source_name, '/') + 1) WHERE source_name LIKE '%/%'" >/dev/null
q "UPDATE documents SET source_name = substr(source_name, 2) WHERE left(source_name, 1) = chr(1)" >/dev/null
q "DELETE FROM ragload_schema_version WHERE version = 7" >/dev/null
t_eq "the old keys" "git:copyright git:howto/rebase.txt notes.txt:notes-link.txt docs:docs docs:intro.txt docs:api/x.md docs:api/y.md api:x.md api:y.md" \
  "$(q "SELECT string_agg(regexp_replace(source_input, '^.*/', '') || ':' || source_name, ' ' ORDER BY source_input, source_name) FROM documents")"
rc=0; "$RAGLOAD" --no-progress ingest "$TMP/doc/git" 2> "$TMP/err" || rc=$?
t_eq "ingest refuses a corpus keyed the old way" 1 "$rc"
t_check "... and says to run init" grep -q "run 'ragload init' (it renames them)" "$TMP/err"
"$RAGLOAD" init 2> "$TMP/init.err"
t_check "init applies migration 0007" grep -q "applying migration 0007 directory_keys" "$TMP/init.err"
t_eq "keys renamed in place: each doc id has its key again; the symlinked file kept its own" \
  "$before" "$(q "SELECT string_agg(doc_id || ':' || source_name, ' ' ORDER BY doc_id) FROM documents")"
rc=0; "$RAGLOAD" --no-progress ingest --prune "$TMP/doc/git" "$TMP/notes-link.txt" "$TMP/docs/docs" 2> "$TMP/err" || rc=$?
t_check "rerun after init: every document unchanged" grep -q '0 added, 0 changed, 5 unchanged, 0 pruned' "$TMP/err"
t_eq "every directory input's key now starts with its name" 0 \
  "$(q "SELECT count(*) FROM documents WHERE source_input NOT LIKE '%.txt' AND source_name NOT LIKE regexp_replace(source_input, '^.*/', '') || '/%'")"
