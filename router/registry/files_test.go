package registry_test

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"appealhub/router/registry"
	"appealhub/schemas"
)

func TestParseFixtureCSV(t *testing.T) {
	t.Parallel()
	f, err := os.Open(fixturePath(t))
	require.NoError(t, err)
	defer f.Close()
	rows, err := registry.Parse(registry.FormatCSV, f)
	require.NoError(t, err)
	require.Len(t, rows, 59)
	first := rows[0]
	require.Equal(t, 2, first.Line)
	require.Equal(t, "00000431", first.Code)
	require.Equal(t, "КМУ", *first.Patch.ShortName)
	require.Equal(t, []string{"*"}, *first.Patch.Topics)
	require.Equal(t, []string{"appeal", "info_request"}, *first.Patch.Accepts)
	require.Equal(t, "", *first.Patch.Parent)
	require.Nil(t, first.Patch.Endpoint, "a column the file lacks is not set")
	require.Nil(t, first.Patch.Status)
	require.Nil(t, first.Patch.Calendar, "the fixture's columns are the old set")
	require.Nil(t, first.Patch.Concurrency)
	require.Nil(t, first.Patch.RequestTimeout)
	last := rows[len(rows)-1]
	require.Equal(t, 60, last.Line)
	require.Equal(t, []string{"appeal"}, *last.Patch.Accepts)
	for _, r := range rows {
		require.Empty(t, r.Problems, "line %d", r.Line)
	}
}

func TestParseCSVProblemsHaveLines(t *testing.T) {
	t.Parallel()
	in := "code,name,short,kind,parent,territory,topics,accepts,adapter,max_message_bytes\n" +
		"00000431,КМУ,КМУ,central,,UA80000000000000000,*,appeal,json,\n" +
		"\n" +
		"\"19863933\",\"Мінцифри, з комою\",,central,00000431,UA80000000000000000,digital,appeal,json,lots\n" +
		"42037682,МОН,,central\n"
	rows, err := registry.Parse(registry.FormatCSV, strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, []int{2, 4, 5}, []int{rows[0].Line, rows[1].Line, rows[2].Line})
	require.Equal(t, "Мінцифри, з комою", *rows[1].Patch.Name)
	require.Len(t, rows[1].Problems, 1)
	require.Equal(t, "max_message_bytes", rows[1].Problems[0].Field)
	require.Equal(t, 4, rows[1].Problems[0].Line)
	require.Len(t, rows[2].Problems, 1)
	require.Contains(t, rows[2].Problems[0].Message, "4 cells, the header has 10")

	_, err = registry.Parse(registry.FormatCSV, strings.NewReader("code,colour\n00000431,red\n"))
	ie, ok := err.(*registry.ImportError)
	require.True(t, ok, "%v", err)
	require.Equal(t, 1, ie.Problems[0].Line)
	require.Equal(t, "colour", ie.Problems[0].Field)

	_, err = registry.Parse(registry.FormatCSV, strings.NewReader("code,name\n00000431,\"unterminated\n"))
	ie, ok = err.(*registry.ImportError)
	require.True(t, ok, "%v", err)
	require.Equal(t, 2, ie.Problems[0].Line)
}

func TestParseYAML(t *testing.T) {
	t.Parallel()
	in := `authorities:
  - code: "00000431"
    name: Кабінет Міністрів України
    kind: central
    territory: UA80000000000000000
    topics: "*"
    accepts: [appeal, info_request]
    adapter: sev1207
  - code: "19863933"
    name: Мінцифри
    max_message_bytes: many
    colour: red
  - just a string
`
	rows, err := registry.Parse(registry.FormatYAML, strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, rows, 3)
	require.Equal(t, 2, rows[0].Line)
	require.Empty(t, rows[0].Problems)
	require.Equal(t, []string{"*"}, *rows[0].Patch.Topics)
	require.Equal(t, []string{"appeal", "info_request"}, *rows[0].Patch.Accepts)
	require.Equal(t, 9, rows[1].Line)
	require.Len(t, rows[1].Problems, 2)
	require.Equal(t, registry.RowProblem{Line: 11, Code: "19863933", Field: "max_message_bytes", Message: "wrong type"}, rows[1].Problems[0])
	require.Equal(t, 12, rows[1].Problems[1].Line)
	require.Equal(t, "colour", rows[1].Problems[1].Field)
	require.Equal(t, 13, rows[2].Problems[0].Line)

	_, err = registry.Parse(registry.FormatYAML, strings.NewReader("authorities:\n  - code: [\n"))
	_, ok := err.(*registry.ImportError)
	require.True(t, ok, "%v", err)
}

func TestWriteParseRoundTrip(t *testing.T) {
	t.Parallel()
	a := goodAuthority()
	b := goodAuthority()
	b.Code, b.Name, b.Topics, b.Accepts, b.Parent, b.MaxMessageBytes = validCode("0000043"), "Кабінет Міністрів; \"КМУ\"", []string{"*"}, []string{"appeal"}, "", 0
	for _, format := range []string{registry.FormatCSV, registry.FormatYAML} {
		var buf bytes.Buffer
		require.NoError(t, registry.Write(format, &buf, []schemas.Authority{a, b}))
		rows, err := registry.Parse(format, &buf)
		require.NoError(t, err, format)
		require.Len(t, rows, 2)
		for i, want := range []schemas.Authority{a, b} {
			require.Empty(t, rows[i].Problems, format)
			got := rows[i].Patch.Apply(schemas.Authority{Code: rows[i].Code})
			require.Equal(t, want, got, format)
		}
	}
	f, err := registry.FormatOf("x/Реєстр.YML")
	require.NoError(t, err)
	require.Equal(t, registry.FormatYAML, f)
	_, err = registry.FormatOf("x.xlsx")
	require.Error(t, err)
}

func TestParseRegistryFieldsAndDeliverySettings(t *testing.T) {
	t.Parallel()
	in := "code,name,subsystem,calendar,concurrency,request_timeout\n" +
		"00000431,КМУ,sed.main,UA,4,45s\n" +
		"19863933,Мінцифри,,,,\n" +
		"42037682,МОН,sed main,UA,four,45 s\n"
	rows, err := registry.Parse(registry.FormatCSV, strings.NewReader(in))
	require.NoError(t, err)
	require.Len(t, rows, 3)
	p := rows[0].Patch
	require.Empty(t, rows[0].Problems)
	require.Equal(t, "sed.main", *p.Subsystem)
	require.Equal(t, "UA", *p.Calendar)
	require.Equal(t, 4, *p.Concurrency)
	require.Equal(t, schemas.Duration(45*time.Second), *p.RequestTimeout)
	// Empty cells: no subsystem, the default calendar, the hub's delivery defaults.
	p = rows[1].Patch
	require.Empty(t, rows[1].Problems)
	require.Equal(t, "", *p.Subsystem)
	require.Zero(t, *p.Concurrency)
	require.Zero(t, *p.RequestTimeout)
	require.Equal(t, "", *p.Calendar, "an empty calendar is the default one (see TestRegistryFieldsAndSettings)")
	// Unreadable cells are row problems with their line; the shape of the subsystem is the validator's.
	require.Equal(t, []registry.RowProblem{
		{Line: 4, Code: "42037682", Field: "concurrency", Message: "must be an integer"},
		{Line: 4, Code: "42037682", Field: "request_timeout", Message: "must be a duration such as 500ms, 30s or 2m"},
	}, rows[2].Problems)

	yml := `- code: "00000431"
  subsystem: sed.main
  calendar: UA
  concurrency: 8
  request_timeout: 2m
- code: "19863933"
  concurrency: many
  request_timeout: soon
`
	rows, err = registry.Parse(registry.FormatYAML, strings.NewReader(yml))
	require.NoError(t, err)
	require.Len(t, rows, 2)
	require.Empty(t, rows[0].Problems)
	require.Equal(t, 8, *rows[0].Patch.Concurrency)
	require.Equal(t, schemas.Duration(2*time.Minute), *rows[0].Patch.RequestTimeout)
	require.Equal(t, "sed.main", *rows[0].Patch.Subsystem)
	require.Equal(t, []registry.RowProblem{
		{Line: 7, Code: "19863933", Field: "concurrency", Message: "wrong type"},
		{Line: 8, Code: "19863933", Field: "request_timeout", Message: "must be a duration such as 500ms, 30s or 2m"},
	}, rows[1].Problems)
}

// FuzzParse: no file makes Parse panic or lose track of lines; what it reads without problems,
// Write writes and Parse reads back the same.
func FuzzParse(f *testing.F) {
	fixture, err := os.ReadFile(fixturePath(f))
	require.NoError(f, err)
	f.Add(true, fixture)
	f.Add(true, []byte("code,name,subsystem,calendar,concurrency,request_timeout\n00000431,КМУ,sed.main,UA,4,45s\n"))
	f.Add(true, []byte("code,name\n00000431,\"unterminated\n"))
	f.Add(false, []byte("authorities:\n  - code: \"00000431\"\n    topics: \"*\"\n    request_timeout: 2m\n    concurrency: 8\n"))
	f.Add(false, []byte("- just a string\n- code: [\n"))
	f.Fuzz(func(t *testing.T, csv bool, data []byte) {
		format := registry.FormatYAML
		if csv {
			format = registry.FormatCSV
		}
		rows, err := registry.Parse(format, bytes.NewReader(data))
		if err != nil {
			return
		}
		var entries []schemas.Authority
		for _, r := range rows {
			require.Positive(t, r.Line)
			for _, p := range r.Problems {
				require.Positive(t, p.Line)
			}
			if len(r.Problems) == 0 {
				entries = append(entries, r.Patch.Apply(schemas.Authority{Code: r.Code}))
			}
		}
		if !csv || len(entries) == 0 {
			return
		}
		var buf bytes.Buffer
		require.NoError(t, registry.Write(format, &buf, entries))
		again, err := registry.Parse(format, &buf)
		require.NoError(t, err)
		require.Len(t, again, len(entries))
	})
}
