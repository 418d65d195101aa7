package registry

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"appealhub/schemas"
)

// File formats of Parse and Write.
const (
	FormatCSV  = "csv"
	FormatYAML = "yaml"
)

// MaxFileBytes bounds an import file.
const MaxFileBytes = 64 << 20

// FormatOf returns the format a file name's extension stands for (.csv, .yaml, .yml).
func FormatOf(name string) (string, error) {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".csv":
		return FormatCSV, nil
	case ".yaml", ".yml":
		return FormatYAML, nil
	}
	return "", fmt.Errorf("file %s: unknown format: use .csv, .yaml or .yml", filepath.Base(name))
}

// Row is one authority of an import file: its code, the fields the file gives, and what was wrong
// with the row's text itself (an unreadable number, a missing cell).
type Row struct {
	Line     int
	Code     string
	Patch    schemas.AuthorityPatch
	Problems []RowProblem
}

// RowProblem is one problem of an import file.
type RowProblem struct {
	Line    int    `json:"line"`
	Code    string `json:"code,omitempty"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

func (p RowProblem) String() string {
	s := "line " + strconv.Itoa(p.Line)
	if p.Code != "" {
		s += " (" + p.Code + ")"
	}
	if p.Field != "" {
		s += ": " + p.Field
	}
	return s + ": " + p.Message
}

// ImportError lists every problem of a refused import; nothing of it was applied.
type ImportError struct {
	Problems []RowProblem
}

func (e *ImportError) Error() string {
	lines := make([]string, 0, len(e.Problems))
	for _, p := range e.Problems {
		lines = append(lines, p.String())
	}
	return fmt.Sprintf("import refused, nothing applied: %d problem(s):\n%s", len(e.Problems), strings.Join(lines, "\n"))
}

// Fields returns the problems as field problems whose pointer is /lines/<line>/<field>.
func (e *ImportError) Fields() []schemas.FieldProblem {
	out := make([]schemas.FieldProblem, 0, len(e.Problems))
	for _, p := range e.Problems {
		ptr := "/lines/" + strconv.Itoa(p.Line)
		if p.Field != "" {
			ptr += "/" + p.Field
		}
		out = append(out, schemas.FieldProblem{Pointer: ptr, Message: p.Message})
	}
	return out
}

// csvColumns are the columns of the CSV format; the first nine are those of
// ../shared/fixtures/authorities.csv, and every column but code is optional. "short_name" is
// accepted for "short".
var csvColumns = []string{"code", "name", "short", "kind", "parent", "territory", "topics", "accepts", "adapter",
	"mode", "endpoint", "tls_client", "max_message_bytes", "it_contact", "status", "successor",
	"subsystem", "calendar", "concurrency", "request_timeout"}

// Parse reads an import file. Problems of single rows are kept in the rows (Import reports them
// with every other problem); a file that cannot be read at all is an *ImportError.
func Parse(format string, r io.Reader) ([]Row, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read import file: %w", err)
	}
	if len(data) > MaxFileBytes {
		return nil, &ImportError{Problems: []RowProblem{{Line: 1, Message: fmt.Sprintf("the file exceeds %d bytes", MaxFileBytes)}}}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	switch format {
	case FormatCSV:
		return parseCSV(data)
	case FormatYAML:
		return parseYAML(data)
	}
	return nil, fmt.Errorf("import: unknown format %q", format)
}

// splitList splits a ;-separated cell, dropping empty items.
func splitList(s string) []string {
	out := []string{}
	for item := range strings.SplitSeq(s, ";") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

func parseCSV(data []byte) ([]Row, error) {
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		return nil, &ImportError{Problems: []RowProblem{{Line: 1, Message: "no header row: " + csvErr(err)}}}
	}
	col := map[string]int{}
	var problems []RowProblem
	for i, h := range header {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "short_name" {
			h = "short"
		}
		switch {
		case !slices.Contains(csvColumns, h):
			problems = append(problems, RowProblem{Line: 1, Field: h, Message: "unknown column (known: " + strings.Join(csvColumns, ", ") + ")"})
		case col[h] != 0:
			problems = append(problems, RowProblem{Line: 1, Field: h, Message: "column given twice"})
		default:
			col[h] = i + 1 // 0 means absent
		}
	}
	if col["code"] == 0 {
		problems = append(problems, RowProblem{Line: 1, Field: "code", Message: "the code column is required"})
	}
	if len(problems) > 0 {
		return nil, &ImportError{Problems: problems}
	}
	var rows []Row
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line := 0
			if pe, ok := errors.AsType[*csv.ParseError](err); ok {
				line = pe.Line
			}
			return nil, &ImportError{Problems: []RowProblem{{Line: line, Message: csvErr(err)}}}
		}
		line, _ := cr.FieldPos(0)
		row := Row{Line: line}
		if len(rec) != len(header) {
			row.Problems = append(row.Problems, RowProblem{Line: line, Message: fmt.Sprintf("%d cells, the header has %d", len(rec), len(header))})
		}
		cell := func(name string) *string {
			i := col[name]
			if i == 0 || i > len(rec) {
				return nil
			}
			v := strings.TrimSpace(rec[i-1])
			return &v
		}
		if c := cell("code"); c != nil {
			row.Code = *c
		}
		p := &row.Patch
		p.Name, p.ShortName, p.Kind, p.Parent, p.Territory = cell("name"), cell("short"), cell("kind"), cell("parent"), cell("territory")
		p.Adapter, p.Mode, p.Endpoint, p.TLSClient = cell("adapter"), cell("mode"), cell("endpoint"), cell("tls_client")
		p.ITContact, p.Status, p.Successor = cell("it_contact"), cell("status"), cell("successor")
		p.Subsystem, p.Calendar = cell("subsystem"), cell("calendar")
		if c := cell("topics"); c != nil {
			l := splitList(*c)
			p.Topics = &l
		}
		if c := cell("accepts"); c != nil {
			l := splitList(*c)
			p.Accepts = &l
		}
		p.MaxMessageBytes = intCell(&row, "max_message_bytes", cell("max_message_bytes"))
		if n := intCell(&row, "concurrency", cell("concurrency")); n != nil {
			c := int(min(max(*n, -1), MaxConcurrency+1)) // out of range either way: the validator says so
			p.Concurrency = &c
		}
		if c := cell("request_timeout"); c != nil {
			d, err := schemas.ParseDuration(*c)
			if err != nil {
				row.Problems = append(row.Problems, RowProblem{Line: line, Code: row.Code, Field: "request_timeout", Message: err.Error()})
			}
			p.RequestTimeout = &d
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// intCell reads an integer cell ("" is 0), or notes a problem in row; nil when the column is absent.
func intCell(row *Row, field string, c *string) *int64 {
	if c == nil {
		return nil
	}
	var n int64
	if *c != "" {
		var err error
		if n, err = strconv.ParseInt(*c, 10, 64); err != nil {
			row.Problems = append(row.Problems, RowProblem{Line: row.Line, Code: row.Code, Field: field, Message: "must be an integer"})
		}
	}
	return &n
}

func csvErr(err error) string {
	if pe, ok := errors.AsType[*csv.ParseError](err); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

// yamlKeys are the keys of one YAML entry.
var yamlKeys = []string{"code", "name", "short_name", "kind", "parent", "territory", "topics", "accepts", "adapter",
	"mode", "endpoint", "tls_client", "max_message_bytes", "it_contact", "status", "successor",
	"subsystem", "calendar", "concurrency", "request_timeout"}

// parseYAML reads a list of entries, or a mapping with the list under "authorities".
func parseYAML(data []byte) ([]Row, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, &ImportError{Problems: []RowProblem{{Line: yamlLine(err), Message: "not valid YAML: " + err.Error()}}}
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	list := doc.Content[0]
	if list.Kind == yaml.MappingNode {
		var found *yaml.Node
		for i := 0; i+1 < len(list.Content); i += 2 {
			if list.Content[i].Value == "authorities" {
				found = list.Content[i+1]
			}
		}
		if found == nil {
			return nil, &ImportError{Problems: []RowProblem{{Line: list.Line, Message: "expected a list of authorities, or one under the key authorities"}}}
		}
		list = found
	}
	if list.Kind != yaml.SequenceNode {
		return nil, &ImportError{Problems: []RowProblem{{Line: list.Line, Message: "expected a list of authorities"}}}
	}
	rows := make([]Row, 0, len(list.Content))
	for _, item := range list.Content {
		row := Row{Line: item.Line}
		if item.Kind != yaml.MappingNode {
			row.Problems = append(row.Problems, RowProblem{Line: item.Line, Message: "expected a mapping of fields"})
			rows = append(rows, row)
			continue
		}
		seen := map[string]bool{}
		for i := 0; i+1 < len(item.Content); i += 2 {
			k, v := item.Content[i], item.Content[i+1]
			switch {
			case !slices.Contains(yamlKeys, k.Value):
				row.Problems = append(row.Problems, RowProblem{Line: k.Line, Field: k.Value, Message: "unknown field"})
			case seen[k.Value]:
				row.Problems = append(row.Problems, RowProblem{Line: k.Line, Field: k.Value, Message: "given twice"})
			case k.Value == "code":
				if err := v.Decode(&row.Code); err != nil {
					row.Problems = append(row.Problems, RowProblem{Line: v.Line, Field: "code", Message: "must be a string"})
				}
			case (k.Value == "topics" || k.Value == "accepts") && v.Kind == yaml.ScalarNode:
				l := splitList(v.Value) // "*" or "a;b" as in the CSV format
				if k.Value == "topics" {
					row.Patch.Topics = &l
				} else {
					row.Patch.Accepts = &l
				}
			default:
				one := yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{k, v}}
				if err := one.Decode(&row.Patch); err != nil {
					msg := "wrong type"
					if de, ok := errors.AsType[*schemas.DurationError](err); ok {
						msg = de.Error()
					}
					row.Problems = append(row.Problems, RowProblem{Line: v.Line, Field: k.Value, Message: msg})
				}
			}
			seen[k.Value] = true
		}
		for i := range row.Problems {
			row.Problems[i].Code = row.Code
		}
		rows = append(rows, row)
	}
	return rows, nil
}

// yamlLine digs the line out of a yaml error ("yaml: line 3: ..."), or returns 1.
func yamlLine(err error) int {
	s := err.Error()
	if _, rest, ok := strings.Cut(s, "line "); ok {
		end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
		if end > 0 {
			if n, err := strconv.Atoi(rest[:end]); err == nil {
				return n
			}
		}
	}
	return 1
}

// Write writes entries as format (tokens are never written). What Write writes, Parse reads back.
func Write(format string, w io.Writer, entries []schemas.Authority) error {
	switch format {
	case FormatCSV:
		cw := csv.NewWriter(w)
		if err := cw.Write(csvColumns); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
		for _, a := range entries {
			size := ""
			if a.MaxMessageBytes > 0 {
				size = strconv.FormatInt(a.MaxMessageBytes, 10)
			}
			concurrency := ""
			if a.Concurrency != 0 {
				concurrency = strconv.Itoa(a.Concurrency)
			}
			timeout, _ := a.RequestTimeout.MarshalText()
			rec := []string{a.Code, a.Name, a.ShortName, a.Kind, a.Parent, a.Territory, strings.Join(a.Topics, ";"),
				strings.Join(a.Accepts, ";"), a.Adapter, a.Mode, a.Endpoint, a.TLSClient, size, a.ITContact, a.Status, a.Successor,
				a.Subsystem, a.Calendar, concurrency, string(timeout)}
			if err := cw.Write(rec); err != nil {
				return fmt.Errorf("write csv: %w", err)
			}
		}
		cw.Flush()
		if err := cw.Error(); err != nil {
			return fmt.Errorf("write csv: %w", err)
		}
		return nil
	case FormatYAML:
		if entries == nil {
			entries = []schemas.Authority{}
		}
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(map[string]any{"authorities": entries}); err != nil {
			return fmt.Errorf("write yaml: %w", err)
		}
		if err := enc.Close(); err != nil {
			return fmt.Errorf("write yaml: %w", err)
		}
		return nil
	}
	return fmt.Errorf("export: unknown format %q", format)
}
