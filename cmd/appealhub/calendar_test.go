package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/internal/deadline"
	"appealhub/internal/store/storetest"
)

func TestCalendarImportAndShow(t *testing.T) {
	cfg := storetest.Config()
	st := storetest.Open(t, cfg)
	db := []string{"--database-url", cfg.URL, "--database-schema", cfg.Schema}
	calendar := func(args ...string) (string, string, int) {
		t.Helper()
		return runCLI(t, nil, append(append([]string{"calendar"}, args...), db...)...)
	}

	// No calendar imported yet: the embedded one, under martial law.
	out, errOut, code := calendar("show", "--from", "2026-01-01", "--to", "2026-01-31")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "calendar ua-2026.1 (embedded in this binary; no calendar imported yet)\n")
	require.Contains(t, out, "time zone Europe/Kyiv; working hours 09:00–18:00\n")
	require.Contains(t, out, "rule martial_law: from 2022-03-24, in force: public holidays are working days")
	require.Contains(t, out, "2026-01-01 Thursday  working day public holiday (Новий рік), not a day off under rule martial_law\n")
	require.NotContains(t, out, "imported versions")

	dir := t.TempDir()
	peace := filepath.Join(dir, "peace.yaml")
	src := strings.Replace(string(deadline.DefaultSource()), "version: ua-2026.1", "version: ua-2026.2", 1)
	src = strings.Replace(src, "    holidays_are_working_days: true", "    to: 2025-12-31\n    holidays_are_working_days: true", 1)
	require.NoError(t, os.WriteFile(peace, []byte(src), 0o600))
	out, errOut, code = calendar("import", peace, "--by", "ops")
	require.Equal(t, 0, code, errOut)
	require.Regexp(t, `^imported calendar ua-2026.2 \(sha256 [0-9a-f]{64}\)\nrecomputed the due dates of 0 open deliveries; 0 changed\n$`, out)
	out, errOut, code = calendar("import", peace)
	require.Equal(t, 0, code, errOut)
	require.Equal(t, "calendar ua-2026.2 is the current calendar already; nothing changed\n", out)

	out, errOut, code = calendar("show", "--from", "2026-03-01", "--to", "2026-03-31")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "calendar ua-2026.2, imported ")
	require.Contains(t, out, " by ops (sha256 ")
	require.Contains(t, out, "rule martial_law: from 2022-03-24, until 2025-12-31")
	require.Contains(t, out, "2026-03-09 Monday    day off     day off for the public holiday on 2026-03-08")
	require.Contains(t, out, "imported versions, the current first:\n  ua-2026.2  ")
	out, errOut, code = calendar("show", "--source")
	require.Equal(t, 0, code, errOut)
	require.Equal(t, src, out)

	// Refusals: a file with problems (each named), an earlier version, an unknown version.
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(bad, []byte("format: appealhub.calendar.v1\nversion: x\ntime_zone: Mars/Olympus\n"), 0o600))
	_, errOut, code = calendar("import", bad)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `time_zone: unknown time zone "Mars/Olympus"`)
	require.Contains(t, errOut, "working_days: must name at least one day")
	embedded := filepath.Join(dir, "embedded.yaml")
	require.NoError(t, os.WriteFile(embedded, deadline.DefaultSource(), 0o600))
	out, errOut, code = calendar("import", embedded)
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "imported calendar ua-2026.1")
	_, errOut, code = calendar("import", peace)
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "was imported before and is not the current one")
	_, errOut, code = calendar("show", "--version", "nope")
	require.Equal(t, 1, code)
	require.Contains(t, errOut, `no calendar version "nope" was imported`)
	_, errOut, code = calendar("import", filepath.Join(dir, "missing.yaml"))
	require.Equal(t, 1, code)
	require.Contains(t, errOut, "read the calendar file")

	all, err := st.Calendars(t.Context())
	require.NoError(t, err)
	require.Len(t, all, 2)
	require.Equal(t, "ua-2026.1", all[0].Version)
}
