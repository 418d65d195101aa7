// Package router is the hub's composition root below cmd: Hub builds the stages (intake, relay,
// delivery) from the configuration and their dependencies (store, broker, adapters, HTTP), starts
// them in order and stops them in two stages. The stages never call each other: each reads rows or
// messages, changes state in one transaction and writes outbox rows.
package router
