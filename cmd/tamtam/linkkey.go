package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/tamtam-ngo/tamtam/collector"
	"github.com/tamtam-ngo/tamtam/queries"
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
		app, err := startApp(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer app.Close()
		kd, err := collector.OpenKeyDir(filepath.Join(cfg.Data, "keys"))
		if err != nil {
			return err
		}
		before, err := kd.Epochs()
		if err != nil {
			return err
		}
		ep, err := kd.Rotate(app.now(), g)
		if err != nil {
			_ = app.auditKeys(ctx, "cli", "operator", "linkkey.rotate", err.Error(), "failed") // best effort
			return err
		}
		after, err := kd.Epochs()
		if err != nil {
			return err
		}
		detail, kept := fmt.Sprintf("epoch %d key %s", ep.N, ep.ID), ""
		for _, e := range after {
			if slices.ContainsFunc(before, func(b collector.Epoch) bool { return b.Current && b.N == e.N }) {
				until := e.DestroyAfter.UTC()
				detail += fmt.Sprintf("; key %s retired, destroyed after %s", e.ID, until.Format(time.RFC3339))
				if g > 0 {
					kept = fmt.Sprintf("; key %s links follow-ups to earlier records until %s, then it is destroyed", e.ID, until.Format("2006-01-02 15:04Z"))
				}
			}
		}
		if err := app.auditKeys(ctx, "cli", "operator", "linkkey.rotate", detail, "ok"); err != nil {
			return fmt.Errorf("linkkey rotate: the key was rotated, but the audit event could not be written: %w", err)
		}
		// A grace of 0 destroys the retired key now; expired keys go too.
		m, err := app.maintainKeys(ctx, kd, "cli", "operator")
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "linkage key rotated: epoch %d (key %s) is current%s\n", ep.N, ep.ID, kept)
		m.print(stdout)
		fmt.Fprintln(stdout, "a running tamtam serve takes up the new key within a minute; servers sharing this store need the same key files")
		return nil

	case "destroy-expired":
		if err := parse(fs, args); err != nil {
			return err
		}
		app, err := startApp(ctx, cfg, stderr)
		if err != nil {
			return err
		}
		defer app.Close()
		kd, err := collector.OpenKeyDir(filepath.Join(cfg.Data, "keys"))
		if err != nil {
			return err
		}
		m, err := app.maintainKeys(ctx, kd, "cli", "operator")
		if err != nil {
			return err
		}
		if m.dropErr != nil {
			return fmt.Errorf("linkkey destroy-expired: %w", m.dropErr)
		}
		if len(m.destroyed) == 0 && m.rekeyed == 0 && m.dropped == 0 {
			fmt.Fprintln(stdout, "nothing to do: no key past its grace period, nothing to re-key")
			return nil
		}
		m.print(stdout)
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

// keyMaintenance is what one maintainKeys did.
type keyMaintenance struct {
	destroyed []collector.Epoch
	rekeyed   int
	dropped   int
	dropErr   error // the pairs of destroyed keys could not be dropped (ErrNotAllowed)
}

func (m keyMaintenance) print(w io.Writer) {
	for _, e := range m.destroyed {
		fmt.Fprintf(w, "key %s (epoch %d) destroyed: its grace period ended %s\n", e.ID, e.N, e.DestroyAfter.UTC().Format("2006-01-02 15:04Z"))
	}
	if m.rekeyed > 0 {
		fmt.Fprintf(w, "%d stored records re-keyed to the current key\n", m.rekeyed)
	}
	if m.dropped > 0 {
		fmt.Fprintf(w, "%d link pairs of destroyed keys dropped from the store\n", m.dropped)
	}
	if m.dropErr != nil {
		fmt.Fprintln(w, "the link pairs of destroyed keys are still in the store: this ClickHouse user may not drop them; run tamtam linkkey destroy-expired as the administrative user")
	}
}

// maintainKeys brings the key directory and the store in line, at a.now():
//  1. destroys the keys whose grace period has ended (audited);
//  2. hands the keys left to the anonymiser, so a rotation made beside a running server
//     is taken up without a restart;
//  3. re-keys the stored rows that follow-ups noted (queries.DB.Rekey);
//  4. drops from the store the link pairs of destroyed keys, after 3 so that nothing
//     noted during the grace period is lost.
//
// Each step can be repeated; a crash anywhere is completed by the next call. Dropping
// needs a ClickHouse user allowed to change the schema: with a least-privilege ingest
// user, it is left for `tamtam linkkey destroy-expired` run by an administrative one, and
// reported in dropErr rather than as an error.
func (a *App) maintainKeys(ctx context.Context, kd *collector.KeyDir, actor, role string) (keyMaintenance, error) {
	var m keyMaintenance
	destroyed, err := kd.DestroyExpired(a.now())
	m.destroyed = destroyed
	for _, e := range destroyed {
		a.log.Info("linkage key destroyed", "epoch", e.N, "key_id", e.ID)
		detail := fmt.Sprintf("epoch %d key %s, grace period ended %s", e.N, e.ID, e.DestroyAfter.UTC().Format(time.RFC3339))
		if aerr := a.auditKeys(ctx, actor, role, "linkkey.destroy", detail, "ok"); aerr != nil {
			a.log.Error("audit of a key destruction failed", "key_id", e.ID, "err", aerr)
		}
	}
	if err != nil {
		return m, err
	}
	ring, err := kd.Keyring()
	if err != nil {
		return m, err
	}
	if old := a.api.Anonymiser.Keyring(); old == nil || old.Current.ID != ring.Current.ID || len(old.Previous) != len(ring.Previous) {
		a.log.Info("linkage keys in use", "current", ring.Current.ID, "previous", len(ring.Previous))
	}
	a.api.Anonymiser.Use(ring)
	if m.rekeyed, err = a.db.Rekey(ctx); err != nil {
		return m, err
	}
	eps, err := kd.Epochs()
	if err != nil {
		return m, err
	}
	var gone []string
	for _, e := range eps {
		if !e.Destroyed.IsZero() && e.ID != "" {
			gone = append(gone, e.ID)
		}
	}
	m.dropped, err = a.db.DropRekeys(ctx, gone)
	if errors.Is(err, queries.ErrNotAllowed) {
		m.dropErr = fmt.Errorf("the link pairs of destroyed keys stay in the store until an administrative ClickHouse user runs tamtam linkkey destroy-expired: %w", err)
		return m, nil
	}
	return m, err
}

func (a *App) auditKeys(ctx context.Context, actor, role, action, detail, outcome string) error {
	return a.db.Audit(ctx, collector.AuditEvent{At: a.now(), Actor: actor, Role: role, Action: action, Detail: detail, Outcome: outcome})
}

// startKeyMaintenance runs maintainKeys now and then every interval until the returned
// stop is called (stop waits for a run in progress). Failures are logged, once per kind
// while they repeat.
func (a *App) startKeyMaintenance(kd *collector.KeyDir, interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		var lastErr, lastDrop string
		for {
			m, err := a.maintainKeys(ctx, kd, "server", "system")
			switch {
			case err != nil && ctx.Err() == nil && err.Error() != lastErr:
				a.log.Error("linkage key maintenance failed", "err", err)
				lastErr = err.Error()
			case err == nil:
				lastErr = ""
			}
			if m.dropErr != nil && m.dropErr.Error() != lastDrop {
				a.log.Warn("link pairs of destroyed keys not dropped", "err", m.dropErr)
				lastDrop = m.dropErr.Error()
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(interval):
			}
		}
	}()
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			<-done
		})
	}
}
