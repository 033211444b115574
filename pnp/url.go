package pnp

import (
	"net/url"
	"strings"
)

// Shapes of the provisioning URL in a NOTIFY body.
const (
	shapeDir  = "dir"  // the tenant's directory, ending in "/"
	shapeFile = "file" // the device's own file
)

// urlShape is what a vendor's phones accept in the NOTIFY body (reference note:
// Grandstream only takes a directory URL ending in "/"). Yealink and Poly fetch a
// common file and the MAC file from a directory, so they get the directory too
// (UNVERIFIED against a real phone); everyone else gets the exact file, which
// needs no vendor macro ($mac for Fanvil, {mac} for snom, {MAC} for Panasonic)
// because we know the file already.
func urlShape(brand string) string {
	switch brand {
	case "grandstream", "yealink", "poly":
		return shapeDir
	}
	return shapeFile
}

// knownURL is the body for a configured device: dir is the tenant's provisioning
// directory ("/"-terminated), file the device's file name.
func knownURL(brand, dir, file string) string {
	if urlShape(brand) == shapeDir || file == "" {
		return dir
	}
	return dir + url.PathEscape(file)
}

// bootstrapURL expands the configured bootstrap URL for one phone; Grandstream
// gets the directory part (everything up to the last "/").
func bootstrapURL(tmpl, dir, brand, macUpper, macLow, model, tenant string) string {
	u := dir
	if tmpl != "" {
		u = strings.NewReplacer("{mac}", macLow, "{MAC}", macUpper, "{model}", url.PathEscape(model), "{tenant}", tenant).Replace(tmpl)
	}
	if brand == "grandstream" && !strings.HasSuffix(u, "/") {
		if p, err := url.Parse(u); err == nil && p.Host != "" {
			if i := strings.LastIndexByte(p.Path, '/'); i >= 0 {
				p.Path = p.Path[:i+1]
			} else {
				p.Path = "/"
			}
			p.RawPath, p.RawQuery, p.Fragment = "", "", ""
			u = p.String()
		}
	}
	return u
}
