package deadline

import (
	_ "embed"
	"sync"
	_ "time/tzdata" // Europe/Kyiv wherever the hub runs, whatever the system's zone files
)

//go:embed calendars/ua.yaml
var defaultCalendar []byte

var parsedDefault = sync.OnceValues(func() (*Calendar, error) { return Parse(defaultCalendar) })

// Default returns the calendar embedded in the binary (calendars/ua.yaml). It panics if the
// embedded file does not parse, which a test rules out.
func Default() *Calendar {
	c, err := parsedDefault()
	if err != nil {
		panic("deadline: the embedded calendar does not parse: " + err.Error())
	}
	return c
}

// DefaultSource returns the embedded calendar file.
func DefaultSource() []byte { return append([]byte(nil), defaultCalendar...) }
