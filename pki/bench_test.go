package pki

import "testing"

// The init command generates the CA key and the server key and encrypts the
// CA key; these benchmarks show how its time splits. Measured with go1.26.8
// on a 2-vCPU Intel Xeon VM (`go test -bench . -benchtime 20x -count 3`, plus
// 200 single RSA-2048 and 60 RSA-3072 generations for the spread):
//
//	RSA-2048 key:            median 35 ms, p99 170 ms, max 330 ms
//	RSA-3072 key:            median 170 ms, max 460 ms
//	ECDSA P-256 key:         0.02 ms
//	NewCA+IssueServer (RSA): 85 to 105 ms
//	EncryptCAKey (600,000 PBKDF2 rounds): 80 ms
//
// So init with RSA-2048 takes about 0.2 s, and even two slow key generations
// keep it under 1 s. With RSA-3072, two slow key generations can pass 1 s.

func BenchmarkGenerateKey(b *testing.B) {
	for _, kt := range KeyTypes() {
		b.Run(string(kt), func(b *testing.B) {
			for b.Loop() {
				if _, err := generateKey(kt); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkNewCAAndIssueServerRSA2048(b *testing.B) {
	for b.Loop() {
		ca, err := NewCA(testCAOptions(KeyRSA2048))
		if err != nil {
			b.Fatal(err)
		}
		if _, err := ca.IssueServer(testServerOptions(KeyRSA2048)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncryptCAKey(b *testing.B) {
	ca := testCA(b, KeyRSA2048)
	for b.Loop() {
		if _, err := EncryptCAKey(ca, testPassphrase); err != nil {
			b.Fatal(err)
		}
	}
}
