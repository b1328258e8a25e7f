package collector

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
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
	return k.linkID([]byte(NormaliseIdentifier(identifier)))
}

// linkID is LinkID of an identifier already normalised.
func (k *Key) linkID(normalised []byte) string { return k.mac("link-v1|", normalised) }

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

// Keyring holds the current linkage key and the previous epochs still kept (in their
// grace period, or not scheduled for destruction). A Keyring is never changed once made:
// a rotation makes a new one (see [Anonymiser.Use]).
type Keyring struct {
	Current  *Key
	Previous []*Key // newest first
}

// OpenKeyring loads the keys in dir (files link-NNNN.key, the highest epoch current),
// creating dir and a first random key on first start. Key files must be readable by their
// owner only: a key file others can read is refused, since anyone holding it can test
// guesses of identifiers against stored link ids. Keys are neither rotated nor destroyed
// here: see [KeyDir].
func OpenKeyring(dir string) (*Keyring, error) {
	kd, err := OpenKeyDir(dir)
	if err != nil {
		return nil, err
	}
	return kd.Keyring()
}

// KeyDir is the directory of linkage keys, rotated in epochs (PRIVACY.md R3). Epoch N has
// its secret in link-NNNN.key (32 random bytes, mode 0600); the highest epoch whose key
// exists is current. A rotation records in link-NNNN.json (the key id and dates, no
// secret) when the current epoch was retired and when its grace period ends, then writes
// the key of a new epoch. Once the grace period has ended, [KeyDir.DestroyExpired]
// destroys the key: from then on nobody can compute a link id of that epoch again, so
// records keyed under it and not re-keyed meanwhile can no longer be linked to new ones.
// The record stays, so that `tamtam linkkey list` still tells when that happened.
//
// Every change is a new file written to a temporary name, synced and linked or renamed
// into place, so a crash leaves the directory in a state that loads; and a new key never
// replaces an existing one, so two processes rotating at once cannot lose a key.
type KeyDir struct {
	dir string
}

var (
	keyFileName    = regexp.MustCompile(`^link-(\d{4,})\.key$`)
	recordFileName = regexp.MustCompile(`^link-(\d{4,})\.json$`)
)

// Epoch is one linkage key epoch of a [KeyDir].
type Epoch struct {
	N            int       // the epoch: link-NNNN.key
	ID           string    // the key id stored beside link ids; kept after destruction
	Created      time.Time // when the key file was written
	Current      bool      // the key of new link ids
	Retired      time.Time // when a newer epoch became current; zero for the current one
	DestroyAfter time.Time // end of the grace period; zero: not scheduled for destruction
	Destroyed    time.Time // when the key was destroyed; zero while it exists
	Lost         bool      // the key file is gone without a destruction on record
}

// Alive reports whether the epoch's key still exists.
func (e Epoch) Alive() bool { return e.Destroyed.IsZero() && !e.Lost }

// epochRecord is the content of link-NNNN.json.
type epochRecord struct {
	ID           string    `json:"id"`
	Created      time.Time `json:"created,omitzero"`
	Retired      time.Time `json:"retired,omitzero"`
	DestroyAfter time.Time `json:"destroy_after,omitzero"`
	Destroyed    time.Time `json:"destroyed,omitzero"`
}

// OpenKeyDir opens the key directory dir, creating it and a first key (epoch 1) if it
// holds no epoch yet. The directory must not be writable by group or others.
func OpenKeyDir(dir string) (*KeyDir, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("collector: key directory: %w", err)
	}
	if fi, err := os.Stat(dir); err != nil {
		return nil, fmt.Errorf("collector: key directory: %w", err)
	} else if fi.Mode().Perm()&0o022 != 0 {
		return nil, fmt.Errorf("collector: key directory %s can be written by others (mode %04o); run chmod 700 %s", dir, fi.Mode().Perm(), dir)
	}
	kd := &KeyDir{dir: dir}
	keys, records, err := kd.files()
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 && len(records) == 0 {
		// Two processes starting at once on a new directory: one key wins, both use it.
		if err := createKeyFile(kd.keyPath(1)); errors.Is(err, fs.ErrExist) {
			return kd, nil
		} else if err != nil {
			return nil, err
		}
		if _, err := kd.recordCreation(1); err != nil {
			return nil, err
		}
	}
	return kd, nil
}

// recordCreation writes the record of a new epoch, so that its key id and creation stay
// known (and its number is never used again) even if its key file is lost. A crash
// before it leaves a key without a record, which loads all the same.
func (kd *KeyDir) recordCreation(n int) (Epoch, error) {
	k, fi, err := readKeyFile(kd.keyPath(n))
	if err != nil {
		return Epoch{}, err
	}
	e := Epoch{N: n, ID: k.ID, Created: fi.ModTime().UTC().Truncate(time.Second), Current: true}
	if err := writeEpochRecord(kd.recordPath(n), epochRecord{ID: e.ID, Created: e.Created}); err != nil {
		return Epoch{}, err
	}
	return e, nil
}

// Dir returns the directory.
func (kd *KeyDir) Dir() string { return kd.dir }

func (kd *KeyDir) keyPath(n int) string {
	return filepath.Join(kd.dir, fmt.Sprintf("link-%04d.key", n))
}
func (kd *KeyDir) recordPath(n int) string {
	return filepath.Join(kd.dir, fmt.Sprintf("link-%04d.json", n))
}

// files returns the epochs that have a key file and those that have a record.
func (kd *KeyDir) files() (keys, records map[int]bool, err error) {
	entries, err := os.ReadDir(kd.dir)
	if err != nil {
		return nil, nil, fmt.Errorf("collector: key directory: %w", err)
	}
	keys, records = map[int]bool{}, map[int]bool{}
	for _, e := range entries {
		if m := keyFileName.FindStringSubmatch(e.Name()); m != nil {
			n, _ := strconv.Atoi(m[1])
			keys[n] = true
		} else if m := recordFileName.FindStringSubmatch(e.Name()); m != nil {
			n, _ := strconv.Atoi(m[1])
			records[n] = true
		}
	}
	return keys, records, nil
}

// Epochs returns every epoch of the directory, oldest first, with its key when it is
// alive. It refuses key files and records that group or others can access.
func (kd *KeyDir) Epochs() ([]Epoch, error) {
	eps, _, err := kd.load()
	return eps, err
}

// load reads every epoch, and the keys of those alive (by epoch number).
func (kd *KeyDir) load() ([]Epoch, map[int]*Key, error) {
	keys, records, err := kd.files()
	if err != nil {
		return nil, nil, err
	}
	var ns []int
	for n := range keys {
		ns = append(ns, n)
	}
	for n := range records {
		if !keys[n] {
			ns = append(ns, n)
		}
	}
	sort.Ints(ns)
	var eps []Epoch
	secrets := map[int]*Key{}
	current := -1
	for _, n := range ns {
		var rec epochRecord
		if records[n] {
			if rec, err = readEpochRecord(kd.recordPath(n)); err != nil {
				return nil, nil, err
			}
		}
		e := Epoch{N: n, ID: rec.ID, Created: rec.Created, Retired: rec.Retired, DestroyAfter: rec.DestroyAfter, Destroyed: rec.Destroyed}
		switch {
		case !keys[n]:
			e.Lost = rec.Destroyed.IsZero()
		case rec.Destroyed.IsZero():
			// A destruction interrupted after its record was written leaves the key file:
			// it is never loaded again, and DestroyExpired removes it.
			k, fi, err := readKeyFile(kd.keyPath(n))
			if err != nil {
				return nil, nil, err
			}
			e.ID = k.ID
			if e.Created.IsZero() {
				e.Created = fi.ModTime().UTC().Truncate(time.Second)
			}
			secrets[n] = k
			current = len(eps)
		}
		eps = append(eps, e)
	}
	if current >= 0 {
		// A rotation interrupted before its new key was written leaves a retirement on
		// record for a key that is still current: it does not count.
		c := &eps[current]
		c.Current, c.Retired, c.DestroyAfter = true, time.Time{}, time.Time{}
	}
	return eps, secrets, nil
}

// Keyring returns the keys alive: the current one and the previous ones, newest first.
func (kd *KeyDir) Keyring() (*Keyring, error) {
	eps, secrets, err := kd.load()
	if err != nil {
		return nil, err
	}
	kr := &Keyring{}
	for i := len(eps) - 1; i >= 0; i-- {
		k := secrets[eps[i].N]
		switch {
		case k == nil:
		case eps[i].Current:
			kr.Current = k
		default:
			kr.Previous = append(kr.Previous, k)
		}
	}
	if kr.Current == nil {
		return nil, fmt.Errorf("collector: key directory %s holds no linkage key; restore the key of the last epoch from a backup, or start a new epoch with tamtam linkkey rotate", kd.dir)
	}
	return kr, nil
}

// Rotate starts a new epoch at now: the current key is retired, to be destroyed once
// grace has passed (0: at the next DestroyExpired), and a new random key becomes current.
// Records keyed under the retired key are re-keyed when the same identifier comes again
// during the grace period (see [Record.PreviousLinks]). Rotate destroys nothing itself.
// With no key alive (lost), it just starts a new epoch.
func (kd *KeyDir) Rotate(now time.Time, grace time.Duration) (Epoch, error) {
	if grace < 0 {
		return Epoch{}, fmt.Errorf("collector: a grace period cannot be negative")
	}
	eps, _, err := kd.load()
	if err != nil {
		return Epoch{}, err
	}
	next := 1
	if len(eps) > 0 {
		next = eps[len(eps)-1].N + 1
	}
	now = now.UTC().Truncate(time.Second)
	for _, e := range eps {
		if !e.Current {
			continue
		}
		// The retirement is on record before the new key exists: a crash in between
		// leaves the old key current (its retirement does not count), and a new
		// rotation writes it again.
		rec := epochRecord{ID: e.ID, Created: e.Created, Retired: now, DestroyAfter: now.Add(grace)}
		if err := writeEpochRecord(kd.recordPath(e.N), rec); err != nil {
			return Epoch{}, err
		}
	}
	if err := createKeyFile(kd.keyPath(next)); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return Epoch{}, fmt.Errorf("collector: epoch %d was started by another rotation meanwhile; see tamtam linkkey list", next)
		}
		return Epoch{}, err
	}
	return kd.recordCreation(next)
}

// DestroyExpired destroys the key of every epoch, other than the current one, whose
// grace period has ended by now, and returns those epochs. The destruction is on record
// before the key file is overwritten and removed, so an interrupted one is never undone:
// the key is not loaded again, and the next call removes its file.
func (kd *KeyDir) DestroyExpired(now time.Time) ([]Epoch, error) {
	eps, _, err := kd.load()
	if err != nil {
		return nil, err
	}
	keys, _, err := kd.files()
	if err != nil {
		return nil, err
	}
	now = now.UTC().Truncate(time.Second)
	var destroyed []Epoch
	for _, e := range eps {
		switch {
		case !e.Destroyed.IsZero() && keys[e.N]:
			// Interrupted after the record: finish.
			if err := shred(kd.keyPath(e.N)); err != nil {
				return destroyed, err
			}
		case e.Current || !e.Alive() || e.DestroyAfter.IsZero() || now.Before(e.DestroyAfter):
		default:
			e.Destroyed = now
			rec := epochRecord{ID: e.ID, Created: e.Created, Retired: e.Retired, DestroyAfter: e.DestroyAfter, Destroyed: now}
			if err := writeEpochRecord(kd.recordPath(e.N), rec); err != nil {
				return destroyed, err
			}
			if err := shred(kd.keyPath(e.N)); err != nil {
				return destroyed, err
			}
			destroyed = append(destroyed, e)
		}
	}
	return destroyed, nil
}

// shred overwrites a key file with zeros, syncs it and removes it. On a journaling or
// copy-on-write file system the old blocks may survive the overwrite; removing the file
// is what makes the key unusable to tamtam, the overwrite makes recovery harder.
func shred(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("collector: destroy key: %w", err)
	}
	_, err = f.Write(make([]byte, KeySize))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("collector: destroy key: %w", err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("collector: destroy key: %w", err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("collector: destroy key: %w", err)
	}
	return nil
}

func readEpochRecord(path string) (epochRecord, error) {
	var rec epochRecord
	fi, err := os.Stat(path)
	if err != nil {
		return rec, fmt.Errorf("collector: key record: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return rec, fmt.Errorf("collector: key record %s is accessible to others (mode %04o); run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return rec, fmt.Errorf("collector: key record: %w", err)
	}
	if err := json.Unmarshal(data, &rec); err != nil {
		return rec, fmt.Errorf("collector: key record %s: %w", path, err)
	}
	return rec, nil
}

func writeEpochRecord(path string, rec epochRecord) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("collector: key record: %w", err)
	}
	if err := WriteFileAtomic(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("collector: key record: %w", err)
	}
	return nil
}

// ReadKeyFile reads a 32-byte key file, refusing one that group or others can access.
func ReadKeyFile(path string) (*Key, error) {
	k, _, err := readKeyFile(path)
	return k, err
}

func readKeyFile(path string) (*Key, os.FileInfo, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, nil, fmt.Errorf("collector: key file: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, nil, fmt.Errorf("collector: key file %s is readable by others (mode %04o); run chmod 600 %s", path, fi.Mode().Perm(), path)
	}
	secret, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("collector: key file: %w", err)
	}
	k, err := NewKey(secret)
	if err != nil {
		return nil, nil, fmt.Errorf("collector: key file %s: %w", path, err)
	}
	return k, fi, nil
}

// createKeyFile writes a new random key durably and never over an existing file: a
// temporary file, fsync, a hard link to path (which fails with fs.ErrExist if path
// exists), fsync of the directory. A crash leaves either no key or a whole one.
func createKeyFile(path string) error {
	secret := make([]byte, KeySize)
	if _, err := rand.Read(secret); err != nil {
		return fmt.Errorf("collector: new key: %w", err)
	}
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp*") // mode 0600
	if err != nil {
		return fmt.Errorf("collector: new key: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.Write(secret)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Link(f.Name(), path)
	}
	if err == nil {
		err = syncDir(dir)
	}
	if err != nil {
		return fmt.Errorf("collector: new key: %w", err)
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
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
	return syncDir(dir)
}
