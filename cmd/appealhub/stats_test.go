package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"appealhub/internal/audit"
	"appealhub/internal/store/storetest"
	"appealhub/schemas"
)

func TestStatsReportCommand(t *testing.T) {
	cfg := storetest.Config()
	st := storetest.Open(t, cfg)
	ctx := context.Background()
	require.NoError(t, st.UpsertAuthority(ctx, schemas.AuthorityRoute{Code: "00000011", Name: "Body", Adapter: "json", Endpoint: "http://127.0.0.1:1/"}))
	require.NoError(t, st.UpsertClient(ctx, schemas.Client{ID: "portal", Kind: "portal"}, []byte("0123456789abcdef0123456789abcdef")))
	kyiv, err := time.LoadLocation("Europe/Kyiv")
	require.NoError(t, err)
	for i, at := range []time.Time{time.Date(2026, 10, 1, 0, 30, 0, 0, kyiv), time.Date(2026, 11, 10, 12, 0, 0, 0, kyiv),
		time.Date(2026, 9, 30, 23, 30, 0, 0, kyiv)} { // the last is in the third quarter
		body := `{"case_kind":"appeal","topic":"roads","applicant":{"category":"veteran"}}`
		_, err := st.CreateCase(ctx, schemas.NewCase{ID: uuid.Must(uuid.NewV7()).String(), ClientID: "portal", IdempotencyKey: uuid.NewString(),
			RequestSHA256: []byte{byte(i)}, CaseKind: schemas.CaseAppeal, AppealKind: schemas.AppealComplaint, Body: []byte(body), ReceivedAt: at,
			Deliveries: []schemas.NewDelivery{{ID: uuid.Must(uuid.NewV7()).String(), Authority: "00000011"}}}, "ZV-2026-")
		require.NoError(t, err)
	}
	sealer := audit.NewSealer(st, audit.Config{}, nil)
	deadline := time.Now().Add(time.Minute)
	for {
		_, err := sealer.Seal(ctx)
		require.NoError(t, err)
		n, err := st.UnsealedEvents(ctx)
		require.NoError(t, err)
		if n == 0 {
			break
		}
		require.False(t, time.Now().After(deadline), "%d events still unsealed", n)
		time.Sleep(5 * time.Millisecond)
	}
	db := []string{"--database-url", cfg.URL, "--database-schema", cfg.Schema}
	report := func(args ...string) (string, string, int) {
		t.Helper()
		return runCLI(t, nil, append(append([]string{"stats", "report"}, args...), db...)...)
	}

	out, errOut, code := report("--quarter", "2026Q4", "--format", "json")
	require.Equal(t, 0, code, errOut)
	var rep schemas.StatsReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.Equal(t, "2026Q4", rep.Quarter)
	require.Equal(t, int64(2), rep.Total.Received, "the third quarter's case is left out")
	require.Len(t, rep.Sections, 4)
	require.Equal(t, []schemas.StatsRow{{Group: "portal:portal", Label: "electronic, through portal portal", Received: 2}}, rep.Sections[0].Rows)
	require.Equal(t, "complaint", rep.Sections[1].Rows[0].Group)
	require.Equal(t, "veteran", rep.Sections[2].Rows[0].Group)
	require.Equal(t, "roads", rep.Sections[3].Rows[0].Group)

	out, errOut, code = report("--quarter", "2026Q3", "--format", "csv")
	require.Equal(t, 0, code, errOut)
	records, err := csv.NewReader(strings.NewReader(out)).ReadAll()
	require.NoError(t, err)
	require.Equal(t, "section", records[0][0])
	require.Equal(t, []string{"form_of_receipt", "portal:portal", "electronic, through portal portal", "1"}, records[1][:4])
	require.Equal(t, []string{"total", "", "", "1"}, records[len(records)-1][:4])

	out, errOut, code = report("--quarter", "2026Q4")
	require.Equal(t, 0, code, errOut)
	require.Contains(t, out, "Report on appeals, 2026Q4 (2026-10-01 to 2026-12-31, Kyiv)")
	for _, title := range []string{"By form of receipt", "By kind of appeal", "By category of applicant", "By topic"} {
		require.Contains(t, out, "\n"+title+"\n")
	}
	require.Regexp(t, `portal:portal — electronic, through portal portal\s+2\s+0`, out)

	_, errOut, code = report("--quarter", "2026Q5")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "as 2026Q4")
	_, errOut, code = report("--quarter", "2026Q4", "--format", "xml")
	require.NotEqual(t, 0, code)
	require.Contains(t, errOut, "text, csv or json")
}
