package main

import (
	"crypto/tls"
	"time"

	"github.com/tamtam-ngo/tamtam/collector/web"
)

// newCertReloader keeps TestCertReloader of tls_test.go compiling now that the reloader
// is web.CertReloader (tested there too); remove both together.
func newCertReloader(certFile, keyFile string, now func() time.Time) (certShim, error) {
	r, err := web.NewCertReloader(certFile, keyFile, now, nil)
	return certShim{r}, err
}

type certShim struct{ *web.CertReloader }

func (c certShim) get(h *tls.ClientHelloInfo) (*tls.Certificate, error) { return c.GetCertificate(h) }
