"""Digital signatures of issued letters: the keys file, signers on PKCS#11 tokens or PKCS#12 files, the two
PAdES signatures (the approver's, the issuing body's), their verification, and a throwaway PKI for trying chidao."""
