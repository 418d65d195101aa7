package intake

import (
	"time"
	_ "time/tzdata" // Europe/Kyiv must resolve on machines without a zoneinfo database
)

func mustLoadKyiv() *time.Location {
	loc, err := time.LoadLocation("Europe/Kyiv")
	if err != nil {
		panic(err)
	}
	return loc
}
