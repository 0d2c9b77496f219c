package main

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// A candidate is one message text found in a site's function: a format string (with the source text of its
// arguments) or a string literal in a message position, and what its surroundings say of the answer's code and
// reason.
type candidate struct {
	site   *site
	line   int
	format string
	// The arguments' source text, in order (`qualifiedResource.String()`, `name`).
	args []string
	// A structured log call (`logger.Info("msg", "k", v)`): its keys, in order, and the source of their values.
	logKeys   []string
	logValues []string
	// What the function's `Status` literal or the switch case around the candidate set: `http.StatusNotFound`,
	// `metav1.StatusReasonNotFound` (resolved to 404 and `NotFound` by the caller).
	codeExpr   string
	reasonExpr string
	// The call the message is handed to (`admission.NewForbidden`, `apierrors.NewBadRequest`): the frame it is
	// printed in.
	wrappedBy string
	// The variable the message is assigned to (`deniedBy`), so a later format that prints it can be expanded.
	assignedTo string
	// The function it is in.
	fn string
}

func (c *candidate) where() string {
	return fmt.Sprintf("%s@%s/%s:%d %s", c.site.module, c.site.version, c.site.file, c.line, c.fn)
}

// Calls whose first argument is a format string or a message.
var formatCalls = map[string]bool{
	"fmt.Sprintf": true, "fmt.Errorf": true, "errors.New": true, "fmt.Sprint": true, "fmt.Fprintf": true,
	"klog.Infof": true, "klog.Errorf": true, "klog.Warningf": true, "http.Error": true,
	"resp.WriteErrorString": true, "WriteString": true,
}

// Calls that log a structured message: their message argument and the key-value pairs after it.
var logCalls = map[string]int{
	// method name -> index of the message argument
	"Info": 0, "Error": 1, "HandleErrorWithContext": 2, "HandleError": -1, "info": 1, "ErrorS": 1, "InfoS": 0,
}

// extract parses the site's file and returns every message candidate of its function(s).
func extract(s *site, dir string) ([]*candidate, error) {
	path := filepath.Join(dir, s.file)
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, path, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	consts := fileConsts(f)
	var out []*candidate
	found := false
	if s.fn == "var" {
		// Package-level variables: `ErrGRPCLeaderChanged = status.Error(codes.Unavailable, "etcdserver: leader changed")`.
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for _, v := range vs.Values {
					ast.Inspect(v, func(n ast.Node) bool {
						if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING {
							if t, ok := stringValue(lit, nil); ok && strings.Contains(t, " ") {
								out = append(out, &candidate{site: s, line: fset.Position(lit.Pos()).Line, format: t})
							}
						}
						return true
					})
				}
			}
		}
		return out, nil
	}
	for _, decl := range f.Decls {
		fd, ok := decl.(*ast.FuncDecl)
		if !ok || fd.Body == nil || !(s.matchesFunc(funcName(fd)) || s.matchesFunc(fd.Name.Name)) {
			continue
		}
		found = true
		out = append(out, fromFunc(s, fset, fd, consts)...)
	}
	if !found {
		return nil, fmt.Errorf("%s: no function %s", path, s.fn)
	}
	return out, nil
}

// funcName is `Name` or `Recv.Name` (the receiver's type without its pointer).
func funcName(fd *ast.FuncDecl) string {
	if fd.Recv == nil || len(fd.Recv.List) == 0 {
		return fd.Name.Name
	}
	t := fd.Recv.List[0].Type
	if star, ok := t.(*ast.StarExpr); ok {
		t = star.X
	}
	if idx, ok := t.(*ast.IndexExpr); ok {
		t = idx.X
	}
	if id, ok := t.(*ast.Ident); ok {
		return id.Name + "." + fd.Name.Name
	}
	return fd.Name.Name
}

// fileConsts are the file's string constants (`const noExp = "without explanation"`).
func fileConsts(f *ast.File) map[string]string {
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if i < len(vs.Values) {
				if s, ok := stringValue(vs.Values[i], nil); ok {
					out[name.Name] = s
				}
			}
		}
		return true
	})
	return out
}

// stringValue is the value of a string literal, a concatenation of them, or a known constant.
func stringValue(e ast.Expr, consts map[string]string) (string, bool) {
	switch e := e.(type) {
	case *ast.BasicLit:
		if e.Kind != token.STRING {
			return "", false
		}
		s, err := strconv.Unquote(e.Value)
		return s, err == nil
	case *ast.BinaryExpr:
		if e.Op != token.ADD {
			return "", false
		}
		a, ok1 := stringValue(e.X, consts)
		b, ok2 := stringValue(e.Y, consts)
		return a + b, ok1 && ok2
	case *ast.Ident:
		s, ok := consts[e.Name]
		return s, ok
	case *ast.ParenExpr:
		return stringValue(e.X, consts)
	}
	return "", false
}

// concat reads a string expression built with `+`: its literal parts as text, every other part as `%s` with the
// part as an argument. ok when at least one part is a literal.
func concat(e ast.Expr, consts map[string]string) (format string, args []ast.Expr, ok bool) {
	if v, isLit := stringValue(e, consts); isLit {
		return strings.ReplaceAll(v, "%", "%%"), nil, true
	}
	b, isBin := e.(*ast.BinaryExpr)
	if !isBin || b.Op != token.ADD {
		return "%s", []ast.Expr{e}, false
	}
	f1, a1, ok1 := concat(b.X, consts)
	f2, a2, ok2 := concat(b.Y, consts)
	return f1 + f2, append(a1, a2...), ok1 || ok2
}

func exprText(fset *token.FileSet, e ast.Expr) string {
	var b strings.Builder
	writeExpr(&b, e)
	return b.String()
}

// writeExpr prints an expression compactly (go/printer needs the whole file; this is enough for argument text).
func writeExpr(b *strings.Builder, e ast.Expr) {
	switch e := e.(type) {
	case *ast.Ident:
		b.WriteString(e.Name)
	case *ast.SelectorExpr:
		writeExpr(b, e.X)
		b.WriteString(".")
		b.WriteString(e.Sel.Name)
	case *ast.CallExpr:
		writeExpr(b, e.Fun)
		b.WriteString("(")
		for i, a := range e.Args {
			if i > 0 {
				b.WriteString(", ")
			}
			writeExpr(b, a)
		}
		b.WriteString(")")
	case *ast.IndexExpr:
		writeExpr(b, e.X)
		b.WriteString("[")
		writeExpr(b, e.Index)
		b.WriteString("]")
	case *ast.StarExpr:
		b.WriteString("*")
		writeExpr(b, e.X)
	case *ast.UnaryExpr:
		b.WriteString(e.Op.String())
		writeExpr(b, e.X)
	case *ast.BasicLit:
		b.WriteString(e.Value)
	case *ast.ParenExpr:
		b.WriteString("(")
		writeExpr(b, e.X)
		b.WriteString(")")
	case *ast.BinaryExpr:
		writeExpr(b, e.X)
		b.WriteString(" " + e.Op.String() + " ")
		writeExpr(b, e.Y)
	default:
		fmt.Fprintf(b, "<%T>", e)
	}
}

func callName(c *ast.CallExpr) (full, method string) {
	switch f := c.Fun.(type) {
	case *ast.Ident:
		return f.Name, f.Name
	case *ast.SelectorExpr:
		if x, ok := f.X.(*ast.Ident); ok {
			return x.Name + "." + f.Sel.Name, f.Sel.Name
		}
		return f.Sel.Name, f.Sel.Name
	}
	return "", ""
}

// fromFunc walks one function: format calls, log calls, and string literals in message positions (assigned to
// `message`/`msg`/`reason`, a `Message:` field, a `return`).
func fromFunc(s *site, fset *token.FileSet, fd *ast.FuncDecl, consts map[string]string) []*candidate {
	var out []*candidate
	seen := map[ast.Expr]bool{}
	codeExpr, reasonExpr := statusLiteral(fd.Body)
	add := func(n ast.Node, format string, args []ast.Expr) *candidate {
		c := &candidate{site: s, line: fset.Position(n.Pos()).Line, format: format, codeExpr: codeExpr, reasonExpr: reasonExpr, fn: funcName(fd)}
		for _, a := range args {
			if v, ok := stringValue(a, consts); ok {
				// A literal or a constant argument is text: `noExp` is `without explanation`.
				c.args = append(c.args, "="+v)
				continue
			}
			c.args = append(c.args, exprText(fset, a))
		}
		out = append(out, c)
		return c
	}
	// Switch cases (`case http.StatusNotFound: reason = metav1.StatusReasonNotFound; message = "..."`) set their
	// own code and reason for the candidates inside them.
	caseOf := map[ast.Node][2]string{}
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		cc, ok := n.(*ast.CaseClause)
		if !ok || len(cc.List) != 1 {
			return true
		}
		code := exprText(fset, cc.List[0])
		if !strings.HasPrefix(code, "http.Status") {
			return true
		}
		reason := ""
		for _, st := range cc.Body {
			if as, ok := st.(*ast.AssignStmt); ok && len(as.Lhs) == 1 && exprText(fset, as.Lhs[0]) == "reason" {
				reason = exprText(fset, as.Rhs[0])
			}
		}
		for _, st := range cc.Body {
			ast.Inspect(st, func(m ast.Node) bool {
				caseOf[m] = [2]string{code, reason}
				return true
			})
		}
		return true
	})
	// Which call each message is an argument of, and which variable a format's result is assigned to.
	parent := map[ast.Node]string{}
	assigned := map[ast.Node]string{}
	callOf := map[*candidate]ast.Node{}
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		if call, ok := n.(*ast.CallExpr); ok {
			full, _ := callName(call)
			for _, a := range call.Args {
				parent[a] = full
			}
		}
		return true
	})
	ast.Inspect(fd.Body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			full, method := callName(n)
			if strings.HasPrefix(method, "New") && !formatCalls[full] {
				// A constructor handed a literal message: `apierrors.NewUnauthorized("Unauthorized")`.
				for _, a := range n.Args {
					if v, ok := stringValue(a, consts); ok && v != "" && !seen[a] {
						seen[a] = true
						c := add(n, v, nil)
						c.wrappedBy = full
					}
				}
			}
			// net/http's own `Error(w, msg, code)` inside its package.
			bareHTTPError := full == "Error" && s.module == "go" && strings.HasPrefix(s.file, "net/http/")
			if formatCalls[full] || formatCalls[method] || bareHTTPError {
				i := 0
				if full == "http.Error" || full == "resp.WriteErrorString" || full == "fmt.Fprintf" || bareHTTPError {
					i = 1
				}
				if i < len(n.Args) {
					if f, ok := stringValue(n.Args[i], consts); ok {
						seen[n.Args[i]] = true
						c := add(n, f, n.Args[i+1:])
						c.wrappedBy = parent[n]
						callOf[c] = n
						if cs, ok := caseOf[n]; ok {
							c.codeExpr, c.reasonExpr = cs[0], cs[1]
						}
					}
				}
				return true
			}
			if at, ok := logCalls[method]; ok && at >= 0 && at < len(n.Args) {
				if msg, ok := stringValue(n.Args[at], consts); ok && strings.Contains(msg, " ") {
					seen[n.Args[at]] = true
					c := add(n, msg, nil)
					if method == "HandleErrorWithContext" || method == "Error" || method == "ErrorS" {
						c.logKeys = append(c.logKeys, "err")
						c.logValues = append(c.logValues, exprText(fset, n.Args[at-1]))
					}
					kv := n.Args[at+1:]
					for j := 0; j+1 < len(kv); j += 2 {
						k, ok := stringValue(kv[j], consts)
						if !ok {
							continue
						}
						seen[kv[j]] = true
						c.logKeys = append(c.logKeys, k)
						c.logValues = append(c.logValues, exprText(fset, kv[j+1]))
					}
				}
			}
		case *ast.AssignStmt:
			if len(n.Lhs) == 1 && len(n.Rhs) == 1 {
				lhs := exprText(fset, n.Lhs[0])
				if call, ok := n.Rhs[0].(*ast.CallExpr); ok {
					// Remembered so a later `fmt.Sprintf("%s: %s", deniedBy, …)` can be expanded.
					assigned[call] = lhs
				}
				if isMessageVar(lhs) {
					if v, args, ok := concat(n.Rhs[0], consts); ok && v != "" {
						seen[n.Rhs[0]] = true
						c := add(n, v, args)
						if cs, ok := caseOf[n]; ok {
							c.codeExpr, c.reasonExpr = cs[0], cs[1]
						}
					}
				}
			}
		case *ast.KeyValueExpr:
			if k, ok := n.Key.(*ast.Ident); ok && k.Name == "Message" {
				if v, args, ok := concat(n.Value, consts); ok && v != "" {
					seen[n.Value] = true
					add(n, v, args)
				} else if _, isCall := n.Value.(*ast.CallExpr); !isCall || exprText(fset, n.Value) == "err.Error()" {
					// A constructor whose message is its caller's (`Message: reason`): a frame whose text is all slot.
					add(n, "%s", []ast.Expr{n.Value})
				}
			}
		case *ast.CompositeLit:
			for _, el := range n.Elts {
				if _, isKV := el.(*ast.KeyValueExpr); isKV || seen[el] {
					continue
				}
				if v, args, ok := concat(el, consts); ok && len(args) > 0 && strings.Contains(v, " ") {
					seen[el] = true
					add(n, v, args)
				}
			}
		case *ast.ReturnStmt:
			for _, r := range n.Results {
				if seen[r] {
					continue
				}
				if v, args, ok := concat(r, consts); ok && v != "" {
					seen[r] = true
					add(n, v, args)
				}
			}
		}
		return true
	})
	for c, call := range callOf {
		c.assignedTo = assigned[call]
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].line < out[j].line })
	return out
}

func isMessageVar(lhs string) bool {
	switch lhs {
	case "message", "msg", "reason", "retryInfo", "s", "deniedBy", "errMsg":
		return true
	}
	return strings.HasSuffix(lhs, ".Message")
}

// statusLiteral finds the function's `Code:` and `Reason:` fields of a Status literal, when it has exactly one
// of each.
func statusLiteral(body *ast.BlockStmt) (code, reason string) {
	var codes, reasons []string
	ast.Inspect(body, func(n ast.Node) bool {
		kv, ok := n.(*ast.KeyValueExpr)
		if !ok {
			return true
		}
		k, ok := kv.Key.(*ast.Ident)
		if !ok {
			return true
		}
		var b strings.Builder
		writeExpr(&b, kv.Value)
		switch k.Name {
		case "Code":
			codes = append(codes, b.String())
		case "Reason":
			reasons = append(reasons, b.String())
		}
		return true
	})
	if len(codes) == 1 {
		code = codes[0]
	}
	if len(reasons) == 1 {
		reason = reasons[0]
	}
	return code, reason
}

// constTable reads `Name = "value"` / `Name Type = "value"` / `Name = 404` constants of a Go file.
func constTable(path string) (map[string]string, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.SkipObjectResolution)
	if err != nil {
		return nil, fmt.Errorf("parsing %s: %w", path, err)
	}
	out := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		vs, ok := n.(*ast.ValueSpec)
		if !ok {
			return true
		}
		for i, name := range vs.Names {
			if i >= len(vs.Values) {
				continue
			}
			switch v := vs.Values[i].(type) {
			case *ast.BasicLit:
				if v.Kind == token.STRING {
					s, _ := strconv.Unquote(v.Value)
					out[name.Name] = s
				} else {
					out[name.Name] = v.Value
				}
			}
		}
		return true
	})
	return out, nil
}
