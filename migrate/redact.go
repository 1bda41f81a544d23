package migrate

import (
	"regexp"
	"strings"
)

// Redacted stands for a secret that [Redact] hid.
const Redacted = "REDACTED"

// secretName matches the names of connection settings that hold secrets:
// password, sslpassword, and any other whose name speaks of a password, a
// secret or a token (passfile too: it names where a password is).
var secretName = `[A-Za-z0-9_.-]*(?:[Pp][Aa][Ss][Ss]|[Ss][Ee][Cc][Rr][Ee][Tt]|[Tt][Oo][Kk][Ee][Nn])[A-Za-z0-9_.-]*`

var (
	// secretParam is a secret's query parameter of a URL: ?password=...
	secretParam = regexp.MustCompile(`([?&#]` + secretName + `=)[^&#]*`)
	// secretKeyword is a secret's setting in a keyword/value connection
	// string: password=... or password = '...' (quoted, \' and \\ escaped).
	secretKeyword = regexp.MustCompile(`((?:^|\s)` + secretName + `\s*=\s*)(?:'(?:[^'\\]|\\.)*(?:'|\\?$)|[^\s']\S*|$)`)
	// keywordForm is the start of a keyword/value connection string.
	keywordForm = regexp.MustCompile(`^\s*[A-Za-z_][A-Za-z0-9_]*\s*=`)
)

// Redact returns the database URL or connection string dsn with its
// secrets replaced by [Redacted], for messages and records that people
// read: the password of user:password@, the values of query parameters
// such as password= and sslpassword= (any whose name speaks of a
// password, a secret or a token), and the same settings of a keyword/value
// connection string ("user=app password=... host=db"). Everything else is
// kept, so that the result still names the database.
func Redact(dsn string) string {
	if strings.HasPrefix(dsn, "sqlite:") {
		return dsn // a path
	}
	if keywordForm.MatchString(dsn) {
		return secretKeyword.ReplaceAllString(dsn, "${1}"+Redacted)
	}
	start := strings.Index(dsn, "://")
	if start < 0 {
		start = 0
	} else {
		start += 3
	}
	end := len(dsn) // of the part before the query
	if q := strings.IndexAny(dsn[start:], "?#"); q >= 0 {
		end = start + q
	}
	head, query := dsn[:end], dsn[end:]
	if at := strings.LastIndexByte(head, '@'); at >= start {
		if colon := strings.IndexByte(head[start:at], ':'); colon >= 0 {
			head = head[:start+colon+1] + Redacted + head[at:]
		}
	}
	return head + secretParam.ReplaceAllString(query, "${1}"+Redacted)
}
