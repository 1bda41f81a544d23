package command

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
)

// Placeholders of an item template, with GNU parallel's meaning.
const (
	phItem          = "{}"   // the item
	phNoExt         = "{.}"  // the item without its extension
	phBase          = "{/}"  // the item's base name
	phDir           = "{//}" // the item's directory
	phSeq           = "{#}"  // the item's 1-based sequence number
	phBaseNoExt     = "{/.}" // the base name without its extension
	placeholderHelp = "{}, {.}, {/}, {//}, {/.} or {#}"
)

// placeholders in the order of the positional parameters a --shell script
// receives them in ($1 is {}, $2 is {.}, ...).
var placeholders = []string{phItem, phNoExt, phBase, phDir, phSeq, phBaseNoExt}

// piece is a literal string or a placeholder.
type piece struct {
	lit string
	ph  int // 1-based index into placeholders; 0 for a literal
}

// Template is a command line, or a single string such as a directory, with
// placeholders that an item fills in: {} the item, {.} the item without
// its extension, {/} its base name, {//} its directory, {/.} the base name
// without extension, {#} its 1-based sequence number. Each argument stays
// one argument whatever the item holds: nothing is split, globbed or run
// through a shell. Braces around anything else ({a,b}, ${HOME}, awk's
// {print}) are kept literally. A Template is safe for concurrent use.
type Template struct {
	args [][]piece
	uses bool // whether any placeholder appears
}

// ParseTemplate parses argv. A brace pair holding only the characters
// "./#%" that is not one of the placeholders is an error (a mistyped
// placeholder is never passed on literally).
func ParseTemplate(argv []string) (Template, error) {
	var t Template
	for _, a := range argv {
		ps, err := parsePieces(a)
		if err != nil {
			return Template{}, err
		}
		for _, p := range ps {
			t.uses = t.uses || p.ph != 0
		}
		t.args = append(t.args, ps)
	}
	return t, nil
}

func parsePieces(s string) ([]piece, error) {
	var ps []piece
	lit := 0 // start of the pending literal
	for i := 0; i < len(s); i++ {
		if s[i] != '{' {
			continue
		}
		j := i + 1
		for j < len(s) && strings.IndexByte("./#%", s[j]) >= 0 {
			j++
		}
		if j >= len(s) || s[j] != '}' {
			continue // not a placeholder: kept literally
		}
		tok := s[i : j+1]
		k := indexOf(placeholders, tok)
		if k < 0 {
			return nil, fmt.Errorf("unknown placeholder %s in %q: use %s", tok, s, placeholderHelp)
		}
		if lit < i {
			ps = append(ps, piece{lit: s[lit:i]})
		}
		ps = append(ps, piece{ph: k + 1})
		lit, i = j+1, j
	}
	if lit < len(s) || len(ps) == 0 {
		ps = append(ps, piece{lit: s[lit:]})
	}
	return ps, nil
}

func indexOf(xs []string, x string) int {
	for i, v := range xs {
		if v == x {
			return i
		}
	}
	return -1
}

// UsesPlaceholders reports whether any placeholder appears.
func (t Template) UsesPlaceholders() bool { return t.uses }

// Literal reports whether argument i holds no placeholder, and its text.
func (t Template) Literal(i int) (string, bool) {
	if i >= len(t.args) || len(t.args[i]) != 1 || t.args[i][0].ph != 0 {
		return "", false
	}
	return t.args[i][0].lit, true
}

// Expand returns the command line for item number seq (0-based). With no
// placeholder at all the item is appended as the last argument, as GNU
// parallel does.
func (t Template) Expand(item string, seq uint64) []string {
	argv := t.Fill(item, seq)
	if !t.uses {
		argv = append(argv, item)
	}
	return argv
}

// Fill is Expand without appending the item: for a command whose item
// goes elsewhere (into its working directory, with --dir {}).
func (t Template) Fill(item string, seq uint64) []string {
	vals := values(item, seq)
	argv := make([]string, 0, len(t.args)+1)
	for _, ps := range t.args {
		argv = append(argv, expand(ps, vals))
	}
	return argv
}

// ExpandOne is Expand for a template of one argument, such as --dir.
func (t Template) ExpandOne(item string, seq uint64) string {
	if len(t.args) == 0 {
		return ""
	}
	return expand(t.args[0], values(item, seq))
}

func expand(ps []piece, vals [6]string) string {
	if len(ps) == 1 && ps[0].ph == 0 {
		return ps[0].lit
	}
	var b strings.Builder
	for _, p := range ps {
		if p.ph == 0 {
			b.WriteString(p.lit)
		} else {
			b.WriteString(vals[p.ph-1])
		}
	}
	return b.String()
}

// values are the placeholders' values for an item, in placeholders' order.
func values(item string, seq uint64) [6]string {
	base := filepath.Base(item)
	return [6]string{item, trimExt(item), base, filepath.Dir(item), strconv.FormatUint(seq+1, 10), trimExt(base)}
}

// trimExt removes the extension of the path's last element; a name that
// is all extension (".bashrc") keeps it.
func trimExt(p string) string {
	base := filepath.Base(p)
	ext := filepath.Ext(base)
	if ext == "" || ext == base || !strings.HasSuffix(p, ext) {
		return p
	}
	return p[:len(p)-len(ext)]
}

// ShellScript turns the template into one sh -c script: its arguments
// joined by spaces, each placeholder replaced by a double-quoted positional
// parameter ({} is "$1", {.} "$2", {/} "$3", {//} "$4", {#} "$5", {/.}
// "$6"), and " \"$1\"" appended when no placeholder appears and
// appendItem is set. The item never becomes script text: [ShellArgv]
// passes it as a parameter.
func (t Template) ShellScript(appendItem bool) string {
	parts := make([]string, len(t.args))
	for i, ps := range t.args {
		var b strings.Builder
		for _, p := range ps {
			if p.ph == 0 {
				b.WriteString(p.lit)
			} else {
				fmt.Fprintf(&b, `"$%d"`, p.ph)
			}
		}
		parts[i] = b.String()
	}
	script := strings.Join(parts, " ")
	if !t.uses && appendItem {
		script += ` "$1"`
	}
	return script
}

// ShellArgv is the argv that runs script (see [Template.ShellScript]) for
// item number seq with sh: the item and its derived values are the
// positional parameters $1 to $6.
func ShellArgv(script, item string, seq uint64) []string {
	vals := values(item, seq)
	return append([]string{"sh", "-c", script, "jetmr"}, vals[:]...)
}
