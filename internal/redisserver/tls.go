package redisserver

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSFiles are the certificates of a TLS-enabled Server, made fresh for each
// server with crypto/x509.
type TLSFiles struct {
	// CAFile is the PEM file of the CA that signed the server certificate.
	CAFile string
	// CertFile and KeyFile are the server's certificate and key (PEM).
	CertFile, KeyFile string
	// ClientCertFile and ClientKeyFile are a client certificate and key
	// signed by the same CA, for Config.TLSAuthClients.
	ClientCertFile, ClientKeyFile string
	// ClientCert is the client certificate ready for tls.Config.Certificates.
	ClientCert tls.Certificate
	// CAPool holds the CA that signed the server certificate (SANs 127.0.0.1
	// and localhost).
	CAPool *x509.CertPool
	// OtherCAPool holds an unrelated CA, for "wrong CA" tests.
	OtherCAPool *x509.CertPool
	// ServerName is the name the server certificate is valid for,
	// "localhost" (the IP 127.0.0.1 is valid too).
	ServerName string
}

// ClientConfig returns a client configuration that trusts CAPool, verifies
// ServerName and requires TLS 1.2 or later. It carries ClientCert too.
func (f *TLSFiles) ClientConfig() *tls.Config {
	return &tls.Config{
		RootCAs:      f.CAPool,
		ServerName:   f.ServerName,
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{f.ClientCert},
	}
}

// certAuthority is a CA able to sign leaf certificates.
type certAuthority struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

// newCA makes a self-signed CA.
func newCA(name string) (*certAuthority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"redisserver"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &certAuthority{cert: cert, der: der, key: key}, nil
}

// sign makes a leaf certificate for the given usage.
func (ca *certAuthority) sign(name string, usage x509.ExtKeyUsage, dns []string, ips []net.IP) (der []byte, key *ecdsa.PrivateKey, err error) {
	key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: name, Organization: []string{"redisserver"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err = x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	return der, key, err
}

// serial returns a random certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		panic("redisserver: crypto/rand failed: " + err.Error())
	}
	return n
}

// makeTLSFiles creates a CA, a server and a client certificate in dir, and
// an unrelated CA.
func makeTLSFiles(dir string) (*TLSFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("tls dir: %w", err)
	}
	ca, err := newCA("redisserver CA")
	if err != nil {
		return nil, fmt.Errorf("make CA: %w", err)
	}
	other, err := newCA("redisserver unrelated CA")
	if err != nil {
		return nil, fmt.Errorf("make CA: %w", err)
	}
	srvDER, srvKey, err := ca.sign("localhost", x509.ExtKeyUsageServerAuth, []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return nil, fmt.Errorf("make server certificate: %w", err)
	}
	cliDER, cliKey, err := ca.sign("redisserver client", x509.ExtKeyUsageClientAuth, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("make client certificate: %w", err)
	}
	f := &TLSFiles{
		CAFile:         filepath.Join(dir, "ca.crt"),
		CertFile:       filepath.Join(dir, "server.crt"),
		KeyFile:        filepath.Join(dir, "server.key"),
		ClientCertFile: filepath.Join(dir, "client.crt"),
		ClientKeyFile:  filepath.Join(dir, "client.key"),
		CAPool:         x509.NewCertPool(),
		OtherCAPool:    x509.NewCertPool(),
		ServerName:     "localhost",
	}
	f.CAPool.AddCert(ca.cert)
	f.OtherCAPool.AddCert(other.cert)
	srvKeyPEM, err := keyPEM(srvKey)
	if err != nil {
		return nil, err
	}
	cliKeyPEM, err := keyPEM(cliKey)
	if err != nil {
		return nil, err
	}
	cliCertPEM := certPEM(cliDER)
	for path, data := range map[string][]byte{
		f.CAFile:         certPEM(ca.der),
		f.CertFile:       certPEM(srvDER),
		f.KeyFile:        srvKeyPEM,
		f.ClientCertFile: cliCertPEM,
		f.ClientKeyFile:  cliKeyPEM,
	} {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
	}
	f.ClientCert, err = tls.X509KeyPair(cliCertPEM, cliKeyPEM)
	if err != nil {
		return nil, fmt.Errorf("client key pair: %w", err)
	}
	return f, nil
}

// certPEM encodes a DER certificate.
func certPEM(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// keyPEM encodes a private key as PKCS #8.
func keyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("marshal key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
