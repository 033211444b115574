// Package model is the CTI's call state: extensions with their conversations,
// trunks, queues with members and waiting callers, and parking spaces, as
// nethcti clients see them. It is pure: it is fed AMI events (Apply) and full
// re-sync snapshots (Load), reads time only from the clock it is given, does no
// I/O, and answers each change with the events clients must hear (Emit), each
// addressed to a room (ExtenRoom or a panel room). Who joins which room is not
// its business: the CTI's permission policy decides that.
//
// One event costs the same whatever the number of live calls elsewhere: only the
// endpoints the event touches are rebuilt. A Model is not safe for concurrent
// use; its owner serialises access.
package model
