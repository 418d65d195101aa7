// Package signature verifies citizens' CAdES-BES signatures (CMS SignedData, RFC 5652 with the ESS
// signing-certificate-v2 attribute of RFC 5035) and signs the hub's own receipts the same way.
//
// # Verifying
//
// New loads a trust directory (CA certificates and CRLs) into a Verifier; Verifier.Verify checks one
// signature against content at a given time, the time the hub received it, and returns the signer's
// facts or an *Error with a stable Code. The signature is parsed as strict DER with cryptobyte
// (BER, indefinite lengths and unsorted signed attributes are refused) after a size check, and the
// certificate and CRL counts are bounded before any certificate is parsed. The checks, in order:
//
//   - exactly one SignerInfo, with signed attributes: contentType = eContentType = id-data,
//     messageDigest, each with one value, no attribute twice;
//   - digest and signature algorithms on the allow-list (SHA-256/384/512; RSA PKCS #1 v1.5 or PSS of
//     2048 bits or more; ECDSA P-256 or P-384); DSTU 4145 goes to the External verifier;
//   - messageDigest = hash of the content; the signature value over the DER signed attributes with
//     the key of the certificate the SignerInfo names;
//   - the ESS signing-certificate-v2 attribute names that very certificate;
//   - keyUsage contentCommitment, not a CA, not a TLS server certificate;
//   - validity at the given time (never the signer's signingTime);
//   - a chain to a certificate of the trust directory (those in the signature are intermediates
//     only) with x509.Verify at the given time;
//   - revocation of every certificate below the anchor by the trust directory's CRLs.
//
// A Verifier is safe for concurrent use. docs/signatures.md is the reference.
//
// DSTU 4145 signatures go to Config.External; package remote is its HTTP client. Package
// signaturetest gives tests of any package the OpenSSL-made test PKI.
//
// # Signing
//
// Sign makes the hub's receipts: attached (or, with Detached, detached) CAdES-BES SignedData with an
// RSA or ECDSA key, which OpenSSL and Verify accept.
package signature
