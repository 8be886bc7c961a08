package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/crmcore/crm/projections"
	"github.com/crmcore/crm/stack"
)

// runReplay is `crm replay PROJECTION|--all`: rebuilds read models from the
// event store into fresh tables and swaps them in while the API serves,
// showing its advance (a bar with rate and ETA on a terminal).
func runReplay(ctx context.Context, cfg stack.Config, args []string, stderr io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	all := fs.Bool("all", false, "rebuild every read model")
	data := fs.String("data", "", "data folder of a running crm dev (instead of DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	var names []string
	for _, p := range stack.Projections() {
		names = append(names, p.Name())
	}
	var chosen []projections.Projection
	for _, p := range stack.Projections() {
		if *all || (fs.NArg() == 1 && fs.Arg(0) == p.Name()) {
			chosen = append(chosen, p)
		}
	}
	if len(chosen) == 0 || (*all && fs.NArg() > 0) {
		fmt.Fprintf(stderr, "usage: crm replay PROJECTION | --all\nprojections: %s\n", strings.Join(names, ", "))
		return errUsage
	}
	s, err := openStack(ctx, cfg, *data, logger, stack.OpenMigrated)
	if err != nil {
		return err
	}
	defer s.Close()
	var (
		mu      sync.Mutex
		applied map[string]int64
		last    = map[string]time.Time{}
		bar     *progressbar.ProgressBar // on a terminal: the slowest read model's advance
	)
	progress := func(name string, done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		applied[name] = done
		if bar == nil {
			what := "replay " + name
			if *all {
				what = fmt.Sprintf("replay %d read models", len(chosen))
			}
			bar = newBar(stderr, total, what, "events")
		}
		if bar != nil {
			slowest := done
			for _, p := range chosen {
				if n, ok := applied[p.Name()]; ok && *all {
					slowest = min(slowest, n)
				}
			}
			if bar.GetMax64() < total {
				bar.ChangeMax64(total)
			}
			_ = bar.Set64(slowest)
			return
		}
		if time.Since(last[name]) >= time.Second || done == total {
			last[name] = time.Now()
			fmt.Fprintf(stderr, "replay %s: %d/%d events (%.0f%%)\n", name, done, total, 100*float64(done)/float64(max(total, 1)))
		}
	}
	endBar := func() {
		if bar != nil {
			_ = bar.Finish()
			fmt.Fprintln(stderr)
			bar = nil
		}
	}
	report := func(name string, elapsed time.Duration) {
		fmt.Fprintf(stderr, "replay %s: done, %d events in %s (%.0f events/s)\n", name, applied[name], elapsed.Round(time.Millisecond),
			float64(applied[name])/max(elapsed.Seconds(), 1e-9))
	}
	if *all {
		// One read of the store feeds every read model's rebuild.
		applied = map[string]int64{}
		start := time.Now()
		err := projections.ReplayAll(ctx, s.Store, chosen, 0, progress)
		endBar()
		if err != nil {
			return err
		}
		elapsed := time.Since(start)
		for _, p := range chosen {
			report(p.Name(), elapsed)
		}
		return nil
	}
	for _, p := range chosen {
		applied = map[string]int64{}
		start := time.Now()
		err := projections.Replay(ctx, s.Store, p, 0, progress)
		endBar()
		if err != nil {
			return err
		}
		report(p.Name(), time.Since(start))
	}
	return nil
}
