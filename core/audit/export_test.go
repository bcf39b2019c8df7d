package audit

import "github.com/google/uuid"

// HashForTest exposes the chain hash to the tests.
func HashForTest(tenant uuid.UUID, prev []byte, e Entry) []byte { return chainHash(tenant, prev, &e) }
