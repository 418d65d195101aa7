package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// RabbitCluster is a private RabbitMQ cluster on this host: Size nodes (each a RabbitNode with its
// own node name, AMQP and distribution ports and data directory) sharing one Erlang cookie, joined
// with rabbitmqctl join_cluster to the first. Methods are not safe for concurrent use.
type RabbitCluster struct {
	Nodes []*RabbitNode
}

// NewRabbitCluster prepares (without starting) size nodes in dir/node1, dir/node2, ….
func NewRabbitCluster(dir string, size int) (*RabbitCluster, error) {
	if size < 1 {
		return nil, fmt.Errorf("rabbit cluster: size %d", size)
	}
	cookie := newCookie()
	c := &RabbitCluster{}
	for i := range size {
		n, err := newRabbitNode(filepath.Join(dir, fmt.Sprintf("node%d", i+1)), cookie)
		if err != nil {
			return nil, err
		}
		c.Nodes = append(c.Nodes, n)
	}
	return c, nil
}

// Start boots every node, one after the other (three Erlang VMs booting at once on a busy
// machine can overrun each one's start timeout), joins the others to the first (stop_app,
// join_cluster, start_app) and checks that the cluster runs every node.
func (c *RabbitCluster) Start(ctx context.Context) error {
	for _, n := range c.Nodes {
		if err := n.Start(ctx); err != nil {
			return fmt.Errorf("start rabbit cluster: %w", err)
		}
	}
	first := c.Nodes[0]
	for _, n := range c.Nodes[1:] {
		jctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		for _, args := range [][]string{{"stop_app"}, {"join_cluster", first.Name}, {"start_app"},
			{"await_startup", "--timeout", "110"}} {
			if _, err := n.Ctl(jctx, "rabbitmqctl", append([]string{"-q"}, args...)...); err != nil {
				cancel()
				return fmt.Errorf("join %s to %s: %w", n.Name, first.Name, err)
			}
		}
		cancel()
	}
	running, err := c.Running(ctx)
	if err != nil {
		return err
	}
	if len(running) != len(c.Nodes) {
		return fmt.Errorf("rabbit cluster: %d of %d nodes running: %v", len(running), len(c.Nodes), running)
	}
	return nil
}

// Stop stops every node that runs (see RabbitNode.Stop), the last joined first.
func (c *RabbitCluster) Stop(ctx context.Context) error {
	var errs []error
	for i := len(c.Nodes) - 1; i >= 0; i-- {
		if err := c.Nodes[i].Stop(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// URLs are the nodes' AMQP URLs, in node order.
func (c *RabbitCluster) URLs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.URL()
	}
	return out
}

// Node returns the node named name, or nil.
func (c *RabbitCluster) Node(name string) *RabbitNode {
	for _, n := range c.Nodes {
		if n.Name == name {
			return n
		}
	}
	return nil
}

// Live returns a node whose process runs (the first such), to run the CLI tools against; nil if
// none runs.
func (c *RabbitCluster) Live() *RabbitNode {
	for _, n := range c.Nodes {
		if _, ok := n.Pid(); ok {
			return n
		}
	}
	return nil
}

// Running returns the names of the nodes the cluster reports running, asked of a live node.
func (c *RabbitCluster) Running(ctx context.Context) ([]string, error) {
	n := c.Live()
	if n == nil {
		return nil, errors.New("rabbit cluster: no node runs")
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := n.Ctl(ctx, "rabbitmqctl", "-q", "cluster_status", "--formatter", "json")
	if err != nil {
		return nil, err
	}
	var st struct {
		Running []string `json:"running_nodes"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &st); err != nil {
		return nil, fmt.Errorf("cluster status: %w: %s", err, out)
	}
	return st.Running, nil
}

// QuorumQueue is one quorum queue's replicas as the cluster reports them.
type QuorumQueue struct {
	Name     string   `json:"name"`
	Leader   string   `json:"leader"`
	Members  []string `json:"members"`
	Online   []string `json:"online"`
	Messages int      `json:"messages"`
}

// QuorumQueues lists the cluster's quorum queues with their leader, members, online members and
// messages, asked of a live node.
func (c *RabbitCluster) QuorumQueues(ctx context.Context) ([]QuorumQueue, error) {
	n := c.Live()
	if n == nil {
		return nil, errors.New("rabbit cluster: no node runs")
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	out, err := n.Ctl(ctx, "rabbitmqctl", "-q", "list_queues", "name", "type", "leader", "members", "online",
		"messages", "--formatter", "json")
	if err != nil {
		return nil, err
	}
	var all []struct {
		QuorumQueue
		Type string `json:"type"`
	}
	if err := json.Unmarshal(bytes.TrimSpace(out), &all); err != nil {
		return nil, fmt.Errorf("list quorum queues: %w: %s", err, out)
	}
	var qs []QuorumQueue
	for _, q := range all {
		if q.Type == "quorum" {
			qs = append(qs, q.QuorumQueue)
		}
	}
	return qs, nil
}

// startCluster starts the broker cluster of an Env (Options.BrokerNodes nodes) in e.Dir/rabbit;
// e.Rabbit is its first node.
func (e *Env) startCluster(t testing.TB, ctx context.Context, size int) {
	t.Helper()
	began := time.Now()
	c, err := NewRabbitCluster(filepath.Join(e.Dir, "rabbit"), size)
	must(t, err)
	e.Cluster, e.Rabbit = c, c.Nodes[0]
	must(t, c.Start(ctx))
	names := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		names[i] = n.Name + " on " + n.Addr()
	}
	t.Logf("chaos: broker cluster of %d nodes (%s) started in %s", size, strings.Join(names, ", "),
		time.Since(began).Round(time.Millisecond))
}
