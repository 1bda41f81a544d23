package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// TokenFile is the file under a server's store where [StartServer] keeps
// the token it generated, so that a restarted server accepts the same
// clients; [ServerConfig.RotateToken] replaces it.
const TokenFile = "token"

// ReadTokenFile reads a token from the first line of path.
func ReadTokenFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("%w: reading token file %s: %v", ErrConfig, path, errors.Unwrap(err))
	}
	tok, _, _ := strings.Cut(string(data), "\n")
	tok = strings.TrimSpace(tok)
	if tok == "" {
		return "", fmt.Errorf("%w: token file %s is empty: put the token on its first line", ErrConfig, path)
	}
	if strings.ContainsAny(tok, " \t@/") {
		return "", fmt.Errorf("%w: token file %s: the token may not hold spaces, '@' or '/'", ErrConfig, path)
	}
	return tok, nil
}

// savedToken is the token kept in the store at dir, generated the first
// time (or again when rotate is set), and whether it was generated now.
func savedToken(dir string, rotate bool) (tok string, fresh bool, err error) {
	path := filepath.Join(dir, TokenFile)
	if !rotate {
		fi, err := os.Stat(path)
		switch {
		case err == nil && fi.Mode().Perm()&0o077 != 0:
			return "", false, fmt.Errorf("%w: token file %s can be read by other users (mode %v): chmod 600 %s, or start with --rotate-token",
				ErrConfig, path, fi.Mode().Perm(), path)
		case err == nil:
			tok, err := ReadTokenFile(path)
			return tok, false, err
		case !errors.Is(err, fs.ErrNotExist):
			return "", false, fmt.Errorf("%w: reading token file %s: %v", ErrConfig, path, err)
		}
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", false, fmt.Errorf("%w: creating store directory %s: %v", ErrUnreachable, dir, err)
	}
	tok = GenerateToken()
	tmp := path + ".tmp"
	os.Remove(tmp) // WriteFile keeps the mode of a file that exists
	if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
		return "", false, fmt.Errorf("%w: saving the token in %s: %v", ErrUnreachable, path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", false, fmt.Errorf("%w: saving the token in %s: %v", ErrUnreachable, path, err)
	}
	return tok, true, nil
}
