// Package redirecttest has faithful local doubles of the vendor redirection
// services (Snom SRAPS and legacy XML-RPC, Yealink RPS XML-RPC and YMCS v2,
// Escene, Fanvil FDPS, Gigaset autoprov, and Yealink's X-Ca signed JSON API) for tests: httptest servers on
// 127.0.0.1 that check authentication exactly as the reference note
// describes it and answer with the documented success and error shapes. The
// vendor clouds are not reachable from tests; where the note marks a detail
// UNVERIFIED, the double accepts both forms.
//
// Every double can be taken down (connections are dropped, as in an outage),
// rate-limited, and told that a MAC belongs to another account.
package redirecttest
