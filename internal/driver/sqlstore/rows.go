package sqlstore

import (
	"context"
	"slices"
	"strconv"
	"strings"
)

// Many rows go into a table in one statement that reads them as a table u
// (INSERT … SELECT … FROM u): PostgreSQL binds each column as one array,
// SQLite binds the rows as VALUES, several statements when they are more
// than its parameters allow. The statement is the same text for both.

// Col is a column of the table u: its name and its PostgreSQL type (uuid,
// text, bigint, integer, boolean, timestamptz), which PostgreSQL's arrays
// are cast to.
type Col struct{ Name, Type string }

// Cols is the columns "name type, name type, …".
func Cols(spec string) []Col {
	var out []Col
	for _, c := range strings.Split(spec, ",") {
		name, typ, _ := strings.Cut(strings.TrimSpace(c), " ")
		out = append(out, Col{Name: name, Type: typ})
	}
	return out
}

// ArraysOf binds rows as the table u over arrays, one a column, numbered
// from first: "WITH u (a, b) AS (SELECT * FROM unnest($3::uuid[], $4::text[]))".
func ArraysOf(cols []Col, rows [][]any, first int) (string, []any) {
	names := make([]string, len(cols))
	arrays := make([]string, len(cols))
	args := make([]any, len(cols))
	for i, c := range cols {
		names[i] = c.Name
		arrays[i] = "$" + strconv.Itoa(first+i) + "::" + c.Type + "[]"
		col := make([]any, len(rows))
		for j, r := range rows {
			col[j] = r[i]
		}
		args[i] = col
	}
	return `WITH u (` + strings.Join(names, ", ") + `) AS (SELECT * FROM unnest(` + strings.Join(arrays, ", ") + `))`, args
}

// ValuesOf binds rows as the table u of VALUES numbered from first:
// "WITH u (a, b) AS (VALUES ($3, $4), ($5, $6))".
func ValuesOf(cols []Col, rows [][]any, first int) (string, []any) {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	var b strings.Builder
	args := make([]any, 0, len(cols)*len(rows))
	for j, r := range rows {
		if j > 0 {
			b.WriteString(", ")
		}
		b.WriteByte('(')
		for i := range cols {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString("$" + strconv.Itoa(first+len(args)))
			args = append(args, r[i])
		}
		b.WriteByte(')')
	}
	return `WITH u (` + strings.Join(names, ", ") + `) AS (VALUES ` + b.String() + `)`, args
}

// ExecRows runs stmt, which reads rows as the table u of cols, in tx, and
// returns how many rows it changed. stmt's own arguments args are $1 … and
// the table's come after them. No rows runs nothing.
func (d Dialect) ExecRows(ctx context.Context, tx Querier, cols []Col, rows [][]any, stmt string, args ...any) (int64, error) {
	per := len(rows)
	if d.MaxParams > 0 {
		per = max(1, (d.MaxParams-len(args))/len(cols))
	}
	var total int64
	for part := range slices.Chunk(rows, max(per, 1)) {
		with, targs := d.Rows(cols, part, len(args)+1)
		n, err := tx.Exec(ctx, with+"\n"+stmt, append(slices.Clip(args), targs...)...)
		if err != nil {
			return total, err
		}
		total += n
	}
	return total, nil
}
