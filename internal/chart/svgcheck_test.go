package chart_test

import (
	"bytes"
	"encoding/xml"
	"errors"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// svgElements are the only elements a chart may contain.
var svgElements = []string{"svg", "title", "rect", "g", "line", "polyline", "circle", "text"}

// testingT is the part of testing.TB that checkSVG uses, so that the checker itself is tested.
type testingT interface {
	Helper()
	Errorf(format string, args ...any)
	FailNow()
}

// requireSVG fails t unless out is one well-formed, self-contained <svg> element; it returns the
// decoded character data of every element, in document order, for assertions on texts.
func requireSVG(t testing.TB, out []byte) []string {
	t.Helper()
	return checkSVG(t, out)
}

func checkSVG(t testingT, out []byte) []string {
	t.Helper()
	fail := func(format string, args ...any) []string {
		t.Errorf(format, args...)
		t.FailNow()
		return nil
	}
	if bytes.Contains(bytes.ToLower(out), []byte("<script")) {
		return fail("output contains <script")
	}
	dec := xml.NewDecoder(bytes.NewReader(out))
	dec.Strict = true
	var texts []string
	depth, roots := 0, 0
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fail("not well-formed XML: %v", err)
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if tok.Name.Local != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg" {
					return fail("root element is %v, want svg in the SVG namespace", tok.Name)
				}
				attrs := map[string]string{}
				for _, a := range tok.Attr {
					attrs[a.Name.Local] = a.Value
				}
				for _, name := range []string{"width", "height", "viewBox", "version"} {
					if attrs[name] == "" {
						return fail("svg has no %s", name)
					}
				}
			}
			if !slices.Contains(svgElements, tok.Name.Local) {
				return fail("element <%s> is not allowed", tok.Name.Local)
			}
			for _, a := range tok.Attr {
				if msg := checkNumbers(a); msg != "" {
					return fail("<%s %s=%q>: %s", tok.Name.Local, a.Name.Local, a.Value, msg)
				}
				name := strings.ToLower(a.Name.Local)
				if strings.HasPrefix(name, "on") || name == "href" || name == "style" || name == "id" ||
					strings.Contains(strings.ToLower(a.Value), "url(") {
					return fail("attribute %s=%q is not allowed", a.Name.Local, a.Value)
				}
			}
			depth++
		case xml.EndElement:
			depth--
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(tok)) > 0 {
				return fail("text outside the svg element: %q", tok)
			}
			if s := strings.TrimSpace(string(tok)); s != "" {
				texts = append(texts, string(tok))
			}
		case xml.ProcInst, xml.Directive:
			return fail("unexpected %T in the output", tok)
		}
	}
	if roots != 1 {
		return fail("%d root elements, want 1", roots)
	}
	return texts
}

// numericAttrs are the attributes that hold coordinates or lengths.
var numericAttrs = []string{"x", "y", "x1", "y1", "x2", "y2", "cx", "cy", "r", "width", "height", "points", "viewBox"}

// checkNumbers returns what is wrong with the numbers of a coordinate or length attribute: each
// must be a finite, plain decimal number, and a length not negative.
func checkNumbers(a xml.Attr) string {
	if !slices.Contains(numericAttrs, a.Name.Local) {
		return ""
	}
	fields := strings.FieldsFunc(a.Value, func(r rune) bool { return r == ' ' || r == ',' })
	if len(fields) == 0 {
		return "no number"
	}
	for _, f := range fields {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || strings.ContainsAny(f, "eE") {
			return "not a finite decimal number: " + f
		}
		if (a.Name.Local == "width" || a.Name.Local == "height" || a.Name.Local == "r") && v < 0 {
			return "negative length"
		}
	}
	return ""
}

// recorder is a testingT that records failures.
type recorder struct{ failed bool }

func (r *recorder) Helper()               {}
func (r *recorder) Errorf(string, ...any) { r.failed = true }
func (r *recorder) FailNow()              {}

func TestCheckSVG(t *testing.T) {
	t.Parallel()
	ok := `<svg xmlns="http://www.w3.org/2000/svg" version="1.1" width="1" height="1" viewBox="0 0 1 1"><title>a &lt;b&gt;</title></svg>`
	for name, tc := range map[string]struct {
		in   string
		fail bool
	}{
		"valid":            {ok, false},
		"not well-formed":  {`<svg xmlns="http://www.w3.org/2000/svg"><title>a</svg>`, true},
		"script":           {strings.Replace(ok, "<title>", "<script>x</script><title>", 1), true},
		"foreignObject":    {strings.Replace(ok, "<title>", "<foreignObject/><title>", 1), true},
		"event attribute":  {strings.Replace(ok, `width="1"`, `width="1" onload="x"`, 1), true},
		"no namespace":     {strings.Replace(ok, ` xmlns="http://www.w3.org/2000/svg"`, "", 1), true},
		"no viewBox":       {strings.Replace(ok, ` viewBox="0 0 1 1"`, "", 1), true},
		"two roots":        {ok + ok, true},
		"external ref":     {strings.Replace(ok, `width="1"`, `width="1" fill="url(http://x/#a)"`, 1), true},
		"raw text outside": {ok + "x", true},
		"NaN coordinate":   {strings.Replace(ok, `width="1"`, `width="NaN"`, 1), true},
		"negative width":   {strings.Replace(ok, `width="1"`, `width="-1"`, 1), true},
		"exponent":         {strings.Replace(ok, `viewBox="0 0 1 1"`, `viewBox="0 0 1e3 1"`, 1), true},
	} {
		var r recorder
		checkSVG(&r, []byte(tc.in))
		if r.failed != tc.fail {
			t.Errorf("%s: failed = %v, want %v", name, r.failed, tc.fail)
		}
	}
}
