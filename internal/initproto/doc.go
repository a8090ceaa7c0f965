// Package initproto is the wire protocol between a container's parent (the
// caller's process) and its init (the same binary, re-executed as the first
// process of the container).
//
// The parent passes one end of a socketpair as fd 3; nothing about it travels
// in the environment. Messages are JSON objects, one per line, in lock-step:
//
//	parent -> init   Config           what to set up and what to run
//	init   -> parent Ready | Error    setup done, or the step that failed
//	parent -> init   Go               network and cgroup placement are done (only when Config.WaitForGo)
//	init   -> parent Started | Error  with an init process (WithInit): the workload runs
//	init   -> parent Exited           with an init process: the workload's wait status
//
// Without an init process the socket is close-on-exec: end of file after Ready
// (or Go) means execve succeeded, and a message means it failed. The Kind field
// lets the protocol carry other requests later (exec into a running container).
package initproto
