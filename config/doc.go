// Package config is the hub's configuration: one tree of plain structs with documented defaults,
// loaded from an optional YAML file, then APPEALHUB_* environment variables, then command-line flags.
//
// # Layers
//
// [Load] reads the YAML file (when a path is given), applies every APPEALHUB_<PATH> environment
// variable (the yaml path upper-cased, with "." and nesting turned into "_", for example
// APPEALHUB_DELIVERY_BACKOFF_MAX for delivery.backoff_max), then every flag that was set on the
// command line whose name is the key with "." and "_" turned into "-" (--http-addr, --log-level). The
// lists clients and authorities can be given in the environment as a JSON array
// (APPEALHUB_CLIENTS='[{"id":"portal","kind":"portal","token_sha256":"…"}]'). Unknown keys in the file
// are an error naming each of them. The result has [Config.WithDefaults] applied but is not validated:
// call [Config.Validate], which reports every problem at once with its yaml path.
//
// # Defaults
//
// Every default is an exported Default… constant, and every field's comment says "Defaults to …". A zero
// field means "use the default" ([Config.WithDefaults] fills it with cmp.Or), so a zero value cannot be
// configured where the default is not zero.
//
// # Secrets
//
// Passwords inside database and broker URLs and the tokens the hub sends to authorities are secrets:
// [Config.Redacted] replaces them with "REDACTED" and is what anything that prints a configuration must
// use. Clients are configured with the SHA-256 of their bearer token, never the token itself.
//
// Only this package imports viper; every component receives its own typed section (config.Relay,
// config.Delivery, …).
package config
