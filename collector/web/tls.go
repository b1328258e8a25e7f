package web

import (
	"crypto/sha256"
	"crypto/tls"
	"fmt"
	"log"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"
)

// CertReloader serves the certificate of a certificate file and its key file, and loads
// them again when either changes (a renewal), checked at most every 10 s on a handshake;
// a renewal that fails to load is logged and the previous certificate kept. Its
// GetCertificate goes in a tls.Config.
type CertReloader struct {
	certFile, keyFile string
	now               func() time.Time
	log               *slog.Logger

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string // digest of the files loaded
	checked time.Time
}

// NewCertReloader loads certFile and keyFile (PEM), refusing a key file that others can
// read: a bad file is one clear error before anything starts, not a server that fails at
// the first handshake. A nil now is time.Now, a nil log discards.
func NewCertReloader(certFile, keyFile string, now func() time.Time, log *slog.Logger) (*CertReloader, error) {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	r := &CertReloader{certFile: certFile, keyFile: keyFile, now: now, log: log}
	cert, stamp, err := loadKeyPair(certFile, keyFile)
	if err != nil {
		return nil, err
	}
	r.cert, r.stamp, r.checked = cert, stamp, now()
	return r, nil
}

// GetCertificate returns the certificate to present, reloaded first when the files
// changed: the tls.Config.GetCertificate of the server. It never fails.
func (r *CertReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if now := r.now(); now.Sub(r.checked) >= 10*time.Second {
		r.checked = now
		if stamp, err := fileStamp(r.certFile, r.keyFile); err == nil && stamp != r.stamp {
			cert, stamp, err := loadKeyPair(r.certFile, r.keyFile)
			if err != nil {
				r.log.Error("tls certificate not reloaded; serving the previous one", "err", err)
				r.stamp = stamp // do not retry until the files change again
			} else {
				r.cert, r.stamp = cert, stamp
				r.log.Info("tls certificate reloaded", "cert", r.certFile)
			}
		}
	}
	return r.cert, nil
}

// loadKeyPair loads a certificate and its key, refusing a key file that others can read
// (its group may: Debian's ssl-cert group reads keys in /etc/ssl/private).
func loadKeyPair(certFile, keyFile string) (*tls.Certificate, string, error) {
	stamp, err := fileStamp(certFile, keyFile)
	if err != nil {
		return nil, "", err
	}
	fi, err := os.Stat(keyFile)
	if err != nil {
		return nil, stamp, fmt.Errorf("tls key: %w", err)
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		return nil, stamp, fmt.Errorf("tls key %s is accessible to others (mode %04o); run chmod 600 %s", keyFile, perm, keyFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, stamp, fmt.Errorf("tls: %w", err)
	}
	return &cert, stamp, nil
}

// fileStamp is a digest of the files' contents: a renewal is seen whatever the file
// system's time stamps (two writes in one clock tick share a modification time).
func fileStamp(paths ...string) (string, error) {
	h := sha256.New()
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			return "", fmt.Errorf("tls: %w", err)
		}
		fmt.Fprintf(h, "%d:", len(data))
		h.Write(data)
	}
	return string(h.Sum(nil)), nil
}

// ServerErrorLog returns the http.Server.ErrorLog that takes net/http's own error lines
// into the structured log. A failed TLS handshake (a scanner, a client speaking plain
// HTTP, an old TLS version) is routine on a server facing a network: debug; anything else
// is a warning.
func ServerErrorLog(l *slog.Logger) *log.Logger {
	return log.New(serverErrorLog{l}, "", 0)
}

type serverErrorLog struct{ log *slog.Logger }

func (l serverErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "TLS handshake error") {
		l.log.Debug("tls handshake failed", "err", msg)
	} else {
		l.log.Warn("http server", "err", msg)
	}
	return len(p), nil
}
