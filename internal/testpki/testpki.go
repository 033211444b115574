package testpki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"testing"
	"time"
)

// PKI is a root, an intermediate and a leaf made for one test.
type PKI struct {
	Root, Inter, Leaf *x509.Certificate
	LeafKey           *ecdsa.PrivateKey
	// Roots holds Root only.
	Roots *x509.CertPool
}

func mkcert(t testing.TB, tmpl, parent *x509.Certificate, pub *ecdsa.PublicKey, signer *ecdsa.PrivateKey) *x509.Certificate {
	t.Helper()
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// New makes the chain; the leaf covers names and expires at notAfter.
func New(t testing.TB, names []string, notAfter time.Time) *PKI {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	rk, ik, lk := key(), key(), key()
	now := time.Now()
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Test Root CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	root := mkcert(t, ca, ca, &rk.PublicKey, rk)
	it := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "Test Intermediate CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(5 * 365 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign}
	inter := mkcert(t, it, root, &ik.PublicKey, rk)
	lt := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: now.Add(-time.Hour), NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		KeyUsage: x509.KeyUsageDigitalSignature}
	leaf := mkcert(t, lt, inter, &lk.PublicKey, ik)
	pool := x509.NewCertPool()
	pool.AddCert(root)
	return &PKI{Root: root, Inter: inter, Leaf: leaf, LeafKey: lk, Roots: pool}
}

// CertPEM is the leaf, followed by the intermediate when withInter.
func (p *PKI) CertPEM(withInter bool) []byte {
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Leaf.Raw})
	if withInter {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Inter.Raw})...)
	}
	return out
}

// KeyPEM is the leaf's private key.
func (p *PKI) KeyPEM(t testing.TB) []byte {
	der, err := x509.MarshalECPrivateKey(p.LeafKey)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der})
}

// RootPEM is the root certificate.
func (p *PKI) RootPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.Root.Raw})
}

// Serve runs a real TLS server on loopback presenting the leaf and, when
// withInter, the intermediate; it returns its address.
func (p *PKI) Serve(t testing.TB, withInter bool) string {
	t.Helper()
	chain := [][]byte{p.Leaf.Raw}
	if withInter {
		chain = append(chain, p.Inter.Raw)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{{Certificate: chain, PrivateKey: p.LeafKey}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				c.(*tls.Conn).Handshake() //nolint:errcheck // the client only wants the chain
			}(c)
		}
	}()
	return ln.Addr().String()
}
