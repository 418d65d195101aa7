#!/usr/bin/env bash
# mkpki.sh OUT — make a throw-away test PKI and CAdES signatures with OpenSSL 3 (the independent
# signer of the tests) in the directory OUT:
#
#   root.pem/.key, inter.pem/.key             root CA and the intermediate that issues the leaves
#   trust/        root.pem, root.crl, inter.crl (the intermediate travels inside the signatures)
#   trust-inter/  root.pem, inter.pem           (the intermediate as a trust anchor, no CRLs)
#   <leaf>.pem/.key                            rsa ec256 ec384 ec521 expired revoked digsig tls rsa1024
#                                              substitute (the ec256 key, another certificate)
#                                              attacker (issued by attacker-root, not trusted)
#   twin.pem, twin-chain.pem                   the ec256 key in another certificate with ec256's
#                                              issuer and serial number; the chain adds inter.pem
#   doc.txt, doc2.txt                          the signed documents
#   sig/<case>.p7s                             DER CMS signatures, detached unless named attached
#
# The Go tests run it through internal/signature/signaturetest, which embeds it; nothing it makes
# is committed.
set -euo pipefail

out=${1:?usage: mkpki.sh OUT}
mkdir -p "$out" && cd "$out"
mkdir -p trust trust-inter sig
export CADIR=. # the openssl ca database; pki.cnf needs it set for every command

cat >pki.cnf <<'CNF'
[req]
distinguished_name = dn
[dn]
[ca]
default_ca = CA_default
[CA_default]
dir = $ENV::CADIR
database = $dir/index.txt
new_certs_dir = $dir
serial = $dir/serial
crlnumber = $dir/crlnumber
default_md = sha256
default_days = 365
default_crl_days = 30
policy = policy_any
unique_subject = no
copy_extensions = none
[policy_any]
commonName = supplied
[root]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[inter]
basicConstraints = critical,CA:true,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[signer]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[signer_drfo]
basicConstraints = critical,CA:false
keyUsage = critical,nonRepudiation
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
2.5.29.9 = ASN1:SEQUENCE:sda
[sda]
drfo = SEQUENCE:drfo_attr
[drfo_attr]
type = OID:1.2.804.2.1.1.1.11.1.4.1.1
values = SET:drfo_values
[drfo_values]
value = PRINTABLESTRING:3456789012
[digsig]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature
[tls]
basicConstraints = critical,CA:false
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:hub.example.test
CNF

key() { # key NAME rsa BITS | ec CURVE
	if [[ $2 == rsa ]]; then
		openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:$3" -out "$1.key" 2>/dev/null
	else
		openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:$3" -out "$1.key"
	fi
}
cadb() { # cadb DIR: an empty openssl ca database
	mkdir -p "$1" && : >"$1/index.txt" && echo 1000 >"$1/serial" && echo 01 >"$1/crlnumber"
}
issue() { # issue NAME KEYNAME SECTION SUBJECT [openssl ca options…]: a leaf from the intermediate
	local name=$1 keyname=$2 section=$3 subj=$4
	shift 4
	openssl req -new -utf8 -config pki.cnf -key "$keyname.key" -subj "$subj" -out "$name.csr"
	CADIR=inter-db openssl ca -config pki.cnf -batch -notext -preserveDN -utf8 -cert inter.pem -keyfile inter.key \
		-extfile pki.cnf -extensions "$section" -in "$name.csr" -out "$name.pem" "$@" 2>/dev/null
}

# Keys.
key root ec P-256 && key inter ec P-256 && key attacker-root ec P-256
key rsa rsa 2048 && key rsa1024 rsa 1024
for k in ec256 expired revoked digsig tls attacker; do key "$k" ec P-256; done
key ec384 ec P-384 && key ec521 ec P-521

# Root and intermediate.
cadb root-db && cadb inter-db
openssl req -new -x509 -config pki.cnf -extensions root -key root.key -subj "/CN=Test Root CA/O=Appeal Hub Test/C=UA" \
	-days 3650 -sha256 -out root.pem
openssl req -new -config pki.cnf -key inter.key -subj "/CN=Test Qualified CA/O=Appeal Hub Test/C=UA" -out inter.csr
CADIR=root-db openssl ca -config pki.cnf -batch -notext -preserveDN -cert root.pem -keyfile root.key \
	-extfile pki.cnf -extensions inter -days 3650 -in inter.csr -out inter.pem 2>/dev/null

# Leaves.
issue rsa rsa signer "/CN=Тарас Шевченко/serialNumber=TINUA-1234567890/C=UA"
issue ec256 ec256 signer "/CN=Lesia Ukrainka/serialNumber=TINUA-2345678901/C=UA"
issue substitute ec256 signer "/CN=Lesia Ukrainka (substitute)/C=UA"
issue ec384 ec384 signer_drfo "/CN=Ivan Franko/C=UA"
issue expired expired signer "/CN=Expired Signer/C=UA" -startdate 20200101000000Z -enddate 20210101000000Z
issue revoked revoked signer "/CN=Revoked Signer/C=UA"
issue digsig digsig digsig "/CN=Digital Signature Only/C=UA"
issue tls tls tls "/CN=hub.example.test"
issue rsa1024 rsa1024 signer "/CN=Short RSA Signer/C=UA"
issue ec521 ec521 signer "/CN=P-521 Signer/C=UA"

# A twin of ec256: its key, issuer and serial number, another subject. A SignerInfo that names
# ec256 by issuer and serial finds the twin when only the twin travels in the signature.
openssl req -new -utf8 -config pki.cnf -key ec256.key -subj "/CN=Lesia Ukrainka (twin)/C=UA" -out twin.csr
serial=$(openssl x509 -in ec256.pem -noout -serial)
openssl x509 -req -in twin.csr -CA inter.pem -CAkey inter.key -set_serial "0x${serial#serial=}" -days 365 \
	-extfile pki.cnf -extensions signer -out twin.pem 2>/dev/null
cat twin.pem inter.pem >twin-chain.pem

# An attacker's own root and signer: never in the trust directory.
openssl req -new -x509 -config pki.cnf -extensions root -key attacker-root.key -subj "/CN=Test Qualified CA/O=Appeal Hub Test/C=UA" \
	-days 3650 -sha256 -out attacker-root.pem
openssl req -new -config pki.cnf -key attacker.key -subj "/CN=Lesia Ukrainka/C=UA" -out attacker.csr
openssl x509 -req -in attacker.csr -CA attacker-root.pem -CAkey attacker-root.key -set_serial 0x77 -days 365 \
	-extfile pki.cnf -extensions signer -out attacker.pem 2>/dev/null

# Revocation lists.
CADIR=inter-db openssl ca -config pki.cnf -cert inter.pem -keyfile inter.key -revoke revoked.pem -crl_reason keyCompromise 2>/dev/null
CADIR=inter-db openssl ca -config pki.cnf -gencrl -cert inter.pem -keyfile inter.key -out trust/inter.crl 2>/dev/null
CADIR=root-db openssl ca -config pki.cnf -gencrl -cert root.pem -keyfile root.key -out trust/root.crl 2>/dev/null
cp root.pem trust/root.pem
cp root.pem inter.pem trust-inter/

# Documents and signatures.
printf 'Звернення громадянина: прошу відремонтувати дорогу.\n' >doc.txt
printf 'Another appeal, another text.\n' >doc2.txt
pids=()
sign() { # sign CASE [openssl cms -sign options…]: in the background
	local name=$1
	shift
	openssl cms -sign -binary -outform DER -nosmimecap "$@" -out "sig/$name.p7s" &
	pids+=($!)
}
leaf() { echo -signer "$1.pem" -inkey "$1.key"; }
# shellcheck disable=SC2046 # leaf expands to options on purpose
{
	sign rsa -cades -md sha256 -in doc.txt $(leaf rsa) -certfile inter.pem
	sign rsa-pss -cades -md sha256 -in doc.txt $(leaf rsa) -keyopt rsa_padding_mode:pss -certfile inter.pem
	sign ec256 -cades -md sha256 -in doc.txt $(leaf ec256) -certfile inter.pem
	sign ec256-attached -cades -md sha256 -nodetach -in doc.txt $(leaf ec256) -certfile inter.pem
	sign ec256-keyid -cades -md sha256 -keyid -in doc.txt $(leaf ec256) -certfile inter.pem
	sign ec256-nointer -cades -md sha256 -in doc.txt $(leaf ec256)
	sign ec256-doc2 -cades -md sha256 -in doc2.txt $(leaf ec256) -certfile inter.pem
	sign ec384 -cades -md sha384 -in doc.txt $(leaf ec384) -certfile inter.pem
	sign expired -cades -md sha256 -in doc.txt $(leaf expired) -certfile inter.pem
	sign revoked -cades -md sha256 -in doc.txt $(leaf revoked) -certfile inter.pem
	sign digsig -cades -md sha256 -in doc.txt $(leaf digsig) -certfile inter.pem
	sign tls -cades -md sha256 -in doc.txt $(leaf tls) -certfile inter.pem
	sign rsa1024 -cades -md sha256 -in doc.txt $(leaf rsa1024) -certfile inter.pem
	sign ec521 -cades -md sha512 -in doc.txt $(leaf ec521) -certfile inter.pem
	sign twin -cades -md sha256 -in doc.txt $(leaf ec256) -nocerts -certfile twin-chain.pem
	sign sha1 -cades -md sha1 -in doc.txt $(leaf ec256) -certfile inter.pem
	sign attacker -cades -md sha256 -in doc.txt $(leaf attacker) -certfile attacker-root.pem
	sign noattr -noattr -md sha256 -in doc.txt $(leaf ec256) -certfile inter.pem
	sign nocades -md sha256 -in doc.txt $(leaf ec256) -certfile inter.pem
	sign two-signers -cades -md sha256 -in doc.txt $(leaf ec256) $(leaf rsa) -certfile inter.pem
}
for pid in "${pids[@]}"; do wait "$pid"; done
