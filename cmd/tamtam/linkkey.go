package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/collector/words"
)

// defaultGrace is how long a retired linkage key keeps matching follow-ups: about the
// longest usual time between an entry interview and its follow-up.
const defaultGrace = 90 * 24 * time.Hour

// keyMaintenanceInterval is how often serve takes up a rotation made beside it, destroys
// keys whose grace period has ended and re-keys what follow-ups asked for.
const keyMaintenanceInterval = time.Minute

// cmdLinkkey manages the linkage keys (PRIVACY.md R3): list shows the epochs, rotate
// starts a new one, destroy-expired does now what serve does every minute.
func cmdLinkkey(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) error {
	const usageLine = "linkkey: usage: tamtam linkkey list | tamtam linkkey rotate [--grace 90d] | tamtam linkkey destroy-expired"
	if len(args) == 0 {
		return usagef(usageLine)
	}
	l := cliLang(getenv)
	sub, args := args[0], args[1:]
	var cfg Config
	fs := newFlagSet("linkkey "+sub, &cfg, stderr, getenv)
	switch sub {
	case "list":
		if err := parse(fs, args); err != nil {
			return err
		}
		// The keys are local: listing them needs no store.
		kd, err := collector.OpenKeyDir(filepath.Join(cfg.Data, "keys"))
		if err != nil {
			return err
		}
		eps, err := kd.Epochs()
		if err != nil {
			return err
		}
		return printEpochs(stdout, eps, time.Now())

	case "rotate":
		var grace string
		fs.StringVar(&grace, "grace", "90d", "how long the retired key keeps matching follow-ups before it is destroyed: 90d, 36h, 0 (destroy now)")
		if err := parse(fs, args); err != nil {
			return err
		}
		g, err := parseGrace(grace)
		if err != nil {
			return usagef("linkkey rotate: %v", err)
		}
		km, done, err := startKeyMaintainer(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer done()
		rot, err := km.Rotate(ctx, g, "cli", "operator")
		var ae *collector.AuditError
		if errors.As(err, &ae) {
			return fmt.Errorf("%s: %w", l.T("cli.linkkey.rotate_unaudited"), ae.Err)
		} else if err != nil {
			return err
		}
		kept := ""
		for _, e := range rot.Retired {
			if g > 0 {
				kept = l.T("cli.linkkey.kept", e.ID, e.DestroyAfter.UTC().Format("2006-01-02 15:04Z"))
			}
		}
		fmt.Fprintln(stdout, l.T("cli.linkkey.rotated", rot.Epoch.N, rot.Epoch.ID, kept))
		printMaintenance(stdout, l, rot.Maintenance)
		fmt.Fprintln(stdout, l.T("cli.linkkey.rotated_note"))
		return nil

	case "destroy-expired":
		if err := parse(fs, args); err != nil {
			return err
		}
		km, done, err := startKeyMaintainer(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer done()
		m, err := km.Maintain(ctx, "cli", "operator")
		if err != nil {
			return err
		}
		if m.DropErr != nil {
			return fmt.Errorf("linkkey destroy-expired: %w", m.DropErr)
		}
		if m.Idle() {
			fmt.Fprintln(stdout, l.T("cli.linkkey.nothing"))
			return nil
		}
		printMaintenance(stdout, l, m)
		return nil
	}
	return usagef(usageLine)
}

// parseGrace reads a grace period: days ("90d"), a Go duration ("36h") or "0".
func parseGrace(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > 3650 {
			return 0, fmt.Errorf("--grace %q: want a number of days from 0 to 3650, like 90d", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	if s == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--grace %q: want days (90d), a duration (36h) or 0", s)
	}
	return d, nil
}

// printEpochs writes the epochs as a table, newest first.
func printEpochs(w io.Writer, eps []collector.Epoch, now time.Time) error {
	const minute = "2006-01-02 15:04Z"
	at := func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(minute)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "EPOCH\tKEY ID\tSTATE\tCREATED\tRETIRED\tDESTROY AFTER\tDESTROYED")
	for i := len(eps) - 1; i >= 0; i-- {
		e := eps[i]
		state := "previous: matches follow-ups"
		switch {
		case e.Current:
			state = "current"
		case !e.Destroyed.IsZero():
			state = "destroyed"
		case e.Lost:
			state = "lost (key file missing)"
		case e.DestroyAfter.IsZero():
			state = "previous: not scheduled for destruction"
		case !now.Before(e.DestroyAfter):
			state = "expired: destroyed at the next maintenance"
		}
		id := e.ID
		if id == "" {
			id = "-"
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", e.N, id, state, at(e.Created), at(e.Retired), at(e.DestroyAfter), at(e.Destroyed))
	}
	return tw.Flush()
}

// startKeyMaintainer opens the store and the key directory of cfg for tamtam linkkey;
// done closes the store.
func startKeyMaintainer(ctx context.Context, cfg Config, stderr io.Writer) (_ *collector.KeyMaintainer, done func(), err error) {
	app, err := startStore(ctx, cfg, stderr)
	if err != nil {
		return nil, nil, err
	}
	kd, err := collector.OpenKeyDir(filepath.Join(cfg.Data, "keys"))
	if err != nil {
		app.Close()
		return nil, nil, err
	}
	return app.keyMaintainer(kd), func() { app.Close() }, nil
}

// printMaintenance says what a key maintenance did.
func printMaintenance(w io.Writer, l words.Lang, m collector.KeyMaintenance) {
	for _, e := range m.Destroyed {
		fmt.Fprintln(w, l.T("cli.linkkey.destroyed", e.ID, e.N, e.DestroyAfter.UTC().Format("2006-01-02 15:04Z")))
	}
	if m.Rekeyed > 0 {
		fmt.Fprintln(w, l.T("cli.linkkey.rekeyed", m.Rekeyed))
	}
	if m.Dropped > 0 {
		fmt.Fprintln(w, l.T("cli.linkkey.dropped", m.Dropped))
	}
	if m.DropErr != nil {
		fmt.Fprintln(w, l.T("cli.linkkey.not_dropped"))
	}
}
