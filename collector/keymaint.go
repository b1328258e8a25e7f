package collector

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// KeyStore is what linkage-key maintenance needs of the store: re-keying the stored rows
// that follow-ups noted, dropping the link pairs of destroyed keys, and the audit log.
// It is implemented by package queries.
type KeyStore interface {
	Auditor
	// Rekey re-keys the stored rows that follow-ups noted and returns how many.
	Rekey(ctx context.Context) (int, error)
	// DropRekeys drops the link pairs of the given (destroyed) key ids and returns how
	// many.
	DropRekeys(ctx context.Context, keyIDs []string) (int, error)
}

// KeyMaintainer brings a key directory and the store in line (PRIVACY.md R3): serve
// runs it every minute ([KeyMaintainer.Start]), tamtam linkkey on demand.
type KeyMaintainer struct {
	Keys  *KeyDir
	Store KeyStore
	// Anonymiser, when not nil, is handed the keys left after each run, so that a
	// rotation made beside a running server is taken up without a restart.
	Anonymiser *Anonymiser
	// NotAllowed reports whether an error of Store.DropRekeys means that the store's
	// user may not drop (a least-privilege ingest user): the drop is then left for an
	// administrative user and reported in [KeyMaintenance.DropErr], not as an error.
	// nil: no error is such.
	NotAllowed func(error) bool
	Now        func() time.Time // nil: time.Now
	Logger     *slog.Logger     // nil: discard
}

// KeyMaintenance is what one [KeyMaintainer.Maintain] did.
type KeyMaintenance struct {
	Destroyed []Epoch // keys destroyed, their grace period over
	Rekeyed   int     // stored records re-keyed to the current key
	Dropped   int     // link pairs of destroyed keys dropped from the store
	// DropErr is set when the link pairs of destroyed keys could not be dropped because
	// the store's user may not (see KeyMaintainer.NotAllowed); they stay until an
	// administrative user runs the maintenance.
	DropErr error
}

// Idle reports whether the run had nothing to do.
func (m KeyMaintenance) Idle() bool {
	return len(m.Destroyed) == 0 && m.Rekeyed == 0 && m.Dropped == 0
}

func (km *KeyMaintainer) now() time.Time {
	if km.Now == nil {
		return time.Now()
	}
	return km.Now()
}

func (km *KeyMaintainer) log() *slog.Logger {
	if km.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return km.Logger
}

// Maintain brings the key directory and the store in line, at Now:
//  1. destroys the keys whose grace period has ended (audited as actor and role);
//  2. hands the keys left to the Anonymiser;
//  3. re-keys the stored rows that follow-ups noted;
//  4. drops from the store the link pairs of destroyed keys, after 3 so that nothing
//     noted during the grace period is lost.
//
// Each step can be repeated; a crash anywhere is completed by the next call. What was
// done before an error is returned with it.
func (km *KeyMaintainer) Maintain(ctx context.Context, actor, role string) (KeyMaintenance, error) {
	var m KeyMaintenance
	destroyed, err := km.Keys.DestroyExpired(km.now())
	m.Destroyed = destroyed
	for _, e := range destroyed {
		km.log().Info("linkage key destroyed", "epoch", e.N, "key_id", e.ID)
		detail := fmt.Sprintf("epoch %d key %s, grace period ended %s", e.N, e.ID, e.DestroyAfter.UTC().Format(time.RFC3339))
		if aerr := km.audit(ctx, actor, role, "linkkey.destroy", detail, "ok"); aerr != nil {
			km.log().Error("audit of a key destruction failed", "key_id", e.ID, "err", aerr)
		}
	}
	if err != nil {
		return m, err
	}
	ring, err := km.Keys.Keyring()
	if err != nil {
		return m, err
	}
	if km.Anonymiser != nil {
		if old := km.Anonymiser.Keyring(); old == nil || old.Current.ID != ring.Current.ID || len(old.Previous) != len(ring.Previous) {
			km.log().Info("linkage keys in use", "current", ring.Current.ID, "previous", len(ring.Previous))
		}
		km.Anonymiser.Use(ring)
	}
	if m.Rekeyed, err = km.Store.Rekey(ctx); err != nil {
		return m, err
	}
	eps, err := km.Keys.Epochs()
	if err != nil {
		return m, err
	}
	var gone []string
	for _, e := range eps {
		if !e.Destroyed.IsZero() && e.ID != "" {
			gone = append(gone, e.ID)
		}
	}
	m.Dropped, err = km.Store.DropRekeys(ctx, gone)
	if err != nil && km.NotAllowed != nil && km.NotAllowed(err) {
		m.DropErr = fmt.Errorf("the link pairs of destroyed keys stay in the store until an administrative ClickHouse user runs tamtam linkkey destroy-expired: %w", err)
		return m, nil
	}
	return m, err
}

// Rotation is what [KeyMaintainer.Rotate] did.
type Rotation struct {
	Epoch   Epoch   // the new current epoch
	Retired []Epoch // the epoch that was current, now retired (DestroyAfter set)
	// Maintenance is the run that followed: a grace of 0 destroys the retired key now.
	Maintenance KeyMaintenance
}

// Rotate starts a new key epoch; the key that was current keeps matching follow-ups for
// grace, then is destroyed. The rotation is audited (a failed one too), then Maintain
// runs. An [*AuditError] says the key was rotated but the event not written.
func (km *KeyMaintainer) Rotate(ctx context.Context, grace time.Duration, actor, role string) (Rotation, error) {
	var r Rotation
	before, err := km.Keys.Epochs()
	if err != nil {
		return r, err
	}
	if r.Epoch, err = km.Keys.Rotate(km.now(), grace); err != nil {
		_ = km.audit(ctx, actor, role, "linkkey.rotate", err.Error(), "failed") // best effort
		return r, err
	}
	after, err := km.Keys.Epochs()
	if err != nil {
		return r, err
	}
	detail := fmt.Sprintf("epoch %d key %s", r.Epoch.N, r.Epoch.ID)
	for _, e := range after {
		if slices.ContainsFunc(before, func(b Epoch) bool { return b.Current && b.N == e.N }) {
			r.Retired = append(r.Retired, e)
			detail += fmt.Sprintf("; key %s retired, destroyed after %s", e.ID, e.DestroyAfter.UTC().Format(time.RFC3339))
		}
	}
	if err := km.audit(ctx, actor, role, "linkkey.rotate", detail, "ok"); err != nil {
		return r, &AuditError{Action: "linkkey.rotate", Done: true, Err: err}
	}
	r.Maintenance, err = km.Maintain(ctx, actor, role)
	return r, err
}

func (km *KeyMaintainer) audit(ctx context.Context, actor, role, action, detail, outcome string) error {
	return km.Store.Audit(ctx, AuditEvent{At: km.now(), Actor: actor, Role: role, Action: action, Detail: detail, Outcome: outcome})
}

// Start runs Maintain (as the server) now and then every interval until the returned
// stop is called; stop waits for a run in progress and may be called more than once.
// Failures are logged, once per kind while they repeat.
func (km *KeyMaintainer) Start(interval time.Duration) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		var lastErr, lastDrop string
		for {
			m, err := km.Maintain(ctx, "server", "system")
			switch {
			case err != nil && ctx.Err() == nil && err.Error() != lastErr:
				km.log().Error("linkage key maintenance failed", "err", err)
				lastErr = err.Error()
			case err == nil:
				lastErr = ""
			}
			if m.DropErr != nil && m.DropErr.Error() != lastDrop {
				km.log().Warn("link pairs of destroyed keys not dropped", "err", m.DropErr)
				lastDrop = m.DropErr.Error()
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
