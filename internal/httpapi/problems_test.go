package httpapi

import (
	"os"
	"regexp"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"

	"appealhub/schemas"
)

func TestProblemTable(t *testing.T) {
	t.Parallel()
	seen := make(map[schemas.Code]bool)
	for _, p := range problemTable {
		require.False(t, seen[p.Code], "code %s appears twice in problemTable", p.Code)
		seen[p.Code] = true
		require.NotEmpty(t, p.Title, p.Code)
		require.GreaterOrEqual(t, p.Status, 400, p.Code)
		if p.Status == 503 {
			require.Positive(t, p.RetryAfter, "%s: every 503 says when to retry", p.Code)
		}
	}
	for _, c := range schemas.Codes() {
		require.True(t, seen[c], "schemas code %s is missing from problemTable", c)
	}
	require.Len(t, problemTable, len(schemas.Codes()), "problemTable has codes schemas does not declare")
	// Client mistakes are never answered 5xx.
	for _, c := range []schemas.Code{
		schemas.CodeMalformedJSON, schemas.CodeInvalidUTF8, schemas.CodeNULCharacter, schemas.CodeDuplicateKey,
		schemas.CodeSchemaViolation, schemas.CodeBodyTooLarge, schemas.CodeUnsupportedMediaType,
		schemas.CodeUnauthorized, schemas.CodeUnknownAddressee, schemas.CodeIdempotencyKeyMissing,
	} {
		require.Less(t, problemsByCode[c].Status, 500, c)
	}
}

// TestProblemCodesDocumented reads the code table of docs/errors.md: every code of problemTable
// is there once, with its status, and nothing else is.
func TestProblemCodesDocumented(t *testing.T) {
	t.Parallel()
	doc, err := os.ReadFile("../../docs/errors.md")
	require.NoError(t, err)
	row := regexp.MustCompile("(?m)^\\|\\s*`([a-z0-9_]+)`\\s*\\|\\s*(\\d{3})\\s*\\|")
	documented := make(map[string]string)
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		_, dup := documented[m[1]]
		require.False(t, dup, "code %s is documented twice", m[1])
		documented[m[1]] = m[2]
	}
	for _, p := range problemTable {
		status, ok := documented[string(p.Code)]
		require.True(t, ok, "code %s is missing from docs/errors.md", p.Code)
		require.Equal(t, strconv.Itoa(p.Status), status, "status of %s in docs/errors.md", p.Code)
	}
	require.Len(t, documented, len(problemTable), "docs/errors.md documents codes problemTable lacks")
}
