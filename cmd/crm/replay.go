package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/crmcore/crm/projections"
)

// runReplay is `crm replay PROJECTION|--all`: rebuilds read models from the
// event store into fresh tables and swaps them in while the API serves.
func runReplay(ctx context.Context, args []string, stderr io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	all := fs.Bool("all", false, "rebuild every read model")
	data := fs.String("data", "", "data folder of a running crm dev (instead of DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	var names []string
	for _, p := range allProjections() {
		names = append(names, p.Name())
	}
	var chosen []projections.Projection
	for _, p := range allProjections() {
		if *all || (fs.NArg() == 1 && fs.Arg(0) == p.Name()) {
			chosen = append(chosen, p)
		}
	}
	if len(chosen) == 0 || (*all && fs.NArg() > 0) {
		fmt.Fprintf(stderr, "usage: crm replay PROJECTION | --all\nprojections: %s\n", strings.Join(names, ", "))
		return errUsage
	}
	url, err := databaseURL(*data)
	if err != nil {
		return err
	}
	c, err := openCore(ctx, url, logger)
	if err != nil {
		return err
	}
	defer c.pool.Close()
	if err := c.migrate(ctx); err != nil {
		return err
	}
	for _, p := range chosen {
		start := time.Now()
		var applied int64
		last := time.Time{}
		progress := func(name string, done, total int64) {
			applied = done
			if time.Since(last) >= time.Second || done == total {
				last = time.Now()
				fmt.Fprintf(stderr, "replay %s: %d/%d events (%.0f%%)\n", name, done, total, 100*float64(done)/float64(max(total, 1)))
			}
		}
		if err := projections.Replay(ctx, c.store, p, 0, progress); err != nil {
			return err
		}
		elapsed := time.Since(start)
		fmt.Fprintf(stderr, "replay %s: done, %d events in %s (%.0f events/s)\n", p.Name(), applied, elapsed.Round(time.Millisecond),
			float64(applied)/max(elapsed.Seconds(), 1e-9))
	}
	return nil
}
