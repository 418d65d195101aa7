package conformance

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteTable writes the report as a table, one line per case with its reason, then a summary
// line.
func (r Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	if r.Mode == ModePull {
		fmt.Fprintf(&b, "Conformance of the %s system polling %s (mode pull)\n", r.Format, r.InboxURL)
	} else {
		fmt.Fprintf(&b, "Conformance of %s (format %s, mode push)\n", r.Endpoint, r.Format)
	}
	fmt.Fprintf(&b, "Messages endpoint: %s\n\n", r.MessagesURL)
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tCASE\tRESULT\tTIME\tREASON")
	counts := map[Status]int{}
	for i, res := range r.Results {
		counts[res.Status]++
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", i+1, res.Case, res.Status, res.Elapsed, oneLine(res.Reason))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	fmt.Fprintf(&b, "\n%d cases: %d passed, %d failed, %d skipped\n", len(r.Results), counts[Pass], counts[Fail], counts[Skip])
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
