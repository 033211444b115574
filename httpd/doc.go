// Package httpd owns switchboard's two HTTP listeners: HTTPS, which serves every
// route (/provisioning/, /api/v1/, /webrest/, /socket.io/, the web UI, /metrics and
// /healthz), and plain HTTP, which phones that cannot do TLS use for /provisioning/
// and which redirects everything else to HTTPS.
//
// Without a configured certificate it generates a self-signed one (ECDSA P-256) in
// the data directory on first start and reuses it afterwards.
package httpd
