package console

import (
	"errors"
	"fmt"
	"net/http"
	"unicode/utf8"

	"go.uber.org/zap"
)

// checkForm parses a POSTed form (its body already bounded by http.MaxBytesReader) and answers
// itself when the form is not one the console could store: 413 when it is too large, 400 when it
// does not parse or a field or value is not valid UTF-8 or holds a NUL or another control character
// than tab and line breaks (PostgreSQL text refuses NUL; the others have no place in an operator's
// input), or is longer than maxFieldBytes. It reports whether the handler may go on.
// denied records that the session's operator was refused action on object (their role does not
// allow it): an event in the audit chain, or a log line if that cannot be written.
func (c *Console) denied(r *http.Request, s *session, action, object string) {
	if len(object) > 1000 {
		object = object[:1000]
	}
	c.logger.Warn("console action refused for the operator's role", zap.String("operator", s.account.Login),
		zap.String("role", string(s.account.Role)), zap.String("action", action))
	if c.deps.Denials == nil {
		return
	}
	if err := c.deps.Denials.RecordDenied(r.Context(), s.account.Login, action, object, c.cfg.NowFunc().UTC()); err != nil {
		c.logger.Error("a refused console action could not be recorded", zap.String("operator", s.account.Login), zap.Error(err))
	}
}

// maxFieldBytes bounds one form value: a reason, a name, an endpoint.
const maxFieldBytes = 8 << 10

func (c *Console) checkForm(w http.ResponseWriter, r *http.Request, s *session) bool {
	if err := r.ParseForm(); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			c.renderError(w, r, s, http.StatusRequestEntityTooLarge, "The form is too large.")
			return false
		}
		c.renderError(w, r, s, http.StatusBadRequest, "The form could not be read.")
		return false
	}
	for k, vs := range r.PostForm {
		if !cleanText(k) {
			c.renderError(w, r, s, http.StatusBadRequest, "The form has a field name the console cannot take.")
			return false
		}
		for _, v := range vs {
			if len(v) > maxFieldBytes {
				c.renderError(w, r, s, http.StatusBadRequest, fmt.Sprintf("A field is longer than %d bytes.", maxFieldBytes))
				return false
			}
			if !cleanText(v) {
				c.renderError(w, r, s, http.StatusBadRequest,
					"A field holds characters the console cannot store (invalid UTF-8 or control characters).")
				return false
			}
		}
	}
	return true
}

// cleanText reports whether s is valid UTF-8 without control characters other than tab, CR and LF.
func cleanText(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return false
		}
	}
	return true
}
