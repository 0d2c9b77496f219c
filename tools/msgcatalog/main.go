// Command msgcatalog writes the Go part of kubewhy's message catalog (crates/kubewhy/catalog/go.yaml): every
// message template the API server, client-go, kubectl and Go's own libraries print for a failed request, read
// from their sources with go/parser at the versions controlplane/go.mod pins, each row with the file, line and
// function it comes from, the class it yields and what its placeholders mean.
//
// The sources decide the templates (the format strings and literals, their arguments, and where the code says it,
// the HTTP code and Status reason of the answer); the table in spec.go decides what a human must: which
// functions to read, the class each message yields, what an argument means. A message the tool finds in a listed
// function that no rule of the table names, an argument whose meaning the table does not give, and a rule whose
// message is no longer in the sources are all listed in the output's `unmapped:` and `missing:` sections (and on
// standard error): never dropped.
//
// Run it from anywhere in the repository (it has its own go.mod, so from the root use `go -C`):
//
//	go -C tools/msgcatalog run .                    # the versions controlplane/go.mod pins
//	go -C tools/msgcatalog run . -k8s 1.37.0        # another release (its modules must be in the module cache)
//	go -C tools/msgcatalog run . -check             # exit 1 when crates/kubewhy/catalog/go.yaml is stale
//
// The modules must be in the module cache ($(go env GOMODCACHE)); building the control plane puts them there
// (`cargo run -p kubewhy-testenv --bin kubewhy-dev -- build`), as does `go mod download` in controlplane/.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

func main() {
	root := flag.String("root", "", "the repository's root (default: the nearest directory above that holds controlplane/go.mod)")
	k8s := flag.String("k8s", "", "the Kubernetes release to read (e.g. 1.37.0); default: what controlplane/go.mod pins")
	out := flag.String("out", "crates/kubewhy/catalog/go.yaml", "where to write the catalog (relative to -root); - for standard output")
	check := flag.Bool("check", false, "compare with the file at -out instead of writing it; exit 1 when it differs")
	dump := flag.Bool("dump", false, "print every message found in the listed functions, mapped or not (for writing rules)")
	flag.Parse()
	if *root == "" {
		r, err := findRoot()
		if err != nil {
			fmt.Fprintln(os.Stderr, "msgcatalog:", err)
			os.Exit(2)
		}
		*root = r
	}
	if err := run(*root, *k8s, *out, *check, *dump); err != nil {
		fmt.Fprintln(os.Stderr, "msgcatalog:", err)
		os.Exit(2)
	}
}

func run(root, k8s, out string, check, dump bool) error {
	vers, err := versions(filepath.Join(root, "controlplane", "go.mod"), k8s)
	if err != nil {
		return err
	}
	modcache, err := goEnv("GOMODCACHE")
	if err != nil {
		return err
	}
	goroot, err := goEnv("GOROOT")
	if err != nil {
		return err
	}
	goversion, err := goEnv("GOVERSION")
	if err != nil {
		return err
	}
	vers["go"] = goversion
	dirOf := func(module string) string {
		if module == "go" {
			return filepath.Join(goroot, "src")
		}
		return filepath.Join(modcache, escapeModule(module)+"@"+vers[module])
	}
	consts, err := loadConsts(dirOf)
	if err != nil {
		return err
	}
	var all []*candidate
	var problems []string
	for i := range sites {
		s := &sites[i]
		s.version = vers[s.module]
		if s.version == "" {
			return fmt.Errorf("no version for module %s in controlplane/go.mod", s.module)
		}
		cs, err := extract(s, dirOf(s.module))
		if err != nil {
			// A function or file gone from the sources: a human must look (the rules naming it are missing).
			problems = append(problems, err.Error())
			continue
		}
		all = append(all, cs...)
	}
	if dump {
		for _, p := range problems {
			fmt.Println("PROBLEM:", p)
		}
		for _, c := range all {
			fmt.Printf("%s\n\t%q args=%v log=%v\n", c.where(), c.format, c.args, c.logKeys)
		}
		return nil
	}
	cat := build(all, consts)
	cat.problems = append(problems, cat.problems...)
	text := cat.yaml(vers)
	for _, p := range cat.problems {
		fmt.Fprintln(os.Stderr, "msgcatalog: for a human:", p)
	}
	if out == "-" {
		_, err := os.Stdout.WriteString(text)
		return err
	}
	path := filepath.Join(root, out)
	if check {
		old, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("reading %s: %w", path, err)
		}
		if !bytes.Equal(old, []byte(text)) {
			fmt.Fprintf(os.Stderr, "msgcatalog: %s is stale: run `go -C tools/msgcatalog run .` from the repository's root\n", path)
			os.Exit(1)
		}
		return nil
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	fmt.Fprintf(os.Stderr, "msgcatalog: wrote %s: %d rows, %d for a human\n", path, len(cat.rows), len(cat.problems))
	return nil
}

// findRoot is the nearest directory at or above the working directory that holds controlplane/go.mod.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("reading the working directory: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "controlplane", "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no controlplane/go.mod above the working directory: give -root")
		}
		dir = parent
	}
}

func goEnv(name string) (string, error) {
	if v := os.Getenv(name); v != "" && name != "GOVERSION" {
		return v, nil
	}
	b, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return "", fmt.Errorf("`go env %s` failed (is Go installed?): %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

// escapeModule is the module cache's spelling of a path (an upper-case letter is `!` and the lower-case one).
func escapeModule(m string) string {
	var b strings.Builder
	for _, r := range m {
		if 'A' <= r && r <= 'Z' {
			b.WriteByte('!')
			b.WriteRune(r + ('a' - 'A'))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}

var requireLine = regexp.MustCompile(`^\s*(?:require\s+)?([a-z0-9.\-/]+)\s+(v[0-9][^\s]*)`)
var replaceLine = regexp.MustCompile(`^\s*(?:replace\s+)?([a-z0-9.\-/]+)\s+=>\s+([a-z0-9.\-/]+)\s+(v[0-9][^\s]*)`)

// versions reads the module versions controlplane/go.mod pins (its `replace` lines win, as they do for the Go
// build). With -k8s, the Kubernetes modules are that release instead: k8s.io/kubernetes v1.X.Y and its staging
// modules v0.X.Y.
func versions(gomod, k8s string) (map[string]string, error) {
	b, err := os.ReadFile(gomod)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", gomod, err)
	}
	out := map[string]string{}
	replaced := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if m := replaceLine.FindStringSubmatch(line); m != nil {
			replaced[m[1]] = m[3]
			continue
		}
		if m := requireLine.FindStringSubmatch(line); m != nil {
			out[m[1]] = m[2]
		}
	}
	for k, v := range replaced {
		out[k] = v
	}
	if k8s != "" {
		k8s = strings.TrimPrefix(k8s, "v")
		parts := strings.SplitN(k8s, ".", 2)
		if len(parts) != 2 || parts[0] != "1" {
			return nil, fmt.Errorf("-k8s %q: want a release like 1.37.0", k8s)
		}
		for m := range out {
			if m == "k8s.io/kubernetes" {
				out[m] = "v" + k8s
			} else if isStaging(m) {
				out[m] = "v0." + parts[1]
			}
		}
	}
	if out["k8s.io/kubernetes"] == "" {
		return nil, fmt.Errorf("%s does not require k8s.io/kubernetes", gomod)
	}
	return out, nil
}

// isStaging: a module published from kubernetes/staging, versioned v0.<minor>.<patch> with the release.
func isStaging(m string) bool {
	switch m {
	case "k8s.io/api", "k8s.io/apimachinery", "k8s.io/apiserver", "k8s.io/client-go", "k8s.io/kubectl",
		"k8s.io/pod-security-admission", "k8s.io/apiextensions-apiserver", "k8s.io/kube-aggregator",
		"k8s.io/component-base", "k8s.io/cli-runtime", "k8s.io/kubelet":
		return true
	}
	return false
}

// loadConsts reads the constants a code or reason expression names: net/http's status codes and apimachinery's
// Status reasons.
func loadConsts(dirOf func(string) string) (map[string]string, error) {
	out := map[string]string{}
	for _, src := range []struct{ module, file, prefix string }{
		{"go", "net/http/status.go", "http."},
		{"k8s.io/apimachinery", "pkg/apis/meta/v1/types.go", "metav1."},
	} {
		t, err := constTable(filepath.Join(dirOf(src.module), src.file))
		if err != nil {
			return nil, err
		}
		for k, v := range t {
			out[src.prefix+k] = v
		}
	}
	return out, nil
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
