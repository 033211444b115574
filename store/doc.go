// Package store is Switchboard's persistence: one SQLite file (modernc.org/sqlite,
// pure Go, WAL, synchronous FULL) in the data directory.
//
// Configuration objects are JSON documents in one table, keyed by kind and id and
// scoped to a tenant. Every change goes through Store.Update, whose transaction
// writes the object, its audit row (who, from where, before and after images) and the
// new global revision together: an object can never change without its audit row,
// and the revision is what HA replication follows. Audit rows form a hash chain
// (each row carries the hash of the previous one) so that Verify finds an edited or
// deleted row. Login sessions live in their own table: they are not configuration.
//
// Domain packages register a Kind for each object type so that a restore from an
// audit row runs the same validation as an API write.
package store
