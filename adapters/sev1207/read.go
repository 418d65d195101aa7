package sev1207

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
	"golang.org/x/text/encoding/charmap"
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// read checks body against every limit and parses it. In order: the size limit; an optional
// UTF-8 byte-order mark (dropped); any DTD or entity declaration, refused by a byte scan before
// any parser sees the body; a token-level pre-scan (encoding/xml RawToken, no tree built) that
// refuses an unsupported encoding, nesting deeper than MaxDepth, directives, a misplaced XML
// declaration and anything but one root element; only then the tree (etree, strict, no entities
// beyond the five predefined ones). It returns the root element.
func (a *Adapter) read(body []byte) (*etree.Element, error) {
	if int64(len(body)) > a.cfg.MaxMessageBytes {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(body), a.cfg.MaxMessageBytes)
	}
	bom := bytes.HasPrefix(body, utf8BOM)
	if bom {
		body = body[len(utf8BOM):]
	}
	if bytes.HasPrefix(body, []byte{0xFE, 0xFF}) || bytes.HasPrefix(body, []byte{0xFF, 0xFE}) {
		return nil, fmt.Errorf("%w: UTF-16 byte-order mark", ErrEncoding)
	}
	if off, what := findDeclaration(body); off >= 0 {
		return nil, fmt.Errorf("%w: %s at byte offset %d", ErrDTD, what, off)
	}
	declared, err := a.prescan(body)
	if err != nil {
		return nil, err
	}
	if bom && declared != "" {
		return nil, fmt.Errorf("%w: UTF-8 byte-order mark but encoding %q declared", ErrEncoding, declared)
	}

	doc := etree.NewDocument()
	doc.ReadSettings = etree.ReadSettings{CharsetReader: charsetReader, MaxDepth: a.cfg.MaxDepth}
	if err := doc.ReadFromBytes(body); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	root := doc.Root()
	if root == nil {
		return nil, fmt.Errorf("%w: no root element", ErrMalformed)
	}
	return root, nil
}

// findDeclaration returns the offset of the first "<!DOCTYPE" or "<!ENTITY" in body (any letter
// case; both keywords are ASCII, so this holds for windows-1251 too), or -1. It is deliberately
// blunt: such text cannot occur in a 1207 message outside a comment or CDATA section, and there it
// is refused as well.
func findDeclaration(body []byte) (int, string) {
	for i := 0; ; {
		j := bytes.Index(body[i:], []byte("<!"))
		if j < 0 {
			return -1, ""
		}
		at := i + j
		rest := body[at+2:]
		switch {
		case len(rest) >= 7 && bytes.EqualFold(rest[:7], []byte("DOCTYPE")):
			return at, "document type declaration"
		case len(rest) >= 6 && bytes.EqualFold(rest[:6], []byte("ENTITY")):
			return at, "entity declaration"
		}
		i = at + 2
	}
}

// prescan walks body's tokens without building anything and returns the declared encoding when it
// is not UTF-8 ("" for UTF-8 or none).
func (a *Adapter) prescan(body []byte) (string, error) {
	var declared string
	var encErr error
	d := xml.NewDecoder(bytes.NewReader(body))
	d.Strict = true
	d.CharsetReader = func(label string, in io.Reader) (io.Reader, error) {
		declared = label
		r, err := charsetReader(label, in)
		encErr = err
		return r, err
	}
	depth, roots := 0, 0
	for first := true; ; first = false {
		off := d.InputOffset()
		tok, err := d.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if encErr != nil {
				return "", encErr
			}
			return "", fmt.Errorf("%w: %w", ErrMalformed, err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth == 0 {
				roots++
				if roots > 1 {
					return "", fmt.Errorf("%w: a second root element at byte offset %d", ErrMalformed, off)
				}
			}
			depth++
			if depth > a.cfg.MaxDepth {
				return "", fmt.Errorf("%w: deeper than %d at byte offset %d", ErrTooDeep, a.cfg.MaxDepth, off)
			}
			if name, dup := repeatedAttr(t.Attr); dup {
				// Not well-formed (XML 1.0 §3.1), and encoding/xml does not check it: which of the
				// two values counts would be up to the reader.
				return "", fmt.Errorf("%w: attribute %q twice in one element at byte offset %d", ErrMalformed, clip(name), off)
			}
		case xml.EndElement:
			depth--
			if depth < 0 {
				return "", fmt.Errorf("%w: end tag without a start tag at byte offset %d", ErrMalformed, off)
			}
		case xml.Directive:
			return "", fmt.Errorf("%w: directive at byte offset %d", ErrDTD, off)
		case xml.ProcInst:
			if t.Target == "xml" && (!first || off != 0) {
				return "", fmt.Errorf("%w: XML declaration not at the start", ErrMalformed)
			}
		case xml.CharData:
			if depth == 0 && len(bytes.TrimLeft(t, " \t\r\n")) > 0 {
				return "", fmt.Errorf("%w: text outside the root element at byte offset %d", ErrMalformed, off)
			}
		}
	}
	switch {
	case roots == 0:
		return "", fmt.Errorf("%w: no root element", ErrMalformed)
	case depth != 0:
		return "", fmt.Errorf("%w: unclosed element", ErrMalformed)
	}
	return declared, nil
}

// repeatedAttr returns the first attribute name (prefix:local, as written) that attrs holds twice.
func repeatedAttr(attrs []xml.Attr) (string, bool) {
	if len(attrs) < 2 {
		return "", false
	}
	seen := make(map[xml.Name]struct{}, len(attrs))
	for _, at := range attrs {
		if _, dup := seen[at.Name]; dup {
			if at.Name.Space != "" {
				return at.Name.Space + ":" + at.Name.Local, true
			}
			return at.Name.Local, true
		}
		seen[at.Name] = struct{}{}
	}
	return "", false
}

// charsetReader decodes the one non-UTF-8 encoding 1207 systems use, windows-1251. Any other
// declared encoding is refused with ErrEncoding.
func charsetReader(label string, in io.Reader) (io.Reader, error) {
	switch strings.ToLower(label) {
	case "windows-1251", "cp1251", "x-cp1251":
		return charmap.Windows1251.NewDecoder().Reader(in), nil
	}
	if len(label) > 40 {
		label = label[:40] + "…"
	}
	return nil, fmt.Errorf("%w: %q (only UTF-8 and windows-1251)", ErrEncoding, label)
}
