package collector

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// memKeyStore is a KeyStore whose DropRekeys may be refused.
type memKeyStore struct {
	events  []AuditEvent
	dropErr error
	dropped []string
}

func (m *memKeyStore) Audit(_ context.Context, e AuditEvent) error {
	m.events = append(m.events, e)
	return nil
}

func (m *memKeyStore) Rekey(context.Context) (int, error) { return 0, nil }

func (m *memKeyStore) DropRekeys(_ context.Context, ids []string) (int, error) {
	if m.dropErr != nil {
		return 0, m.dropErr
	}
	m.dropped = append(m.dropped, ids...)
	return len(ids), nil
}

// TestKeyMaintainer: a rotation is audited and handed to the anonymiser; once its grace
// period ends the old key is destroyed (audited) and its pairs dropped, or, when the
// store's user may not drop, the run says so in DropErr without failing.
func TestKeyMaintainer(t *testing.T) {
	kd, err := OpenKeyDir(filepath.Join(t.TempDir(), "keys"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	notAllowed := errors.New("not allowed")
	store := &memKeyStore{dropErr: notAllowed}
	an := &Anonymiser{}
	km := &KeyMaintainer{Keys: kd, Store: store, Anonymiser: an, Now: func() time.Time { return now },
		NotAllowed: func(err error) bool { return errors.Is(err, notAllowed) }}
	rot, err := km.Rotate(t.Context(), 24*time.Hour, "cli", "operator")
	if err != nil || rot.Epoch.N != 2 || len(rot.Retired) != 1 || rot.Retired[0].N != 1 {
		t.Fatalf("Rotate = %+v, %v; want epoch 2, epoch 1 retired", rot, err)
	}
	if e := store.events[0]; e.Action != "linkkey.rotate" || e.Outcome != "ok" {
		t.Errorf("rotation audited as %+v", e)
	}
	if ring := an.Keyring(); ring == nil || ring.Current.ID != rot.Epoch.ID || len(ring.Previous) != 1 {
		t.Errorf("anonymiser keys after Rotate = %+v, want the new key and the old one", ring)
	}
	now = now.Add(25 * time.Hour)
	m, err := km.Maintain(t.Context(), "server", "system")
	if err != nil || len(m.Destroyed) != 1 || m.DropErr == nil || m.Idle() {
		t.Fatalf("Maintain after the grace = %+v, %v; want key 1 destroyed, the drop refused in DropErr", m, err)
	}
	store.dropErr = nil
	if m, err := km.Maintain(t.Context(), "cli", "operator"); err != nil || m.Dropped != 1 || len(m.Destroyed) != 0 {
		t.Errorf("Maintain by an allowed user = %+v, %v; want the pairs of key 1 dropped", m, err)
	}
	stop := km.Start(time.Hour)
	stop()
	stop()
}
