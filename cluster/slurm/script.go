package slurm

import (
	"fmt"
	"strings"

	"github.com/ebbflow/ebb"
)

// jobScript returns the batch script that runs argv: a #!/bin/sh script
// whose one command execs argv, each word single-quoted so that the shell
// reads it back byte for byte whatever it holds (spaces, quotes, $, `,
// newlines). No line of it is an #SBATCH directive: sbatch reads those
// only in the comments before the first command, and the only comment
// there is ours. A word holding a NUL byte, which no argv can carry, is
// ebb.ErrInvalid.
func jobScript(id string, argv []string) (string, error) {
	if len(argv) == 0 {
		return "", fmt.Errorf("job script of %s: empty argv: %w", id, ebb.ErrInvalid)
	}
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	b.WriteString("# An ebb worker, submitted by ebb's cluster/slurm provider.\n")
	b.WriteString("exec")
	for i, w := range argv {
		if strings.IndexByte(w, 0) >= 0 {
			return "", fmt.Errorf("job script of %s: argv[%d] %q holds a NUL byte: %w", id, i, w, ebb.ErrInvalid)
		}
		b.WriteByte(' ')
		b.WriteString(shellQuote(w))
	}
	b.WriteByte('\n')
	return b.String(), nil
}

// shellQuote returns s as one word of sh: in single quotes, inside which
// nothing is special; each single quote of s closes the quotes, is written
// escaped (\'), and opens them again.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
