package router

import (
	"time"

	"appealhub/schemas"
)

// DueAsOf is the portal notifier's due date of a source's event.
func DueAsOf(src schemas.NotificationSource) (*time.Time, error) {
	var cs calendars
	return cs.dueAsOf(src)
}
