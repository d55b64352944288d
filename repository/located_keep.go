package repository

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/ebbflow/ebb"
	"github.com/opencontainers/go-digest"
)

// Keep makes l's locations outlive its driver: it reads the holds
// recorded in the file at path (made if missing, mode 0600) and appends
// to it every Hold made after, one line "DIGEST SIZE HOLDER" each. A
// driver resumed over the same file knows where the outputs of its
// predecessor's tasks are: a task whose result is in the cache and whose
// outputs stay on a worker that outlived the driver is found there, not
// run again. A holder that is gone, or no longer has the blob, is
// dropped when the blob is probed (see Probe), and the task that made it
// runs again.
//
// The file grows by a line for each blob a worker keeps, as the
// repository grows by its blobs. Drivers of runs that share a repository
// may share it: each line is one append, and a line cut short by a
// crash is skipped. Keep is called once, before the first Hold; Close
// closes the file.
func (l *Located) Keep(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("repository: locations %s: %w", path, err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return fmt.Errorf("repository: locations %s: %w", path, err)
	}
	l.mu.Lock()
	for _, line := range bytes.Split(b, []byte("\n")) {
		d, size, holder, ok := parseHold(string(line))
		if !ok {
			continue
		}
		loc := l.where[d]
		if loc == nil {
			loc = &location{size: size}
			l.where[d] = loc
		}
		if !slices.Contains(loc.holders, holder) {
			loc.holders = append(loc.holders, holder)
		}
	}
	l.mu.Unlock()
	if len(b) > 0 && b[len(b)-1] != '\n' {
		// End the line cut short, so that the next is whole.
		if _, err := f.WriteString("\n"); err != nil {
			f.Close()
			return fmt.Errorf("repository: locations %s: %w", path, err)
		}
	}
	l.journalMu.Lock()
	defer l.journalMu.Unlock()
	if l.journal != nil {
		f.Close()
		return fmt.Errorf("repository: locations %s: Keep called twice: %w", path, ebb.ErrInvalid)
	}
	l.journal = f
	return nil
}

// Clear drops every location, in the file of Keep too: the holders are
// gone (a run's workers, all stopped at its end), and a later run over
// the file must not wait on them.
func (l *Located) Clear() error {
	l.mu.Lock()
	clear(l.where)
	l.mu.Unlock()
	l.journalMu.Lock()
	defer l.journalMu.Unlock()
	if l.journal == nil {
		return nil
	}
	if err := l.journal.Truncate(0); err != nil {
		return fmt.Errorf("repository: clearing the locations: %w", err)
	}
	return nil
}

// Close closes the file of Keep, if any. Holds after Close are kept in
// memory only.
func (l *Located) Close() error {
	l.journalMu.Lock()
	defer l.journalMu.Unlock()
	if l.journal == nil {
		return nil
	}
	err := l.journal.Close()
	l.journal = nil
	return err
}

// record appends a hold to the file of Keep, if any.
func (l *Located) record(d digest.Digest, size int64, holder string) error {
	l.journalMu.Lock()
	defer l.journalMu.Unlock()
	if l.journal == nil {
		return nil
	}
	if _, err := l.journal.WriteString(holdLine(d, size, holder)); err != nil {
		return fmt.Errorf("repository: hold %s: keeping its location: %w", d, err)
	}
	return nil
}

func holdLine(d digest.Digest, size int64, holder string) string {
	return fmt.Sprintf("%s %d %s\n", d, size, holder)
}

// parseHold reads a line of the file of Keep.
func parseHold(line string) (d digest.Digest, size int64, holder string, ok bool) {
	f := strings.SplitN(line, " ", 3)
	if len(f) != 3 || f[2] == "" {
		return "", 0, "", false
	}
	d = digest.Digest(f[0])
	if checkDigest("hold", d) != nil {
		return "", 0, "", false
	}
	size, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil || size < 0 {
		return "", 0, "", false
	}
	return d, size, f[2], true
}
