package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"appealhub/router"
	"appealhub/schemas"
)

func newStatsCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "stats",
		Short: "Statistics of cases (docs/statistics.md)",
	}
	cmd.AddCommand(newStatsReportCommand())
	return cmd
}

func newStatsReportCommand() *cobra.Command {
	var quarter, format string
	cmd := &cobra.Command{
		Use:   "report --quarter 2026Q4",
		Short: "Print the quarterly report: the quarter's deliveries by form of receipt, kind, applicant category and topic",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if _, _, err := schemas.Quarter(quarter); err != nil {
				return err
			}
			if format != "text" && format != "csv" && format != "json" {
				return fmt.Errorf("--format %q: must be text, csv or json", format)
			}
			st, err := openCheckedStore(cmd)
			if err != nil {
				return err
			}
			defer func() { _ = st.Close() }()
			rep, err := router.StatsReport(cmd.Context(), st, quarter, time.Now())
			if err != nil {
				return err
			}
			return writeStatsReport(cmd.OutOrStdout(), rep, format)
		},
	}
	cmd.Flags().StringVar(&quarter, "quarter", "", "the quarter, as 2026Q4 (its months in Europe/Kyiv)")
	cmd.Flags().StringVar(&format, "format", "text", "text, csv or json")
	_ = cmd.MarkFlagRequired("quarter")
	configFlags(cmd, "database.url", "database.schema")
	return cmd
}

// writeStatsReport prints rep to w as text (a table per section), CSV or JSON.
func writeStatsReport(w io.Writer, rep schemas.StatsReport, format string) error {
	switch format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write the report: %w", err)
		}
		return nil
	case "csv":
		return rep.WriteCSV(w)
	}
	kyiv, err := time.LoadLocation(schemas.StatsTimeZone)
	if err != nil {
		return fmt.Errorf("load time zone: %w", err)
	}
	fmt.Fprintf(w, "Report on appeals, %s (%s to %s, Kyiv), as of %s\n", rep.Quarter, rep.From.In(kyiv).Format("2006-01-02"),
		rep.To.In(kyiv).AddDate(0, 0, -1).Format("2006-01-02"), rep.AsOf.In(kyiv).Format("2006-01-02 15:04"))
	for _, sec := range rep.Sections {
		fmt.Fprintf(w, "\n%s\n", sec.Title)
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "group\treceived\tregistered\trefused\tforwarded\tanswered\ton time\toverdue now\tmedian to answer, days\t")
		for _, r := range sec.Rows {
			fmt.Fprintln(tw, statsTextRow(cmpLabel(r), r))
		}
		fmt.Fprintln(tw, statsTextRow("total", rep.Total))
		if err := tw.Flush(); err != nil {
			return fmt.Errorf("write the report: %w", err)
		}
	}
	return nil
}

// cmpLabel is the group's name in the text report: its key and, when it has one, its label.
func cmpLabel(r schemas.StatsRow) string {
	switch {
	case r.Group == "":
		return "(" + r.Label + ")"
	case r.Label != "" && r.Label != r.Group:
		return r.Group + " — " + r.Label
	}
	return r.Group
}

func statsTextRow(name string, r schemas.StatsRow) string {
	days := "—"
	if r.MedianToAnswerSecs != nil {
		days = strconv.FormatFloat(*r.MedianToAnswerSecs/86400, 'f', 1, 64)
	}
	return fmt.Sprintf("%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t", name, r.Received, r.Registered, r.Refused, r.Forwarded,
		r.Answered, r.AnsweredOnTime, r.OverdueNow, days)
}
