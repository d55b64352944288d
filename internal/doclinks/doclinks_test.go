package doclinks

import (
	"go/ast"
	"go/build"
	"go/doc"
	"go/doc/comment"
	"go/parser"
	"go/token"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// symbols is what a package declares: top-level names, and "Type.Name"
// for methods, struct fields and interface methods (with those of
// embedded types of the same package).
type symbols map[string]bool

// parseDir parses the non-test Go files of the package in dir that the
// build context selects.
func parseDir(fset *token.FileSet, dir string) ([]*ast.File, error) {
	bp, err := build.ImportDir(dir, 0)
	if err != nil {
		return nil, err
	}
	var files []*ast.File
	for _, name := range bp.GoFiles {
		f, err := parser.ParseFile(fset, filepath.Join(dir, name), nil, parser.ParseComments)
		if err != nil {
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func symbolsOf(files []*ast.File) symbols {
	s := symbols{}
	embeds := map[string][]string{} // type → the same-package types it embeds
	for _, f := range files {
		for _, d := range f.Decls {
			switch d := d.(type) {
			case *ast.FuncDecl:
				if d.Recv == nil {
					s[d.Name.Name] = true
					continue
				}
				s[recvName(d.Recv.List[0].Type)+"."+d.Name.Name] = true
			case *ast.GenDecl:
				for _, sp := range d.Specs {
					switch sp := sp.(type) {
					case *ast.ValueSpec:
						for _, n := range sp.Names {
							s[n.Name] = true
						}
					case *ast.TypeSpec:
						t := sp.Name.Name
						s[t] = true
						var fields []*ast.Field
						switch ty := sp.Type.(type) {
						case *ast.StructType:
							fields = ty.Fields.List
						case *ast.InterfaceType:
							fields = ty.Methods.List
						}
						for _, fl := range fields {
							for _, n := range fl.Names {
								s[t+"."+n.Name] = true
							}
							if len(fl.Names) == 0 {
								e := recvName(fl.Type)
								s[t+"."+e] = true
								embeds[t] = append(embeds[t], e)
							}
						}
					}
				}
			}
		}
	}
	// Promote what embedded types of this package declare, to a fixed point.
	for changed := true; changed; {
		changed = false
		for t, es := range embeds {
			for _, e := range es {
				for k := range s {
					if name, ok := strings.CutPrefix(k, e+"."); ok && !s[t+"."+name] {
						s[t+"."+name] = true
						changed = true
					}
				}
			}
		}
	}
	return s
}

// recvName returns the type name of a receiver or embedded field.
func recvName(x ast.Expr) string {
	for {
		switch t := x.(type) {
		case *ast.StarExpr:
			x = t.X
		case *ast.IndexExpr:
			x = t.X
		case *ast.IndexListExpr:
			x = t.X
		case *ast.SelectorExpr:
			return t.Sel.Name
		case *ast.Ident:
			return t.Name
		default:
			return ""
		}
	}
}

// linked is a doc link found in a comment, and where.
type linked struct {
	where string
	link  *comment.DocLink
}

// links returns the doc links of text, as go doc would parse them were
// every symbol defined.
func links(p *comment.Parser, where, text string) []linked {
	var out []linked
	var walk func([]comment.Text)
	walk = func(ts []comment.Text) {
		for _, t := range ts {
			switch t := t.(type) {
			case *comment.DocLink:
				out = append(out, linked{where, t})
			case *comment.Link:
				walk(t.Text)
			case *comment.Italic, comment.Plain:
			}
		}
	}
	for _, b := range p.Parse(text).Content {
		switch b := b.(type) {
		case *comment.Paragraph:
			walk(b.Text)
		case *comment.Heading:
			walk(b.Text)
		case *comment.List:
			for _, it := range b.Items {
				for _, ib := range it.Content {
					if pb, ok := ib.(*comment.Paragraph); ok {
						walk(pb.Text)
					}
				}
			}
		}
	}
	return out
}

// docs returns every doc comment go doc -all shows for pkg, each with the
// name of what it documents.
func docs(pkg *doc.Package) map[string]string {
	out := map[string]string{"package " + pkg.Name: pkg.Doc}
	values := func(vs []*doc.Value) {
		for _, v := range vs {
			out[strings.Join(v.Names, ", ")] = v.Doc
		}
	}
	funcs := func(fs []*doc.Func) {
		for _, f := range fs {
			name := f.Name
			if f.Recv != "" {
				name = strings.TrimPrefix(f.Recv, "*") + "." + f.Name
			}
			out[name] = f.Doc
		}
	}
	values(pkg.Consts)
	values(pkg.Vars)
	funcs(pkg.Funcs)
	for _, t := range pkg.Types {
		out[t.Name] = t.Doc
		values(t.Consts)
		values(t.Vars)
		funcs(t.Funcs)
		funcs(t.Methods)
	}
	return out
}

func exported(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsUpper(r)
}

func TestDocLinks(t *testing.T) {
	out, err := exec.Command("go", "list", "-f", "{{.Dir}}", "github.com/ebbflow/ebb/...").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	fset := token.NewFileSet()
	others := map[string]symbols{} // by import path; nil when it cannot be found
	lookup := func(path, fromDir string) symbols {
		if s, ok := others[path]; ok {
			return s
		}
		var s symbols
		if bp, err := build.Import(path, fromDir, build.FindOnly); err == nil {
			if files, err := parseDir(fset, bp.Dir); err == nil {
				s = symbolsOf(files)
			}
		}
		others[path] = s
		return s
	}
	dirs := strings.Fields(string(out))
	if len(dirs) < 10 {
		t.Fatalf("go list found %d packages, want the whole module", len(dirs))
	}
	checked := 0
	defer func() { t.Logf("%d doc links checked in %d packages", checked, len(dirs)) }()
	for _, dir := range dirs {
		files, err := parseDir(fset, dir)
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			continue
		}
		if len(files) == 0 {
			continue
		}
		own := symbolsOf(files)
		pkg, err := doc.NewFromFiles(fset, files, "")
		if err != nil {
			t.Errorf("%s: %v", dir, err)
			continue
		}
		p := pkg.Parser()
		p.LookupSym = func(recv, name string) bool { return true }
		for where, text := range docs(pkg) {
			for _, l := range links(p, where, text) {
				d := l.link
				checked++
				name := d.Name
				if d.Recv != "" {
					name = d.Recv + "." + d.Name
				}
				if d.ImportPath == "" {
					if (exported(d.Recv) || exported(d.Name)) && !own[name] {
						t.Errorf("%s: doc of %s: [%s] names nothing in package %s", dir, where, name, pkg.Name)
					}
					continue
				}
				s := lookup(d.ImportPath, dir)
				switch {
				case s == nil:
					t.Errorf("%s: doc of %s: [%s] links to package %s, which is not found", dir, where, d.ImportPath, d.ImportPath)
				case d.Name != "" && !s[name]:
					t.Errorf("%s: doc of %s: [%s.%s] names nothing in package %s", dir, where, d.ImportPath, name, d.ImportPath)
				}
			}
		}
	}
}
