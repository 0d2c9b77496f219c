package main

// The control plane's credentials: a CA, a serving certificate for 127.0.0.1/localhost/::1, a ServiceAccount
// signing key, the static token file and the admin kubeconfig. Existing files in the state directory are reused,
// so a control plane restarted on the same directory keeps its identity (clients and tokens stay valid).

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

type pki struct {
	caFile, servingCert, servingKey, saKey string
	caPEM                                  []byte
}

func ensurePKI(dir string) (*pki, error) {
	p := &pki{
		caFile:      filepath.Join(dir, "ca.crt"),
		servingCert: filepath.Join(dir, "apiserver.crt"),
		servingKey:  filepath.Join(dir, "apiserver.key"),
		saKey:       filepath.Join(dir, "sa.key"),
	}
	if exists(p.caFile) && exists(p.servingCert) && exists(p.servingKey) && exists(p.saKey) {
		caPEM, err := os.ReadFile(p.caFile)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", p.caFile, err)
		}
		p.caPEM = caPEM
		return p, nil
	}

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating CA key: %w", err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "kubewhy-controlplane-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("creating CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, fmt.Errorf("parsing CA certificate: %w", err)
	}

	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating serving key: %w", err)
	}
	srvTmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(10 * 365 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1"), net.ParseIP("10.0.0.1")},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, fmt.Errorf("creating serving certificate: %w", err)
	}
	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating ServiceAccount signing key: %w", err)
	}

	p.caPEM = pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	files := []struct {
		path string
		data func() ([]byte, error)
	}{
		{p.caFile, func() ([]byte, error) { return p.caPEM, nil }},
		{p.servingCert, func() ([]byte, error) {
			return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}), nil
		}},
		{p.servingKey, func() ([]byte, error) { return keyPEM(srvKey) }},
		{p.saKey, func() ([]byte, error) { return keyPEM(saKey) }},
	}
	for _, f := range files {
		data, err := f.data()
		if err != nil {
			return nil, fmt.Errorf("encoding %s: %w", f.path, err)
		}
		if err := os.WriteFile(f.path, data, 0o600); err != nil {
			return nil, fmt.Errorf("writing %s: %w", f.path, err)
		}
	}
	return p, nil
}

func keyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), nil
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

type tokenSet struct {
	file  string
	admin string
	users map[string]string
}

// writeTokens writes the static token file: the admin (group system:masters) and each named user. Tokens already
// in the file are kept, so a restart on the same directory does not invalidate clients.
func writeTokens(dir string, users []string) (*tokenSet, error) {
	ts := &tokenSet{file: filepath.Join(dir, "tokens.csv"), users: map[string]string{}}
	known := map[string]string{} // user -> token
	if data, err := os.ReadFile(ts.file); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			cols := strings.SplitN(line, ",", 4)
			if len(cols) >= 3 {
				known[cols[1]] = cols[0]
			}
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("reading %s: %w", ts.file, err)
	}
	token := func(user string) string {
		if t, ok := known[user]; ok {
			return t
		}
		b := make([]byte, 24)
		if _, err := rand.Read(b); err != nil {
			panic(fmt.Sprintf("crypto/rand failed: %v", err)) // the platform has no randomness: nothing safe to do
		}
		return hex.EncodeToString(b)
	}
	type entry struct{ token, user, groups string }
	entries := []entry{{token("admin"), "admin", "system:masters"}}
	for _, u := range users {
		name, groups, _ := strings.Cut(u, ":")
		if name == "" || name == "admin" || strings.ContainsAny(name, ",\"\n") {
			return nil, fmt.Errorf("--user %q: the name must be non-empty, not \"admin\", and contain no comma or quote", u)
		}
		entries = append(entries, entry{token(name), name, groups})
	}
	sort.SliceStable(entries[1:], func(i, j int) bool { return entries[i+1].user < entries[j+1].user })
	var b strings.Builder
	for _, e := range entries {
		fmt.Fprintf(&b, "%s,%s,%s,\"%s\"\n", e.token, e.user, e.user, e.groups)
		if e.user == "admin" {
			ts.admin = e.token
		} else {
			ts.users[e.user] = e.token
		}
	}
	if err := writeFileAtomic(ts.file, []byte(b.String()), 0o600); err != nil {
		return nil, fmt.Errorf("writing %s: %w", ts.file, err)
	}
	return ts, nil
}

func writeKubeconfig(path, server string, caPEM []byte, token string) error {
	cfg := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: kubewhy-local
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: admin
  user:
    token: %s
contexts:
- name: kubewhy-local
  context:
    cluster: kubewhy-local
    user: admin
    namespace: default
current-context: kubewhy-local
`, server, base64.StdEncoding.EncodeToString(caPEM), token)
	if err := writeFileAtomic(path, []byte(cfg), 0o600); err != nil {
		return fmt.Errorf("writing kubeconfig %s: %w", path, err)
	}
	return nil
}
