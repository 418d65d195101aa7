package broker

import (
	"context"
	"fmt"
	"strconv"

	"go.uber.org/zap"
)

// A Consumer spreads its subscriptions over shards: one connection each, kept up by a
// supervisor of its own, carrying at most Config.ChannelsPerConnection subscriptions (one channel
// each). RabbitMQ caps the channels of a connection (channel_max, negotiated at connection.tune:
// 2047 by default), so one connection cannot carry 10,000 authorities.
//
// Assignment is stable: a code keeps its shard for as long as it is subscribed or its runner is
// still draining on that shard, across reconnects of the shard's connection. A new code goes to
// the least loaded shard with room (the lowest index among equals), or to a new shard when all
// are full. A shard whose connection drops re-subscribes only its own codes; the other shards'
// connections and channels are untouched. Shards are never removed: one emptied by Unsubscribe
// keeps an idle connection and takes new codes first.

// shard is one consumer connection and the codes assigned to it.
type shard struct {
	index int
	sup   *supervisor
	// Guarded by Consumer.mu.
	sess     *consSession        // the live session, nil while disconnected
	codes    map[string]struct{} // assigned codes (the shard's load)
	sessions int                 // sessions started so far (for tests)
}

// newShard returns shard index with its supervisor wired to c (not started). Shard 0's
// connection keeps the historical name "<name>.consume"; others are "<name>.consume.<index>".
func (c *Consumer) newShard(index int) *shard {
	role := "consume"
	if index > 0 {
		role += "." + strconv.Itoa(index)
	}
	sh := &shard{index: index, codes: make(map[string]struct{})}
	sh.sup = newSupervisor(c.cfg, role, c.log)
	sh.sup.up = func(ctx context.Context, l *link) error { return c.up(ctx, sh, l) }
	sh.sup.down = func(l *link) { c.down(sh, l) }
	return sh
}

// assignLocked returns the shard of code, assigning one if code has none: the least loaded shard
// with room, else a new shard, started at once if the Consumer is started. c.mu is held and
// Stop has not begun.
func (c *Consumer) assignLocked(code string) *shard {
	if sh, ok := c.assign[code]; ok {
		return sh
	}
	var best *shard
	for _, sh := range c.shards {
		if len(sh.codes) < c.cfg.ChannelsPerConnection && (best == nil || len(sh.codes) < len(best.codes)) {
			best = sh
		}
	}
	if best == nil {
		best = c.newShard(len(c.shards))
		c.shards = append(c.shards, best)
		if c.started {
			// Cannot fail: the supervisor is new and Stop (which would stop it) has not begun.
			if err := best.sup.start(); err != nil {
				c.log.Error("start consumer connection failed", zap.Int("shard", best.index), zap.Error(err))
			}
		}
	}
	best.codes[code] = struct{}{}
	c.assign[code] = best
	return best
}

// releaseLocked frees code's place on sh. c.mu is held.
func (c *Consumer) releaseLocked(code string, sh *shard) {
	if c.assign[code] == sh {
		delete(c.assign, code)
		delete(sh.codes, code)
	}
}

// up checks the negotiated channel_max and starts a runner for every subscribed code of sh on
// the shard's new connection.
func (c *Consumer) up(_ context.Context, sh *shard, l *link) error {
	if limit := int(l.conn.Config.ChannelMax); limit < c.cfg.ChannelsPerConnection+channelMargin {
		return fmt.Errorf("check channel limit: broker negotiated channel_max %d, channels_per_connection %d needs at least %d",
			limit, c.cfg.ChannelsPerConnection, c.cfg.ChannelsPerConnection+channelMargin)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.draining {
		return errStopping
	}
	sess := &consSession{shard: sh, link: l, done: make(chan struct{}), runners: make(map[string]*runner)}
	sh.sess = sess
	sh.sessions++
	for code := range sh.codes {
		if _, ok := c.subs[code]; ok {
			c.startRunnerLocked(sess, code)
		} else {
			c.releaseLocked(code, sh)
		}
	}
	return nil
}

// down marks the session of a closed link of sh dead and releases the codes that were only kept
// for their draining runners. Its runners end on their own; handlers still running on it finish
// in the background (Stop waits for them).
func (c *Consumer) down(sh *shard, l *link) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if sh.sess == nil || sh.sess.link != l {
		return
	}
	close(sh.sess.done)
	sh.sess = nil
	for code := range sh.codes {
		if _, ok := c.subs[code]; !ok {
			c.releaseLocked(code, sh)
		}
	}
}

// Progress describes the subscriptions of a Consumer.
type Progress struct {
	// Subscribed is the number of subscriptions, Consuming those with a live basic.consume.
	Subscribed, Consuming int
	// Untried is the number of subscriptions that have neither consumed nor failed yet: their
	// first declaration and basic.consume are still to come.
	Untried int
}

// Progress returns how far the subscriptions are.
func (c *Consumer) Progress() Progress {
	c.mu.Lock()
	p := Progress{Subscribed: len(c.subs), Untried: len(c.untried)}
	c.mu.Unlock()
	p.Consuming = int(c.consuming.Load())
	return p
}

// Status returns the status of the Consumer's connections (the declaring one included) together,
// as aggregateStatus does.
func (c *Consumer) Status() Status {
	c.mu.Lock()
	sups := []*supervisor{c.decl.sup}
	for _, sh := range c.shards {
		sups = append(sups, sh.sup)
	}
	c.mu.Unlock()
	return aggregateStatus(sups)
}
