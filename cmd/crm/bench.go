package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
)

// runBench is `crm bench`.
func runBench(ctx context.Context, args []string, stdout io.Writer, logger *slog.Logger) error {
	return errors.New("crm bench: not built yet")
}
