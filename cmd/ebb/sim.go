package main

import (
	"context"
	"fmt"
	"io"
)

func simCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return fmt.Errorf("not built yet: %w", errUsage)
}
