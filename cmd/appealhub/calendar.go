package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"appealhub/internal/deadline"
	"appealhub/router"
	"appealhub/schemas"
)

func newCalendarCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "calendar",
		Short: "Import or show the working-day calendar that due dates are computed on (docs/deadlines.md)",
	}
	cmd.AddCommand(newCalendarImportCommand(), newCalendarShowCommand())
	return cmd
}

func newCalendarImportCommand() *cobra.Command {
	var by string
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import a calendar file (YAML or JSON; - reads stdin) as the current calendar and recompute the due dates of open deliveries",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			source, err := readCalendarFile(cmd.InOrStdin(), args[0])
			if err != nil {
				return err
			}
			if _, err := deadline.Parse(source); err != nil {
				return err // before touching the database
			}
			st, err := openCheckedStore(cmd)
			if err != nil {
				return err
			}
			defer func() { _ = st.Close() }()
			res, err := router.ImportCalendar(cmd.Context(), st, source, by, time.Now())
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if !res.Imported {
				fmt.Fprintf(w, "calendar %s is the current calendar already; nothing changed\n", res.Calendar.Version)
				return nil
			}
			fmt.Fprintf(w, "imported calendar %s (sha256 %s)\n", res.Calendar.Version, hex.EncodeToString(res.Calendar.SHA256))
			fmt.Fprintf(w, "recomputed the due dates of %d open deliveries; %d changed\n", res.Recomputed, res.Changed)
			return nil
		},
	}
	cmd.Flags().StringVar(&by, "by", currentUser(), "who imports it (recorded with the calendar)")
	configFlags(cmd, "database.url", "database.schema")
	return cmd
}

func readCalendarFile(stdin io.Reader, path string) ([]byte, error) {
	if path == "-" {
		b, err := io.ReadAll(io.LimitReader(stdin, 8<<20))
		if err != nil {
			return nil, fmt.Errorf("read the calendar from stdin: %w", err)
		}
		return b, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the calendar file: %w", err)
	}
	return b, nil
}

func currentUser() string {
	return os.Getenv("USER")
}

func newCalendarShowCommand() *cobra.Command {
	var version, from, to string
	var source bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Show the current calendar (or --version), its imported versions, and the days it changes in a period",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := openCheckedStore(cmd)
			if err != nil {
				return err
			}
			defer func() { _ = st.Close() }()
			all, err := st.Calendars(cmd.Context())
			if err != nil {
				return err
			}
			stored, err := pickCalendar(all, version)
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			raw := deadline.DefaultSource()
			if stored != nil {
				raw = stored.Source
			}
			if source {
				_, err := w.Write(raw)
				return err
			}
			cal, err := deadline.Parse(raw)
			if err != nil {
				return err
			}
			period, err := showPeriod(from, to)
			if err != nil {
				return err
			}
			printCalendar(w, cal, stored, all, period)
			return nil
		},
	}
	cmd.Flags().StringVar(&version, "version", "", "show this imported version instead of the current one")
	cmd.Flags().StringVar(&from, "from", "", "first day of the period to list (YYYY-MM-DD; default: 1 January of this year)")
	cmd.Flags().StringVar(&to, "to", "", "last day of the period to list (YYYY-MM-DD; default: 31 December of the year of --from)")
	cmd.Flags().BoolVar(&source, "source", false, "print the calendar file itself")
	configFlags(cmd, "database.url", "database.schema")
	return cmd
}

// pickCalendar returns the stored calendar of version (the current one when version is empty;
// nil when none is stored).
func pickCalendar(all []schemas.StoredCalendar, version string) (*schemas.StoredCalendar, error) {
	if version == "" {
		if len(all) == 0 {
			return nil, nil
		}
		return &all[0], nil
	}
	for i := range all {
		if all[i].Version == version {
			return &all[i], nil
		}
	}
	return nil, fmt.Errorf("no calendar version %q was imported", version)
}

func showPeriod(from, to string) ([2]deadline.Date, error) {
	var p [2]deadline.Date
	p[0] = deadline.Date{Year: time.Now().Year(), Month: time.January, Day: 1}
	if from != "" {
		d, err := deadline.ParseDate(from)
		if err != nil {
			return p, fmt.Errorf("--from: %w", err)
		}
		p[0] = d
	}
	p[1] = deadline.Date{Year: p[0].Year, Month: time.December, Day: 31}
	if to != "" {
		d, err := deadline.ParseDate(to)
		if err != nil {
			return p, fmt.Errorf("--to: %w", err)
		}
		p[1] = d
	}
	if p[1].Before(p[0]) {
		return p, errors.New("--to is before --from")
	}
	return p, nil
}

func printCalendar(w io.Writer, cal *deadline.Calendar, stored *schemas.StoredCalendar, all []schemas.StoredCalendar, period [2]deadline.Date) {
	if stored == nil {
		fmt.Fprintf(w, "calendar %s (embedded in this binary; no calendar imported yet)\n", cal.Version())
	} else {
		fmt.Fprintf(w, "calendar %s, imported %s by %s (sha256 %s)\n", cal.Version(), stored.ImportedAt.UTC().Format(time.RFC3339),
			stored.ImportedBy, hex.EncodeToString(stored.SHA256))
	}
	if d := strings.TrimSpace(cal.Description()); d != "" {
		fmt.Fprintf(w, "  %s\n", d)
	}
	start, end := cal.WorkingHours()
	fmt.Fprintf(w, "time zone %s; working hours %s–%s\n", cal.Location(), start, end)
	for _, r := range cal.Rules() {
		until := "in force"
		if !r.To.IsZero() {
			until = "until " + r.To.String()
		}
		fmt.Fprintf(w, "rule %s: from %s, %s: public holidays are working days (%s)\n", r.ID, r.From, until, r.Basis)
	}
	fmt.Fprintf(w, "days from %s to %s that are not what their day of the week makes them:\n", period[0], period[1])
	n := 0
	for _, d := range cal.WorkingDays(period[0], period[1]) {
		if d.Reason == "" {
			continue
		}
		n++
		state := "day off"
		if d.Working {
			state = "working day"
		}
		fmt.Fprintf(w, "  %s %-9s %-11s %s\n", d.Date, d.Date.Weekday(), state, d.Reason)
	}
	if n == 0 {
		fmt.Fprintln(w, "  none")
	}
	if len(all) > 0 {
		fmt.Fprintln(w, "imported versions, the current first:")
		for _, c := range all {
			fmt.Fprintf(w, "  %s  %s  %s\n", c.Version, c.ImportedAt.UTC().Format(time.RFC3339), c.ImportedBy)
		}
	}
}
