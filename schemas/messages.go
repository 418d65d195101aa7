package schemas

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// patternMessages says in words what each pattern of submission.schema.json asks for. A test
// checks that every pattern of the schema is here.
var patternMessages = map[string]string{
	`^[0-9]{8}$`:                "must be an 8-digit authority code (EDRPOU)",
	`^UA[0-9]{17}$`:             "must be a KATOTTG code: UA followed by 17 digits",
	`\S`:                        "must contain a non-blank character",
	`^[a-z][a-z0-9_]{0,63}$`:    "must be a topic code: a lower-case letter, then up to 63 lower-case letters, digits or underscores",
	`^[A-Za-z0-9-]{1,64}$`:      "must be 1 to 64 letters, digits or hyphens",
	`^[\x21-\x7e]{1,200}$`:      "must be 1 to 200 printable ASCII characters without spaces",
	`^\+?[0-9][0-9 ()-]{2,31}$`: "must be a phone number: an optional +, then 3 to 32 digits, spaces, parentheses or hyphens",
	`^[^/\\\x00-\x1f\x7f]+$`:    "must be a bare file name, without path separators or control characters",
	`^[0-9a-fA-F]{64}$`:         "must be 64 hexadecimal digits",
	`^[A-Za-z0-9._-]{1,100}$`:   "must be 1 to 100 letters, digits, dots, underscores or hyphens",
	`^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$`: "must be a media type type/subtype, without parameters",
}

// conditionMessages adds the condition to problems raised inside the schema's if/then/else
// branches, keyed by the end of the schema location.
var conditionMessages = map[string]string{
	"#/allOf/0/then":                        "when case_kind is appeal",
	"#/allOf/1/then/properties/appeal_kind": "when case_kind is info_request",
	"#/allOf/2/then":                        "when urgent is true",
}

var formatMessages = map[string]string{
	"date-time": "must be an RFC 3339 date-time such as 2026-01-02T15:04:05Z",
	"email":     "must be an e-mail address",
}

// flattenValidationError turns the jsonschema error tree into one problem per failing leaf, with
// messages that never repeat the submitted value (it may be personal data).
func flattenValidationError(root *jsonschema.ValidationError, schemaDoc any) []FieldProblem {
	var out []FieldProblem
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, c := range e.Causes {
				walk(c)
			}
			return
		}
		out = append(out, leafProblems(e, schemaDoc)...)
	}
	walk(root)
	return out
}

func leafProblems(e *jsonschema.ValidationError, schemaDoc any) []FieldProblem {
	ptr := joinPointer(e.InstanceLocation)
	cond := ""
	for suffix, c := range conditionMessages {
		if strings.HasSuffix(e.SchemaURL, suffix) {
			cond = " " + c
		}
	}
	one := func(msg string) []FieldProblem { return []FieldProblem{{Pointer: ptr, Message: msg + cond}} }
	switch k := e.ErrorKind.(type) {
	case *kind.Required:
		out := make([]FieldProblem, 0, len(k.Missing))
		for _, name := range k.Missing {
			out = append(out, FieldProblem{Pointer: ptr + "/" + escapePointerToken(name), Message: "is required" + cond})
		}
		return out
	case *kind.AdditionalProperties:
		known := knownProperties(schemaDoc, e.SchemaURL)
		out := make([]FieldProblem, 0, len(k.Properties))
		for _, name := range k.Properties {
			msg := "is not a known field"
			for _, kn := range known {
				if strings.EqualFold(kn, name) {
					msg = fmt.Sprintf("is not a known field; did you mean %q? (names are case-sensitive)", kn)
					break
				}
			}
			out = append(out, FieldProblem{Pointer: ptr + "/" + escapePointerToken(name), Message: msg})
		}
		return out
	case *kind.Type:
		return one(fmt.Sprintf("must be %s, not %s", strings.Join(k.Want, " or "), k.Got))
	case *kind.Enum:
		want := make([]string, 0, len(k.Want))
		for _, w := range k.Want {
			b, _ := json.Marshal(w)
			want = append(want, string(b))
		}
		return one("must be one of " + strings.Join(want, ", "))
	case *kind.Const:
		b, _ := json.Marshal(k.Want)
		return one("must be " + string(b))
	case *kind.Format:
		if m, ok := formatMessages[k.Want]; ok {
			return one(m)
		}
		return one("must be a valid " + k.Want)
	case *kind.Pattern:
		if m, ok := patternMessages[k.Want]; ok {
			return one(m)
		}
		return one("must match the pattern " + k.Want)
	case *kind.MinLength:
		if k.Want == 1 {
			return one("must not be empty")
		}
		return one(fmt.Sprintf("must be at least %d characters long", k.Want))
	case *kind.MaxLength:
		return one(fmt.Sprintf("must be at most %d characters long", k.Want))
	case *kind.MinItems:
		return one(fmt.Sprintf("must have at least %d items", k.Want))
	case *kind.MaxItems:
		return one(fmt.Sprintf("must have at most %d items", k.Want))
	case *kind.UniqueItems:
		return one(fmt.Sprintf("must not repeat an item (items %d and %d are equal)", k.Duplicates[0], k.Duplicates[1]))
	case *kind.Minimum:
		return one("must be at least " + k.Want.RatString())
	case *kind.Maximum:
		return one("must be at most " + k.Want.RatString())
	case *kind.ContentEncoding:
		return one("must be " + k.Want + " (standard alphabet, padded, no line breaks)")
	case *kind.FalseSchema:
		return one("is not allowed")
	case *kind.Not:
		return one("has a value that is not allowed")
	default:
		return one("fails the " + strings.Join(e.ErrorKind.KeywordPath(), "/") + " rule")
	}
}

// knownProperties returns the property names the schema at schemaURL declares (its fragment is
// resolved in the schema document).
func knownProperties(schemaDoc any, schemaURL string) []string {
	_, frag, _ := strings.Cut(schemaURL, "#")
	node := schemaDoc
	for tok := range strings.SplitSeq(strings.TrimPrefix(frag, "/"), "/") {
		if tok == "" {
			continue
		}
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		obj, ok := node.(map[string]any)
		if !ok {
			return nil
		}
		node = obj[tok]
	}
	obj, _ := node.(map[string]any)
	props, _ := obj["properties"].(map[string]any)
	names := make([]string, 0, len(props))
	for name := range props {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// sortProblems orders problems by pointer and message and drops repeats.
func sortProblems(p []FieldProblem) []FieldProblem {
	slices.SortFunc(p, func(a, b FieldProblem) int {
		return cmp.Or(cmp.Compare(a.Pointer, b.Pointer), cmp.Compare(a.Message, b.Message))
	})
	return slices.Compact(p)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
