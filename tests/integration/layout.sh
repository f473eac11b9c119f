# The floors (README, Layout): an #include only ever points down, pipeline/ -> stages/ ->
# models/ -> lib/ (extension/, the PostgreSQL extension, sits beside pipeline/ on the floors
# below: stages/, models/, lib/), and a stage's private header (stages/NAME_private.h) is included only by
# that stage's own files (stages/NAME.c, stages/NAME_*.c). Needs no database.
. "$(dirname "$0")/../lib.sh"
cd "$ROOT"
# allowed floors below each floor (its own always allowed)
declare -A below=([lib]="" [models]="lib" [stages]="models lib" [pipeline]="stages models lib include"
  [extension]="stages models lib")
bad=""
for floor in lib models stages pipeline extension; do
  for f in $floor/*.c $floor/*.h; do
    [ -f "$f" ] || continue
    while IFS= read -r inc; do
      target=$(printf '%s' "$inc" | sed -E 's/^#include "([^"]+)".*/\1/')
      case "$target" in
        ../*/*) to=$(printf '%s' "$target" | cut -d/ -f2) ;;
        */*) bad="$bad\n  $f: $inc (a path into a subfolder)"; continue ;;
        *) to=$floor ;;
      esac
      if [ "$to" != "$floor" ] && ! printf ' %s ' "${below[$floor]}" | grep -q " $to "; then
        bad="$bad\n  $f: $inc ($floor/ may include only ${below[$floor]:-itself})"
        continue
      fi
      base=$(basename "$target")
      case "$base" in
        *_private.h)
          owner=${base%_private.h}
          me=$(basename "$f"); me=${me%.*}
          if [ "$to" != "$floor" ] || { [ "$me" != "$owner" ] && [ "${me#${owner}_}" = "$me" ]; }; then
            bad="$bad\n  $f: $inc (another stage's private header)"
          fi ;;
      esac
    done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]+"' "$f" | sed -E 's/^[[:space:]]*#[[:space:]]*include[[:space:]]+/#include /')
  done
done
if [ -z "$bad" ]; then
  t_pass "every #include points down the floors; private headers stay with their stage"
else
  t_fail "includes against the floors:$(printf "$bad")"
fi
# the floors hold what the README says they hold
for d in lib models stages pipeline; do
  t_check "$d/ exists and holds C sources" test -n "$(ls $d/*.c 2>/dev/null)"
done
t_check "main.c is in pipeline/" test -f pipeline/main.c
t_check "extension/ holds the extension's C glue, control file and SQL script" \
  test -f extension/ragload.c -a -f extension/ragload.control -a -f extension/Makefile
