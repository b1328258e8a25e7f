package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tamtam-ngo/tamtam/queries/chtest"
)

// selfSigned writes a new self-signed certificate for 127.0.0.1 and localhost and its
// key (mode 0600) into dir, and returns their paths and the certificate.
func selfSigned(t *testing.T, dir, name string) (certFile, keyFile string, cert *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "tamtam test " + name},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
	}
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

// TestServeTLS starts tamtam serve with --tls-cert and --tls-key: HTTPS works (TLS 1.2
// or later, the server's certificate), TLS 1.1 and plain HTTP get nothing served.
func TestServeTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, cert := selfSigned(t, dir, "server")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	args := []string{"serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "data"),
		"--clickhouse", clickhouseURL(chtest.NewDatabase(t)), "--tls-cert", certFile}
	env := map[string]string{"TAMTAM_TLS_KEY": keyFile} // the key through the environment
	go func() {
		done <- run(ctx, args, io.Discard, pw, func(k string) string { return env[k] })
		pw.Close()
	}()
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		re := regexp.MustCompile(`msg=listening addr=https://(\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	var hostPort string
	select {
	case hostPort = <-addr:
	case code := <-done:
		t.Fatalf("serve --tls-cert exited with %d before listening", code)
	case <-time.After(60 * time.Second):
		t.Fatal("serve --tls-cert did not start listening in 60 s")
	}

	roots := x509.NewCertPool()
	roots.AddCert(cert)
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
	resp, err := client.Get("https://" + hostPort + "/healthz")
	if err != nil {
		t.Fatalf("GET https://…/healthz: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Errorf("GET https://…/healthz = %d %q over %v, want 200 over TLS 1.2+", resp.StatusCode, body, resp.TLS)
	}

	old := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: roots, MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS11}}}
	if resp, err := old.Get("https://" + hostPort + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("GET over TLS 1.1 = %d, want a failed handshake", resp.StatusCode)
	}

	if resp, err := http.Get("http://" + hostPort + "/healthz"); err == nil {
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(body), `"ok"`) {
			t.Errorf("plain GET http://…/healthz = %d %q, want no page over plain HTTP", resp.StatusCode, body)
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exit after cancel = %d, want 0", code)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop within 60 s")
	}
}

// TestServeTLSRefusals: the flags go together, and a key file that others can read is
// refused before anything starts.
func TestServeTLSRefusals(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile, _ := selfSigned(t, dir, "server")
	readable := filepath.Join(dir, "readable.key")
	data, _ := os.ReadFile(keyFile)
	if err := os.WriteFile(readable, data, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(readable, 0o644)
	tests := []struct {
		name     string
		args     []string
		env      map[string]string
		wantCode int
		wantErr  string
	}{
		{"cert without key", []string{"--tls-cert", certFile}, nil, 2, "--tls-cert and --tls-key go together"},
		{"key without cert", []string{"--tls-key", keyFile}, nil, 2, "--tls-cert and --tls-key go together"},
		{"key from env only", nil, map[string]string{"TAMTAM_TLS_KEY": keyFile}, 2, "--tls-cert and --tls-key go together"},
		{"world-readable key", []string{"--tls-cert", certFile, "--tls-key", readable}, nil, 1, "chmod 600 " + readable},
		{"missing cert", []string{"--tls-cert", filepath.Join(dir, "nope.crt"), "--tls-key", keyFile}, nil, 1, "nope.crt"},
		{"key of another cert", []string{"--tls-cert", certFile, "--tls-key", func() string { _, k, _ := selfSigned(t, dir, "other"); return k }()}, nil, 1, "private key does not match"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr strings.Builder
			// No --clickhouse: the embedded server would start only after the checks.
			args := append([]string{"serve", "--addr", "127.0.0.1:0", "--data", filepath.Join(dir, "data")}, tt.args...)
			code := run(t.Context(), args, io.Discard, &stderr, func(k string) string { return tt.env[k] })
			msg := stderr.String()
			if code != tt.wantCode || !strings.Contains(msg, tt.wantErr) || strings.Count(strings.TrimSpace(msg), "\n") != 0 {
				t.Errorf("serve %s = exit %d, stderr %q; want %d and one line saying %q", tt.name, code, msg, tt.wantCode, tt.wantErr)
			}
		})
	}
	// The checks come before ClickHouse starts: a refused serve leaves no ClickHouse
	// directory behind.
	if _, err := os.Stat(filepath.Join(dir, "data", "clickhouse")); err == nil {
		t.Errorf("a refused serve started ClickHouse")
	}
}
