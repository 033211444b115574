// Package cti is the CTI server: it follows Asterisk over AMI (our own client in
// ami.go), keeps an incremental call-state model (extensions, channels,
// conversations, queues, parkings, trunks) and serves it to existing nethcti-server
// clients over the same REST API under /webrest and socket.io v4 events under
// /socket.io. CTI users and profiles live in the store and are managed through the
// admin API and CLI.
//
// It relies on: store (users, profiles, persistent tokens, audit), provision (phone
// credentials and remote-control address for click-to-call over the phone's HTTP
// interface), and an Asterisk reachable over AMI. Nothing runs unless cti.enabled.
package cti
