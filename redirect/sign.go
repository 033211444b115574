package redirect

import (
	"crypto/hmac"
	"crypto/md5" //nolint:gosec // G401,G501: HTTP Digest (RFC 2617) and the vendor's API are MD5 by definition; not used for secrecy
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// HawkPayloadHash is Hawk's payload hash: base64(SHA-256("hawk.1.payload\n" +
// content type + "\n" + body + "\n")), the content type lower-case without
// parameters.
func HawkPayloadHash(contentType string, body []byte) string {
	ct, _, _ := strings.Cut(contentType, ";")
	h := sha256.New()
	h.Write([]byte("hawk.1.payload\n" + strings.ToLower(strings.TrimSpace(ct)) + "\n"))
	h.Write(body)
	h.Write([]byte("\n"))
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// HawkRequest is what the Hawk MAC covers.
type HawkRequest struct {
	TS, Nonce, Method, PathQuery, Host, Port, Hash, Ext string
}

// HawkMAC is base64(HMAC-SHA256(key, normalized string)); an empty Hash is an
// empty line (the request has no payload hash).
func HawkMAC(key string, r HawkRequest) string {
	norm := "hawk.1.header\n" + r.TS + "\n" + r.Nonce + "\n" + strings.ToUpper(r.Method) + "\n" +
		r.PathQuery + "\n" + strings.ToLower(r.Host) + "\n" + r.Port + "\n" + r.Hash + "\n" + r.Ext + "\n"
	m := hmac.New(sha256.New, []byte(key))
	m.Write([]byte(norm))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// HawkHeader is the Authorization header value for id and r.
func HawkHeader(id, key string, r HawkRequest) string {
	s := fmt.Sprintf(`Hawk id="%s", ts="%s", nonce="%s"`, id, r.TS, r.Nonce)
	if r.Hash != "" {
		s += fmt.Sprintf(`, hash="%s"`, r.Hash)
	}
	if r.Ext != "" {
		s += fmt.Sprintf(`, ext="%s"`, r.Ext)
	}
	return s + fmt.Sprintf(`, mac="%s"`, HawkMAC(key, r))
}

// ParseHawk splits a Hawk Authorization header into its attributes.
func ParseHawk(h string) (map[string]string, bool) {
	rest, ok := strings.CutPrefix(h, "Hawk ")
	if !ok {
		return nil, false
	}
	out := map[string]string{}
	for rest = strings.TrimSpace(rest); rest != ""; {
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			return nil, false
		}
		k = strings.TrimSpace(k)
		v = strings.TrimSpace(v)
		if !strings.HasPrefix(v, `"`) {
			return nil, false
		}
		end := strings.IndexByte(v[1:], '"')
		if end < 0 {
			return nil, false
		}
		if _, dup := out[k]; dup || k == "" {
			return nil, false
		}
		out[k] = v[1 : 1+end]
		rest = strings.TrimSpace(v[2+end:])
		rest = strings.TrimSpace(strings.TrimPrefix(rest, ","))
	}
	return out, true
}

// ContentMD5 is base64(MD5(body)), Yealink's Content-MD5 header.
func ContentMD5(body []byte) string {
	s := md5.Sum(body) //nolint:gosec // G401,G501: HTTP Digest (RFC 2617) and the vendor's API are MD5 by definition; not used for secrecy
	return base64.StdEncoding.EncodeToString(s[:])
}

// XCaRequest is what Yealink's X-Ca signature covers. Path has no leading
// slash; Query is used for bodiless requests only; ContentMD5 is "" without a body.
type XCaRequest struct {
	Method, Path string
	Query        map[string]string
	ContentMD5   string
	Key, Nonce   string
	Timestamp    string // milliseconds since the epoch
}

// XCaStringToSign is METHOD, the signed headers as sorted "Key:Value" lines
// (Content-MD5 first when there is a body), the path and, for bodiless
// requests with a query, the sorted "k=v&..." query, joined by newlines.
func XCaStringToSign(r XCaRequest) string {
	var lines []string
	lines = append(lines, strings.ToUpper(r.Method))
	if r.ContentMD5 != "" {
		lines = append(lines, "Content-MD5:"+r.ContentMD5)
	}
	// X-Ca-Key < X-Ca-Nonce < X-Ca-Timestamp in byte order: already sorted.
	lines = append(lines, "X-Ca-Key:"+r.Key, "X-Ca-Nonce:"+r.Nonce, "X-Ca-Timestamp:"+r.Timestamp)
	lines = append(lines, strings.TrimPrefix(r.Path, "/"))
	if r.ContentMD5 == "" && len(r.Query) > 0 {
		keys := make([]string, 0, len(r.Query))
		for k := range r.Query {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + r.Query[k]
		}
		lines = append(lines, strings.Join(parts, "&"))
	}
	return strings.Join(lines, "\n")
}

// XCaSignature is base64(HMAC-SHA256(secret, XCaStringToSign(r))).
func XCaSignature(secret string, r XCaRequest) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(XCaStringToSign(r)))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

// SignXCa sets the X-Ca headers of Yealink's JSON API on req: key, nonce,
// timestamp, Content-MD5 (with a body), content type and the signature over
// the request's path and, for bodiless requests, its query.
func SignXCa(req *http.Request, body []byte, key, secret string, now time.Time) {
	r := XCaRequest{Method: req.Method, Path: req.URL.Path, Key: key, Nonce: randomHex(16),
		Timestamp: strconv.FormatInt(now.UnixMilli(), 10)}
	if len(body) > 0 {
		r.ContentMD5 = ContentMD5(body)
		req.Header.Set("Content-MD5", r.ContentMD5)
	} else if q := req.URL.Query(); len(q) > 0 {
		r.Query = map[string]string{}
		for k := range q {
			r.Query[k] = q.Get(k)
		}
	}
	req.Header.Set("Content-Type", "application/json;charset=UTF-8")
	req.Header.Set("X-Ca-Key", key)
	req.Header.Set("X-Ca-Nonce", r.Nonce)
	req.Header.Set("X-Ca-Timestamp", r.Timestamp)
	req.Header.Set("X-Ca-Signature", XCaSignature(secret, r))
}
