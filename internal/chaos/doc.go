// Package chaos is the fault-injection harness of the hub (docs/reliability.md). It starts its own
// RabbitMQ node and PostgreSQL instance (own ports, data directories and node name in a temporary
// directory: never the shared services), puts a toxiproxy proxy between the hub and each of them,
// runs the hub as separate OS processes (so that kill -9 is real), serves sandbox document systems
// in-process, drives them with a load generator that retries like the portal (the same
// Idempotency-Key on a timeout or a 5xx), and joins the generator's log, the database, the queues
// and the sandbox ledgers into a report: lost, duplicated, unexpected and recovered appeals.
//
// # Scenarios
//
// A Scenario is a load, a fault schedule (a function run beside the load, which records every fault
// window in a FaultLog) and extra pass criteria over the Report. The global criteria of every
// scenario are checked by Report.Failures: lost = 0, duplicated = 0, unexpected = 0, drained within
// the drain limit after the last fault, no hub panic, the hubs' goroutines within 10 % of their
// baseline. Scenarios R0–R3 are in scenarios.go, R5 (faults in the authorities' systems)
// and R9 (operator error on the broker) in scenarios_ops.go; a new one is a new Scenario value.
// R6 and R7 (the broker's memory and disk alarms) are in scenarios_alarm.go, R8 (documents that
// crash the authority's system, then redriven from the console) in scenarios_poison.go.
// R4 (network toxics between the hubs and the broker) and R10 (forced reconnects with
// deliveries in flight) are in scenarios_net.go. N1 (a node of a three-node broker cluster, the
// leader of the busiest quorum queues, killed under load; Options.BrokerNodes, RabbitCluster) is
// in cluster_n1.go.
//
// # Lifecycle
//
// Every resource is tied to the testing.TB it was made for and released by its Cleanup, on failure
// too: hub processes are stopped (killed after a grace), the broker node and PostgreSQL are stopped
// and their directories removed. Every wait is bounded in time and every loop in count.
//
// The harness needs root (PostgreSQL's tools run as the postgres user, the private broker node runs
// with its own Erlang cookie), RabbitMQ under /usr/lib/rabbitmq and PostgreSQL 15 under
// /usr/lib/postgresql/15; scripts/services.sh installs both.
package chaos
