package collector

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"sync/atomic"
	"time"
)

// Record is an anonymised submission: the only thing tamtam ever writes. It holds no
// exact age, no country, no identifier and no date finer than a month.
type Record struct {
	SubmissionID  string
	Questionnaire string
	Version       int
	Site          string
	Month         string // YYYY-MM of the questionnaire's period item
	Year          int
	Consent       bool
	// Breakdown dimensions, also present in Answers: "" when the item was not asked (a
	// refusal), "8" or "9" when refused or not known — both count as missing in reports.
	Gender           string
	AgeBand          string
	NationalityGroup string
	LinkID           string // keyed hash of the linkage identifier, "" without one
	KeyID            string // the key of LinkID
	// PreviousLinks are the link ids of the same identifier under the earlier keys still
	// kept after a rotation (PRIVACY.md R3). They are how a follow-up matches an entry
	// keyed under the previous key: the store re-keys the rows of that person to LinkID
	// and KeyID. Empty without an identifier or without an earlier key.
	PreviousLinks []KeyedLink `json:",omitempty"`
	// Fingerprint is the SHA-256 of the anonymised record (see [Record.fingerprint]): it
	// tells a replay (200) from a conflict (409) and says nothing the record does not.
	Fingerprint string
	Answers     []StoredAnswer
	// Received is the day tamtam accepted the record (UTC midnight), never finer: next
	// to intake schedules a time of day links a row to a person (PRIVACY.md R2). It
	// is not an answer; reports use it for their data cut-off.
	Received time.Time
}

// ReceiptDay is the receipt time as stored: the day of t, at midnight UTC.
func ReceiptDay(t time.Time) time.Time {
	y, m, d := t.UTC().Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

// KeyedLink is a link id and the id of the key it was computed with.
type KeyedLink struct {
	KeyID  string
	LinkID string
}

// StoredAnswer is one stored item value; a multi answer is one StoredAnswer per code.
// An empty multi answer ("none of these") is one StoredAnswer with an empty Value.
type StoredAnswer struct {
	Item  string
	Value string
}

// LogValue logs what identifies the record in the pipeline, never its answers.
func (r Record) LogValue() slog.Value {
	return slog.GroupValue(slog.String("submission_id", r.SubmissionID), slog.String("site", r.Site))
}

// Items of the breakdown dimensions, fixed across versions (codes never change meaning).
const (
	GenderItem      = "demo.gender"
	AgeItem         = "demo.age"
	NationalityItem = "demo.nationality"
)

// AgeBands are the published age bands (PRIVACY.md R2).
var AgeBands = []string{"18-24", "25-34", "35-44", "45-54", "55+"}

// AgeBand returns the band of an exact age.
func AgeBand(age int) string {
	switch {
	case age < 25:
		return "18-24"
	case age < 35:
		return "25-34"
	case age < 45:
		return "35-44"
	case age < 55:
		return "45-54"
	}
	return "55+"
}

// residenceSecurity coarsens residence status: only whether the stay is secure is kept.
var residenceSecurity = map[string]string{
	"belgian": "secure", "eu": "secure", "permit": "secure",
	"asylum": "insecure", "no_permit": "insecure",
}

// Anonymiser turns validated submissions into records with the current linkage key.
type Anonymiser struct {
	Keys *Keyring // until Use is called
	live atomic.Pointer[Keyring]
}

// Use makes kr the keyring of every record anonymised from now on, so that a running
// server takes up a rotation (or forgets a destroyed key) without a restart.
func (a *Anonymiser) Use(kr *Keyring) { a.live.Store(kr) }

// Keyring returns the keyring in use.
func (a *Anonymiser) Keyring() *Keyring {
	if kr := a.live.Load(); kr != nil {
		return kr
	}
	return a.Keys
}

// Anonymise coarsens every answer as its item's store transform says (PRIVACY.md R2, R3).
// It returns an error only for a definition inconsistent with the transforms, which
// LoadCatalog already refuses.
func (a *Anonymiser) Anonymise(s *Submission, received time.Time) (Record, error) {
	ring := a.Keyring()
	key := ring.Current
	period := s.Answers[s.Definition.PeriodItem()].Text
	year, err := strconv.Atoi(period[:4])
	if err != nil {
		return Record{}, fmt.Errorf("collector: period %s: %w", s.Definition.PeriodItem(), err)
	}
	r := Record{
		SubmissionID:  s.ID,
		Questionnaire: s.Definition.ID,
		Version:       s.Definition.Version,
		Site:          s.Site,
		Month:         period,
		Year:          year,
		Consent:       s.Consent,
		KeyID:         key.ID,
		Received:      ReceiptDay(received),
	}
	for _, it := range s.Definition.Items {
		ans, ok := s.Answers[it.Code]
		if !ok {
			continue
		}
		var values []string
		switch {
		case it.Store == StoreLinkKey:
			id := []byte(NormaliseIdentifier(ans.Text))
			r.LinkID = key.linkID(id)
			for _, p := range ring.Previous {
				r.PreviousLinks = append(r.PreviousLinks, KeyedLink{KeyID: p.ID, LinkID: p.linkID(id)})
			}
			continue // the identifier itself is never stored, not even hashed in Answers
		case it.Store == StoreAgeBand:
			values = []string{AgeBand(ans.Int)}
		case it.Store == StoreCountryGroup && !isMissingCode(ans.Code):
			group, ok := NationalityGroup(ans.Code)
			if !ok {
				return Record{}, fmt.Errorf("collector: %s: code without a group", it.Code)
			}
			values = []string{group}
		case it.Store == StoreResidenceSecurity && !isMissingCode(ans.Code):
			values = []string{residenceSecurity[ans.Code]}
		case it.Type == TypeMulti:
			values = slices.Sorted(slices.Values(ans.Codes))
			if len(values) == 0 {
				values = []string{""}
			}
		case it.Type == TypeInteger:
			values = []string{strconv.Itoa(ans.Int)}
		case it.Type == TypeMonth:
			values = []string{ans.Text}
		default:
			values = []string{ans.Code}
		}
		for _, v := range values {
			r.Answers = append(r.Answers, StoredAnswer{Item: it.Code, Value: v})
		}
		switch it.Code {
		case GenderItem:
			r.Gender = values[0]
		case AgeItem:
			r.AgeBand = values[0]
		case NationalityItem:
			r.NationalityGroup = values[0]
		}
	}
	slices.SortStableFunc(r.Answers, func(x, y StoredAnswer) int {
		if x.Item != y.Item {
			if x.Item < y.Item {
				return -1
			}
			return 1
		}
		return 0
	})
	r.Fingerprint = r.fingerprint()
	return r, nil
}

// fingerprint hashes what the record stores: questionnaire, version, site, period,
// consent, link id and every stored answer. It was a keyed hash of the raw submission,
// and the key sits beside the store: with both, an exact age and country came back in a
// few thousand guesses. A hash of the anonymised record gives back nothing the row does
// not hold. The link id is in it: two people with the same coarsened answers and other
// follow-up codes are two records (and a corrected code under a stored id a conflict).
// So a replay after a key rotation, its link under the new key, is a 409, as it was. The
// key id and receipt time are not content, and the submission id is what the
// fingerprint is compared under (a paper row's id is derived from its fingerprint).
func (r *Record) fingerprint() string {
	h := sha256.New()
	field := func(s string) {
		var n [4]byte
		binary.BigEndian.PutUint32(n[:], uint32(len(s)))
		h.Write(n[:])
		h.Write([]byte(s))
	}
	field("record-v2")
	field(r.Questionnaire)
	field(strconv.Itoa(r.Version))
	field(r.Site)
	field(r.Month)
	field(strconv.FormatBool(r.Consent))
	field(r.LinkID)
	for _, a := range r.Answers {
		field(a.Item)
		field(a.Value)
	}
	return hex.EncodeToString(h.Sum(nil))
}
