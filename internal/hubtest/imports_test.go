package hubtest_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestImportRules enforces the package layout: nothing imports upward, each third-party library
// with one home stays there, and the stages declare their own ports instead of importing the store
// or the broker.
func TestImportRules(t *testing.T) {
	t.Parallel()
	out, err := exec.Command("go", "list", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "appealhub/...").CombinedOutput()
	require.NoError(t, err, string(out))
	imports := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(line)
		imports[fields[0]] = fields[1:]
	}
	require.Contains(t, imports, "appealhub/router")

	// Third-party libraries and the only packages that may import them.
	homes := map[string][]string{
		"github.com/lib/pq":                                               {"appealhub/internal/store"},
		"github.com/rabbitmq/amqp091-go":                                  {"appealhub/internal/broker"},
		"github.com/spf13/viper":                                          {"appealhub/config"},
		"github.com/beevik/etree":                                         {"appealhub/adapters/sev1207"},
		"github.com/pressly/goose/v3":                                     {"appealhub/internal/store"},
		"github.com/pressly/goose/v3/lock":                                {"appealhub/internal/store"},
		"golang.org/x/crypto/bcrypt":                                      {"appealhub/internal/console"},
		"github.com/prometheus/client_golang/prometheus":                  {"appealhub/internal/metrics"},
		"github.com/prometheus/client_golang/prometheus/collectors":       {"appealhub/internal/metrics"},
		"github.com/prometheus/client_golang/prometheus/promhttp":         {"appealhub/internal/metrics"},
		"go.opentelemetry.io/otel/attribute":                              {"appealhub/internal/tracing"},
		"go.opentelemetry.io/otel/codes":                                  {"appealhub/internal/tracing"},
		"go.opentelemetry.io/otel/propagation":                            {"appealhub/internal/tracing"},
		"go.opentelemetry.io/otel/sdk/resource":                           {"appealhub/internal/tracing"},
		"go.opentelemetry.io/otel/sdk/trace":                              {"appealhub/internal/tracing"},
		"go.opentelemetry.io/otel/trace":                                  {"appealhub/internal/tracing"},
		"go.opentelemetry.io/otel/exporters/stdout/stdouttrace":           {"appealhub/internal/tracing"},
		"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp": {"appealhub/internal/tracing"},
		"github.com/Shopify/toxiproxy/v2":                                 {"appealhub/internal/chaos"},
		"github.com/rs/zerolog":                                           {"appealhub/internal/chaos"},
	}
	// Module packages and the module packages they may import (prefix match).
	allowed := map[string][]string{
		"appealhub/schemas":              {},
		"appealhub/internal/clock":       {},
		"appealhub/internal/lifecycle":   {},
		"appealhub/config":               {},
		"appealhub/adapters":             {"appealhub/schemas"},
		"appealhub/internal/store":       {"appealhub/schemas", "appealhub/internal/clock"},
		"appealhub/internal/broker":      {"appealhub/internal/lifecycle"},
		"appealhub/internal/audit":       {"appealhub/internal/store", "appealhub/internal/clock", "appealhub/internal/lifecycle"},
		"appealhub/internal/signature":   {},
		"appealhub/internal/chart":       {},
		"appealhub/internal/deadline":    {"appealhub/schemas"},
		"appealhub/internal/receipt":     {"appealhub/internal/store", "appealhub/internal/audit", "appealhub/internal/signature", "appealhub/internal/clock", "appealhub/internal/lifecycle", "appealhub/schemas"},
		"appealhub/internal/httpapi":     {"appealhub/schemas"},
		"appealhub/internal/console":     {"appealhub/schemas", "appealhub/internal/chart"},
		"appealhub/internal/metrics":     {},
		"appealhub/internal/tracing":     {},
		"appealhub/internal/sandbox":     {"appealhub/adapters", "appealhub/schemas"},
		"appealhub/internal/conformance": {"appealhub/adapters", "appealhub/schemas"},
		"appealhub/router/intake":        {"appealhub/schemas", "appealhub/internal/clock", "appealhub/internal/lifecycle"},
		"appealhub/router/relay":         {"appealhub/schemas", "appealhub/internal/clock", "appealhub/internal/lifecycle"},
		"appealhub/router/delivery":      {"appealhub/schemas", "appealhub/adapters", "appealhub/internal/clock", "appealhub/internal/lifecycle"},
	}
	for pkg, deps := range imports {
		for _, dep := range deps {
			if home, ok := homes[dep]; ok {
				require.Contains(t, home, pkg, "%s may not import %s", pkg, dep)
			}
			if !strings.HasPrefix(dep, "appealhub/") {
				continue
			}
			if strings.HasPrefix(dep, "appealhub/cmd/") || strings.HasPrefix(dep, "appealhub/internal/hubtest") {
				t.Errorf("%s imports %s: nothing imports cmd or hubtest", pkg, dep)
			}
			if (dep == "appealhub/router" || strings.HasPrefix(dep, "appealhub/router/")) && !strings.HasPrefix(pkg, "appealhub/router") &&
				!strings.HasPrefix(pkg, "appealhub/cmd/") && !strings.HasPrefix(pkg, "appealhub/internal/hubtest") &&
				!strings.HasPrefix(pkg, "appealhub/internal/bench") {
				t.Errorf("%s imports %s: nothing below router imports it", pkg, dep)
			}
			rule, ok := ruleFor(allowed, pkg)
			if !ok {
				continue
			}
			if !allowedDep(rule, dep) && !strings.HasPrefix(pkg, dep+"/") { // a sub-package may use its parent
				t.Errorf("%s may not import %s (allowed: %v)", pkg, dep, rule)
			}
		}
	}
}

// ruleFor returns the rule of pkg or of the nearest parent that has one (adapters/jsondoc → adapters).
func ruleFor(allowed map[string][]string, pkg string) ([]string, bool) {
	for p := pkg; strings.Contains(p, "/"); p = p[:strings.LastIndex(p, "/")] {
		if r, ok := allowed[p]; ok {
			return r, true
		}
	}
	return nil, false
}

func allowedDep(rule []string, dep string) bool {
	for _, a := range rule {
		if dep == a || strings.HasPrefix(dep, a+"/") {
			return true
		}
	}
	return false
}
