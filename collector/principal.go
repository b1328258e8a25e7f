package collector

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
)

// Role is what a token may do (PRIVACY.md R4).
type Role string

// The roles.
const (
	RoleIntake      Role = "intake"      // submits questionnaires for its sites; reads nothing back
	RoleCoordinator Role = "coordinator" // all sites' published outputs; manages tokens
	RoleFunder      Role = "funder"      // published outputs of its sites only
)

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	switch r := Role(s); r {
	case RoleIntake, RoleCoordinator, RoleFunder:
		return r, nil
	}
	return "", fmt.Errorf("unknown role %q: use intake, coordinator or funder", s)
}

// Token is a stored bearer token: its hash, never the token itself.
type Token struct {
	Hash      string // hex SHA-256 of the bearer token
	Role      Role
	Sites     []string // the scope of intake and funder tokens; empty for coordinators
	Label     string   // who or what it is for, chosen by the coordinator
	CreatedAt time.Time
	ExpiresAt time.Time // the token stops working at this instant; zero: never
	Revoked   bool
	LastUsed  time.Time // last successful authentication, to the minute; zero: never. Read only.
}

// TokenIDLen is the length of a token id: the first hex characters of the token's hash.
// 48 bits are unique among the tokens of an organisation, and reveal nothing of the
// token: the hash of a 256-bit secret cannot be inverted.
const TokenIDLen = 12

// TokenID returns the id of the token with the given hash: what logs, the audit log and
// `tamtam token list` show, never the token.
func TokenID(hash string) string {
	if len(hash) < TokenIDLen {
		return hash
	}
	return hash[:TokenIDLen]
}

// ID returns the token's id (see [TokenID]).
func (t Token) ID() string { return TokenID(t.Hash) }

// Expired reports whether the token has an expiry at or before now.
func (t Token) Expired(now time.Time) bool {
	return !t.ExpiresAt.IsZero() && !now.Before(t.ExpiresAt)
}

// Active reports whether the token may be used at now: neither revoked nor expired.
func (t Token) Active(now time.Time) bool { return !t.Revoked && !t.Expired(now) }

// Principal is the authenticated caller of a request.
type Principal struct {
	TokenID string // the token's id ([TokenID]), for logs and audit; not a secret
	Role    Role
	Sites   []string
	Label   string
}

// CanSubmit reports whether the principal may submit questionnaires for site.
func (p Principal) CanSubmit(site string) bool {
	return p.Role == RoleIntake && slices.Contains(p.Sites, site)
}

// CanRead reports whether the principal may read published outputs of site.
func (p Principal) CanRead(site string) bool {
	switch p.Role {
	case RoleCoordinator:
		return true
	case RoleFunder:
		return slices.Contains(p.Sites, site)
	}
	return false
}

// tokenPrefix marks tamtam tokens so they are recognisable in a leaked file or a
// secret scanner.
const tokenPrefix = "tt_"

// NewToken returns a new random bearer token (256 bits) and its hash.
func NewToken() (bearer, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	bearer = tokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	return bearer, HashToken(bearer), nil
}

// HashToken returns the stored form of a bearer token. Tokens carry 256 random bits, so
// a fast hash is enough: there is nothing to brute-force.
func HashToken(bearer string) string {
	h := sha256.Sum256([]byte(bearer))
	return hex.EncodeToString(h[:])
}

// NewTokenFor checks a token request (role, sites known and fitting the role) and returns
// the bearer to show once and the Token to store.
func NewTokenFor(role Role, sites []string, label string, known *Sites, now time.Time) (string, Token, error) {
	if _, err := ParseRole(string(role)); err != nil {
		return "", Token{}, err
	}
	sites = slices.Clone(sites)
	slices.Sort(sites)
	sites = slices.Compact(sites)
	for _, s := range sites {
		if _, ok := known.Get(s); !ok {
			return "", Token{}, fmt.Errorf("unknown site %q", s)
		}
	}
	switch {
	case role == RoleCoordinator && len(sites) > 0:
		return "", Token{}, errors.New("a coordinator token covers all sites; do not give --site")
	case role != RoleCoordinator && len(sites) == 0:
		return "", Token{}, fmt.Errorf("a %s token needs at least one --site", role)
	}
	// Control characters (a tab, a terminal escape) would garble or rewrite the
	// terminal of whoever lists the tokens.
	if len(label) > 200 || strings.ContainsFunc(label, unicode.IsControl) {
		return "", Token{}, errors.New("the label must be one line of at most 200 characters, without control characters")
	}
	bearer, hash, err := NewToken()
	if err != nil {
		return "", Token{}, err
	}
	return bearer, Token{Hash: hash, Role: role, Sites: sites, Label: label, CreatedAt: now.UTC().Truncate(time.Second)}, nil
}

// ParseExpiry reads an expiry date (YYYY-MM-DD): the token stops working at the start of
// that day, 00:00 UTC. A date that is not after now (today or earlier) is refused, as
// is one past 2099 (ClickHouse's DateTime ends in 2106).
func ParseExpiry(s string, now time.Time) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("expiry %q is not a date YYYY-MM-DD", s)
	}
	switch {
	case !t.After(now):
		return time.Time{}, fmt.Errorf("expiry %s is not in the future: a token expires at 00:00 UTC of that day", s)
	case t.Year() > 2099:
		return time.Time{}, fmt.Errorf("expiry %s is too far: give a date before 2100", s)
	}
	return t, nil
}

// MinTokenIDPrefix is the shortest prefix of a token id that [MatchTokenID] accepts.
const MinTokenIDPrefix = 8

// ErrAmbiguousToken is returned by [MatchTokenID] when several tokens share the prefix.
var ErrAmbiguousToken = errors.New("several tokens have this id prefix")

// MatchTokenID returns the token of tokens whose id (or full hash) starts with id: a token
// id, or a prefix of at least [MinTokenIDPrefix] hex characters. It returns an error for
// a malformed id, [ErrNoToken] when no token matches and [ErrAmbiguousToken] when several
// do. Error messages quote id only once it is known to be hex, so a bearer token given by
// mistake is never echoed.
func MatchTokenID(tokens []Token, id string) (Token, error) {
	id = strings.ToLower(id)
	if strings.HasPrefix(id, tokenPrefix) {
		return Token{}, errors.New("give the token id shown by 'tamtam token list', not the token itself")
	}
	if len(id) < MinTokenIDPrefix || len(id) > sha256.Size*2 || strings.Trim(id, "0123456789abcdef") != "" {
		return Token{}, fmt.Errorf("a token id is %d hexadecimal characters (a prefix of at least %d will do), as shown by 'tamtam token list'",
			TokenIDLen, MinTokenIDPrefix)
	}
	var found []Token
	for _, t := range tokens {
		if strings.HasPrefix(t.Hash, id) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return Token{}, fmt.Errorf("token %s: %w", id, ErrNoToken)
	case 1:
		return found[0], nil
	}
	return Token{}, fmt.Errorf("token %s: %w (%d); give more characters", id, ErrAmbiguousToken, len(found))
}

// TokenStore keeps tokens. ErrNoToken is returned by TokenByHash for an unknown hash.
// TokenUsage records the last use of tokens (by hash); it is called by the
// [Authenticator] off the request path, at most once a minute per token.
type TokenStore interface {
	CreateToken(ctx context.Context, t Token) error
	TokenByHash(ctx context.Context, hash string) (Token, error)
	TokenUsage(ctx context.Context, lastUsed map[string]time.Time) error
}

// ErrNoToken is returned by [TokenStore.TokenByHash] when no token has the hash.
var ErrNoToken = errors.New("no such token")
