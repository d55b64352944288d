package remote

import (
	"strings"
)

// listeningPrefix starts the line a worker prints once it serves.
const listeningPrefix = "ebb worker listening on "

// ListeningLine returns the line a worker prints on its standard output
// once it serves, without the newline: "ebb worker listening on URL", and
// " pin PIN" when it serves TLS with a certificate of that Fingerprint.
// A parent process reads it to learn where to connect; ParseListening
// reads it back.
func ListeningLine(url, pin string) string {
	if pin == "" {
		return listeningPrefix + url
	}
	return listeningPrefix + url + " pin " + pin
}

// ParseListening parses a line made by ListeningLine (surrounding space
// ignored) and reports whether it was one.
func ParseListening(line string) (url, pin string, ok bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(line), listeningPrefix)
	if !ok {
		return "", "", false
	}
	f := strings.Fields(rest)
	switch {
	case len(f) == 1:
		return f[0], "", true
	case len(f) == 3 && f[1] == "pin" && validPin(f[2]) == nil:
		return f[0], f[2], true
	}
	return "", "", false
}
