package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"appealhub/internal/broker"
	"appealhub/internal/store"
	"appealhub/router"
	"appealhub/schemas"
)

// newClientNotifyCommand returns `appealhub client notify CLIENT`.
func newClientNotifyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "notify CLIENT",
		Short: "Register how a portal client is told what becomes of its cases (webhook or its own AMQP queue)",
		Long: `Without flags, shows how the portal client CLIENT takes its notifications (docs/notifications.md).

--webhook URL registers a webhook: the hub POSTs each event of the client's cases to URL (https),
signed with HMAC-SHA256. The secret is printed when it is issued (a new webhook, a change from amqp,
or --rotate-secret), and never again: give it to the portal. Changing only the URL keeps it.

--amqp registers the client's own queue <prefix>hub.portal.CLIENT; with --broker-user it also
creates (or re-keys) the RabbitMQ user "<prefix>portal-CLIENT" that may read that queue and nothing
else, through the management API (as for authority broker-user: --admin-url or ` + adminURLEnv + `).

--dead lists the client's dead notifications (their webhook gave up); --redrive ID (or "all") sends
them again, with a fresh series of attempts.`,
		Args: cobra.ExactArgs(1),
		RunE: runClientNotify,
	}
	configFlags(cmd, "database.url", "database.schema", "broker.url", "broker.prefix",
		"notifications.secret_key_file", "notifications.allow_loopback_http")
	f := cmd.Flags()
	f.String("webhook", "", "register a webhook at this https URL")
	f.Bool("rotate-secret", false, "with --webhook: issue a new secret")
	f.Bool("amqp", false, "register the client's own AMQP queue")
	f.Bool("broker-user", false, "with --amqp: create the RabbitMQ user that reads the queue, and print its password")
	f.String("admin-url", "", "RabbitMQ management API base URL, credentials allowed (env "+adminURLEnv+"; default: broker.url's host, port 15672)")
	f.Bool("dead", false, "list the client's dead notifications")
	f.String("redrive", "", `send a dead notification again: its id, or "all"`)
	cmd.MarkFlagsMutuallyExclusive("webhook", "amqp", "dead", "redrive")
	return cmd
}

func runClientNotify(cmd *cobra.Command, args []string) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	client, f, out := args[0], cmd.Flags(), cmd.OutOrStdout()
	webhook, _ := f.GetString("webhook")
	rotate, _ := f.GetBool("rotate-secret")
	amqp, _ := f.GetBool("amqp")
	brokerUser, _ := f.GetBool("broker-user")
	dead, _ := f.GetBool("dead")
	redrive, _ := f.GetString("redrive")
	if rotate && webhook == "" {
		return errors.New("--rotate-secret goes with --webhook")
	}
	if brokerUser && !amqp {
		return errors.New("--broker-user goes with --amqp")
	}
	ctx := cmd.Context()
	st, err := store.Open(ctx, store.Config{URL: cfg.Database.URL, Schema: cfg.Database.Schema})
	if err != nil {
		return err
	}
	defer func() { _ = st.Close() }()
	reg, err := router.NewRegistrar(cfg, st, nil, nil)
	if err != nil {
		return err
	}

	switch {
	case webhook != "" || amqp:
		req := schemas.SubscriptionRequest{Mode: schemas.NotifyAMQP}
		if webhook != "" {
			req = schemas.SubscriptionRequest{Mode: schemas.NotifyWebhook, URL: webhook, RotateSecret: rotate}
		}
		s, err := reg.Register(ctx, client, req)
		if err != nil {
			return err
		}
		printSubscription(out, s)
		if brokerUser {
			return printPortalUser(cmd, cfg.Broker.URL, broker.Names{Prefix: cfg.Broker.Prefix}, client)
		}
		return nil
	case dead:
		list, err := st.DeadNotifications(ctx, client, 1000)
		if err != nil {
			return err
		}
		for _, n := range list {
			fmt.Fprintf(out, "%d\tevent %d\tcase %s\t%s\tattempts %d\t%s\n", n.ID, n.EventID, n.CaseID, n.State, n.Attempts, n.LastError)
		}
		fmt.Fprintf(out, "%d dead notification(s)\n", len(list))
		return nil
	case redrive != "":
		n, err := redriveNotifications(cmd, st, client, redrive)
		if err != nil {
			return err
		}
		// Wake the hubs' relays: they publish the redriven notifications at once.
		if err := st.NotifyNotifications(ctx); err != nil {
			fmt.Fprintf(cmd.ErrOrStderr(), "warning: the hubs were not woken (%v): they find the notifications within relay.poll_interval\n", err)
		}
		fmt.Fprintf(out, "redriven: %d\n", n)
		return nil
	default:
		rec, err := st.Subscription(ctx, client)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("portal client %s has no notification subscription", client)
		}
		if err != nil {
			return err
		}
		printSubscription(out, reg.View(rec))
		return nil
	}
}

func redriveNotifications(cmd *cobra.Command, st *store.Store, client, which string) (int64, error) {
	now := time.Now().UTC()
	if which == "all" {
		return st.RedriveDeadNotifications(cmd.Context(), client, now)
	}
	id, err := strconv.ParseInt(which, 10, 64)
	if err != nil || id <= 0 {
		return 0, fmt.Errorf(`--redrive: want a notification id or "all", got %q`, which)
	}
	if _, err := st.RedriveNotification(cmd.Context(), client, id, now); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return 0, fmt.Errorf("notification %d of %s is not dead", id, client)
		}
		return 0, err
	}
	return 1, nil
}

func printSubscription(out io.Writer, s schemas.Subscription) {
	fmt.Fprintf(out, "client: %s\nmode: %s\n", s.Client, s.Mode)
	if s.URL != "" {
		fmt.Fprintf(out, "url: %s\n", s.URL)
	}
	if s.Queue != "" {
		fmt.Fprintf(out, "exchange: %s\nqueue: %s\n", s.Exchange, s.Queue)
	}
	if s.Secret != "" {
		fmt.Fprintf(out, "secret: %s\n", s.Secret)
	}
}

// printPortalUser creates the broker user of the client's queue and prints its credentials.
func printPortalUser(cmd *cobra.Command, amqpURL string, names broker.Names, client string) error {
	adminURL, _ := cmd.Flags().GetString("admin-url")
	admin, err := broker.AdminConfig{URL: cmp.Or(adminURL, os.Getenv(adminURLEnv))}.WithDefaults(amqpURL)
	if err != nil {
		return err
	}
	password := NewToken()
	username, err := broker.PortalUser(cmd.Context(), admin, names, client, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "username: %s\npassword: %s\nvhost: %s\n", username, password, cmp.Or(admin.VHost, broker.DefaultVHost))
	return nil
}
