package schemas

// CheckJSON refuses what encoding/json would otherwise accept silently, with the codes of
// DecodeSubmission: invalid_utf8 (invalid UTF-8 or an escaped lone surrogate, which encoding/json
// would replace with U+FFFD), nul_character (raw or escaped), malformed_json (syntax, trailing
// data, nesting deeper than MaxJSONDepth), duplicate_key (at any depth; encoding/json keeps the
// last) and schema_violation (numbers no field could hold). Bodies decoded into Go structs with
// encoding/json pass here first. It is safe for concurrent use.
func CheckJSON(body []byte) error {
	if err := checkEncoding(body); err != nil {
		return err
	}
	_, err := scanTokens(body)
	return err
}
