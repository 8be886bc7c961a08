// Package bench is the harness of `crm bench`: it runs crm as `crm dev`
// does, in this process (built by package stack), measures each workload
// against what Postgres and NATS do alone on the same machine in the same
// run, and writes the report BENCHMARKS.md shows.
package bench

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/crmcore/crm/stack"
)

// benchConfig is what `crm bench` was asked to do.
type benchConfig struct {
	// Scale is the number of leads: the HTTP creates of the durable-writes
	// workload (at most maxHTTPWrites) and the events of the relay backlog.
	Scale int
	// Duration is how long the memory workload's mixed traffic runs.
	Duration time.Duration
	// Out, when set, also receives the report.
	Out string
	// Binary is the crm executable the memory workload runs `crm serve` from.
	Binary string
	// Command is the command line, as the report shows it.
	Command string
	// Only, when set, names the workloads to run (by short name).
	Only map[string]bool
}

const (
	defaultBenchScale = 20000
	// maxHTTPWrites bounds the durable-writes workload: past it the figure
	// no longer moves, and the rest of the leads come from the backlog.
	maxHTTPWrites = 50000
	// benchClients is the concurrency of the durable-writes workload and of
	// its baseline, as the issue fixes it.
	benchClients = 64
)

// runBench is `crm bench`: it starts crm the way `crm dev` does, drives it
// through real HTTP next to a baseline measured in the same run, and prints
// one markdown table.
// ErrUsage is Run's answer to flags it cannot read; the usage is printed.
var ErrUsage = errors.New("usage")

// Run is `crm bench ARGS`: it starts crm in this process on scfg's servers
// (a private Postgres and an embedded NATS where scfg names none), runs
// every workload and writes the report to stdout.
func Run(ctx context.Context, scfg stack.Config, args []string, stdout io.Writer, logger *slog.Logger) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	scale := fs.Int("scale", defaultBenchScale, "number of leads (1000000 for the full run)")
	duration := fs.Duration("duration", 0, "mixed traffic of the memory workload (default 2m, 10m at --scale 1000000)")
	out := fs.String("out", "", "also write the report to this file")
	binary := fs.String("crm-binary", "", "crm executable to run `crm serve` from for the memory workload (default: this one)")
	only := fs.String("only", "", "run only these workloads, comma-separated ("+strings.Join(benchStepNames(), ",")+"); for profiling one, not for the report")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run (crm runs in this process) to this file")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: crm bench [--scale N] [--duration D] [--out FILE] [--only W,W] [--cpuprofile FILE]")
		return ErrUsage
	}
	if *scale < 100 {
		return fmt.Errorf("--scale %d: want at least 100 leads", *scale)
	}
	cfg := benchConfig{Scale: *scale, Duration: *duration, Out: *out, Binary: *binary,
		Command: strings.TrimSpace("crm bench " + strings.Join(args, " "))}
	if *only != "" {
		cfg.Only = map[string]bool{}
		for _, w := range strings.Split(*only, ",") {
			if !slices.Contains(benchStepNames(), w) {
				return fmt.Errorf("--only %s: no such workload (have %s)", w, strings.Join(benchStepNames(), ", "))
			}
			cfg.Only[w] = true
		}
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.Duration <= 0 {
		// Two minutes, so the half judged for flatness follows a minute of
		// warm-up (pools, caches, the heap's first growth): after one
		// minute, the last half still rose 5% where 10 minutes were flat.
		cfg.Duration = 2 * time.Minute
		if cfg.Scale >= 1000000 {
			cfg.Duration = 10 * time.Minute
		}
	}
	if cfg.Binary == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find the crm executable (or pass --crm-binary): %w", err)
		}
		cfg.Binary = exe
	}
	report, err := bench(ctx, cfg, scfg, logger)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(stdout, report); err != nil {
		return err
	}
	if cfg.Out != "" {
		if err := os.WriteFile(cfg.Out, []byte(report), 0o644); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
	}
	return nil
}

// bench runs every workload in order and renders the report. A workload
// that fails ends the run: a table with holes would read as a result.
func bench(parent context.Context, cfg benchConfig, scfg stack.Config, logger *slog.Logger) (string, error) {
	started := time.Now()
	env, err := startBenchEnv(parent, scfg, logger)
	if err != nil {
		return "", err
	}
	defer env.close()
	ctx := env.ctx
	r := &benchReport{cfg: cfg, machine: machineLine(env) + "; load average " + loadAverage() + " at the start"}

	for _, s := range benchSteps {
		if cfg.Only != nil && !cfg.Only[s.short] {
			continue
		}
		t := time.Now()
		logger.Info("bench: workload starting", "workload", s.name)
		if err := s.run(ctx, env, cfg, r); err != nil {
			if parent.Err() != nil {
				return "", fmt.Errorf("bench interrupted during %s", s.name)
			}
			if cause := context.Cause(ctx); cause != nil && !errors.Is(cause, context.Canceled) {
				err = cause // a component failed: that is the story
			}
			return "", fmt.Errorf("bench %s: %w", s.name, err)
		}
		logger.Info("bench: workload done", "workload", s.name, "took", time.Since(t).Round(time.Millisecond))
	}
	r.elapsed = time.Since(started)
	r.machine += "; load average " + loadAverage() + " at the end"
	return r.render(), nil
}

// benchSteps are the workloads in the order they run: each later one uses
// the leads the earlier ones left.
var benchSteps = []struct {
	short, name string
	run         func(context.Context, *benchEnv, benchConfig, *benchReport) error
}{
	{"writes", "durable writes", benchDurableWrites},
	{"visible", "write to visible", benchWriteToVisible},
	{"relay", "relay", benchRelay},
	{"replay", "replay", benchReplay},
	{"lists", "lists and counts", benchLists},
	{"prospects", "Kanban and KPIs", benchProspects},
	{"reports", "reports and dashboard", benchReports},
	{"import", "CSV import and export", benchImport},
	{"memory", "memory", benchMemory},
}

func benchStepNames() []string {
	names := make([]string, len(benchSteps))
	for i, s := range benchSteps {
		names[i] = s.short
	}
	return names
}

// benchRow is one line of the table.
type benchRow struct {
	workload, crm, baseline, ratio, target string
	met                                    bool
}

// benchReport collects the rows and the notes that explain them.
type benchReport struct {
	cfg     benchConfig
	machine string
	rows    []benchRow
	notes   []string
	elapsed time.Duration
	// peakWrites is the durable writes' commands/s: write to visible runs at half.
	peakWrites float64
}

func (r *benchReport) add(row benchRow) { r.rows = append(r.rows, row) }

func (r *benchReport) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (r *benchReport) render() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Machine: %s\n\n", r.machine)
	fmt.Fprintf(&b, "Command: `%s` (took %s; API rate limits off)\n\n", r.cfg.Command, r.elapsed.Round(time.Second))
	b.WriteString("| workload | crm | baseline (same run) | ratio | target | met |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- |\n")
	for _, row := range r.rows {
		met := "no"
		if row.met {
			met = "yes"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", row.workload, row.crm, row.baseline, row.ratio, row.target, met)
	}
	if len(r.notes) > 0 {
		b.WriteString("\n")
		for _, n := range r.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}
