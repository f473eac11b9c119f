# Turns config/migrations/NNNN_name.sql files into a C table (build/gen/migrations.c), so the
# binary carries the schema it was built for. Usage: awk -f embed.awk NNNN_*.sql
BEGIN {
	print "/* generated from config/migrations by embed.awk: do not edit */"
	print "struct migration { int version; const char *name; const char *sql; };"
	print "extern const struct migration rl_migrations[];"
	print "const struct migration rl_migrations[] = {"
	open = 0
}
FNR == 1 {
	if (open) print "},"
	base = FILENAME; sub(/.*\//, "", base); sub(/\.sql$/, "", base)
	ver = base; sub(/_.*/, "", ver)
	name = base; sub(/^[0-9]+_/, "", name)
	printf "{%d, \"%s\", \"\"\n", ver + 0, name
	open = 1
}
{
	line = $0
	gsub(/\\/, "\\\\", line); gsub(/"/, "\\\"", line); gsub(/\t/, "\\t", line)
	printf "\"%s\\n\"\n", line
}
END {
	if (open) print "},"
	print "{0, 0, 0}};"
}
