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
	Revoked   bool
}

// Principal is the authenticated caller of a request.
type Principal struct {
	TokenID string // a short prefix of the token hash, for logs and audit; not a secret
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
	if len(label) > 200 || strings.ContainsAny(label, "\n\r") {
		return "", Token{}, errors.New("the label must be one line of at most 200 characters")
	}
	bearer, hash, err := NewToken()
	if err != nil {
		return "", Token{}, err
	}
	return bearer, Token{Hash: hash, Role: role, Sites: sites, Label: label, CreatedAt: now.UTC().Truncate(time.Second)}, nil
}

// TokenStore keeps tokens. ErrNoToken is returned by TokenByHash for an unknown hash.
type TokenStore interface {
	CreateToken(ctx context.Context, t Token) error
	TokenByHash(ctx context.Context, hash string) (Token, error)
}

// ErrNoToken is returned by [TokenStore.TokenByHash] when no token has the hash.
var ErrNoToken = errors.New("no such token")
