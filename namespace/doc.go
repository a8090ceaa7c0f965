// Package namespace describes Linux namespaces the way the OCI runtime spec does
// (specs.LinuxNamespace) and turns them into what the kernel takes: clone flags
// for namespaces a container creates, and setns(2) for namespaces it joins by path.
//
// The model: a container either creates a namespace of a type (no Path) or joins
// an existing one (Path set, e.g. /proc/1234/ns/net, or a bind-mounted nsfs file).
//
// The pitfall a pure-Go runtime must respect: setns(2) into a mount or user
// namespace fails with EINVAL in a multithreaded process, and every Go program
// is multithreaded. Joining net, uts, ipc, pid, cgroup and time namespaces works
// from a locked OS thread (the new process is forked from that thread and
// inherits them); joining mount and user namespaces by path is reported as
// ErrNotSupported rather than done halfway.
//
// Man pages: namespaces(7), clone(2), setns(2), user_namespaces(7),
// time_namespaces(7).
package namespace
