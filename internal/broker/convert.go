package broker

import (
	amqp "github.com/rabbitmq/amqp091-go"
)

// toTable converts application headers to an AMQP table, converting nested maps and slices and
// widening int and uint to int64 (a consumer sees them as int64). Values of types AMQP cannot
// carry are left as they are and make the publish of that message fail.
func toTable(m map[string]any) amqp.Table {
	if m == nil {
		return nil
	}
	t := make(amqp.Table, len(m))
	for k, v := range m {
		t[k] = toAMQPValue(v)
	}
	return t
}

func toAMQPValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		return toTable(x)
	case amqp.Table:
		return toTable(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = toAMQPValue(e)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = e
		}
		return out
	case int: // amqp091-go would write an int as 32 bits and truncate it
		return int64(x)
	case uint:
		return int64(x) //nolint:gosec // header values above MaxInt64 are not used
	case uint64:
		return int64(x) //nolint:gosec // header values above MaxInt64 are not used
	}
	return v
}

// fromTable converts an AMQP table to plain Go maps and slices, so callers never see AMQP types
// (apart from amqp.Decimal, which nothing here produces).
func fromTable(t amqp.Table) map[string]any {
	if t == nil {
		return nil
	}
	m := make(map[string]any, len(t))
	for k, v := range t {
		m[k] = fromAMQPValue(v)
	}
	return m
}

func fromAMQPValue(v any) any {
	switch x := v.(type) {
	case amqp.Table:
		return fromTable(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = fromAMQPValue(e)
		}
		return out
	}
	return v
}
