package collector

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"time"
)

// Session is a signed-in browser's session as the store keeps it. The store never holds
// the session id itself, only its SHA-256: the id is the browser's credential, and whoever
// copies the data directory must not be able to use a session from it. Nothing in a
// session is signed either, so no key in the data directory forges one.
type Session struct {
	IDHash    string    // SHA-256 of the random session id, hex-encoded
	TokenHash string    // the token the session was opened with
	Issued    time.Time // sign-in
	Seen      time.Time // last recorded use (refreshed every few minutes)
	Ended     bool      // signed out, or ended with its token: final
}

// SessionStore keeps the sessions of the web pages, so that a sign-out holds after a
// restart and on every server sharing the store.
type SessionStore interface {
	// SaveSession records the latest state of a session.
	SaveSession(ctx context.Context, s Session) error
	// SessionByHash returns the latest state of the session whose id has the given
	// hash, or ErrNoSession.
	SessionByHash(ctx context.Context, idHash string) (Session, error)
}

// ErrNoSession is returned by [SessionStore.SessionByHash] for an unknown session.
var ErrNoSession = errors.New("collector: no such session")

// HashSessionID returns the hash under which a session id is stored.
func HashSessionID(id string) string {
	sum := sha256.Sum256([]byte("tamtam session|" + id))
	return hex.EncodeToString(sum[:])
}
