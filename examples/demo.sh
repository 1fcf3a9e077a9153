#!/bin/sh
# The main job on the bundled archive: validate every file against its own version, upgrade the
# archive to a fresh folder, show what came out, import it into an embedded SQLite database,
# query it with plain SQL and export it back out. Run from the repository root.
set -u
here=$(dirname "$0")
bin=$(dirname "$here")/.venv/bin
[ -x "$bin/docmigrate" ] && PATH="$bin:$PATH"
out=$(mktemp -d "${TMPDIR:-/tmp}/docmigrate-demo.XXXXXX")
# Remove the scratch folder however the demo ends; a signal exits through the EXIT trap too.
trap 'rm -rf "$out"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

echo "\$ docmigrate families"
docmigrate families
echo
echo "\$ docmigrate validate $here/archive"
docmigrate validate "$here/archive"
echo "(exit $? - one file in the archive records a loss category the format does not know)"
echo
echo "\$ docmigrate upgrade $here/archive --out $out"
docmigrate upgrade "$here/archive" --out "$out"
echo "(exit $? - the invalid file is reported and not written; the others are)"
echo
echo "\$ docmigrate validate $out"
docmigrate validate "$out"
echo
first="$out/2025/production-history-2025-12-21.json"
echo "\$ head -n 30 $first"
head -n 30 "$first"
echo
db="$out/history.db"
echo "\$ docmigrate import $here/archive --db $db"
docmigrate import "$here/archive" --db "$db"
echo "(exit $? - each file is one transaction; runs already stored are recognised by uuid)"
echo
query="SELECT loss_category, COUNT(*) AS losses, SUM(CAST(total_loss_cost AS NUMERIC)) AS cost
FROM production_losses GROUP BY loss_category ORDER BY cost DESC"
echo "SQL on $db (plain SQLite; python stands in for the sqlite3 shell):"
echo "$query"
python -c "
import sqlite3, sys
with sqlite3.connect(sys.argv[1]) as db:
    for row in db.execute(sys.argv[2]):
        print(*row, sep=' | ')
" "$db" "$query"
echo
echo "\$ docmigrate export --db $db --family production-history -o $out/export.json"
docmigrate export --db "$db" --family production-history -o "$out/export.json"
docmigrate validate "$out/export.json"
