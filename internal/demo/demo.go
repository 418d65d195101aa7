// Package demo carries the demonstration data embedded in the binary: a seed address space of
// authorities and sample citizen submissions in the hub's submission format.
package demo

import (
	"bytes"
	"embed"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
)

//go:embed data/authorities.csv data/submissions.json
var data embed.FS

// Authority is one row of the seed address space.
type Authority struct {
	Code      string
	Name      string
	ShortName string
	Kind      string
	Parent    string
	Territory string
	Adapter   string // the format its system speaks: "json" or "sev1207"
}

// Authorities returns the seed address space.
func Authorities() ([]Authority, error) {
	raw, err := data.ReadFile("data/authorities.csv")
	if err != nil {
		return nil, fmt.Errorf("read authorities: %w", err)
	}
	r := csv.NewReader(bytes.NewReader(raw))
	header, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("read authorities header: %w", err)
	}
	col := map[string]int{}
	for i, h := range header {
		col[h] = i
	}
	for _, need := range []string{"code", "name", "short", "kind", "parent", "territory", "adapter"} {
		if _, ok := col[need]; !ok {
			return nil, fmt.Errorf("authorities: no column %q", need)
		}
	}
	var out []Authority
	for {
		rec, err := r.Read()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read authorities: %w", err)
		}
		out = append(out, Authority{Code: rec[col["code"]], Name: rec[col["name"]], ShortName: rec[col["short"]],
			Kind: rec[col["kind"]], Parent: rec[col["parent"]], Territory: rec[col["territory"]], Adapter: rec[col["adapter"]]})
	}
}

// AuthoritiesCSV returns the seed address space as a registry import file (CSV): kinds, parents,
// territories, topics and accepted case kinds, which routing by topic and territory reads.
func AuthoritiesCSV() ([]byte, error) {
	raw, err := data.ReadFile("data/authorities.csv")
	if err != nil {
		return nil, fmt.Errorf("read authorities: %w", err)
	}
	return raw, nil
}

// Submissions returns the sample submissions, each as the exact JSON body the portal would send.
func Submissions() ([]json.RawMessage, error) {
	raw, err := data.ReadFile("data/submissions.json")
	if err != nil {
		return nil, fmt.Errorf("read submissions: %w", err)
	}
	var out []json.RawMessage
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("parse submissions: %w", err)
	}
	for i, s := range out {
		var buf bytes.Buffer
		if err := json.Compact(&buf, s); err != nil {
			return nil, fmt.Errorf("submission %d: %w", i, err)
		}
		out[i] = buf.Bytes()
	}
	return out, nil
}
