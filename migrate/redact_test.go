package migrate

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ in, want string }{
		{"mysql://u:secret@h/db", "mysql://u:REDACTED@h/db"},
		{"u:secret@h", "u:REDACTED@h"},
		{"postgres://u@h/db", "postgres://u@h/db"},
		{"sqlite:/tmp/x.db", "sqlite:/tmp/x.db"},
		{"sqlite:/tmp/a@b:c.db", "sqlite:/tmp/a@b:c.db"},
		{"x://u:p:q@h@i/db?a=b", "x://u:REDACTED@i/db?a=b"},
		{"weird://user:pa@ss@host", "weird://user:REDACTED@host"},
		{"postgres://appu@127.0.0.1:55432/app?password=S3cretPW&sslmode=disable",
			"postgres://appu@127.0.0.1:55432/app?password=REDACTED&sslmode=disable"},
		{"postgres://appu@h/app?sslmode=require&sslpassword=k3y&PassFile=/home/u/.pgpass&x=1",
			"postgres://appu@h/app?sslmode=require&sslpassword=REDACTED&PassFile=REDACTED&x=1"},
		{"postgres://u:pw@h/app?password=a@b:c", "postgres://u:REDACTED@h/app?password=REDACTED"},
		{"postgresql://u:pw@h/app#password=x", "postgresql://u:REDACTED@h/app#password=REDACTED"},
		{"user=appu password=S3cretPW host=127.0.0.1 port=5432", "user=appu password=REDACTED host=127.0.0.1 port=5432"},
		{"host=h password = 'S3 cret\\' PW' user=u", "host=h password = REDACTED user=u"},
		{"host=h password='unterminated secret", "host=h password=REDACTED"},
		{"host=h sslpassword=k3y dbname=app password=", "host=h sslpassword=REDACTED dbname=app password=REDACTED"},
		{"dbname=app", "dbname=app"},
	} {
		if got := Redact(c.in); got != c.want {
			t.Errorf("Redact(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

// TestOpenHidesPassword checks that Open's bad input never repeats a
// password: a keyword/value connection string is refused, naming the URL
// form to use instead.
func TestOpenHidesPassword(t *testing.T) {
	t.Parallel()
	for _, dsn := range []string{
		"user=appu password=S3cretPW host=127.0.0.1 port=5432 dbname=app",
		"appu:S3cretPW@127.0.0.1/app",
		"postgres://appu@127.0.0.1:1/app?password=S3cretPW&connect_timeout=x",
	} {
		_, err := Open(context.Background(), dsn)
		if !errors.Is(err, ErrBadInput) {
			t.Errorf("Open(%q) = %v, want bad input", dsn, err)
			continue
		}
		if strings.Contains(err.Error(), "S3cretPW") {
			t.Errorf("Open(%q): the message shows the password: %v", dsn, err)
		}
	}
}

// FuzzRedact checks that no password survives Redact, whatever it holds,
// in the three places a connection string puts one.
func FuzzRedact(f *testing.F) {
	for _, s := range []string{"S3cretPW", "p@ss:w/rd?&=#", "a b 'c' \\d", "é\x00ü"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pass string) {
		quoted := "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(pass) + "'"
		for _, c := range []struct{ dsn, secret string }{
			{"postgres://appu:" + url.PathEscape(pass) + "@db.example:5432/app?sslmode=disable", url.PathEscape(pass)},
			{"postgres://appu@db.example/app?sslmode=disable&password=" + url.QueryEscape(pass) + "&x=1", url.QueryEscape(pass)},
			{"user=appu password=" + quoted + " host=db.example", quoted},
			{"host=db.example sslpassword = " + quoted, quoted},
		} {
			got := Redact(c.dsn)
			// A secret that is part of the rest of the string, or of the
			// marker, is found there whatever Redact did.
			rest := strings.Replace(c.dsn, c.secret, "", 1) + Redacted
			if c.secret != "" && strings.Contains(got, c.secret) && !strings.Contains(rest, c.secret) {
				t.Errorf("Redact(%q) = %q keeps the secret %q", c.dsn, got, c.secret)
			}
			if !strings.Contains(got, "db.example") {
				t.Errorf("Redact(%q) = %q loses the host", c.dsn, got)
			}
		}
	})
}
