package adapters_test

import (
	"fmt"
	"strings"
	"time"

	"appealhub/adapters"
)

// plainText is a whole wire format in a few lines: a document system that takes the subject and
// text of an appeal as plain text and answers "OK" as its receipt.
type plainText struct{}

func (plainText) Name() string      { return "plaintext" }
func (plainText) MediaType() string { return "text/plain; charset=utf-8" }

func (plainText) Encode(doc adapters.Document) ([]byte, error) {
	if doc.DeliveryID == "" {
		return nil, adapters.Permanent(fmt.Errorf("no delivery id"))
	}
	return fmt.Appendf(nil, "Delivery: %s\nCase: %s\nSubject: %s\n\n%s\n",
		doc.DeliveryID, doc.TrackingNumber, doc.Submission.Subject, doc.Submission.Text), nil
}

func (plainText) DecodeReply(_ string, body []byte) (adapters.Reply, error) {
	return adapters.Reply{Delivered: strings.TrimSpace(string(body)) == "OK"}, nil
}

// A new format is one type implementing adapters.Adapter and one registration line; the router
// finds it by the name an authority's registry entry gives.
func ExampleRegistry_Register() {
	reg := adapters.NewRegistry()
	if err := reg.Register(plainText{}); err != nil {
		panic(err)
	}
	ad, _ := reg.Get("plaintext")
	doc := adapters.Document{DeliveryID: "0193a1b2-0001", TrackingNumber: "ZV-2026-00000042", Attempt: 1,
		ReceivedAt: time.Now()}
	doc.Submission.Subject = "Ремонт ліфта"
	doc.Submission.Text = "Прошу відремонтувати ліфт."
	body, _ := ad.Encode(doc)
	fmt.Print(string(body))
	reply, _ := ad.DecodeReply("text/plain", []byte("OK\n"))
	fmt.Println("delivered:", reply.Delivered)
	fmt.Println(reg.Register(plainText{}) != nil) // a name is registered once
	// Output:
	// Delivery: 0193a1b2-0001
	// Case: ZV-2026-00000042
	// Subject: Ремонт ліфта
	//
	// Прошу відремонтувати ліфт.
	// delivered: true
	// true
}
