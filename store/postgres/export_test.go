package postgres

// LockKey exposes lockKey to the tests, which look for a lock's waiters.
var LockKey = lockKey
