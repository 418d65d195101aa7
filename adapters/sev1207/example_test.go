package sev1207_test

import (
	"fmt"
	"time"

	"appealhub/adapters"
	"appealhub/adapters/sev1207"
	"appealhub/schemas"
)

func ExampleAdapter_Encode() {
	a := sev1207.New(sev1207.Config{HubCode: "43210987", HubSystemID: "hub-sev-id"})
	body, err := a.Encode(adapters.Document{
		DeliveryID:     "0190f5a0-0000-7000-8000-0000000000aa",
		AppealID:       "0190f5a0-0000-7000-8000-000000000001",
		TrackingNumber: "ZV-2026-00000001",
		Authority:      "66784279",
		Attempt:        1,
		ReceivedAt:     time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
		Submission: schemas.Submission{
			CaseKind:   schemas.CaseAppeal,
			AppealKind: schemas.AppealProposal,
			Applicant:  schemas.Applicant{Surname: "Шевчук", Name: "Андрій", Email: "a.shevchuk@example.org"},
			Subject:    "Bus route",
			Text:       "Add a morning bus.",
			Signatures: []schemas.Signature{{Of: "text", Format: "cades-detached", Value: []byte{0x30, 0x82}}},
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(body))
	// Output:
	// <?xml version="1.0" encoding="UTF-8"?>
	// <Header standart="1207" version="1.5" charset="UTF-8" time="2026-03-01T10:00:00Z" msg_type="1" msg_id="0190f5a0-0000-7000-8000-0000000000aa" msg_acknow="2" from_org_id="43210987" from_organization="Appeal Hub" from_sys_id="hub-sev-id" from_system="appealhub" to_org_id="66784279" to_organization="66784279" to_sys_id="66784279" to_system="">
	//   <Document idnumber="0190f5a0-0000-7000-8000-0000000000aa" type="0" kind="Пропозиція (зауваження)" title="Bus route" collection="0" purpose_type="3" urgent="0">
	//     <RegNumber regdate="2026-03-01">ZV-2026-00000001</RegNumber>
	//     <Confident flag="0"/>
	//     <DocTransfer type="txt" char_set="UTF-8" description="appeal.txt" idnumber="text">QWRkIGEgbW9ybmluZyBidXMu</DocTransfer>
	//     <Author>
	//       <PrivatePerson>
	//         <Name secname="Шевчук" firstname="Андрій">Шевчук Андрій</Name>
	//         <Econtact type="п">a.shevchuk@example.org</Econtact>
	//       </PrivatePerson>
	//     </Author>
	//     <Addressee type="0">
	//       <Organization fullname="66784279" ogrn="66784279"/>
	//     </Addressee>
	//   </Document>
	//   <Expansion organization="appealhub" exp_ver="1">
	//     <StaticExpansion>
	//       <SignInfo docTransfer_idnumber="text">
	//         <SignData>MII=</SignData>
	//       </SignInfo>
	//     </StaticExpansion>
	//     <Appeal appeal_id="0190f5a0-0000-7000-8000-000000000001" attempt="1" received_at="2026-03-01T10:00:00Z" case_kind="appeal" appeal_kind="proposal"/>
	//   </Expansion>
	// </Header>
}

func ExampleAdapter_DecodeMessage() {
	a := sev1207.New(sev1207.Config{HubCode: "43210987", HubSystemID: "hub-sev-id"})
	notice := "\ufeff" + `<?xml version="1.0" encoding="utf-8"?>
<Header standart="1207" version="1.5" charset="UTF-8" time="2026-03-02T07:15:00Z" msg_type="0" msg_id="n-3"
        from_org_id="66784279" from_organization="Міська рада" from_sys_id="dms" from_system="СЕД"
        to_org_id="43210987" to_organization="Appeal Hub" to_sys_id="hub-sev-id" to_system="appealhub">
  <Acknowledgement msg_id="0190f5a0-0000-7000-8000-0000000000aa" ack_type="3">
    <RegNumber regdate="2026-03-02">Вх-12/345</RegNumber>
    <AckResult errorcode="0" errortext=""/>
  </Acknowledgement>
</Header>`
	msgs, err := a.DecodeMessage([]byte(notice))
	if err != nil {
		fmt.Println(err)
		return
	}
	m := msgs[0]
	fmt.Println(m.Type, m.Of, m.RegistrationNumber, m.RegistrationDate.Format(time.DateOnly))

	_, err = a.DecodeMessage([]byte(`<!DOCTYPE Header [<!ENTITY x "y">]><Header/>`))
	fmt.Println(err)
	// Output:
	// registered 0190f5a0-0000-7000-8000-0000000000aa Вх-12/345 2026-03-02
	// decode sev1207 message: DTD or entity declaration not allowed: document type declaration at byte offset 0
}
