package jsondoc_test

import (
	"encoding/json"
	"fmt"
	"time"

	"appealhub/adapters"
	"appealhub/adapters/jsondoc"
)

func ExampleAdapter_Encode() {
	a := jsondoc.New()
	body, err := a.Encode(adapters.Document{
		DeliveryID:     "0190f5a0-0000-7000-8000-0000000000aa",
		AppealID:       "0190f5a0-0000-7000-8000-000000000001",
		TrackingNumber: "ZV-2026-00000001",
		Authority:      "66784279",
		Attempt:        1,
		ReceivedAt:     time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Raw:            json.RawMessage(`{"case_kind":"appeal","subject":"Roads","text":"Fix the road."}`),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(a.MediaType())
	fmt.Println(string(body))

	env, err := jsondoc.DecodeDocument(body)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(env.DeliveryID, env.Attempt)
	// Output:
	// application/json
	// {"format":"appealhub.delivery.v1","delivery_id":"0190f5a0-0000-7000-8000-0000000000aa","appeal_id":"0190f5a0-0000-7000-8000-000000000001","tracking_number":"ZV-2026-00000001","authority":"66784279","attempt":1,"received_at":"2026-03-01T10:00:00Z","submission":{"case_kind":"appeal","subject":"Roads","text":"Fix the road."}}
	// 0190f5a0-0000-7000-8000-0000000000aa 1
}

func ExampleAdapter_DecodeReply() {
	a := jsondoc.New()
	for _, body := range []string{
		`{"status":"delivered","registration_number":"01-12/345","registered_at":"2026-03-01T10:05:00Z"}`,
		`{"status":"accepted"}`,
		``,
		`{"status":"lost"}`,
	} {
		rep, err := a.DecodeReply("application/json", []byte(body))
		if err != nil {
			fmt.Println("error:", err)
			continue
		}
		fmt.Printf("delivered=%t registration=%q\n", rep.Delivered, rep.RegistrationNumber)
	}
	// Output:
	// delivered=true registration="01-12/345"
	// delivered=false registration=""
	// delivered=false registration=""
	// error: decode json reply: invalid reply: unknown status "lost"
}
