package main

import (
	"cmp"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"appealhub/internal/broker"
)

// adminURLEnv is read when --admin-url is not given (it may carry credentials, which a command
// line would show to every user of the machine).
const adminURLEnv = "APPEALHUB_BROKER_ADMIN_URL"

// newAuthorityCommand returns `appealhub authority`, the operator's commands about authorities.
func newAuthorityCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "authority", Short: "Manage authorities' access to the hub"}
	cmd.AddCommand(append([]*cobra.Command{newAuthorityBrokerUserCommand()}, registryCommands()...)...)
	return cmd
}

// newAuthorityBrokerUserCommand returns `appealhub authority broker-user CODE`.
func newAuthorityBrokerUserCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "broker-user CODE",
		Short: "Create (or re-key) the RabbitMQ user with which an authority consumes its own queue directly",
		Long: `Creates or updates, through the RabbitMQ management HTTP API, the user "<prefix>authority-CODE" and
prints its user name, password, queue and vhost. The user may consume (and ack, nack, reject) the
messages of its queue <prefix>hub.authority.CODE and do nothing else: no other queue, no declaring,
binding or deleting anything (not even its own queue: the hub declares it), no publishing, no
management UI. Running it again sets a new password and strips anything added to the user by hand.
With --delete it deletes the user instead.

The management API defaults to the host of broker.url with port 15672 (15671 for amqps), as the
user of broker.url, who needs the "administrator" tag. Give another one with --admin-url or ` + adminURLEnv + `
(credentials may be part of it: https://admin:PASSWORD@mq.example:15671).`,
		Args: cobra.ExactArgs(1),
		RunE: runAuthorityBrokerUser,
	}
	configFlags(cmd, "broker.url", "broker.prefix")
	cmd.Flags().String("admin-url", "", "RabbitMQ management API base URL, credentials allowed (env "+adminURLEnv+"; default: broker.url's host, port 15672)")
	cmd.Flags().String("password", "", "the user's password (shown in the process list; by default a random one is generated)")
	cmd.Flags().Bool("delete", false, "delete the user instead (it can no longer connect)")
	return cmd
}

func runAuthorityBrokerUser(cmd *cobra.Command, args []string) error {
	cfg, err := loadConfig(cmd)
	if err != nil {
		return err
	}
	adminURL, _ := cmd.Flags().GetString("admin-url")
	password, _ := cmd.Flags().GetString("password")
	del, _ := cmd.Flags().GetBool("delete")
	admin, err := broker.AdminConfig{URL: cmp.Or(adminURL, os.Getenv(adminURLEnv))}.WithDefaults(cfg.Broker.URL)
	if err != nil {
		return err
	}
	names := broker.Names{Prefix: cfg.Broker.Prefix}
	code := args[0]
	out := cmd.OutOrStdout()

	if del {
		username := names.AuthorityUsername(code)
		if err := broker.DeleteUser(cmd.Context(), admin, username); err != nil {
			return err
		}
		fmt.Fprintf(out, "deleted user %s\n", username)
		return nil
	}
	if password == "" {
		password = NewToken()
	}
	username, err := broker.AuthorityUser(cmd.Context(), admin, names, code, password)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "username: %s\npassword: %s\nqueue: %s\nvhost: %s\n",
		username, password, names.AuthorityQueue(code), cmp.Or(admin.VHost, broker.DefaultVHost))
	return nil
}
