package command

import "strings"

// Quote joins argv into one line a POSIX shell reads back as the same
// words: a word with anything but letters, digits and -_./:=,%+@ in it,
// or an empty one, is put in single quotes, a single quote in it closing
// the quotes, escaped and reopened. The job log shows commands this way,
// as GNU parallel does.
func Quote(argv []string) string {
	words := make([]string, len(argv))
	for i, a := range argv {
		words[i] = quoteWord(a)
	}
	return strings.Join(words, " ")
}

func quoteWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || r == ':' || r == '=' || r == ',' || r == '%' || r == '+' || r == '@' ||
			(r >= '0' && r <= '9') || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
