package tracker

import (
	"errors"

	"appealhub/schemas"
)

func isNotFound(err error) bool { return errors.Is(err, schemas.ErrNotFound) }

func isConflict(err error) bool { return errors.Is(err, schemas.ErrConflict) }
