package collector

import (
	"bytes"
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestNormaliseIdentifier(t *testing.T) {
	tests := []struct{ in, want string }{
		{"AB-12.345", "AB12345"},
		{" ab 12345", "AB12345"},
		{"ab\t12\u00a0345\n", "AB12345"},
		{"AB\u201012\u2011345", "AB12345"},
		{"Élodie-7", "ELODIE7"},
		{"E\u0301lodie-7", "ELODIE7"}, // decomposed É
		{"çàïñ-øß", "CAINØSS"},
		{"İstanbul.1", "ISTANBUL1"},
		{"team_42/x", "TEAM_42/X"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := NormaliseIdentifier(tt.in); got != tt.want {
			t.Errorf("NormaliseIdentifier(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestLinkID is PRIVACY.md T8.
func TestLinkID(t *testing.T) {
	k1 := testKey(t, testSecret)
	k2 := testKey(t, bytes.Repeat([]byte{0xA5}, KeySize))
	a, b := k1.LinkID("AB-12.345"), k1.LinkID(" ab 12345")
	if a != b {
		t.Errorf("LinkID(%q) = %s, LinkID(%q) = %s, want equal", "AB-12.345", a, " ab 12345", b)
	}
	if len(a) != 64 || strings.Trim(a, "0123456789abcdef") != "" {
		t.Errorf("LinkID(AB-12.345) = %q, want 64 lower-case hex digits", a)
	}
	if c := k2.LinkID("AB-12.345"); c == a {
		t.Errorf("LinkID under another key = %s, want different from %s", c, a)
	}
	if c := k1.LinkID("AB-12.346"); c == a {
		t.Errorf("LinkID(AB-12.346) = LinkID(AB-12.345) = %s, want different", c)
	}
	if k1.LinkID("Élodie-7") != k1.LinkID("ELODIE 7") {
		t.Errorf("LinkID(Élodie-7) != LinkID(ELODIE 7), want equal")
	}
	if k1.ID == k2.ID || len(k1.ID) != 12 {
		t.Errorf("Key.ID = %q and %q, want two different 12-digit ids", k1.ID, k2.ID)
	}
	if strings.Contains(k1.ID, string(testSecret[:6])) {
		t.Errorf("Key.ID = %q reveals the secret", k1.ID)
	}
}

func TestNewKeySize(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := NewKey(make([]byte, n)); err == nil {
			t.Errorf("NewKey(%d bytes) = nil error, want an error", n)
		}
	}
}

func TestOpenKeyring(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	kr, err := OpenKeyring(dir)
	if err != nil {
		t.Fatalf("OpenKeyring(new dir) error: %v", err)
	}
	if kr.Current == nil || len(kr.Previous) != 0 {
		t.Fatalf("OpenKeyring(new dir) = %+v, want one current key", kr)
	}
	path := filepath.Join(dir, "link-0001.key")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("OpenKeyring(new dir) did not create link-0001.key: %v", err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("link-0001.key mode = %04o, want 0600", got)
	}
	if fi.Size() != KeySize {
		t.Errorf("link-0001.key size = %d, want %d", fi.Size(), KeySize)
	}
	if di, err := os.Stat(dir); err != nil || di.Mode().Perm()&0o077 != 0 {
		t.Errorf("key directory mode = %v (%v), want no access for group or others", di.Mode(), err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("key directory holds %d files, want only link-0001.key and its record link-0001.json (no temporary file left)", len(entries))
	}

	again, err := OpenKeyring(dir)
	if err != nil {
		t.Fatalf("OpenKeyring(second time) error: %v", err)
	}
	if again.Current.ID != kr.Current.ID {
		t.Errorf("OpenKeyring(second time).Current.ID = %s, want %s (the same key)", again.Current.ID, kr.Current.ID)
	}
	if again.Current.LinkID("AB-12.345") != kr.Current.LinkID("AB-12.345") {
		t.Errorf("OpenKeyring(second time) links differently")
	}

	t.Run("a second epoch becomes current", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, "link-0002.key"), bytes.Repeat([]byte{9}, KeySize), 0o600); err != nil {
			t.Fatal(err)
		}
		kr2, err := OpenKeyring(dir)
		if err != nil {
			t.Fatalf("OpenKeyring(two epochs) error: %v", err)
		}
		if want := testKey(t, bytes.Repeat([]byte{9}, KeySize)).ID; kr2.Current.ID != want {
			t.Errorf("OpenKeyring(two epochs).Current.ID = %s, want %s (link-0002)", kr2.Current.ID, want)
		}
		if len(kr2.Previous) != 1 || kr2.Previous[0].ID != kr.Current.ID {
			t.Errorf("OpenKeyring(two epochs).Previous = %v, want [link-0001]", kr2.Previous)
		}
	})
}

func TestOpenKeyringRefusesBadKeyFiles(t *testing.T) {
	tests := []struct {
		name    string
		content []byte
		mode    os.FileMode
		wantErr string
	}{
		{"readable by others", bytes.Repeat([]byte{1}, KeySize), 0o644, "chmod 600"},
		{"readable by the group", bytes.Repeat([]byte{1}, KeySize), 0o640, "chmod 600"},
		{"too short", bytes.Repeat([]byte{1}, KeySize-1), 0o600, "32 bytes"},
		{"too long", bytes.Repeat([]byte{1}, KeySize+1), 0o600, "32 bytes"},
		{"empty", nil, 0o600, "32 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "link-0001.key")
			if err := os.WriteFile(path, tt.content, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(path, tt.mode); err != nil {
				t.Fatal(err)
			}
			kr, err := OpenKeyring(dir)
			if err == nil {
				t.Fatalf("OpenKeyring(%s) = %+v, nil, want an error", tt.name, kr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), path) {
				t.Errorf("OpenKeyring(%s) error = %q, want it to name %s and say %q", tt.name, err, path, tt.wantErr)
			}
			if _, err := ReadKeyFile(path); err == nil {
				t.Errorf("ReadKeyFile(%s) = nil error, want an error", tt.name)
			}
			// The bad key is neither replaced nor joined by a new one.
			if entries, _ := os.ReadDir(dir); len(entries) != 1 {
				t.Errorf("OpenKeyring(%s) left %d files, want only the bad key", tt.name, len(entries))
			}
		})
	}
}

// TestKeyDirRotation walks the life of the keys: a rotation retires epoch 1 with a grace
// period and makes epoch 2 current; both link until the grace period ends; then epoch 1
// is destroyed (its file gone, its record kept) and only epoch 2 is left.
func TestKeyDirRotation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	kd, err := OpenKeyDir(dir)
	if err != nil {
		t.Fatalf("OpenKeyDir(new) error: %v", err)
	}
	first, err := kd.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	const grace = 90 * 24 * time.Hour

	ep, err := kd.Rotate(t0, grace)
	if err != nil {
		t.Fatalf("Rotate error: %v", err)
	}
	if ep.N != 2 || !ep.Current || ep.ID == first.Current.ID {
		t.Errorf("Rotate() = %+v, want epoch 2, current, a new key id", ep)
	}
	kr, err := kd.Keyring()
	if err != nil {
		t.Fatal(err)
	}
	if kr.Current.ID != ep.ID || len(kr.Previous) != 1 || kr.Previous[0].ID != first.Current.ID {
		t.Errorf("Keyring after rotation = current %s, previous %v; want %s and [%s]", kr.Current.ID, kr.Previous, ep.ID, first.Current.ID)
	}
	eps, err := kd.Epochs()
	if err != nil {
		t.Fatal(err)
	}
	if len(eps) != 2 || eps[0].Current || !eps[0].Retired.Equal(t0) || !eps[0].DestroyAfter.Equal(t0.Add(grace)) || !eps[1].Current {
		t.Errorf("Epochs after rotation = %+v, want epoch 1 retired %v until %v, epoch 2 current", eps, t0, t0.Add(grace))
	}
	// The record holds dates and the key id, never the secret, and only its owner reads it.
	rec := filepath.Join(dir, "link-0001.json")
	fi, err := os.Stat(rec)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("link-0001.json = %v, %v; want mode 0600", fi, err)
	}
	secret, _ := os.ReadFile(filepath.Join(dir, "link-0001.key"))
	data, _ := os.ReadFile(rec)
	if bytes.Contains(data, secret) || strings.Contains(string(data), hex.EncodeToString(secret)) {
		t.Errorf("link-0001.json holds the secret: %s", data)
	}

	if got, err := kd.DestroyExpired(t0.Add(grace - time.Second)); err != nil || len(got) != 0 {
		t.Errorf("DestroyExpired(before the end of grace) = %v, %v; want nothing destroyed", got, err)
	}
	got, err := kd.DestroyExpired(t0.Add(grace))
	if err != nil || len(got) != 1 || got[0].N != 1 || got[0].ID != first.Current.ID {
		t.Fatalf("DestroyExpired(end of grace) = %+v, %v; want epoch 1", got, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "link-0001.key")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("link-0001.key after destruction: stat error %v, want not found", err)
	}
	kr, err = kd.Keyring()
	if err != nil || kr.Current.ID != ep.ID || len(kr.Previous) != 0 {
		t.Errorf("Keyring after destruction = %+v, %v; want only epoch 2", kr, err)
	}
	eps, _ = kd.Epochs()
	if len(eps) != 2 || eps[0].Alive() || !eps[0].Destroyed.Equal(t0.Add(grace)) || eps[0].ID != first.Current.ID {
		t.Errorf("Epochs after destruction = %+v, want epoch 1 destroyed at the end of grace, its id kept", eps)
	}
	if again, err := kd.DestroyExpired(t0.Add(2 * grace)); err != nil || len(again) != 0 {
		t.Errorf("DestroyExpired(again) = %v, %v; want nothing (the current key is never destroyed)", again, err)
	}

	// Epoch numbers are never reused, even after a destruction.
	ep3, err := kd.Rotate(t0.Add(2*grace), 0)
	if err != nil || ep3.N != 3 {
		t.Fatalf("second Rotate = %+v, %v; want epoch 3", ep3, err)
	}
	// A grace of 0 destroys at the next DestroyExpired: an emergency rotation.
	if got, err := kd.DestroyExpired(t0.Add(2 * grace)); err != nil || len(got) != 1 || got[0].N != 2 {
		t.Errorf("DestroyExpired after a rotation with no grace = %+v, %v; want epoch 2", got, err)
	}
}

// TestKeyDirInterrupted leaves the directory as a crash at each step would, and checks
// that it loads into a safe state and that the next operation completes the work.
func TestKeyDirInterrupted(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	t.Run("rotation before the new key", func(t *testing.T) {
		dir := t.TempDir()
		kd, _ := OpenKeyDir(dir)
		kr, _ := kd.Keyring()
		// The retirement is on record, the new key was never written.
		if err := writeEpochRecord(kd.recordPath(1), epochRecord{ID: kr.Current.ID, Retired: t0, DestroyAfter: t0}); err != nil {
			t.Fatal(err)
		}
		if got, err := kd.DestroyExpired(t0.Add(time.Hour)); err != nil || len(got) != 0 {
			t.Errorf("DestroyExpired = %v, %v; want the still-current key kept", got, err)
		}
		eps, _ := kd.Epochs()
		if len(eps) != 1 || !eps[0].Current || !eps[0].Retired.IsZero() {
			t.Errorf("Epochs = %+v, want epoch 1 current, not retired", eps)
		}
		if ep, err := kd.Rotate(t0, time.Hour); err != nil || ep.N != 2 {
			t.Errorf("Rotate after the crash = %+v, %v; want epoch 2", ep, err)
		}
	})
	t.Run("destruction before the file is removed", func(t *testing.T) {
		dir := t.TempDir()
		kd, _ := OpenKeyDir(dir)
		kr, _ := kd.Keyring()
		if _, err := kd.Rotate(t0, time.Hour); err != nil {
			t.Fatal(err)
		}
		if err := writeEpochRecord(kd.recordPath(1), epochRecord{ID: kr.Current.ID, Retired: t0, DestroyAfter: t0, Destroyed: t0}); err != nil {
			t.Fatal(err)
		}
		got, err := kd.Keyring()
		if err != nil || len(got.Previous) != 0 {
			t.Errorf("Keyring = %+v, %v; want the key on record as destroyed not loaded", got, err)
		}
		if _, err := kd.DestroyExpired(t0); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(kd.keyPath(1)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("key file of the destroyed epoch: stat error %v, want removed", err)
		}
	})
	t.Run("current key lost", func(t *testing.T) {
		// Epoch 1 destroyed, epoch 2 current, and its file deleted by hand.
		dir := t.TempDir()
		kd, _ := OpenKeyDir(dir)
		if _, err := kd.Rotate(t0, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := kd.DestroyExpired(t0); err != nil {
			t.Fatal(err)
		}
		os.Remove(kd.keyPath(2))
		if _, err := OpenKeyring(dir); err == nil || !strings.Contains(err.Error(), "linkkey rotate") {
			t.Errorf("OpenKeyring(current key lost) error = %v, want one saying what to do", err)
		}
		// Opening never silently starts a new epoch: that would unlink everyone.
		if _, err := os.Stat(kd.keyPath(3)); err == nil {
			t.Errorf("OpenKeyring created a new key over a lost one")
		}
		eps, _ := kd.Epochs()
		if len(eps) != 2 || !eps[1].Lost || eps[1].Alive() {
			t.Errorf("Epochs = %+v, want epoch 2 lost", eps)
		}
		if ep, err := kd.Rotate(t0, time.Hour); err != nil || ep.N != 3 {
			t.Errorf("Rotate(current key lost) = %+v, %v; want epoch 3", ep, err)
		}
		if kr, err := kd.Keyring(); err != nil || len(kr.Previous) != 0 {
			t.Errorf("Keyring after recovering = %+v, %v; want epoch 3 alone", kr, err)
		}
	})
	t.Run("a new key never replaces one", func(t *testing.T) {
		dir := t.TempDir()
		kd, _ := OpenKeyDir(dir)
		before, _ := os.ReadFile(kd.keyPath(1))
		if err := createKeyFile(kd.keyPath(1)); !errors.Is(err, fs.ErrExist) {
			t.Errorf("createKeyFile(existing) error = %v, want fs.ErrExist", err)
		}
		after, _ := os.ReadFile(kd.keyPath(1))
		if !bytes.Equal(before, after) {
			t.Errorf("createKeyFile(existing) changed the key")
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 2 {
			t.Errorf("key directory holds %d files, want the key and its record (no temporary file left)", len(entries))
		}
	})
}

func TestKeyDirRefusesReadableRecords(t *testing.T) {
	dir := t.TempDir()
	kd, _ := OpenKeyDir(dir)
	if _, err := kd.Rotate(time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
	path := kd.recordPath(1)
	if err := os.Chmod(path, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenKeyring(dir); err == nil || !strings.Contains(err.Error(), "chmod 600") || !strings.Contains(err.Error(), path) {
		t.Errorf("OpenKeyring(record mode 0644) error = %v, want a refusal naming %s", err, path)
	}
	os.Chmod(path, 0o600)
	if err := os.Chmod(kd.keyPath(2), 0o604); err != nil {
		t.Fatal(err)
	}
	if _, err := kd.Rotate(time.Now(), time.Hour); err == nil || !strings.Contains(err.Error(), "readable by others") {
		t.Errorf("Rotate(current key mode 0604) error = %v, want a refusal", err)
	}
}
