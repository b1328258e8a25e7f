package web

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// selfSigned writes a self-signed certificate and its key (0600) under dir.
func selfSigned(t *testing.T, dir, name string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: "tamtam test " + name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	if cert, err = x509.ParseCertificate(der); err != nil {
		t.Fatal(err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile, cert
}

// TestCertReloader: a renewed certificate is served after the next check, and a broken
// renewal keeps the previous one. The clock is moved, nothing sleeps.
func TestCertReloader(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, first := selfSigned(t, dir, "server")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r, err := NewCertReloader(certFile, keyFile, func() time.Time { return now }, nil)
	if err != nil {
		t.Fatal(err)
	}
	serial := func() string {
		t.Helper()
		c, err := r.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := x509.ParseCertificate(c.Certificate[0])
		if err != nil {
			t.Fatal(err)
		}
		return leaf.SerialNumber.String()
	}
	if got := serial(); got != first.SerialNumber.String() {
		t.Fatalf("served serial %s, want the first certificate's", got)
	}
	newCert, newKey, second := selfSigned(t, dir, "renewed")
	os.Rename(newCert, certFile)
	os.Rename(newKey, keyFile)
	if got := serial(); got != first.SerialNumber.String() {
		t.Errorf("served serial %s right after the renewal, want the first until the next check", got)
	}
	now = now.Add(11 * time.Second)
	if got := serial(); got != second.SerialNumber.String() {
		t.Errorf("served serial %s after the check, want the renewed certificate's", got)
	}
	_, otherKey, _ := selfSigned(t, dir, "other")
	os.Rename(otherKey, keyFile)
	now = now.Add(11 * time.Second)
	if got := serial(); got != second.SerialNumber.String() {
		t.Errorf("served serial %s after a broken renewal, want the renewed certificate kept", got)
	}
}

// TestCertReloaderRefusesOpenKey: a key file readable by others is refused at start.
func TestCertReloaderRefusesOpenKey(t *testing.T) {
	certFile, keyFile, _ := selfSigned(t, t.TempDir(), "server")
	if err := os.Chmod(keyFile, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewCertReloader(certFile, keyFile, nil, nil); err == nil || !strings.Contains(err.Error(), "accessible to others") {
		t.Errorf("NewCertReloader(key 0644) = %v, want an error saying it is accessible to others", err)
	}
}
