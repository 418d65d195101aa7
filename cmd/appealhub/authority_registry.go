package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"appealhub/adapters/jsondoc"
	"appealhub/adapters/sev1207"
	"appealhub/router/registry"
	"appealhub/schemas"
)

// The registry subcommands of `appealhub authority`: add, update, suspend, resume, close, cancel,
// show, list, import, export. They work on the database directly (no running hub needed); every
// change is recorded in the authority's history as made by "cli:<user>". A change with a later
// --effective-at is scheduled (running hubs apply it when its time comes); --if-version makes a
// change only if the entry is still at the version it was read at.

// registryCommands returns the registry subcommands.
func registryCommands() []*cobra.Command {
	return []*cobra.Command{newAuthorityAddCommand(), newAuthorityUpdateCommand(),
		newAuthorityStatusCommand(schemas.ActionSuspend, "Suspend an authority: its deliveries wait until it is resumed"),
		newAuthorityStatusCommand(schemas.ActionResume, "Resume a suspended authority"),
		newAuthorityStatusCommand(schemas.ActionClose, "Close an authority for good (--successor names who takes over)"),
		newAuthorityCancelCommand(), newAuthorityShowCommand(),
		newAuthorityListCommand(), newAuthorityImportCommand(), newAuthorityExportCommand()}
}

// builtinAdapters are the adapters every hub registers.
var builtinAdapters = []string{jsondoc.Name, sev1207.Name}

// openRegistry opens the configured database (refusing an outdated schema) and returns the
// registry over it and a function that closes it.
func openRegistry(cmd *cobra.Command) (*registry.Service, func(), error) {
	st, err := openCheckedStore(cmd)
	if err != nil {
		return nil, nil, err
	}
	return registry.New(st, builtinAdapters), func() { _ = st.Close() }, nil
}

// cliUser is who the history records for a change made with the CLI.
func cliUser() string {
	name := os.Getenv("USER")
	if u, err := user.Current(); err == nil && u.Username != "" {
		name = u.Username
	}
	return "cli:" + cmp.Or(name, "unknown")
}

// changeFlags adds --reason and --effective-at.
func changeFlags(cmd *cobra.Command) {
	cmd.Flags().String("reason", "", "why the change is made (kept in the history)")
	cmd.Flags().String("effective-at", "", "when the change takes effect, RFC 3339 (default: now; a later time schedules it)")
}

// versionFlag adds --if-version.
func versionFlag(cmd *cobra.Command) {
	cmd.Flags().Int64("if-version", 0, "make the change only if the entry is at this version (see show)")
}

func changeMeta(cmd *cobra.Command) (schemas.AuthorityChangeMeta, error) {
	reason, _ := cmd.Flags().GetString("reason")
	at, _ := cmd.Flags().GetString("effective-at")
	m := schemas.AuthorityChangeMeta{By: cliUser(), Reason: reason}
	if cmd.Flags().Lookup("if-version") != nil {
		m.IfVersion, _ = cmd.Flags().GetInt64("if-version")
		if m.IfVersion < 0 {
			return m, fmt.Errorf("--if-version: must be a positive version")
		}
	}
	if at != "" {
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return m, fmt.Errorf("--effective-at: must be an RFC 3339 time: %w", err)
		}
		m.EffectiveAt = t
	}
	return m, nil
}

// fieldFlags are the flags of the entry's fields, by flag name.
var fieldFlags = []struct{ flag, usage string }{
	{"name", "full name"}, {"short-name", "short name"}, {"kind", "central, regional, local or non_state"},
	{"parent", "EDRPOU code of the superior body"}, {"territory", "KATOTTG code (UA and 17 digits)"},
	{"topics", "topics, ;-separated (* = any topic)"}, {"accepts", "case kinds, ;-separated: appeal;info_request"},
	{"adapter", "wire format: json or sev1207"}, {"mode", "push or pull"}, {"endpoint", "the system's URL (push)"},
	{"tls-client", "the configured client certificate to present (mTLS)"},
	{"max-message-bytes", "largest delivery the system takes (0: the hub's default)"}, {"it-contact", "IT contact"},
	{"subsystem", "the document system of a subdivision or subsystem (A-Z a-z 0-9 . _ -)"},
	{"calendar", "the working calendar its terms count by (default UA)"},
	{"concurrency", "parallel sends to its system, 1 to 256 (0: the hub's default)"},
	{"request-timeout", "timeout of one send, 100ms to 10m, e.g. 45s (empty: the hub's default)"},
}

func addFieldFlags(cmd *cobra.Command) {
	for _, f := range fieldFlags {
		cmd.Flags().String(f.flag, "", f.usage)
	}
	cmd.Flags().String("token-env", "", "name of an environment variable holding the token the hub sends to the system")
}

// patchFromFlags returns the fields whose flags were given.
func patchFromFlags(flags *pflag.FlagSet) (schemas.AuthorityPatch, error) {
	var p schemas.AuthorityPatch
	str := func(name string) *string {
		if !flags.Changed(name) {
			return nil
		}
		v, _ := flags.GetString(name)
		return &v
	}
	list := func(name string) *[]string {
		v := str(name)
		if v == nil {
			return nil
		}
		l := []string{}
		for item := range strings.SplitSeq(*v, ";") {
			if item = strings.TrimSpace(item); item != "" {
				l = append(l, item)
			}
		}
		return &l
	}
	p.Name, p.ShortName, p.Kind, p.Parent, p.Territory = str("name"), str("short-name"), str("kind"), str("parent"), str("territory")
	p.Topics, p.Accepts = list("topics"), list("accepts")
	p.Adapter, p.Mode, p.Endpoint, p.TLSClient, p.ITContact = str("adapter"), str("mode"), str("endpoint"), str("tls-client"), str("it-contact")
	p.Subsystem, p.Calendar = str("subsystem"), str("calendar")
	if v := str("max-message-bytes"); v != nil {
		var n int64
		if _, err := fmt.Sscan(*v, &n); err != nil {
			return p, fmt.Errorf("--max-message-bytes: must be an integer")
		}
		p.MaxMessageBytes = &n
	}
	if v := str("concurrency"); v != nil {
		var n int
		if _, err := fmt.Sscan(*v, &n); err != nil {
			return p, fmt.Errorf("--concurrency: must be an integer")
		}
		p.Concurrency = &n
	}
	if v := str("request-timeout"); v != nil {
		d, err := schemas.ParseDuration(*v)
		if err != nil {
			return p, fmt.Errorf("--request-timeout: %w", err)
		}
		p.RequestTimeout = &d
	}
	if env := str("token-env"); env != nil {
		tok, ok := os.LookupEnv(*env)
		if !ok {
			return p, fmt.Errorf("--token-env: %s is not set", *env)
		}
		p.Token = &tok
	}
	return p, nil
}

// explain prints a refusal's field problems one per line and returns a short error.
func explain(w io.Writer, err error) error {
	if perr, ok := errors.AsType[*schemas.Error](err); ok && len(perr.Fields) > 0 {
		if ie, ok := errors.AsType[*registry.ImportError](err); ok {
			for _, p := range ie.Problems {
				fmt.Fprintln(w, p.String())
			}
			return fmt.Errorf("import refused: %d problem(s), nothing was applied", len(ie.Problems))
		}
		for _, f := range perr.Fields {
			fmt.Fprintf(w, "%s: %s\n", strings.TrimPrefix(f.Pointer, "/"), f.Message)
		}
		return fmt.Errorf("%s: %s", perr.Code, perr.Detail)
	}
	return err
}

func printAuthority(w io.Writer, a schemas.Authority) {
	fmt.Fprintf(w, "%s %s (%s, %s, version %d)\n", a.Code, a.Name, a.Kind, a.Status, a.Version)
}

// printScheduled says what was scheduled and how to withdraw it.
func printScheduled(w io.Writer, p schemas.PendingAuthorityChange) {
	fmt.Fprintf(w, "scheduled %s of %s for %s as change %d (withdraw it with: appealhub authority cancel %s %d)\n",
		p.Action, p.Code, p.EffectiveAt.UTC().Format(time.RFC3339), p.ID, p.Code, p.ID)
}

// changeFunc applies one registry change for `appealhub authority <verb> CODE`; scheduled is the
// change kept for later, when it was not applied at once.
type changeFunc func(cmd *cobra.Command, reg *registry.Service, code string, m schemas.AuthorityChangeMeta) (
	a schemas.Authority, scheduled *schemas.PendingAuthorityChange, err error)

// newAuthorityChangeCommand returns a command that makes one registry change to the authority CODE
// and prints the entry as it now stands (and what was scheduled, if the change was).
func newAuthorityChangeCommand(verb, past, short string, change changeFunc) *cobra.Command {
	cmd := &cobra.Command{
		Use:   verb + " CODE",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			m, err := changeMeta(cmd)
			if err != nil {
				return err
			}
			reg, done, err := openRegistry(cmd)
			if err != nil {
				return err
			}
			defer done()
			a, scheduled, err := change(cmd, reg, args[0], m)
			if err != nil {
				return explain(cmd.ErrOrStderr(), err)
			}
			if scheduled != nil {
				printScheduled(cmd.OutOrStdout(), *scheduled)
				return nil
			}
			fmt.Fprint(cmd.OutOrStdout(), past+" ")
			printAuthority(cmd.OutOrStdout(), a)
			return nil
		},
	}
	configFlags(cmd, "database.url", "database.schema")
	changeFlags(cmd)
	return cmd
}

// newAuthorityAddCommand returns `appealhub authority add CODE --name … --kind … --territory … --adapter …`.
func newAuthorityAddCommand() *cobra.Command {
	cmd := newAuthorityChangeCommand("add", "added", "Register a new authority in the registry",
		func(cmd *cobra.Command, reg *registry.Service, code string, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
			p, err := patchFromFlags(cmd.Flags())
			if err != nil {
				return schemas.Authority{}, nil, err
			}
			a, err := reg.Add(cmd.Context(), p.Apply(schemas.Authority{Code: code}), m)
			return a, nil, err
		})
	addFieldFlags(cmd)
	return cmd
}

// newAuthorityUpdateCommand returns `appealhub authority update CODE --field …`.
func newAuthorityUpdateCommand() *cobra.Command {
	cmd := newAuthorityChangeCommand("update", "updated", "Change some fields of an authority (the flags given; the others stay)",
		func(cmd *cobra.Command, reg *registry.Service, code string, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
			p, err := patchFromFlags(cmd.Flags())
			if err != nil {
				return schemas.Authority{}, nil, err
			}
			return reg.Update(cmd.Context(), code, p, m)
		})
	addFieldFlags(cmd)
	versionFlag(cmd)
	return cmd
}

// newAuthorityStatusCommand returns `appealhub authority suspend|resume|close CODE`.
func newAuthorityStatusCommand(action, short string) *cobra.Command {
	cmd := newAuthorityChangeCommand(action, action, short,
		func(cmd *cobra.Command, reg *registry.Service, code string, m schemas.AuthorityChangeMeta) (schemas.Authority, *schemas.PendingAuthorityChange, error) {
			switch action {
			case schemas.ActionSuspend:
				return reg.Suspend(cmd.Context(), code, m)
			case schemas.ActionResume:
				return reg.Resume(cmd.Context(), code, m)
			default:
				successor, _ := cmd.Flags().GetString("successor")
				return reg.Close(cmd.Context(), code, successor, m)
			}
		})
	if action == schemas.ActionClose {
		cmd.Flags().String("successor", "", "EDRPOU code of the authority that takes over")
	}
	versionFlag(cmd)
	return cmd
}

// newAuthorityCancelCommand returns `appealhub authority cancel CODE ID`.
func newAuthorityCancelCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "cancel CODE ID",
		Short: "Withdraw a scheduled change of an authority before it takes effect",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			id, err := strconv.ParseInt(args[1], 10, 64)
			if err != nil || id < 1 {
				return fmt.Errorf("ID must be the number of a scheduled change (see show)")
			}
			m, err := changeMeta(cmd)
			if err != nil {
				return err
			}
			reg, done, err := openRegistry(cmd)
			if err != nil {
				return err
			}
			defer done()
			a, err := reg.Cancel(cmd.Context(), args[0], id, m)
			if err != nil {
				return explain(cmd.ErrOrStderr(), err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "cancelled change %d of ", id)
			printAuthority(cmd.OutOrStdout(), a)
			return nil
		},
	}
	configFlags(cmd, "database.url", "database.schema")
	cmd.Flags().String("reason", "", "why the change is withdrawn (kept in the history)")
	versionFlag(cmd)
	return cmd
}

// newAuthorityShowCommand returns `appealhub authority show CODE`.
func newAuthorityShowCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "show CODE",
		Short: "Show an authority's entry as JSON: its version and its scheduled changes too (never its token)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, done, err := openRegistry(cmd)
			if err != nil {
				return err
			}
			defer done()
			a, err := reg.Get(cmd.Context(), args[0])
			if err != nil {
				return explain(cmd.ErrOrStderr(), err)
			}
			enc := json.NewEncoder(cmd.OutOrStdout())
			enc.SetIndent("", "  ")
			if err := enc.Encode(a); err != nil {
				return fmt.Errorf("write entry: %w", err)
			}
			return nil
		},
	}
	configFlags(cmd, "database.url", "database.schema")
	return cmd
}

// newAuthorityListCommand returns `appealhub authority list`.
func newAuthorityListCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the registry (code, status, kind, territory, name)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			get := func(name string) string { v, _ := cmd.Flags().GetString(name); return v }
			f := schemas.AuthorityFilter{Query: get("q"), Territory: get("territory"), Kind: get("kind"),
				Topic: get("topic"), Status: get("status"), Parent: get("parent")}
			reg, done, err := openRegistry(cmd)
			if err != nil {
				return err
			}
			defer done()
			page, err := reg.List(cmd.Context(), f)
			if err != nil {
				return explain(cmd.ErrOrStderr(), err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, a := range page.Items {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", a.Code, a.Status, cmp.Or(a.Kind, "-"), cmp.Or(a.Territory, "-"), a.Name)
			}
			if err := tw.Flush(); err != nil {
				return fmt.Errorf("write list: %w", err)
			}
			fmt.Fprintf(cmd.ErrOrStderr(), "%d authorities\n", page.Total)
			return nil
		},
	}
	configFlags(cmd, "database.url", "database.schema")
	for _, f := range []struct{ name, usage string }{{"q", "words of the name or short name"},
		{"territory", "KATOTTG code: it and everything under it"}, {"kind", "kind"}, {"topic", "topic"},
		{"status", "active, suspended or closed"}, {"parent", "code of the superior body"}} {
		cmd.Flags().String(f.name, "", f.usage)
	}
	return cmd
}

// newAuthorityImportCommand returns `appealhub authority import FILE`.
func newAuthorityImportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import FILE",
		Short: "Import authorities from a CSV or YAML file: every row or none",
		Long: `Imports a CSV file (the columns of authorities.csv: code,name,short,kind,parent,territory,topics,
accepts,adapter, and optionally mode,endpoint,tls_client,max_message_bytes,it_contact,status,successor,
subsystem,calendar,concurrency,request_timeout; lists are ;-separated, * is any topic) or a YAML file
(a list of entries, or one under "authorities"). Each row creates its authority or changes the fields
the file has; fields the file lacks keep their values. Every invalid row is reported with its line
number and nothing is applied. An import applies at once (--effective-at is only recorded).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			format, _ := cmd.Flags().GetString("format")
			if format == "" {
				var err error
				if format, err = registry.FormatOf(args[0]); err != nil {
					return err
				}
			}
			m, err := changeMeta(cmd)
			if err != nil {
				return err
			}
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("open import file: %w", err)
			}
			defer f.Close()
			reg, done, err := openRegistry(cmd)
			if err != nil {
				return err
			}
			defer done()
			n, err := reg.ImportFile(cmd.Context(), format, f, m)
			if err != nil {
				return explain(cmd.ErrOrStderr(), err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %d authorities\n", n)
			return nil
		},
	}
	configFlags(cmd, "database.url", "database.schema")
	cmd.Flags().String("format", "", "csv or yaml (default: from the file's extension)")
	changeFlags(cmd)
	return cmd
}

// newAuthorityExportCommand returns `appealhub authority export`.
func newAuthorityExportCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Export the whole registry as CSV or YAML (tokens are never exported)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			format, _ := cmd.Flags().GetString("format")
			if format != registry.FormatCSV && format != registry.FormatYAML {
				return fmt.Errorf("--format must be csv or yaml")
			}
			out, _ := cmd.Flags().GetString("output")
			reg, done, err := openRegistry(cmd)
			if err != nil {
				return err
			}
			defer done()
			if out == "" || out == "-" {
				return reg.Export(cmd.Context(), format, cmd.OutOrStdout())
			}
			return exportToFile(cmd.Context(), reg, format, out)
		},
	}
	configFlags(cmd, "database.url", "database.schema")
	cmd.Flags().String("format", registry.FormatCSV, "csv or yaml")
	cmd.Flags().StringP("output", "o", "", "file to write (default: standard output)")
	return cmd
}

// exportToFile writes the export to a temporary file and renames it over path once complete.
func exportToFile(ctx context.Context, reg *registry.Service, format, path string) error {
	tmp, err := os.CreateTemp(dirOf(path), ".export-*")
	if err != nil {
		return fmt.Errorf("create export file: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	if err := reg.Export(ctx, format, tmp); err != nil {
		_ = tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write export file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write export file: %w", err)
	}
	return nil
}

func dirOf(path string) string {
	if i := strings.LastIndexAny(path, `/\`); i >= 0 {
		return path[:i+1]
	}
	return "."
}
