package migrate

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/vmihailenco/msgpack/v5"
)

func TestParseIdent(t *testing.T) {
	for _, tc := range []struct {
		in   string
		fold bool
		want []string
		err  string
	}{
		{in: "t", want: []string{"t"}},
		{in: "Users", fold: true, want: []string{"users"}},
		{in: "Users", want: []string{"Users"}},
		{in: "s.t", want: []string{"s", "t"}},
		{in: `"My Schema"."My ""Table"""`, fold: true, want: []string{"My Schema", `My "Table"`}},
		{in: `"a.b"`, want: []string{"a.b"}},
		{in: `s."T"`, fold: true, want: []string{"s", "T"}},
		{in: "émile_2$", want: []string{"émile_2$"}},
		{in: "", err: "is required"},
		{in: "a.b.c", err: "schema.table"},
		{in: "a b", err: "not allowed in a name"},
		{in: "t;drop", err: "not allowed in a name"},
		{in: "1t", err: "cannot start with"},
		{in: `"open`, err: "unterminated quote"},
		{in: `""`, err: "empty quoted name"},
		{in: "a.", err: "expected a dot"},
		{in: ".a", err: "empty name part"},
		{in: `"a"b`, err: "expected a dot"},
	} {
		got, err := parseIdent("--table", tc.in, 2, tc.fold)
		if tc.err != "" {
			if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("parseIdent(%q) = %v, %v; want ErrBadInput %q", tc.in, got, err, tc.err)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseIdent(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	if got := (ident{schema: "My Schema", name: `a"b`}).quoted(); got != `"My Schema"."a""b"` {
		t.Errorf("quoted = %s", got)
	}
}

func TestCheckSQL(t *testing.T) {
	for _, tc := range []struct {
		sql, err string
	}{
		{"UPDATE t SET n = 1 WHERE id >= $1 AND ($2 IS NULL OR id < $2)", ""},
		{"UPDATE t SET n = 1 WHERE id >= $1 AND ($2 IS NULL OR id < $2);", ""},
		{"UPDATE t SET n = 1 WHERE id >= $1 AND ($2 IS NULL OR id < $2); -- done\n", ""},
		{"UPDATE t SET s = 'it''s $3; ok' WHERE id >= $1 AND id < $2", ""},
		{"UPDATE t SET s = E'\\' $3;' WHERE id >= $1 AND id < $2", ""},
		{`UPDATE t SET "a;$3" = 1 WHERE id >= $1 AND id < $2`, ""},
		{"UPDATE t SET s = $$ $3; $$ WHERE id >= $1 AND id < $2", ""},
		{"UPDATE t SET s = $x$ $3; $x$ WHERE id >= $1 AND id < $2 /* $4; */", ""},
		{"UPDATE t SET n = 1 WHERE id >= $1 -- AND id < $2", "has no $2"},
		{"UPDATE t SET n = 1 WHERE id >= $10 AND id < $2", "has no $1"},
		{"UPDATE t SET n = 1 WHERE id >= $1 AND id < $2 AND x = $3", "uses $3"},
		{"UPDATE t SET n = 1 WHERE id >= $1 AND id < $2; COMMIT", "more than one statement"},
		{"UPDATE t SET s = 'open WHERE id >= $1 AND id < $2", "unterminated"},
		{"   ", "is required"},
	} {
		err := checkSQL(tc.sql)
		if tc.err == "" && err != nil || tc.err != "" && (!errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("checkSQL(%q) = %v, want %q", tc.sql, err, tc.err)
		}
	}
}

func TestBatchEncoding(t *testing.T) {
	for _, b := range []Batch{
		{Index: 0, Lo: IntKey(-5), Hi: IntKey(0)},
		{Index: 1, Lo: IntKey(0), Hi: IntKey(1 << 62)},
		{Index: 2, Lo: IntKey(1 << 62), Hi: Unbounded(KindInteger)},
		{Index: 3, Lo: TextKey(""), Hi: TextKey("a\x00b\xff")},
		{Index: 1 << 40, Lo: TextKey("日本"), Hi: Unbounded(KindText)},
	} {
		data, err := msgpack.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		var got Batch
		if err := msgpack.Unmarshal(data, &got); err != nil || got != b {
			t.Errorf("msgpack round trip of %+v: %+v, %v", b, got, err)
		}
		js, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		got = Batch{}
		if err := json.Unmarshal(js, &got); err != nil || (got != b && strings.ToValidUTF8(b.Hi.Text, "\ufffd") == b.Hi.Text) {
			t.Errorf("JSON round trip of %+v: %+v, %v", b, got, err)
		}
	}
	if got := (Batch{Lo: TextKey(`a"b`), Hi: Unbounded(KindText)}).Range(); got != `["a\"b", end)` {
		t.Errorf("Range = %s", got)
	}
	if err := (Batch{Lo: IntKey(1), Hi: TextKey("x")}).validate(); err == nil {
		t.Error("a batch with keys of two kinds is valid")
	}
}
