// Command kubewhy-controlplane runs a real, local Kubernetes control plane for kubewhy's tests and demos:
// an embedded etcd and the genuine kube-apiserver (k8s.io/kubernetes/cmd/kube-apiserver) in one process.
//
// It generates a CA, a serving certificate and a ServiceAccount signing key, a static token file with an admin
// (group system:masters) and any named users, starts etcd on loopback, then runs kube-apiserver with RBAC,
// token authentication and TokenRequest enabled. When the API server answers /readyz and the default namespace
// exists, it writes state.json and an admin kubeconfig into the state directory and prints one line starting
// with "kubewhy-controlplane: ready". With --workloads it also runs the workload controllers and the scheduler
// (workloads.go), so Deployments get pods on the nodes KWOK plays.
//
// It stops cleanly on SIGTERM/SIGINT, and on end of standard input with --exit-on-stdin-eof (so a parent that
// dies, however it dies, takes the control plane with it). A state directory it created itself is removed.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/kubernetes/cmd/kube-apiserver/app"
)

// State is what a client needs to talk to the control plane; it is written to <dir>/state.json once ready.
type State struct {
	Server     string            `json:"server"`
	CAFile     string            `json:"ca_file"`
	Kubeconfig string            `json:"kubeconfig"`
	AdminToken string            `json:"admin_token"`
	Users      map[string]string `json:"users"`
	Pid        int               `json:"pid"`
	Dir        string            `json:"dir"`
	DataDir    string            `json:"data_dir"`
	Version    string            `json:"version"`
}

type userFlag []string

func (u *userFlag) String() string     { return strings.Join(*u, " ") }
func (u *userFlag) Set(v string) error { *u = append(*u, v); return nil }

// version is stamped at build time with -ldflags "-X main.version=v1.36.3".
var version = "unknown"

func main() {
	if err := run(); err != nil {
		fmt.Fprintf(os.Stderr, "kubewhy-controlplane: error: %v\n", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		dir          = flag.String("dir", "", "state directory for certificates, tokens, kubeconfig and etcd data (default: a new temporary directory, removed on exit)")
		port         = flag.Int("port", 0, "HTTPS port of the API server on 127.0.0.1 (0 or a port in use: a free port is picked)")
		exitOnEOF    = flag.Bool("exit-on-stdin-eof", false, "shut down when standard input reaches end of file (for a parent process that may die)")
		readyTimeout = flag.Duration("ready-timeout", 120*time.Second, "how long to wait for the API server to become ready")
		workloads    = flag.Bool("workloads", false, "also run the Deployment, ReplicaSet, StatefulSet, DaemonSet and Job controllers and the scheduler (pods then run on nodes KWOK plays)")
		users        userFlag
	)
	flag.Var(&users, "user", "a static-token user, NAME or NAME:GROUP1,GROUP2 (repeatable)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: kubewhy-controlplane [flags] [-- extra kube-apiserver flags]\n\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	extraArgs := flag.Args()
	start := time.Now()

	ownDir := *dir == ""
	if ownDir {
		d, err := os.MkdirTemp("", "kubewhy-controlplane-")
		if err != nil {
			return fmt.Errorf("creating a temporary state directory: %w", err)
		}
		*dir = d
	}
	stateDir, err := filepath.Abs(*dir)
	if err != nil {
		return fmt.Errorf("resolving state directory %q: %w", *dir, err)
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return fmt.Errorf("creating state directory %s: %w", stateDir, err)
	}
	cleanup := func() {
		if ownDir {
			if err := os.RemoveAll(stateDir); err != nil {
				fmt.Fprintf(os.Stderr, "kubewhy-controlplane: warning: could not remove %s: %v\n", stateDir, err)
			}
		}
	}

	// Signals that arrive before kube-apiserver installs its own handler stop us here; afterwards
	// kube-apiserver's handler (which also sees them) drives the shutdown and we only enforce a deadline.
	// The workload controllers (--workloads) stop first on a signal: their open watches would hold up the API
	// server's graceful shutdown.
	workloadsCtx, stopWorkloads := context.WithCancel(context.Background())
	defer stopWorkloads()
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	apiserverRunning := make(chan struct{})
	go func() {
		<-sigs
		stopWorkloads()
		select {
		case <-apiserverRunning:
			time.Sleep(30 * time.Second)
			fmt.Fprintln(os.Stderr, "kubewhy-controlplane: error: kube-apiserver did not stop within 30s of the signal; exiting")
		default:
		}
		cleanup()
		os.Exit(1)
	}()
	if *exitOnEOF {
		go func() {
			// Any read result (EOF or an error) means the parent is gone or closed the pipe: shut down.
			_, err := io.Copy(io.Discard, os.Stdin)
			fmt.Fprintf(os.Stderr, "kubewhy-controlplane: standard input closed (%v); shutting down\n", errOrEOF(err))
			if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
				fmt.Fprintf(os.Stderr, "kubewhy-controlplane: error: signalling self: %v\n", err)
				cleanup()
				os.Exit(1)
			}
		}()
	}

	pki, err := ensurePKI(stateDir)
	if err != nil {
		cleanup()
		return err
	}
	tokens, err := writeTokens(stateDir, users)
	if err != nil {
		cleanup()
		return err
	}

	dataDir := filepath.Join(stateDir, "etcd")
	etcd, etcdURL, err := startEtcd(dataDir)
	if err != nil {
		cleanup()
		return err
	}

	apiPort, err := choosePort(*port)
	if err != nil {
		etcd.Close()
		cleanup()
		return err
	}
	server := fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	kubeconfig := filepath.Join(stateDir, "admin.kubeconfig")
	if err := writeKubeconfig(kubeconfig, server, pki.caPEM, tokens.admin); err != nil {
		etcd.Close()
		cleanup()
		return err
	}
	state := State{
		Server: server, CAFile: pki.caFile, Kubeconfig: kubeconfig, AdminToken: tokens.admin,
		Users: tokens.users, Pid: os.Getpid(), Dir: stateDir, DataDir: dataDir, Version: version,
	}

	args := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", apiPort),
		"--advertise-address=127.0.0.1",
		"--endpoint-reconciler-type=none",
		"--tls-cert-file=" + pki.servingCert,
		"--tls-private-key-file=" + pki.servingKey,
		"--client-ca-file=" + pki.caFile,
		"--token-auth-file=" + tokens.file,
		"--authorization-mode=RBAC",
		"--service-cluster-ip-range=10.0.0.0/24",
		"--service-account-issuer=" + server,
		"--service-account-key-file=" + pki.saKey,
		"--service-account-signing-key-file=" + pki.saKey,
		"--allow-privileged=true",
		"--shutdown-delay-duration=0s",
		"--profiling=false",
		// A node's kubelet endpoint (pods/log, exec) is reached at its InternalIP: the nodes KWOK plays name a
		// host name that does not resolve.
		"--kubelet-preferred-address-types=InternalIP",
	}
	// No ServiceAccount admission: pods need no token volume, since no kubelet mounts one. With --workloads, no
	// TaintNodesByCondition either: it taints every new node not-ready, and the node lifecycle controller that
	// lifts the taint once the node is Ready does not run here.
	disabled := "--disable-admission-plugins=ServiceAccount"
	if *workloads {
		disabled += ",TaintNodesByCondition"
	}
	args = append(args, disabled)
	args = append(args, extraArgs...)

	onReady := func() error { return nil }
	if *workloads {
		onReady = func() error { return startWorkloads(workloadsCtx, state, pki.caPEM) }
	}
	go waitReady(state, pki, *readyTimeout, start, filepath.Join(stateDir, "state.json"), onReady)

	cmd := app.NewAPIServerCommand()
	cmd.SetArgs(args)
	close(apiserverRunning)
	runErr := cmd.Execute()

	// Close etcd only after the API server has returned, so its clients have drained.
	etcd.Close()
	cleanup()
	if runErr != nil {
		return fmt.Errorf("kube-apiserver: %w", runErr)
	}
	fmt.Fprintln(os.Stderr, "kubewhy-controlplane: stopped")
	return nil
}

func errOrEOF(err error) string {
	if err == nil {
		return "end of file"
	}
	return err.Error()
}

// choosePort returns the requested port when it is free, otherwise a free port picked by the kernel.
func choosePort(requested int) (int, error) {
	if requested > 0 {
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", requested))
		if err == nil {
			l.Close()
			return requested, nil
		}
		fmt.Fprintf(os.Stderr, "kubewhy-controlplane: port %d is not available (%v); picking a free port\n", requested, err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startEtcd starts a single-member etcd on free loopback ports, retrying when a port is taken in between.
func startEtcd(dataDir string) (*embed.Etcd, string, error) {
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		clientPort, err := choosePort(0)
		if err != nil {
			return nil, "", err
		}
		peerPort, err := choosePort(0)
		if err != nil {
			return nil, "", err
		}
		cfg := embed.NewConfig()
		cfg.Name = "kubewhy"
		cfg.Dir = dataDir
		cfg.UnsafeNoFsync = true
		cfg.Logger = "zap"
		cfg.LogLevel = "fatal" // etcd failures surface through StartEtcd and the API server; its shutdown noise does not help
		cfg.LogOutputs = []string{"stderr"}
		cfg.WatchProgressNotifyInterval = 5 * time.Second
		curl := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", clientPort)}
		purl := url.URL{Scheme: "http", Host: fmt.Sprintf("127.0.0.1:%d", peerPort)}
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{curl}, []url.URL{curl}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{purl}, []url.URL{purl}
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			lastErr = err
			if isAddrInUse(err) {
				continue
			}
			return nil, "", fmt.Errorf("starting etcd in %s: %w", dataDir, err)
		}
		select {
		case <-e.Server.ReadyNotify():
			return e, curl.String(), nil
		case err := <-e.Err():
			e.Close()
			return nil, "", fmt.Errorf("etcd failed while starting: %w", err)
		case <-time.After(60 * time.Second):
			e.Close()
			return nil, "", errors.New("etcd did not become ready within 60s")
		}
	}
	return nil, "", fmt.Errorf("starting etcd: ports kept being taken: %w", lastErr)
}

func isAddrInUse(err error) bool {
	return errors.Is(err, syscall.EADDRINUSE) || strings.Contains(err.Error(), "address already in use")
}

// waitReady polls /readyz and the default namespace as admin, runs onReady, then writes state.json and prints the
// ready line.
func waitReady(state State, pki *pki, timeout time.Duration, start time.Time, statePath string, onReady func() error) {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pki.caPEM)
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	deadline := time.Now().Add(timeout)
	last := "no answer yet"
	for _, path := range []string{"/readyz", "/api/v1/namespaces/default"} {
		for {
			if time.Now().After(deadline) {
				fmt.Fprintf(os.Stderr, "kubewhy-controlplane: error: the API server was not ready within %s (GET %s: %s)\n", timeout, path, last)
				if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
					os.Exit(1)
				}
				return
			}
			ok, detail := get(client, state.Server+path, state.AdminToken)
			if ok {
				break
			}
			last = detail
			time.Sleep(100 * time.Millisecond)
		}
	}
	if err := onReady(); err != nil {
		fmt.Fprintf(os.Stderr, "kubewhy-controlplane: error: %v\n", err)
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			os.Exit(1)
		}
		return
	}
	data, err := json.MarshalIndent(state, "", "  ")
	if err == nil {
		err = writeFileAtomic(statePath, data, 0o600)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "kubewhy-controlplane: error: writing %s: %v\n", statePath, err)
		if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
			os.Exit(1)
		}
		return
	}
	fmt.Printf("kubewhy-controlplane: ready in %.1fs: server %s, kubeconfig %s, state %s\n",
		time.Since(start).Seconds(), state.Server, state.Kubeconfig, statePath)
}

func get(client *http.Client, url, token string) (bool, string) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return false, err.Error()
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return false, err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512)) // only used to describe a failure
	if resp.StatusCode == http.StatusOK {
		return true, ""
	}
	return false, fmt.Sprintf("%d %s", resp.StatusCode, strings.TrimSpace(string(body)))
}

func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, mode); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
