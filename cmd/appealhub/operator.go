package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"appealhub/internal/console"
	"appealhub/internal/store"
)

// operatorLogin is what a console login may look like (the operators table checks it too).
var operatorLogin = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{1,62}$`)

// newOperatorCommand returns `appealhub operator`: the accounts of the operators' console.
func newOperatorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "operator",
		Short: "Manage the accounts of the operators' console (docs/console.md)",
	}
	add := &cobra.Command{
		Use:   "add LOGIN --role viewer|operator|admin",
		Short: "Create a console account; the password is read from standard input or asked for",
		Long: `Creates the console account LOGIN (2 to 63 of a-z 0-9 . _ -, starting with a letter or digit)
with a role: viewer (reads every page, personal data masked), operator (also redrives and discards
dead deliveries, sees personal data) or admin (also edits the registry).

The password (at least 12 characters) is the first line of standard input, or, on a terminal, is
asked for twice without echo. Only its bcrypt hash is stored. The account's creation is an event in
the audit chain.`,
		Args: cobra.ExactArgs(1),
		RunE: runOperatorAdd,
	}
	configFlags(add, "database.url", "database.schema")
	add.Flags().String("role", "", "viewer, operator or admin (required)")
	_ = add.MarkFlagRequired("role")
	passwd := &cobra.Command{
		Use:   "passwd LOGIN",
		Short: "Set a console account's password (read as for add); its sessions end",
		Args:  cobra.ExactArgs(1),
		RunE:  runOperatorPasswd,
	}
	configFlags(passwd, "database.url", "database.schema")
	cmd.AddCommand(add, passwd)
	return cmd
}

func runOperatorAdd(cmd *cobra.Command, args []string) error {
	login := args[0]
	role, _ := cmd.Flags().GetString("role")
	if !operatorLogin.MatchString(login) {
		return fmt.Errorf("login %q: use 2 to 63 of a-z 0-9 . _ -, starting with a letter or digit", login)
	}
	if !console.Role(role).Valid() {
		return fmt.Errorf("--role %q: must be viewer, operator or admin", role)
	}
	hash, err := readPasswordHash(cmd)
	if err != nil {
		return err
	}
	return withOperatorStore(cmd, func(st *store.Store) error {
		err := st.AddOperator(cmd.Context(), store.Operator{Login: login, Role: role, PasswordHash: hash}, "cli", time.Now().UTC())
		if errors.Is(err, store.ErrDuplicate) {
			return fmt.Errorf("operator %s exists already (set its password with `appealhub operator passwd %s`)", login, login)
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "operator %s added (%s)\n", login, role)
		return nil
	})
}

func runOperatorPasswd(cmd *cobra.Command, args []string) error {
	hash, err := readPasswordHash(cmd)
	if err != nil {
		return err
	}
	return withOperatorStore(cmd, func(st *store.Store) error {
		err := st.SetOperatorPassword(cmd.Context(), args[0], hash, "cli", time.Now().UTC())
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("no operator %s", args[0])
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(cmd.OutOrStdout(), "password of operator %s set; its sessions ended\n", args[0])
		return nil
	})
}

func withOperatorStore(cmd *cobra.Command, fn func(*store.Store) error) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	st, err := store.Open(cmd.Context(), store.Config{URL: cfg.Database.URL, Schema: cfg.Database.Schema})
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	if err := st.CheckSchema(cmd.Context()); err != nil {
		return err
	}
	return fn(st)
}

// readPasswordHash reads the password (the first line of standard input, or asked for twice on a
// terminal) and returns its hash.
func readPasswordHash(cmd *cobra.Command) (string, error) {
	in := cmd.InOrStdin()
	var password string
	if f, ok := in.(*os.File); ok && isTerminal(f) {
		first, err := promptPassword(f, cmd.ErrOrStderr(), "Password: ")
		if err != nil {
			return "", err
		}
		again, err := promptPassword(f, cmd.ErrOrStderr(), "Again: ")
		if err != nil {
			return "", err
		}
		if first != again {
			return "", errors.New("the passwords differ")
		}
		password = first
	} else {
		line, err := bufio.NewReader(in).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", fmt.Errorf("read the password: %w", err)
		}
		password = strings.TrimRight(line, "\r\n")
	}
	hash, err := console.HashPassword(password)
	if err != nil {
		return "", err
	}
	return hash, nil
}

// promptPassword asks for a password on a terminal, without echo where the system allows.
func promptPassword(f *os.File, out io.Writer, prompt string) (string, error) {
	fmt.Fprint(out, prompt)
	restore := noEcho(f)
	line, err := bufio.NewReader(f).ReadString('\n')
	restore()
	fmt.Fprintln(out)
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password: %w", err)
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// isTerminal reports whether f is a character device (a terminal).
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
