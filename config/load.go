package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/go-viper/mapstructure/v2"
	"github.com/spf13/pflag"
	"github.com/spf13/viper"
)

// EnvPrefix starts the name of every environment variable Load reads.
const EnvPrefix = "APPEALHUB"

// EnvVar returns the environment variable that overrides the configuration key at the yaml path key:
// EnvVar("delivery.backoff_max") == "APPEALHUB_DELIVERY_BACKOFF_MAX".
func EnvVar(key string) string {
	return EnvPrefix + "_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// FlagName returns the name of the command-line flag Load reads for the key at the yaml path key:
// FlagName("http.max_body_bytes") == "http-max-body-bytes".
func FlagName(key string) string {
	return strings.NewReplacer(".", "-", "_", "-").Replace(key)
}

// Load reads the configuration: the YAML file at path (none when path is ""), then the APPEALHUB_*
// environment variable of every key, then every flag of flags (which may be nil) that was set and is
// named [FlagName] of a key; a later layer wins. Unknown keys in the file are an error naming each of
// them. The result has [Config.WithDefaults] applied; it is not validated.
func Load(path string, flags *pflag.FlagSet) (Config, error) {
	v := viper.NewWithOptions(viper.WithDecodeHook(mapstructure.ComposeDecodeHookFunc(
		durationHook,
		jsonListHook,
	)))
	v.SetConfigType("yaml")
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("read config file: %w", err)
		}
		if err := v.ReadConfig(bytes.NewReader(data)); err != nil {
			return Config{}, fmt.Errorf("parse config file %s: %w", path, err)
		}
		if unknown := unknownKeys(v.AllSettings(), reflect.TypeFor[Config](), ""); len(unknown) > 0 {
			return Config{}, fmt.Errorf("config file %s: unknown keys: %s", path, strings.Join(unknown, ", "))
		}
	}

	for _, k := range keys() {
		if err := v.BindEnv(k.path, EnvVar(k.path)); err != nil {
			return Config{}, fmt.Errorf("bind env %s: %w", EnvVar(k.path), err)
		}
	}

	if flags != nil {
		byFlag := map[string]string{}
		for _, k := range keys() {
			byFlag[FlagName(k.path)] = k.path
		}
		flags.Visit(func(f *pflag.Flag) { // Visit walks only the flags that were set.
			if key, ok := byFlag[f.Name]; ok {
				v.Set(key, f.Value.String())
			}
		})
	}

	var c Config
	// UnmarshalExact also refuses unknown keys inside lists given as JSON in the environment.
	if err := v.UnmarshalExact(&c); err != nil {
		return Config{}, fmt.Errorf("decode config: %w", err)
	}
	return c.WithDefaults(), nil
}

// AddFlags registers on fs a flag for each of the scalar keys (yaml paths such as "http.addr"), named
// [FlagName] of the key, typed like its field and showing its default; [Load] applies those that are
// set. It returns an error for a key that is not a scalar configuration key.
func AddFlags(fs *pflag.FlagSet, keyPaths ...string) error {
	byPath := map[string]key{}
	for _, k := range keys() {
		byPath[k.path] = k
	}
	def := reflect.ValueOf(Default())
	for _, p := range keyPaths {
		k, ok := byPath[p]
		if !ok || k.typ.Kind() == reflect.Slice {
			return fmt.Errorf("add flag for %q: not a scalar configuration key", p)
		}
		name, usage := FlagName(p), fmt.Sprintf("overrides %s (env %s)", p, EnvVar(p))
		switch dv := def.FieldByIndex(k.index).Interface().(type) {
		case time.Duration:
			fs.Duration(name, dv, usage)
		case int:
			fs.Int(name, dv, usage)
		case int64:
			fs.Int64(name, dv, usage)
		case float64:
			fs.Float64(name, dv, usage)
		default:
			fs.String(name, fmt.Sprint(dv), usage)
		}
	}
	return nil
}

// key is one configuration key that the environment and flags can set.
type key struct {
	path  string // yaml path: "delivery.backoff_max", "clients"
	index []int  // field index in Config
	typ   reflect.Type
}

// keys lists every leaf of Config: the scalar fields of each section and the two lists.
func keys() []key {
	var out []key
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			p := prefix + tagName(f)
			idx := append(slices.Clone(index), i)
			if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeFor[time.Duration]() {
				walk(f.Type, p+".", idx)
				continue
			}
			out = append(out, key{path: p, index: idx, typ: f.Type})
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return out
}

func tagName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("mapstructure"), ",")
	return name
}

// unknownKeys returns the yaml paths in m that t has no field for, sorted.
func unknownKeys(m map[string]any, t reflect.Type, prefix string) []string {
	fields := map[string]reflect.Type{}
	for i := range t.NumField() {
		fields[tagName(t.Field(i))] = t.Field(i).Type
	}
	var out []string
	for k, val := range m {
		ft, ok := fields[strings.ToLower(k)]
		if !ok {
			out = append(out, prefix+k)
			continue
		}
		switch {
		case ft.Kind() == reflect.Struct:
			if sub, ok := val.(map[string]any); ok {
				out = append(out, unknownKeys(sub, ft, prefix+k+".")...)
			}
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			if list, ok := val.([]any); ok {
				for i, item := range list {
					if sub, ok := item.(map[string]any); ok {
						out = append(out, unknownKeys(sub, ft.Elem(), fmt.Sprintf("%s%s[%d].", prefix, k, i))...)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

var errDurationUnit = errors.New(`a duration needs a unit, e.g. "10s", "500ms", "2m"`)

// durationHook decodes "10s" into a time.Duration and refuses a bare non-zero number, which would
// otherwise silently mean nanoseconds.
func durationHook(from, to reflect.Type, data any) (any, error) {
	if to != reflect.TypeFor[time.Duration]() {
		return data, nil
	}
	switch from.Kind() {
	case reflect.String:
		s := strings.TrimSpace(data.(string))
		if s == "" || s == "0" {
			return time.Duration(0), nil
		}
		d, err := time.ParseDuration(s)
		if err != nil {
			return nil, fmt.Errorf("parse duration %q: %w", s, err)
		}
		return d, nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		if reflect.ValueOf(data).IsZero() {
			return time.Duration(0), nil
		}
		return nil, errDurationUnit
	}
	return data, nil
}

// jsonListHook decodes a list given as a JSON array string (APPEALHUB_CLIENTS='[{…}]',
// APPEALHUB_BROKER_FAILOVER_URLS='["amqp://…"]') into its generic form, which the decoder then maps
// onto the struct fields by their keys, or onto the strings.
func jsonListHook(from, to reflect.Type, data any) (any, error) {
	if from.Kind() != reflect.String || to.Kind() != reflect.Slice ||
		(to.Elem().Kind() != reflect.Struct && to.Elem().Kind() != reflect.String) {
		return data, nil
	}
	s := strings.TrimSpace(data.(string))
	if s == "" {
		return []any{}, nil
	}
	var list []any
	if err := json.Unmarshal([]byte(s), &list); err != nil {
		return nil, fmt.Errorf("parse JSON array: %w", err)
	}
	return list, nil
}
