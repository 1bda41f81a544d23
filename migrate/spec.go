package migrate

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ProgressTable is the table that records the committed batches, one row
// per (job, run, lo). Check creates it when missing:
//
//	CREATE TABLE jetmr_batches (job TEXT, run TEXT DEFAULT '', lo TEXT,
//	    hi TEXT, rows BIGINT, done_at TIMESTAMP, PRIMARY KEY (job, run, lo))
//
// job and run are the Spec's Job and Run; lo and hi are the batch's keys
// in text form (hi NULL for the last batch, whose $2 is found when it
// runs), rows the number of rows the SQL affected, done_at the commit time
// in UTC. A table of the first layout, without run and keyed by (job, lo),
// is upgraded in place by Check: its rows keep their values, with run ”.
const ProgressTable = "jetmr_batches"

// Spec describes a migration.
type Spec struct {
	// Job names the migration. Required.
	Job string
	// Run names one run of the job: batches are committed once per (Job,
	// Run). A fresh run of a job gets a new Run, so that it finds none of
	// the progress rows an earlier run of the same Job left; a resume
	// keeps it, and finds them. "" is the run of the rows written before
	// runs were recorded.
	Run string
	// Table is the table to split, optionally schema-qualified ("s.t"); a
	// part in double quotes keeps its case and may hold any character
	// ("My Schema"."t"). Without quotes, PostgreSQL folds it to lower case
	// as it would in SQL. Required.
	Table string
	// Key is the column to split on, integer or text, quoted like Table
	// parts. It need not be unique, but should be indexed: each batch
	// boundary is found by an index range scan. Rows whose key is NULL
	// belong to no batch. Required.
	Key string
	// Where optionally restricts splitting to the rows it selects: an SQL
	// boolean expression over Table's columns, spliced into the splitting
	// queries as "AND (Where)" (it is SQL from the operator, trusted as
	// much as SQL is). It shapes the batches only, so that they hold about
	// the same number of interesting rows; SQL must filter its rows
	// itself.
	Where string
	// SQL is one statement run once per batch, in the batch's transaction,
	// with $1 = the batch's Lo and $2 = its Hi (for the last batch, a key
	// above every key of the table), both of the key column's type, never
	// NULL: "key >= $1 AND key < $2" selects the batch's rows. Required;
	// see [Batch].
	SQL string
}

// ident is a parsed, possibly schema-qualified, SQL name.
type ident struct {
	schema, name string // schema is "" when unqualified
}

// quoted is the name in double quotes, qualified when it has a schema.
func (id ident) quoted() string {
	if id.schema == "" {
		return quoteIdent(id.name)
	}
	return quoteIdent(id.schema) + "." + quoteIdent(id.name)
}

// String formats the name for messages, as the user would write it.
func (id ident) String() string {
	if id.schema == "" {
		return id.name
	}
	return id.schema + "." + id.name
}

func quoteIdent(s string) string {
	return `"` + strings.ReplaceAll(s, `"`, `""`) + `"`
}

// parseIdent parses name, with at most maxParts dot-separated parts, each
// bare or double-quoted. fold lower-cases the bare parts (PostgreSQL).
// flag names the option for messages.
func parseIdent(flag, name string, maxParts int, fold bool) ([]string, error) {
	if name == "" {
		return nil, badInput("%s is required", flag)
	}
	if !utf8.ValidString(name) || strings.ContainsRune(name, 0) {
		return nil, badInput("%s %q is not valid UTF-8 text", flag, name)
	}
	var parts []string
	rest := name
	for {
		var part string
		if strings.HasPrefix(rest, `"`) {
			end := 1
			var b strings.Builder
			for {
				i := strings.IndexByte(rest[end:], '"')
				if i < 0 {
					return nil, badInput("%s %q has an unterminated quote", flag, name)
				}
				b.WriteString(rest[end : end+i])
				end += i + 1
				if strings.HasPrefix(rest[end:], `"`) { // "" is an escaped quote
					b.WriteByte('"')
					end++
					continue
				}
				break
			}
			part, rest = b.String(), rest[end:]
			if part == "" {
				return nil, badInput("%s %q has an empty quoted name", flag, name)
			}
		} else {
			end := strings.IndexByte(rest, '.')
			if end < 0 {
				end = len(rest)
			}
			part, rest = rest[:end], rest[end:]
			if err := checkBare(flag, name, part); err != nil {
				return nil, err
			}
			if fold {
				part = foldASCII(part)
			}
		}
		parts = append(parts, part)
		if rest == "" {
			break
		}
		if rest[0] != '.' || len(rest) == 1 {
			return nil, badInput("%s %q: expected a dot between names, or the end, at %q", flag, name, rest)
		}
		rest = rest[1:]
	}
	if len(parts) > maxParts {
		if maxParts == 1 {
			return nil, badInput("%s %q: expected a column name, without a table or schema", flag, name)
		}
		return nil, badInput("%s %q: expected table or schema.table", flag, name)
	}
	return parts, nil
}

// checkBare checks an unquoted name: letters, digits, _ and $, not
// starting with a digit or $.
func checkBare(flag, name, part string) error {
	if part == "" {
		return badInput("%s %q has an empty name part", flag, name)
	}
	for i, r := range part {
		switch {
		case r == '_', r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= 0x80:
		case (r >= '0' && r <= '9') || r == '$':
			if i == 0 {
				return badInput("%s %q: a name cannot start with %q unless it is in double quotes", flag, name, r)
			}
		default:
			return badInput("%s %q: %q is not allowed in a name; put names with such characters in double quotes, e.g. '\"my table\"'", flag, name, r)
		}
	}
	return nil
}

func foldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		return r
	}, s)
}

// target is a Spec with its names parsed for one database.
type target struct {
	table ident
	key   string
}

// parseTarget parses the table and key names of spec; fold lower-cases
// the unquoted ones (PostgreSQL).
func parseTarget(spec Spec, fold bool) (target, error) {
	parts, err := parseIdent("--table", spec.Table, 2, fold)
	if err != nil {
		return target{}, err
	}
	var t target
	if len(parts) == 2 {
		t.table = ident{schema: parts[0], name: parts[1]}
	} else {
		t.table = ident{name: parts[0]}
	}
	key, err := parseIdent("--key", spec.Key, 1, fold)
	if err != nil {
		return target{}, err
	}
	t.key = key[0]
	return t, nil
}

// validate checks what can be checked without a database: names, the job,
// and that SQL is one statement using exactly $1 and $2.
func (spec Spec) validate() error {
	if spec.Job == "" {
		return badInput("the migration needs a job name")
	}
	if !utf8.ValidString(spec.Job) || strings.ContainsRune(spec.Job, 0) {
		return badInput("job name %q is not valid UTF-8 text", spec.Job)
	}
	if !utf8.ValidString(spec.Run) || strings.ContainsRune(spec.Run, 0) {
		return badInput("run %q of job %s is not valid UTF-8 text", spec.Run, spec.Job)
	}
	if err := spec.validateTarget(); err != nil {
		return err
	}
	return checkSQL(spec.SQL)
}

// validateTarget checks the names and the where clause: what splitting
// needs.
func (spec Spec) validateTarget() error {
	if _, err := parseTarget(spec, false); err != nil {
		return err
	}
	if strings.TrimSpace(spec.Where) != "" {
		if _, multi, err := scanSQL(spec.Where); err != nil {
			return badInput("--where: %v", err)
		} else if multi {
			return badInput("--where %q holds a ';': give one boolean expression, e.g. \"status = 'old'\"", spec.Where)
		}
	}
	return nil
}

const sqlExample = `"UPDATE t SET ... WHERE id >= $1 AND id < $2"`

// checkSQL checks that sql is one statement with parameters $1 and $2
// only.
func checkSQL(sql string) error {
	if strings.TrimSpace(sql) == "" {
		return badInput("--sql is required: give the statement each batch runs, with $1 and $2 for the batch's key range, e.g. %s", sqlExample)
	}
	params, multi, err := scanSQL(sql)
	if err != nil {
		return badInput("--sql: %v", err)
	}
	if multi {
		return badInput("--sql holds more than one statement: give one; each batch runs it in the batch's own transaction")
	}
	for _, n := range []int{1, 2} {
		if !params[n] {
			return badInput("--sql has no $%d: the statement must select its rows with $1 (the batch's lowest key, inclusive) and $2 (its upper key, exclusive), e.g. %s", n, sqlExample)
		}
	}
	for n := range params {
		if n != 1 && n != 2 {
			return badInput("--sql uses $%d: only $1 and $2, the batch's key range, are passed to it", n)
		}
	}
	return nil
}

// scanSQL finds the positional parameters ($n) of sql outside string
// literals, quoted names and comments, and whether a second statement
// follows a ';'.
func scanSQL(sql string) (params map[int]bool, multi bool, err error) {
	params = map[int]bool{}
	ended := false // a ';' was seen
	for i := 0; i < len(sql); {
		c := sql[i]
		if ended && !isSpace(c) && !strings.HasPrefix(sql[i:], "--") && !strings.HasPrefix(sql[i:], "/*") && c != ';' {
			return params, true, nil
		}
		switch {
		case c == '\'' || c == '"':
			// Backslash escapes only in PostgreSQL's E'...' strings.
			escapes := c == '\'' && i > 0 && (sql[i-1] == 'E' || sql[i-1] == 'e') && (i == 1 || !isWordByte(sql[i-2]))
			j := i + 1
			for {
				if j >= len(sql) {
					return nil, false, fmt.Errorf("unterminated %c quote", c)
				}
				if escapes && sql[j] == '\\' {
					j += 2
					continue
				}
				if sql[j] == c {
					if j+1 < len(sql) && sql[j+1] == c {
						j += 2
						continue
					}
					break
				}
				j++
			}
			i = j + 1
		case strings.HasPrefix(sql[i:], "--"):
			j := strings.IndexByte(sql[i:], '\n')
			if j < 0 {
				return params, false, nil
			}
			i += j + 1
		case strings.HasPrefix(sql[i:], "/*"):
			j := strings.Index(sql[i+2:], "*/")
			if j < 0 {
				return nil, false, fmt.Errorf("unterminated /* comment")
			}
			i += j + 4
		case c == '$' && i+1 < len(sql) && sql[i+1] >= '0' && sql[i+1] <= '9' && (i == 0 || !isWordByte(sql[i-1])):
			j := i + 1
			for j < len(sql) && sql[j] >= '0' && sql[j] <= '9' {
				j++
			}
			n, err := strconv.Atoi(sql[i+1 : j])
			if err != nil || n == 0 {
				return nil, false, fmt.Errorf("bad parameter %q", sql[i:j])
			}
			params[n] = true
			i = j
		case c == '$' && (i == 0 || !isWordByte(sql[i-1])):
			// A PostgreSQL dollar-quoted string: $$...$$ or $tag$...$tag$.
			j := i + 1
			for j < len(sql) && isWordByte(sql[j]) {
				j++
			}
			if j < len(sql) && sql[j] == '$' {
				tag := sql[i : j+1]
				k := strings.Index(sql[j+1:], tag)
				if k < 0 {
					return nil, false, fmt.Errorf("unterminated %s quote", tag)
				}
				i = j + 1 + k + len(tag)
			} else {
				i = j
			}
		case c == ';':
			ended = true
			i++
		default:
			i++
		}
	}
	return params, false, nil
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' }

func isWordByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
