package collector

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	// The link id and the fingerprint are separate domains of the same key.
	if k1.LinkID("AB12345") == k1.Fingerprint([]byte("AB12345")) {
		t.Errorf("LinkID(x) == Fingerprint(x), want domain separation")
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
	if len(entries) != 1 {
		t.Errorf("key directory holds %d files, want only link-0001.key (no temporary file left)", len(entries))
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
