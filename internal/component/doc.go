// Package component is the contract every service of "switchboard serve"
// implements (Component) and the runner that drives a list of them: binding,
// serving until the context ends, mounting routes on the HTTPS and plain-HTTP
// listeners, registering metrics, delivering store commits asynchronously and
// following the HA role. serve in cmd/switchboard is the list of components.
package component
