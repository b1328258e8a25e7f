package collector

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"unicode"

	"golang.org/x/text/cases"
	"golang.org/x/text/language"
	"golang.org/x/text/runes"
	"golang.org/x/text/transform"
	"golang.org/x/text/unicode/norm"
)

// NormaliseIdentifier returns the form of a linkage identifier that is hashed (PRIVACY.md
// R3): Unicode NFC, diacritics stripped, upper case (full case mapping: ß is SS), without
// spaces, dots and dashes of any kind (a word processor turns "-" into "–"), so that
// "AB-12.345" and " ab 12345" link.
func NormaliseIdentifier(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD") // so that normalising twice changes nothing
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || r == '.' || unicode.Is(unicode.Pd, r) || r == '\u2212' {
			return -1
		}
		return r
	}, upper.String(foldDiacritics(s)))
}

var upper = cases.Upper(language.Und)

// foldDiacritics removes combining marks: "Élodie" -> "Elodie".
func foldDiacritics(s string) string {
	t := transform.Chain(norm.NFD, runes.Remove(runes.In(unicode.Mn)), norm.NFC)
	out, _, err := transform.String(t, s)
	if err != nil {
		return norm.NFC.String(s)
	}
	return out
}

// KeySize is the size of a linkage key in bytes.
const KeySize = 32

// Key is one epoch of the secret that keys linkage identifiers and submission
// fingerprints. It never leaves the data directory: not in ClickHouse, not in its backups,
// and no endpoint hashes on request.
type Key struct {
	ID     string // stored beside each link_id, so keys can be rotated in epochs
	secret []byte
}

// LinkID returns HMAC-SHA256(K, "link-v1|" + normalise(identifier)), hex-encoded.
func (k *Key) LinkID(identifier string) string {
	return k.mac("link-v1|", []byte(NormaliseIdentifier(identifier)))
}

// Fingerprint returns a keyed hash of a canonical submission. A plain hash could be
// brute-forced back to the exact age or country; the keyed one cannot.
func (k *Key) Fingerprint(canonical []byte) string {
	return k.mac("fingerprint-v1|", canonical)
}

func (k *Key) mac(domain string, msg []byte) string {
	m := hmac.New(sha256.New, k.secret)
	m.Write([]byte(domain))
	m.Write(msg)
	return hex.EncodeToString(m.Sum(nil))
}

// NewKey returns a key made from secret; it is for tests and for key files.
func NewKey(secret []byte) (*Key, error) {
	if len(secret) != KeySize {
		return nil, fmt.Errorf("collector: a linkage key has %d bytes, not %d", KeySize, len(secret))
	}
	id := sha256.Sum256(append([]byte("tamtam key id|"), secret...))
	return &Key{ID: hex.EncodeToString(id[:6]), secret: secret}, nil
}

// Keyring holds the current linkage key and the previous epochs still in their grace period.
type Keyring struct {
	Current  *Key
	Previous []*Key
}

var keyFileName = regexp.MustCompile(`^link-(\d{4})\.key$`)

// OpenKeyring loads the keys in dir (files link-NNNN.key, the highest epoch current),
// creating dir and a first random key on first start. Key files must be readable by their
// owner only: a key file others can read is refused, since anyone holding it can test
// guesses of identifiers against stored link ids.
func OpenKeyring(dir string) (*Keyring, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("collector: key directory: %w", err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("collector: key directory: %w", err)
	} else if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("collector: key directory %s can be written by others (mode %04o); run chmod 700 %s", dir, fi.Mode().Perm(), dir)
	}
	names, err := keyFiles(dir)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		if err := createKeyFile(filepath.Join(dir, "link-0001.key")); err != nil {
			return nil, err
		}
		names = []string{"link-0001.key"}
	}
	kr := &Keyring{}
	for i := len(names) - 1; i >= 0; i-- {
		k, err := ReadKeyFile(filepath.Join(dir, names[i]))
		if err != nil {
			return nil, err
		}
		if kr.Current == nil {
			kr.Current = k
		} else {
			kr.Previous = append(kr.Previous, k)
		}
	}
	return kr, nil
}

func keyFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("collector: key directory: %w", err)
	}
	var names []string
	for _, e := range entries {
		if keyFileName.MatchString(e.Name()) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	return names, nil
}

// ReadKeyFile reads a 32-byte key file, refusing one that group or others can access.
func ReadKeyFile(path string) (*Key, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("collector: key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("collector: key file %s is readable by others (mode %04o); run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	secret, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("collector: key file: %w", err)
	}
	k, err := NewKey(secret)
	if err != nil {
		return nil, fmt.Errorf("collector: key file %s: %w", path, err)
	}
	return k, nil
}

// createKeyFile writes a new random key durably: a temporary file, fsync, rename, fsync
// of the directory, so a crash leaves either no key or a whole one.
func createKeyFile(path string) error {
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("collector: new key: %w", err)
	}
	if err := WriteFileAtomic(path, secret, 0o600); err != nil {
		return fmt.Errorf("collector: new key: %w", err)
	}
	return nil
}

// WriteFileAtomic replaces path with data: written to a temporary file in the same
// directory, synced, renamed over path, and the directory synced.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // no-op after the rename
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
