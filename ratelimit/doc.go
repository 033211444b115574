// Package ratelimit throttles sources that keep failing: a token bucket per key
// that only failures drain (bad logins, requests for unknown files), so normal
// traffic is never slowed and a scanner is. The admin logins and the TFTP and
// HTTP provisioning servers share it.
package ratelimit
