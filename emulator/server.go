package emulator

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"
)

// Server is an emulator listening on a TCP address.
type Server struct {
	// URL is the endpoint to give an SDK as its BaseEndpoint: http://127.0.0.1:PORT, or https://.
	URL string
	srv *http.Server
	ln  net.Listener
	// done closes when Serve returns, after serveErr is set; closing (not sending) lets Shutdown
	// and Close both be called, in any order and more than once.
	done     chan struct{}
	serveErr error
}

// Listen starts serving h on addr (host:port; port 0 picks a free one). With tlsConfig it serves
// HTTPS (HTTP/1.1 and HTTP/2 by ALPN); without, plain HTTP/1.1 and HTTP/2 with prior knowledge,
// which the AWS SDK for JavaScript v3 speaks to an http:// endpoint.
func Listen(addr string, h http.Handler, tlsConfig *tls.Config) (*Server, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetHTTP2(true)
	scheme := "https"
	if tlsConfig == nil {
		protocols.SetUnencryptedHTTP2(true)
		scheme = "http"
	} else {
		// http.Server edits its TLSConfig (NextProtos for HTTP/2), so it gets its own copy: one
		// config may serve several emulators.
		tlsConfig = tlsConfig.Clone()
	}
	srv := &http.Server{
		Handler:           h,
		Protocols:         protocols,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// No write timeout: a stream under a slow latency model may rightly take minutes.
	}
	s := &Server{URL: scheme + "://" + ln.Addr().String(), srv: srv, ln: ln, done: make(chan struct{})}
	go func() {
		var err error
		if tlsConfig != nil {
			err = srv.ServeTLS(ln, "", "")
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		s.serveErr = err
		close(s.done)
	}()
	return s, nil
}

// Addr is the address the server listens on.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Shutdown stops accepting connections and waits for requests in flight, until ctx ends; then it
// closes the connections that remain.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.srv.Shutdown(ctx)
	if err != nil {
		_ = s.srv.Close()
	}
	<-s.done
	if s.serveErr != nil && err == nil {
		err = s.serveErr
	}
	return err
}

// Close stops the server at once, cutting requests in flight.
func (s *Server) Close() error {
	err := s.srv.Close()
	<-s.done
	return err
}

// Files written by SelfSignedTLS.
const (
	SelfSignedCertFile = "cert.pem"
	SelfSignedKeyFile  = "key.pem"
)

// SelfSignedTLS makes a certificate for localhost, 127.0.0.1 and ::1, valid for a year, and writes
// it and its key to dir as cert.pem and key.pem, so clients can trust exactly this emulator.
func SelfSignedTLS(dir string) (*tls.Config, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate TLS key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate certificate serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "strata emulator", Organization: []string{"Strata"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode TLS key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	if err := os.WriteFile(filepath.Join(dir, SelfSignedCertFile), certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write certificate: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, SelfSignedKeyFile), keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("write TLS key: %w", err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("load generated certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// LoadTLS reads a certificate and key from PEM files.
func LoadTLS(certFile, keyFile string) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("load TLS certificate %s: %w", certFile, err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
