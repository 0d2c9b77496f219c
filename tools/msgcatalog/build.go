package main

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// A row of the catalog.
type row struct {
	id, kind, class string
	code            int
	reason          string
	template        string
	within, after   []string
	source          string
	why             string
	client          string
	varies          bool
}

type catalog struct {
	rows     []row
	ignored  []row
	problems []string
}

// ruleFor finds the rule of a candidate: the same file, the exact format (or a prefix rule `…*` for ignore rules).
func ruleFor(c *candidate) *rule {
	var prefix *rule
	for i := range rules {
		r := &rules[i]
		if !strings.HasSuffix(c.site.file, r.file) || (r.fn != "" && r.fn != c.fn) {
			continue
		}
		if r.format == c.format {
			return r
		}
		if strings.HasSuffix(r.format, "*") && r.kind == "ignore" && strings.HasPrefix(c.format, strings.TrimSuffix(r.format, "*")) {
			prefix = r
		}
	}
	return prefix
}

func build(all []*candidate, consts map[string]string) *catalog {
	cat := &catalog{}
	used := map[*rule]bool{}
	seenID := map[string]bool{}
	// Variables a format's result was assigned to, per function, for expanding later formats that print them.
	vars := map[string]*candidate{}
	for _, c := range all {
		if c.assignedTo != "" {
			vars[c.site.file+"|"+c.fn+"|"+c.assignedTo] = c
		}
	}
	for _, c := range all {
		r := ruleFor(c)
		if r == nil {
			cat.problems = append(cat.problems, fmt.Sprintf("unmapped: %s: %q (args %v): no rule says what it is", c.where(), c.format, c.args))
			continue
		}
		used[r] = true
		if r.kind == "ignore" {
			cat.ignored = append(cat.ignored, row{id: c.format, source: c.where(), why: r.why})
			continue
		}
		if seenID[r.id] {
			// The same message printed from two places (`too old resource version: %d` twice): one row.
			continue
		}
		seenID[r.id] = true
		tmpl, unknown := template(c, r, vars)
		tmpl += r.suffix
		for _, u := range unknown {
			cat.problems = append(cat.problems, fmt.Sprintf("unknown argument: %s: %q: what does `%s` mean? (add it to argMeaning or the rule's args)", c.where(), c.format, u))
		}
		rw := row{
			id: r.id, kind: r.kind, class: r.class, template: tmpl, within: r.within, after: r.after,
			source: c.where(), code: r.code, reason: r.reason, client: r.client, varies: r.varies,
		}
		if rw.code == 0 && c.codeExpr != "" {
			if v, ok := consts[c.codeExpr]; ok {
				rw.code, _ = strconv.Atoi(v)
			}
		}
		if rw.reason == "" && c.reasonExpr != "" {
			if v, ok := consts[c.reasonExpr]; ok {
				rw.reason = v
			}
		}
		cat.rows = append(cat.rows, rw)
	}
	for i := range rules {
		r := &rules[i]
		if !used[r] {
			cat.problems = append(cat.problems, fmt.Sprintf("missing: rule %q (%s: %q) matches no message of the sources: reworded or removed?", r.id, r.file, r.format))
		}
	}
	sort.Strings(cat.problems)
	return cat
}

// template turns a Go format and its arguments into the catalog's template: `{placeholder}` for an argument
// (`{name:q}` where Go quotes it with %q), `{{`/`}}` for literal braces.
func template(c *candidate, r *rule, vars map[string]*candidate) (string, []string) {
	var unknown []string
	meaning := func(expr string) string {
		if strings.HasPrefix(expr, "=") {
			return expr
		}
		if m, ok := r.args[expr]; ok {
			return m
		}
		if m, ok := argMeaning[expr]; ok {
			return m
		}
		if v, ok := vars[c.site.file+"|"+c.fn+"|"+expr]; ok && v != c {
			t, u := template(v, r, vars)
			unknown = append(unknown, u...)
			return "=" + t
		}
		unknown = append(unknown, expr)
		return "?" + expr
	}
	var b strings.Builder
	put := func(m, verb string) {
		if lit, ok := strings.CutPrefix(m, "="); ok {
			if verb == "q" {
				b.WriteString(`"` + lit + `"`)
			} else {
				b.WriteString(lit)
			}
			return
		}
		b.WriteString("{" + m)
		if verb == "q" {
			b.WriteString(":q")
		}
		b.WriteString("}")
	}
	escape := func(s string) string {
		return strings.NewReplacer("{", "{{", "}", "}}").Replace(s)
	}
	if len(c.logKeys) > 0 || (c.args == nil && len(c.logValues) == 0 && isLogRule(r)) {
		b.WriteString(`"` + escape(c.format) + `"`)
		for i, k := range c.logKeys {
			b.WriteString(" " + k + "=")
			put(meaning(c.logValues[i]), "q")
		}
		return b.String(), unknown
	}
	f := c.format
	arg := 0
	for i := 0; i < len(f); i++ {
		if f[i] != '%' {
			b.WriteString(escape(f[i : i+1]))
			continue
		}
		j := i + 1
		for j < len(f) && strings.ContainsRune("#+- 0123456789.[]", rune(f[j])) {
			j++
		}
		if j >= len(f) {
			b.WriteString(f[i:])
			break
		}
		verb := f[j]
		if verb == '%' {
			b.WriteString("%")
			i = j
			continue
		}
		if arg < len(c.args) {
			put(meaning(c.args[arg]), string(verb))
		} else {
			put("?missing-argument", string(verb))
			unknown = append(unknown, "a missing argument")
		}
		arg++
		i = j
	}
	return b.String(), unknown
}

func isLogRule(r *rule) bool { return r.kind == "log" || r.kind == "notice" }

// yaml writes the catalog: a header, the rows, the ignored messages with why, and what a human must look at.
func (cat *catalog) yaml(vers map[string]string) string {
	q := func(s string) string {
		b, _ := json.Marshal(s)
		// JSON escapes <, > and & for HTML; YAML needs none of that.
		out := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">", `\u0026`, "&").Replace(string(b))
		return out
	}
	list := func(xs []string) string {
		var qs []string
		for _, x := range xs {
			qs = append(qs, q(x))
		}
		return "[" + strings.Join(qs, ", ") + "]"
	}
	var b strings.Builder
	b.WriteString("# GENERATED by tools/msgcatalog from the Go sources; do not edit. Change the tool's tables\n")
	b.WriteString("# (tools/msgcatalog/rules.go) and run `go -C tools/msgcatalog run .` from the repository's root.\n")
	b.WriteString("# What the fields and placeholders mean: crates/kubewhy/catalog/README.md.\n")
	b.WriteString("versions:\n")
	for _, m := range sortedKeys(vers) {
		if strings.HasPrefix(m, "k8s.io/") || m == "go" || m == etcdapi {
			if usedModule(m) {
				fmt.Fprintf(&b, "  %s: %s\n", q(m), vers[m])
			}
		}
	}
	b.WriteString("rows:\n")
	for _, r := range cat.rows {
		fmt.Fprintf(&b, "- id: %s\n", q(r.id))
		fmt.Fprintf(&b, "  kind: %s\n", r.kind)
		if r.class != "" {
			fmt.Fprintf(&b, "  class: %s\n", r.class)
		}
		if r.client != "" {
			fmt.Fprintf(&b, "  client: %s\n", r.client)
		}
		if r.code != 0 {
			fmt.Fprintf(&b, "  code: %d\n", r.code)
		}
		if r.varies {
			b.WriteString("  code_varies: true\n")
		}
		if r.reason != "" {
			fmt.Fprintf(&b, "  reason: %s\n", q(r.reason))
		}
		fmt.Fprintf(&b, "  template: %s\n", q(r.template))
		if len(r.within) > 0 {
			fmt.Fprintf(&b, "  within: %s\n", list(r.within))
		}
		if len(r.after) > 0 {
			fmt.Fprintf(&b, "  after: %s\n", list(r.after))
		}
		fmt.Fprintf(&b, "  source: %s\n", q(r.source))
	}
	b.WriteString("# Messages of the functions read that are not failures a reader must recognise, each with why.\n")
	b.WriteString("ignored:\n")
	for _, r := range cat.ignored {
		fmt.Fprintf(&b, "- {text: %s, source: %s, why: %s}\n", q(r.id), q(r.source), q(r.why))
	}
	b.WriteString("# For a human: messages no rule names, arguments without a meaning, rules the sources no longer match.\n")
	if len(cat.problems) == 0 {
		b.WriteString("unmapped: []\n")
	} else {
		b.WriteString("unmapped:\n")
		for _, p := range cat.problems {
			fmt.Fprintf(&b, "- %s\n", q(p))
		}
	}
	return b.String()
}

func usedModule(m string) bool {
	for _, s := range sites {
		if s.module == m {
			return true
		}
	}
	return false
}
