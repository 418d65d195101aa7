package httpapi

import (
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
)

// unknownKey returns the pointer of the first object key in body that names no field of v's type
// exactly. encoding/json matches keys to fields case-insensitively ("NAME" fills Name), so
// DisallowUnknownFields alone lets case variants through; this check refuses them. body must
// already have decoded into v without error.
func unknownKey(body []byte, v any) (string, bool) {
	return unknownKeyIn(json.RawMessage(body), reflect.TypeOf(v), "")
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

func unknownKeyIn(raw json.RawMessage, t reflect.Type, pointer string) (string, bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		return "", false // decodes itself
	}
	switch t.Kind() {
	case reflect.Struct:
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			return "", false // null or a type the decoder already accepted
		}
		fields := jsonFields(t)
		for k, v := range obj {
			ft, ok := fields[k]
			if !ok {
				return pointer + "/" + escapePointer(k), true
			}
			if p, bad := unknownKeyIn(v, ft, pointer+"/"+escapePointer(k)); bad {
				return p, true
			}
		}
	case reflect.Slice, reflect.Array:
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return "", false
		}
		for i, item := range items {
			if p, bad := unknownKeyIn(item, t.Elem(), pointer+"/"+strconv.Itoa(i)); bad {
				return p, true
			}
		}
	}
	return "", false
}

// jsonFields maps the exact JSON names of t's fields, embedded structs' included, to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if f.Anonymous && name == "" {
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, taken := out[k]; !taken {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = ft
	}
	return out
}

func escapePointer(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}
